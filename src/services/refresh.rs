//! Refreshing: a refresh token is exchanged for new tokens and rotates; a retired one presented
//! again revokes its session (RFC 9700 §4.14.2).

use std::time::Duration;

use super::new_jti;
use super::sign_in::Issued;
use crate::db::issued_tokens::{self, Rotation};
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::tokens::{TokenError, TokenKeys};

/// Two tabs refreshing with the same token within this window both succeed.
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
        db::run(pool, move |conn| issued_tokens::rotate(conn, sid, user_id, &presented, &stored_next, ttl, grace))
            .await?;
    let issued = match rotation {
        Rotation::Rotated(user) => Issued::new(keys, user, sid, Some(&next))?,
        Rotation::JustRotated(user) => Issued::new(keys, user, sid, None)?,
        Rotation::Reused => {
            log::warn!("refresh token reuse detected; session {sid} revoked");
            return Ok(Err(RefreshError::Reused));
        }
        Rotation::Dead => return Ok(Err(RefreshError::SessionEnded)),
    };
    Ok(Ok(issued))
}
