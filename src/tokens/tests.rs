use serde::Serialize;

use super::*;

const SECRET: &str = "test-secret-0123456789abcdef0123456789";
const SEED: &str = "test-session-seed-0123456789abcdef012345";
const ISSUER: &str = "https://login.example.test";
const AUDIENCE: &str = "https://apps.example.test";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn parties() -> Parties {
    Parties { issuer: ISSUER.into(), audience: AUDIENCE.into() }
}

fn lifetimes(access: u64) -> Lifetimes {
    Lifetimes { access: Duration::from_secs(access), refresh: Duration::from_secs(3600) }
}

fn keys_with(access: Option<AccessSigner>, ttl: u64) -> TokenKeys {
    TokenKeys::new(&SecretString::from(SECRET), &SecretString::from(SEED), access, lifetimes(ttl), parties())
}

fn keys(ttl: u64) -> TokenKeys {
    keys_with(None, ttl)
}

fn profile() -> Profile {
    Profile {
        email: Some("a@b.test".into()),
        name: Some("A".into()),
        picture: None,
        idp: Some("corp".into()),
        email_verified: true,
    }
}

/// Access claims of ours for nobody in particular, issued at `iat`, expiring at `exp`.
fn access_claims(iat: i64, exp: i64) -> AccessClaims {
    AccessClaims {
        sub: Uuid::new_v4(),
        email: None,
        name: None,
        picture: None,
        sid: None,
        idp: None,
        email_verified: false,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat,
        exp,
        token_type: TokenType::Access,
    }
}

fn sign<T: Serialize>(claims: &T) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

#[test]
fn round_trip_with_the_compiled_crypto_backend() {
    // Panics if jsonwebtoken was built with no crypto backend or with two.
    let keys = keys(60);
    let (id, sid) = (Uuid::new_v4(), Uuid::new_v4());
    let claims = keys.verify_access(&keys.issue_access(id, Some(sid), profile()).unwrap()).unwrap();
    assert_eq!((claims.sub, claims.sid, claims.token_type), (id, Some(sid), TokenType::Access));
    assert_eq!((claims.idp.as_deref(), claims.email_verified), (Some("corp"), true));
    assert_eq!(claims.exp - claims.iat, 60);
    keys.self_check().unwrap();
}

#[test]
fn expired_and_tampered_tokens_are_told_apart() {
    let keys = keys(60);
    let now = now();
    let expired = access_claims(now - 600, now - 300);
    assert_eq!(keys.verify_access(&sign(&expired)), Err(TokenError::Expired));

    let good = keys.issue_access(Uuid::new_v4(), None, profile()).unwrap();
    let mut tampered = good.clone();
    tampered.replace_range(good.len() - 3.., "AAA");
    assert_eq!(keys.verify_access(&tampered), Err(TokenError::Invalid));
    let other = TokenKeys::new(
        &SecretString::from("another-secret-0123456789abcdef012345"),
        &SecretString::from(SEED),
        None,
        lifetimes(60),
        parties(),
    );
    assert_eq!(other.verify_access(&good), Err(TokenError::Invalid));
}

#[test]
fn refresh_and_access_tokens_are_never_interchangeable() {
    let keys = keys(60);
    let (user, sid) = (Uuid::new_v4(), Uuid::new_v4());
    let refresh = keys.issue_refresh(user, sid, "jti-1").unwrap();
    assert_eq!(keys.verify_access(&refresh), Err(TokenError::Invalid));
    assert_eq!(keys.verify_refresh(&refresh).unwrap().jti, "jti-1");
    let access = keys.issue_access(user, Some(sid), profile()).unwrap();
    assert_eq!(keys.verify_refresh(&access), Err(TokenError::Invalid));
}

#[test]
fn unsigned_tokens_are_refused() {
    use base64::Engine;
    let keys = keys(60);
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let claims = serde_json::json!({"sub": Uuid::new_v4(), "iat": now(), "exp": now() + 60, "type": "access"});
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims.to_string().as_bytes()));
    assert_eq!(keys.verify_access(&none), Err(TokenError::Invalid));
}

#[test]
fn rs256_and_eddsa_tokens_carry_a_kid_and_verify_by_the_published_key() {
    for (pem, alg) in [("provider_key.pem", Algorithm::RS256), ("access_ed25519.pem", Algorithm::EdDSA)] {
        let signer = AccessSigner::asymmetric(&fixture(pem), None, None).unwrap();
        let keys = keys_with(Some(signer), 60);
        let token = keys.issue_access(Uuid::new_v4(), None, profile()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, alg);
        let jwks = keys.jwks().unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the kid is published");
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp"]);
        validation.set_audience(&[AUDIENCE]);
        jsonwebtoken::decode::<AccessClaims>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
        assert!(keys.verify_access(&token).is_ok());
        // An HS256 token signed with the shared secret is not accepted in asymmetric mode.
        let hmac = keys_with(None, 60).issue_access(Uuid::new_v4(), None, profile()).unwrap();
        assert_eq!(keys.verify_access(&hmac), Err(TokenError::Invalid));
    }
}

#[test]
fn a_previous_key_still_verifies_after_rotation() {
    let old = AccessSigner::asymmetric(&fixture("provider_key.pem"), Some("old".into()), None).unwrap();
    let old_public = old.jwks().unwrap().clone();
    let old_keys = keys_with(Some(old), 60);
    let token = old_keys.issue_access(Uuid::new_v4(), None, profile()).unwrap();

    let new = AccessSigner::asymmetric(&fixture("rotated_key.pem"), Some("new".into()), Some(old_public)).unwrap();
    let new_keys = keys_with(Some(new), 60);
    assert!(new_keys.verify_access(&token).is_ok(), "old tokens verify during rotation");
    assert_eq!(new_keys.jwks().unwrap().keys.len(), 2);
    let without_old = keys_with(Some(AccessSigner::asymmetric(&fixture("rotated_key.pem"), None, None).unwrap()), 60);
    assert_eq!(without_old.verify_access(&token), Err(TokenError::Invalid));
}

#[test]
fn a_file_that_is_not_a_key_is_refused() {
    assert!(AccessSigner::asymmetric(b"not a key", None, None).is_err());
}

#[test]
fn the_leeway_is_a_setting_for_access_and_refresh_tokens() {
    let now = now();
    let access = access_claims(now - 60, now - 3);
    let refresh = RefreshClaims {
        sub: Uuid::new_v4(),
        sid: Uuid::new_v4(),
        jti: "j".into(),
        iss: ISSUER.into(),
        aud: parties().refresh_audience(),
        iat: now - 60,
        exp: now - 3,
        token_type: TokenType::Refresh,
    };
    let refresh_key = refresh_key(&SecretString::from(SEED));
    let refresh =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &refresh, &EncodingKey::from_secret(&refresh_key))
            .unwrap();
    let access = sign(&access);
    // Three seconds past `exp`: inside the default 5 s, outside no leeway at all.
    let lenient = keys(60);
    assert!(lenient.verify_access(&access).is_ok() && lenient.verify_refresh(&refresh).is_ok());
    let strict = keys(60).with_leeway(Duration::ZERO);
    assert_eq!(strict.verify_access(&access), Err(TokenError::Expired));
    assert_eq!(strict.verify_refresh(&refresh), Err(TokenError::Expired));
    let signer = AccessSigner::asymmetric(&fixture("provider_key.pem"), None, None).unwrap();
    let asymmetric = keys_with(Some(signer), 60).with_leeway(Duration::ZERO);
    let token = asymmetric.issue_access(Uuid::new_v4(), None, profile()).unwrap();
    assert!(asymmetric.verify_access(&token).is_ok(), "a fresh token is still good");
    let claims: AccessClaims = jsonwebtoken::dangerous::insecure_decode(&access).unwrap().claims;
    let expired = jsonwebtoken::encode(asymmetric.access.header(), &claims, asymmetric.access.encoding()).unwrap();
    assert_eq!(asymmetric.verify_access(&expired), Err(TokenError::Expired));
}

#[test]
fn tokens_of_another_issuer_or_audience_are_refused_though_signed_with_our_key() {
    let keys = keys(60);
    let genuine = keys.verify_access(&keys.issue_access(Uuid::new_v4(), None, profile()).unwrap()).unwrap();
    assert_eq!((genuine.iss.as_str(), genuine.aud.as_str()), (ISSUER, AUDIENCE));
    let with = |iss: &str, aud: &str| {
        let mut claims = serde_json::to_value(&genuine).unwrap();
        claims["iss"] = serde_json::json!(iss);
        claims["aud"] = serde_json::json!(aud);
        claims
    };
    assert!(keys.verify_access(&sign(&with(ISSUER, AUDIENCE))).is_ok(), "the forging itself works");
    for claims in [with("https://staging.example.test", AUDIENCE), with(ISSUER, "https://other.example.test")] {
        assert_eq!(keys.verify_access(&sign(&claims)), Err(TokenError::Invalid), "{claims}");
    }
    let mut bare = serde_json::to_value(&genuine).unwrap();
    bare.as_object_mut().unwrap().remove("iss");
    bare.as_object_mut().unwrap().remove("aud");
    assert_eq!(keys.verify_access(&sign(&bare)), Err(TokenError::Invalid), "no iss or aud: refused");
    // The same for asymmetric keys.
    let signer = AccessSigner::asymmetric(&fixture("access_ed25519.pem"), None, None).unwrap();
    let asymmetric = keys_with(Some(signer), 60);
    let elsewhere = TokenKeys::new(
        &SecretString::from(SECRET),
        &SecretString::from(SEED),
        Some(AccessSigner::asymmetric(&fixture("access_ed25519.pem"), None, None).unwrap()),
        lifetimes(60),
        Parties { issuer: "https://staging.example.test".into(), audience: AUDIENCE.into() },
    );
    let staging = elsewhere.issue_access(Uuid::new_v4(), None, profile()).unwrap();
    assert_eq!(asymmetric.verify_access(&staging), Err(TokenError::Invalid));
}

#[test]
fn a_refresh_token_cannot_be_minted_with_the_access_key() {
    let keys = keys(60);
    let genuine = keys.verify_refresh(&keys.issue_refresh(Uuid::new_v4(), Uuid::new_v4(), "j").unwrap()).unwrap();
    assert_eq!(genuine.aud, format!("{ISSUER}/api/v1/auth/token/refresh/"));
    // Whoever holds JWT_SECRET_KEY (to verify access tokens) signs perfect refresh claims: refused.
    assert_eq!(keys.verify_refresh(&sign(&genuine)), Err(TokenError::Invalid));
    // And a refresh token is no access token, nor the other way round, even by audience.
    let mut as_access = serde_json::to_value(&genuine).unwrap();
    as_access["aud"] = serde_json::json!(AUDIENCE);
    assert_eq!(keys.verify_access(&sign(&as_access)), Err(TokenError::Invalid));
}
