//! The sign-in providers of this instance, each kind one implementation of `SignInProvider`:
//! `openid.rs` (any OpenID provider, Google included) and `github.rs`. Adding a kind is one file
//! and one line in `Providers::build`. Knows nothing of cookies, pages or the database.

mod github;
mod openid;

use futures_util::future::BoxFuture;

use crate::config::{ProviderId, ProviderKind, ProviderSettings};
use crate::oidc::{AuthorizationRequest, Identity, LoginSecrets, OidcClient, OidcError};

/// What every kind of provider does for a browser sign-in. The futures are boxed so the
/// providers of one instance can sit in one list whatever their kind.
pub trait SignInProvider: Send + Sync {
    /// The authorization URL with fresh secrets (state, PKCE verifier, and a nonce where the
    /// kind has ID tokens).
    fn start_login(&self) -> BoxFuture<'_, Result<AuthorizationRequest, OidcError>>;

    /// Checks the `iss` of an authorization response (RFC 9207) where the kind has one.
    fn check_response_issuer<'a>(&'a self, iss: Option<&'a str>) -> BoxFuture<'a, Result<(), OidcError>>;

    /// Exchanges the code and says who signed in.
    fn finish_login<'a>(
        &'a self,
        code: String,
        secrets: &'a LoginSecrets,
    ) -> BoxFuture<'a, Result<Identity, OidcError>>;

    /// The origin of the authorization endpoint (where a sign-in sends the browser), if known.
    fn authorization_origin(&self) -> BoxFuture<'_, Option<String>>;

    /// The OpenID client, for ID tokens that apps post to the API; `None` for kinds without
    /// ID tokens.
    fn openid(&self) -> Option<&OidcClient> {
        None
    }
}

/// One configured provider: its settings and its client.
pub struct Provider {
    pub settings: ProviderSettings,
    /// The issuer its identities are stored under.
    pub issuer: String,
    pub client: Box<dyn SignInProvider>,
}

impl Provider {
    pub fn id(&self) -> &ProviderId {
        &self.settings.id
    }
}

/// Why a provider could not be set up (a bad URL in its settings).
#[derive(Debug, thiserror::Error)]
#[error("{var}: {source}")]
pub struct BuildError {
    pub var: String,
    #[source]
    pub source: OidcError,
}

/// The providers, in PROVIDERS order; never empty.
pub struct Providers(Vec<Provider>);

impl Providers {
    /// The registry: one line per kind.
    pub fn build(settings: &[ProviderSettings]) -> Result<Self, BuildError> {
        let providers = settings
            .iter()
            .map(|s| {
                let client = match &s.kind {
                    ProviderKind::Oidc { issuer } => openid::build(s, issuer).map(boxed),
                    ProviderKind::GitHub { auth_url, token_url, api_url } => {
                        github::build(s, auth_url, token_url, api_url).map(boxed)
                    }
                }
                .map_err(|source| BuildError { var: s.issuer_var.clone(), source })?;
                Ok(Provider { settings: s.clone(), issuer: s.issuer(), client })
            })
            .collect::<Result<Vec<_>, BuildError>>()?;
        Ok(Providers(providers))
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.0.iter().find(|p| p.settings.id.as_str() == id)
    }

    /// The first provider of PROVIDERS, whose callback is REDIRECT_URL (`/auth`).
    pub fn first(&self) -> &Provider {
        &self.0[0]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Provider> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The OpenID clients, for the background refresh of their discovery and keys.
    pub fn openid_clients(&self) -> impl Iterator<Item = (&ProviderId, &OidcClient)> {
        self.0.iter().filter_map(|p| p.client.openid().map(|c| (&p.settings.id, c)))
    }
}

fn boxed(client: impl SignInProvider + 'static) -> Box<dyn SignInProvider> {
    Box::new(client)
}
