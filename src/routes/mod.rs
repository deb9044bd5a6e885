//! HTTP routes, one module per page or endpoint.

mod account;
mod api;
mod assets;
mod backchannel;
mod callback;
mod chat;
mod gateway;
mod health;
mod home;
mod login;
mod logout;
mod openapi;
mod sessions_page;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::AuthenticatedUser;
use crate::config::CookieSettings;
use crate::error::AppError;
use crate::http::page_policy_with_form_targets;
use crate::http::rate_limit::RateLimit;
use crate::login_cookie::LoginCookieConfig;
use crate::state::AppState;
use crate::templates::Viewer;

pub use openapi::ApiDocument;

/// Registers every route of the contract; sign-in routes behind the rate limit, and only the
/// routes that use the login cookie with its middleware.
pub fn configure(cfg: &mut web::ServiceConfig, limit: &RateLimit, login_session: &LoginCookieConfig) {
    // The guarded routes first: actix tries the routes in order and runs a regex for every
    // `{id}` pattern it passes (about 1 µs, 4 % of a guarded request; README.md, Benchmarks).
    // Fixed paths also go before the `{id}` patterns beside them (provider ids never take those
    // names).
    cfg.route("/chat", web::get().to(chat::chat))
        .route("/auth/verify", web::get().to(gateway::verify))
        .route("/auth/forward", web::get().to(gateway::forward));
    // A sign-in step: behind the rate limit, with the login cookie.
    let sign_in_step = |path: &str, route: actix_web::Route| {
        web::resource(path).wrap(login_session.middleware()).wrap(limit.middleware()).route(route)
    };
    cfg.service(sign_in_step("/login", web::get().to(login::login)))
        .service(sign_in_step("/login/{id}", web::get().to(login::login_with)))
        .service(sign_in_step("/auth", web::get().to(callback::callback)))
        .service(sign_in_step("/auth/{id}", web::get().to(callback::callback_for)))
        .service(sign_in_step("/account/connect/{id}", web::post().to(account::connect)))
        .service(web::resource("/logout").wrap(login_session.middleware()).route(web::post().to(logout::logout)))
        .service(
            web::resource("/backchannel-logout").wrap(limit.middleware()).route(web::post().to(backchannel::logout)),
        );
    cfg.route("/", web::get().to(home::home))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/sessions", web::get().to(sessions_page::list))
        .route("/sessions/revoke-others", web::post().to(sessions_page::revoke_others))
        .route("/sessions/{id}/revoke", web::post().to(sessions_page::revoke))
        .route("/account", web::get().to(account::show))
        .route("/account/identities/{id}/remove", web::post().to(account::remove))
        .route("/.well-known/jwks.json", web::get().to(api::jwks))
        .route("/assets/app.css", web::get().to(assets::stylesheet))
        .route("/api/openapi.json", web::get().to(openapi::serve));
    // Trailing slashes as in the contract; the bare paths too, for clients that drop them.
    cfg.service(
        web::scope("/api/v1/auth")
            .wrap(limit.middleware())
            .route("/token/refresh/", web::post().to(api::refresh))
            .route("/token/refresh", web::post().to(api::refresh))
            .route("/{id}/", web::post().to(api::id_token_login))
            .route("/{id}", web::post().to(api::id_token_login)),
    );
}

/// The shared state, borrowed from the request: the `web::Data` extractor would clone its `Arc`,
/// writing a count every worker shares on every request of the guarded path.
fn state(req: &HttpRequest) -> Result<&AppState, AppError> {
    req.app_data::<web::Data<AppState>>().map(|data| data.get_ref()).ok_or_else(|| AppError::internal("no AppState"))
}

/// A rendered page (never cached: the edge makes every response `no-store` by default).
fn html(page: impl Template) -> Result<HttpResponse, AppError> {
    let body = page.render().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}

/// A page with a form whose 303 may lead to a provider: the logout (RP-initiated logout goes
/// to the provider's end-session endpoint) and `extra` origins. Browsers apply `form-action`
/// to the redirects a form submission follows, so the page's policy must name them.
fn page_with_forms(page: impl Template, state: &AppState, extra: Vec<String>) -> Result<HttpResponse, AppError> {
    let mut origins: Vec<String> =
        state.providers.openid_clients().filter_map(|(_, client)| client.cached_end_session_origin()).collect();
    origins.extend(extra);
    let mut response = html(page)?;
    if !origins.is_empty() {
        if let Ok(policy) = HeaderValue::from_str(&page_policy_with_form_targets(&origins)) {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    Ok(response)
}

/// A 303 to `location`.
fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, location));
    response
}

/// A 303 home that also drops the access and refresh cookies (logout, revoking this session).
fn signed_out_home(cookies: CookieSettings) -> HttpResponse {
    signed_out_to("/", cookies)
}

/// A 303 to `location` that drops the access and refresh cookies.
fn signed_out_to(location: &str, cookies: CookieSettings) -> HttpResponse {
    let mut response = see_other(location);
    for cookie in crate::cookies::clear_all(cookies) {
        response.cookie(cookie);
    }
    response.finish()
}

/// The signed-in user as pages show them.
fn viewer(user: AuthenticatedUser) -> Viewer {
    Viewer { name: user.display_name(), email: user.email, picture: user.picture }
}

/// The page for any unknown path.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
