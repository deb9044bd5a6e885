//! The gateway: `/auth/verify` for nginx `auth_request` and `/auth/forward` for Traefik
//! `forwardAuth` and Caddy `forward_auth`. Both answer a proxy asking about one request of a
//! protected app: who is calling (identity headers, and with JWT_PRIVATE_KEY_FILE a signed JWT
//! for the app), whether they may pass the route's rules, and what to do when nobody is
//! signed in.

use actix_web::http::header::{self, HeaderName};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use url::Url;

use crate::auth::rules::Rules;
use crate::auth::{authenticate, AuthenticatedUser, Found, MaybeUser};
use crate::error::AppError;
use crate::http::bad_input::malformed;
use crate::http::IDENTITY_HEADER;
use crate::metrics::VerifyOutcome;
use crate::state::AppState;

const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The route's rules, from the query; nearly every answer has none to parse (no extractor: its
/// future would be polled and moved with the handler's on every guarded request).
fn rules(req: &HttpRequest) -> Result<Rules, AppError> {
    match req.query_string() {
        "" => Ok(Rules::default()),
        query => web::Query::<Rules>::from_query(query).map(web::Query::into_inner).map_err(malformed),
    }
}

fn header_str(req: &HttpRequest, name: impl header::AsHeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// The host of the protected app, as the proxy names it: the JWT's audience.
fn protected_host(req: &HttpRequest) -> Option<&str> {
    header_str(req, FORWARDED_HOST).or_else(|| header_str(req, header::HOST))
}

/// The refusal of a signed-in user whom the route's rules do not let in.
fn not_allowed(user: &AuthenticatedUser) -> AppError {
    let who = user.email.as_deref().unwrap_or("this account");
    AppError::rejected(
        StatusCode::FORBIDDEN,
        "not_allowed",
        format!("you are signed in as {who}, but this app is open to other accounts only"),
    )
}

// The contract's names; as constants, not parsed again for every answer.
const EMAIL: HeaderName = HeaderName::from_static("x-auth-request-email");
const JWT: HeaderName = HeaderName::from_static("x-auth-request-jwt");

/// 2xx with the identity headers (and the upstream JWT) for `user`.
fn identity(
    mut response: HttpResponseBuilder,
    req: &HttpRequest,
    state: &AppState,
    user: &AuthenticatedUser,
) -> HttpResponse {
    response.insert_header((IDENTITY_HEADER, user.id.to_string()));
    if let Some(email) = &user.email {
        response.insert_header((EMAIL, email.as_str()));
    }
    // The host is looked up only when there is a JWT to address to it.
    let host = || protected_host(req).unwrap_or(&state.settings.site.public_origin);
    match state.tokens.issue_upstream(user.id, user.sid, || user.profile(), host) {
        Some(Ok(jwt)) => {
            response.insert_header((JWT, jwt));
        }
        Some(Err(e)) => log::error!("cannot sign the upstream JWT: {e}"),
        None => {}
    }
    response.finish()
}

/// `GET /auth/verify[?allowed_emails&allowed_domains]`: 204 with the user in headers, 403 when
/// the rules refuse them, 401 when nobody is signed in; never a redirect (nginx turns the 401
/// into one). A rolled browser session renews its cookies here.
#[utoipa::path(
    get, path = "/auth/verify", tag = "gateway",
    summary = "nginx auth_request: may this request pass?",
    params(Rules), security((), ("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 204, response = super::openapi::Identity),
        (status = 401, response = super::openapi::Unauthenticated),
        (status = 403, response = super::openapi::NotAllowed),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn verify(req: HttpRequest, MaybeUser(user): MaybeUser) -> Result<HttpResponse, AppError> {
    let (state, rules) = (super::state(&req)?, rules(&req)?);
    let metrics = &state.metrics;
    match user {
        Some(user) if !rules.allow(&user) => {
            metrics.verify(VerifyOutcome::Forbidden);
            Err(not_allowed(&user))
        }
        Some(user) => {
            metrics.verify(VerifyOutcome::Allowed);
            Ok(identity(HttpResponse::NoContent(), &req, state, &user))
        }
        None => {
            metrics.verify(VerifyOutcome::Unauthenticated);
            Ok(HttpResponse::Unauthorized().insert_header(("WWW-Authenticate", "Bearer")).finish())
        }
    }
}

/// The URL the browser asked the proxy for, from `X-Forwarded-Proto`, `-Host` and `-Uri`.
fn original_url(req: &HttpRequest) -> Option<Url> {
    let proto = header_str(req, "x-forwarded-proto")?.to_ascii_lowercase();
    let host = header_str(req, FORWARDED_HOST)?;
    let uri = header_str(req, "x-forwarded-uri").unwrap_or("/");
    if !matches!(proto.as_str(), "http" | "https") || !uri.starts_with('/') {
        return None;
    }
    Url::parse(&format!("{proto}://{host}{uri}")).ok().filter(|u| u.host_str().is_some())
}

fn is_browser(req: &HttpRequest) -> bool {
    header_str(req, header::ACCEPT).is_some_and(|a| a.contains("text/html"))
}

/// `GET /auth/forward[?allowed_emails&allowed_domains]`: 200 with the identity headers when
/// signed in and allowed, 403 when not allowed; signed out, a browser gets 302 to the login with
/// the original URL as `next` (ALLOWED_REDIRECT_HOSTS decides whether it is honoured), other
/// clients 401. A browser whose access cookie expired but whose session lives gets its cookies
/// renewed on a 307 back to the same URL: a proxy passes a non-2xx answer (with its Set-Cookie)
/// to the browser, but drops the headers of a 2xx one.
#[utoipa::path(
    get, path = "/auth/forward", tag = "gateway",
    summary = "Traefik forwardAuth, Caddy forward_auth: may this request pass?",
    description = "The proxy passes the original request in `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-Uri`; a browser is told apart by `Accept: text/html`.",
    params(Rules), security((), ("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, response = super::openapi::Identity),
        (status = 302, description = "A signed-out browser is sent to the login, with the original URL as `next`", headers(("Location" = String))),
        (status = 307, description = "A browser session renewed: new cookies, and back to the original URL", headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 401, response = super::openapi::Unauthenticated),
        (status = 403, response = super::openapi::NotAllowed),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn forward(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let (state, rules) = (super::state(&req)?, rules(&req)?);
    let (outcome, answer) = match authenticate(&req, state).await? {
        Found::Valid(user) | Found::Renewed(user) if !rules.allow(&user) => {
            (VerifyOutcome::Forbidden, Err(not_allowed(&user)))
        }
        Found::Renewed(_) if is_browser(&req) && original_url(&req).is_some() => {
            let again = original_url(&req).map(String::from).unwrap_or_default();
            (
                VerifyOutcome::Renewed,
                Ok(HttpResponse::TemporaryRedirect().insert_header((header::LOCATION, again)).finish()),
            )
        }
        Found::Valid(user) | Found::Renewed(user) => {
            (VerifyOutcome::Allowed, Ok(identity(HttpResponse::Ok(), &req, state, &user)))
        }
        Found::Nobody if is_browser(&req) => {
            let mut login = format!("{}/login", state.settings.site.public_origin);
            if let Some(url) = original_url(&req) {
                login.push_str("?next=");
                login.extend(url::form_urlencoded::byte_serialize(url.as_str().as_bytes()));
            }
            (
                VerifyOutcome::Unauthenticated,
                Ok(HttpResponse::Found().insert_header((header::LOCATION, login)).finish()),
            )
        }
        Found::Nobody => (
            VerifyOutcome::Unauthenticated,
            Ok(HttpResponse::Unauthorized().insert_header(("WWW-Authenticate", "Bearer")).finish()),
        ),
    };
    state.metrics.verify(outcome);
    answer
}
