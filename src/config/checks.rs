//! Rules that span several variables, and values that must be normalised before use.

use secrecy::ExposeSecret;
use url::Url;

use super::reader::{problem, ConfigError};
use super::Settings;

/// Development-only secrets committed in `.env`; refused unless the provider is on loopback.
const DEV_SECRET_MARKER: &str = "dev-only";

pub(super) fn consistency(s: &Settings) -> Result<(), ConfigError> {
    if s.limits.per_second > 1_000_000 {
        return Err(problem("RATE_LIMIT_PER_SECOND", "must be at most 1000000 (0 turns limits off)"));
    }
    if s.database.pool_size > 1000 {
        return Err(problem("DATABASE_POOL_SIZE", "must be at most 1000"));
    }
    for (var, zero) in [
        ("ACCESS_TOKEN_TTL_SECONDS", s.tokens.access_ttl.is_zero()),
        ("LOGIN_TIMEOUT_SECONDS", s.login.timeout.is_zero()),
        ("DATABASE_POOL_SIZE", s.database.pool_size == 0),
        ("HTTP_TIMEOUT_SECONDS", s.provider.http_timeout.is_zero()),
    ] {
        if zero {
            return Err(problem(var, "must be greater than 0"));
        }
    }
    if s.tokens.refresh_ttl <= s.tokens.access_ttl {
        return Err(problem("REFRESH_TOKEN_TTL_SECONDS", "must be longer than ACCESS_TOKEN_TTL_SECONDS"));
    }
    if s.login.secret_key.expose_secret() == s.tokens.jwt_secret_key.expose_secret() {
        return Err(problem("JWT_SECRET_KEY", "must differ from SECRET_KEY"));
    }
    if !is_loopback(&s.provider.issuer) {
        for (var, value) in [
            ("SECRET_KEY", &s.login.secret_key),
            ("JWT_SECRET_KEY", &s.tokens.jwt_secret_key),
            ("GOOGLE_CLIENT_SECRET", &s.provider.client_secret),
        ] {
            if value.expose_secret().contains(DEV_SECRET_MARKER) {
                return Err(problem(
                    var,
                    "is the development secret from .env; set a real one (the provider is not on loopback)",
                ));
            }
        }
        if s.provider.issuer.scheme() != "https" {
            return Err(problem("OIDC_ISSUER", "must use https unless the provider is on loopback"));
        }
    }
    Ok(())
}

/// FRONTEND_URL as it will go into a `Location` header: a same-origin path, or an absolute
/// http(s) URL in its normalised (percent-encoded) form.
pub(super) fn frontend(raw: Option<String>) -> Result<String, ConfigError> {
    let Some(raw) = raw else { return Ok("/chat".to_owned()) };
    if let Some(path) = crate::next_path::NextPath::parse(&raw) {
        return Ok(path.to_string());
    }
    match Url::parse(&raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url.to_string()),
        _ => Err(problem("FRONTEND_URL", format!("must be a path like /chat or an http(s) URL, got {raw:?}"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
