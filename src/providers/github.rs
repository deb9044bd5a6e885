//! Kind `github`: GitHub's OAuth app web flow ("Authorizing OAuth apps") and its REST API.
//! GitHub has no ID tokens, so who signed in is what `GET /user` and `GET /user/emails` say
//! with the access token of this sign-in, fetched straight after the code exchange over TLS.
//! The subject is GitHub's numeric user id (the login can be renamed and then taken by someone
//! else); the email is the primary address if GitHub has verified it, else none.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::SignInProvider;
use crate::config::ProviderSettings;
use crate::oidc::{http_client, AuthorizationRequest, Identity, LoginSecrets, OidcClient, OidcError};

const MAX_FIELD_LEN: usize = 2048;
/// Bigger answers are not GitHub's (a user with hundreds of addresses is still far below).
const MAX_BODY: usize = 256 * 1024;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub(super) struct GitHub {
    client: Client,
    http: openidconnect::reqwest::Client,
    /// `{api}/user`, `{api}/user/emails`.
    user_url: String,
    emails_url: String,
    issuer: String,
}

pub(super) fn build(
    settings: &ProviderSettings,
    auth_url: &Url,
    token_url: &Url,
    api_url: &Url,
) -> Result<GitHub, OidcError> {
    let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_client_secret(ClientSecret::new(settings.client_secret.expose_secret().to_owned()))
        .set_auth_uri(AuthUrl::from_url(auth_url.clone()))
        .set_token_uri(TokenUrl::from_url(token_url.clone()))
        .set_redirect_uri(RedirectUrl::from_url(settings.redirect_url.clone()))
        // GitHub documents the client credentials as form parameters.
        .set_auth_type(AuthType::RequestBody);
    let api = api_url.as_str().trim_end_matches('/');
    Ok(GitHub {
        client,
        http: http_client(settings.http_timeout)?,
        user_url: format!("{api}/user"),
        emails_url: format!("{api}/user/emails"),
        issuer: settings.issuer(),
    })
}

/// `GET /user`: the fields we use.
#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    name: Option<String>,
    avatar_url: Option<String>,
}

/// One entry of `GET /user/emails`.
#[derive(Deserialize)]
struct Email {
    email: String,
    primary: bool,
    verified: bool,
}

impl GitHub {
    async fn start(&self) -> Result<AuthorizationRequest, OidcError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("read:user".to_owned()))
            .add_scope(Scope::new("user:email".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        // No ID token, so no nonce: the state and the PKCE verifier bind the response.
        let secrets =
            LoginSecrets { state: state.into_secret(), nonce: String::new(), pkce_verifier: verifier.into_secret() };
        Ok(AuthorizationRequest { url, secrets })
    }

    async fn finish(&self, code: String, secrets: &LoginSecrets) -> Result<Identity, OidcError> {
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(exchange_error)?;
        let access = token.access_token().secret();
        let user: User = self.get(&self.user_url, access).await?;
        let emails: Vec<Email> = self.get(&self.emails_url, access).await?;
        let email = emails
            .into_iter()
            .find(|e| e.primary && e.verified)
            .map(|e| e.email)
            .filter(|e| e.contains('@') && e.len() <= MAX_FIELD_LEN);
        let bounded = |v: Option<String>| v.filter(|v| !v.is_empty() && v.len() <= MAX_FIELD_LEN);
        Ok(Identity {
            issuer: self.issuer.clone(),
            subject: user.id.to_string(),
            email_verified: email.is_some(),
            email,
            name: bounded(user.name).or(bounded(Some(user.login))),
            picture: bounded(user.avatar_url),
            access_token_hash: None,
            hosted_domain: None,
            missing: Default::default(),
            provider_session: None,
            id_token: None,
        })
    }

    /// A REST call with the user's token, as GitHub's documentation asks for it.
    async fn get<T: DeserializeOwned>(&self, url: &str, access_token: &str) -> Result<T, OidcError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
            .await
            .map_err(|e| OidcError::unavailable("GitHub's API failed", e))?;
        let status = response.status();
        if status.is_client_error() {
            return Err(OidcError::UserInfoRefused(format!("{url} answered {status}").into()));
        }
        if !status.is_success() {
            return Err(OidcError::unavailable("GitHub's API failed", format!("{url} answered {status}")));
        }
        let body = response.bytes().await.map_err(|e| OidcError::unavailable("GitHub's API failed", e))?;
        if body.len() > MAX_BODY {
            return Err(OidcError::InvalidUserInfo(format!("{url} answered {} bytes", body.len()).into()));
        }
        serde_json::from_slice(&body).map_err(|e| OidcError::InvalidUserInfo(Box::new(e)))
    }
}

/// GitHub refuses a code with 200 and `{"error": …}`, which the oauth2 crate finds is no
/// token response; anything else that is not a token (a 5xx page, an empty answer) means
/// GitHub is not working.
fn exchange_error<E: std::error::Error + Send + Sync + 'static>(
    e: RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> OidcError {
    match e {
        RequestTokenError::ServerResponse(refusal) => OidcError::CodeRejected(refusal.to_string().into()),
        RequestTokenError::Parse(_, body)
            if serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.get("error").is_some()) =>
        {
            let refusal = String::from_utf8_lossy(&body).chars().take(200).collect::<String>();
            OidcError::CodeRejected(refusal.into())
        }
        other => OidcError::unavailable("GitHub's token endpoint failed", other),
    }
}

impl SignInProvider for GitHub {
    fn start_login(&self) -> BoxFuture<'_, Result<AuthorizationRequest, OidcError>> {
        self.start().boxed()
    }

    /// GitHub does not send RFC 9207's `iss`; one that arrives must be GitHub's.
    fn check_response_issuer<'a>(&'a self, iss: Option<&'a str>) -> BoxFuture<'a, Result<(), OidcError>> {
        let result = match iss {
            Some(iss) if iss.trim_end_matches('/') != self.issuer => {
                Err(OidcError::WrongIssuerInResponse(iss.to_owned()))
            }
            _ => Ok(()),
        };
        futures_util::future::ready(result).boxed()
    }

    fn finish_login<'a>(
        &'a self,
        code: String,
        secrets: &'a LoginSecrets,
    ) -> BoxFuture<'a, Result<Identity, OidcError>> {
        self.finish(code, secrets).boxed()
    }

    fn authorization_origin(&self) -> BoxFuture<'_, Option<String>> {
        futures_util::future::ready(Some(self.client.auth_uri().url().origin().ascii_serialization())).boxed()
    }

    fn openid(&self) -> Option<&OidcClient> {
        None
    }
}
