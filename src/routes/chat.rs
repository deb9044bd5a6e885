//! `/chat`: the guarded page the contract promises.

use actix_web::{HttpRequest, HttpResponse};
use utoipa::ToSchema;

use crate::auth::AuthenticatedUser;
use crate::error::{AppError, ErrorBody};
use crate::http::negotiate::wants_json;
use crate::templates::ChatPage;

/// The greeting for API clients.
#[derive(serde::Serialize, ToSchema)]
pub struct ChatJson {
    #[schema(example = "Welcome!")]
    message: &'static str,
    user: ChatUser,
}

/// Who the access token says is calling; unknown fields are `null`, not absent.
#[derive(serde::Serialize, ToSchema)]
pub struct ChatUser {
    user_id: uuid::Uuid,
    #[schema(required = true)]
    user_email: Option<String>,
    #[schema(required = true)]
    name: Option<String>,
    #[schema(required = true)]
    picture: Option<String>,
}

/// `GET /chat`: greets the signed-in user, as HTML or (with `Accept: application/json`) JSON.
#[utoipa::path(
    get, path = "/chat", tag = "pages",
    summary = "The guarded greeting",
    description = "JSON for `Accept: application/json` (without `text/html`), else an HTML page. A browser whose access cookie expired is signed in again with its refresh cookie, both cookies renewed on this response.",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "The signed-in user", content((ChatJson = "application/json"), (String = "text/html"))),
        (status = 303, description = "A browser without a valid token is sent to `/login?next=/chat`", headers(("Location" = String))),
        (status = 401, description = "No valid token, for clients that asked for JSON: `not_authenticated`, `invalid_token`, `token_expired`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`, with `error=\"invalid_token\"` when a token was presented"))),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn chat(req: HttpRequest, user: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if wants_json(&req) {
        let AuthenticatedUser { id, email, name, picture, .. } = user;
        let body = ChatJson { message: "Welcome!", user: ChatUser { user_id: id, user_email: email, name, picture } };
        return Ok(HttpResponse::Ok().json(body));
    }
    let page = ChatPage { viewer: super::viewer(user) };
    // Only the page needs the state (its logout form); the JSON answer above stays lean.
    match super::state(&req) {
        Ok(state) => super::page_with_forms(page, state, Vec::new()),
        Err(_) => super::html(page),
    }
}
