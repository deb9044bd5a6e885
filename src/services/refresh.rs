//! Refreshing: a refresh token is exchanged for new tokens and rotates; a retired one presented
//! again revokes its session (RFC 9700 §4.14.2). Every rotation also re-runs the sign-in policy
//! against the stored identity the session signed in with, so a tightened ALLOWED_EMAIL_DOMAINS (or an email no longer
//! verified) ends sessions at their next refresh, and no session outlives
//! SESSION_MAX_LIFETIME_SECONDS from its sign-in.

use std::time::Duration;

use super::admission;
use super::new_jti;
use super::sign_in::Issued;
use crate::db;
use crate::db::audit;
use crate::db::issued_tokens::{self, Device, Ending, Owner, Rotation, RotationRequest};
use crate::error::AppError;
use crate::state::AppState;
use crate::tokens::TokenError;

/// Two tabs of one browser refreshing with the same token within this window both succeed.
pub const REUSE_GRACE: Duration = Duration::from_secs(10);

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
    #[error("this account may no longer sign in here; the session has been ended")]
    NotAllowed,
}

/// Who presents the token.
#[derive(Debug, Clone, Copy)]
pub struct Presenter<'a> {
    /// A browser's tabs may race with one token (the grace applies); an API client may not.
    pub browser: bool,
    /// Its user agent tells a browser's tabs apart; both go into the audit trail on reuse.
    pub device: &'a Device,
}

/// Exchanges a refresh token for new tokens. For a browser, the token a concurrent request of
/// the same browser just retired still yields an access token (tabs racing); for the API, any
/// retired token revokes the session.
pub async fn refresh(
    state: &AppState,
    token: &str,
    presenter: Presenter<'_>,
) -> Result<Result<Issued, RefreshError>, AppError> {
    let result = rotate(state, token, presenter).await;
    state.metrics.refresh(match &result {
        Ok(Ok(_)) => "success",
        Ok(Err(RefreshError::Expired)) => "expired",
        Ok(Err(RefreshError::Invalid)) => "invalid",
        Ok(Err(RefreshError::SessionEnded)) => "ended",
        Ok(Err(RefreshError::Reused)) => "reused",
        Ok(Err(RefreshError::NotAllowed)) => "not_allowed",
        Err(_) => "unavailable",
    });
    result
}

async fn rotate(
    state: &AppState,
    token: &str,
    presenter: Presenter<'_>,
) -> Result<Result<Issued, RefreshError>, AppError> {
    let keys = &state.tokens;
    let claims = match keys.verify_refresh(token) {
        Ok(claims) => claims,
        Err(TokenError::Expired) => return Ok(Err(RefreshError::Expired)),
        Err(TokenError::Invalid) => return Ok(Err(RefreshError::Invalid)),
    };
    let next = new_jti();
    let sid = claims.sid;
    let (presented, stored_next, device) = (claims.jti, next.clone(), presenter.device.clone());
    let (ttl, max_lifetime) = (keys.refresh_ttl(), state.settings.tokens.session_max_lifetime);
    let grace = if presenter.browser { REUSE_GRACE } else { Duration::ZERO };
    let user_id = claims.sub;
    let rotation = db::run(&state.pool, move |conn| {
        let request = RotationRequest {
            sid,
            user_id,
            presented_jti: &presented,
            new_jti: &stored_next,
            ttl,
            max_lifetime,
            grace,
            device: &device,
        };
        issued_tokens::rotate(conn, &request)
    })
    .await?;
    let (owner, refresh) = match rotation {
        Rotation::Rotated(owner) => (owner, Some(next.as_str())),
        Rotation::Recovered(owner) => {
            log::warn!("session {sid}: the browser came back with the token before its last rotation (an answer it never got); rotated anew");
            (owner, Some(next.as_str()))
        }
        Rotation::JustRotated(owner) => {
            log::warn!("session {sid}: a refresh token retired moments ago was presented again by the same browser; honoured once more (grace)");
            (owner, None)
        }
        Rotation::Reused => {
            log::warn!("refresh token reuse detected; session {sid} revoked");
            return Ok(Err(RefreshError::Reused));
        }
        Rotation::Dead => return Ok(Err(RefreshError::SessionEnded)),
    };
    if !still_admitted(state, &owner, sid).await? {
        return Ok(Err(RefreshError::NotAllowed));
    }
    Issued::new(keys, owner.user, sid, owner.provider, refresh).map(Ok)
}

/// Re-runs the sign-in policy on the identity the session signed in with, as last stored; a
/// refused one's session is ended.
async fn still_admitted(state: &AppState, owner: &Owner, sid: uuid::Uuid) -> Result<bool, AppError> {
    if admission::admit(&owner.identity, &state.settings.policy).is_ok() {
        return Ok(true);
    }
    log::info!("user {}: no longer admitted by the sign-in policy; session {sid} ended", owner.user.id);
    let ending = Ending::new(audit::Kind::SessionRevoked, "no longer admitted by the sign-in policy");
    db::run(&state.pool, move |conn| issued_tokens::revoke_sessions(conn, &[sid], &ending)).await?;
    Ok(false)
}
