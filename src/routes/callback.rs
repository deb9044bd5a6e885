//! `/auth`: the provider's redirect back to us (RFC 6749 §4.1.2, RFC 9207 for `iss`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::error::AppError;
use crate::login_cookie::{LoginCookie, NoLogin};
use crate::services::{admission, sign_in};
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

/// `GET /auth?code&state`: completes the login and sets the cookies. Every failure is a 4xx
/// page and sets no cookie.
pub async fn callback(
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
    cookie: LoginCookie,
    app: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let CallbackQuery { code, state, error, iss } = query.into_inner();
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
    app.oidc.check_response_issuer(iss.as_deref()).await?;
    // The provider refuses a code used before; the state is recorded as used with the sign-in
    // itself, so a replay is refused even by a provider that does not (and costs no extra round
    // trip to the database).
    let identity = app.oidc.finish_login(code, &pending.secrets).await?;
    admission::admit(&identity, &settings.policy)?;
    let device = http::device(&req, &settings.server.trusted_proxies);
    let issued = sign_in::sign_in(&app, identity, device, Some(state))
        .await?
        .ok_or_else(|| AppError::login_failed("this sign-in response was already used"))?;
    let destination = pending.next.map(|n| n.to_string()).unwrap_or_else(|| settings.site.frontend_url.clone());
    log::info!("user {} signed in (session {})", issued.user.id, issued.sid);
    let mut response = super::see_other(&destination);
    for cookie in cookies::issued(issued.access, issued.refresh, &app.tokens, settings.cookies) {
        response.cookie(cookie);
    }
    Ok(response.finish())
}
