//! Signing in: a verified identity becomes a stored account with a new session, and the
//! session's first access and refresh tokens.

use actix_web::http::StatusCode;
use uuid::Uuid;

use super::{new_jti, profile, sign_error};
use crate::db;
use crate::db::issued_tokens::Device;
use crate::db::sign_in::{Linking, SignInOutcome};
use crate::db::users::{NewIdentity, User};
use crate::error::AppError;
use crate::oidc::Identity;
use crate::providers::Provider;
use crate::state::AppState;
use crate::tokens::TokenKeys;

/// Tokens handed to a client.
#[derive(Debug)]
pub struct Issued {
    pub user: User,
    pub sid: Uuid,
    /// The provider id the session signed in with (the tokens' `idp`).
    pub provider: String,
    pub access: String,
    /// `None` when another request rotated the refresh token a moment ago (keep the newer one).
    pub refresh: Option<String>,
}

impl Issued {
    /// Access and refresh tokens for `user`'s session `sid`, opened through `provider`.
    pub(super) fn new(
        keys: &TokenKeys,
        user: User,
        sid: Uuid,
        provider: String,
        refresh_jti: Option<&str>,
    ) -> Result<Self, AppError> {
        let access = keys.issue_access(user.id, Some(sid), profile(&user, &provider)).map_err(sign_error)?;
        let refresh = match refresh_jti {
            Some(jti) => Some(keys.issue_refresh(user.id, sid, jti).map_err(sign_error)?),
            None => None,
        };
        Ok(Issued { user, sid, provider, access, refresh })
    }
}

/// What `provider` vouched for, as it is stored.
pub(super) fn stored(provider: &Provider, identity: Identity) -> NewIdentity {
    NewIdentity {
        provider: provider.id().to_string(),
        issuer: identity.issuer,
        subject: identity.subject,
        email: identity.email,
        email_verified: identity.email_verified,
        name: identity.name,
        picture: identity.picture,
        hosted_domain: identity.hosted_domain,
        provider_session: identity.provider_session,
        id_token: identity.id_token,
    }
}

/// The sign-in of a disabled account: a 403 page for a browser, `account_disabled` for the API.
pub fn account_disabled() -> AppError {
    AppError::rejected(
        StatusCode::FORBIDDEN,
        "account_disabled",
        "this account has been disabled by an administrator; ask them to enable it again",
    )
}

/// Stores the identity and its account and opens a session, in one database round trip. A
/// browser login passes its `state`, recorded as used in the same statement; when it was used
/// before (a replayed callback) nothing is written and the sign-in fails. A disabled account
/// is refused (`account_disabled`).
pub async fn sign_in(
    app: &AppState,
    provider: &Provider,
    identity: Identity,
    device: Device,
    state: Option<String>,
) -> Result<Issued, AppError> {
    let (pool, keys) = (&app.pool, &app.tokens);
    let jti = new_jti();
    let ttl = keys.refresh_ttl().min(app.settings.tokens.session_max_lifetime);
    let linking = Linking { by_email: provider.settings.link_by_email };
    let (stored_jti, identity) = (jti.clone(), stored(provider, identity));
    let opened = db::run(pool, move |conn| {
        db::sign_in::sign_in(conn, &identity, linking, &stored_jti, ttl, &device, state.as_deref())
    })
    .await?;
    let signed_in = match opened {
        SignInOutcome::SignedIn(signed_in) => signed_in,
        SignInOutcome::StateUsed => return Err(AppError::login_failed("this sign-in response was already used")),
        SignInOutcome::Disabled(user_id) => {
            log::info!("sign-in to disabled account {user_id} refused ({})", provider.id());
            return Err(account_disabled());
        }
    };
    let user_id = signed_in.user.id;
    if signed_in.linked_by_email {
        log::info!(
            "identity {} of provider {} linked to account {user_id} by its verified email (first sign-in)",
            signed_in.identity_id,
            provider.id()
        );
    } else if signed_in.new_identity {
        log::info!(
            "account {user_id} opened by the first sign-in of identity {} ({})",
            signed_in.identity_id,
            provider.id()
        );
    }
    Issued::new(keys, signed_in.user, signed_in.session_id, provider.id().to_string(), Some(&jti))
}
