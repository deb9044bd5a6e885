//! The `users` table: one row per person per provider.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Timestamptz;
use diesel::upsert::excluded;
use uuid::Uuid;

use crate::oidc::Identity;
use crate::schema::users;

/// A stored user.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    issuer: &'a str,
    subject: &'a str,
    email: Option<&'a str>,
    email_verified: bool,
    name: Option<&'a str>,
    picture: Option<&'a str>,
}

/// Creates the user or refreshes their profile, in one statement: two simultaneous first
/// logins of one person meet at the unique (issuer, subject) constraint and make one row.
pub fn upsert(conn: &mut PgConnection, identity: &Identity) -> QueryResult<User> {
    let row = NewUser {
        issuer: &identity.issuer,
        subject: &identity.subject,
        email: identity.email.as_deref(),
        email_verified: identity.email_verified,
        name: identity.name.as_deref(),
        picture: identity.picture.as_deref(),
    };
    // updated_at moves only when the profile really changed; last_login_at at every login.
    let updated_at = sql::<Timestamptz>(
        "CASE WHEN (users.email, users.email_verified, users.name, users.picture) \
         IS DISTINCT FROM (excluded.email, excluded.email_verified, excluded.name, excluded.picture) \
         THEN now() ELSE users.updated_at END",
    );
    diesel::insert_into(users::table)
        .values(&row)
        .on_conflict((users::issuer, users::subject))
        .do_update()
        .set((
            users::email.eq(excluded(users::email)),
            users::email_verified.eq(excluded(users::email_verified)),
            users::name.eq(excluded(users::name)),
            users::picture.eq(excluded(users::picture)),
            users::updated_at.eq(updated_at),
            users::last_login_at.eq(diesel::dsl::now),
        ))
        .returning(User::as_returning())
        .get_result(conn)
}

/// Finds a user by id.
pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<User>> {
    users::table.find(id).select(User::as_select()).first(conn).optional()
}
