//! Rules that span several variables, and values that must be normalised before use.

use secrecy::ExposeSecret;
use url::Url;

use super::reader::{problem, ConfigError};
use super::Settings;

/// Development-only secrets committed in `.env`; refused unless the provider and this app are
/// both on loopback.
const DEV_SECRET_MARKER: &str = "dev-only";

/// A secret must be worth at least this many bits by `estimated_bits` (a random 128-bit secret
/// in hex, `openssl rand -hex 16`, estimates at about 120).
const MIN_SECRET_BITS: f64 = 100.0;

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
        ("HTTP_TIMEOUT_SECONDS", s.providers[0].http_timeout.is_zero()),
        ("SESSION_MAX_LIFETIME_SECONDS", s.tokens.session_max_lifetime.is_zero()),
        ("REVOCATION_POLL_SECONDS", s.tokens.revocation_poll.is_zero()),
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
    for (var, value) in [("SECRET_KEY", &s.login.secret_key), ("JWT_SECRET_KEY", &s.tokens.jwt_secret_key)] {
        if guessable(value.expose_secret()) {
            return Err(problem(
                var,
                "is too easy to guess (repeated or too few different characters); use `openssl rand -base64 48`",
            ));
        }
    }
    // A production app with a provider sidecar on loopback must not run on the committed secrets.
    let local = s.providers.iter().all(|p| p.urls().into_iter().all(is_loopback)) && is_loopback(&s.site.redirect_url);
    let mut secrets = vec![("SECRET_KEY", &s.login.secret_key), ("JWT_SECRET_KEY", &s.tokens.jwt_secret_key)];
    secrets.extend(s.providers.iter().map(|p| (p.secret_var.as_str(), &p.client_secret)));
    if !local {
        for (var, value) in secrets {
            if value.expose_secret().contains(DEV_SECRET_MARKER) {
                return Err(problem(
                    var,
                    "is the development secret from .env; set a real one (a provider or REDIRECT_URL is not on loopback)",
                ));
            }
        }
    }
    for p in &s.providers {
        if p.urls().into_iter().any(|url| !is_loopback(url) && url.scheme() != "https") {
            return Err(problem(&p.issuer_var, "must use https unless the provider is on loopback"));
        }
    }
    if s.cookies.host_prefix && !s.cookies.secure {
        return Err(problem(
            "COOKIE_HOST_PREFIX",
            "needs COOKIE_SECURE=true (browsers accept __Host- cookies only as Secure)",
        ));
    }
    if s.server.metrics_bind_addr.is_some_and(|m| m == s.server.bind_addr) {
        return Err(problem("METRICS_BIND_ADDR", "must differ from BIND_ADDR (metrics are never served publicly)"));
    }
    if s.cookies.host_prefix && s.cookies.domain.is_some() {
        return Err(problem(
            "COOKIE_DOMAIN",
            "cannot be used with COOKIE_HOST_PREFIX (__Host- cookies have no Domain)",
        ));
    }
    if !s.cookies.secure && s.site.redirect_url.scheme() == "https" && !is_loopback(&s.site.redirect_url) {
        return Err(problem(
            "COOKIE_SECURE",
            "must stay true when REDIRECT_URL is https on a public host (false is for plain-http localhost only)",
        ));
    }
    Ok(())
}

/// Character-frequency (Shannon) estimate of a secret's strength in bits. It overrates what a
/// person made up, so it only refuses the obviously weak: one character repeated, a word
/// padded with one character, a short pattern repeated.
fn estimated_bits(secret: &str) -> f64 {
    let chars: Vec<char> = secret.chars().collect();
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = chars.len() as f64;
    let per_char: f64 = counts.values().map(|&k| -(k as f64 / n) * (k as f64 / n).log2()).sum();
    per_char * n
}

/// True for secrets made of one pattern repeated, or worth too few bits.
fn guessable(secret: &str) -> bool {
    let bytes = secret.as_bytes();
    let periodic =
        (1..=bytes.len() / 2).any(|p| bytes.len().is_multiple_of(p) && bytes.chunks(p).all(|c| c == &bytes[..p]));
    periodic || estimated_bits(secret) < MIN_SECRET_BITS
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

/// COOKIE_DOMAIN: REDIRECT_URL's host or a parent domain of it, never an IP address.
pub(super) fn cookie_domain(raw: Option<String>, redirect_url: &Url) -> Result<Option<&'static str>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let domain = raw.trim_start_matches('.').to_ascii_lowercase();
    let host = match redirect_url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        _ => return Err(problem("COOKIE_DOMAIN", "needs a REDIRECT_URL with a host name, not an IP address")),
    };
    let parent = host == domain || host.strip_suffix(&domain).is_some_and(|rest| rest.ends_with('.'));
    let valid = !domain.is_empty()
        && domain.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !valid || !parent {
        return Err(problem(
            "COOKIE_DOMAIN",
            format!("must be REDIRECT_URL's host ({host}) or a parent domain of it, got {raw:?}"),
        ));
    }
    // Leaked once at start-up: the settings holding it are copied on every guarded request.
    Ok(Some(Box::leak(domain.into_boxed_str())))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
