//! `Settings::from_source` on arbitrary values, then the pure start-up steps that consume them.
//!
//! Input, text form: lines `NAME=VALUE` applied on top of a valid configuration (loopback
//! provider, as in `.env`). NAME is a variable name, or a number (index into `NAMES`), or `!NAME`
//! to unset it; the line `!*` unsets everything. In VALUE, `\n`, `\r`, `\t`, `\0` and `\\` are
//! escapes, so any value can be written. Lines without `=` are ignored.
//! Binary form, when the first byte is 0: the rest is decoded with `arbitrary` as a list of
//! changes (variable index, then text or a number), which reaches extreme numbers far more often
//! than mutating decimal text does.
//!
//! Never panics; an error names a known variable; a configuration that is accepted must also
//! start: token keys sign and verify, the rate limiter builds, cookie lifetimes are not
//! negative, FRONTEND_URL is a valid `Location` value, CORS origins are valid header values.
#![no_main]

use std::collections::HashMap;

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::Key;
use actix_web::http::header::HeaderValue;
use actix_web::http::Uri;
use arbitrary::{Arbitrary, Unstructured};
use doorman::config::Settings;
use doorman::rate_limit::RateLimit;
use doorman::tokens::TokenKeys;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

/// Every variable `Settings::from_source` reads (keep in step with src/config.rs).
const NAMES: &[&str] = &[
    "DATABASE_URL",
    "OIDC_ISSUER",
    "REDIRECT_URL",
    "FRONTEND_URL",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "SECRET_KEY",
    "JWT_SECRET_KEY",
    "BIND_ADDR",
    "COOKIE_SECURE",
    "ACCESS_TOKEN_TTL_SECONDS",
    "REFRESH_TOKEN_TTL_SECONDS",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_KEY_ID",
    "JWT_PREVIOUS_JWKS_FILE",
    "CORS_ALLOWED_ORIGINS",
    "TRUSTED_PROXIES",
    "RATE_LIMIT_PER_SECOND",
    "RATE_LIMIT_BURST",
    "ALLOWED_EMAIL_DOMAINS",
    "REQUIRE_EMAIL_VERIFIED",
    "LOGIN_TIMEOUT_SECONDS",
    "DATABASE_POOL_SIZE",
    "HTTP_TIMEOUT_SECONDS",
    "JWKS_MIN_REFRESH_SECONDS",
];

const BASE: &[(&str, &str)] = &[
    ("DATABASE_URL", "postgres://doorman@127.0.0.1:5432/doorman"),
    ("OIDC_ISSUER", "http://127.0.0.1:9000"),
    ("GOOGLE_CLIENT_ID", "client"),
    ("GOOGLE_CLIENT_SECRET", "dev-only-client-secret"),
    ("SECRET_KEY", "dev-only-session-key-0123456789abcdef"),
    ("JWT_SECRET_KEY", "dev-only-jwt-key-0123456789abcdef0123"),
];

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn name(key: &str) -> Option<&'static str> {
    NAMES.iter().copied().find(|n| *n == key).or_else(|| key.parse::<usize>().ok().map(|i| NAMES[i % NAMES.len()]))
}

fn environment(text: &str) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = BASE.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for line in text.split('\n') {
        if line == "!*" {
            env.clear();
        } else if let Some(key) = line.strip_prefix('!') {
            if let Some(name) = name(key) {
                env.remove(name);
            }
        } else if let Some((key, value)) = line.split_once('=') {
            if let Some(name) = name(key) {
                env.insert(name.to_owned(), unescape(value));
            }
        }
    }
    env
}

#[derive(Arbitrary, Debug)]
enum Change {
    Set(u8, Value),
    Unset(u8),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Text(String),
    Number(u64),
    Small(u16),
    /// An integer spelled with a sign, spaces or a fraction.
    Signed(i64),
    Fraction(u32, u16),
}

fn binary_environment(data: &[u8]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = BASE.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut u = Unstructured::new(data);
    if u.arbitrary::<bool>().unwrap_or(false) {
        env.clear();
    }
    let changes: Vec<Change> = u.arbitrary().unwrap_or_default();
    for change in changes {
        match change {
            Change::Set(i, value) => {
                let value = match value {
                    Value::Text(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Small(n) => n.to_string(),
                    Value::Signed(n) => format!(" {n:+} "),
                    Value::Fraction(a, b) => format!("{a}.{b}"),
                };
                env.insert(NAMES[usize::from(i) % NAMES.len()].to_owned(), value);
            }
            Change::Unset(i) => {
                env.remove(NAMES[usize::from(i) % NAMES.len()]);
            }
        }
    }
    env
}

/// The variables that differ from `BASE`, for messages.
fn changes(env: &HashMap<String, String>) -> String {
    let mut changed: Vec<String> = env
        .iter()
        .filter(|(k, v)| !BASE.contains(&(k.as_str(), v.as_str())))
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    changed.extend(BASE.iter().filter(|(k, _)| !env.contains_key(*k)).map(|(k, _)| format!("{k} unset")));
    changed.sort();
    changed.join(", ")
}

/// The start-up steps after `Settings::from_env` that need no network, files or database.
fn start(settings: &Settings, env: &HashMap<String, String>) {
    let env = changes(env);
    // startup::server: the session key, the rate limiter, CORS.
    let _ = Key::derive_from(settings.secret_key.expose_secret().as_bytes());
    let _ = RateLimit::new(settings.rate_limit_per_second, settings.rate_limit_burst, settings.trusted_proxies.clone());
    for origin in &settings.cors_allowed_origins {
        assert!(
            origin != "*" && Uri::try_from(origin.as_str()).is_ok() && HeaderValue::from_str(origin).is_ok(),
            "CORS origin {origin:?} is accepted but actix-cors refuses it; with {env}"
        );
    }
    // startup::token_keys (HS256) and the self-check it runs before serving.
    let keys = TokenKeys::new(&settings.jwt_secret_key, None, settings.access_token_ttl, settings.refresh_token_ttl);
    if let Err(e) = keys.self_check() {
        panic!("accepted token lifetimes cannot make tokens: {e}; with {env}");
    }
    // cookies::access / cookies::refresh, and the login cookie's lifetime in startup::server.
    for (what, cookie) in [
        ("access", doorman::cookies::access(String::new(), settings.access_token_ttl, settings.cookie_secure)),
        ("refresh", doorman::cookies::refresh(String::new(), settings.refresh_token_ttl, settings.cookie_secure)),
    ] {
        let max_age = cookie.max_age().expect("our cookies have a Max-Age");
        assert!(max_age > CookieDuration::ZERO, "{what} cookie Max-Age is {max_age} with {env}");
        let _ = cookie.to_string();
    }
    let login_ttl = CookieDuration::seconds(settings.login_timeout.as_secs() as i64);
    assert!(login_ttl > CookieDuration::ZERO, "login cookie Max-Age is {login_ttl} with {env}");
    // db::login_states::forget_older_than, run every few minutes with LOGIN_TIMEOUT_SECONDS.
    let _cutoff = chrono::Utc::now() - settings.login_timeout;
    // routes::see_other(&settings.frontend_url) after every login without `next`.
    assert!(
        HeaderValue::from_str(&settings.frontend_url).is_ok(),
        "FRONTEND_URL {:?} is accepted but is not a valid Location header value",
        settings.frontend_url
    );
    let _ = (settings.public_origin(), settings.issuer_is_google());
}

fuzz_target!(|data: &[u8]| {
    let env = match data.split_first() {
        Some((0, rest)) => binary_environment(rest),
        _ => match std::str::from_utf8(data) {
            Ok(text) => environment(text),
            Err(_) => return,
        },
    };
    match Settings::from_source(env.clone()) {
        Ok(settings) => start(&settings, &env),
        Err(e) => {
            assert!(NAMES.contains(&e.var), "error names unknown variable {:?}: {e}", e.var);
            assert!(e.to_string().contains(e.var), "error message does not name {}: {e}", e.var);
        }
    }
});
