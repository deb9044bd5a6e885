use actix_web::{web, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::auth::AuthenticatedUser;
use crate::config::Settings;
use crate::db::{self, sessions as store, PgPool};
use crate::errors::AppError;
use crate::templates::{SessionView, SessionsPage};
use crate::{http, sessions};

/// `GET /sessions`: the user's active sessions, the current one marked.
pub async fn list(user: AuthenticatedUser, pool: web::Data<PgPool>) -> Result<HttpResponse, AppError> {
    let user_id = user.id;
    let rows = db::run(&pool, move |conn| Ok(store::active(conn, user_id)?)).await?;
    let sessions = rows.into_iter().map(|row| SessionView::new(row, user.sid)).collect();
    super::html(SessionsPage { name: user.display_name(), sessions })
}

fn check_origin(req: &HttpRequest, settings: &Settings) -> Result<(), AppError> {
    if http::is_same_origin(req, &settings.public_origin()) {
        Ok(())
    } else {
        Err(AppError::Forbidden("sessions can only be managed from this site"))
    }
}

/// `POST /sessions/{id}/revoke`: ends one session; ending the current one signs this browser out.
pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    user: AuthenticatedUser,
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    check_origin(&req, &settings)?;
    let sid = Uuid::parse_str(&path.into_inner()).map_err(|_| AppError::NotFound)?;
    if !sessions::revoke(&pool, user.id, sid, "revoked by the user").await? {
        return Err(AppError::NotFound);
    }
    if Some(sid) == user.sid {
        return Ok(super::signed_out_home(settings.cookie_secure));
    }
    Ok(super::see_other("/sessions").finish())
}

/// `POST /sessions/revoke-others`: ends every session but this one.
pub async fn revoke_others(
    req: HttpRequest,
    user: AuthenticatedUser,
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    check_origin(&req, &settings)?;
    let (user_id, keep) = (user.id, user.sid);
    let revoked = db::run(&pool, move |conn| Ok(store::revoke_others(conn, user_id, keep)?)).await?;
    log::info!("user {user_id} revoked {revoked} other session(s)");
    Ok(super::see_other("/sessions").finish())
}
