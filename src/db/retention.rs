//! Bounded storage: what has ended long enough ago is deleted, in small batches (each its own
//! short statement, so no lock is held for long and the table stays writable), by one instance
//! at a time (a PostgreSQL advisory lock, released when the sweep ends or its connection dies).

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamptz};
use serde::Serialize;

/// Rows deleted per statement.
const BATCH: i64 = 2000;

/// Key of the advisory lock that keeps two instances from sweeping at once ("sweep").
pub const SWEEP_LOCK: i64 = 0x0073_7765_6570;

/// How old is old enough to delete.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sessions ended (revoked or expired) longer ago than this.
    pub sessions: Duration,
    /// Audit events older than this.
    pub audit: Duration,
    /// Used login states older than this (no login lasts longer: they cannot be replayed).
    pub login_states: Duration,
}

/// What one sweep deleted, and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Swept {
    pub sessions: usize,
    pub audit_events: usize,
    pub login_states: usize,
    pub provider_sessions: usize,
    pub logout_tokens: usize,
    pub millis: u128,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Sweeps once; `None` when another instance is sweeping (it holds the lock).
pub fn sweep(conn: &mut PgConnection, limits: Limits) -> QueryResult<Option<Swept>> {
    let locked: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
        .bind::<BigInt, _>(SWEEP_LOCK)
        .get_result(conn)?;
    if !locked.locked {
        return Ok(None);
    }
    let swept = sweep_locked(conn, limits);
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)").bind::<BigInt, _>(SWEEP_LOCK).execute(conn);
    let swept = swept?;
    unlocked?;
    Ok(Some(swept))
}

fn sweep_locked(conn: &mut PgConnection, limits: Limits) -> QueryResult<Swept> {
    let started = Instant::now();
    let before = |age: Duration| Utc::now() - chrono::TimeDelta::from_std(age).unwrap_or(chrono::TimeDelta::MAX);
    let (sessions, audit, states) = (before(limits.sessions), before(limits.audit), before(limits.login_states));
    // Every batch walks an index in order, so it stops after its rows instead of scanning the
    // table for the last few (seen at a million sessions: a LIMIT alone chose sequential scans).
    // A revoked session's provider data goes with its revocation; an expired one's here, for
    // sessions that expired since about the last sweeps (older ones went then, or go with their
    // session).
    let provider_sessions = in_batches(
        conn,
        "DELETE FROM provider_sessions WHERE session_id IN (SELECT t.id FROM issued_tokens t \
         JOIN provider_sessions p ON p.session_id = t.id \
         WHERE t.expires_at < $1 AND t.expires_at > $1 - interval '2 days' ORDER BY t.expires_at LIMIT $2)",
        Utc::now(),
    )?;
    let revoked = older_than(conn, ("issued_tokens", "id", "revoked_at"), sessions)?;
    let expired = older_than(conn, ("issued_tokens", "id", "expires_at"), sessions)?;
    let audit_events = older_than(conn, ("audit_events", "id", "at"), audit)?;
    let login_states = older_than(conn, ("consumed_login_states", "state_hash", "consumed_at"), states)?;
    // A logout token is refused as stale long before a day.
    let day_ago = Utc::now() - chrono::TimeDelta::days(1);
    let logout_tokens = older_than(conn, ("consumed_logout_tokens", "jti_hash", "consumed_at"), day_ago)?;
    Ok(Swept {
        sessions: revoked + expired,
        audit_events,
        login_states,
        provider_sessions,
        logout_tokens,
        millis: started.elapsed().as_millis(),
    })
}

/// Deletes the rows of `table` (with primary key `key`) whose `column` is before `cutoff`, in
/// batches along `column`'s index.
fn older_than(
    conn: &mut PgConnection,
    (table, key, column): (&str, &str, &str),
    cutoff: chrono::DateTime<Utc>,
) -> QueryResult<usize> {
    let delete = format!(
        "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {column} < $1 ORDER BY {column} LIMIT $2)"
    );
    in_batches(conn, &delete, cutoff)
}

/// Runs `delete` (binding the cutoff as $1 and the batch size as $2) until a batch deletes
/// fewer than a full batch; how many rows went.
fn in_batches(conn: &mut PgConnection, delete: &str, cutoff: chrono::DateTime<Utc>) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let n = diesel::sql_query(delete).bind::<Timestamptz, _>(cutoff).bind::<BigInt, _>(BATCH).execute(conn)?;
        total += n;
        if (n as i64) < BATCH {
            return Ok(total);
        }
    }
}
