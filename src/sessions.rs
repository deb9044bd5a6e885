//! Sessions that last: a login opens a session row and hands out an access token and a refresh
//! token; refreshing rotates the refresh token, and a retired one presented again revokes the
//! session (RFC 9700 §4.14.2).

use std::time::Duration;

use uuid::Uuid;

use crate::db::sessions::{self as store, Device, Rotation};
use crate::db::users::User;
use crate::db::{self, login_states, PgPool};
use crate::errors::AppError;
use crate::oidc::Identity;
use crate::tokens::{TokenError, TokenKeys};

/// Two tabs refreshing with the same token within this window both succeed.
pub const REUSE_GRACE: Duration = Duration::from_secs(10);

/// Tokens handed to a client.
#[derive(Debug)]
pub struct Issued {
    pub user: User,
    pub sid: Uuid,
    pub access: String,
    /// `None` when another request rotated the refresh token a moment ago (keep the newer one).
    pub refresh: Option<String>,
}

/// Why a refresh token was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token has expired")]
    Expired,
    #[error("the refresh token is invalid")]
    Invalid,
    #[error("the session was ended")]
    SessionEnded,
    #[error("the refresh token was already used; the session has been revoked")]
    Reused,
}

fn new_jti() -> String {
    oauth2::CsrfToken::new_random_len(32).into_secret()
}

fn sign_error(e: String) -> AppError {
    AppError::internal(format!("cannot sign a token: {e}"))
}

/// Stores the user and opens a session, in one database round trip. A browser login passes its
/// `state`, recorded as used in the same statement: `Ok(None)` when it was used before (a
/// replayed callback), and then nothing was written.
pub async fn sign_in(
    pool: &PgPool,
    keys: &TokenKeys,
    identity: Identity,
    device: Device,
    state: Option<&str>,
) -> Result<Option<Issued>, AppError> {
    let jti = new_jti();
    let ttl = keys.refresh_ttl();
    let stored_jti = jti.clone();
    let state_hash = state.map(login_states::hash);
    let opened =
        db::run(pool, move |conn| Ok(store::login(conn, &identity, &stored_jti, ttl, &device, state_hash.as_deref())?))
            .await?;
    let Some((user, sid)) = opened else {
        return Ok(None);
    };
    let access = keys.issue_access(user.id, Some(sid), user.profile()).map_err(sign_error)?;
    let refresh = keys.issue_refresh(user.id, sid, &jti).map_err(sign_error)?;
    Ok(Some(Issued { user, sid, access, refresh: Some(refresh) }))
}

/// Exchanges a refresh token for new tokens. With `allow_grace`, the token a concurrent request
/// just retired still yields an access token (browser tabs racing); without it (the API), any
/// retired token revokes the session.
pub async fn refresh(
    pool: &PgPool,
    keys: &TokenKeys,
    token: &str,
    allow_grace: bool,
) -> Result<Result<Issued, RefreshError>, AppError> {
    let claims = match keys.verify_refresh(token) {
        Ok(claims) => claims,
        Err(TokenError::Expired) => return Ok(Err(RefreshError::Expired)),
        Err(TokenError::Invalid) => return Ok(Err(RefreshError::Invalid)),
    };
    let next = new_jti();
    let (ttl, grace) = (keys.refresh_ttl(), if allow_grace { REUSE_GRACE } else { Duration::ZERO });
    let (sid, user_id, presented, stored_next) = (claims.sid, claims.sub, claims.jti, next.clone());
    let rotation =
        db::run(pool, move |conn| Ok(store::rotate(conn, sid, user_id, &presented, &stored_next, ttl, grace)?)).await?;
    let (user, refresh) = match rotation {
        Rotation::Rotated(user) => {
            let refresh = keys.issue_refresh(user.id, sid, &next).map_err(sign_error)?;
            (user, Some(refresh))
        }
        Rotation::JustRotated(user) => (user, None),
        Rotation::Reused => {
            log::warn!("refresh token reuse detected; session {sid} revoked");
            return Ok(Err(RefreshError::Reused));
        }
        Rotation::Dead => return Ok(Err(RefreshError::SessionEnded)),
    };
    let access = keys.issue_access(user.id, Some(sid), user.profile()).map_err(sign_error)?;
    Ok(Ok(Issued { user, sid, access, refresh }))
}

/// Ends one of the user's sessions (logout, or the revoke button).
pub async fn revoke(pool: &PgPool, user_id: Uuid, sid: Uuid, reason: &'static str) -> Result<bool, AppError> {
    db::run(pool, move |conn| Ok(store::revoke(conn, user_id, sid, reason)?)).await
}
