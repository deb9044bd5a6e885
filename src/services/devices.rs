//! The sessions a user has open, one per signed-in browser or app: listing and ending them.
//! Ending one is recorded in PostgreSQL and in this instance's `RevokedSessions`.

use uuid::Uuid;

use crate::db::audit::Kind;
use crate::db::issued_tokens::{self, Device, SessionRow};
use crate::db::provider_sessions;
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::state::AppState;

/// Why a session ended, as stored with it.
#[derive(Debug, Clone, Copy)]
pub enum Ending {
    LoggedOut,
    RevokedByUser,
}

impl Ending {
    /// As stored with the session and in the audit trail, caused by `device`.
    fn by(self, device: &Device) -> issued_tokens::Ending<'_> {
        let (kind, reason) = match self {
            Ending::LoggedOut => (Kind::Logout, "logged out"),
            Ending::RevokedByUser => (Kind::SessionRevoked, "revoked by the user"),
        };
        issued_tokens::Ending::new(kind, reason).by(device)
    }
}

/// The user's live sessions, most recently used first.
pub async fn active(pool: &PgPool, user_id: Uuid) -> Result<Vec<SessionRow>, AppError> {
    Ok(db::run(pool, move |conn| issued_tokens::active(conn, user_id)).await?)
}

/// Ends one of the user's sessions (refused on this instance at once, on the others within
/// REVOCATION_POLL_SECONDS); false when it is not theirs or already ended.
pub async fn end(state: &AppState, user_id: Uuid, sid: Uuid, why: Ending, device: Device) -> Result<bool, AppError> {
    let ended = db::run(&state.pool, move |conn| issued_tokens::revoke(conn, user_id, sid, &why.by(&device))).await?;
    if ended {
        state.revoked.add([sid]);
    }
    Ok(ended)
}

/// Logs this session out: ends it (here at once, elsewhere within REVOCATION_POLL_SECONDS)
/// and returns the provider it signed in with and its ID token, for the provider's logout.
pub async fn log_out(
    state: &AppState,
    user_id: Uuid,
    sid: Uuid,
    device: Device,
) -> Result<Option<(String, Option<String>)>, AppError> {
    let ended = db::run(&state.pool, move |conn| {
        provider_sessions::log_out(conn, user_id, sid, &Ending::LoggedOut.by(&device))
    })
    .await?;
    if ended.is_some() {
        state.revoked.add([sid]);
    }
    Ok(ended)
}

/// Ends every session of the user but `keep` (this one); returns how many.
pub async fn end_others(
    state: &AppState,
    user_id: Uuid,
    keep: Option<Uuid>,
    device: Device,
) -> Result<usize, AppError> {
    let revoked = db::run(&state.pool, move |conn| {
        issued_tokens::revoke_others(conn, user_id, keep, &Ending::RevokedByUser.by(&device))
    })
    .await?;
    log::info!("user {user_id} revoked {} other session(s)", revoked.len());
    let count = revoked.len();
    state.revoked.add(revoked);
    Ok(count)
}
