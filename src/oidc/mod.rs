//! Sign-in with an OpenID Connect provider (Google by default) through the `openidconnect` crate:
//! the authorization request, the code exchange and the ID token's verification. Knows nothing
//! of cookies, pages or the database: it returns its own types and `OidcError`, which the other
//! kinds of provider (`providers/`) share.

mod code_exchange;
mod discovery;
mod documents;
mod identity;
mod logout;
mod rs256;
mod userinfo;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge};
use openidconnect::core::{CoreAuthenticationFlow, CoreIdToken};
use openidconnect::TokenResponse;
use openidconnect::{AccessToken, ClientId, ClientSecret, IssuerUrl, Nonce, OAuth2TokenResponse, RedirectUrl, Scope};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::ProviderSettings;
use discovery::{Discovered, ProviderCache, Source};
pub use identity::Identity;
pub use logout::{LogoutRequestClaims, LogoutTokenError};
pub use verify::{IdTokenRules, SigningKeys};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Google's issuer, as identities from Google are stored.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// Why a sign-in with a provider (of any kind) could not be completed. The texts are for logs,
/// never for the page.
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
    #[error("the token endpoint's answer is malformed")]
    MalformedTokenResponse(#[source] BoxError),
    #[error("the UserInfo answer is for another subject: {0}")]
    UserInfoMismatch(String),
    #[error("the UserInfo answer is invalid")]
    InvalidUserInfo(#[source] BoxError),
    #[error("the UserInfo endpoint refused the access token")]
    UserInfoRefused(#[source] BoxError),
}

impl OidcError {
    pub fn unavailable(what: &'static str, source: impl Into<BoxError>) -> Self {
        OidcError::ProviderUnavailable { what, source: source.into() }
    }
}

/// What is wrong with an ID token.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenProblem {
    #[error("the token response has no id_token")]
    Missing,
    #[error("not a JWT with the claims an ID token must have")]
    NotAJwt(#[source] BoxError),
    #[error("the id_token member is not a string")]
    NotAString,
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

/// The HTTP client for calls to a provider, whatever its kind.
pub fn http_client(timeout: Duration) -> Result<openidconnect::reqwest::Client, OidcError> {
    openidconnect::reqwest::Client::builder()
        // Following a redirect would let a provider response steer us at internal addresses.
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("doorman/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| OidcError::unavailable("cannot build HTTP client", e))
}

/// Our side of the provider: builds authorization URLs, exchanges codes, verifies ID tokens.
pub struct OidcClient {
    cache: ProviderCache,
    rules: IdTokenRules,
    issuer: IssuerUrl,
    client_id: ClientId,
}

impl OidcClient {
    /// A client of the OpenID provider at `issuer`, with `provider`'s client and callback.
    pub fn new(provider: &ProviderSettings, issuer: &Url) -> Result<Self, OidcError> {
        let http = http_client(provider.http_timeout)?;
        // IssuerUrl keeps the string as given; Url adds a trailing slash to a bare host, which
        // would no longer match the `iss` the provider puts in its tokens.
        let issuer = IssuerUrl::new(issuer.as_str().trim_end_matches('/').to_owned())
            .map_err(|e| OidcError::unavailable("the issuer is not a URL", e))?;
        let client_id = ClientId::new(provider.client_id.clone());
        let cache = ProviderCache::new(
            issuer.clone(),
            client_id.clone(),
            ClientSecret::new(provider.client_secret.expose_secret().to_owned()),
            RedirectUrl::from_url(provider.redirect_url.clone()),
            http,
            provider.jwks_min_refresh,
        );
        let rules = IdTokenRules::new(issuer.clone(), provider.is_google(), client_id.clone());
        Ok(OidcClient { cache, rules, issuer, client_id })
    }

    /// Fetches discovery now, so the first login does not wait for it. The caller logs a failure:
    /// it is not fatal, the first login tries again.
    pub async fn warm_up(&self) -> Result<(), OidcError> {
        self.cache.get().await.map(|_| ())
    }

    /// How many signing keys the provider publishes (discovery is fetched first if need be).
    pub async fn signing_key_count(&self) -> Result<usize, OidcError> {
        Ok(self.cache.get().await?.keys.len())
    }

    /// How long the keys we have may be kept (discovery is fetched first if need be).
    pub async fn keys_keep_for(&self) -> Result<Duration, OidcError> {
        Ok(self.cache.get().await?.keep_for)
    }

    /// Fetches discovery and keys afresh; how long the new keys may be kept. The caller runs
    /// it in the background when the last ones run out, so no request waits for it.
    pub async fn refresh_provider(&self) -> Result<Duration, OidcError> {
        self.cache.refresh_all().await
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

    /// The origin of the provider's authorization endpoint. Never fetches: a page that names it
    /// must not wait for a provider that is down. Before discovery has run, the issuer's origin
    /// (where providers serve their endpoints in practice).
    pub async fn authorization_origin(&self) -> Option<String> {
        match self.cache.cached() {
            Some(discovered) => Some(discovered.metadata.authorization_endpoint().url().origin().ascii_serialization()),
            None => Url::parse(self.issuer.as_str()).ok().map(|u| u.origin().ascii_serialization()),
        }
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

    /// Exchanges the code (with the PKCE verifier), verifies the ID token against the nonce, and
    /// fills the profile claims it lacks from UserInfo.
    pub async fn finish_login(&self, code: String, secrets: &LoginSecrets) -> Result<Identity, OidcError> {
        let discovered = self.cache.get().await?;
        let http = self.cache.http();
        let response = code_exchange::exchange(&discovered, http, code, &secrets.pkce_verifier).await?;
        let id_token = response.id_token().ok_or(OidcError::InvalidIdToken(IdTokenProblem::Missing))?;
        let nonce = Nonce::new(secrets.nonce.clone());
        // Straight from the token endpoint: a new kid here is the provider's, worth a refetch.
        let identity = self.verify(discovered.clone(), id_token, Some(&nonce), Source::TokenEndpoint).await?;
        self.complete(&discovered, identity, response.access_token().clone()).await
    }

    /// Fills what a verified ID token lacks from UserInfo with `access_token` (the token API,
    /// whose caller posts the access token beside the ID token).
    pub async fn complete_with(&self, identity: Identity, access_token: &str) -> Result<Identity, OidcError> {
        let discovered = self.cache.get().await?;
        self.complete(&discovered, identity, AccessToken::new(access_token.to_owned())).await
    }

    /// No UserInfo request when the ID token carries what we use (Google), or there is none.
    async fn complete(
        &self,
        discovered: &Discovered,
        mut identity: Identity,
        access_token: AccessToken,
    ) -> Result<Identity, OidcError> {
        if identity.missing.any() && userinfo::offered(discovered) {
            let claims = userinfo::fetch(discovered, self.cache.http(), access_token, &identity.subject).await?;
            identity.fill_from(&claims);
        }
        Ok(identity)
    }

    /// Verifies an ID token obtained elsewhere (a single-page app posts Google's ID token).
    pub async fn verify_id_token(&self, raw: &str) -> Result<Identity, OidcError> {
        // The provider first: when it is down the client should retry, whatever it sent.
        let discovered = self.cache.get().await?;
        let id_token: CoreIdToken =
            raw.parse().map_err(|e| OidcError::InvalidIdToken(IdTokenProblem::NotAJwt(Box::new(e))))?;
        self.verify(discovered, &id_token, None, Source::Posted).await
    }

    /// Verifies with the keys we have; a token naming a key we lack makes us fetch the keys again
    /// (the provider may have rotated them), as often as `ProviderCache::refresh_keys` allows.
    async fn verify(
        &self,
        discovered: Arc<Discovered>,
        id_token: &CoreIdToken,
        nonce: Option<&Nonce>,
        source: Source,
    ) -> Result<Identity, OidcError> {
        match self.rules.verify(&discovered.keys, id_token, nonce) {
            Err(OidcError::InvalidIdToken(IdTokenProblem::UnknownKey)) => {
                let kid = verify::key_id(&id_token.to_string());
                match self.cache.refresh_keys(&discovered, source, kid.as_deref()).await? {
                    Some(fresh) => self.rules.verify(&fresh.keys, id_token, nonce),
                    None => Err(OidcError::InvalidIdToken(IdTokenProblem::UnknownKey)),
                }
            }
            other => other,
        }
    }
}
