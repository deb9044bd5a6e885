//! Builds the App and the server in one place, on a listener the caller may bind to port 0.

use std::net::TcpListener;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::db::{self, login_states};
use crate::errors::{bad_input, bad_json};
use crate::http::edge;
use crate::login_session::LoginSessionConfig;
use crate::oidc::OidcClient;
use crate::rate_limit::RateLimit;
use crate::routes;
use crate::tokens::{AccessSigner, TokenKeys};

/// How often consumed login states older than the login timeout are deleted.
const STATE_CLEANUP_INTERVAL: Duration = Duration::from_secs(600);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(String);

/// A built server, ready to run.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds BIND_ADDR and builds the server.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(settings.bind_addr)
            .map_err(|e| StartupError(format!("cannot listen on BIND_ADDR {}: {e}", settings.bind_addr)))?;
        Self::build_with_listener(settings, listener).await
    }

    /// Builds the server on an already bound listener; applies migrations first.
    pub async fn build_with_listener(settings: Settings, listener: TcpListener) -> Result<Self, StartupError> {
        let port = listener.local_addr().map_err(|e| StartupError(e.to_string()))?.port();
        let pool = db::pool(&settings);
        let migrating = pool.clone();
        let applied = web::block(move || db::migrate(&migrating))
            .await
            .map_err(|e| StartupError(e.to_string()))?
            .map_err(|e| StartupError(format!("DATABASE_URL: {e}")))?;
        if applied > 0 {
            log::info!("applied {applied} database migration(s)");
        }

        let keys = token_keys(&settings)?;
        keys.self_check().map_err(|e| StartupError(format!("JWT_SECRET_KEY: cannot sign tokens: {e}")))?;
        let oidc = OidcClient::new(&settings).map_err(|e| StartupError(format!("OIDC_ISSUER: {e}")))?;
        oidc.warm_up().await;

        spawn_state_cleanup(pool.clone(), settings.login_timeout);
        let server = server(settings, listener, pool, keys, oidc)?;
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests get time to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn server(
    settings: Settings,
    listener: TcpListener,
    pool: db::PgPool,
    keys: TokenKeys,
    oidc: OidcClient,
) -> Result<Server, StartupError> {
    let login_session = LoginSessionConfig::new(&settings.secret_key, settings.login_timeout, settings.cookie_secure);
    let cors_origins = settings.cors_allowed_origins.clone();
    let trusted = std::sync::Arc::new(settings.trusted_proxies.clone());
    // Created once, outside the per-worker factory, so all workers share one budget per client.
    let limit =
        RateLimit::new(settings.rate_limit_per_second, settings.rate_limit_burst, settings.trusted_proxies.clone());
    let settings = web::Data::new(settings);
    let pool = web::Data::new(pool);
    let keys = web::Data::new(keys);
    let oidc = web::Data::new(oidc);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(settings.clone())
            .app_data(pool.clone())
            .app_data(keys.clone())
            .app_data(oidc.clone())
            .app_data(web::QueryConfig::default().error_handler(|e, _| bad_input(e)))
            .app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(|e, _| bad_json(e)))
            .configure(|cfg| routes::configure(cfg, &limit, &login_session))
            .default_service(web::to(routes::not_found))
            // Without allowed origins there is nothing for CORS to answer; browsers refuse
            // cross-origin reads of responses that carry no CORS headers.
            .wrap(Condition::new(!cors_origins.is_empty(), cors(&cors_origins)))
            .wrap(from_fn({
                let trusted = trusted.clone();
                move |req, next| edge(trusted.clone(), req, next)
            }))
    })
    .listen(listener)
    .map_err(|e| StartupError(format!("cannot serve: {e}")))?
    .shutdown_timeout(10)
    .run();
    Ok(server)
}

fn token_keys(settings: &Settings) -> Result<TokenKeys, StartupError> {
    let signer = match &settings.jwt_private_key_file {
        None => None,
        Some(path) => Some(
            AccessSigner::from_files(path, settings.jwt_key_id.clone(), settings.jwt_previous_jwks_file.as_deref())
                .map_err(|e| StartupError(format!("configuration error: JWT_PRIVATE_KEY_FILE {e}")))?,
        ),
    };
    Ok(TokenKeys::new(&settings.jwt_secret_key, signer, settings.access_token_ttl, settings.refresh_token_ttl))
}

/// Cross-origin requests only from CORS_ALLOWED_ORIGINS, with credentials (cookies) allowed
/// for exactly those; none when the list is empty.
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "POST"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .supports_credentials()
        .max_age(600)
}

fn spawn_state_cleanup(pool: db::PgPool, max_age: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STATE_CLEANUP_INTERVAL);
        loop {
            tick.tick().await;
            let result = db::run(&pool, move |conn| Ok(login_states::forget_older_than(conn, max_age)?)).await;
            if let Err(e) = result {
                log::warn!("cleaning up consumed login states failed: {e}");
            }
        }
    });
}
