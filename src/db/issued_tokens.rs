//! The `issued_tokens` table: one row per signed-in session (a browser or an app), holding only
//! digests of refresh token ids. Sessions are opened by `db::sign_in`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Timestamptz};
use uuid::Uuid;

use super::audit;
use super::digest;
use super::identities::IdentityRow;
use super::users::User;
use crate::schema::{identities, issued_tokens as sessions, provider_sessions, users};

/// Where a session was started from.
#[derive(Debug, Clone, Default)]
pub struct Device {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A session as the sessions page lists it.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct SessionRow {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The provider id it signed in with.
    pub provider: String,
}

/// Whose a session is: the account, the identity it signed in with, and that provider's id.
#[derive(Debug)]
pub struct Owner {
    pub user: User,
    pub identity: IdentityRow,
    pub provider: String,
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Rotation {
    /// The current token: replaced by `new_jti`.
    Rotated(Owner),
    /// The token retired a moment ago (another tab refreshed first): honoured, not rotated.
    JustRotated(Owner),
    /// The token before the current one, from the browser that rotated it, whose answer with
    /// the current one was lost: replaced by `new_jti`.
    Recovered(Owner),
    /// A retired token presented again: the session is now revoked.
    Reused,
    /// Revoked, expired, not this user's session, its identity was disconnected, or the
    /// account is disabled.
    Dead,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
struct RotationState {
    jti_hash: Vec<u8>,
    previous_jti_hash: Option<Vec<u8>>,
    rotated_at: Option<DateTime<Utc>>,
    rotated_user_agent: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    provider: String,
}

/// A refresh token presented for rotation, and the rules it is judged by.
pub struct RotationRequest<'a> {
    pub sid: Uuid,
    pub user_id: Uuid,
    pub presented_jti: &'a str,
    pub new_jti: &'a str,
    /// How long the session lasts unused after this rotation.
    pub ttl: Duration,
    /// How long after sign-in the session ends however often it is refreshed.
    pub max_lifetime: Duration,
    /// How long the token just retired is honoured for the same browser (0: never).
    pub grace: Duration,
    /// The device presenting the token (its user agent tells a browser's tabs apart).
    pub device: &'a Device,
}

/// Rotates the session's refresh token, in a transaction that locks the row so two uses of one
/// token cannot both succeed. Every time comparison uses the database's clock, which all
/// instances share: skew between instances cannot widen the grace or stretch a lifetime.
pub fn rotate(conn: &mut PgConnection, r: &RotationRequest<'_>) -> QueryResult<Rotation> {
    let delta = |d: Duration| chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
    conn.transaction(|conn| {
        let found: Option<(RotationState, User, IdentityRow, DateTime<Utc>)> = sessions::table
            .inner_join(users::table)
            .inner_join(identities::table.on(sessions::identity_id.eq(identities::id.nullable())))
            .filter(sessions::id.eq(r.sid).and(sessions::user_id.eq(r.user_id)))
            .select((
                RotationState::as_select(),
                User::as_select(),
                IdentityRow::as_select(),
                sql::<Timestamptz>("now()"),
            ))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((state, user, identity, now)) = found else { return Ok(Rotation::Dead) };
        let owner = Owner { user, identity, provider: state.provider.clone() };
        let ends_at = state.created_at.checked_add_signed(delta(r.max_lifetime)).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let disabled = owner.user.disabled_at.is_some();
        if disabled || state.revoked_at.is_some() || state.expires_at <= now || ends_at <= now {
            return Ok(Rotation::Dead);
        }
        // A rotation extends the session by its TTL, never past its end.
        let expires_at = now.checked_add_signed(delta(r.ttl)).unwrap_or(ends_at).min(ends_at);
        let presented = digest(r.presented_jti);
        let user_agent = r.device.user_agent.as_deref();
        if presented == state.jti_hash {
            diesel::update(sessions::table.find(r.sid))
                .set((
                    sessions::previous_jti_hash.eq(Some(state.jti_hash)),
                    sessions::jti_hash.eq(digest(r.new_jti)),
                    sessions::rotated_at.eq(Some(now)),
                    sessions::rotated_user_agent.eq(user_agent),
                    sessions::last_used_at.eq(now),
                    sessions::expires_at.eq(expires_at),
                ))
                .execute(conn)?;
            return Ok(Rotation::Rotated(owner));
        }
        // `now()` is when this transaction began: a request that waited for the row lock while
        // the other tab rotated sees that rotation a few milliseconds "after" its own now (seen
        // in CI: counted as no grace, it rotated again and retired the other tab's new token).
        // So the window reaches as far back as forward; a rotation further in the future (an
        // instance with a wrong clock) still opens none.
        let since_rotation = state.rotated_at.map(|at| now - at);
        let within_grace = !r.grace.is_zero() && since_rotation.is_some_and(|d| d.abs() <= delta(r.grace));
        let same_browser = user_agent.is_some() && state.rotated_user_agent.as_deref() == user_agent;
        let previous = state.previous_jti_hash.as_deref() == Some(presented.as_slice());
        if previous && same_browser && within_grace {
            return Ok(Rotation::JustRotated(owner));
        }
        // The same browser again with the token it had before the last rotation, later than the
        // tabs' grace: the answer that carried the new token never arrived (the browser left the
        // page first), since presenting that new token would have retired this one for good.
        // It rotates anew; the unreceived token is dead, and presenting it is theft.
        if previous && same_browser && !r.grace.is_zero() {
            diesel::update(sessions::table.find(r.sid))
                .set((
                    sessions::jti_hash.eq(digest(r.new_jti)),
                    sessions::rotated_at.eq(Some(now)),
                    sessions::last_used_at.eq(now),
                    sessions::expires_at.eq(expires_at),
                ))
                .execute(conn)?;
            return Ok(Rotation::Recovered(owner));
        }
        let reuse = Ending { kind: audit::Kind::RefreshReuse, reason: "refresh token reused", device: Some(r.device) };
        end_live(conn, Box::new(sessions::id.eq(r.sid)), &reuse)?;
        Ok(Rotation::Reused)
    })
}

/// Why sessions end: the reason stored with each, and the audit event recorded for each.
#[derive(Debug, Clone, Copy)]
pub struct Ending<'a> {
    pub kind: audit::Kind,
    pub reason: &'a str,
    /// Who ended them (none: the operator's CLI, a background rule).
    pub device: Option<&'a Device>,
}

impl<'a> Ending<'a> {
    pub fn new(kind: audit::Kind, reason: &'a str) -> Self {
        Ending { kind, reason, device: None }
    }
    pub fn by(self, device: &'a Device) -> Self {
        Ending { device: Some(device), ..self }
    }
}

/// A session just ended: its id, account and provider.
type Ended = (Uuid, Uuid, String);

/// What ending a session writes; a session is ended once (its first reason is kept).
type Revocation<'r> = (
    diesel::dsl::Eq<sessions::revoked_at, Option<DateTime<Utc>>>,
    diesel::dsl::Eq<sessions::revoked_reason, Option<&'r str>>,
);

fn revocation(reason: &str) -> Revocation<'_> {
    (sessions::revoked_at.eq(Some(Utc::now())), sessions::revoked_reason.eq(Some(reason)))
}

const ENDED: (sessions::id, sessions::user_id, sessions::provider) =
    (sessions::id, sessions::user_id, sessions::provider);

/// Which sessions to end (of those still live).
type Which<'a> = Box<dyn BoxableExpression<sessions::table, Pg, SqlType = Bool> + 'a>;

/// Ends the live sessions `which` selects, records one audit event per session, and drops what
/// logging out at their provider would have needed (the ID token is personal data, useless once
/// the session is over); returns their ids. Call it inside a transaction.
fn end_live(conn: &mut PgConnection, which: Which<'_>, ending: &Ending<'_>) -> QueryResult<Vec<Uuid>> {
    let ended: Vec<Ended> = diesel::update(sessions::table.filter(which).filter(sessions::revoked_at.is_null()))
        .set(revocation(ending.reason))
        .returning(ENDED)
        .get_results(conn)?;
    let events: Vec<audit::Event<'_>> = ended
        .iter()
        .map(|(sid, user_id, provider)| {
            let event = audit::Event::new(ending.kind).user(*user_id).session(*sid).provider(provider);
            audit::Event { device: ending.device, ..event.detail(ending.reason) }
        })
        .collect();
    audit::record(conn, &events)?;
    let ids: Vec<Uuid> = ended.into_iter().map(|(sid, ..)| sid).collect();
    forget_provider_data(conn, &ids)?;
    Ok(ids)
}

fn forget_provider_data(conn: &mut PgConnection, sessions: &[Uuid]) -> QueryResult<()> {
    if !sessions.is_empty() {
        diesel::delete(provider_sessions::table.filter(provider_sessions::session_id.eq_any(sessions)))
            .execute(conn)?;
    }
    Ok(())
}

/// Revokes sessions whatever their user (one the sign-in policy no longer admits, those the
/// provider logged out), with their audit events; the ids of those that were live.
pub fn revoke_sessions(conn: &mut PgConnection, sids: &[Uuid], ending: &Ending<'_>) -> QueryResult<Vec<Uuid>> {
    let sids = sids.to_vec();
    conn.transaction(|conn| end_live(conn, Box::new(sessions::id.eq_any(sids)), ending))
}

/// Revokes the live sessions that signed in with an identity (it is being disconnected; its
/// removal is the audit event); returns how many.
pub fn revoke_identity_sessions(conn: &mut PgConnection, identity_id: Uuid, reason: &str) -> QueryResult<usize> {
    let signed_in_with = sessions::table.filter(sessions::identity_id.eq(identity_id));
    let ended: Vec<Uuid> = diesel::update(signed_in_with.filter(sessions::revoked_at.is_null()))
        .set(revocation(reason))
        .returning(sessions::id)
        .get_results(conn)?;
    forget_provider_data(conn, &ended)?;
    Ok(ended.len())
}

/// Revokes one of the user's sessions, with its audit event; false when it is not theirs or
/// already revoked.
pub fn revoke(conn: &mut PgConnection, user_id: Uuid, sid: Uuid, ending: &Ending<'_>) -> QueryResult<bool> {
    let theirs = Box::new(sessions::id.eq(sid).and(sessions::user_id.eq(user_id)));
    conn.transaction(|conn| Ok(!end_live(conn, theirs, ending)?.is_empty()))
}

/// Revokes every live session of the user but `keep`, one audit event each; returns their ids.
pub fn revoke_others(
    conn: &mut PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
    ending: &Ending<'_>,
) -> QueryResult<Vec<Uuid>> {
    let others = Box::new(sessions::user_id.eq(user_id).and(sessions::id.ne(keep.unwrap_or(Uuid::nil()))));
    conn.transaction(|conn| end_live(conn, others, ending))
}

/// The sessions ended at or after `since` (by `revoked_at`), with when.
pub fn revoked_since(conn: &mut PgConnection, since: DateTime<Utc>) -> QueryResult<Vec<(Uuid, DateTime<Utc>)>> {
    sessions::table
        .filter(sessions::revoked_at.ge(since))
        .select((sessions::id, sessions::revoked_at.assume_not_null()))
        .load(conn)
}

/// The database's clock, which every instance shares.
pub fn database_now(conn: &mut PgConnection) -> QueryResult<DateTime<Utc>> {
    diesel::select(sql::<Timestamptz>("now()")).get_result(conn)
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
