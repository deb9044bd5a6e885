//! The auth extractors: `AuthenticatedUser` for guarded handlers, `MaybeUser` for pages that
//! work both ways. The access token comes from `Authorization: Bearer` or the `access_token`
//! cookie. A browser whose access cookie has expired but whose refresh cookie is valid is
//! signed in again on the spot, and both cookies are renewed on the same response.

pub mod renewal;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::config::Settings;
use crate::cookies::{self, ACCESS_COOKIE, REFRESH_COOKIE};
use crate::db::PgPool;
use crate::errors::AppError;
use crate::next_path::NextPath;
use crate::sessions;
use crate::tokens::{AccessClaims, TokenError, TokenKeys};

/// A request carrying a valid access token (or a browser session just renewed).
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub id: Uuid,
    /// The session the token belongs to.
    pub sid: Option<Uuid>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
}

impl AuthenticatedUser {
    /// What to call the user on a page.
    pub fn display_name(&self) -> String {
        self.name.clone().or_else(|| self.email.clone()).unwrap_or_else(|| "there".to_owned())
    }
}

impl From<AccessClaims> for AuthenticatedUser {
    fn from(c: AccessClaims) -> Self {
        AuthenticatedUser { id: c.sub, sid: c.sid, email: c.email, name: c.name, picture: c.picture }
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

/// Checks the request: `Ok(None)` when no credentials were presented.
async fn authenticate(req: &HttpRequest) -> Outcome {
    let keys = req.app_data::<web::Data<TokenKeys>>().ok_or(AuthFailure::Token(TokenError::Invalid))?;
    if let Some(token) = bearer(req) {
        // API clients refresh through the API; no cookies are involved.
        return keys.verify_access(token).map(|c| Some(c.into())).map_err(AuthFailure::Token);
    }
    let access_error = match req.cookie(ACCESS_COOKIE).map(|c| keys.verify_access(c.value())) {
        Some(Ok(claims)) => return Ok(Some(claims.into())),
        Some(Err(e)) => Some(e),
        None => None,
    };
    let Some(refresh) = req.cookie(REFRESH_COOKIE) else {
        return access_error.map_or(Ok(None), |e| Err(AuthFailure::Token(e)));
    };
    let (Some(pool), Some(settings)) = (req.app_data::<web::Data<PgPool>>(), req.app_data::<web::Data<Settings>>())
    else {
        return Err(AuthFailure::Token(TokenError::Invalid));
    };
    let secure = settings.cookie_secure;
    match sessions::refresh(pool, keys, refresh.value(), true).await.map_err(AuthFailure::Unavailable)? {
        Ok(issued) => {
            let mut renewed = vec![cookies::access(issued.access, keys.access_ttl(), secure)];
            renewed.extend(issued.refresh.map(|r| cookies::refresh(r, keys.refresh_ttl(), secure)));
            renewal::set_cookies(req, renewed);
            let profile = issued.user.profile();
            Ok(Some(AuthenticatedUser {
                id: issued.user.id,
                sid: Some(issued.sid),
                email: profile.email,
                name: profile.name,
                picture: profile.picture,
            }))
        }
        Err(why) => {
            log::info!("browser session not renewed: {why}");
            renewal::set_cookies(req, cookies::clear_all(secure));
            Err(AuthFailure::Token(access_error.unwrap_or(TokenError::Expired)))
        }
    }
}

enum AuthFailure {
    Token(TokenError),
    Unavailable(AppError),
}

/// What `authenticate` found: a user, nobody (`Ok(None)`), or why not.
type Outcome = Result<Option<AuthenticatedUser>, AuthFailure>;

/// Runs `authenticate` and lets each extractor decide what the outcome means for it.
fn extract<T: 'static>(
    req: &HttpRequest,
    decide: fn(&HttpRequest, Outcome) -> Result<T, AppError>,
) -> LocalBoxFuture<'static, Result<T, AppError>> {
    let req = req.clone();
    Box::pin(async move {
        let outcome = authenticate(&req).await;
        decide(&req, outcome)
    })
}

impl FromRequest for AuthenticatedUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

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
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |_, outcome| match outcome {
            Ok(user) => Ok(MaybeUser(user)),
            Err(AuthFailure::Token(_)) => Ok(MaybeUser(None)),
            Err(AuthFailure::Unavailable(e)) => Err(e),
        })
    }
}
