//! `/logout`.

use actix_web::{web, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::auth::presented_access_token;
use crate::cookies::{self, Names};
use crate::error::AppError;
use crate::http::SameOrigin;
use crate::login_cookie::LoginCookie;
use crate::services::devices;
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

/// `POST /logout`: revokes this session server-side, drops the cookies, and returns home —
/// through the provider's end-session endpoint when the session's provider publishes one
/// (RP-initiated logout, with `id_token_hint` and `post_logout_redirect_uri` = our `/`).
pub async fn logout(
    _: SameOrigin,
    req: HttpRequest,
    state: web::Data<AppState>,
    login: LoginCookie,
) -> Result<HttpResponse, AppError> {
    let names = cookies::names(state.settings.cookies);
    login.clear();
    let Some((user_id, sid)) = presented_session(&req, &state.tokens, names) else {
        return Ok(super::signed_out_home(state.settings.cookies));
    };
    let device = crate::http::device(&req, &state.settings.server.trusted_proxies);
    let Some((provider, id_token)) = devices::log_out(&state, user_id, sid, device).await? else {
        return Ok(super::signed_out_home(state.settings.cookies));
    };
    let home = format!("{}/", state.settings.site.public_origin);
    let at_provider = match state.providers.get(&provider).and_then(|p| p.client.openid()) {
        Some(client) => client.logout_url(id_token.as_deref(), &home).await,
        None => None,
    };
    match at_provider {
        Some(url) => Ok(super::signed_out_to(url.as_str(), state.settings.cookies)),
        None => Ok(super::signed_out_home(state.settings.cookies)),
    }
}
