//! Builds the App and the server in one place, on a listener the caller may bind to port 0.
//! The background tasks it starts are in `tasks.rs`.

mod tasks;

use std::net::TcpListener;
use std::rc::Rc;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::db;
use crate::error::chain;
use crate::http::bad_input::{bad_json, bad_query};
use crate::http::rate_limit::RateLimit;
use crate::http::{edge, Edge};
use crate::login_cookie::LoginCookieConfig;
use crate::metrics::Metrics;
use crate::providers::Providers;
use crate::revocation::RevokedSessions;
use crate::routes;
use crate::state::AppState;
use crate::tokens::TokenKeys;

/// What the clean-up deletes: RetentionSettings, and used login states once no login can be
/// that old.
pub fn retention_limits(settings: &Settings) -> crate::db::retention::Limits {
    crate::db::retention::Limits {
        sessions: settings.retention.sessions,
        audit: settings.retention.audit,
        login_states: settings.login.timeout,
    }
}

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

        tasks::spawn_retention(pool.clone(), retention_limits(&settings));
        let state = web::Data::new(AppState { settings, pool, tokens, providers, revoked, metrics: metrics.clone() });
        tasks::spawn_revocation_polling(state.clone());
        let metrics = match metrics_listener {
            None => None,
            Some(listener) => {
                let port = listener.local_addr().map_err(|e| StartupError(e.to_string()))?.port();
                Some((port, metrics_server(metrics, listener)?))
            }
        };
        tasks::spawn_provider_refresh(state.clone());
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
    let document = web::Data::new(routes::ApiDocument::new(settings.cookies));
    let server = HttpServer::new(move || {
        let parts = Rc::new(Edge { trusted: trusted.clone(), metrics: metrics.clone() });
        App::new()
            .app_data(state.clone())
            .app_data(document.clone())
            .app_data(web::QueryConfig::default().error_handler(|e, _| bad_query(e)))
            .app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(|e, _| bad_json(e)))
            .configure(|cfg| routes::configure(cfg, &limit, &login_cookie))
            .default_service(web::to(routes::not_found))
            // Without allowed origins there is nothing for CORS to answer; browsers refuse
            // cross-origin reads of responses that carry no CORS headers.
            .wrap(Condition::new(!cors_origins.is_empty(), cors(&cors_origins)))
            .wrap(from_fn(move |req, next| edge(parts.clone(), req, next)))
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
