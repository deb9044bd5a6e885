//! What operators do to accounts (`doorman users …`): find, list, disable, enable and erase
//! them. Each change ends the sessions it must and records its audit event in one transaction.

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;
use uuid::Uuid;

use super::audit::{self, Event, Kind};
use super::issued_tokens::{revoke_others, Ending};
use super::users::User;
use crate::schema::{identities, issued_tokens as sessions, users};

/// The accounts an operator's `ID_OR_EMAIL` names.
#[derive(Debug)]
pub enum Found {
    One(User),
    None,
    /// An email several accounts have (on the account or one of its identities): their ids.
    Several(Vec<Uuid>),
}

/// The account with this id, or the accounts with this email (any case) on the account or on
/// one of its identities.
pub fn find(conn: &mut PgConnection, id_or_email: &str) -> QueryResult<Found> {
    if let Ok(id) = Uuid::parse_str(id_or_email) {
        let user = users::table.find(id).select(User::as_select()).first(conn).optional()?;
        return Ok(user.map_or(Found::None, Found::One));
    }
    let email = id_or_email.trim().to_lowercase();
    let lower = |column: &str| diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("lower({column}) = "));
    // Two index lookups rather than one OR, which PostgreSQL answers with a scan of every account.
    let with_identity =
        identities::table.filter(lower("identities.email").bind::<Text, _>(&email)).select(identities::user_id);
    let mut found: Vec<User> = users::table
        .filter(lower("users.email").bind::<Text, _>(&email))
        .select(User::as_select())
        .limit(20)
        .load(conn)?;
    let by_identity: Vec<User> =
        users::table.filter(users::id.eq_any(with_identity)).select(User::as_select()).limit(20).load(conn)?;
    for user in by_identity {
        if !found.iter().any(|u| u.id == user.id) {
            found.push(user);
        }
    }
    found.sort_by_key(|u| u.created_at);
    Ok(match found.len() {
        0 => Found::None,
        1 => Found::One(found.remove(0)),
        _ => Found::Several(found.into_iter().map(|u| u.id).collect()),
    })
}

/// An account as `users list` shows it.
#[derive(Debug, QueryableByName, Serialize)]
pub struct Summary {
    #[diesel(embed)]
    #[serde(flatten)]
    pub user: User,
    /// The providers of its identities, comma-separated.
    #[diesel(sql_type = Text)]
    pub providers: String,
    #[diesel(sql_type = BigInt)]
    pub live_sessions: i64,
}

/// Up to `limit` accounts, oldest first, whose email (on the account or an identity) contains
/// `email` in any case; and how many match in all.
pub fn list(conn: &mut PgConnection, email: Option<&str>, limit: i64) -> QueryResult<(Vec<Summary>, i64)> {
    // LIKE's wildcards in the operator's text are literal.
    let pattern = email.map(|e| {
        let escaped = e.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    });
    const MATCHES: &str = "($1 IS NULL OR lower(u.email) LIKE $1 OR EXISTS ( \
        SELECT 1 FROM identities i WHERE i.user_id = u.id AND lower(i.email) LIKE $1))";
    let rows = diesel::sql_query(format!(
        "SELECT u.*, \
           COALESCE((SELECT string_agg(DISTINCT i.provider, ',') FROM identities i WHERE i.user_id = u.id), '') \
             AS providers, \
           (SELECT count(*) FROM issued_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL \
              AND t.expires_at > now()) AS live_sessions \
         FROM users u WHERE {MATCHES} ORDER BY u.created_at, u.id LIMIT $2"
    ))
    .bind::<Nullable<Text>, _>(pattern.as_deref())
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let total: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM users u WHERE {MATCHES}"))
        .bind::<Nullable<Text>, _>(pattern.as_deref())
        .get_result(conn)?;
    Ok((rows, total.n))
}

/// Disables the account and ends its live sessions (every instance refuses them within
/// REVOCATION_POLL_SECONDS); their ids. `None` when it was disabled already.
pub fn disable(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<Option<Vec<Uuid>>> {
    conn.transaction(|conn| {
        let changed = diesel::update(users::table.find(user_id).filter(users::disabled_at.is_null()))
            .set(users::disabled_at.eq(Some(Utc::now())))
            .execute(conn)?;
        if changed == 0 {
            return Ok(None);
        }
        let ended = revoke_others(conn, user_id, None, &Ending::new(Kind::SessionRevoked, "account disabled"))?;
        let detail = format!("by an operator; {} session(s) ended", ended.len());
        audit::record(conn, &[Event::new(Kind::UserDisabled).user(user_id).detail(&detail)])?;
        Ok(Some(ended))
    })
}

/// Lets a disabled account sign in again (its ended sessions stay ended); false when it was
/// not disabled.
pub fn enable(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let changed = diesel::update(users::table.find(user_id).filter(users::disabled_at.is_not_null()))
            .set(users::disabled_at.eq(None::<chrono::DateTime<Utc>>))
            .execute(conn)?;
        if changed == 1 {
            audit::record(conn, &[Event::new(Kind::UserEnabled).user(user_id).detail("by an operator")])?;
        }
        Ok(changed == 1)
    })
}

/// What erasing an account removed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Erased {
    pub identities: usize,
    pub sessions: usize,
}

/// Erases the account, its identities and its sessions in one transaction; `None` when there is
/// no such account. Its audit rows lose their IP and user agent. The session rows go, so each
/// live one is recorded as ended (`audit::ERASED`): revocation polling reads those, and every
/// instance refuses the sessions' access tokens within REVOCATION_POLL_SECONDS.
pub fn erase(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<Option<Erased>> {
    conn.transaction(|conn| {
        let exists = users::table.find(user_id).select(users::id).for_update().first::<Uuid>(conn).optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        let live: Vec<(Uuid, String)> = sessions::table
            .filter(sessions::user_id.eq(user_id).and(sessions::revoked_at.is_null()))
            .select((sessions::id, sessions::provider))
            .for_update()
            .load(conn)?;
        audit::anonymise(conn, user_id)?;
        let ended: Vec<Event<'_>> = live
            .iter()
            .map(|(sid, provider)| {
                Event::new(Kind::SessionRevoked).user(user_id).session(*sid).provider(provider).detail(audit::ERASED)
            })
            .collect();
        audit::record(conn, &ended)?;
        let sessions = diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
        let identities = diesel::delete(identities::table.filter(identities::user_id.eq(user_id))).execute(conn)?;
        diesel::delete(users::table.find(user_id)).execute(conn)?;
        let detail = format!("by an operator; {identities} identity(ies) and {sessions} session(s) erased");
        audit::record(conn, &[Event::new(Kind::UserDeleted).user(user_id).detail(&detail)])?;
        Ok(Some(Erased { identities, sessions }))
    })
}
