//! A fixed-text `sql_query` that diesel prepares once per connection. diesel never caches a
//! `sql_query` (it cannot know the text is fixed), so PostgreSQL parses, analyses and plans it
//! at every execution; for the sign-in statement, a ~3 KB CTE run at every login, that was most
//! of PostgreSQL's CPU per login. diesel has no public way to say "this text is fixed": the
//! override below is of `QueryFragment::is_safe_to_cache_prepared`, which diesel documents under
//! its `i-implement-a-third-party-backend-and-opt-into-breaking-changes` feature (turned on in
//! Cargo.toml for exactly this, so a diesel release that changes it fails the build).
//!
//! Only for statements whose text is a constant: diesel then keeps one prepared statement per
//! text and connection. Its result columns must be named, not `*`: a prepared statement whose
//! result row changes shape (a migration adding a column) fails until the connection is
//! replaced, where named columns are simply planned again.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Untyped;
use diesel::{PgConnection, QueryResult, RunQueryDsl};

/// `sql_query(TEXT).bind(..)...` wrapped: the same statement, prepared and cached.
pub struct Prepared<Q>(pub Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: diesel keys the cache by the statement's text and bind types.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Prepared<Q> {
    type SqlType = Untyped;
}

impl<Q> RunQueryDsl<PgConnection> for Prepared<Q> {}
