//! Sign-in with an OpenID Connect provider (Google by default) through the `openidconnect` crate.

mod identity;
mod provider;
mod rs256;

use std::sync::Arc;
use std::time::Duration;

use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError};
use openidconnect::core::{CoreAuthenticationFlow, CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Nonce, RedirectUrl, Scope, TokenResponse};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::login_session::PendingLogin;
pub use identity::Identity;
use provider::{Discovered, ProviderCache};

/// Tokens a few seconds past `exp` are still accepted: clocks differ between us and the provider.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Why a sign-in could not be completed. The strings are for logs, never for the page.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider is unavailable: {0}")]
    ProviderUnavailable(String),
    #[error("the identity provider refused the code: {0}")]
    CodeRejected(String),
    #[error("the ID token is invalid: {0}")]
    InvalidIdToken(String),
    #[error("the ID token has expired")]
    ExpiredIdToken,
    #[error("the authorization response names issuer {0:?}, not ours")]
    WrongIssuerInResponse(String),
}

/// Formats an error with its causes, for logs.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Our side of the provider: builds authorization URLs, exchanges codes, verifies ID tokens.
pub struct OidcClient {
    cache: ProviderCache,
    issuer: IssuerUrl,
    accepted_issuers: Vec<String>,
    client_id: ClientId,
}

impl OidcClient {
    pub fn new(settings: &Settings) -> Result<Self, OidcError> {
        let http = openidconnect::reqwest::Client::builder()
            // Following a redirect would let a provider response steer us at internal addresses.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(settings.http_timeout)
            .connect_timeout(settings.http_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("doorman/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OidcError::ProviderUnavailable(format!("cannot build HTTP client: {e}")))?;
        // IssuerUrl keeps the string as given; Url adds a trailing slash to a bare host, which
        // would no longer match the `iss` the provider puts in its tokens.
        let issuer_str = settings.issuer.as_str().trim_end_matches('/').to_owned();
        let issuer = IssuerUrl::new(issuer_str.clone()).map_err(|e| OidcError::ProviderUnavailable(e.to_string()))?;
        let mut accepted_issuers = vec![issuer_str];
        if settings.issuer_is_google() {
            // Google documents both spellings of its issuer in ID tokens.
            accepted_issuers.push("accounts.google.com".to_owned());
        }
        let client_id = ClientId::new(settings.client_id.clone());
        let redirect = RedirectUrl::from_url(settings.redirect_url.clone());
        let cache = ProviderCache::new(
            issuer.clone(),
            client_id.clone(),
            ClientSecret::new(settings.client_secret.expose_secret().to_owned()),
            redirect,
            http,
            settings.jwks_min_refresh,
        );
        Ok(OidcClient { cache, issuer, accepted_issuers, client_id })
    }

    /// Fetches discovery now, so the first login does not wait for it. Failure is not fatal.
    pub async fn warm_up(&self) {
        if let Err(e) = self.cache.get().await {
            log::warn!("{e}; will try again at the first login");
        }
    }

    /// The provider's authorization URL with a fresh state, nonce and PKCE (S256) challenge.
    pub async fn start_login(&self) -> Result<(url::Url, PendingLogin), OidcError> {
        let discovered = self.cache.get().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = discovered
            .client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = PendingLogin::new(state.into_secret(), nonce.secret().clone(), verifier.into_secret());
        Ok((url, pending))
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
    pub async fn finish_login(&self, code: String, pending: &PendingLogin) -> Result<Identity, OidcError> {
        let discovered = self.cache.get().await?;
        let request = discovered
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::ProviderUnavailable(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        let response = request.request_async(self.cache.http()).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(body) => OidcError::CodeRejected(body.to_string()),
            RequestTokenError::Request(e) => {
                OidcError::ProviderUnavailable(format!("token request failed: {}", chain(&e)))
            }
            other => OidcError::ProviderUnavailable(format!("token endpoint answered garbage: {}", chain(&other))),
        })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::InvalidIdToken("the token response has no id_token".to_owned()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        self.verify(discovered, id_token, Some(&nonce)).await
    }

    /// Verifies an ID token obtained elsewhere (a single-page app posts Google's ID token).
    pub async fn verify_id_token(&self, raw: &str) -> Result<Identity, OidcError> {
        // The provider first: when it is down the client should retry, whatever it sent.
        let discovered = self.cache.get().await?;
        let id_token: CoreIdToken = raw.parse().map_err(|e| OidcError::InvalidIdToken(format!("not a JWT: {e}")))?;
        self.verify(discovered, &id_token, None).await
    }

    async fn verify(
        &self,
        discovered: Arc<Discovered>,
        id_token: &CoreIdToken,
        nonce: Option<&Nonce>,
    ) -> Result<Identity, OidcError> {
        match self.verify_with(&discovered, id_token, nonce) {
            Err(identity::Rejection::UnknownKey) => match self.cache.refresh_keys(&discovered).await? {
                Some(fresh) => self.verify_with(&fresh, id_token, nonce).map_err(identity::Rejection::into_error),
                None => Err(identity::Rejection::UnknownKey.into_error()),
            },
            other => other.map_err(identity::Rejection::into_error),
        }
    }

    fn verify_with(
        &self,
        discovered: &Discovered,
        id_token: &CoreIdToken,
        nonce: Option<&Nonce>,
    ) -> Result<Identity, identity::Rejection> {
        let raw = id_token.to_string();
        // A public-client verifier: the client secret is never accepted as an HMAC key.
        let mut verifier = CoreIdTokenVerifier::new_public_client(
            self.client_id.clone(),
            self.issuer.clone(),
            discovered.keys().clone(),
        )
        .set_allowed_algs(discovered.allowed_algs.iter().cloned())
        // Issuer spellings are checked below, against the list Google documents.
        .require_issuer_match(false)
        .set_time_fn(|| chrono::Utc::now() - CLOCK_SKEW);
        let rs256_allowed = discovered.allowed_algs.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
        match rs256::check(&raw, &discovered.rsa_keys) {
            rs256::Check::NotRs256 => {}
            _ if !rs256_allowed => {}
            // The signature is settled here; openidconnect checks the claims.
            rs256::Check::Verified => verifier = verifier.insecure_disable_signature_check(),
            rs256::Check::UnknownKey => return Err(identity::Rejection::UnknownKey),
            rs256::Check::BadSignature => return Err(identity::Rejection::Invalid("bad RS256 signature".into())),
        }
        identity::verified(id_token, &raw, &verifier, nonce, &self.accepted_issuers, &self.client_id)
    }
}
