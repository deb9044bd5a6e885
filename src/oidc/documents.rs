//! Fetching the provider's discovery document and its JWKS, and how long they may be kept.
//! openidconnect's own discovery fetches the JWKS without telling us its `Cache-Control`, so
//! both documents are fetched here, with the checks openidconnect's discovery makes (the
//! document names our issuer) and the same HTTP client (timeouts, no redirects).

use std::time::Duration;

use openidconnect::core::CoreJsonWebKeySet;
use openidconnect::{IssuerUrl, JsonWebKeySetUrl};

use super::discovery::Metadata;
use super::OidcError;

/// How long keys are kept when the provider does not say.
pub const DEFAULT_KEEP: Duration = Duration::from_secs(3600);
/// The longest we keep keys, whatever the provider says: a key withdrawn after a compromise
/// stops verifying within a day at the latest.
pub const MAX_KEEP: Duration = Duration::from_secs(24 * 3600);

/// The discovery document at `{issuer}/.well-known/openid-configuration`.
pub(super) async fn discovery(
    http: &openidconnect::reqwest::Client,
    issuer: &IssuerUrl,
) -> Result<Metadata, OidcError> {
    let url = format!("{}/.well-known/openid-configuration", issuer.as_str().trim_end_matches('/'));
    let body = get(http, &url, "discovery failed").await?.0;
    let metadata: Metadata =
        serde_json::from_slice(&body).map_err(|e| OidcError::unavailable("discovery document is malformed", e))?;
    // OIDC Discovery §4.3: the document must name the issuer it was fetched for.
    if metadata.issuer() != issuer {
        let why = format!("it names issuer {:?}", metadata.issuer().as_str());
        return Err(OidcError::unavailable("discovery document is for another issuer", why));
    }
    Ok(metadata)
}

/// The JWKS, and how long it may be kept (its `Cache-Control: max-age`, if any).
pub(super) async fn keys(
    http: &openidconnect::reqwest::Client,
    url: &JsonWebKeySetUrl,
) -> Result<(CoreJsonWebKeySet, Option<Duration>), OidcError> {
    let (body, max_age) = get(http, url.as_str(), "fetching signing keys failed").await?;
    let keys = serde_json::from_slice(&body).map_err(|e| OidcError::unavailable("the JWKS is malformed", e))?;
    Ok((keys, max_age))
}

async fn get(
    http: &openidconnect::reqwest::Client,
    url: &str,
    what: &'static str,
) -> Result<(Vec<u8>, Option<Duration>), OidcError> {
    let response =
        http.get(url).header("accept", "application/json").send().await.map_err(|e| OidcError::unavailable(what, e))?;
    if !response.status().is_success() {
        return Err(OidcError::unavailable(what, format!("{url} answered {}", response.status())));
    }
    let max_age = response.headers().get("cache-control").and_then(|v| v.to_str().ok()).and_then(max_age);
    let body = response.bytes().await.map_err(|e| OidcError::unavailable(what, e))?;
    Ok((body.to_vec(), max_age))
}

/// `max-age` of a `Cache-Control` value; `no-store` and `no-cache` count as 0.
fn max_age(cache_control: &str) -> Option<Duration> {
    let mut found = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            found = seconds.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    found
}

/// How long to keep keys: what the provider says, within `[floor, MAX_KEEP]`.
pub(super) fn keep_for(max_age: Option<Duration>, floor: Duration) -> Duration {
    max_age.unwrap_or(DEFAULT_KEEP).clamp(floor.max(Duration::from_secs(1)), MAX_KEEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_providers_cache_control_decides_within_bounds() {
        let s = Duration::from_secs;
        assert_eq!(max_age("public, max-age=19868, must-revalidate, no-transform"), Some(s(19868)));
        assert_eq!(max_age("no-store"), Some(s(0)));
        assert_eq!(max_age("private"), None);
        assert_eq!(max_age("max-age=banana"), None);
        assert_eq!(keep_for(Some(s(19868)), s(10)), s(19868), "Google's");
        assert_eq!(keep_for(None, s(10)), DEFAULT_KEEP);
        assert_eq!(keep_for(Some(s(0)), s(10)), s(10), "never sooner than JWKS_MIN_REFRESH_SECONDS");
        assert_eq!(keep_for(Some(s(0)), s(0)), s(1), "never a busy loop");
        assert_eq!(keep_for(Some(s(10_000_000)), s(10)), MAX_KEEP, "a withdrawn key is dropped within a day");
    }
}
