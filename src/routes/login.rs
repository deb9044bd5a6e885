//! `/login`: the start of a sign-in.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::AppError;
use crate::login_cookie::{LoginCookie, PendingLogin};
use crate::next_path::NextPath;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login[?next=/path]`: 303 to the provider with state, nonce and a PKCE challenge; the
/// secrets and `next` stay in the encrypted login cookie.
pub async fn login(
    query: web::Query<LoginQuery>,
    state: web::Data<AppState>,
    cookie: LoginCookie,
) -> Result<HttpResponse, AppError> {
    let request = state.oidc.start_login().await?;
    // An unsafe `next` is dropped, not refused: the user still gets signed in, then lands on FRONTEND_URL.
    let next = query.next.as_deref().and_then(NextPath::parse);
    cookie.begin(PendingLogin::new(request.secrets, next))?;
    Ok(super::see_other(request.url.as_str()).finish())
}
