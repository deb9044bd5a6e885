//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): a provider tells us that a
//! session of its own ended; the sessions it signed in here end too, on every instance.

use crate::db;
use crate::db::issued_tokens::Device;
use crate::db::provider_sessions::{self, LoggedOut, LogoutToken};
use crate::error::AppError;
use crate::oidc::LogoutTokenError;
use crate::providers::Provider;
use crate::state::AppState;

/// Why a logout token was not acted on.
#[derive(Debug, thiserror::Error)]
pub enum BackChannelError {
    #[error("no configured OpenID provider has this issuer")]
    UnknownIssuer,
    #[error(transparent)]
    Token(#[from] LogoutTokenError),
    #[error("this logout token was used before")]
    Replayed,
}

/// The provider a logout token claims to be from (by its unverified `iss`, before the
/// signature says whether it is).
fn claimed_provider<'a>(state: &'a AppState, raw: &str) -> Option<&'a Provider> {
    use base64::Engine;
    let payload = raw.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let iss = claims.get("iss")?.as_str()?.trim_end_matches('/');
    state.providers.iter().find(|p| p.client.openid().is_some_and(|c| c.issuer().trim_end_matches('/') == iss))
}

/// Verifies `raw` and ends the sessions it names; how many. `caller` (the provider's server)
/// goes into the audit trail.
pub async fn back_channel(
    state: &AppState,
    raw: &str,
    caller: Device,
) -> Result<Result<usize, BackChannelError>, AppError> {
    let Some((provider, client)) = claimed_provider(state, raw).and_then(|p| p.client.openid().map(|c| (p, c))) else {
        return Ok(Err(BackChannelError::UnknownIssuer));
    };
    let claims = match client.verify_logout_token(raw).await? {
        Ok(claims) => claims,
        Err(e) => return Ok(Err(e.into())),
    };
    let issuer = provider.issuer.clone();
    let ended = db::run(&state.pool, move |conn| {
        let named = LogoutToken { sid: claims.sid.as_deref(), sub: claims.sub.as_deref(), jti: &claims.jti };
        provider_sessions::back_channel_logout(conn, &issuer, named, &caller)
    })
    .await?;
    match ended {
        LoggedOut::Replayed => Ok(Err(BackChannelError::Replayed)),
        LoggedOut::Ended(sessions) => {
            log::info!("back-channel logout from provider {}: {} session(s) ended", provider.id(), sessions.len());
            let count = sessions.len();
            state.revoked.add(sessions);
            Ok(Ok(count))
        }
    }
}
