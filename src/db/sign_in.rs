//! The sign-in statement: records a login state as used, upserts the user and opens a session,
//! all in one statement (one round trip, nothing half-written).

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::digest;
use super::issued_tokens::Device;
use super::users::{NewIdentity, User};

#[derive(QueryableByName)]
struct SignInRow {
    #[diesel(embed)]
    user: User,
    #[diesel(sql_type = SqlUuid)]
    session_id: Uuid,
}

/// Two simultaneous first logins of one person meet at the unique (issuer, subject) constraint
/// and make one row; the profile is refreshed, `updated_at` moves only when it changed. A
/// browser login passes its state, recorded as used (its digest); when it was used before (a
/// replayed callback), nothing is written and the result is `None`. The session stores only the
/// digest of the refresh token's jti.
pub fn sign_in(
    conn: &mut PgConnection,
    identity: &NewIdentity,
    jti: &str,
    ttl: Duration,
    device: &Device,
    state: Option<&str>,
) -> QueryResult<Option<(User, Uuid)>> {
    let row: Option<SignInRow> = diesel::sql_query(
        "WITH first_use AS ( \
           INSERT INTO consumed_login_states (state_hash) SELECT $11 WHERE $11 IS NOT NULL \
           ON CONFLICT DO NOTHING RETURNING 1 \
         ), u AS ( \
           INSERT INTO users (issuer, subject, email, email_verified, name, picture, hosted_domain) \
           SELECT $1, $2, $3, $4, $5, $6, $12 WHERE $11 IS NULL OR EXISTS (SELECT 1 FROM first_use) \
           ON CONFLICT (issuer, subject) DO UPDATE SET \
             email = EXCLUDED.email, email_verified = EXCLUDED.email_verified, \
             name = EXCLUDED.name, picture = EXCLUDED.picture, hosted_domain = EXCLUDED.hosted_domain, \
             updated_at = CASE WHEN \
               (users.email, users.email_verified, users.name, users.picture, users.hosted_domain) \
               IS DISTINCT FROM \
               (EXCLUDED.email, EXCLUDED.email_verified, EXCLUDED.name, EXCLUDED.picture, EXCLUDED.hosted_domain) \
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
    .bind::<Bytea, _>(digest(jti))
    .bind::<Timestamptz, _>(Utc::now() + ttl)
    .bind::<Nullable<Text>, _>(device.user_agent.as_deref())
    .bind::<Nullable<Text>, _>(device.ip.as_deref())
    .bind::<Nullable<Bytea>, _>(state.map(digest))
    .bind::<Nullable<Text>, _>(identity.hosted_domain.as_deref())
    .get_result(conn)
    .optional()?;
    Ok(row.map(|row| (row.user, row.session_id)))
}
