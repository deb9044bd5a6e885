//! The background tasks of a running instance: the retention clean-up, revocation polling, and the refresh
//! of the OpenID providers' discovery and keys.

use std::time::Duration;

use actix_web::web;

use crate::db::{self, retention};
use crate::error::chain;
use crate::state::AppState;

/// When the first clean-up runs after start-up, and how often after that.
const RETENTION_FIRST: Duration = Duration::from_secs(30);
const RETENTION_EVERY: Duration = Duration::from_secs(15 * 60);
/// How soon a failed background refresh of the provider's discovery and keys is tried again.
const PROVIDER_RETRY: Duration = Duration::from_secs(60);

/// Deletes what has ended long enough ago (`db::retention`) half a minute after start-up and
/// every quarter of an hour after that; an instance that finds another one sweeping skips its turn.
pub(super) fn spawn_retention(pool: db::PgPool, limits: retention::Limits) {
    tokio::spawn(async move {
        tokio::time::sleep(RETENTION_FIRST).await;
        let mut tick = tokio::time::interval(RETENTION_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match db::run(&pool, move |conn| retention::sweep(conn, limits)).await {
                Ok(Some(swept)) => log::info!(
                    "retention: deleted {} session(s), {} audit event(s), {} login state(s), {} provider session(s), \
                     {} logout token(s) in {} ms",
                    swept.sessions,
                    swept.audit_events,
                    swept.login_states,
                    swept.provider_sessions,
                    swept.logout_tokens,
                    swept.millis
                ),
                Ok(None) => log::debug!("retention: another instance is sweeping; skipped"),
                Err(e) => log::warn!("retention: the clean-up failed (trying again later): {}", chain(&e)),
            }
        }
    });
}

/// Asks PostgreSQL for newly ended sessions every REVOCATION_POLL_SECONDS. A failed poll is
/// logged once per outage and tried again at the next tick; `RevokedSessions` fails safe when
/// they keep failing.
pub(super) fn spawn_revocation_polling(state: web::Data<AppState>) {
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
pub(super) fn spawn_provider_refresh(state: web::Data<AppState>) {
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
