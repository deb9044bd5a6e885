//! Typed configuration, read once from the environment (after `.env`) and validated at start-up.
//! `Settings` is grouped by concern, and each part of the app is handed only its group.

mod checks;
mod providers;
mod reader;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;
use url::Url;

pub use providers::{ProviderId, ProviderKind, ProviderSettings, DEFAULT_PROVIDER};
use reader::{problem, Reader};
pub use reader::{ConfigError, Env, Source};

/// Everything the app needs to run, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub site: SiteSettings,
    /// The sign-in providers, in the order the sign-in page shows them; never empty.
    pub providers: Vec<ProviderSettings>,
    pub login: LoginSettings,
    pub cookies: CookieSettings,
    pub tokens: TokenSettings,
    pub limits: RateLimitSettings,
    pub policy: PolicySettings,
    pub retention: RetentionSettings,
}

/// How long ended things are kept before the clean-up deletes them.
#[derive(Debug, Clone, Copy)]
pub struct RetentionSettings {
    /// SESSION_RETENTION_DAYS: sessions ended (revoked or expired) longer ago than this go.
    pub sessions: Duration,
    /// AUDIT_RETENTION_DAYS: audit events older than this go.
    pub audit: Duration,
}

/// The listener and what sits in front of it.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub bind_addr: SocketAddr,
    pub trusted_proxies: TrustedProxies,
    pub cors_allowed_origins: Vec<String>,
    /// METRICS_BIND_ADDR: a second listener for `GET /metrics`, never the public one.
    pub metrics_bind_addr: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub pool_size: u32,
}

/// Where this app is reached and where browsers land.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    /// REDIRECT_URL: the callback registered at the provider.
    pub redirect_url: Url,
    /// The scheme, host and port of REDIRECT_URL, computed once.
    pub public_origin: String,
    /// A same-origin path or an absolute URL, already a valid `Location` value.
    pub frontend_url: String,
    /// ALLOWED_REDIRECT_HOSTS: where an absolute `next` may lead after login.
    pub allowed_redirect_hosts: crate::next_path::AllowedHosts,
}

/// The encrypted cookie that carries logins in progress.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// actix-session derives its signing and encryption keys from this with HKDF.
    pub secret_key: SecretString,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct CookieSettings {
    pub secure: bool,
    /// COOKIE_HOST_PREFIX: `__Host-` cookie names, which no other host can set.
    pub host_prefix: bool,
    /// COOKIE_DOMAIN: the `Domain` of the access and refresh cookies (sibling subdomains).
    /// `&'static` so these settings stay `Copy` on the guarded path; read once at start-up.
    pub domain: Option<&'static str>,
}

/// Keys and lifetimes of access and refresh tokens.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub jwt_secret_key: SecretString,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Clock difference allowed between the instances that sign and verify.
    pub leeway: Duration,
    /// ACCESS_TOKEN_AUDIENCE: the `aud` of access tokens; `None`: the public origin.
    pub audience: Option<String>,
    /// SESSION_MAX_LIFETIME_SECONDS: a session ends this long after its sign-in.
    pub session_max_lifetime: Duration,
    /// REVOCATION_POLL_SECONDS: how soon a session ended elsewhere is refused here.
    pub revocation_poll: Duration,
    pub private_key_file: Option<PathBuf>,
    pub key_id: Option<String>,
    pub previous_jwks_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimitSettings {
    /// 0 turns the limits off.
    pub per_second: u32,
    pub burst: u32,
}

/// Who may sign in.
#[derive(Debug, Clone)]
pub struct PolicySettings {
    pub allowed_email_domains: Vec<String>,
    pub require_email_verified: bool,
}

/// TRUSTED_PROXIES, shared (not copied) by everything that names the client.
#[derive(Debug, Clone)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies(networks.into())
    }

    /// IPv4-mapped IPv6 addresses (a listener on `[::]`) count as the IPv4 address they map.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
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
        const DAY: u64 = 24 * 3600;
        let redirect_url = r.url("REDIRECT_URL", "http://127.0.0.1:8000/auth")?;
        let cookie_domain = checks::cookie_domain(r.optional("COOKIE_DOMAIN"), &redirect_url)?;
        let settings = Settings {
            database: DatabaseSettings {
                url: SecretString::from(database_url),
                pool_size: r.parse("DATABASE_POOL_SIZE", 10, "a whole number")?,
            },
            providers: providers::read(
                &r,
                &redirect_url,
                r.seconds("HTTP_TIMEOUT_SECONDS", 10, 300)?,
                r.seconds("JWKS_MIN_REFRESH_SECONDS", 10, DAY)?,
            )?,
            site: SiteSettings {
                public_origin: redirect_url.origin().ascii_serialization(),
                redirect_url,
                frontend_url: checks::frontend(r.optional("FRONTEND_URL"))?,
                allowed_redirect_hosts: crate::next_path::AllowedHosts::parse(
                    &r.optional("ALLOWED_REDIRECT_HOSTS").unwrap_or_default(),
                )
                .map_err(|e| problem("ALLOWED_REDIRECT_HOSTS", e))?,
            },
            login: LoginSettings {
                secret_key: r.secret("SECRET_KEY", 32)?,
                timeout: r.seconds("LOGIN_TIMEOUT_SECONDS", 600, 3600)?,
            },
            retention: RetentionSettings {
                sessions: r.days("SESSION_RETENTION_DAYS", 30)?,
                audit: r.days("AUDIT_RETENTION_DAYS", 180)?,
            },
            tokens: TokenSettings {
                jwt_secret_key: r.secret("JWT_SECRET_KEY", 32)?,
                access_ttl: r.seconds("ACCESS_TOKEN_TTL_SECONDS", 900, DAY)?,
                refresh_ttl: r.seconds("REFRESH_TOKEN_TTL_SECONDS", 30 * DAY, 400 * DAY)?,
                leeway: r.seconds("TOKEN_LEEWAY_SECONDS", 5, 300)?,
                audience: r.optional("ACCESS_TOKEN_AUDIENCE"),
                session_max_lifetime: r.seconds("SESSION_MAX_LIFETIME_SECONDS", 90 * DAY, 3650 * DAY)?,
                revocation_poll: r.seconds("REVOCATION_POLL_SECONDS", 5, 300)?,
                private_key_file: r.optional("JWT_PRIVATE_KEY_FILE").map(PathBuf::from),
                key_id: r.optional("JWT_KEY_ID"),
                previous_jwks_file: r.optional("JWT_PREVIOUS_JWKS_FILE").map(PathBuf::from),
            },
            server: ServerSettings {
                bind_addr: r.parse(
                    "BIND_ADDR",
                    SocketAddr::from(([127, 0, 0, 1], 8000)),
                    "an address like 127.0.0.1:8000",
                )?,
                trusted_proxies: TrustedProxies::new(r.networks("TRUSTED_PROXIES", "127.0.0.0/8,::1/128")?),
                cors_allowed_origins: r.origins("CORS_ALLOWED_ORIGINS")?,
                metrics_bind_addr: match r.optional("METRICS_BIND_ADDR") {
                    None => None,
                    Some(raw) => Some(raw.parse().map_err(|_| {
                        problem("METRICS_BIND_ADDR", format!("must be an address like 127.0.0.1:9100, got {raw:?}"))
                    })?),
                },
            },
            cookies: CookieSettings {
                secure: r.boolean("COOKIE_SECURE", true)?,
                host_prefix: r.boolean("COOKIE_HOST_PREFIX", false)?,
                domain: cookie_domain,
            },
            limits: RateLimitSettings {
                per_second: r.parse("RATE_LIMIT_PER_SECOND", 5, "a whole number (0 turns limits off)")?,
                burst: r.parse("RATE_LIMIT_BURST", 20, "a whole number")?,
            },
            policy: PolicySettings {
                allowed_email_domains: r.domains("ALLOWED_EMAIL_DOMAINS")?,
                require_email_verified: r.boolean("REQUIRE_EMAIL_VERIFIED", true)?,
            },
        };
        providers::distinct(&settings.providers)?;
        checks::consistency(&settings)?;
        Ok(settings)
    }

    /// The provider with this id.
    pub fn provider(&self, id: &str) -> Option<&ProviderSettings> {
        self.providers.iter().find(|p| p.id.as_str() == id)
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(Env)
    }
}

#[cfg(test)]
mod tests;
