//! Single use of login states across instances: `/auth` records the state as used in the same
//! statement that signs the user in (`db::sessions::login`).

use std::time::Duration;

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::schema::consumed_login_states as states;

/// What is stored of a used state: its SHA-256 (`db::sessions::login` records it).
pub fn hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

/// Forgets states older than any login could be; they cannot be replayed past the login timeout.
pub fn forget_older_than(conn: &mut PgConnection, age: Duration) -> QueryResult<usize> {
    let cutoff = chrono::Utc::now() - age;
    diesel::delete(states::table.filter(states::consumed_at.lt(cutoff))).execute(conn)
}
