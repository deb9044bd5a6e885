//! `/auth` and `/auth/{id}`: a provider's redirect back to us (RFC 6749 §4.1.2, RFC 9207 for
//! `iss`). `/auth` is the first provider's callback (REDIRECT_URL), `/auth/{id}` every other's.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::MaybeUser;
use crate::error::AppError;
use crate::login_cookie::{LoginCookie, NoLogin};
use crate::metrics::LoginOutcome;
use crate::providers::Provider;
use crate::services::accounts::{self, ConnectError};
use crate::services::{admission, audit, sign_in};
use crate::state::AppState;
use crate::{cookies, http};

/// Codes and states longer than this are not from a real provider.
const MAX_PARAM_LEN: usize = 4096;

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// `GET /auth?code&state`: the first provider's callback.
pub async fn callback(
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
    cookie: LoginCookie,
    viewer: MaybeUser,
    app: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let provider = app.providers.first();
    let result = complete(&req, query.into_inner(), &cookie, viewer, &app, provider).await;
    settled(&app, &req, provider, result).await
}

/// Counts a sign-in's outcome (`doorman_logins_total`) and records a refusal in the audit trail.
pub(super) async fn settled<T>(
    app: &AppState,
    req: &HttpRequest,
    provider: &Provider,
    result: Result<T, AppError>,
) -> Result<T, AppError> {
    use actix_web::ResponseError;
    let outcome = match &result {
        Ok(_) => LoginOutcome::Success,
        Err(e) if e.status_code() == StatusCode::FORBIDDEN => LoginOutcome::Denied,
        Err(_) => LoginOutcome::Failed,
    };
    app.metrics.login(provider.id().as_str(), outcome);
    if let Err(why) = &result {
        let device = http::device(req, &app.settings.server.trusted_proxies);
        audit::sign_in_refused(&app.pool, provider.id().as_str(), device, why).await;
    }
    result
}

/// `GET /auth/{id}?code&state`: the callback of provider `id` (not the first: that one's is
/// `/auth`).
pub async fn callback_for(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
    cookie: LoginCookie,
    viewer: MaybeUser,
    app: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let provider =
        app.providers.get(&path).filter(|p| p.id() != app.providers.first().id()).ok_or(AppError::NotFound)?;
    let result = complete(&req, query.into_inner(), &cookie, viewer, &app, provider).await;
    settled(&app, &req, provider, result).await
}

/// Completes the login and sets the cookies (or connects the identity to the signed-in
/// account). Every failure is a 4xx page and sets no cookie.
async fn complete(
    req: &HttpRequest,
    query: CallbackQuery,
    cookie: &LoginCookie,
    MaybeUser(viewer): MaybeUser,
    app: &AppState,
    provider: &Provider,
) -> Result<HttpResponse, AppError> {
    let CallbackQuery { code, state, error, iss } = query;
    if [&code, &state, &error, &iss].iter().any(|v| v.as_ref().is_some_and(|v| v.len() > MAX_PARAM_LEN)) {
        return Err(AppError::BadRequest("the sign-in response is too long".into()));
    }
    let settings = &app.settings;
    // The login this response belongs to is used up, whatever happens next.
    let pending = state.as_deref().map(|s| cookie.take(s, settings.login.timeout));
    if let Some(error) = error {
        if error == "access_denied" {
            return Err(AppError::login_failed("the sign-in was cancelled or refused at the provider")
                .with_status(StatusCode::FORBIDDEN));
        }
        return Err(AppError::login_failed("the sign-in provider reported an error")
            .caused_by(format!("provider error {error:?}")));
    }
    let (Some(code), Some(state), Some(pending)) = (code, state, pending) else {
        return Err(AppError::BadRequest("the sign-in response is missing its code or state".into()));
    };
    let pending = pending.map_err(|why| {
        AppError::login_failed(match why {
            NoLogin::Unknown => {
                "this sign-in response does not match a login started in this browser; it may have been used already"
            }
            NoLogin::TooOld => "the sign-in took too long; please start again",
        })
    })?;
    // Mix-up defence (RFC 9700 §4.4): the code goes only to the provider the login was started
    // with, never to the one whose callback it reached.
    let started_with = pending.provider.as_ref().unwrap_or(app.providers.first().id());
    if started_with != provider.id() {
        return Err(AppError::login_failed(
            "this sign-in response arrived at another provider's address than the one the login started with",
        )
        .caused_by(format!(
            "login started with provider {started_with}, response at provider {}'s callback",
            provider.id()
        )));
    }
    provider.client.check_response_issuer(iss.as_deref()).await?;
    // The provider refuses a code used before; the state is recorded as used with the sign-in
    // itself, so a replay is refused even by a provider that does not (and costs no extra round
    // trip to the database).
    let identity = provider.client.finish_login(code, &pending.secrets).await?;
    admission::admit(&identity, &settings.policy)?;
    let device = http::device(req, &settings.server.trusted_proxies);
    if let Some(account) = pending.connect_to {
        return connect(app, provider, viewer.map(|v| v.id), account, identity, state, device).await;
    }
    let issued = sign_in::sign_in(app, provider, identity, device, Some(state)).await?;
    let destination = pending.next.map(|n| n.to_string()).unwrap_or_else(|| settings.site.frontend_url.clone());
    log::info!("user {} signed in with {} (session {})", issued.user.id, provider.id(), issued.sid);
    let mut response = super::see_other(&destination);
    for cookie in cookies::issued(issued.access, issued.refresh, &app.tokens, settings.cookies) {
        response.cookie(cookie);
    }
    Ok(response.finish())
}

/// The end of *Connect* on `/account`: the identity joins the account that asked for it, if
/// that account is still the one signed in here.
async fn connect(
    app: &AppState,
    provider: &Provider,
    signed_in: Option<uuid::Uuid>,
    account: uuid::Uuid,
    identity: crate::oidc::Identity,
    state: String,
    device: crate::db::issued_tokens::Device,
) -> Result<HttpResponse, AppError> {
    if signed_in != Some(account) {
        return Err(AppError::login_failed(
            "the account that asked to connect this sign-in method is no longer signed in here; sign in and try again",
        )
        .with_status(StatusCode::FORBIDDEN));
    }
    match accounts::connect(&app.pool, account, provider, identity, state, device).await? {
        Ok(_) => Ok(super::see_other("/account").finish()),
        Err(ConnectError::OtherAccount) => Err(AppError::rejected(
            StatusCode::CONFLICT,
            "identity_in_use",
            format!(
                "this {} sign-in already belongs to another account, so it was not connected to yours; nothing was changed",
                provider.settings.name
            ),
        )),
        Err(ConnectError::StateUsed) => Err(AppError::login_failed("this sign-in response was already used")),
    }
}
