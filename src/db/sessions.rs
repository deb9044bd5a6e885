//! The `issued_tokens` table: one row per signed-in session, holding only hashes of refresh
//! token ids.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::users::User;
use crate::oidc::Identity;
use crate::schema::{issued_tokens as sessions, users};

pub fn hash(jti: &str) -> Vec<u8> {
    Sha256::digest(jti.as_bytes()).to_vec()
}

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

#[derive(QueryableByName)]
struct LoginRow {
    #[diesel(embed)]
    user: User,
    #[diesel(sql_type = SqlUuid)]
    session_id: Uuid,
}

/// Upserts the user and opens a session in one statement (one round trip): two simultaneous
/// first logins of one person meet at the unique (issuer, subject) constraint and make one row;
/// the profile is refreshed, `updated_at` moves only when it changed. A browser login also
/// records its state as used (`login_states::hash`) in the same statement; when the state was
/// used before (a replayed callback), nothing is written and the result is `None`.
pub fn login(
    conn: &mut PgConnection,
    identity: &Identity,
    jti: &str,
    ttl: Duration,
    device: &Device,
    state_hash: Option<&[u8]>,
) -> QueryResult<Option<(User, Uuid)>> {
    let row: Option<LoginRow> = diesel::sql_query(
        "WITH first_use AS ( \
           INSERT INTO consumed_login_states (state_hash) SELECT $11 WHERE $11 IS NOT NULL \
           ON CONFLICT DO NOTHING RETURNING 1 \
         ), u AS ( \
           INSERT INTO users (issuer, subject, email, email_verified, name, picture) \
           SELECT $1, $2, $3, $4, $5, $6 WHERE $11 IS NULL OR EXISTS (SELECT 1 FROM first_use) \
           ON CONFLICT (issuer, subject) DO UPDATE SET \
             email = EXCLUDED.email, email_verified = EXCLUDED.email_verified, \
             name = EXCLUDED.name, picture = EXCLUDED.picture, \
             updated_at = CASE WHEN (users.email, users.email_verified, users.name, users.picture) \
               IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.email_verified, EXCLUDED.name, EXCLUDED.picture) \
               THEN now() ELSE users.updated_at END, \
             last_login_at = now() \
           RETURNING * \
         ), s AS ( \
           INSERT INTO issued_tokens (user_id, jti_hash, expires_at, user_agent, ip) \
           SELECT id, $7, $8, $9, $10 FROM u RETURNING id \
         ) \
         SELECT u.*, s.id AS session_id FROM u, s",
    )
    .bind::<Text, _>(&identity.issuer)
    .bind::<Text, _>(&identity.subject)
    .bind::<Nullable<Text>, _>(identity.email.as_deref())
    .bind::<Bool, _>(identity.email_verified)
    .bind::<Nullable<Text>, _>(identity.name.as_deref())
    .bind::<Nullable<Text>, _>(identity.picture.as_deref())
    .bind::<Bytea, _>(hash(jti))
    .bind::<Timestamptz, _>(Utc::now() + ttl)
    .bind::<Nullable<Text>, _>(device.user_agent.as_deref())
    .bind::<Nullable<Text>, _>(device.ip.as_deref())
    .bind::<Nullable<Bytea>, _>(state_hash)
    .get_result(conn)
    .optional()?;
    Ok(row.map(|row| (row.user, row.session_id)))
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
        let presented = hash(presented_jti);
        if presented == state.jti_hash {
            diesel::update(sessions::table.find(sid))
                .set((
                    sessions::previous_jti_hash.eq(Some(state.jti_hash)),
                    sessions::jti_hash.eq(hash(new_jti)),
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

fn revoke_row(conn: &mut PgConnection, sid: Uuid, reason: &str) -> QueryResult<usize> {
    diesel::update(sessions::table.find(sid).filter(sessions::revoked_at.is_null()))
        .set((sessions::revoked_at.eq(Some(Utc::now())), sessions::revoked_reason.eq(Some(reason))))
        .execute(conn)
}

/// Revokes one of the user's sessions; false when it is not theirs or already revoked.
pub fn revoke(conn: &mut PgConnection, user_id: Uuid, sid: Uuid, reason: &str) -> QueryResult<bool> {
    let owned = sessions::table.filter(sessions::id.eq(sid).and(sessions::user_id.eq(user_id)));
    let n = diesel::update(owned.filter(sessions::revoked_at.is_null()))
        .set((sessions::revoked_at.eq(Some(Utc::now())), sessions::revoked_reason.eq(Some(reason))))
        .execute(conn)?;
    Ok(n == 1)
}

/// Revokes every session of the user but `keep`; returns how many.
pub fn revoke_others(conn: &mut PgConnection, user_id: Uuid, keep: Option<Uuid>) -> QueryResult<usize> {
    let keep = keep.unwrap_or(Uuid::nil());
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id).and(sessions::id.ne(keep)).and(sessions::revoked_at.is_null())),
    )
    .set((sessions::revoked_at.eq(Some(Utc::now())), sessions::revoked_reason.eq(Some("revoked by the user"))))
    .execute(conn)
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
