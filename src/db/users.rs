//! The `users` table: one row per person (account), with the profile of their latest sign-in.
//! The identities they sign in with are in `identities`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::users;

/// A stored account.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, serde::Serialize)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: DateTime<Utc>,
    /// When an operator disabled the account: it cannot sign in and has no live session.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// Who signed in, as a provider vouched for it: what a sign-in writes.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    /// The provider id (PROVIDERS) it came through.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub hosted_domain: Option<String>,
    /// Of the session this sign-in opens: the provider's session id and the ID token.
    pub provider_session: Option<String>,
    pub id_token: Option<String>,
}
