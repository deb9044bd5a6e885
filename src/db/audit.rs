//! The `audit_events` table: one row per security event. Each is written by the function that
//! makes the change it records, in the same transaction (or the same statement), so there is
//! no event without its change and no change without its event. Rows hold ids, the provider,
//! the device and a reason; never a token or a secret.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::issued_tokens::Device;
use crate::schema::audit_events as events;

/// What happened; stored by its name (`as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SignIn,
    SignInRefused,
    RefreshReuse,
    SessionRevoked,
    Logout,
    BackchannelLogout,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    IdentityConnected,
    IdentityRemoved,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SignIn => "sign_in",
            Kind::SignInRefused => "sign_in_refused",
            Kind::RefreshReuse => "refresh_reuse",
            Kind::SessionRevoked => "session_revoked",
            Kind::Logout => "logout",
            Kind::BackchannelLogout => "backchannel_logout",
            Kind::UserDisabled => "user_disabled",
            Kind::UserEnabled => "user_enabled",
            Kind::UserDeleted => "user_deleted",
            Kind::IdentityConnected => "identity_connected",
            Kind::IdentityRemoved => "identity_removed",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub kind: Kind,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub provider: Option<&'a str>,
    /// Who caused it; the operator's CLI has none.
    pub device: Option<&'a Device>,
    /// A reason or a count, in words; never personal data beyond the ids above.
    pub detail: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(kind: Kind) -> Self {
        Event { kind, user_id: None, session_id: None, provider: None, device: None, detail: None }
    }
    pub fn user(self, user_id: Uuid) -> Self {
        Event { user_id: Some(user_id), ..self }
    }
    pub fn session(self, session_id: Uuid) -> Self {
        Event { session_id: Some(session_id), ..self }
    }
    pub fn provider(self, provider: &'a str) -> Self {
        Event { provider: Some(provider), ..self }
    }
    pub fn device(self, device: &'a Device) -> Self {
        Event { device: Some(device), ..self }
    }
    pub fn detail(self, detail: &'a str) -> Self {
        Event { detail: Some(detail), ..self }
    }
}

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg))]
pub struct EventRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub provider: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// Cuts `s` to the column's limit on a character boundary (a long user agent or reason must
/// not fail the change it goes with).
fn cut(s: Option<&str>, max: usize) -> Option<&str> {
    s.map(|s| match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    })
}

/// Records `events`; call it inside the transaction of the change.
pub fn record(conn: &mut PgConnection, all: &[Event<'_>]) -> QueryResult<()> {
    if all.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = all
        .iter()
        .map(|e| {
            (
                events::kind.eq(e.kind.as_str()),
                events::user_id.eq(e.user_id),
                events::session_id.eq(e.session_id),
                events::provider.eq(cut(e.provider, 64)),
                events::ip.eq(cut(e.device.and_then(|d| d.ip.as_deref()), 64)),
                events::user_agent.eq(cut(e.device.and_then(|d| d.user_agent.as_deref()), 512)),
                events::detail.eq(cut(e.detail, 256)),
            )
        })
        .collect();
    diesel::insert_into(events::table).values(rows).execute(conn)?;
    Ok(())
}

/// The latest `limit` events, newest first; of one account when `user_id` is given. Ordered by
/// time as the indexes are (the id breaks ties within a transaction), so an account with a
/// long history is read from the index, not sorted.
pub fn latest(conn: &mut PgConnection, user_id: Option<Uuid>, limit: i64) -> QueryResult<Vec<EventRow>> {
    let newest_first = (events::at.desc(), events::id.desc());
    let mut query = events::table.select(EventRow::as_select()).order(newest_first).limit(limit).into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(events::user_id.eq(user_id));
    }
    query.load(conn)
}

/// Strips what identifies a person from an erased account's rows: the IP and the user agent
/// (reasons are never personal). The random account id stays: it names nobody once the account
/// is gone, and the trail still tells what happened to "an account".
pub fn anonymise(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<usize> {
    diesel::update(events::table.filter(events::user_id.eq(user_id)))
        .set((events::ip.eq(None::<String>), events::user_agent.eq(None::<String>)))
        .execute(conn)
}

/// Sessions ended at or after `since` whose rows are gone (an erased account's): revocation
/// polling must still see them.
pub fn erased_sessions_since(conn: &mut PgConnection, since: DateTime<Utc>) -> QueryResult<Vec<(Uuid, DateTime<Utc>)>> {
    events::table
        .filter(events::kind.eq(Kind::SessionRevoked.as_str()))
        .filter(events::detail.eq(ERASED))
        .filter(events::at.ge(since))
        .filter(events::session_id.is_not_null())
        .select((events::session_id.assume_not_null(), events::at))
        .load(conn)
}

/// The reason of the `session_revoked` events an account's erasure writes.
pub const ERASED: &str = "account deleted";
