//! `/sessions`: where the user is signed in, with buttons to end those sessions.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::AuthenticatedUser;
use crate::db::audit::EventRow;
use crate::db::issued_tokens::SessionRow;
use crate::error::AppError;
use crate::http::{self, SameOrigin};
use crate::services::audit;
use crate::services::devices::{self, Ending};
use crate::state::AppState;
use crate::templates::{ActivityView, SessionView, SessionsPage};

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

/// How many of the user's latest events the page lists.
const RECENT_ACTIVITY: i64 = 20;

/// An event in words, naming the provider as the sign-in page does.
fn activity(row: EventRow, state: &AppState) -> ActivityView {
    let provider = row.provider.as_deref().map(|id| state.providers.get(id).map_or(id, |p| p.settings.name.as_str()));
    let with = provider.map(|p| format!(" with {p}")).unwrap_or_default();
    let what = match row.kind.as_str() {
        "sign_in" => format!("Signed in{with}"),
        "sign_in_refused" => format!("A sign-in{with} was refused"),
        "refresh_reuse" => "A stolen or replayed session token was used; that session was ended".to_owned(),
        "session_revoked" => "A session was revoked".to_owned(),
        "logout" => "Signed out".to_owned(),
        "backchannel_logout" => {
            format!("Signed out by the provider{}", provider.map(|p| format!(" ({p})")).unwrap_or_default())
        }
        "user_disabled" => "The account was disabled by an administrator".to_owned(),
        "user_enabled" => "The account was enabled by an administrator".to_owned(),
        "identity_connected" => {
            format!("Sign-in method connected{}", provider.map(|p| format!(": {p}")).unwrap_or_default())
        }
        "identity_removed" => {
            format!("Sign-in method removed{}", provider.map(|p| format!(": {p}")).unwrap_or_default())
        }
        other => other.replace('_', " "),
    };
    ActivityView {
        what,
        when: row.at.format("%Y-%m-%d %H:%M UTC").to_string(),
        device: row.user_agent.unwrap_or_else(|| "unknown device".to_owned()),
        ip: row.ip.unwrap_or_else(|| "unknown".to_owned()),
        kind: row.kind,
    }
}

/// `GET /sessions`: the user's active sessions, the current one marked, and their recent activity.
pub async fn list(user: AuthenticatedUser, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let (rows, events) = futures_util::try_join!(
        devices::active(&state.pool, user.id),
        audit::recent(&state.pool, user.id, RECENT_ACTIVITY)
    )?;
    let sessions = rows.into_iter().map(|row| view(row, user.sid, &state)).collect();
    let activity = events.into_iter().map(|row| activity(row, &state)).collect();
    super::html(SessionsPage { name: user.display_name(), sessions, activity })
}

/// `POST /sessions/{id}/revoke`: ends one session; ending the current one signs this browser out.
pub async fn revoke(
    _: SameOrigin,
    req: HttpRequest,
    path: web::Path<String>,
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sid = Uuid::parse_str(&path.into_inner()).map_err(|_| AppError::NotFound)?;
    let device = http::device(&req, &state.settings.server.trusted_proxies);
    if !devices::end(&state, user.id, sid, Ending::RevokedByUser, device).await? {
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
    req: HttpRequest,
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let device = http::device(&req, &state.settings.server.trusted_proxies);
    devices::end_others(&state, user.id, user.sid, device).await?;
    Ok(super::see_other("/sessions").finish())
}
