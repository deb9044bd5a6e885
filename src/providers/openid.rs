//! Kind `oidc`: any OpenID provider, through `oidc::OidcClient` (discovery, state, nonce, PKCE,
//! ID-token verification with key rotation, RFC 9207 `iss`, UserInfo).

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use url::Url;

use super::SignInProvider;
use crate::config::ProviderSettings;
use crate::oidc::{AuthorizationRequest, Identity, LoginSecrets, OidcClient, OidcError};

pub(super) fn build(settings: &ProviderSettings, issuer: &Url) -> Result<OidcClient, OidcError> {
    OidcClient::new(settings, issuer)
}

impl SignInProvider for OidcClient {
    fn start_login(&self) -> BoxFuture<'_, Result<AuthorizationRequest, OidcError>> {
        OidcClient::start_login(self).boxed()
    }

    fn check_response_issuer<'a>(&'a self, iss: Option<&'a str>) -> BoxFuture<'a, Result<(), OidcError>> {
        OidcClient::check_response_issuer(self, iss).boxed()
    }

    fn finish_login<'a>(
        &'a self,
        code: String,
        secrets: &'a LoginSecrets,
    ) -> BoxFuture<'a, Result<Identity, OidcError>> {
        OidcClient::finish_login(self, code, secrets).boxed()
    }

    fn authorization_origin(&self) -> BoxFuture<'_, Option<String>> {
        OidcClient::authorization_origin(self).boxed()
    }

    fn openid(&self) -> Option<&OidcClient> {
        Some(self)
    }
}
