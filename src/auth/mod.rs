//! The auth extractors: `AuthenticatedUser` for guarded handlers, `MaybeUser` for pages that
//! work both ways. The access token comes from `Authorization: Bearer` or the `access_token`
//! cookie. A browser whose access cookie has expired but whose refresh cookie is valid is
//! signed in again on the spot, and both cookies are renewed on the same response.

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::future::{ready, Either, LocalBoxFuture, Ready};
use uuid::Uuid;

use crate::cookies::{self, Names, Presented};
use crate::error::AppError;
use crate::http::cookie_updates;
use crate::next_path::NextPath;
use crate::services::refresh;
use crate::state::AppState;
use crate::tokens::{AccessClaims, Profile, TokenError};

pub mod rules;

/// A request carrying a valid access token (or a browser session just renewed).
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub id: Uuid,
    /// The session the token belongs to.
    pub sid: Option<Uuid>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    /// The provider id the session signed in with.
    pub idp: Option<String>,
    pub email_verified: bool,
}

impl AuthenticatedUser {
    fn new(id: Uuid, sid: Option<Uuid>, profile: Profile) -> Self {
        let Profile { email, name, picture, idp, email_verified } = profile;
        AuthenticatedUser { id, sid, email, name, picture, idp, email_verified }
    }

    /// What to call the user on a page.
    pub fn display_name(&self) -> String {
        self.name.clone().or_else(|| self.email.clone()).unwrap_or_else(|| "there".to_owned())
    }
}

impl From<AccessClaims> for AuthenticatedUser {
    fn from(c: AccessClaims) -> Self {
        let profile =
            Profile { email: c.email, name: c.name, picture: c.picture, idp: c.idp, email_verified: c.email_verified };
        Self::new(c.sub, c.sid, profile)
    }
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Where a browser should come back to after logging in: this page, if it is a GET.
fn return_path(req: &HttpRequest) -> String {
    let here = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    match (req.method() == actix_web::http::Method::GET, NextPath::parse(here)) {
        (true, Some(path)) => path.to_string(),
        _ => "/".to_owned(),
    }
}

/// The access token presented: `Authorization: Bearer`, else the access cookie.
pub fn presented_access_token(req: &HttpRequest, names: Names) -> Option<&str> {
    bearer(req).or_else(|| cookies::presented(req, names.access))
}

/// What the credentials say without any I/O, which settles nearly every request: a valid
/// access token, none, or a bad one with no refresh cookie. Only a browser whose access cookie
/// is missing or no longer valid, but which has a refresh cookie, needs the database.
enum FirstLook<'r> {
    Settled(Outcome),
    Renew { refresh: &'r str, access_error: Option<TokenError> },
}

/// A verified access token's claims, unless its session has been ended (on any instance, as
/// far as the last revocation poll knows) or revocations cannot be known right now.
fn live(claims: AccessClaims, state: &AppState) -> Result<AuthenticatedUser, AuthFailure> {
    if let Some(sid) = &claims.sid {
        if state.revoked.is_stale() {
            return Err(AuthFailure::Unavailable(AppError::Unavailable {
                message: "whether your session is still valid cannot be checked right now; please try again shortly",
                cause: "no successful revocation poll for too long (database unreachable)".into(),
            }));
        }
        if state.revoked.is_revoked(sid) {
            return Err(AuthFailure::Token(TokenError::Invalid));
        }
    }
    Ok(claims.into())
}

fn first_look<'r>(req: &'r HttpRequest, state: &AppState) -> FirstLook<'r> {
    let keys = &state.tokens;
    if let Some(token) = bearer(req) {
        // API clients refresh through the API; no cookies are involved.
        let user = keys.verify_access(token).map_err(AuthFailure::Token).and_then(|c| live(c, state));
        return FirstLook::Settled(user.map(Some));
    }
    let names = cookies::names(state.settings.cookies);
    let (access, refresh) = cookies::credentials(req, names);
    if access == Presented::Shadowed || refresh == Presented::Shadowed {
        // Another site planted a copy (cookies.rs): whichever is ours, this browser is signed out.
        log::warn!("a credential cookie arrived twice (shadowing) or unreadable; none is believed, all are cleared");
        cookie_updates::set_cookies(req, cookies::clear_shadowed(req, state.settings.cookies));
        return FirstLook::Settled(Ok(None));
    }
    let access_error = match access {
        Presented::Once(token) => {
            match keys.verify_access(token).map_err(AuthFailure::Token).and_then(|c| live(c, state)) {
                Ok(user) => return FirstLook::Settled(Ok(Some(user))),
                Err(AuthFailure::Token(e)) => Some(e),
                Err(unavailable) => return FirstLook::Settled(Err(unavailable)),
            }
        }
        Presented::Absent | Presented::Shadowed => None,
    };
    match refresh {
        Presented::Once(refresh) => FirstLook::Renew { refresh, access_error },
        Presented::Absent | Presented::Shadowed => {
            FirstLook::Settled(access_error.map_or(Ok(None), |e| Err(AuthFailure::Token(e))))
        }
    }
}

/// Signs a browser in again with its refresh cookie, renewing both cookies on this response,
/// or clears them when the session is dead.
async fn renew(req: &HttpRequest, state: &AppState, refresh: &str, access_error: Option<TokenError>) -> Outcome {
    let cookie_settings = state.settings.cookies;
    let device = crate::http::device(req, &state.settings.server.trusted_proxies);
    let presenter = refresh::Presenter { browser: true, device: &device };
    match refresh::refresh(state, refresh, presenter).await.map_err(AuthFailure::Unavailable)? {
        Ok(issued) => {
            let renewed = cookies::issued(issued.access, issued.refresh, &state.tokens, cookie_settings);
            cookie_updates::set_cookies(req, renewed);
            let profile = crate::services::profile(&issued.user, &issued.provider);
            Ok(Some(AuthenticatedUser::new(issued.user.id, Some(issued.sid), profile)))
        }
        Err(why) => {
            log::info!("browser session not renewed: {why}");
            cookie_updates::set_cookies(req, cookies::clear_all(cookie_settings));
            Err(AuthFailure::Token(access_error.unwrap_or(TokenError::Expired)))
        }
    }
}

enum AuthFailure {
    Token(TokenError),
    Unavailable(AppError),
}

/// What authenticating found: a user, nobody (`Ok(None)`), or why not.
type Outcome = Result<Option<AuthenticatedUser>, AuthFailure>;

/// Settled at once without a database (no allocation, no boxed future), or after a renewal.
type Extraction<T> = Either<Ready<Result<T, AppError>>, LocalBoxFuture<'static, Result<T, AppError>>>;

/// Authenticates the request and lets each extractor decide what the outcome means for it.
fn extract<T: 'static>(req: &HttpRequest, decide: fn(&HttpRequest, Outcome) -> Result<T, AppError>) -> Extraction<T> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Either::Left(ready(decide(req, Err(AuthFailure::Token(TokenError::Invalid)))));
    };
    match first_look(req, state) {
        FirstLook::Settled(outcome) => Either::Left(ready(decide(req, outcome))),
        FirstLook::Renew { refresh, access_error } => {
            let (req, state, refresh) = (req.clone(), state.clone(), refresh.to_owned());
            Either::Right(Box::pin(async move {
                let outcome = renew(&req, &state, &refresh, access_error).await;
                decide(&req, outcome)
            }))
        }
    }
}

/// What authenticating a request found, for the gateway routes that answer a proxy instead of
/// using an extractor.
pub enum Found {
    /// A valid access token.
    Valid(AuthenticatedUser),
    /// An expired access cookie renewed with the refresh cookie; the new cookies are added to
    /// whatever response this request gets.
    Renewed(AuthenticatedUser),
    /// No credentials, or none that hold.
    Nobody,
}

/// Authenticates `req` as the extractors do, telling a renewed browser session apart.
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Found, AppError> {
    let outcome = match first_look(req, state) {
        FirstLook::Settled(outcome) => outcome.map(|user| user.map_or(Found::Nobody, Found::Valid)),
        // Boxed: the renewal's future (a database round trip) is far larger than the rest, and
        // every gateway request would otherwise carry and move it.
        FirstLook::Renew { refresh, access_error } => Box::pin(renew(req, state, refresh, access_error))
            .await
            .map(|user| user.map_or(Found::Nobody, Found::Renewed)),
    };
    match outcome {
        Ok(found) => Ok(found),
        Err(AuthFailure::Token(_)) => Ok(Found::Nobody),
        Err(AuthFailure::Unavailable(e)) => Err(e),
    }
}

impl AuthenticatedUser {
    /// The profile its tokens carry.
    pub fn profile(&self) -> Profile {
        Profile {
            email: self.email.clone(),
            name: self.name.clone(),
            picture: self.picture.clone(),
            idp: self.idp.clone(),
            email_verified: self.email_verified,
        }
    }
}

impl FromRequest for AuthenticatedUser {
    type Error = AppError;
    type Future = Extraction<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |req, outcome| match outcome {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(AppError::Unauthenticated { next: return_path(req), reason: None }),
            Err(AuthFailure::Token(reason)) => {
                Err(AppError::Unauthenticated { next: return_path(req), reason: Some(reason) })
            }
            Err(AuthFailure::Unavailable(e)) => Err(e),
        })
    }
}

/// The signed-in user, if any; a bad or expired session counts as signed out.
pub struct MaybeUser(pub Option<AuthenticatedUser>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Extraction<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |_, outcome| match outcome {
            Ok(user) => Ok(MaybeUser(user)),
            Err(AuthFailure::Token(_)) => Ok(MaybeUser(None)),
            Err(AuthFailure::Unavailable(e)) => Err(e),
        })
    }
}
