//! `POST /backchannel-logout`: OpenID Connect Back-Channel Logout 1.0 §2.5, called by a
//! provider (server to server, no cookies): a `logout_token` form field; 200 when its sessions
//! have ended, 400 with a JSON error otherwise (whatever the caller's `Accept`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::AppError;
use crate::services::provider_logout::{self, BackChannelError};
use crate::state::AppState;

/// Logout tokens are small JWTs; a form bigger than this is not one.
const MAX_FORM: usize = 16 * 1024;

fn refused(code: &'static str, detail: impl Into<String>) -> HttpResponse {
    AppError::rejected(StatusCode::BAD_REQUEST, code, detail).json_response()
}

pub async fn logout(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if body.len() > MAX_FORM {
        return Ok(refused("invalid_request", "the request body is too large for a logout token"));
    }
    let token = url::form_urlencoded::parse(&body).find(|(k, _)| k == "logout_token").map(|(_, v)| v.into_owned());
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(refused("invalid_request", "the form has no logout_token"));
    };
    let caller = crate::http::device(&req, &state.settings.server.trusted_proxies);
    match provider_logout::back_channel(&state, &token, caller).await? {
        Ok(_) => Ok(HttpResponse::Ok().finish()),
        Err(e) => {
            log::warn!("back-channel logout refused: {e}");
            let code = match e {
                BackChannelError::Replayed => "logout_token_replayed",
                _ => "invalid_request",
            };
            Ok(refused(code, e.to_string()))
        }
    }
}
