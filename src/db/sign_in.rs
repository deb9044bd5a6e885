//! The sign-in statement: records a login state as used, upserts the identity and its account,
//! opens a session and records the audit event, all in one statement (one round trip, nothing
//! half-written).

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::digest;
use super::issued_tokens::Device;
use super::prepared::Prepared;
use super::users::{NewIdentity, User};

/// What a sign-in opened.
#[derive(Debug, QueryableByName)]
pub struct SignedIn {
    #[diesel(embed)]
    pub user: User,
    #[diesel(sql_type = SqlUuid)]
    pub session_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub identity_id: Uuid,
    /// The identity signed in for the first time.
    #[diesel(sql_type = Bool)]
    pub new_identity: bool,
    /// ... and joined an existing account by its verified email.
    #[diesel(sql_type = Bool)]
    pub linked_by_email: bool,
}

/// The account a first sign-in links to by email (`linked`): the one account with this email
/// verified, when linking is on (`$by_email`), the email is verified (`$4`) and given (`$3`).
/// One text for the sign-in statement and for `disabled_account`, so both decide alike.
macro_rules! linked {
    ($by_email:literal) => {
        concat!(
            "SELECT CASE WHEN count(DISTINCT user_id) = 1 THEN (array_agg(user_id))[1] END AS user_id \
             FROM identities WHERE ",
            $by_email,
            " AND $4 AND $3 IS NOT NULL AND lower(email) = lower($3) AND email_verified"
        )
    };
}

/// The disabled account this sign-in would reach: the identity's (`$1`, `$2`) if it has one,
/// else the one it links to (`linked`).
macro_rules! blocked {
    () => {
        "SELECT acct.id FROM users acct WHERE acct.disabled_at IS NOT NULL AND acct.id = COALESCE( \
           (SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2), (SELECT user_id FROM linked))"
    };
}

/// What a sign-in statement did.
#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn(SignedIn),
    /// The login state was used before (a replayed callback): nothing was written.
    StateUsed,
    /// The account is disabled: only the refusal was written (to the audit trail).
    Disabled(Uuid),
}

/// How a first sign-in of an identity finds its account.
#[derive(Debug, Clone, Copy)]
pub struct Linking {
    /// The provider's LINK_BY_EMAIL: a verified email joins the one account that has it verified.
    pub by_email: bool,
}

/// An identity seen before signs in to its account. A new one opens a new account, unless
/// `linking.by_email`, its email is verified and exactly one account has that email verified
/// (on any of its identities): then it joins that account. Simultaneous first sign-ins of one
/// identity meet at the unique (issuer, subject) constraint and make one identity and one
/// account: the account row is written after the identity, keyed by the identity's `user_id`,
/// so a sign-in that lost the race updates the winner's account (`ON CONFLICT` sees rows
/// committed after the statement began) instead of leaving an orphan one. The foreign key is
/// checked at the end of the statement, when both rows exist.
///
/// A browser login passes its state, recorded as used (its digest); when it was used before (a
/// replayed callback), nothing is written. A disabled account (the identity's, or the one it
/// would link to) opens nothing; the refusal is recorded. A sign-in and its refusal go into the
/// audit trail in the same statement. The account's disabled flag is checked twice: in the
/// statement's snapshot, and again on the locked row (`WHERE acct.disabled_at IS NULL`), so a
/// `users disable` committed while this statement runs leaves no live session behind (the
/// disable's revocation waits for this row lock and then sees the new session).
/// The session stores only the digest of the refresh token's jti. The statement is prepared
/// once per connection (`db::prepared`): PostgreSQL plans it once, not at every login.
pub fn sign_in(
    conn: &mut PgConnection,
    identity: &NewIdentity,
    linking: Linking,
    jti: &str,
    ttl: Duration,
    device: &Device,
    state: Option<&str>,
) -> QueryResult<SignInOutcome> {
    let statement = diesel::sql_query(concat!(
        "WITH first_use AS ( \
           INSERT INTO consumed_login_states (state_hash) SELECT $11 WHERE $11 IS NOT NULL \
           ON CONFLICT DO NOTHING RETURNING 1 \
         ), fresh AS ( \
           SELECT 1 WHERE $11 IS NULL OR EXISTS (SELECT 1 FROM first_use) \
         ), linked AS (",
        linked!("$14"),
        "), blocked AS (",
        blocked!(),
        "), refused AS ( \
           INSERT INTO audit_events (kind, user_id, provider, ip, user_agent, detail) \
           SELECT 'sign_in_refused', blocked.id, $15, $10, $9, 'account disabled' FROM blocked, fresh \
         ), go AS ( \
           SELECT 1 FROM fresh WHERE NOT EXISTS (SELECT 1 FROM blocked) \
         ), i AS ( \
           INSERT INTO identities (user_id, provider, issuer, subject, email, email_verified, hosted_domain) \
           SELECT COALESCE((SELECT user_id FROM linked), $13), $15, $1, $2, $3, $4, $12 FROM go \
           ON CONFLICT (issuer, subject) DO UPDATE SET \
             provider = EXCLUDED.provider, email = EXCLUDED.email, email_verified = EXCLUDED.email_verified, \
             hosted_domain = EXCLUDED.hosted_domain, last_login_at = now() \
           RETURNING id, user_id, (xmax = 0) AS inserted \
         ), u AS ( \
           INSERT INTO users AS acct (id, email, email_verified, name, picture) \
           SELECT user_id, $3, $4, $5, $6 FROM i \
           ON CONFLICT (id) DO UPDATE SET \
             email = COALESCE(EXCLUDED.email, acct.email), \
             email_verified = CASE WHEN EXCLUDED.email IS NULL THEN acct.email_verified ELSE EXCLUDED.email_verified END, \
             name = COALESCE(EXCLUDED.name, acct.name), picture = COALESCE(EXCLUDED.picture, acct.picture), \
             updated_at = CASE WHEN \
               (acct.email, acct.email_verified, acct.name, acct.picture) IS DISTINCT FROM \
               (COALESCE(EXCLUDED.email, acct.email), \
                CASE WHEN EXCLUDED.email IS NULL THEN acct.email_verified ELSE EXCLUDED.email_verified END, \
                COALESCE(EXCLUDED.name, acct.name), COALESCE(EXCLUDED.picture, acct.picture)) \
               THEN now() ELSE acct.updated_at END, \
             last_login_at = now() \
           WHERE acct.disabled_at IS NULL \
           RETURNING acct.id, acct.email, acct.email_verified, acct.name, acct.picture, \
             acct.created_at, acct.updated_at, acct.last_login_at, acct.disabled_at \
         ), s AS ( \
           INSERT INTO issued_tokens (user_id, identity_id, provider, jti_hash, expires_at, user_agent, ip) \
           SELECT u.id, i.id, $15, $7, $8, $9, $10 FROM u, i RETURNING id \
         ), p AS ( \
           INSERT INTO provider_sessions (session_id, issuer, provider_sid, id_token) \
           SELECT s.id, $1, $16, $17 FROM s WHERE $16 IS NOT NULL OR $17 IS NOT NULL \
         ), a AS ( \
           INSERT INTO audit_events (kind, user_id, session_id, provider, ip, user_agent, detail) \
           SELECT 'sign_in', u.id, s.id, $15, $10, $9, \
             CASE WHEN i.inserted AND i.user_id <> $13 THEN 'new sign-in method, linked by its verified email' \
                  WHEN i.inserted THEN 'first sign-in, account opened' END \
           FROM u, s, i \
         ) \
         SELECT u.id, u.email, u.email_verified, u.name, u.picture, u.created_at, u.updated_at, \
           u.last_login_at, u.disabled_at, s.id AS session_id, i.id AS identity_id, i.inserted AS new_identity, \
           (i.inserted AND i.user_id <> $13) AS linked_by_email \
         FROM u, s, i",
    ))
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
    .bind::<SqlUuid, _>(Uuid::new_v4())
    .bind::<Bool, _>(linking.by_email)
    .bind::<Text, _>(&identity.provider)
    .bind::<Nullable<Text>, _>(identity.provider_session.as_deref())
    .bind::<Nullable<Text>, _>(identity.id_token.as_deref().filter(|t| t.len() <= 16384));
    let opened: Option<SignedIn> = Prepared(statement).get_result(conn).optional()?;
    match opened {
        Some(signed_in) => Ok(SignInOutcome::SignedIn(signed_in)),
        None => Ok(match disabled_account(conn, identity, linking)? {
            Some(user_id) => SignInOutcome::Disabled(user_id),
            None => SignInOutcome::StateUsed,
        }),
    }
}

/// The disabled account this identity would sign in to: its own, or (a first sign-in) the
/// one its verified email links it to. Only asked after a sign-in opened nothing.
fn disabled_account(conn: &mut PgConnection, identity: &NewIdentity, linking: Linking) -> QueryResult<Option<Uuid>> {
    #[derive(QueryableByName)]
    struct Account {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let found: Option<Account> = diesel::sql_query(concat!("WITH linked AS (", linked!("$5"), ") ", blocked!()))
        .bind::<Text, _>(&identity.issuer)
        .bind::<Text, _>(&identity.subject)
        .bind::<Nullable<Text>, _>(identity.email.as_deref())
        .bind::<Bool, _>(identity.email_verified)
        .bind::<Bool, _>(linking.by_email)
        .get_result(conn)
        .optional()?;
    Ok(found.map(|a| a.id))
}
