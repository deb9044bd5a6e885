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
//! start: token keys (`TokenKeys::from_settings`) sign and verify, the login cookie and the rate
//! limiter build, cookie lifetimes are not negative (`cookies::issued`, `cookies::clear_all`),
//! FRONTEND_URL is a valid `Location` value, CORS origins are valid header values.
#![no_main]

use std::collections::HashMap;

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::Key;
use actix_web::http::header::HeaderValue;
use actix_web::http::Uri;
use arbitrary::{Arbitrary, Unstructured};
use doorman::config::Settings;
use doorman::http::rate_limit::RateLimit;
use doorman::login_cookie::LoginCookieConfig;
use doorman::tokens::TokenKeys;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

/// Every variable `Settings::from_source` reads (keep in step with src/config/mod.rs).
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
    "TOKEN_LEEWAY_SECONDS",
    "ACCESS_TOKEN_AUDIENCE",
    "SESSION_MAX_LIFETIME_SECONDS",
    "PROVIDERS",
    "PROVIDER_GOOGLE_ISSUER",
    "PROVIDER_GOOGLE_CLIENT_ID",
    "PROVIDER_GOOGLE_CLIENT_SECRET",
    "PROVIDER_CORP_KIND",
    "PROVIDER_CORP_ISSUER",
    "PROVIDER_CORP_CLIENT_ID",
    "PROVIDER_CORP_CLIENT_SECRET",
    "PROVIDER_CORP_NAME",
    "PROVIDER_CORP_LINK_BY_EMAIL",
    "PROVIDER_CORP_AUTH_URL",
    "PROVIDER_GITHUB_KIND",
    "PROVIDER_GITHUB_ISSUER",
    "PROVIDER_GITHUB_CLIENT_ID",
    "PROVIDER_GITHUB_CLIENT_SECRET",
    "PROVIDER_GITHUB_AUTH_URL",
    "PROVIDER_GITHUB_TOKEN_URL",
    "PROVIDER_GITHUB_API_URL",
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
    // startup::server: the login cookie (its key is derived from SECRET_KEY, which panics on a
    // short key), the rate limiter, CORS.
    let _ = Key::derive_from(settings.login.secret_key.expose_secret().as_bytes());
    let _ = LoginCookieConfig::new(&settings.login, settings.cookies).middleware();
    // (Not `spawn_pruning`: it needs the server's runtime.)
    let limit = RateLimit::new(settings.limits, settings.server.trusted_proxies.clone());
    let _ = (limit.middleware(), limit.prune());
    for origin in &settings.server.cors_allowed_origins {
        assert!(
            origin != "*" && Uri::try_from(origin.as_str()).is_ok() && HeaderValue::from_str(origin).is_ok(),
            "CORS origin {origin:?} is accepted but actix-cors refuses it; with {env}"
        );
    }
    // startup: TokenKeys::from_settings and the self-check it runs before serving. HS256 only:
    // key files are not read here (a fuzzed path could name /dev/zero).
    let mut tokens = settings.tokens.clone();
    tokens.private_key_file = None;
    tokens.previous_jwks_file = None;
    let keys = match TokenKeys::from_settings(&tokens, &settings.login.secret_key, &settings.site.public_origin) {
        Ok(keys) => keys,
        Err(e) => panic!("accepted token settings make no keys: {e}; with {env}"),
    };
    if let Err(e) = keys.self_check() {
        panic!("accepted token lifetimes cannot make tokens: {e}; with {env}");
    }
    // cookies::issued (after a login or a renewal) and cookies::clear_all (logout); the login
    // cookie's lifetime in login_cookie::LoginCookieConfig.
    let issued = doorman::cookies::issued(String::new(), Some(String::new()), &keys, settings.cookies);
    assert_eq!(issued.len(), 2, "a login with a refresh token sets two cookies");
    for cookie in &issued {
        let max_age = cookie.max_age().expect("our cookies have a Max-Age");
        assert!(max_age > CookieDuration::ZERO, "{} cookie Max-Age is {max_age} with {env}", cookie.name());
        let _ = cookie.to_string();
    }
    assert_eq!(doorman::cookies::issued(String::new(), None, &keys, settings.cookies).len(), 1);
    for cookie in doorman::cookies::clear_all(settings.cookies) {
        let max_age = cookie.max_age().expect("removal cookies have a Max-Age");
        assert!(max_age >= CookieDuration::ZERO, "removal {} cookie Max-Age is {max_age} with {env}", cookie.name());
        let _ = cookie.to_string();
    }
    let login_ttl = CookieDuration::seconds(settings.login.timeout.as_secs() as i64);
    assert!(login_ttl > CookieDuration::ZERO, "login cookie Max-Age is {login_ttl} with {env}");
    // db::login_states::forget_older_than, run every few minutes with LOGIN_TIMEOUT_SECONDS, and
    // the expiry services::sign_in gives a new session.
    let _cutoff = chrono::Utc::now() - settings.login.timeout;
    let _expires = chrono::Utc::now() + keys.refresh_ttl().min(settings.tokens.session_max_lifetime);
    // routes::see_other(&settings.site.frontend_url) after every login without `next`.
    assert!(
        HeaderValue::from_str(&settings.site.frontend_url).is_ok(),
        "FRONTEND_URL {:?} is accepted but is not a valid Location header value",
        settings.site.frontend_url
    );
    assert!(
        HeaderValue::from_str(&settings.site.public_origin).is_ok(),
        "the public origin {:?} of REDIRECT_URL is not a valid header value",
        settings.site.public_origin
    );
    let _ = settings.providers.iter().map(|p| (p.is_google(), p.issuer())).count();
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
            // PROVIDERS may name other providers, whose variables are not in NAMES.
            let known = NAMES.contains(&e.var.as_str()) || e.var.starts_with("PROVIDER_");
            assert!(known, "error names unknown variable {:?}: {e}", e.var);
            assert!(e.to_string().contains(&e.var), "error message does not name {}: {e}", e.var);
        }
    }
});
