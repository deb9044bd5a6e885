//! `AppState`: what every handler may need, built once at start-up and shared by the workers.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::PgPool;
use crate::metrics::Metrics;
use crate::providers::Providers;
use crate::revocation::RevokedSessions;
use crate::tokens::TokenKeys;

/// One `web::Data<AppState>` instead of one per dependency: handlers take one extractor for
/// all of them, and each part is handed only the group of settings it needs.
pub struct AppState {
    pub settings: Settings,
    pub pool: PgPool,
    pub tokens: TokenKeys,
    pub providers: Providers,
    /// The sessions ended lately, refused by the guard.
    pub revoked: RevokedSessions,
    /// Shared with the edge middleware, which counts every response.
    pub metrics: Arc<Metrics>,
}
