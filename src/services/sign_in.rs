//! Signing in: a verified identity becomes a stored user with a new session, and the session's
//! first access and refresh tokens.

use uuid::Uuid;

use super::{new_jti, profile, sign_error};
use crate::db;
use crate::db::issued_tokens::Device;
use crate::db::users::{NewIdentity, User};
use crate::error::AppError;
use crate::oidc::Identity;
use crate::state::AppState;
use crate::tokens::TokenKeys;

/// Tokens handed to a client.
#[derive(Debug)]
pub struct Issued {
    pub user: User,
    pub sid: Uuid,
    pub access: String,
    /// `None` when another request rotated the refresh token a moment ago (keep the newer one).
    pub refresh: Option<String>,
}

impl Issued {
    /// Access and refresh tokens for `user`'s session `sid`.
    pub(super) fn new(keys: &TokenKeys, user: User, sid: Uuid, refresh_jti: Option<&str>) -> Result<Self, AppError> {
        let access = keys.issue_access(user.id, Some(sid), profile(&user)).map_err(sign_error)?;
        let refresh = match refresh_jti {
            Some(jti) => Some(keys.issue_refresh(user.id, sid, jti).map_err(sign_error)?),
            None => None,
        };
        Ok(Issued { user, sid, access, refresh })
    }
}

fn stored(identity: Identity) -> NewIdentity {
    NewIdentity {
        issuer: identity.issuer,
        subject: identity.subject,
        email: identity.email,
        email_verified: identity.email_verified,
        name: identity.name,
        picture: identity.picture,
        hosted_domain: identity.hosted_domain,
    }
}

/// Stores the user and opens a session, in one database round trip. A browser login passes its
/// `state`, recorded as used in the same statement: `Ok(None)` when it was used before (a
/// replayed callback), and then nothing was written.
pub async fn sign_in(
    app: &AppState,
    identity: Identity,
    device: Device,
    state: Option<String>,
) -> Result<Option<Issued>, AppError> {
    let (pool, keys) = (&app.pool, &app.tokens);
    let jti = new_jti();
    let ttl = keys.refresh_ttl().min(app.settings.tokens.session_max_lifetime);
    let (stored_jti, identity) = (jti.clone(), stored(identity));
    let opened =
        db::run(pool, move |conn| db::sign_in::sign_in(conn, &identity, &stored_jti, ttl, &device, state.as_deref()))
            .await?;
    let Some((user, sid)) = opened else {
        return Ok(None);
    };
    Issued::new(keys, user, sid, Some(&jti)).map(Some)
}
