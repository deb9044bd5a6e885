use actix_web::{HttpRequest, HttpResponse};

use crate::auth::AuthenticatedUser;
use crate::errors::{wants_json, AppError};
use crate::templates::{ChatPage, Viewer};

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
        return Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(body));
    }
    let viewer = Viewer { name: user.display_name(), email: user.email, picture: user.picture };
    super::html(ChatPage { viewer })
}
