//! UserInfo (OIDC Core §5.3): the profile claims a provider keeps out of its ID tokens, asked
//! for with the access token of the same sign-in. openidconnect checks that the answer's `sub`
//! is the ID token's (§5.3.4), and verifies a signed (`application/jwt`) answer with the
//! provider's keys, issuer and our client id.

use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{AccessToken, ClaimsVerificationError, SubjectIdentifier, UserInfoError};

use super::discovery::Discovered;
use super::OidcError;

/// True when the provider has a UserInfo endpoint.
pub(super) fn offered(discovered: &Discovered) -> bool {
    discovered.metadata.userinfo_endpoint().is_some()
}

/// The provider's UserInfo answer for `subject`, with the same HTTP client (timeouts, no
/// redirects) as every other call to the provider.
pub(super) async fn fetch(
    discovered: &Discovered,
    http: &openidconnect::reqwest::Client,
    access_token: AccessToken,
    subject: &str,
) -> Result<CoreUserInfoClaims, OidcError> {
    let request = discovered
        .client
        .user_info(access_token, Some(SubjectIdentifier::new(subject.to_owned())))
        .map_err(|e| OidcError::unavailable("no userinfo endpoint", e))?;
    request.request_async(http).await.map_err(|e| match e {
        UserInfoError::Request(e) => OidcError::unavailable("userinfo request failed", e),
        UserInfoError::Response(status, _, why) if status.is_client_error() => {
            OidcError::UserInfoRefused(format!("{status}: {why}").into())
        }
        UserInfoError::Response(status, _, why) => {
            OidcError::unavailable("userinfo endpoint answered garbage", format!("{status}: {why}"))
        }
        UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(why)) => {
            OidcError::UserInfoMismatch(why)
        }
        UserInfoError::ClaimsVerification(other) => OidcError::InvalidUserInfo(Box::new(other)),
        // Valid JSON that is no UserInfo answer (no `sub`, wrong types) is the provider's mistake;
        // a body that is not JSON at all means it is broken.
        UserInfoError::Parse(e) if e.inner().is_data() => OidcError::InvalidUserInfo(Box::new(e)),
        other => OidcError::unavailable("userinfo endpoint answered garbage", other),
    })
}
