//! The `issued_tokens` table: one row per signed-in session (a browser or an app), holding only
//! digests of refresh token ids. Sessions are opened by `db::sign_in`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::digest;
use super::users::User;
use crate::schema::{issued_tokens as sessions, users};

/// Where a session was started from.
#[derive(Debug, Clone, Default)]
pub struct Device {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A session as the sessions page lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct SessionRow {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Rotation {
    /// The current token: replaced by `new_jti`.
    Rotated(User),
    /// The token retired a moment ago (another tab refreshed first): honoured, not rotated.
    JustRotated(User),
    /// A retired token presented again: the session is now revoked.
    Reused,
    /// Revoked, expired, or not this user's session.
    Dead,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
struct RotationState {
    jti_hash: Vec<u8>,
    previous_jti_hash: Option<Vec<u8>>,
    rotated_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Rotates the session's refresh token, in a transaction that locks the row so two uses of one
/// token cannot both succeed.
pub fn rotate(
    conn: &mut PgConnection,
    sid: Uuid,
    user_id: Uuid,
    presented_jti: &str,
    new_jti: &str,
    ttl: Duration,
    grace: Duration,
) -> QueryResult<Rotation> {
    conn.transaction(|conn| {
        let found: Option<(RotationState, User)> = sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(sid).and(sessions::user_id.eq(user_id)))
            .select((RotationState::as_select(), User::as_select()))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((state, user)) = found else { return Ok(Rotation::Dead) };
        let now = Utc::now();
        if state.revoked_at.is_some() || state.expires_at <= now {
            return Ok(Rotation::Dead);
        }
        let presented = digest(presented_jti);
        if presented == state.jti_hash {
            diesel::update(sessions::table.find(sid))
                .set((
                    sessions::previous_jti_hash.eq(Some(state.jti_hash)),
                    sessions::jti_hash.eq(digest(new_jti)),
                    sessions::rotated_at.eq(Some(now)),
                    sessions::last_used_at.eq(now),
                    sessions::expires_at.eq(now + ttl),
                ))
                .execute(conn)?;
            return Ok(Rotation::Rotated(user));
        }
        let grace = chrono::TimeDelta::from_std(grace).unwrap_or_default();
        let within_grace = state.rotated_at.is_some_and(|at| now - at <= grace);
        if within_grace && state.previous_jti_hash.as_deref() == Some(presented.as_slice()) {
            return Ok(Rotation::JustRotated(user));
        }
        revoke_row(conn, sid, "refresh token reused")?;
        Ok(Rotation::Reused)
    })
}

/// What ending a session writes; a session is ended once (its first reason is kept).
type Revocation<'r> = (
    diesel::dsl::Eq<sessions::revoked_at, Option<DateTime<Utc>>>,
    diesel::dsl::Eq<sessions::revoked_reason, Option<&'r str>>,
);

fn revocation(reason: &str) -> Revocation<'_> {
    (sessions::revoked_at.eq(Some(Utc::now())), sessions::revoked_reason.eq(Some(reason)))
}

fn revoke_row(conn: &mut PgConnection, sid: Uuid, reason: &str) -> QueryResult<usize> {
    diesel::update(sessions::table.find(sid).filter(sessions::revoked_at.is_null()))
        .set(revocation(reason))
        .execute(conn)
}

/// Revokes one of the user's sessions; false when it is not theirs or already revoked.
pub fn revoke(conn: &mut PgConnection, user_id: Uuid, sid: Uuid, reason: &str) -> QueryResult<bool> {
    let owned = sessions::table.filter(sessions::id.eq(sid).and(sessions::user_id.eq(user_id)));
    let n = diesel::update(owned.filter(sessions::revoked_at.is_null())).set(revocation(reason)).execute(conn)?;
    Ok(n == 1)
}

/// Revokes every live session of the user but `keep`; returns how many.
pub fn revoke_others(conn: &mut PgConnection, user_id: Uuid, keep: Option<Uuid>, reason: &str) -> QueryResult<usize> {
    let keep = keep.unwrap_or(Uuid::nil());
    let others = sessions::table.filter(sessions::user_id.eq(user_id).and(sessions::id.ne(keep)));
    diesel::update(others.filter(sessions::revoked_at.is_null())).set(revocation(reason)).execute(conn)
}

/// The user's live sessions, most recently used first.
pub fn active(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(Utc::now()))
        .order(sessions::last_used_at.desc())
        .select(SessionRow::as_select())
        .load(conn)
}
