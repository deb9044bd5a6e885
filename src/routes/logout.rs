use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::Settings;
use crate::cookies::{self, REFRESH_COOKIE};
use crate::db::PgPool;
use crate::errors::AppError;
use crate::login_session::LoginSession;
use crate::tokens::TokenKeys;
use crate::{http, sessions};

/// The session this request speaks for: from the refresh cookie, else from the access token
/// (cookie or Bearer), whichever verifies.
fn presented_session(req: &HttpRequest, keys: &TokenKeys) -> Option<(uuid::Uuid, uuid::Uuid)> {
    let from_refresh = cookies::presented(req, REFRESH_COOKIE)
        .and_then(|token| keys.verify_refresh(token).ok())
        .map(|c| (c.sub, c.sid));
    let access = || {
        let claims = keys.verify_access(crate::auth::presented_access_token(req)?).ok()?;
        Some((claims.sub, claims.sid?))
    };
    from_refresh.or_else(access)
}

/// `POST /logout`: revokes this session server-side, drops the cookies, returns home.
pub async fn logout(
    req: HttpRequest,
    settings: web::Data<Settings>,
    keys: web::Data<TokenKeys>,
    pool: web::Data<PgPool>,
    login: LoginSession,
) -> Result<HttpResponse, AppError> {
    if !http::is_same_origin(&req, &settings.public_origin()) {
        return Err(AppError::Forbidden("logging out is only possible from this site"));
    }
    if let Some((user_id, sid)) = presented_session(&req, &keys) {
        sessions::revoke(&pool, user_id, sid, "logged out").await?;
    }
    login.clear();
    Ok(super::signed_out_home(settings.cookie_secure))
}
