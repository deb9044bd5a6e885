//! Access and refresh tokens. Access tokens are JWTs (HS256 with JWT_SECRET_KEY by default,
//! RS256/EdDSA when a private key is configured); refresh tokens are HS256 JWTs naming a session
//! row, so a token we never issued cannot even name a session. Both carry `iss` (the public
//! origin) and an `aud` of their own, checked on every verification, so a token minted by anything
//! else that holds the key (a staging deployment, another instance, a service given the key to
//! verify) is refused. Refresh tokens are signed with a key derived from SECRET_KEY, which no
//! other service ever holds: a verifier of access tokens can never mint one. Keys are parsed once
//! at start-up.

mod claims;
mod signing;
mod upstream;

use std::time::Duration;

use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::config::TokenSettings;

pub use claims::{AccessClaims, Lifetimes, Parties, Profile, RefreshClaims, TokenType};
pub use signing::AccessSigner;
pub use upstream::UPSTREAM_TTL;

/// Why a token could not be signed (a broken key; checked at start-up by `self_check`).
pub type SignError = jsonwebtoken::errors::Error;

/// The refresh-token key: HMAC-SHA256 of a fixed label under SECRET_KEY. actix-session derives
/// its keys from SECRET_KEY too, with HKDF and other labels, so the keys are independent.
fn refresh_key(seed: &SecretString) -> [u8; 32] {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, seed.expose_secret().as_bytes());
    let tag = ring::hmac::sign(&key, b"doorman refresh-token signing key v1");
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// The checks every token of ours gets besides its signature.
fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = signing::DEFAULT_LEEWAY_SECONDS;
    validation.set_required_spec_claims(&["exp", "sub", "iat", "iss", "aud"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation
}

/// Why a presented token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid")]
    Invalid,
}

/// Selects jsonwebtoken's RustCrypto backend explicitly, so a second backend pulled in by another
/// crate cannot make the first signature panic. Calling it twice is harmless.
pub fn install_crypto_backend() {
    let _already_installed = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// All token keys and lifetimes.
pub struct TokenKeys {
    access: AccessSigner,
    access_ttl: Duration,
    refresh_encoding: EncodingKey,
    refresh_decoding: DecodingKey,
    refresh_validation: Validation,
    refresh_ttl: Duration,
    parties: Parties,
    upstream: upstream::Cache,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TokenKeys {
    /// `jwt_secret` signs HS256 access tokens unless `signer` is given; the refresh key is
    /// derived from `refresh_seed` (SECRET_KEY).
    pub fn new(
        jwt_secret: &SecretString,
        refresh_seed: &SecretString,
        signer: Option<AccessSigner>,
        lifetimes: Lifetimes,
        parties: Parties,
    ) -> Self {
        install_crypto_backend();
        let mut access = signer.unwrap_or_else(|| AccessSigner::hmac(jwt_secret.expose_secret().as_bytes()));
        // `iss` and `aud` are required fields of AccessClaims and compared in `verify_access`:
        // jsonwebtoken's own checks hash both into sets, ~1k instructions on every guarded
        // request (callgrind) for two string comparisons.
        access.configure(|v| {
            v.validate_aud = false;
            v.set_required_spec_claims(&["exp", "sub", "iat"]);
        });
        let refresh = refresh_key(refresh_seed);
        TokenKeys {
            access,
            access_ttl: lifetimes.access,
            refresh_encoding: EncodingKey::from_secret(&refresh),
            refresh_decoding: DecodingKey::from_secret(&refresh),
            refresh_validation: validation(Algorithm::HS256, &parties.issuer, &parties.refresh_audience()),
            refresh_ttl: lifetimes.refresh,
            parties,
            upstream: upstream::Cache::default(),
        }
    }

    /// The keys TOKEN_*, JWT_* and ACCESS_TOKEN_AUDIENCE configure, read from their files.
    pub fn from_settings(settings: &TokenSettings, refresh_seed: &SecretString, issuer: &str) -> Result<Self, String> {
        let signer = match &settings.private_key_file {
            None => None,
            Some(path) => Some(
                AccessSigner::from_files(path, settings.key_id.clone(), settings.previous_jwks_file.as_deref())
                    .map_err(|e| format!("JWT_PRIVATE_KEY_FILE {e}"))?,
            ),
        };
        let lifetimes = Lifetimes { access: settings.access_ttl, refresh: settings.refresh_ttl };
        let audience = settings.audience.clone().unwrap_or_else(|| issuer.to_owned());
        let parties = Parties { issuer: issuer.to_owned(), audience };
        let keys = Self::new(&settings.jwt_secret_key, refresh_seed, signer, lifetimes, parties);
        Ok(keys.with_leeway(settings.leeway))
    }

    /// How far past `exp` a token is still accepted (clock differences between instances).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.access.configure(|v| v.leeway = leeway.as_secs());
        self.refresh_validation.leeway = leeway.as_secs();
        self
    }

    pub fn parties(&self) -> &Parties {
        &self.parties
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    /// The public keys of the access tokens, when signing is asymmetric.
    pub fn jwks(&self) -> Option<&jsonwebtoken::jwk::JwkSet> {
        self.access.jwks()
    }

    /// Signs an access token, valid from now for the configured lifetime.
    pub fn issue_access(&self, user_id: Uuid, sid: Option<Uuid>, profile: Profile) -> Result<String, SignError> {
        let iat = now();
        let claims = AccessClaims {
            sub: user_id,
            email: profile.email,
            email_verified: profile.email_verified,
            name: profile.name,
            picture: profile.picture,
            idp: profile.idp,
            sid,
            iss: self.parties.issuer.clone(),
            aud: self.parties.audience.clone(),
            iat,
            exp: iat + self.access_ttl.as_secs() as i64,
            token_type: TokenType::Access,
        };
        jsonwebtoken::encode(self.access.header(), &claims, self.access.encoding())
    }

    /// Signs a refresh token for session `sid` with a fresh `jti`.
    pub fn issue_refresh(&self, user_id: Uuid, sid: Uuid, jti: &str) -> Result<String, SignError> {
        let iat = now();
        let claims = RefreshClaims {
            sub: user_id,
            sid,
            jti: jti.to_owned(),
            iss: self.parties.issuer.clone(),
            aud: self.parties.refresh_audience(),
            iat,
            exp: iat + self.refresh_ttl.as_secs() as i64,
            token_type: TokenType::Refresh,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.refresh_encoding)
    }

    /// Verifies signature, algorithm, expiry and type of an access token.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let (key, validation) = match self.access.only_verifier() {
            Some(only) => only,
            None => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
                self.access.verifier_for(&header).ok_or(TokenError::Invalid)?
            }
        };
        let claims: AccessClaims = decode(token, key, validation)?;
        let ours = claims.iss == self.parties.issuer && claims.aud == self.parties.audience;
        (ours && claims.token_type == TokenType::Access).then_some(claims).ok_or(TokenError::Invalid)
    }

    /// Verifies a refresh token's signature, expiry and type (not whether its session lives).
    pub fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        let claims: RefreshClaims = decode(token, &self.refresh_decoding, &self.refresh_validation)?;
        (claims.token_type == TokenType::Refresh).then_some(claims).ok_or(TokenError::Invalid)
    }

    /// Signs and verifies one token, so a broken crypto set-up stops the server at start-up
    /// instead of failing the first login.
    pub fn self_check(&self) -> Result<(), String> {
        let id = Uuid::nil();
        let access = self.issue_access(id, None, Profile::default()).map_err(|e| e.to_string())?;
        let refresh = self.issue_refresh(id, id, "self-check").map_err(|e| e.to_string())?;
        match (self.verify_access(&access), self.verify_refresh(&refresh)) {
            (Ok(a), Ok(r)) if a.sub == id && r.sid == id => Ok(()),
            other => Err(format!("freshly signed tokens do not verify: {other:?}")),
        }
    }
}

fn decode<T: DeserializeOwned>(token: &str, key: &DecodingKey, validation: &Validation) -> Result<T, TokenError> {
    jsonwebtoken::decode::<T>(token, key, validation).map(|data| data.claims).map_err(|e| match e.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        _ => TokenError::Invalid,
    })
}

#[cfg(test)]
mod tests;
