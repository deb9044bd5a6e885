//! Revocation everywhere within seconds. Access tokens are verified without the database, so a
//! session ended on one instance (logout, a revoke button, refresh-token reuse, a disconnected
//! sign-in method, the policy, a disabled account) would otherwise stay usable elsewhere until its access tokens
//! expire. Each instance keeps the set of sessions ended lately, asks PostgreSQL for the newly
//! ended ones every REVOCATION_POLL_SECONDS (from `issued_tokens`, and from the audit trail for
//! an erased account's sessions, whose rows are gone), and the guard refuses their access tokens: one
//! hash-set lookup per guarded request, no round trip.
//!
//! A session stays in the set for as long as an access token issued before its end can live
//! (access lifetime + leeway + a margin for clocks); every token of a revoked session was issued
//! before it was revoked (a refresh of a revoked session is refused).
//!
//! Fail safe: while the database cannot be asked, sessions ended elsewhere are unknown here.
//! After `stale_after` without a successful poll the guard refuses every session's access token
//! with a 503 instead of guessing, until a poll succeeds again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::db::{self, audit, issued_tokens, DbError, PgPool};

/// Revocations are asked for again this far back, for commits that landed after our last poll
/// with an earlier `revoked_at`, and for clocks of other instances that run behind.
const OVERLAP: Duration = Duration::from_secs(60);

/// After this many poll intervals without a successful poll the set is no longer trusted (30 s
/// with the default 5-second interval): a database restart or a failover usually fits in that.
pub const STALE_AFTER_POLLS: u32 = 6;

type Ended = HashMap<Uuid, DateTime<Utc>>;

/// The sessions ended lately, as this instance knows them.
pub struct RevokedSessions {
    /// Read on every guarded request, replaced whole on a change: a read writes no memory that
    /// another worker reads (an RwLock's reader count did, and its cache line bounced between
    /// the cores on every request: README.md, Benchmarks). A change copies the set; changes come
    /// at most once per poll and per local revocation.
    ended: ArcSwap<Ended>,
    /// Where the next poll starts (the database's clock at the last one, minus `OVERLAP`).
    since: RwLock<Option<DateTime<Utc>>>,
    /// Milliseconds after `epoch` of the last successful poll.
    last_success: AtomicU64,
    epoch: Instant,
    keep: Duration,
    pub poll_every: Duration,
    stale_after: Duration,
}

impl RevokedSessions {
    /// `token_life`: how long an access token can be accepted after it was issued (lifetime
    /// plus leeway).
    pub fn new(token_life: Duration, poll_every: Duration) -> Self {
        RevokedSessions {
            ended: ArcSwap::from_pointee(HashMap::new()),
            since: RwLock::new(None),
            last_success: AtomicU64::new(0),
            epoch: Instant::now(),
            keep: token_life + OVERLAP,
            poll_every,
            stale_after: (poll_every * STALE_AFTER_POLLS).max(Duration::from_secs(3)),
        }
    }

    /// True when access tokens of `sid` must be refused.
    pub fn is_revoked(&self, sid: &Uuid) -> bool {
        self.ended.load().contains_key(sid)
    }

    /// True when too long has passed since the last successful poll to trust the set.
    pub fn is_stale(&self) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_success.load(Ordering::Relaxed)) > self.stale_after.as_millis() as u64
    }

    /// Ended on this instance: refused here at once, before the next poll.
    pub fn add(&self, sids: impl IntoIterator<Item = Uuid>) {
        let now = Utc::now();
        let sids: Vec<Uuid> = sids.into_iter().collect();
        self.ended.rcu(|ended| {
            let mut ended = Ended::clone(ended);
            ended.extend(sids.iter().map(|sid| (*sid, now)));
            ended
        });
    }

    /// Asks PostgreSQL for the sessions ended since the last poll and forgets those whose
    /// access tokens have all expired.
    pub async fn poll(&self, pool: &PgPool) -> Result<usize, DbError> {
        let keep = TimeDelta::from_std(self.keep).unwrap_or(TimeDelta::MAX);
        let overlap = TimeDelta::from_std(OVERLAP).unwrap_or(TimeDelta::zero());
        let since = self.since.read().ok().and_then(|s| *s);
        let (rows, db_now) = db::run(pool, move |conn| {
            let now = issued_tokens::database_now(conn)?;
            let since = since.unwrap_or(now - keep);
            let mut ended = issued_tokens::revoked_since(conn, since)?;
            ended.extend(audit::erased_sessions_since(conn, since)?);
            Ok::<_, diesel::result::Error>((ended, now))
        })
        .await?;
        let found = rows.len();
        let horizon = Utc::now() - keep;
        let expired = self.ended.load().values().any(|at| *at <= horizon);
        if !rows.is_empty() || expired {
            self.ended.rcu(|ended| {
                let mut ended: Ended = ended.iter().filter(|(_, at)| **at > horizon).map(|(k, v)| (*k, *v)).collect();
                ended.extend(rows.iter().copied());
                Arc::new(ended)
            });
        }
        if let Ok(mut next) = self.since.write() {
            *next = Some(db_now - overlap);
        }
        self.last_success.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        Ok(found)
    }

    /// How many sessions are in the set.
    pub fn len(&self) -> usize {
        self.ended.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ended_here_is_refused_at_once_and_staleness_is_measured() {
        let revoked = RevokedSessions::new(Duration::from_secs(900), Duration::from_secs(5));
        let (sid, other) = (Uuid::new_v4(), Uuid::new_v4());
        revoked.add([sid]);
        assert!(revoked.is_revoked(&sid) && !revoked.is_revoked(&other));
        // Never polled: stale once `stale_after` has passed since start-up.
        assert!(!revoked.is_stale(), "fresh at start");
        revoked.last_success.store(0, Ordering::Relaxed);
        let late = RevokedSessions { epoch: Instant::now() - Duration::from_secs(31), ..revoked };
        assert!(late.is_stale());
    }
}
