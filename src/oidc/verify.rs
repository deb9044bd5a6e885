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
        let rs256_allowed = keys.allowed_algs.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
        let invalid = |problem| Err(OidcError::InvalidIdToken(problem));
        let verified_here = match rs256::check(&raw, &keys.rsa) {
            rs256::Check::NotRs256 => false,
            // openidconnect refuses the algorithm itself.
            _ if !rs256_allowed => false,
            rs256::Check::Verified => true,
            rs256::Check::UnknownKey => return invalid(IdTokenProblem::UnknownKey),
            rs256::Check::BadSignature => return invalid(IdTokenProblem::BadSignature),
        };
        // The signature settled here, openidconnect checks the claims only and needs no copy of
        // the keys (a copy of every published key per login otherwise).
        let jwks = if verified_here { CoreJsonWebKeySet::new(Vec::new()) } else { keys.jwks.clone() };
        // A public-client verifier: the client secret is never accepted as an HMAC key.
        let mut verifier = CoreIdTokenVerifier::new_public_client(self.client_id.clone(), self.issuer.clone(), jwks)
            .set_allowed_algs(keys.allowed_algs.iter().cloned())
            // Issuer spellings are checked in `identity::verified`, against the documented list.
            .require_issuer_match(false)
            .set_time_fn(|| chrono::Utc::now() - CLOCK_SKEW);
        if verified_here {
            verifier = verifier.insecure_disable_signature_check();
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

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{jwk::Jwk, Algorithm, EncodingKey, Header};

    const ISSUER: &str = "https://idp.example.test";
    const CLIENT: &str = "doorman-test";

    fn key(file: &str, alg: Algorithm, kid: &str) -> (EncodingKey, serde_json::Value) {
        crate::tokens::install_crypto_backend();
        let pem = std::fs::read(format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let encoding = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem).unwrap(),
            _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
        };
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&encoding, alg).unwrap()).unwrap();
        jwk["kid"] = serde_json::json!(kid);
        (encoding, jwk)
    }

    fn id_token(encoding: &EncodingKey, alg: Algorithm, kid: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({"iss": ISSUER, "aud": CLIENT, "sub": format!("sub-{kid}"), "iat": now, "exp": now + 300});
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &claims, encoding).unwrap()
    }

    /// RS256 goes through ring, anything else through openidconnect with the published keys.
    #[test]
    fn tokens_of_either_path_verify_against_the_published_keys() {
        let (rsa, rsa_jwk) = key("provider_key.pem", Algorithm::RS256, "r1");
        let (ed, ed_jwk) = key("access_ed25519.pem", Algorithm::EdDSA, "e1");
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": [rsa_jwk, ed_jwk] })).unwrap();
        let keys = SigningKeys::from_json(&jwks, &["RS256", "EdDSA"]).unwrap();
        let rules =
            IdTokenRules::new(IssuerUrl::new(ISSUER.to_owned()).unwrap(), false, ClientId::new(CLIENT.to_owned()));
        for (encoding, alg, kid) in [(&rsa, Algorithm::RS256, "r1"), (&ed, Algorithm::EdDSA, "e1")] {
            let token = id_token(encoding, alg, kid);
            let identity = rules.verify_str(&keys, &token, None).unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
            assert_eq!(identity.subject, format!("sub-{kid}"));
            // The same token under a kid nobody published is refused on either path.
            let (_, other) = key("access_ed25519.pem", Algorithm::EdDSA, "other");
            let elsewhere = serde_json::to_vec(&serde_json::json!({ "keys": [other] })).unwrap();
            let elsewhere = SigningKeys::from_json(&elsewhere, &["RS256", "EdDSA"]).unwrap();
            assert!(rules.verify_str(&elsewhere, &token, None).is_err(), "{alg:?} without its key");
        }
    }
}
