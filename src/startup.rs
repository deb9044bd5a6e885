//! Builds the App and the server in one place, on a listener the caller may bind to port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::db::{self, login_states, provider_sessions};
use crate::error::chain;
use crate::http::bad_input::{bad_json, bad_query};
use crate::http::edge;
use crate::http::rate_limit::RateLimit;
use crate::login_cookie::LoginCookieConfig;
use crate::metrics::Metrics;
use crate::providers::Providers;
use crate::revocation::RevokedSessions;
use crate::routes;
use crate::state::AppState;
use crate::tokens::TokenKeys;

/// How often consumed login states older than the login timeout are deleted.
const STATE_CLEANUP_INTERVAL: Duration = Duration::from_secs(600);
/// How soon a failed background refresh of the provider's discovery and keys is tried again.
const PROVIDER_RETRY: Duration = Duration::from_secs(60);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(String);

/// A built server, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    /// The metrics listener's port and server, with METRICS_BIND_ADDR.
    metrics: Option<(u16, Server)>,
}

impl Application {
    /// Binds BIND_ADDR and builds the server.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let bind = settings.server.bind_addr;
        let listener =
            TcpListener::bind(bind).map_err(|e| StartupError(format!("cannot listen on BIND_ADDR {bind}: {e}")))?;
        Self::build_with_listener(settings, listener).await
    }

    /// Builds the server on an already bound listener; applies migrations first.
    pub async fn build_with_listener(settings: Settings, listener: TcpListener) -> Result<Self, StartupError> {
        let port = listener.local_addr().map_err(|e| StartupError(e.to_string()))?.port();
        let pool = db::pool(&settings.database);
        let migrating = pool.clone();
        let applied = web::block(move || db::migrate(&migrating))
            .await
            .map_err(|e| StartupError(e.to_string()))?
            .map_err(|e| StartupError(format!("DATABASE_URL: {e}")))?;
        if applied > 0 {
            log::info!("applied {applied} database migration(s)");
        }

        let tokens =
            TokenKeys::from_settings(&settings.tokens, &settings.login.secret_key, &settings.site.public_origin)
                .map_err(|e| StartupError(format!("configuration error: {e}")))?;
        tokens.self_check().map_err(|e| StartupError(format!("JWT_SECRET_KEY: cannot sign tokens: {e}")))?;
        let providers = Providers::build(&settings.providers).map_err(|e| StartupError(chain(&e)))?;
        // A provider that is down now does not stop the others (or the start): its first login
        // fetches discovery again.
        let warming = providers.openid_clients().map(|(id, client)| async move {
            if let Err(e) = client.warm_up().await {
                log::warn!("provider {id}: {}; will try again at its first login", chain(&e));
            }
        });
        futures_util::future::join_all(warming).await;

        let t = &settings.tokens;
        let revoked = RevokedSessions::new(t.access_ttl + t.leeway, t.revocation_poll);
        revoked.poll(&pool).await.map_err(|e| StartupError(format!("DATABASE_URL: {}", chain(&e))))?;

        let metrics_listener = match settings.server.metrics_bind_addr {
            None => None,
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .map_err(|e| StartupError(format!("cannot listen on METRICS_BIND_ADDR {addr}: {e}")))?,
            ),
        };
        let metrics = match metrics_listener {
            None => Metrics::disabled(),
            Some(_) => {
                let ids: Vec<&str> = settings.providers.iter().map(|p| p.id.as_str()).collect();
                Metrics::enabled(&ids).map_err(|e| StartupError(format!("metrics: {e}")))?
            }
        };
        let metrics = Arc::new(metrics);

        spawn_state_cleanup(pool.clone(), settings.login.timeout);
        let state = web::Data::new(AppState { settings, pool, tokens, providers, revoked, metrics: metrics.clone() });
        spawn_revocation_polling(state.clone());
        let metrics = match metrics_listener {
            None => None,
            Some(listener) => {
                let port = listener.local_addr().map_err(|e| StartupError(e.to_string()))?.port();
                Some((port, metrics_server(metrics, listener)?))
            }
        };
        spawn_provider_refresh(state.clone());
        let server = server(state, listener)?;
        Ok(Application { port, server, metrics })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when METRICS_BIND_ADDR is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests get time to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.metrics {
            None => self.server.await,
            Some((_, metrics)) => futures_util::future::try_join(self.server, metrics).await.map(|_| ()),
        }
    }
}

fn server(state: web::Data<AppState>, listener: TcpListener) -> Result<Server, StartupError> {
    let settings = &state.settings;
    let login_cookie = LoginCookieConfig::new(&settings.login, settings.cookies);
    let cors_origins = settings.server.cors_allowed_origins.clone();
    let trusted = settings.server.trusted_proxies.clone();
    let metrics = state.metrics.clone();
    // Created once, outside the per-worker factory, so all workers share one budget per client.
    let limit = RateLimit::new(settings.limits, trusted.clone());
    limit.spawn_pruning();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::QueryConfig::default().error_handler(|e, _| bad_query(e)))
            .app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(|e, _| bad_json(e)))
            .configure(|cfg| routes::configure(cfg, &limit, &login_cookie))
            .default_service(web::to(routes::not_found))
            // Without allowed origins there is nothing for CORS to answer; browsers refuse
            // cross-origin reads of responses that carry no CORS headers.
            .wrap(Condition::new(!cors_origins.is_empty(), cors(&cors_origins)))
            .wrap(from_fn({
                let (trusted, metrics) = (trusted.clone(), metrics.clone());
                move |req, next| edge(trusted.clone(), metrics.clone(), req, next)
            }))
    })
    .listen(listener)
    .map_err(|e| StartupError(format!("cannot serve: {e}")))?
    .shutdown_timeout(10)
    .run();
    Ok(server)
}

/// The metrics listener: `GET /metrics` and nothing else, on a port of its own.
fn metrics_server(metrics: Arc<Metrics>, listener: TcpListener) -> Result<Server, StartupError> {
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let metrics = metrics.clone();
                async move {
                    match metrics.render() {
                        Ok(text) => actix_web::HttpResponse::Ok().content_type(prometheus::TEXT_FORMAT).body(text),
                        Err(e) => actix_web::HttpResponse::InternalServerError().body(e.to_string()),
                    }
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .map_err(|e| StartupError(format!("cannot serve metrics: {e}")))?
    .shutdown_timeout(1)
    .run();
    Ok(server)
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
            if let Err(e) = db::run(&pool, move |conn| login_states::forget_older_than(conn, max_age)).await {
                log::warn!("cleaning up consumed login states failed: {}", chain(&e));
            }
            if let Err(e) = db::run(&pool, provider_sessions::forget_ended).await {
                log::warn!("cleaning up the provider data of ended sessions failed: {}", chain(&e));
            }
        }
    });
}

/// Asks PostgreSQL for newly ended sessions every REVOCATION_POLL_SECONDS. A failed poll is
/// logged once per outage and tried again at the next tick; `RevokedSessions` fails safe when
/// they keep failing.
fn spawn_revocation_polling(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.revoked.poll_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match state.revoked.poll(&state.pool).await {
                Ok(_) if failing => {
                    log::info!("revocation polling works again");
                    failing = false;
                }
                Ok(_) => {}
                Err(e) if !failing => {
                    log::warn!("polling for ended sessions failed (retrying every tick): {}", chain(&e));
                    failing = true;
                }
                Err(_) => {}
            }
        }
    });
}

/// Fetches each OpenID provider's discovery and keys again whenever their lifetime (the
/// JWKS's max-age, bounded) runs out, so a withdrawn key stops verifying without a restart. A
/// failed fetch keeps what we have and is tried again within a minute; one task per provider,
/// so one that is down delays no other.
fn spawn_provider_refresh(state: web::Data<AppState>) {
    let ids: Vec<String> = state.providers.openid_clients().map(|(id, _)| id.to_string()).collect();
    for id in ids {
        let state = state.clone();
        tokio::spawn(async move {
            let Some(client) = state.providers.get(&id).and_then(|p| p.client.openid()) else { return };
            let mut wait = client.keys_keep_for().await.unwrap_or(PROVIDER_RETRY);
            loop {
                tokio::time::sleep(wait).await;
                wait = match client.refresh_provider().await {
                    Ok(keep_for) => keep_for,
                    Err(e) => {
                        log::warn!("provider {id}: refreshing discovery and keys failed (keeping ours): {}", chain(&e));
                        PROVIDER_RETRY
                    }
                };
            }
        });
    }
}
