use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::config::Settings;
use crate::db::PgPool;
use crate::errors::AppError;
use crate::login_session::LoginSession;
use crate::oidc::OidcClient;
use crate::tokens::TokenKeys;
use crate::{cookies, http, sessions};

/// Codes and states longer than this are not from a real provider.
const MAX_PARAM_LEN: usize = 4096;

/// The provider's redirect back to us (RFC 6749 §4.1.2, RFC 9207 for `iss`).
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

fn failed(message: &'static str) -> AppError {
    AppError::LoginFailed { status: StatusCode::BAD_REQUEST, message, cause: None }
}

/// `GET /auth?code&state`: completes the login and sets the access cookie. Every failure is a
/// 4xx page and sets no cookie.
pub async fn callback(
    req: actix_web::HttpRequest,
    query: web::Query<CallbackQuery>,
    session: LoginSession,
    oidc: web::Data<OidcClient>,
    pool: web::Data<PgPool>,
    keys: web::Data<TokenKeys>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    let CallbackQuery { code, state, error, iss } = query.into_inner();
    if [&code, &state, &error, &iss].iter().any(|v| v.as_ref().is_some_and(|v| v.len() > MAX_PARAM_LEN)) {
        return Err(AppError::BadRequest("the sign-in response is too long".into()));
    }
    // The login this response belongs to is used up, whatever happens next.
    let pending = state.as_deref().and_then(|s| session.take(s));
    if let Some(error) = error {
        if error == "access_denied" {
            return Err(AppError::LoginFailed {
                status: StatusCode::FORBIDDEN,
                message: "the sign-in was cancelled or refused at the provider",
                cause: None,
            });
        }
        return Err(AppError::login_failed(
            "the sign-in provider reported an error",
            format!("provider error {error:?}"),
        ));
    }
    let (Some(code), Some(state)) = (code, state) else {
        return Err(AppError::BadRequest("the sign-in response is missing its code or state".into()));
    };
    let pending = pending.ok_or_else(|| {
        failed("this sign-in response does not match a login started in this browser; it may have been used already")
    })?;
    if pending.age_seconds() > settings.login_timeout.as_secs() as i64 {
        return Err(failed("the sign-in took too long; please start again"));
    }
    oidc.check_response_issuer(iss.as_deref()).await?;
    // The provider refuses a code used before; the state is recorded as used with the sign-in
    // itself, so a replay is refused even by a provider that does not (and costs no extra round
    // trip to the database).
    let identity = oidc.finish_login(code, &pending).await?;
    crate::policy::admit(&identity, &settings)?;
    let device = http::device(&req, &settings);
    let issued = sessions::sign_in(&pool, &keys, identity, device, Some(&state))
        .await?
        .ok_or_else(|| failed("this sign-in response was already used"))?;
    let destination = pending.next.map(|n| n.to_string()).unwrap_or_else(|| settings.frontend_url.clone());
    log::info!("user {} signed in (session {})", issued.user.id, issued.sid);
    let mut response = super::see_other(&destination);
    for cookie in cookies::issued(issued.access, issued.refresh, &keys, settings.cookie_secure) {
        response.cookie(cookie);
    }
    Ok(response.finish())
}
