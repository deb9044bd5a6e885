//! Access tokens: HS256 JWTs signed with JWT_SECRET_KEY, keys parsed once at start-up.

use std::time::Duration;

use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Allowance for clock differences between the instances that sign and verify.
const LEEWAY_SECONDS: u64 = 5;

/// What an access token is (refresh tokens say `refresh` and are refused where access is needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of an access token, as the runtime contract lists them (plus `picture`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub email: Option<String>,
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    pub iat: i64,
    pub exp: i64,
    #[serde(rename = "type")]
    pub token_type: TokenType,
}

/// Why a presented token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

/// Signing and verification keys, parsed once.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    header: Header,
    ttl: Duration,
}

/// Selects jsonwebtoken's RustCrypto backend explicitly, so a second backend pulled in by another
/// crate cannot make the first signature panic. Calling it twice is harmless.
pub fn install_crypto_backend() {
    let _already_installed = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

impl TokenKeys {
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        install_crypto_backend();
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            header: Header::new(Algorithm::HS256),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs an access token for a user, valid from now for the configured lifetime.
    pub fn issue_access(
        &self,
        user_id: Uuid,
        email: Option<String>,
        name: Option<String>,
        picture: Option<String>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id,
            email,
            name,
            picture,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            token_type: TokenType::Access,
        };
        jsonwebtoken::encode(&self.header, &claims, &self.encoding)
    }

    /// Signs and verifies one token, so a broken crypto set-up stops the server at start-up
    /// instead of failing the first login.
    pub fn self_check(&self) -> Result<(), String> {
        let id = Uuid::nil();
        let token = self.issue_access(id, None, None, None).map_err(|e| e.to_string())?;
        match self.verify_access(&token) {
            Ok(claims) if claims.sub == id => Ok(()),
            other => Err(format!("a freshly signed token does not verify: {other:?}")),
        }
    }

    /// Verifies signature, algorithm, expiry and type.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        if data.claims.token_type != TokenType::Access {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ttl: u64) -> TokenKeys {
        TokenKeys::new(&SecretString::from("test-secret-0123456789abcdef0123456789"), Duration::from_secs(ttl))
    }

    #[test]
    fn round_trip_with_the_compiled_crypto_backend() {
        // Fails (panics) if jsonwebtoken was built with no backend or with two.
        let keys = keys(60);
        let id = Uuid::new_v4();
        let token = keys.issue_access(id, Some("a@b.test".into()), Some("A".into()), None).unwrap();
        let claims = keys.verify_access(&token).unwrap();
        assert_eq!(claims.sub, id);
        assert_eq!(claims.token_type, TokenType::Access);
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn expired_and_tampered_tokens_are_told_apart() {
        let keys = keys(60);
        let now = chrono::Utc::now().timestamp();
        let expired = AccessClaims {
            sub: Uuid::new_v4(),
            email: None,
            name: None,
            picture: None,
            iat: now - 600,
            exp: now - 300,
            token_type: TokenType::Access,
        };
        let token = jsonwebtoken::encode(&keys.header, &expired, &keys.encoding).unwrap();
        assert_eq!(keys.verify_access(&token), Err(TokenError::Expired));

        let good = keys.issue_access(Uuid::new_v4(), None, None, None).unwrap();
        let mut tampered = good.clone();
        tampered.replace_range(good.len() - 3.., "AAA");
        assert_eq!(keys.verify_access(&tampered), Err(TokenError::Invalid));
        let other =
            TokenKeys::new(&SecretString::from("another-secret-0123456789abcdef012345"), Duration::from_secs(60));
        assert_eq!(other.verify_access(&good), Err(TokenError::Invalid));
    }

    #[test]
    fn refresh_typed_and_unsigned_tokens_are_refused() {
        let keys = keys(60);
        let now = chrono::Utc::now().timestamp();
        let refresh = AccessClaims {
            sub: Uuid::new_v4(),
            email: None,
            name: None,
            picture: None,
            iat: now,
            exp: now + 60,
            token_type: TokenType::Refresh,
        };
        let token = jsonwebtoken::encode(&keys.header, &refresh, &keys.encoding).unwrap();
        assert_eq!(keys.verify_access(&token), Err(TokenError::Invalid));

        let payload = serde_json::to_vec(&AccessClaims { token_type: TokenType::Access, ..refresh }).unwrap();
        let b64 = |b: &[u8]| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        };
        let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(&payload));
        assert_eq!(keys.verify_access(&none), Err(TokenError::Invalid));
    }
}
