//! The login cookie: state, nonce, PKCE verifier and `next` of logins in progress between
//! `/login` and `/auth`, kept in actix-session's encrypted cookie under one typed key.

use std::time::Duration;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionExt, SessionMiddleware};
use actix_web::cookie::{time::Duration as CookieDuration, Key, SameSite};
use actix_web::{dev::Payload, FromRequest, HttpRequest};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::{CookieSettings, LoginSettings, ProviderId};
use crate::cookies::{self, Presented};
use crate::error::AppError;
use crate::next_path::NextPath;
use crate::oidc::LoginSecrets;

const KEY: &str = "pending_logins";
/// Logins started in other tabs stay valid; older ones are dropped to keep the cookie small.
const MAX_PENDING: usize = 3;

/// How the login cookie is made. Only the routes that use it (`/login`, `/auth`, `/logout`)
/// carry the middleware, so guarded requests pay nothing for it.
#[derive(Clone)]
pub struct LoginCookieConfig {
    key: Key,
    ttl: CookieDuration,
    cookies: CookieSettings,
}

impl LoginCookieConfig {
    /// The signing and encryption keys are derived from SECRET_KEY (HKDF).
    pub fn new(login: &LoginSettings, cookies: CookieSettings) -> Self {
        let key = Key::derive_from(login.secret_key.expose_secret().as_bytes());
        LoginCookieConfig { key, ttl: CookieDuration::seconds(login.timeout.as_secs() as i64), cookies }
    }

    /// Encrypted and signed, HttpOnly, SameSite=Lax, expiring with the login timeout.
    pub fn middleware(&self) -> SessionMiddleware<CookieSessionStore> {
        SessionMiddleware::builder(CookieSessionStore::default(), self.key.clone())
            .cookie_name(cookies::names(self.cookies).login.to_owned())
            .cookie_content_security(CookieContentSecurity::Private)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_secure(self.cookies.secure || self.cookies.host_prefix)
            .cookie_path("/".to_owned())
            .session_lifecycle(PersistentSession::default().session_ttl(self.ttl))
            .build()
    }
}

/// One login in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    #[serde(flatten)]
    pub secrets: LoginSecrets,
    pub next: Option<NextPath>,
    pub started_at: i64,
    /// The provider it was started with; only that provider's callback may finish it (the
    /// mix-up defence of RFC 9700 §4.4). Absent in logins started before there were several:
    /// those are the first provider's.
    #[serde(default)]
    pub provider: Option<ProviderId>,
    /// Set when a signed-in account asked to connect this provider: the account's id.
    #[serde(default)]
    pub connect_to: Option<uuid::Uuid>,
}

impl PendingLogin {
    pub fn new(
        secrets: LoginSecrets,
        provider: ProviderId,
        next: Option<NextPath>,
        connect_to: Option<uuid::Uuid>,
    ) -> Self {
        PendingLogin { secrets, next, started_at: chrono::Utc::now().timestamp(), provider: Some(provider), connect_to }
    }
}

/// Why a callback's state found no login to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoLogin {
    /// No login with this state was started in this browser, or it was finished already.
    Unknown,
    /// It was started longer ago than LOGIN_TIMEOUT_SECONDS.
    TooOld,
}

/// Typed access to the login cookie.
pub struct LoginCookie {
    session: Session,
    /// The cookie arrived twice (another site planted one: `cookies.rs`): no login is trusted.
    shadowed: bool,
}

impl LoginCookie {
    fn pending(&self) -> Vec<PendingLogin> {
        // A cookie from an older version, or one we cannot read, counts as no login in progress.
        self.session.get::<Vec<PendingLogin>>(KEY).ok().flatten().unwrap_or_default()
    }

    /// Remembers a new login; the cookie is re-issued, so a planted session id gains nothing.
    pub fn begin(&self, login: PendingLogin) -> Result<(), AppError> {
        let mut pending = self.pending();
        pending.push(login);
        let excess = pending.len().saturating_sub(MAX_PENDING);
        pending.drain(..excess);
        self.session.renew();
        self.session.insert(KEY, pending).map_err(|e| AppError::internal(format!("cannot store login session: {e}")))
    }

    /// Takes the login whose state matches; it cannot be taken twice from this cookie. The
    /// cookie expires with the timeout too, but its copy (or a clock that jumped) must not
    /// outlive it: a login older than `timeout` is taken and refused.
    pub fn take(&self, state: &str, timeout: Duration) -> Result<PendingLogin, NoLogin> {
        if self.shadowed {
            self.session.purge();
            return Err(NoLogin::Unknown);
        }
        let mut pending = self.pending();
        let position = pending
            .iter()
            .position(|p| constant_time_eq(p.secrets.state.as_bytes(), state.as_bytes()))
            .ok_or(NoLogin::Unknown)?;
        let found = pending.remove(position);
        // With nothing left (or nothing storable) the cookie goes away entirely.
        if pending.is_empty() || self.session.insert(KEY, pending).is_err() {
            self.session.purge();
        }
        let age = chrono::Utc::now().timestamp().saturating_sub(found.started_at);
        if age > timeout.as_secs() as i64 {
            return Err(NoLogin::TooOld);
        }
        Ok(found)
    }

    /// Forgets every login in progress (at logout).
    pub fn clear(&self) {
        self.session.purge();
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequest for LoginCookie {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Either spelling: the extractor does not know which one this deployment uses.
        let shadowed = [cookies::LOGIN_COOKIE, cookies::HOST_LOGIN_COOKIE]
            .iter()
            .any(|name| cookies::presented_all(req, name) == Presented::Shadowed);
        std::future::ready(Ok(LoginCookie { session: req.get_session(), shadowed }))
    }
}
