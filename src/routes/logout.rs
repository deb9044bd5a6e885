//! `/logout`.

use actix_web::{web, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::auth::presented_access_token;
use crate::cookies::{self, Names};
use crate::error::AppError;
use crate::http::SameOrigin;
use crate::login_cookie::LoginCookie;
use crate::services::devices::{self, Ending};
use crate::state::AppState;
use crate::tokens::TokenKeys;

/// The session this request speaks for: from the refresh cookie, else from the access token
/// (cookie or Bearer), whichever verifies.
fn presented_session(req: &HttpRequest, keys: &TokenKeys, names: Names) -> Option<(Uuid, Uuid)> {
    let from_refresh = cookies::presented(req, names.refresh)
        .and_then(|token| keys.verify_refresh(token).ok())
        .map(|c| (c.sub, c.sid));
    let access = || {
        let claims = keys.verify_access(presented_access_token(req, names)?).ok()?;
        Some((claims.sub, claims.sid?))
    };
    from_refresh.or_else(access)
}

/// `POST /logout`: revokes this session server-side, drops the cookies, returns home.
pub async fn logout(
    _: SameOrigin,
    req: HttpRequest,
    state: web::Data<AppState>,
    login: LoginCookie,
) -> Result<HttpResponse, AppError> {
    let names = cookies::names(state.settings.cookies);
    if let Some((user_id, sid)) = presented_session(&req, &state.tokens, names) {
        devices::end(&state, user_id, sid, Ending::LoggedOut).await?;
    }
    login.clear();
    Ok(super::signed_out_home(state.settings.cookies))
}
