//! Typed configuration, read once from the environment (after `.env`) and validated at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Development-only secrets committed in `.env`; refused unless the provider is on loopback.
const DEV_SECRET_MARKER: &str = "dev-only";

/// Everything the app needs to run, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: SecretString,
    pub client_id: String,
    pub client_secret: SecretString,
    pub issuer: Url,
    pub redirect_url: Url,
    pub frontend_url: String,
    pub secret_key: SecretString,
    pub jwt_secret_key: SecretString,
    pub bind_addr: SocketAddr,
    pub cookie_secure: bool,
    pub access_token_ttl: Duration,
    pub login_timeout: Duration,
    pub db_pool_size: u32,
    pub http_timeout: Duration,
    pub jwks_min_refresh: Duration,
    pub refresh_token_ttl: Duration,
    pub jwt_private_key_file: Option<PathBuf>,
    pub jwt_key_id: Option<String>,
    pub jwt_previous_jwks_file: Option<PathBuf>,
    pub cors_allowed_origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub allowed_email_domains: Vec<String>,
    pub require_email_verified: bool,
}

/// A variable that is missing or wrong; its message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var} {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn problem(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { var, problem: problem.into() }
}

/// Where values come from; a function so tests can pass a map instead of the process environment.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

struct Reader<S>(S);

impl<S: Source> Reader<S> {
    fn optional(&self, var: &'static str) -> Option<String> {
        self.0.get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        self.optional(var).ok_or_else(|| problem(var, "is required but not set"))
    }

    fn secret(&self, var: &'static str, min_len: usize) -> Result<SecretString, ConfigError> {
        let value = self.required(var)?;
        if value.len() < min_len {
            return Err(problem(var, format!("must be at least {min_len} bytes long (it has {})", value.len())));
        }
        Ok(SecretString::from(value))
    }

    fn url(&self, var: &'static str, default: &str) -> Result<Url, ConfigError> {
        let raw = self.optional(var).unwrap_or_else(|| default.to_owned());
        let url = Url::parse(&raw).map_err(|e| problem(var, format!("is not a valid URL ({e}): {raw}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(problem(var, format!("must be an http(s) URL with a host: {raw}")));
        }
        Ok(url)
    }

    fn parse<T: std::str::FromStr>(&self, var: &'static str, default: T, what: &str) -> Result<T, ConfigError> {
        match self.optional(var) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| problem(var, format!("must be {what}, got {raw:?}"))),
        }
    }

    /// A comma-separated list of origins (`https://app.example.com`), no paths.
    fn origins(&self, var: &'static str) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.optional(var) else { return Ok(Vec::new()) };
        raw.split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                let url = Url::parse(o)
                    .map_err(|_| problem(var, format!("{o:?} is not an origin like https://app.example.com")))?;
                let origin = url.origin().ascii_serialization();
                if origin == "null" || o.trim_end_matches('/') != origin {
                    return Err(problem(var, format!("{o:?} is not an origin like https://app.example.com")));
                }
                Ok(origin)
            })
            .collect()
    }

    /// A comma-separated list of lowercase domain names (`example.com`).
    fn domains(&self, var: &'static str) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.optional(var) else { return Ok(Vec::new()) };
        raw.split(',')
            .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .map(|d| {
                let valid = d.contains('.')
                    && d.split('.')
                        .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
                if valid {
                    Ok(d)
                } else {
                    Err(problem(var, format!("{d:?} is not a domain name like example.com")))
                }
            })
            .collect()
    }

    /// A comma-separated list of IP addresses or networks; loopback when unset.
    fn networks(&self, var: &'static str) -> Result<Vec<IpNet>, ConfigError> {
        let raw = self.optional(var).unwrap_or_else(|| "127.0.0.0/8,::1/128".to_owned());
        raw.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| problem(var, format!("{n:?} is not an IP address or network")))
            })
            .collect()
    }

    fn boolean(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(var).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
            Some(v) => Err(problem(var, format!("must be true or false, got {v:?}"))),
        }
    }
}

impl Settings {
    /// Reads and validates every variable; the first problem found is returned.
    pub fn from_source(source: impl Source) -> Result<Self, ConfigError> {
        let r = Reader(source);
        let database_url = r.required("DATABASE_URL")?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(problem("DATABASE_URL", "must start with postgres:// or postgresql://"));
        }
        let issuer = r.url("OIDC_ISSUER", "https://accounts.google.com")?;
        let redirect_url = r.url("REDIRECT_URL", "http://127.0.0.1:8000/auth")?;
        let frontend_url = frontend(r.optional("FRONTEND_URL"))?;
        let settings = Settings {
            database_url: SecretString::from(database_url),
            client_id: r.required("GOOGLE_CLIENT_ID")?,
            client_secret: r.secret("GOOGLE_CLIENT_SECRET", 1)?,
            issuer,
            redirect_url,
            frontend_url,
            // actix-session derives its signing and encryption keys from this with HKDF.
            secret_key: r.secret("SECRET_KEY", 32)?,
            jwt_secret_key: r.secret("JWT_SECRET_KEY", 32)?,
            bind_addr: r.parse(
                "BIND_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 8000)),
                "an address like 127.0.0.1:8000",
            )?,
            cookie_secure: r.boolean("COOKIE_SECURE", true)?,
            access_token_ttl: Duration::from_secs(r.parse("ACCESS_TOKEN_TTL_SECONDS", 900, "a number of seconds")?),
            refresh_token_ttl: Duration::from_secs(r.parse(
                "REFRESH_TOKEN_TTL_SECONDS",
                30 * 24 * 3600,
                "a number of seconds",
            )?),
            jwt_private_key_file: r.optional("JWT_PRIVATE_KEY_FILE").map(PathBuf::from),
            jwt_key_id: r.optional("JWT_KEY_ID"),
            jwt_previous_jwks_file: r.optional("JWT_PREVIOUS_JWKS_FILE").map(PathBuf::from),
            cors_allowed_origins: r.origins("CORS_ALLOWED_ORIGINS")?,
            trusted_proxies: r.networks("TRUSTED_PROXIES")?,
            rate_limit_per_second: r.parse("RATE_LIMIT_PER_SECOND", 5, "a whole number (0 turns limits off)")?,
            rate_limit_burst: r.parse("RATE_LIMIT_BURST", 20, "a whole number")?,
            allowed_email_domains: r.domains("ALLOWED_EMAIL_DOMAINS")?,
            require_email_verified: r.boolean("REQUIRE_EMAIL_VERIFIED", true)?,
            login_timeout: Duration::from_secs(r.parse("LOGIN_TIMEOUT_SECONDS", 600, "a number of seconds")?),
            db_pool_size: r.parse("DATABASE_POOL_SIZE", 10, "a whole number")?,
            http_timeout: Duration::from_secs(r.parse("HTTP_TIMEOUT_SECONDS", 10, "a number of seconds")?),
            jwks_min_refresh: Duration::from_secs(r.parse("JWKS_MIN_REFRESH_SECONDS", 10, "a number of seconds")?),
        };
        settings.check_consistency()?;
        Ok(settings)
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(Env)
    }

    fn check_consistency(&self) -> Result<(), ConfigError> {
        const DAY: u64 = 24 * 3600;
        // Upper bounds keep every timestamp and cookie age far from overflow, and flag typos.
        for (var, value, max) in [
            ("ACCESS_TOKEN_TTL_SECONDS", self.access_token_ttl, DAY),
            ("REFRESH_TOKEN_TTL_SECONDS", self.refresh_token_ttl, 400 * DAY),
            ("LOGIN_TIMEOUT_SECONDS", self.login_timeout, 3600),
            ("HTTP_TIMEOUT_SECONDS", self.http_timeout, 300),
            ("JWKS_MIN_REFRESH_SECONDS", self.jwks_min_refresh, DAY),
        ] {
            if value.as_secs() > max {
                return Err(problem(var, format!("must be at most {max} seconds")));
            }
        }
        if self.rate_limit_per_second > 1_000_000 {
            return Err(problem("RATE_LIMIT_PER_SECOND", "must be at most 1000000 (0 turns limits off)"));
        }
        if self.db_pool_size > 1000 {
            return Err(problem("DATABASE_POOL_SIZE", "must be at most 1000"));
        }
        if self.access_token_ttl.is_zero() {
            return Err(problem("ACCESS_TOKEN_TTL_SECONDS", "must be greater than 0"));
        }
        if self.login_timeout.is_zero() {
            return Err(problem("LOGIN_TIMEOUT_SECONDS", "must be greater than 0"));
        }
        if self.refresh_token_ttl <= self.access_token_ttl {
            return Err(problem("REFRESH_TOKEN_TTL_SECONDS", "must be longer than ACCESS_TOKEN_TTL_SECONDS"));
        }
        if self.db_pool_size == 0 {
            return Err(problem("DATABASE_POOL_SIZE", "must be greater than 0"));
        }
        if self.http_timeout.is_zero() {
            return Err(problem("HTTP_TIMEOUT_SECONDS", "must be greater than 0"));
        }
        if self.secret_key.expose_secret() == self.jwt_secret_key.expose_secret() {
            return Err(problem("JWT_SECRET_KEY", "must differ from SECRET_KEY"));
        }
        if !is_loopback(&self.issuer) {
            for (var, value) in [
                ("SECRET_KEY", &self.secret_key),
                ("JWT_SECRET_KEY", &self.jwt_secret_key),
                ("GOOGLE_CLIENT_SECRET", &self.client_secret),
            ] {
                if value.expose_secret().contains(DEV_SECRET_MARKER) {
                    return Err(problem(
                        var,
                        "is the development secret from .env; set a real one (the provider is not on loopback)",
                    ));
                }
            }
            if self.issuer.scheme() != "https" {
                return Err(problem("OIDC_ISSUER", "must use https unless the provider is on loopback"));
            }
        }
        Ok(())
    }

    /// The scheme, host and port this app is reached at, taken from REDIRECT_URL.
    pub fn public_origin(&self) -> String {
        self.redirect_url.origin().ascii_serialization()
    }

    /// True when OIDC_ISSUER is Google, whose ID tokens may spell the issuer without a scheme.
    pub fn issuer_is_google(&self) -> bool {
        self.issuer.host_str() == Some("accounts.google.com")
    }
}

/// FRONTEND_URL as it will go into a `Location` header: a same-origin path, or an absolute
/// http(s) URL in its normalised (percent-encoded) form.
fn frontend(raw: Option<String>) -> Result<String, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<String, String> {
        [
            ("DATABASE_URL", "postgres://u@127.0.0.1/db"),
            ("GOOGLE_CLIENT_ID", "client"),
            ("GOOGLE_CLIENT_SECRET", "dev-only-client-secret"),
            ("OIDC_ISSUER", "http://127.0.0.1:9000"),
            ("SECRET_KEY", "dev-only-session-key-0123456789abcdef"),
            ("JWT_SECRET_KEY", "dev-only-jwt-key-0123456789abcdef0123"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn error_var(env: HashMap<String, String>) -> &'static str {
        Settings::from_source(env).expect_err("should be refused").var
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = Settings::from_source(base()).unwrap();
        assert_eq!(s.redirect_url.as_str(), "http://127.0.0.1:8000/auth");
        assert_eq!(s.frontend_url, "/chat");
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:8000");
        assert!(s.cookie_secure);
        assert_eq!(s.public_origin(), "http://127.0.0.1:8000");
        assert!(s.trusted_proxies.iter().any(|n| n.contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap())));
        assert!(s.cors_allowed_origins.is_empty());
        let mut env = base();
        env.insert("FRONTEND_URL".into(), "https://app.example/a b\u{7f}".into());
        let s = Settings::from_source(env).unwrap();
        assert_eq!(s.frontend_url, "https://app.example/a%20b%7F", "normalised into a valid Location");
        assert!(actix_web::http::header::HeaderValue::from_str(&s.frontend_url).is_ok());
    }

    #[test]
    fn missing_and_short_secrets_are_named() {
        let mut env = base();
        env.remove("SECRET_KEY");
        assert_eq!(error_var(env), "SECRET_KEY");
        let mut env = base();
        env.insert("SECRET_KEY".into(), "too-short".into());
        let err = Settings::from_source(env).unwrap_err();
        assert_eq!(err.var, "SECRET_KEY");
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        for (var, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("OIDC_ISSUER", "not a url"),
            ("REDIRECT_URL", "ftp://x/auth"),
            ("BIND_ADDR", "nowhere"),
            ("COOKIE_SECURE", "maybe"),
            ("FRONTEND_URL", "//evil.example"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example/path"),
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("REFRESH_TOKEN_TTL_SECONDS", "60"),
            ("RATE_LIMIT_PER_SECOND", "-1"),
            ("ALLOWED_EMAIL_DOMAINS", "example..com"),
            ("REQUIRE_EMAIL_VERIFIED", "sometimes"),
            ("ACCESS_TOKEN_TTL_SECONDS", "18446744073709551615"),
            ("REFRESH_TOKEN_TTL_SECONDS", "999999999999"),
            ("FRONTEND_URL", "javascript:alert(1)"),
            ("RATE_LIMIT_PER_SECOND", "2000000000"),
        ] {
            let mut env = base();
            env.insert(var.into(), value.into());
            assert_eq!(error_var(env), var, "{var}={value}");
        }
    }

    #[test]
    fn development_secrets_are_refused_for_a_remote_issuer() {
        let mut env = base();
        env.insert("OIDC_ISSUER".into(), "https://accounts.google.com".into());
        assert_eq!(error_var(env.clone()), "SECRET_KEY");
        env.insert("SECRET_KEY".into(), "a-real-secret-that-is-long-enough-000".into());
        env.insert("JWT_SECRET_KEY".into(), "another-real-secret-long-enough-1111".into());
        env.insert("GOOGLE_CLIENT_SECRET".into(), "real".into());
        let s = Settings::from_source(env).unwrap();
        assert!(s.issuer_is_google());
    }
}
