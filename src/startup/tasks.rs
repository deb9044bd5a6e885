//! The background tasks of a running instance: clean-ups, revocation polling, and the refresh
//! of the OpenID providers' discovery and keys.

use std::time::Duration;

use actix_web::web;

use crate::db::{self, login_states, provider_sessions};
use crate::error::chain;
use crate::state::AppState;

/// How often consumed login states older than the login timeout are deleted.
const STATE_CLEANUP_INTERVAL: Duration = Duration::from_secs(600);
/// How soon a failed background refresh of the provider's discovery and keys is tried again.
const PROVIDER_RETRY: Duration = Duration::from_secs(60);

pub(super) fn spawn_state_cleanup(pool: db::PgPool, max_age: Duration) {
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
