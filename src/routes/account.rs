//! `/account`: the sign-in methods of the signed-in account, with *Connect* and *Disconnect*.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::AuthenticatedUser;
use crate::db::identities::IdentityRow;
use crate::error::AppError;
use crate::http::SameOrigin;
use crate::login_cookie::LoginCookie;
use crate::services::accounts::{self, DisconnectError};
use crate::state::AppState;
use crate::templates::{AccountPage, IdentityView, ProviderButton};

/// `GET /account`: the connected methods (provider, email, connected, last used) and a
/// *Connect* button for each provider not yet connected.
pub async fn show(user: AuthenticatedUser, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let rows = accounts::identities(&state.pool, user.id).await?;
    let providers = &state.providers;
    let when = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    // An identity is matched to a configured provider by its issuer, which does not change
    // when an operator renames a provider id.
    let configured = |row: &IdentityRow| providers.iter().find(|p| p.issuer == row.issuer);
    let connected: Vec<IdentityView> = rows
        .iter()
        .map(|row| {
            let provider = configured(row);
            IdentityView {
                id: row.id.to_string(),
                provider_id: provider.map_or(row.provider.clone(), |p| p.id().to_string()),
                provider_name: provider.map_or(row.provider.clone(), |p| p.settings.name.clone()),
                email: row.email.clone(),
                connected: when(row.created_at),
                last_used: when(row.last_login_at),
                current: provider.is_some_and(|p| Some(p.id().as_str()) == user.idp.as_deref()),
            }
        })
        .collect();
    let unconnected: Vec<_> = providers.iter().filter(|p| !rows.iter().any(|row| row.issuer == p.issuer)).collect();
    // A *Connect* form's 303 leads to the provider, which `form-action` must allow.
    let origins = futures_util::future::join_all(unconnected.iter().map(|p| p.client.authorization_origin())).await;
    let origins: Vec<String> = origins.into_iter().flatten().collect();
    let available = unconnected
        .iter()
        .map(|p| ProviderButton { id: p.id().to_string(), name: p.settings.name.clone(), login_url: String::new() })
        .collect();
    let page = AccountPage { name: user.display_name(), can_disconnect: rows.len() > 1, connected, available };
    super::page_with_forms(page, &state, origins)
}

/// `POST /account/connect/{id}`: off to provider `id`; its callback connects the identity to
/// this account and comes back to `/account`.
pub async fn connect(
    _: SameOrigin,
    path: web::Path<String>,
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    cookie: LoginCookie,
) -> Result<HttpResponse, AppError> {
    let provider = state.providers.get(&path).ok_or(AppError::NotFound)?;
    super::login::redirect_to(provider, None, Some(user.id), &cookie).await
}

/// `POST /account/identities/{identity_id}/remove`: disconnects one method, never the last.
pub async fn remove(
    _: SameOrigin,
    req: HttpRequest,
    path: web::Path<String>,
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let identity_id = Uuid::parse_str(&path.into_inner()).map_err(|_| AppError::NotFound)?;
    let device = crate::http::device(&req, &state.settings.server.trusted_proxies);
    match accounts::disconnect(&state.pool, user.id, identity_id, device).await? {
        Ok(_) => Ok(super::see_other("/account").finish()),
        Err(DisconnectError::NotFound) => Err(AppError::NotFound),
        Err(e @ DisconnectError::Last) => Err(AppError::rejected(StatusCode::CONFLICT, "last_identity", e.to_string())),
    }
}
