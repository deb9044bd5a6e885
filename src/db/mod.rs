//! PostgreSQL through diesel and an r2d2 pool; every query runs on actix's blocking threads.
//! Query functions take `&mut PgConnection` and their own input types; failures are `DbError`.

pub mod accounts;
pub mod audit;
pub mod identities;
pub mod issued_tokens;
pub mod prepared;
pub mod provider_sessions;
pub mod retention;
pub mod sign_in;
pub mod users;

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError, QueryResult};
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::config::DatabaseSettings;

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgConn = PooledConnection<ConnectionManager<PgConnection>>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// How long a request waits for a free connection before it is told the database is unavailable.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had, or it broke: worth trying again later.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("a database query failed")]
    Query(#[source] DieselError),
    #[error("a blocking database task failed")]
    Blocking(#[source] actix_web::error::BlockingError),
}

impl From<DieselError> for DbError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => DbError::Unavailable(Box::new(e)),
            other => DbError::Query(other),
        }
    }
}

/// Builds the pool without connecting, so the server can start and report readiness honestly.
pub fn pool(settings: &DatabaseSettings) -> PgPool {
    let manager = ConnectionManager::<PgConnection>::new(settings.url.expose_secret());
    Pool::builder()
        .max_size(settings.pool_size)
        .min_idle(Some(1))
        .connection_timeout(CHECKOUT_TIMEOUT)
        .test_on_check_out(false)
        .build_unchecked(manager)
}

/// Key of the advisory lock that serialises migrations between instances starting together.
const MIGRATION_LOCK: i64 = 0x0064_6f6f_726d_616e; // "doorman" in ASCII

/// How many migrations the database still lacks.
pub fn pending_migrations(pool: &PgPool) -> Result<usize, String> {
    let mut conn = pool.get().map_err(|e| format!("cannot connect to the database: {e}"))?;
    pending_on(&mut conn)
}

/// How many migrations the database behind `conn` still lacks.
pub fn pending_on(conn: &mut PgConnection) -> Result<usize, String> {
    conn.pending_migrations(MIGRATIONS).map(|v| v.len()).map_err(|e| format!("cannot read the migrations: {e}"))
}

/// Applies the embedded migrations that this database has not seen yet. Instances starting at
/// the same moment take turns (an advisory lock), so none fails on half-created tables.
pub fn migrate(pool: &PgPool) -> Result<usize, String> {
    let mut conn = pool.get().map_err(|e| format!("cannot connect to the database: {e}"))?;
    let lock = |conn: &mut PgConn, sql: &str| {
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
            .execute(conn)
            .map_err(|e| format!("cannot take the migration lock: {e}"))
    };
    lock(&mut conn, "SELECT pg_advisory_lock($1)")?;
    let applied =
        conn.run_pending_migrations(MIGRATIONS).map(|v| v.len()).map_err(|e| format!("migrations failed: {e}"));
    lock(&mut conn, "SELECT pg_advisory_unlock($1)")?;
    applied
}

/// Runs blocking diesel work on actix's thread pool with a connection from the pool.
pub async fn run<T, F>(pool: &PgPool, work: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce(&mut PgConnection) -> QueryResult<T> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(|e| DbError::Unavailable(Box::new(e)))?;
        work(&mut conn).map_err(DbError::from)
    })
    .await
    .map_err(DbError::Blocking)?
}

/// True when the database answers a trivial query.
pub async fn is_ready(pool: &PgPool) -> bool {
    run(pool, |conn| diesel::sql_query("SELECT 1").execute(conn)).await.is_ok()
}

/// What is stored of a secret value (a refresh token's jti, a used login state): its SHA-256.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}
