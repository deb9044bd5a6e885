//! The auth extractors: `AuthenticatedUser` for guarded handlers, `MaybeUser` for pages that
//! work both ways. The token comes from `Authorization: Bearer` or the `access_token` cookie.

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use uuid::Uuid;

use crate::cookies::ACCESS_COOKIE;
use crate::errors::AppError;
use crate::next_path::NextPath;
use crate::tokens::{AccessClaims, TokenError, TokenKeys};

/// A request carrying a valid access token.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub id: Uuid,
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
        AuthenticatedUser { id: c.sub, email: c.email, name: c.name, picture: c.picture }
    }
}

/// The bearer token if there is one, else the cookie.
fn presented_token(req: &HttpRequest) -> Option<String> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    bearer.or_else(|| req.cookie(ACCESS_COOKIE).map(|c| c.value().to_owned()))
}

/// Checks the request's token. `Ok(None)` means no token was presented.
fn authenticate(req: &HttpRequest) -> Result<Option<AuthenticatedUser>, TokenError> {
    let Some(token) = presented_token(req) else {
        return Ok(None);
    };
    let keys = req.app_data::<web::Data<TokenKeys>>().ok_or(TokenError::Invalid)?;
    keys.verify_access(&token).map(|claims| Some(claims.into()))
}

/// Where a browser should come back to after logging in: this page, if it is a GET.
fn return_path(req: &HttpRequest) -> String {
    let here = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    match (req.method() == actix_web::http::Method::GET, NextPath::parse(here)) {
        (true, Some(path)) => path.to_string(),
        _ => "/".to_owned(),
    }
}

impl FromRequest for AuthenticatedUser {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(match authenticate(req) {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(AppError::Unauthenticated { next: return_path(req), reason: None }),
            Err(reason) => Err(AppError::Unauthenticated { next: return_path(req), reason: Some(reason) }),
        })
    }
}

/// The signed-in user, if any; a bad or expired token counts as signed out.
pub struct MaybeUser(pub Option<AuthenticatedUser>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(MaybeUser(authenticate(req).ok().flatten())))
    }
}
