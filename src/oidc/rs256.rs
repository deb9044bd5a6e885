//! RS256 signature checks with `ring`. openidconnect verifies through the `rsa` crate, which
//! spends ~280 µs per ID token (75 % of a login's CPU); ring does it in ~30 µs. Other algorithms
//! still go through openidconnect. Claims are checked by openidconnect either way.
//!
//! It only ever answers `Verified` for what openidconnect would verify itself: the same bytes
//! (the signing input openidconnect parsed, `oidc::verify`), and a key chosen as openidconnect
//! chooses one (`use` absent or `sig`, `alg` absent or RS256, the `kid` matching, exactly one
//! candidate). Fuzzed by `fuzz/fuzz_targets/id_tokens.rs`.

use base64::Engine;
use openidconnect::core::CoreJsonWebKeySet;
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};

/// An RSA public key from the provider's JWKS; `None` when its `n` or `e` does not decode.
/// Such a key is still a candidate, as openidconnect counts it: a JWKS with a broken key and
/// a good one under one kid is ambiguous, not an answer (found by fuzzing, `id_tokens`).
pub struct RsaKey {
    kid: Option<String>,
    components: Option<(Vec<u8>, Vec<u8>)>,
}

/// The RSA keys of a JWKS usable for RS256 signatures, decoded once when the keys are fetched.
pub fn rsa_keys(jwks: &CoreJsonWebKeySet) -> Vec<RsaKey> {
    let b64 = |v: &serde_json::Value| {
        v.as_str().and_then(|s| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
    };
    jwks.keys()
        .iter()
        .filter_map(|key| serde_json::to_value(key).ok())
        .filter(|key| key["kty"] == "RSA" && key.get("use").is_none_or(|u| u == "sig"))
        .filter(|key| key.get("alg").is_none_or(|alg| alg == "RS256"))
        .map(|key| RsaKey {
            kid: key["kid"].as_str().map(str::to_owned),
            components: b64(&key["n"]).zip(b64(&key["e"])),
        })
        .collect()
}

/// What the fast path found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// Signed by the provider's key: only the claims remain to be checked.
    Verified,
    /// RS256, but no published key matches its `kid`.
    UnknownKey,
    /// RS256 with a bad signature, several candidate keys, or not a well-formed JWT.
    BadSignature,
    /// Not RS256: leave it to openidconnect.
    NotRs256,
}

/// Checks an RS256 JWT's signature against the provider's RSA keys.
pub fn check(jwt: &str, keys: &[RsaKey]) -> Check {
    let mut parts = jwt.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Check::BadSignature;
    };
    let engine = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some(header) = engine.decode(header).ok().and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
    else {
        return Check::BadSignature;
    };
    if header["alg"] != "RS256" {
        return Check::NotRs256;
    }
    let kid = match header.get("kid") {
        None => None,
        Some(serde_json::Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Check::BadSignature,
    };
    // As openidconnect: with a kid, the keys of that kid; without, every key; one and only one.
    let mut candidates = keys.iter().filter(|k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)));
    let key = match (candidates.next(), candidates.next()) {
        (None, _) => return Check::UnknownKey,
        (Some(key), None) => key,
        (Some(_), Some(_)) => return Check::BadSignature,
    };
    let Some((n, e)) = &key.components else { return Check::BadSignature };
    let Ok(signature) = engine.decode(signature) else { return Check::BadSignature };
    let signed = &jwt[..jwt.len() - signature_len(jwt)];
    debug_assert!(signed.ends_with(payload));
    let public = RsaPublicKeyComponents { n, e };
    match public.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature) {
        Ok(()) => Check::Verified,
        Err(_) => Check::BadSignature,
    }
}

/// Length of ".signature" at the end of a compact JWT.
fn signature_len(jwt: &str) -> usize {
    jwt.rfind('.').map_or(0, |dot| jwt.len() - dot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{jwk::Jwk, Algorithm, EncodingKey, Header};

    fn key(file: &str, kid: &str) -> (EncodingKey, serde_json::Value) {
        crate::tokens::install_crypto_backend();
        let pem = std::fs::read(format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let encoding = EncodingKey::from_rsa_pem(&pem).unwrap();
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        (encoding, serde_json::to_value(jwk).unwrap())
    }

    fn sign(encoding: &EncodingKey, kid: &str, alg: Algorithm) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &serde_json::json!({"sub": "x"}), encoding).unwrap()
    }

    #[test]
    fn tells_genuine_forged_unknown_and_other_algorithms_apart() {
        let (provider, provider_jwk) = key("provider_key.pem", "k1");
        let (attacker, _) = key("attacker_key.pem", "k1");
        let jwks: CoreJsonWebKeySet = serde_json::from_value(serde_json::json!({ "keys": [provider_jwk] })).unwrap();
        let keys = rsa_keys(&jwks);
        assert_eq!(keys.len(), 1);

        let genuine = sign(&provider, "k1", Algorithm::RS256);
        assert_eq!(check(&genuine, &keys), Check::Verified);
        assert_eq!(check(&sign(&attacker, "k1", Algorithm::RS256), &keys), Check::BadSignature);
        assert_eq!(check(&sign(&provider, "k2", Algorithm::RS256), &keys), Check::UnknownKey);
        let hmac = EncodingKey::from_secret(b"secret");
        assert_eq!(check(&sign(&hmac, "k1", Algorithm::HS256), &keys), Check::NotRs256);
        let (head, rest) = genuine.split_once('.').unwrap();
        let other_payload = format!("{head}.eyJzdWIiOiJ5In0.{}", rest.split_once('.').unwrap().1);
        assert_eq!(check(&other_payload, &keys), Check::BadSignature);
        assert_eq!(check("not-a-jwt", &keys), Check::BadSignature);
    }

    #[test]
    fn keys_are_chosen_as_openidconnect_chooses_them() {
        let (provider, mut jwk) = key("provider_key.pem", "k1");
        let genuine = sign(&provider, "k1", Algorithm::RS256);
        let keys_of = |jwks: serde_json::Value| rsa_keys(&serde_json::from_value(jwks).unwrap());
        // A key published for another algorithm or for encryption is not an RS256 key.
        for (field, value) in [("alg", "PS256"), ("use", "enc")] {
            let mut other = jwk.clone();
            other[field] = serde_json::json!(value);
            assert!(keys_of(serde_json::json!({ "keys": [other] })).is_empty(), "{field}={value}");
        }
        // Two keys under one kid are ambiguous, whichever would verify.
        let twice = keys_of(serde_json::json!({ "keys": [jwk.clone(), jwk.clone()] }));
        assert_eq!(check(&genuine, &twice), Check::BadSignature);
        // Without a kid in the token, a lone key is used; with two keys, none is.
        let mut header = Header::new(Algorithm::RS256);
        header.kid = None;
        let no_kid = jsonwebtoken::encode(&header, &serde_json::json!({"sub": "x"}), &provider).unwrap();
        assert_eq!(check(&no_kid, &keys_of(serde_json::json!({ "keys": [jwk.clone()] }))), Check::Verified);
        let (_, mut second) = key("rotated_key.pem", "k2");
        second["kid"] = serde_json::json!("k2");
        assert_eq!(check(&no_kid, &keys_of(serde_json::json!({ "keys": [jwk.clone(), second] }))), Check::BadSignature);
        // A key that does not decode still counts: beside a good one under its kid, ambiguous.
        let broken = serde_json::json!({ "kty": "RSA", "kid": "k1", "n": "!!", "e": "AQAB" });
        let with_broken = keys_of(serde_json::json!({ "keys": [broken.clone(), jwk.clone()] }));
        assert_eq!(check(&genuine, &with_broken), Check::BadSignature);
        assert_eq!(check(&genuine, &keys_of(serde_json::json!({ "keys": [broken] }))), Check::BadSignature);
        // A kid that is not a string is not a kid.
        jwk["kid"] = serde_json::json!("k1");
        let odd = format!(
            "{}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":1}"#),
            genuine.split_once('.').unwrap().1
        );
        assert_eq!(check(&odd, &keys_of(serde_json::json!({ "keys": [jwk] }))), Check::BadSignature);
    }
}
