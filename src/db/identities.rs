//! The `identities` table: the sign-in methods connected to an account, one row per
//! (issuer, subject). First sign-ins create them (`db::sign_in`); here they are listed,
//! connected to a signed-in account and disconnected.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::audit::{self, Event, Kind};
use super::issued_tokens::{revoke_identity_sessions, Device};
use super::users::NewIdentity;
use crate::schema::{consumed_login_states, identities};

/// A stored identity.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = identities, check_for_backend(diesel::pg::Pg))]
pub struct IdentityRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub hosted_domain: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: DateTime<Utc>,
}

/// The account's identities, oldest first.
pub fn of_user(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<Vec<IdentityRow>> {
    identities::table
        .filter(identities::user_id.eq(user_id))
        .order(identities::created_at.asc())
        .select(IdentityRow::as_select())
        .load(conn)
}

/// What connecting an identity to an account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connected {
    /// It is now the account's.
    Added(Uuid),
    /// It was the account's already (its email was refreshed).
    AlreadyThis(Uuid),
    /// It belongs to another account; nothing changed.
    OtherAccount,
    /// The login state was used before (a replayed callback); nothing changed.
    StateUsed,
}

/// Connects `identity` to the account `user_id`, recording `state` as used. An identity
/// belongs to one account: one of another account is refused, not moved.
pub fn connect(
    conn: &mut PgConnection,
    user_id: Uuid,
    identity: &NewIdentity,
    state: &str,
    device: &Device,
) -> QueryResult<Connected> {
    conn.transaction(|conn| {
        let first_use = diesel::insert_into(consumed_login_states::table)
            .values(consumed_login_states::state_hash.eq(super::digest(state)))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if first_use == 0 {
            return Ok(Connected::StateUsed);
        }
        let inserted: Option<Uuid> = diesel::insert_into(identities::table)
            .values((
                identities::user_id.eq(user_id),
                identities::provider.eq(&identity.provider),
                identities::issuer.eq(&identity.issuer),
                identities::subject.eq(&identity.subject),
                identities::email.eq(&identity.email),
                identities::email_verified.eq(identity.email_verified),
                identities::hosted_domain.eq(&identity.hosted_domain),
            ))
            .on_conflict((identities::issuer, identities::subject))
            .do_nothing()
            .returning(identities::id)
            .get_result(conn)
            .optional()?;
        if let Some(id) = inserted {
            let event = Event::new(Kind::IdentityConnected).user(user_id).provider(&identity.provider).device(device);
            audit::record(conn, &[event])?;
            return Ok(Connected::Added(id));
        }
        // It exists (perhaps inserted a moment ago by another request): whose is it?
        let existing = identities::table
            .filter(identities::issuer.eq(&identity.issuer).and(identities::subject.eq(&identity.subject)))
            .select((identities::id, identities::user_id))
            .for_update()
            .first::<(Uuid, Uuid)>(conn)?;
        if existing.1 != user_id {
            return Ok(Connected::OtherAccount);
        }
        diesel::update(identities::table.find(existing.0))
            .set((
                identities::email.eq(&identity.email),
                identities::email_verified.eq(identity.email_verified),
                identities::hosted_domain.eq(&identity.hosted_domain),
            ))
            .execute(conn)?;
        Ok(Connected::AlreadyThis(existing.0))
    })
}

/// What disconnecting an identity did.
#[derive(Debug, Clone)]
pub enum Disconnected {
    /// Removed; this many sessions signed in with it were ended.
    Removed { identity: IdentityRow, sessions_ended: usize },
    /// It is the account's last way to sign in: kept.
    Last,
    /// No such identity on this account.
    NotFound,
}

/// Removes one of the account's identities and ends the sessions it signed in, unless it is
/// the last one. The account's identities are locked first, so two requests removing its last
/// two cannot both succeed.
pub fn disconnect(
    conn: &mut PgConnection,
    user_id: Uuid,
    identity_id: Uuid,
    device: &Device,
) -> QueryResult<Disconnected> {
    conn.transaction(|conn| {
        let all: Vec<IdentityRow> = identities::table
            .filter(identities::user_id.eq(user_id))
            .select(IdentityRow::as_select())
            .for_update()
            .load(conn)?;
        let Some(identity) = all.iter().find(|i| i.id == identity_id).cloned() else {
            return Ok(Disconnected::NotFound);
        };
        if all.len() == 1 {
            return Ok(Disconnected::Last);
        }
        let sessions_ended = revoke_identity_sessions(conn, identity_id, "sign-in method disconnected")?;
        diesel::delete(identities::table.find(identity_id)).execute(conn)?;
        let detail = format!("{sessions_ended} session(s) it signed in ended");
        let event = Event::new(Kind::IdentityRemoved).user(user_id).provider(&identity.provider).device(device);
        audit::record(conn, &[event.detail(&detail)])?;
        Ok(Disconnected::Removed { identity, sessions_ended })
    })
}
