//! The sessions a user has open, one per signed-in browser or app: listing and ending them.

use uuid::Uuid;

use crate::db::issued_tokens::{self, SessionRow};
use crate::db::{self, PgPool};
use crate::error::AppError;

/// Why a session ended, as stored with it.
#[derive(Debug, Clone, Copy)]
pub enum Ending {
    LoggedOut,
    RevokedByUser,
}

impl Ending {
    fn reason(self) -> &'static str {
        match self {
            Ending::LoggedOut => "logged out",
            Ending::RevokedByUser => "revoked by the user",
        }
    }
}

/// The user's live sessions, most recently used first.
pub async fn active(pool: &PgPool, user_id: Uuid) -> Result<Vec<SessionRow>, AppError> {
    Ok(db::run(pool, move |conn| issued_tokens::active(conn, user_id)).await?)
}

/// Ends one of the user's sessions; false when it is not theirs or already ended.
pub async fn end(pool: &PgPool, user_id: Uuid, sid: Uuid, why: Ending) -> Result<bool, AppError> {
    Ok(db::run(pool, move |conn| issued_tokens::revoke(conn, user_id, sid, why.reason())).await?)
}

/// Ends every session of the user but `keep` (this one); returns how many.
pub async fn end_others(pool: &PgPool, user_id: Uuid, keep: Option<Uuid>) -> Result<usize, AppError> {
    let revoked =
        db::run(pool, move |conn| issued_tokens::revoke_others(conn, user_id, keep, Ending::RevokedByUser.reason()))
            .await?;
    log::info!("user {user_id} revoked {revoked} other session(s)");
    Ok(revoked)
}
