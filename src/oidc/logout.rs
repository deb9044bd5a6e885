//! Logout at an OpenID provider: the RP-initiated logout URL (OpenID Connect RP-Initiated
//! Logout 1.0, through openidconnect's `LogoutRequest`) and the verification of back-channel
//! logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4, §2.6), which openidconnect does
//! not do: jsonwebtoken checks the signature with the provider's JWKS, the rules of §2.6 are
//! written out here.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use openidconnect::core::CoreIdToken;
use openidconnect::{ClientId, EndSessionUrl, LogoutRequest, PostLogoutRedirectUrl};
use serde::Deserialize;
use url::Url;

use super::discovery::{Discovered, Source};
use super::{verify as id_verify, OidcClient, OidcError};

/// The `events` member a logout token must carry.
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token issued longer ago than this is stale.
const MAX_AGE_SECONDS: i64 = 300;
/// Clock difference allowed with the provider.
const LEEWAY_SECONDS: u64 = 60;

/// Why a logout token was refused; the texts go into the 400's `detail`.
#[derive(Debug, thiserror::Error)]
pub enum LogoutTokenError {
    #[error("the logout token is not a signed JWT of this provider: {0}")]
    Signature(String),
    #[error("the logout token's claims are refused: {0}")]
    Claims(String),
}

/// What a verified logout token asks to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequestClaims {
    pub issuer: String,
    /// The provider's session, when named.
    pub sid: Option<String>,
    /// The identity, when named.
    pub sub: Option<String>,
    pub jti: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    sid: Option<String>,
    iat: i64,
    jti: Option<String>,
    events: Option<serde_json::Map<String, serde_json::Value>>,
    nonce: Option<serde_json::Value>,
}

impl OidcClient {
    /// The provider's end-session URL with `id_token_hint` and `post_logout_redirect_uri` =
    /// `back_to`; `None` when it publishes no `end_session_endpoint` (Google) or is unreachable.
    pub async fn logout_url(&self, id_token: Option<&str>, back_to: &str) -> Option<Url> {
        let discovered = self.cache.get().await.ok()?;
        logout_url(&discovered, &self.client_id, id_token, back_to)
    }

    /// The origin of the end-session endpoint, if discovery has run and names one (no fetch:
    /// pages with a logout form ask for it on every render).
    pub fn cached_end_session_origin(&self) -> Option<String> {
        let discovered = self.cache.cached()?;
        let endpoint = discovered.metadata.additional_metadata().end_session_endpoint.as_ref()?;
        Some(endpoint.origin().ascii_serialization())
    }

    /// The issuer as its tokens name it.
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// Verifies a back-channel logout token of this provider; a token naming a key we lack
    /// makes us fetch the keys again, as often as the refetch rule for posted tokens allows.
    pub async fn verify_logout_token(
        &self,
        raw: &str,
    ) -> Result<Result<LogoutRequestClaims, LogoutTokenError>, OidcError> {
        let discovered = self.cache.get().await?;
        match verify(&discovered, self.issuer.as_str(), &self.client_id, raw) {
            Err(LogoutTokenError::Signature(why)) if why.contains("does not publish") => {
                let kid = id_verify::key_id(raw);
                match self.cache.refresh_keys(&discovered, Source::Posted, kid.as_deref()).await? {
                    Some(fresh) => Ok(verify(&fresh, self.issuer.as_str(), &self.client_id, raw)),
                    None => Ok(Err(LogoutTokenError::Signature(why))),
                }
            }
            other => Ok(other),
        }
    }
}

/// The provider's end-session URL for an ID token, or `None` when it publishes none (Google).
pub(super) fn logout_url(
    discovered: &Discovered,
    client_id: &ClientId,
    id_token: Option<&str>,
    back_to: &str,
) -> Option<Url> {
    let endpoint = discovered.metadata.additional_metadata().end_session_endpoint.clone()?;
    let mut request = LogoutRequest::from(EndSessionUrl::from_url(endpoint)).set_client_id(client_id.clone());
    if let Ok(back) = PostLogoutRedirectUrl::new(back_to.to_owned()) {
        request = request.set_post_logout_redirect_uri(back);
    }
    if let Some(token) = id_token.and_then(|raw| raw.parse::<CoreIdToken>().ok()) {
        request = request.set_id_token_hint(&token);
    }
    Some(request.http_get_url())
}

/// Verifies a logout token as §2.6 says: signed by one of the provider's keys with an
/// asymmetric algorithm, `iss` = the issuer, `aud` = our client, `iat` recent, `exp` if
/// present, the back-channel `events` member, `sid` and/or `sub`, a `jti`, no `nonce`.
pub(super) fn verify(
    discovered: &Discovered,
    issuer: &str,
    client_id: &ClientId,
    raw: &str,
) -> Result<LogoutRequestClaims, LogoutTokenError> {
    let signature = |why: String| LogoutTokenError::Signature(why);
    let claims_error = |why: &str| LogoutTokenError::Claims(why.to_owned());
    let header = jsonwebtoken::decode_header(raw).map_err(|e| signature(e.to_string()))?;
    let asymmetric = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];
    if !asymmetric.contains(&header.alg) {
        return Err(signature(format!("algorithm {:?} is not allowed", header.alg)));
    }
    let jwks: JwkSet = serde_json::to_value(discovered.metadata.jwks())
        .and_then(serde_json::from_value)
        .map_err(|e| signature(format!("the provider's JWKS: {e}")))?;
    let candidates: Vec<_> = jwks
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .collect();
    if candidates.is_empty() {
        return Err(signature("signed by a key the provider does not publish".to_owned()));
    }
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id.as_str()]);
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    validation.validate_exp = true;
    validation.leeway = LEEWAY_SECONDS;
    let mut last = None;
    let claims = candidates
        .iter()
        .find_map(|key| match jsonwebtoken::decode::<Claims>(raw, key, &validation) {
            Ok(data) => Some(data.claims),
            Err(e) => {
                last = Some(e);
                None
            }
        })
        .ok_or_else(|| signature(last.map(|e| e.to_string()).unwrap_or_default()))?;
    let now = chrono::Utc::now().timestamp();
    if claims.iat < now - MAX_AGE_SECONDS || claims.iat > now + LEEWAY_SECONDS as i64 {
        return Err(claims_error("iat is too old or in the future"));
    }
    if claims.nonce.is_some() {
        return Err(claims_error("a logout token must not carry a nonce"));
    }
    let event = claims.events.as_ref().and_then(|e| e.get(BACKCHANNEL_EVENT));
    if !event.is_some_and(|v| v.is_object()) {
        return Err(claims_error("events lacks the back-channel logout event"));
    }
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty() && s.len() <= 255);
    let (sid, sub) = (nonempty(claims.sid), nonempty(claims.sub));
    if sid.is_none() && sub.is_none() {
        return Err(claims_error("neither sid nor sub"));
    }
    let jti = nonempty(claims.jti).ok_or_else(|| claims_error("no jti"))?;
    Ok(LogoutRequestClaims { issuer: claims.iss, sid, sub, jti })
}
