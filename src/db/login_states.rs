//! Single use of login states across instances: the state is recorded when `/auth` consumes it.

use std::time::Duration;

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::schema::consumed_login_states as states;

/// Records the state as used; false when it was used before (a replayed callback).
pub fn consume(conn: &mut PgConnection, state: &str) -> QueryResult<bool> {
    let hash = Sha256::digest(state.as_bytes()).to_vec();
    let inserted = diesel::insert_into(states::table)
        .values(states::state_hash.eq(hash))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(inserted == 1)
}

/// Forgets states older than any login could be; they cannot be replayed past the login timeout.
pub fn forget_older_than(conn: &mut PgConnection, age: Duration) -> QueryResult<usize> {
    let cutoff = chrono::Utc::now() - age;
    diesel::delete(states::table.filter(states::consumed_at.lt(cutoff))).execute(conn)
}
