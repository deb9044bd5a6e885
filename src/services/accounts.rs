//! The sign-in methods of an account: listing them, connecting another provider's identity to
//! the signed-in account, and disconnecting one (never the last). Every link and unlink is
//! logged.

use uuid::Uuid;

use super::sign_in::stored;
use crate::db::identities::{self, Connected, Disconnected, IdentityRow};
use crate::db::issued_tokens::Device;
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::oidc::Identity;
use crate::providers::Provider;

/// The account's identities, oldest first.
pub async fn identities(pool: &PgPool, user_id: Uuid) -> Result<Vec<IdentityRow>, AppError> {
    Ok(db::run(pool, move |conn| identities::of_user(conn, user_id)).await?)
}

/// Why an identity could not be connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("this sign-in already belongs to another account")]
    OtherAccount,
    #[error("this sign-in response was already used")]
    StateUsed,
}

/// Connects `identity` (just verified by `provider`) to account `user_id`.
pub async fn connect(
    pool: &PgPool,
    user_id: Uuid,
    provider: &Provider,
    identity: Identity,
    state: String,
    device: Device,
) -> Result<Result<Uuid, ConnectError>, AppError> {
    let new = stored(provider, identity);
    let outcome = db::run(pool, move |conn| identities::connect(conn, user_id, &new, &state, &device)).await?;
    Ok(match outcome {
        Connected::Added(id) => {
            log::info!("account {user_id}: identity {id} of provider {} connected", provider.id());
            Ok(id)
        }
        Connected::AlreadyThis(id) => Ok(id),
        Connected::OtherAccount => {
            log::warn!(
                "account {user_id}: connecting a provider {} identity refused, it belongs to another account",
                provider.id()
            );
            Err(ConnectError::OtherAccount)
        }
        Connected::StateUsed => Err(ConnectError::StateUsed),
    })
}

/// Why an identity could not be disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisconnectError {
    #[error("this is the account's last way to sign in; connect another one first")]
    Last,
    #[error("no such sign-in method on this account")]
    NotFound,
}

/// Disconnects one of the account's identities and ends the sessions it signed in.
pub async fn disconnect(
    pool: &PgPool,
    user_id: Uuid,
    identity_id: Uuid,
    device: Device,
) -> Result<Result<IdentityRow, DisconnectError>, AppError> {
    let outcome = db::run(pool, move |conn| identities::disconnect(conn, user_id, identity_id, &device)).await?;
    Ok(match outcome {
        Disconnected::Removed { identity, sessions_ended } => {
            log::info!(
                "account {user_id}: identity {identity_id} of provider {} disconnected; {sessions_ended} session(s) it signed in ended",
                identity.provider
            );
            Ok(identity)
        }
        Disconnected::Last => Err(DisconnectError::Last),
        Disconnected::NotFound => Err(DisconnectError::NotFound),
    })
}
