//! ID-token verification, apart from how the keys were fetched: `IdTokenRules` (whose tokens we
//! accept) applied with `SigningKeys` (the provider's published keys). Pure and offline, so the
//! fuzz target `id_tokens` drives exactly what a login runs.

use std::time::Duration;

use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, IssuerUrl, Nonce};

use super::identity::{self, Identity};
use super::{rs256, IdTokenProblem, OidcError};

/// Tokens a few seconds past `exp` are still accepted: clocks differ between us and the provider.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Signature algorithms we accept on ID tokens: asymmetric only, so neither `none` nor an HMAC
/// keyed with something public can pass.
const ASYMMETRIC_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The provider's published keys and the algorithms we accept from it.
pub struct SigningKeys {
    jwks: CoreJsonWebKeySet,
    /// The RSA keys, decoded once for the fast RS256 check.
    rsa: Vec<rs256::RsaKey>,
    allowed_algs: Vec<CoreJwsSigningAlgorithm>,
}

impl SigningKeys {
    /// `advertised`: the provider's `id_token_signing_alg_values_supported`; only its asymmetric
    /// members are allowed (RS256, which every provider must support, when there are none).
    pub fn new(jwks: CoreJsonWebKeySet, advertised: &[CoreJwsSigningAlgorithm]) -> Self {
        let mut allowed_algs: Vec<_> = ASYMMETRIC_ALGS.iter().filter(|a| advertised.contains(a)).cloned().collect();
        if allowed_algs.is_empty() {
            allowed_algs.push(CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
        }
        SigningKeys { rsa: rs256::rsa_keys(&jwks), jwks, allowed_algs }
    }

    /// From a JWKS document and algorithm names as discovery spells them (for tools and fuzzing).
    pub fn from_json(jwks: &[u8], advertised: &[&str]) -> Result<Self, serde_json::Error> {
        let jwks = serde_json::from_slice(jwks)?;
        let advertised: Vec<CoreJwsSigningAlgorithm> =
            advertised.iter().filter_map(|name| serde_json::from_value(serde_json::json!(name)).ok()).collect();
        Ok(Self::new(jwks, &advertised))
    }

    pub fn len(&self) -> usize {
        self.jwks.keys().len()
    }

    pub fn is_empty(&self) -> bool {
        self.jwks.keys().is_empty()
    }
}

/// Whose ID tokens we accept: issued by our provider (in any spelling it documents) for our client.
pub struct IdTokenRules {
    issuer: IssuerUrl,
    /// The first is how the issuer is stored.
    accepted_issuers: Vec<String>,
    client_id: ClientId,
    /// Google's tokens only carry an `hd` we believe.
    google: bool,
}

impl IdTokenRules {
    /// `google`: Google documents two spellings of its issuer in ID tokens.
    pub fn new(issuer: IssuerUrl, google: bool, client_id: ClientId) -> Self {
        let mut accepted_issuers = vec![issuer.as_str().to_owned()];
        if google {
            accepted_issuers.push("accounts.google.com".to_owned());
        }
        IdTokenRules { issuer, accepted_issuers, client_id, google }
    }

    /// Verifies a compact JWT; `nonce` is the one our login sent (none for tokens posted by an
    /// app). For tools and fuzzing; the app parses once and calls `verify`.
    pub fn verify_str(&self, keys: &SigningKeys, raw: &str, nonce: Option<&str>) -> Result<Identity, OidcError> {
        let id_token: CoreIdToken =
            raw.parse().map_err(|e| OidcError::InvalidIdToken(IdTokenProblem::NotAJwt(Box::new(e))))?;
        self.verify(keys, &id_token, nonce.map(|n| Nonce::new(n.to_owned())).as_ref())
    }

    /// Signature (ring for RS256, openidconnect otherwise), then the claims by openidconnect and
    /// `identity::verified`.
    pub fn verify(
        &self,
        keys: &SigningKeys,
        id_token: &CoreIdToken,
        nonce: Option<&Nonce>,
    ) -> Result<Identity, OidcError> {
        // The string openidconnect parsed the claims from: its signing input as received.
        let raw = id_token.to_string();
        // A public-client verifier: the client secret is never accepted as an HMAC key.
        let mut verifier =
            CoreIdTokenVerifier::new_public_client(self.client_id.clone(), self.issuer.clone(), keys.jwks.clone())
                .set_allowed_algs(keys.allowed_algs.iter().cloned())
                // Issuer spellings are checked in `identity::verified`, against the documented list.
                .require_issuer_match(false)
                .set_time_fn(|| chrono::Utc::now() - CLOCK_SKEW);
        let rs256_allowed = keys.allowed_algs.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
        let invalid = |problem| Err(OidcError::InvalidIdToken(problem));
        match rs256::check(&raw, &keys.rsa) {
            rs256::Check::NotRs256 => {}
            // openidconnect refuses the algorithm itself.
            _ if !rs256_allowed => {}
            // The signature is settled here; openidconnect checks the claims.
            rs256::Check::Verified => verifier = verifier.insecure_disable_signature_check(),
            rs256::Check::UnknownKey => return invalid(IdTokenProblem::UnknownKey),
            rs256::Check::BadSignature => return invalid(IdTokenProblem::BadSignature),
        }
        let hosted_domain_from = self.google.then_some(raw.as_str());
        let mut identity = identity::verified(
            id_token,
            hosted_domain_from,
            &verifier,
            nonce,
            &self.accepted_issuers,
            &self.client_id,
        )?;
        identity.provider_session = identity::extra_claim(&raw, "sid");
        identity.id_token = Some(raw);
        Ok(identity)
    }
}

/// The `kid` in a compact JWT's header, if it names one.
pub(super) fn key_id(raw: &str) -> Option<String> {
    use base64::Engine;
    let header = raw.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}
