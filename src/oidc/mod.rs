//! Sign-in with an OpenID Connect provider (Google by default) through the `openidconnect` crate:
//! the authorization request, the code exchange and the ID token's verification. Knows nothing
//! of cookies, pages or the database: it returns its own types and `OidcError`.

mod discovery;
mod identity;
mod rs256;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError};
use openidconnect::core::{CoreAuthenticationFlow, CoreIdToken};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Nonce, RedirectUrl, Scope, TokenResponse};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::ProviderSettings;
use discovery::{Discovered, ProviderCache};
pub use identity::Identity;
pub use verify::{IdTokenRules, SigningKeys};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a sign-in could not be completed. The texts are for logs, never for the page.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider is unavailable: {what}")]
    ProviderUnavailable {
        what: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("the identity provider refused the code")]
    CodeRejected(#[source] BoxError),
    #[error("the ID token is invalid")]
    InvalidIdToken(#[source] IdTokenProblem),
    #[error("the ID token has expired")]
    ExpiredIdToken,
    #[error("the authorization response names issuer {0:?}, not ours")]
    WrongIssuerInResponse(String),
}

impl OidcError {
    fn unavailable(what: &'static str, source: impl Into<BoxError>) -> Self {
        OidcError::ProviderUnavailable { what, source: source.into() }
    }
}

/// What is wrong with an ID token.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenProblem {
    #[error("the token response has no id_token")]
    Missing,
    #[error("not a JWT")]
    NotAJwt(#[source] BoxError),
    #[error("signed by a key the provider does not publish")]
    UnknownKey,
    #[error("bad RS256 signature")]
    BadSignature,
    #[error("its claims were refused")]
    Claims(#[source] openidconnect::ClaimsVerificationError),
    #[error("unexpected issuer {0:?}")]
    Issuer(String),
    #[error("authorized party {0:?} is not this client")]
    AuthorizedParty(String),
    #[error("subject is empty or longer than 255 bytes")]
    Subject,
}

/// What a login keeps secret between the authorization request and the callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginSecrets {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Where to send the browser, and the secrets to keep until it comes back.
pub struct AuthorizationRequest {
    pub url: Url,
    pub secrets: LoginSecrets,
}

/// Our side of the provider: builds authorization URLs, exchanges codes, verifies ID tokens.
pub struct OidcClient {
    cache: ProviderCache,
    rules: IdTokenRules,
    issuer: IssuerUrl,
}

impl OidcClient {
    pub fn new(provider: &ProviderSettings, redirect_url: &Url) -> Result<Self, OidcError> {
        let http = openidconnect::reqwest::Client::builder()
            // Following a redirect would let a provider response steer us at internal addresses.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(provider.http_timeout)
            .connect_timeout(provider.http_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("doorman/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OidcError::unavailable("cannot build HTTP client", e))?;
        // IssuerUrl keeps the string as given; Url adds a trailing slash to a bare host, which
        // would no longer match the `iss` the provider puts in its tokens.
        let issuer = IssuerUrl::new(provider.issuer.as_str().trim_end_matches('/').to_owned())
            .map_err(|e| OidcError::unavailable("OIDC_ISSUER is not a URL", e))?;
        let client_id = ClientId::new(provider.client_id.clone());
        let cache = ProviderCache::new(
            issuer.clone(),
            client_id.clone(),
            ClientSecret::new(provider.client_secret.expose_secret().to_owned()),
            RedirectUrl::from_url(redirect_url.clone()),
            http,
            provider.jwks_min_refresh,
        );
        let rules = IdTokenRules::new(issuer.clone(), provider.is_google(), client_id);
        Ok(OidcClient { cache, rules, issuer })
    }

    /// Fetches discovery now, so the first login does not wait for it. The caller logs a failure:
    /// it is not fatal, the first login tries again.
    pub async fn warm_up(&self) -> Result<(), OidcError> {
        self.cache.get().await.map(|_| ())
    }

    /// The provider's authorization URL with a fresh state, nonce and PKCE (S256) challenge.
    pub async fn start_login(&self) -> Result<AuthorizationRequest, OidcError> {
        let discovered = self.cache.get().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = discovered
            .client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        let secrets = LoginSecrets {
            state: state.into_secret(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.into_secret(),
        };
        Ok(AuthorizationRequest { url, secrets })
    }

    /// Checks the `iss` of an authorization response (RFC 9207). Required when the provider
    /// says it sends one; compared whenever present.
    pub async fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), OidcError> {
        match iss {
            Some(iss) if iss.trim_end_matches('/') == self.issuer.as_str().trim_end_matches('/') => Ok(()),
            Some(other) => Err(OidcError::WrongIssuerInResponse(other.to_owned())),
            None => {
                let discovered = self.cache.get().await?;
                let promised = discovered.metadata.additional_metadata().authorization_response_iss_parameter_supported;
                if promised == Some(true) {
                    Err(OidcError::WrongIssuerInResponse(String::new()))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Exchanges the code (with the PKCE verifier) and verifies the ID token against the nonce.
    pub async fn finish_login(&self, code: String, secrets: &LoginSecrets) -> Result<Identity, OidcError> {
        let discovered = self.cache.get().await?;
        let request = discovered
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::unavailable("no token endpoint", e))?
            .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.clone()));
        let response = request.request_async(self.cache.http()).await.map_err(|e| match e {
            // The provider's `error` and `error_description`; no secret of ours.
            RequestTokenError::ServerResponse(body) => OidcError::CodeRejected(body.to_string().into()),
            RequestTokenError::Request(e) => OidcError::unavailable("token request failed", e),
            other => OidcError::unavailable("token endpoint answered garbage", other),
        })?;
        let id_token = response.id_token().ok_or(OidcError::InvalidIdToken(IdTokenProblem::Missing))?;
        let nonce = Nonce::new(secrets.nonce.clone());
        self.verify(discovered, id_token, Some(&nonce)).await
    }

    /// Verifies an ID token obtained elsewhere (a single-page app posts Google's ID token).
    pub async fn verify_id_token(&self, raw: &str) -> Result<Identity, OidcError> {
        // The provider first: when it is down the client should retry, whatever it sent.
        let discovered = self.cache.get().await?;
        let id_token: CoreIdToken =
            raw.parse().map_err(|e| OidcError::InvalidIdToken(IdTokenProblem::NotAJwt(Box::new(e))))?;
        self.verify(discovered, &id_token, None).await
    }

    /// Verifies with the keys we have; a token naming a key we lack makes us fetch the keys again
    /// (the provider may have rotated them), at most as often as the cache allows.
    async fn verify(
        &self,
        discovered: Arc<Discovered>,
        id_token: &CoreIdToken,
        nonce: Option<&Nonce>,
    ) -> Result<Identity, OidcError> {
        match self.rules.verify(&discovered.keys, id_token, nonce) {
            Err(OidcError::InvalidIdToken(IdTokenProblem::UnknownKey)) => {
                match self.cache.refresh_keys(&discovered).await? {
                    Some(fresh) => self.rules.verify(&fresh.keys, id_token, nonce),
                    None => Err(OidcError::InvalidIdToken(IdTokenProblem::UnknownKey)),
                }
            }
            other => other,
        }
    }
}
