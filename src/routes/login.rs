use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::errors::AppError;
use crate::login_session::LoginSession;
use crate::next_path::NextPath;
use crate::oidc::OidcClient;

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login[?next=/path]`: 303 to the provider with state, nonce and a PKCE challenge; the
/// secrets and `next` stay in the encrypted session cookie.
pub async fn login(
    query: web::Query<LoginQuery>,
    oidc: web::Data<OidcClient>,
    session: LoginSession,
) -> Result<HttpResponse, AppError> {
    let (url, mut pending) = oidc.start_login().await?;
    // An unsafe `next` is dropped, not refused: the user still gets signed in, then lands on FRONTEND_URL.
    pending.next = query.next.as_deref().and_then(NextPath::parse);
    session.begin(pending)?;
    Ok(super::see_other(url.as_str()).finish())
}
