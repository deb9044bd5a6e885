//! Single use of login states across instances: `/auth` records the state as used (its
//! `db::digest`) in the same statement that signs the user in (`db::sign_in`).

use std::time::Duration;

use diesel::prelude::*;

use crate::schema::consumed_login_states as states;

/// Forgets states older than any login could be; they cannot be replayed past the login timeout.
pub fn forget_older_than(conn: &mut PgConnection, age: Duration) -> QueryResult<usize> {
    let cutoff = chrono::Utc::now() - age;
    diesel::delete(states::table.filter(states::consumed_at.lt(cutoff))).execute(conn)
}
