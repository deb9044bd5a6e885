//! The code exchange at the token endpoint, and what an answer we cannot use means. A provider
//! that is unreachable, slow or answers something that is not JSON is down (503); one that
//! answers JSON we must refuse (no or a malformed ID token, a wrong token type) made a mistake
//! that trying again will not mend (4xx).

use oauth2::{AuthorizationCode, PkceCodeVerifier, RequestTokenError};
use openidconnect::core::{CoreIdToken, CoreTokenResponse};
use openidconnect::OAuth2TokenResponse;
use serde_json::Value;

use super::discovery::Discovered;
use super::{IdTokenProblem, OidcError};

/// Exchanges `code` (with the PKCE verifier) for the provider's tokens.
pub(super) async fn exchange(
    discovered: &Discovered,
    http: &openidconnect::reqwest::Client,
    code: String,
    pkce_verifier: &str,
) -> Result<CoreTokenResponse, OidcError> {
    let request = discovered
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| OidcError::unavailable("no token endpoint", e))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
    let response = request.request_async(http).await.map_err(|e| match e {
        // The provider's `error` and `error_description`; no secret of ours.
        RequestTokenError::ServerResponse(body) => OidcError::CodeRejected(body.to_string().into()),
        RequestTokenError::Request(e) => OidcError::unavailable("token request failed", e),
        RequestTokenError::Parse(e, body) => unparsable(e, &body),
        other => OidcError::unavailable("token endpoint answered garbage", other),
    })?;
    // OIDC Core §3.1.3.3: the access token is a bearer token; anything else is not for us.
    let token_type = response.token_type().as_ref();
    if !token_type.eq_ignore_ascii_case("bearer") {
        let why = format!("token_type is {token_type:?}, not Bearer");
        return Err(OidcError::MalformedTokenResponse(why.into()));
    }
    Ok(response)
}

/// Why openidconnect could not read a token response: the body itself says whether the
/// provider is broken (not JSON) or sent an ID token (or a response) that must be refused.
fn unparsable(e: impl std::error::Error + Send + Sync + 'static, body: &[u8]) -> OidcError {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return OidcError::unavailable("token endpoint answered garbage", e);
    };
    match json.get("id_token") {
        // openidconnect's own message names what is wrong, e.g. "missing field `iat`".
        Some(Value::String(raw)) => match raw.parse::<CoreIdToken>() {
            Err(why) => OidcError::InvalidIdToken(IdTokenProblem::NotAJwt(Box::new(why))),
            Ok(_) => OidcError::MalformedTokenResponse(Box::new(e)),
        },
        Some(_) => OidcError::InvalidIdToken(IdTokenProblem::NotAString),
        None => OidcError::MalformedTokenResponse(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(body: &str) -> OidcError {
        let parse_error = serde_json::from_str::<CoreTokenResponse>(body).unwrap_err();
        unparsable(parse_error, body.as_bytes())
    }

    #[test]
    fn only_an_answer_that_is_not_json_means_the_provider_is_down() {
        assert!(matches!(classify("<html>oops"), OidcError::ProviderUnavailable { .. }));
        let two_parts = r#"{"access_token":"a","token_type":"Bearer","id_token":"eyJhbGciOiJSUzI1NiJ9.e30"}"#;
        assert!(matches!(classify(two_parts), OidcError::InvalidIdToken(IdTokenProblem::NotAJwt(_))));
        let number = r#"{"access_token":"a","token_type":"Bearer","id_token":5}"#;
        assert!(matches!(classify(number), OidcError::InvalidIdToken(IdTokenProblem::NotAString)));
        let no_access_token = r#"{"token_type":"Bearer"}"#;
        assert!(matches!(classify(no_access_token), OidcError::MalformedTokenResponse(_)));
        assert!(matches!(classify("[1, 2]"), OidcError::MalformedTokenResponse(_)));
    }

    #[test]
    fn the_missing_claim_is_named() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let payload = r#"{"iss":"https://i.example","sub":"s","aud":"c","exp":4102444800}"#;
        let jwt = format!("{}.{}.{}", b64(r#"{"alg":"RS256"}"#), b64(payload), b64("sig"));
        let body = format!(r#"{{"access_token":"a","token_type":"Bearer","id_token":"{jwt}"}}"#);
        let error = format!("{:?}", classify(&body));
        assert!(error.contains("missing field `iat`"), "{error}");
    }
}
