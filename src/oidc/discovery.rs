//! The provider's discovery document and signing keys, fetched once and kept, with the keys
//! fetched again when a token names a key we do not have (the provider rotated its keys).
//!
//! The refetch rule: at most one refetch per JWKS_MIN_REFRESH_SECONDS for any token, so tokens
//! posted to the API with made-up `kid`s cannot make us hammer the provider. A token that came
//! straight from the provider's token endpoint (over TLS, for our authenticated code exchange)
//! may refetch sooner, once for each `kid` it names: a provider that rotated a moment after our
//! last fetch must not fail a genuine sign-in, and such refetches are bounded by the sign-ins
//! the provider itself completes (each needs a code it issued) and by the per-kid memory.
//!
//! Besides, a background task (`startup`) fetches discovery and keys again when
//! the JWKS's `Cache-Control: max-age` runs out (within bounds, `documents::keep_for`), so a key
//! the provider withdraws stops verifying without a restart, and no request waits for it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    ProviderMetadata, RedirectUrl,
};
use serde::{Deserialize, Serialize};

use super::documents;
use super::verify::SigningKeys;
use super::OidcError;

/// Discovery fields that openidconnect's core types leave out.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// RFC 9207: the provider adds `iss` to its authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// RP-Initiated Logout 1.0: where to send the browser to end the provider's session.
    #[serde(default)]
    pub end_session_endpoint: Option<url::Url>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The client as discovery leaves it: an authorization endpoint, maybe a token endpoint.
pub type DiscoveredClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// What discovery gave us, immutable; replaced whole when keys are fetched again.
pub struct Discovered {
    pub client: DiscoveredClient,
    pub metadata: Metadata,
    pub keys: SigningKeys,
    keys_fetched_at: Instant,
    /// How long these keys may be kept (the JWKS's max-age, bounded).
    pub keep_for: Duration,
}

/// Where a token to be verified came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The provider's own answer to our code exchange.
    TokenEndpoint,
    /// Posted to us by a client (the token API).
    Posted,
}

/// How many kids that made us refetch are remembered (then the memory starts afresh).
const KIDS_REMEMBERED: usize = 64;

/// Holds the discovered provider and fetches it when it is missing or its keys are stale.
pub struct ProviderCache {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect: RedirectUrl,
    http: openidconnect::reqwest::Client,
    min_key_refresh: Duration,
    current: RwLock<Option<Arc<Discovered>>>,
    // One fetch at a time: a burst of logins after a restart or a rotation makes one request.
    // It guards the kids that made us refetch early, too.
    fetching: tokio::sync::Mutex<Vec<String>>,
}

impl ProviderCache {
    pub fn new(
        issuer: IssuerUrl,
        client_id: ClientId,
        client_secret: ClientSecret,
        redirect: RedirectUrl,
        http: openidconnect::reqwest::Client,
        min_key_refresh: Duration,
    ) -> Self {
        ProviderCache {
            issuer,
            client_id,
            client_secret,
            redirect,
            http,
            min_key_refresh,
            current: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn http(&self) -> &openidconnect::reqwest::Client {
        &self.http
    }

    /// What discovery gave, if it has run (no fetch).
    pub fn cached(&self) -> Option<Arc<Discovered>> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn store(&self, discovered: Arc<Discovered>) {
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(discovered);
    }

    /// The discovered provider, fetching discovery (and with it the keys) when we have none yet.
    pub async fn get(&self) -> Result<Arc<Discovered>, OidcError> {
        if let Some(found) = self.cached() {
            return Ok(found);
        }
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(found) = self.cached() {
            return Ok(found);
        }
        let found = self.discover().await?;
        log::info!("discovered OpenID provider {} ({} signing keys)", self.issuer.as_str(), found.keys.len());
        Ok(found)
    }

    /// Fetches discovery and keys afresh and keeps them; how long they may be kept.
    pub async fn refresh_all(&self) -> Result<Duration, OidcError> {
        let _one_at_a_time = self.fetching.lock().await;
        Ok(self.discover().await?.keep_for)
    }

    async fn discover(&self) -> Result<Arc<Discovered>, OidcError> {
        let metadata = documents::discovery(&self.http, &self.issuer).await?;
        let (keys, max_age) = documents::keys(&self.http, metadata.jwks_uri()).await?;
        let found = Arc::new(self.discovered(metadata.set_jwks(keys), max_age));
        self.store(found.clone());
        Ok(found)
    }

    fn discovered(&self, metadata: Metadata, max_age: Option<Duration>) -> Discovered {
        let keys = SigningKeys::new(metadata.jwks().clone(), metadata.id_token_signing_alg_values_supported());
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(self.redirect.clone());
        let keep_for = documents::keep_for(max_age, self.min_key_refresh);
        Discovered { client, metadata, keys, keys_fetched_at: Instant::now(), keep_for }
    }

    /// Fetches the provider's keys again after a token named a key we lack (see the refetch
    /// rule above). Returns `None` when the rule allows no fetch now.
    pub async fn refresh_keys(
        &self,
        stale: &Arc<Discovered>,
        source: Source,
        kid: Option<&str>,
    ) -> Result<Option<Arc<Discovered>>, OidcError> {
        let mut early_kids = self.fetching.lock().await;
        let current = self.cached().unwrap_or_else(|| stale.clone());
        if !Arc::ptr_eq(&current, stale) {
            return Ok(Some(current));
        }
        let due = current.keys_fetched_at.elapsed() >= self.min_key_refresh;
        let early = match (source, kid) {
            (Source::TokenEndpoint, Some(kid)) if !due && !early_kids.iter().any(|k| k == kid) => {
                if early_kids.len() >= KIDS_REMEMBERED {
                    early_kids.clear();
                }
                early_kids.push(kid.to_owned());
                true
            }
            _ => false,
        };
        if !(due || early) {
            return Ok(None);
        }
        let (keys, max_age) = documents::keys(&self.http, current.metadata.jwks_uri()).await?;
        log::info!("fetched the provider's signing keys again ({} keys)", keys.keys().len());
        let fresh = Arc::new(self.discovered(current.metadata.clone().set_jwks(keys), max_age));
        self.store(fresh.clone());
        Ok(Some(fresh))
    }
}
