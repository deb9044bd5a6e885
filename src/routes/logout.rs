use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::Settings;
use crate::cookies;
use crate::errors::AppError;
use crate::session::LoginSession;

/// Refuses a logout posted by another site's page (SameSite=Lax already keeps our cookies off
/// such a request; this makes the refusal explicit).
fn is_same_origin(req: &HttpRequest, settings: &Settings) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site == "cross-site") {
        return false;
    }
    header("origin").is_none_or(|origin| origin == settings.public_origin())
}

/// `POST /logout`: drops the cookies and returns home.
pub async fn logout(
    req: HttpRequest,
    settings: web::Data<Settings>,
    session: LoginSession,
) -> Result<HttpResponse, AppError> {
    if !is_same_origin(&req, &settings) {
        return Err(AppError::Forbidden("logging out is only possible from this site"));
    }
    session.clear();
    Ok(super::see_other("/").cookie(cookies::clear_access(settings.cookie_secure)).finish())
}
