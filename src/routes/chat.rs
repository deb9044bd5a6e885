use actix_web::{HttpRequest, HttpResponse};

use crate::auth::AuthenticatedUser;
use crate::errors::{wants_json, AppError};
use crate::templates::{ChatPage, Viewer};

/// `GET /chat`: greets the signed-in user, as HTML or (with `Accept: application/json`) JSON.
pub async fn chat(req: HttpRequest, user: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if wants_json(&req) {
        return Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(serde_json::json!({
            "message": "Welcome!",
            "user": {
                "user_id": user.id,
                "user_email": user.email,
                "name": user.name,
                "picture": user.picture,
            }
        })));
    }
    let viewer = Viewer { name: user.display_name(), email: user.email, picture: user.picture };
    super::html(ChatPage { viewer })
}
