//! `/chat`: the guarded page the contract promises.

use actix_web::{HttpRequest, HttpResponse};

use crate::auth::AuthenticatedUser;
use crate::error::AppError;
use crate::http::negotiate::wants_json;
use crate::templates::ChatPage;

#[derive(serde::Serialize)]
struct ChatJson<'a> {
    message: &'static str,
    user: ChatUser<'a>,
}

#[derive(serde::Serialize)]
struct ChatUser<'a> {
    user_id: uuid::Uuid,
    user_email: &'a Option<String>,
    name: &'a Option<String>,
    picture: &'a Option<String>,
}

/// `GET /chat`: greets the signed-in user, as HTML or (with `Accept: application/json`) JSON.
pub async fn chat(req: HttpRequest, user: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if wants_json(&req) {
        let body = ChatJson {
            message: "Welcome!",
            user: ChatUser { user_id: user.id, user_email: &user.email, name: &user.name, picture: &user.picture },
        };
        return Ok(HttpResponse::Ok().json(body));
    }
    let page = ChatPage { viewer: super::viewer(user) };
    // Only the page needs the state (its logout form); the JSON answer above stays lean.
    match req.app_data::<actix_web::web::Data<crate::state::AppState>>() {
        Some(state) => super::page_with_forms(page, state, Vec::new()),
        None => super::html(page),
    }
}
