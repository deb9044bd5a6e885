//! `/sessions`: where the user is signed in, with buttons to end those sessions.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::AuthenticatedUser;
use crate::db::issued_tokens::SessionRow;
use crate::error::AppError;
use crate::http::SameOrigin;
use crate::services::devices::{self, Ending};
use crate::state::AppState;
use crate::templates::{SessionView, SessionsPage};

fn view(row: SessionRow, current: Option<Uuid>, state: &AppState) -> SessionView {
    let provider = state.providers.get(&row.provider).map_or(row.provider.clone(), |p| p.settings.name.clone());
    let when = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    SessionView {
        id: row.id.to_string(),
        device: row.user_agent.unwrap_or_else(|| "unknown device".to_owned()),
        ip: row.ip.unwrap_or_else(|| "unknown".to_owned()),
        created: when(row.created_at),
        last_used: when(row.last_used_at),
        provider,
        current: Some(row.id) == current,
    }
}

/// `GET /sessions`: the user's active sessions, the current one marked.
pub async fn list(user: AuthenticatedUser, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let rows = devices::active(&state.pool, user.id).await?;
    let sessions = rows.into_iter().map(|row| view(row, user.sid, &state)).collect();
    super::html(SessionsPage { name: user.display_name(), sessions })
}

/// `POST /sessions/{id}/revoke`: ends one session; ending the current one signs this browser out.
pub async fn revoke(
    _: SameOrigin,
    path: web::Path<String>,
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sid = Uuid::parse_str(&path.into_inner()).map_err(|_| AppError::NotFound)?;
    if !devices::end(&state, user.id, sid, Ending::RevokedByUser).await? {
        return Err(AppError::NotFound);
    }
    if Some(sid) == user.sid {
        return Ok(super::signed_out_home(state.settings.cookies));
    }
    Ok(super::see_other("/sessions").finish())
}

/// `POST /sessions/revoke-others`: ends every session but this one.
pub async fn revoke_others(
    _: SameOrigin,
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    devices::end_others(&state, user.id, user.sid).await?;
    Ok(super::see_other("/sessions").finish())
}
