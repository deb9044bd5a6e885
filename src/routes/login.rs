//! `/login` and `/login/{id}`: the start of a sign-in, and the sign-in page when there are
//! several providers.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::AppError;
use crate::http::negotiate::wants_json;
use crate::login_cookie::{LoginCookie, PendingLogin};
use crate::next_path::NextPath;
use crate::providers::Provider;
use crate::state::AppState;
use crate::templates::{LoginPage, ProviderButton};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// Where to land after signing in: a same-origin path (or a URL on ALLOWED_REDIRECT_HOSTS); anything else is dropped
    #[param(example = "/chat")]
    next: Option<String>,
}

/// The sign-in choices for a client that renders its own page.
#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    providers: Vec<ProviderButton>,
}

/// 303 to `provider` with state, nonce and a PKCE challenge; the secrets, the provider and
/// `next` stay in the encrypted login cookie. `connect_to`: the signed-in account that asked to
/// connect this provider.
pub(super) async fn redirect_to(
    provider: &Provider,
    next: Option<NextPath>,
    connect_to: Option<Uuid>,
    cookie: &LoginCookie,
) -> Result<HttpResponse, AppError> {
    let request = provider.client.start_login().await?;
    cookie.begin(PendingLogin::new(request.secrets, provider.id().clone(), next, connect_to))?;
    Ok(super::see_other(request.url.as_str()).finish())
}

/// An unsafe `next` is dropped, not refused: the user still gets signed in, then lands on
/// FRONTEND_URL. Absolute URLs only on ALLOWED_REDIRECT_HOSTS.
fn safe_next(query: &LoginQuery, state: &AppState) -> Option<NextPath> {
    let allowed = &state.settings.site.allowed_redirect_hosts;
    query.next.as_deref().and_then(|raw| NextPath::parse_with(raw, allowed))
}

/// `GET /login[?next=/path]`: with one provider, straight to it; with several, a page (or, for
/// `Accept: application/json`, a list) with one button per provider.
#[utoipa::path(
    get, path = "/login", tag = "pages",
    summary = "Start a sign-in, or list the providers",
    params(LoginQuery),
    responses(
        (status = 200, description = "Several providers: one entry per provider (JSON for `Accept: application/json`, else the sign-in page)",
            content((ProviderList = "application/json"), (String = "text/html"))),
        (status = 303, description = "One provider: off to it, the login's secrets in an encrypted cookie", headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 429, response = super::openapi::RateLimited),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn login(
    req: HttpRequest,
    query: web::Query<LoginQuery>,
    state: web::Data<AppState>,
    cookie: LoginCookie,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(&query, &state);
    if state.providers.len() == 1 {
        return redirect_to(state.providers.first(), next, None, &cookie).await;
    }
    let origin = &state.settings.site.public_origin;
    let buttons: Vec<ProviderButton> = state
        .providers
        .iter()
        .map(|p| {
            let mut login_url = format!("{origin}/login/{}", p.id());
            if let Some(next) = &next {
                login_url.push_str("?next=");
                login_url.extend(url::form_urlencoded::byte_serialize(next.to_string().as_bytes()));
            }
            ProviderButton { id: p.id().to_string(), name: p.settings.name.clone(), login_url }
        })
        .collect();
    if wants_json(&req) {
        return Ok(HttpResponse::Ok().json(ProviderList { providers: buttons }));
    }
    super::html(LoginPage { providers: buttons })
}

/// `GET /login/{id}[?next=/path]`: 303 to that provider; an unknown id is 404.
pub async fn login_with(
    path: web::Path<String>,
    query: web::Query<LoginQuery>,
    state: web::Data<AppState>,
    cookie: LoginCookie,
) -> Result<HttpResponse, AppError> {
    let provider = state.providers.get(&path).ok_or(AppError::NotFound)?;
    redirect_to(provider, safe_next(&query, &state), None, &cookie).await
}
