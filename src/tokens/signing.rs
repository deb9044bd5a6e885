//! Keys for access tokens: HS256 with JWT_SECRET_KEY by default, or an RS256/EdDSA private key
//! from a PEM file, published (with any previous keys kept for rotation) as a JWKS.

use std::path::Path;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

/// Clock difference allowed between the instances that sign and verify, unless
/// TOKEN_LEEWAY_SECONDS says otherwise (`TokenKeys::with_leeway`).
pub const DEFAULT_LEEWAY_SECONDS: u64 = 5;

/// Signs access tokens with one key and verifies them with any key it knows.
pub struct AccessSigner {
    encoding: EncodingKey,
    header: Header,
    verifiers: Vec<Verifier>,
    jwks: Option<JwkSet>,
}

struct Verifier {
    kid: Option<String>,
    key: DecodingKey,
    validation: Validation,
}

fn validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = DEFAULT_LEEWAY_SECONDS;
    validation.set_required_spec_claims(&["exp", "sub", "iat"]);
    validation
}

impl AccessSigner {
    /// HS256 with a shared secret: no kid, nothing to publish.
    pub fn hmac(secret: &[u8]) -> Self {
        AccessSigner {
            encoding: EncodingKey::from_secret(secret),
            header: Header::new(Algorithm::HS256),
            verifiers: vec![Verifier {
                kid: None,
                key: DecodingKey::from_secret(secret),
                validation: validation(Algorithm::HS256),
            }],
            jwks: None,
        }
    }

    /// An RSA (RS256) or Ed25519 (EdDSA) private key in PEM, plus retired public keys (a JWKS
    /// file) that still verify tokens signed before a rotation.
    pub fn asymmetric(pem: &[u8], kid: Option<String>, previous: Option<JwkSet>) -> Result<Self, String> {
        let (encoding, alg) = match EncodingKey::from_rsa_pem(pem) {
            Ok(key) => (key, Algorithm::RS256),
            Err(_) => (
                EncodingKey::from_ed_pem(pem).map_err(|_| "is not an RSA or Ed25519 private key in PEM".to_owned())?,
                Algorithm::EdDSA,
            ),
        };
        let mut jwk =
            Jwk::from_encoding_key(&encoding, alg).map_err(|e| format!("cannot derive the public key: {e}"))?;
        let kid = match kid {
            Some(kid) => kid,
            None => jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| format!("cannot compute the key id: {e}"))?,
        };
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let mut published = vec![jwk];
        published.extend(previous.map(|set| set.keys).unwrap_or_default());
        let mut verifiers = Vec::new();
        for key in &published {
            let key_id = key.common.key_id.clone().ok_or("every previous key needs a kid")?;
            let alg = key
                .common
                .key_algorithm
                .and_then(|a| serde_json::to_value(a).ok())
                .and_then(|v| v.as_str().and_then(|name| name.parse::<Algorithm>().ok()))
                .ok_or_else(|| format!("key {key_id} has no usable alg"))?;
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                return Err(format!("key {key_id} is symmetric; only public keys may be published"));
            }
            let decoding = DecodingKey::from_jwk(key).map_err(|e| format!("key {key_id}: {e}"))?;
            verifiers.push(Verifier { kid: Some(key_id), key: decoding, validation: validation(alg) });
        }
        let mut header = Header::new(alg);
        header.kid = Some(kid);
        Ok(AccessSigner { encoding, header, verifiers, jwks: Some(JwkSet { keys: published }) })
    }

    /// Reads the PEM and the optional previous-keys JWKS from files.
    pub fn from_files(private_key: &Path, kid: Option<String>, previous: Option<&Path>) -> Result<Self, String> {
        let pem = std::fs::read(private_key).map_err(|e| format!("cannot read {}: {e}", private_key.display()))?;
        let previous = match previous {
            None => None,
            Some(path) => {
                let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Some(serde_json::from_slice(&text).map_err(|e| format!("{} is not a JWKS: {e}", path.display()))?)
            }
        };
        Self::asymmetric(&pem, kid, previous)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The key and rules when there is only one key without an id (HS256): no need to parse the
    /// header first, jsonwebtoken checks its algorithm against the rules anyway.
    pub fn only_verifier(&self) -> Option<(&DecodingKey, &Validation)> {
        match self.verifiers.as_slice() {
            [only] if only.kid.is_none() => Some((&only.key, &only.validation)),
            _ => None,
        }
    }

    /// The key and rules for a token's header: by kid when keys have ids, else the one key.
    pub fn verifier_for(&self, header: &Header) -> Option<(&DecodingKey, &Validation)> {
        let verifier = match &header.kid {
            Some(kid) => self.verifiers.iter().find(|v| v.kid.as_deref() == Some(kid.as_str())),
            None => self.verifiers.iter().find(|v| v.kid.is_none()),
        }?;
        (verifier.validation.algorithms.contains(&header.alg)).then_some((&verifier.key, &verifier.validation))
    }

    /// The public keys, when signing is asymmetric.
    pub fn jwks(&self) -> Option<&JwkSet> {
        self.jwks.as_ref()
    }

    /// Applies one rule (leeway, issuer, audience) to the checks of every key.
    pub(super) fn configure(&mut self, rule: impl Fn(&mut Validation)) {
        for verifier in &mut self.verifiers {
            rule(&mut verifier.validation);
        }
    }
}
