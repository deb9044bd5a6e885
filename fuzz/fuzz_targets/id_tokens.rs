//! ID-token verification as a login runs it: `IdTokenRules::verify_str` with `SigningKeys` made
//! from a JWKS (RS256 through doorman's own `ring` fast path, `src/oidc/rs256.rs`, everything
//! else and all claims through openidconnect).
//!
//! The world: issuer `https://issuer.example`, one client id, one nonce. The provider publishes
//! four keys: `k1` (RSA, `alg` RS256, `use` sig), `k2` (RSA, no `alg`, no `use`: RS256 and PS256),
//! `k3` (Ed25519) and `k4` (P-256). An attacker has an RSA, an Ed25519 and a P-256 key of its own.
//! Genuine tokens (signed at start-up) carry full or minimal claims, with or without `kid`, and
//! one is signed by `k2` under the kid `k1`.
//!
//! The first input byte picks a mode:
//! - 0: the rest, as a string, is the token; genuine JWKS;
//! - 1: a signed token is edited (bytes replaced, inserted, deleted, segments swapped, spliced);
//!   genuine JWKS;
//! - 2: a token is forged: chosen header (alg, kid, typ, embedded `jwk`...), genuine, edited or
//!   raw claims, and a signature from `none`, HMAC keyed with public material, an attacker's
//!   key, the provider's Ed25519/P-256 key (as if the provider signed it), a transplanted
//!   signature, or bytes; genuine JWKS;
//! - 3: any of those tokens with a JWKS that is edited (keys removed, duplicated, reordered; kid,
//!   alg, use, kty changed; an attacker key added under some kid; n/e/x/y/crv mutated) or
//!   arbitrary, advertised algorithms and nonce chosen too;
//! - 4: a signed token (byte 1), advertised algorithms (bytes 2-3, a bit mask over
//!   `ADVERTISABLE`), the rest is the JWKS document.
//!
//! Must hold: nothing panics, and an accepted token decodes (base64url, leniently) to exactly the
//! header, claims and signature of a token one of our known keys K signed (the provider's or the
//! attacker's), its `alg` is one of those allowed, and the JWKS presented publishes K's public
//! material (same n and e, or same x (and y)) under the token's kid (any kid if it has none).
//!
//! Differential, reported but not fatal: for tokens carrying a known signature, doorman's answer
//! is compared with openidconnect's own verification (the fast path switched off). The first
//! input of each kind of disagreement is printed as `id_tokens divergence [...]`; set
//! `ID_TOKENS_DIVERGENCE=panic` to make disagreements crash (to minimise one), and
//! `ID_TOKENS_TRACE=1` to print every verdict.
#![no_main]

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use arbitrary::{Arbitrary, Unstructured};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use doorman::oidc::{IdTokenProblem, IdTokenRules, Identity, OidcError, SigningKeys};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, IssuerUrl, Nonce};
use serde_json::{json, Value};

const ISSUER: &str = "https://issuer.example";
const CLIENT_ID: &str = "client-123.apps.example";
const NONCE: &str = "n-0S6_WzA2Mj";
/// Larger inputs are ignored: they only slow the fuzzer down.
const MAX_INPUT: usize = 8192;
const MAX_EDITS: usize = 12;

const PROVIDER_KEY: &[u8] = include_bytes!("../../tests/fixtures/provider_key.pem");
const ROTATED_KEY: &[u8] = include_bytes!("../../tests/fixtures/rotated_key.pem");
const ED25519_KEY: &[u8] = include_bytes!("../../tests/fixtures/access_ed25519.pem");
const ATTACKER_RSA_KEY: &[u8] = include_bytes!("../../tests/fixtures/attacker_key.pem");
/// Fuzz-only keys, made with `openssl genpkey`; they protect nothing.
const PROVIDER_EC_KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+DNEPQ6ocSYvmZM/
rtGzoiEQAHrthEUKtmsQGwbiND2hRANCAARdQb7gr+OXObqc39HmFQS+oatPyyZi
ERTqJZUope/zocwRHZp1/RSIEbsN5PzIugEJULt+bELWl9YDMxUWE6xj
-----END PRIVATE KEY-----
";
const ATTACKER_EC_KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWosFngVFY2Q+eXb1
VOP/62R06hegc+kPaKdwZnTXo+yhRANCAARGmiu3uY+p0f0+qg38BWaqEaCMRF1f
eNHl9ciA1Jlb86Y/y6RqgTOmsN5ZoLQCp1YwpL+4lcLdMn9TsAjPGo2V
-----END PRIVATE KEY-----
";
const ATTACKER_ED25519_KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIDkRmPD0xqFoU91/CafDmE+an/gnK/zCR4xwdvvpj1sJ
-----END PRIVATE KEY-----
";

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// For the oracle only: equal content, whatever the spelling.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Algorithm names as discovery spells them, for `id_token_signing_alg_values_supported`.
const ADVERTISABLE: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "none", "rs256",
    "Ed25519",
];
/// What a lax provider advertises: every asymmetric algorithm, plus HS256 and none.
const DEFAULT_ADVERTISED: &[&str] =
    &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256", "none"];
/// As `oidc::verify::ASYMMETRIC_ALGS`: the only algorithms `SigningKeys` may allow.
const ASYMMETRIC: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];
/// `alg` values for forged headers and JWKS keys.
const ALGS: &[&str] = &[
    "RS256", "PS256", "RS384", "RS512", "ES256", "ES384", "EdDSA", "HS256", "HS384", "HS512", "none", "None", "NONE",
    "rs256", "RS256 ", "Ed25519", "RSA-OAEP", "A128GCM", "dir", "",
];
const KIDS: &[&str] = &["k1", "k2", "k3", "k4", "k9", "", "K1", "k1 ", "k1\u{0}"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Okp { x: Vec<u8> },
    Ec { x: Vec<u8>, y: Vec<u8> },
}

struct KnownKey {
    name: &'static str,
    /// What it signs with.
    algs: &'static [Algorithm],
    encoding: EncodingKey,
    material: Material,
    /// Its public JWK, without kid, alg or use.
    jwk: Value,
}

/// A token one of our keys signed, decoded.
#[derive(Debug, Clone)]
struct Signed {
    key: usize,
    token: String,
    parts: Vec<Vec<u8>>,
}

struct World {
    keys: Vec<KnownKey>,
    /// Tokens signed at start-up; the first ones are the provider's.
    signed: Vec<Signed>,
    genuine_jwks: Value,
    genuine_jwks_bytes: Vec<u8>,
    genuine_keys: SigningKeys,
    genuine_set: CoreJsonWebKeySet,
    rules: IdTokenRules,
    claims: Vec<Value>,
}

// The provider's keys first; their index is their kid's number less one.
const K1: usize = 0;
const K2: usize = 1;
const K3: usize = 2;
const K4: usize = 3;
const ATTACKER_RSA: usize = 4;
const ATTACKER_ED: usize = 5;
const ATTACKER_EC: usize = 6;
const PROVIDER_KEYS: usize = 4;

fn lenient_decode(s: &str) -> Option<Vec<u8>> {
    LENIENT.decode(s).ok().or_else(|| LENIENT_STANDARD.decode(s).ok())
}

fn decoded_parts(token: &str) -> Option<Vec<Vec<u8>>> {
    let parts: Option<Vec<Vec<u8>>> = token.split('.').map(|part| LENIENT.decode(part).ok()).collect();
    parts.filter(|p| p.len() == 3)
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The public material of a JWK as JSON, decoded leniently; for the oracle.
fn same_material(jwk: &Value, material: &Material) -> bool {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(lenient_decode);
    let same = |name: &str, want: &[u8]| field(name).is_some_and(|got| strip_zeros(&got) == strip_zeros(want));
    match material {
        Material::Rsa { n, e } => same("n", n) && same("e", e),
        Material::Okp { x } => same("x", x),
        Material::Ec { x, y } => same("x", x) && same("y", y),
    }
}

fn material_of(jwk: &Value) -> Material {
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().expect("field")).expect("base64url");
    match jwk["kty"].as_str() {
        Some("RSA") => Material::Rsa { n: field("n"), e: field("e") },
        Some("OKP") => Material::Okp { x: field("x") },
        Some("EC") => Material::Ec { x: field("x"), y: field("y") },
        other => panic!("unexpected key type {other:?}"),
    }
}

fn known_key(name: &'static str, algs: &'static [Algorithm], encoding: EncodingKey) -> KnownKey {
    let jwk = Jwk::from_encoding_key(&encoding, algs[0]).expect("public JWK");
    let mut jwk = serde_json::to_value(jwk).expect("JWK as JSON");
    let object = jwk.as_object_mut().expect("object");
    object.remove("alg");
    object.remove("kid");
    object.remove("use");
    let material = material_of(&jwk);
    KnownKey { name, algs, encoding, material, jwk }
}

fn sign_message(key: &KnownKey, alg: Algorithm, message: &str) -> Option<String> {
    jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, alg).ok()
}

/// Signs `header` and `payload` (as given) with our key `key`.
fn sign(keys: &[KnownKey], key: usize, alg: Algorithm, header: &[u8], payload: &[u8]) -> Option<Signed> {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = sign_message(&keys[key], alg, &message)?;
    let token = format!("{message}.{signature}");
    let parts = decoded_parts(&token).expect("our tokens are base64url");
    Some(Signed { key, token, parts })
}

fn header_json(alg: Algorithm, kid: Option<&str>, typ: bool) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("alg".into(), serde_json::to_value(alg).unwrap());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    if typ {
        header.insert("typ".into(), "JWT".into());
    }
    serde_json::to_vec(&header).unwrap()
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        doorman::tokens::install_crypto_backend();
        let rsa = |pem| EncodingKey::from_rsa_pem(pem).expect("RSA fixture");
        let ec = |pem| EncodingKey::from_ec_pem(pem).expect("EC key");
        let ed = |pem| EncodingKey::from_ed_pem(pem).expect("Ed25519 key");
        let keys = vec![
            known_key("provider k1 (RSA)", &[Algorithm::RS256], rsa(PROVIDER_KEY)),
            known_key("provider k2 (RSA)", &[Algorithm::RS256, Algorithm::PS256], rsa(ROTATED_KEY)),
            known_key("provider k3 (Ed25519)", &[Algorithm::EdDSA], ed(ED25519_KEY)),
            known_key("provider k4 (P-256)", &[Algorithm::ES256], ec(PROVIDER_EC_KEY)),
            known_key("attacker (RSA)", &[Algorithm::RS256, Algorithm::PS256], rsa(ATTACKER_RSA_KEY)),
            known_key("attacker (Ed25519)", &[Algorithm::EdDSA], ed(ATTACKER_ED25519_KEY)),
            known_key("attacker (P-256)", &[Algorithm::ES256], ec(ATTACKER_EC_KEY)),
        ];
        // As providers publish them: k1 like Google's (alg, use, kid), k2 with the kid only.
        let published = |key: usize, kid: &str, extra: Value| {
            let mut jwk = keys[key].jwk.clone();
            jwk["kid"] = kid.into();
            for (k, v) in extra.as_object().unwrap() {
                jwk[k] = v.clone();
            }
            jwk
        };
        let genuine_jwks = json!({ "keys": [
            published(K1, "k1", json!({ "alg": "RS256", "use": "sig" })),
            published(K2, "k2", json!({})),
            published(K3, "k3", json!({ "alg": "EdDSA", "use": "sig" })),
            published(K4, "k4", json!({ "alg": "ES256", "use": "sig" })),
        ]});
        let genuine_jwks_bytes = serde_json::to_vec(&genuine_jwks).unwrap();
        let genuine_keys = SigningKeys::from_json(&genuine_jwks_bytes, DEFAULT_ADVERTISED).expect("genuine JWKS");
        assert_eq!(genuine_keys.len(), PROVIDER_KEYS, "openidconnect skipped one of our keys");
        let genuine_set: CoreJsonWebKeySet = serde_json::from_slice(&genuine_jwks_bytes).unwrap();

        let full = json!({
            "iss": ISSUER, "sub": "110169484474386276334", "aud": CLIENT_ID, "azp": CLIENT_ID,
            "exp": 4102444800u64, "iat": 1700000000, "nonce": NONCE, "email": "ada@example.test",
            "email_verified": true, "name": "Ada Lövelace", "picture": "https://img.example.test/a.png",
            "hd": "example.test", "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
        });
        let minimal = json!({
            "iss": ISSUER, "sub": "1", "aud": [CLIENT_ID], "exp": 4102444800u64, "iat": 1700000000,
        });
        let claims = vec![full, minimal];
        let mut signed = Vec::new();
        let mut add = |key: usize, alg: Algorithm, kid: Option<&str>, typ: bool, claims: &Value| {
            let s = sign(&keys, key, alg, &header_json(alg, kid, typ), &serde_json::to_vec(claims).unwrap());
            signed.push(s.expect("signing with our keys works"));
        };
        // The provider's tokens.
        for (key, kid) in [(K1, "k1"), (K2, "k2"), (K3, "k3"), (K4, "k4")] {
            for &alg in keys[key].algs {
                for c in &claims {
                    add(key, alg, Some(kid), true, c);
                }
                add(key, alg, None, false, &claims[0]);
            }
        }
        // The provider signed with k2 but named k1.
        add(K2, Algorithm::RS256, Some("k1"), true, &claims[0]);
        // The attacker's, under the provider's kids, none, and its own.
        for kid in [Some("k1"), Some("k2"), None, Some("evil")] {
            add(ATTACKER_RSA, Algorithm::RS256, kid, true, &claims[0]);
        }
        add(ATTACKER_RSA, Algorithm::PS256, Some("k2"), true, &claims[0]);
        add(ATTACKER_ED, Algorithm::EdDSA, Some("k3"), true, &claims[0]);
        add(ATTACKER_EC, Algorithm::ES256, Some("k4"), true, &claims[0]);

        let issuer = IssuerUrl::new(ISSUER.to_owned()).unwrap();
        let rules = IdTokenRules::new(issuer, false, ClientId::new(CLIENT_ID.to_owned()));
        let world = World { keys, signed, genuine_jwks, genuine_jwks_bytes, genuine_keys, genuine_set, rules, claims };
        // Self-check: the provider's tokens verify (the full ones with our nonce) when they name
        // their own key, or name none and only one published key fits their algorithm (not RS256:
        // k1 and k2 both do); the attacker's and the misnamed one do not.
        for s in &world.signed {
            let header: Value = serde_json::from_slice(&s.parts[0]).unwrap();
            let payload: Value = serde_json::from_slice(&s.parts[1]).unwrap();
            let nonce = payload.get("nonce").map(|_| NONCE);
            let result = world.rules.verify_str(&world.genuine_keys, &s.token, nonce);
            let expected = s.key < PROVIDER_KEYS
                && match header.get("kid").and_then(Value::as_str) {
                    Some(kid) => kid == ["k1", "k2", "k3", "k4"][s.key],
                    None => header["alg"] != "RS256",
                };
            assert_eq!(
                result.is_ok(),
                expected,
                "self-check: {} token {}: {result:?}",
                world.keys[s.key].name,
                s.token
            );
        }
        world
    })
}

/// The JWKS a case presents.
enum Jwks<'a> {
    Genuine,
    Bytes(&'a [u8]),
}

struct Case<'a> {
    token: &'a str,
    jwks: Jwks<'a>,
    advertised: Vec<&'static str>,
    nonce: Option<&'a str>,
    /// Tokens signed with our keys for this input only.
    extra: &'a [Signed],
}

fn allowed_algs(advertised: &[&str]) -> Vec<&'static str> {
    let allowed: Vec<&'static str> = ASYMMETRIC.iter().copied().filter(|a| advertised.contains(a)).collect();
    if allowed.is_empty() {
        vec!["RS256"]
    } else {
        allowed
    }
}

fn short(s: &str) -> String {
    if s.len() <= 600 {
        format!("{s:?}")
    } else {
        let mut end = 600;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?}... ({} bytes)", &s[..end], s.len())
    }
}

fn describe(world: &World, case: &Case) -> String {
    let jwks = match case.jwks {
        Jwks::Genuine => world.genuine_jwks_bytes.as_slice(),
        Jwks::Bytes(b) => b,
    };
    format!(
        "token {}, JWKS {}, advertised {:?}, nonce {:?}",
        short(case.token),
        short(&String::from_utf8_lossy(jwks)),
        case.advertised,
        case.nonce
    )
}

/// `ID_TOKENS_TRACE=1`: print every verdict (to see what a reproducer does).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("ID_TOKENS_TRACE").is_some_and(|v| v == "1"))
}

/// Presents the case; an accepted token must be one of our signed tokens whose key the JWKS
/// publishes under its kid.
fn check(world: &World, case: &Case) {
    let built;
    let keys = match case.jwks {
        Jwks::Genuine => &world.genuine_keys,
        Jwks::Bytes(bytes) => match SigningKeys::from_json(bytes, &case.advertised) {
            Ok(keys) => {
                built = keys;
                &built
            }
            Err(_) => return,
        },
    };
    let result = world.rules.verify_str(keys, case.token, case.nonce);
    if trace() {
        eprintln!(
            "id_tokens: {}: {}",
            result.as_ref().map_or_else(|e| format!("refused ({e:?})"), |_| "accepted".into()),
            describe(world, case)
        );
    }
    let known = decoded_parts(case.token)
        .and_then(|parts| world.signed.iter().chain(case.extra).find(|s| s.parts == parts).cloned());
    if let Ok(identity) = &result {
        oracle(world, case, known.as_ref(), identity);
    }
    if known.is_some() {
        differential(world, case, &result);
    }
}

fn oracle(world: &World, case: &Case, known: Option<&Signed>, identity: &Identity) {
    let Some(signed) = known else {
        panic!("FORGERY: accepted a token that no key of ours signed: {}", describe(world, case));
    };
    let key = &world.keys[signed.key];
    let header: Value = serde_json::from_slice(&signed.parts[0]).expect("we sign JSON headers");
    let alg = header["alg"].as_str().unwrap_or("");
    assert!(
        allowed_algs(&case.advertised).contains(&alg),
        "accepted alg {alg:?}, which is not allowed for advertised {:?}: {}",
        case.advertised,
        describe(world, case)
    );
    let kid = header.get("kid").and_then(Value::as_str);
    let jwks: Value = match case.jwks {
        Jwks::Genuine => world.genuine_jwks.clone(),
        Jwks::Bytes(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
    };
    let published = jwks["keys"].as_array().into_iter().flatten().any(|jwk| {
        same_material(jwk, &key.material) && kid.is_none_or(|kid| jwk.get("kid").and_then(Value::as_str) == Some(kid))
    });
    assert!(
        published,
        "FORGERY: accepted a token signed by {} (alg {alg:?}, kid {kid:?}) but the JWKS presented does not publish \
         that key under that kid: {}",
        key.name,
        describe(world, case)
    );
    let claims: Value = serde_json::from_slice(&signed.parts[1]).expect("we sign JSON claims");
    assert_eq!(Some(identity.subject.as_str()), claims["sub"].as_str(), "identity of another subject");
    assert_eq!(identity.issuer, ISSUER, "identity with another issuer");
}

/// openidconnect's own verification, signature included, with the same keys, algorithms and
/// clock as `IdTokenRules::verify`.
fn reference(jwks: &CoreJsonWebKeySet, advertised: &[&str], token: &str, nonce: Option<&str>) -> Result<(), String> {
    let id_token: CoreIdToken = token.parse().map_err(|e| format!("not a JWT: {e}"))?;
    let allowed: Vec<CoreJwsSigningAlgorithm> =
        allowed_algs(advertised).iter().map(|a| serde_json::from_value(json!(a)).unwrap()).collect();
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(CLIENT_ID.to_owned()),
        IssuerUrl::new(ISSUER.to_owned()).unwrap(),
        jwks.clone(),
    )
    .set_allowed_algs(allowed)
    .require_issuer_match(false)
    .set_time_fn(|| chrono::Utc::now() - chrono::Duration::seconds(60));
    let result = match nonce {
        Some(n) => id_token.claims(&verifier, &Nonce::new(n.to_owned())).map(|_| ()),
        None => id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())).map(|_| ()),
    };
    result.map_err(|e| format!("{e:?}"))
}

/// Compares doorman with openidconnect alone where the difference is the signature check.
fn differential(world: &World, case: &Case, result: &Result<Identity, OidcError>) {
    let signature_problem = match result {
        Ok(_) => None,
        Err(OidcError::InvalidIdToken(p @ (IdTokenProblem::BadSignature | IdTokenProblem::UnknownKey))) => Some(p),
        Err(_) => return,
    };
    let parsed;
    let set = match case.jwks {
        Jwks::Genuine => &world.genuine_set,
        Jwks::Bytes(bytes) => match serde_json::from_slice::<CoreJsonWebKeySet>(bytes) {
            Ok(set) => {
                parsed = set;
                &parsed
            }
            Err(_) => return,
        },
    };
    let theirs = reference(set, &case.advertised, case.token, case.nonce);
    let class = match (signature_problem, &theirs) {
        (None, Err(e)) => format!("doorman accepts, openidconnect refuses: {}", kind(e)),
        (Some(p), Ok(())) => format!("doorman refuses ({p}), openidconnect accepts"),
        _ => return,
    };
    divergence(&class, world, case, theirs.err());
}

/// The variant name of an error's Debug form, to group disagreements.
fn kind(error: &str) -> String {
    error.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(2).collect::<Vec<_>>().join(" ")
}

fn divergence(class: &str, world: &World, case: &Case, detail: Option<String>) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    if std::env::var("ID_TOKENS_DIVERGENCE").as_deref() == Ok("panic") {
        panic!("DIVERGENCE [{class}] ({detail:?}): {}", describe(world, case));
    }
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.get_or_insert_with(HashSet::new).insert(class.to_owned()) {
        eprintln!("id_tokens divergence [{class}] ({detail:?}): {}", describe(world, case));
    }
}

// ---- tokens ----

#[derive(Arbitrary, Debug)]
enum Edit {
    /// Replaces a byte with a base64url character (stays well-formed more often).
    Base64(u16, u8),
    Replace(u16, u8),
    Insert(u16, u8),
    Delete(u16),
    Truncate(u16),
    SwapSegments(u8, u8),
    /// Replaces one segment with the same segment of another signed token.
    Splice(u8, u8),
    Append(Vec<u8>),
    /// Flips the unused low bits of a segment's last character.
    TrailingBits(u8, u8),
    Pad(u8),
}

fn segments(token: &[u8]) -> Vec<Vec<u8>> {
    token.split(|&b| b == b'.').map(<[u8]>::to_vec).collect()
}

fn edit_token(world: &World, mut token: Vec<u8>, edits: Vec<Edit>) -> Vec<u8> {
    for edit in edits.into_iter().take(MAX_EDITS) {
        let at = |pos: u16, len: usize| if len == 0 { 0 } else { usize::from(pos) % len };
        match edit {
            Edit::Base64(pos, c) if !token.is_empty() => {
                let i = at(pos, token.len());
                token[i] = B64URL[usize::from(c) % B64URL.len()];
            }
            Edit::Replace(pos, b) if !token.is_empty() => {
                let i = at(pos, token.len());
                token[i] = b;
            }
            Edit::Insert(pos, b) => {
                let i = at(pos, token.len() + 1);
                token.insert(i, b);
            }
            Edit::Delete(pos) if !token.is_empty() => {
                let i = at(pos, token.len());
                token.remove(i);
            }
            Edit::Truncate(len) => token.truncate(usize::from(len)),
            Edit::SwapSegments(a, b) => {
                let mut segs = segments(&token);
                let n = segs.len();
                segs.swap(usize::from(a) % n, usize::from(b) % n);
                token = segs.join(&b'.');
            }
            Edit::Splice(seg, other) => {
                let donor = segments(world.signed[usize::from(other) % world.signed.len()].token.as_bytes());
                let mut segs = segments(&token);
                let i = usize::from(seg) % segs.len();
                segs[i] = donor[i % donor.len()].clone();
                token = segs.join(&b'.');
            }
            Edit::Append(bytes) => token.extend(bytes.into_iter().take(64)),
            Edit::TrailingBits(seg, bits) => {
                let mut segs = segments(&token);
                let n = segs.len();
                if let Some(last) = segs[usize::from(seg) % n].last_mut() {
                    if let Some(i) = B64URL.iter().position(|c| c == last) {
                        *last = B64URL[(i & !3) | usize::from(bits & 3)];
                    }
                }
                token = segs.join(&b'.');
            }
            Edit::Pad(seg) => {
                let mut segs = segments(&token);
                let n = segs.len();
                segs[usize::from(seg) % n].push(b'=');
                token = segs.join(&b'.');
            }
            _ => {}
        }
    }
    token
}

#[derive(Arbitrary, Debug)]
enum Kid {
    None,
    Known(u8),
    Other(String),
    Null,
    Number(i32),
}

#[derive(Arbitrary, Debug)]
enum Claims {
    /// The claims of a signed token, unchanged.
    Signed(u8),
    /// Our claims with fields overwritten (issuer, audience, nonce, expiry, subject...).
    Edited(bool, Vec<(ClaimName, ClaimValue)>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum ClaimName {
    Known(u8),
    Other(String),
}

const CLAIM_NAMES: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "nonce",
    "email",
    "email_verified",
    "name",
    "picture",
    "hd",
    "at_hash",
    "auth_time",
    "nbf",
    "acr",
    "amr",
];

#[derive(Arbitrary, Debug)]
enum ClaimValue {
    Remove,
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Issuer(u8),
    Audience(u8),
    Nonce,
    Far,
    Past,
    Array(Vec<String>),
    Object,
}

#[derive(Arbitrary, Debug)]
enum Extra {
    None,
    Cty(String),
    Crit,
    /// An attacker's public key embedded in the header (`jwk`), with its URL (`jku`) too.
    EmbeddedJwk(u8),
    X5u,
    Typ(String),
    DuplicateAlg(u8),
}

#[derive(Arbitrary, Debug)]
enum Signature {
    Empty,
    /// No third segment at all.
    Missing,
    /// HMAC keyed with what an attacker knows about a key.
    Hmac(u8, u8, Public),
    Transplant(u8),
    /// Signed by one of our keys: the attacker's, or the provider's Ed25519/P-256 key (cheap
    /// enough to sign per input; as if the provider had signed these claims).
    Key(u8),
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Public {
    N,
    NBase64,
    E,
    X,
    Jwk,
    Jwks,
    Kid,
    ClientId,
    Nonce,
    Empty,
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Forgery {
    alg: Result<u8, String>,
    kid: Kid,
    typ: bool,
    extra: Extra,
    claims: Claims,
    signature: Signature,
}

fn claim_value(world: &World, value: ClaimValue) -> Option<Value> {
    Some(match value {
        ClaimValue::Remove => return None,
        ClaimValue::Null => Value::Null,
        ClaimValue::Bool(b) => b.into(),
        ClaimValue::Int(n) => n.into(),
        ClaimValue::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ClaimValue::Str(s) => s.into(),
        ClaimValue::Issuer(i) => [
            "https://issuer.example/",
            "http://issuer.example",
            "accounts.google.com",
            ISSUER,
            "https://Issuer.example",
        ][usize::from(i) % 5]
            .into(),
        ClaimValue::Audience(i) => match i % 4 {
            0 => CLIENT_ID.into(),
            1 => json!([CLIENT_ID, "other"]),
            2 => json!([]),
            _ => json!(["other"]),
        },
        ClaimValue::Nonce => NONCE.into(),
        ClaimValue::Far => 253402300799u64.into(),
        ClaimValue::Past => 1000000000.into(),
        ClaimValue::Array(items) => items.into_iter().take(4).collect::<Vec<_>>().into(),
        ClaimValue::Object => json!({ "": world.claims[0]["sub"].clone() }),
    })
}

fn public_material(world: &World, key: usize, what: Public) -> Vec<u8> {
    let key = &world.keys[key % world.keys.len()];
    let jwk = &key.jwk;
    match what {
        Public::N => match &key.material {
            Material::Rsa { n, .. } => n.clone(),
            Material::Okp { x } | Material::Ec { x, .. } => x.clone(),
        },
        Public::NBase64 => jwk.get("n").or(jwk.get("x")).and_then(Value::as_str).unwrap_or("").as_bytes().to_vec(),
        Public::E => match &key.material {
            Material::Rsa { e, .. } => e.clone(),
            Material::Ec { y, .. } => y.clone(),
            Material::Okp { x } => x.clone(),
        },
        Public::X => jwk.get("x").and_then(Value::as_str).unwrap_or("").as_bytes().to_vec(),
        Public::Jwk => serde_json::to_vec(jwk).unwrap(),
        Public::Jwks => world.genuine_jwks_bytes.clone(),
        Public::Kid => b"k1".to_vec(),
        Public::ClientId => CLIENT_ID.as_bytes().to_vec(),
        Public::Nonce => NONCE.as_bytes().to_vec(),
        Public::Empty => Vec::new(),
        Public::Bytes(b) => b,
    }
}

fn forge(world: &World, u: &mut Unstructured, extra: &mut Vec<Signed>) -> arbitrary::Result<String> {
    let f: Forgery = u.arbitrary()?;
    let mut header = serde_json::Map::new();
    let alg = match &f.alg {
        Ok(n) => ALGS[usize::from(*n) % ALGS.len()].to_owned(),
        Err(s) => s.chars().take(32).collect(),
    };
    header.insert("alg".into(), alg.clone().into());
    match f.kid {
        Kid::None => {}
        Kid::Known(i) => {
            header.insert("kid".into(), KIDS[usize::from(i) % KIDS.len()].into());
        }
        Kid::Other(kid) => {
            header.insert("kid".into(), kid.chars().take(32).collect::<String>().into());
        }
        Kid::Null => {
            header.insert("kid".into(), Value::Null);
        }
        Kid::Number(n) => {
            header.insert("kid".into(), n.into());
        }
    }
    if f.typ {
        header.insert("typ".into(), "JWT".into());
    }
    let mut header = serde_json::to_vec(&header).unwrap();
    match f.extra {
        Extra::None => {}
        Extra::Cty(cty) => splice_field(&mut header, "cty", &json!(cty.chars().take(16).collect::<String>())),
        Extra::Crit => splice_field(&mut header, "crit", &json!(["exp"])),
        Extra::EmbeddedJwk(i) => {
            let attacker = [ATTACKER_RSA, ATTACKER_ED, ATTACKER_EC][usize::from(i) % 3];
            let mut jwk = world.keys[attacker].jwk.clone();
            jwk["kid"] = "k1".into();
            splice_field(&mut header, "jwk", &jwk);
            splice_field(&mut header, "jku", &json!("https://attacker.example/jwks"));
        }
        Extra::X5u => splice_field(&mut header, "x5u", &json!("https://attacker.example/cert")),
        Extra::Typ(typ) => splice_field(&mut header, "typ", &json!(typ.chars().take(16).collect::<String>())),
        // A second `alg`: parsers that keep the last one see another algorithm.
        Extra::DuplicateAlg(n) => splice_field(&mut header, "alg", &json!(ALGS[usize::from(n) % ALGS.len()])),
    }
    let payload = match f.claims {
        Claims::Signed(i) => world.signed[usize::from(i) % world.signed.len()].parts[1].clone(),
        Claims::Edited(minimal, fields) => {
            let mut claims = world.claims[usize::from(minimal)].as_object().unwrap().clone();
            for (name, value) in fields.into_iter().take(MAX_EDITS) {
                let name = match name {
                    ClaimName::Known(i) => CLAIM_NAMES[usize::from(i) % CLAIM_NAMES.len()].to_owned(),
                    ClaimName::Other(s) => s.chars().take(16).collect(),
                };
                match claim_value(world, value) {
                    Some(v) => claims.insert(name, v),
                    None => claims.remove(&name),
                };
            }
            serde_json::to_vec(&claims).unwrap()
        }
        Claims::Raw(bytes) => bytes.into_iter().take(1024).collect(),
    };
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(&header), URL_SAFE_NO_PAD.encode(&payload));
    let signature = match f.signature {
        Signature::Empty => String::new(),
        Signature::Missing => return Ok(message),
        Signature::Hmac(n, key, what) => {
            let secret = public_material(world, usize::from(key), what);
            let alg = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512][usize::from(n) % 3];
            jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(&secret), alg).unwrap_or_default()
        }
        Signature::Transplant(i) => {
            let token = &world.signed[usize::from(i) % world.signed.len()].token;
            token.rsplit('.').next().unwrap_or("").to_owned()
        }
        Signature::Key(k) => {
            let key = [ATTACKER_ED, ATTACKER_EC, K3, K4][usize::from(k) % 4];
            let signature = sign_message(&world.keys[key], world.keys[key].algs[0], &message).unwrap_or_default();
            let token = format!("{message}.{signature}");
            if let Some(parts) = decoded_parts(&token) {
                extra.push(Signed { key, token: token.clone(), parts });
            }
            signature
        }
        Signature::Bytes(bytes) => URL_SAFE_NO_PAD.encode(bytes.into_iter().take(600).collect::<Vec<_>>()),
    };
    Ok(format!("{message}.{signature}"))
}

/// Adds `"name": value` at the end of a JSON object's text (even if `name` is already there).
fn splice_field(object: &mut Vec<u8>, name: &str, value: &Value) {
    if object.last() == Some(&b'}') {
        object.pop();
        object.extend(format!(",{}:{}}}", json!(name), value).bytes());
    }
}

#[derive(Arbitrary, Debug)]
enum TokenSource {
    Signed(u8),
    Edited(u8, Vec<Edit>),
    Forged,
    Raw(String),
}

fn token(world: &World, u: &mut Unstructured, extra: &mut Vec<Signed>) -> arbitrary::Result<String> {
    Ok(match u.arbitrary::<TokenSource>()? {
        TokenSource::Signed(i) => world.signed[usize::from(i) % world.signed.len()].token.clone(),
        TokenSource::Edited(i, edits) => {
            let original = world.signed[usize::from(i) % world.signed.len()].token.as_bytes().to_vec();
            String::from_utf8_lossy(&edit_token(world, original, edits)).into_owned()
        }
        TokenSource::Forged => forge(world, u, extra)?,
        TokenSource::Raw(s) => s,
    })
}

// ---- JWKS ----

#[derive(Arbitrary, Debug)]
enum KidValue {
    Absent,
    Known(u8),
    Text(String),
    Number(i32),
    Null,
}

#[derive(Arbitrary, Debug)]
enum Choice {
    Absent,
    Named(u8),
    Text(String),
    Null,
    Number(i32),
}

#[derive(Arbitrary, Debug)]
enum FieldMutation {
    Base64(u16, u8),
    Truncate(u16),
    LeadingZeros(u8),
    DropLastByte,
    Pad,
    /// The same field of another key (an attacker's n under the provider's kid...).
    From(u8),
    /// Standard base64 (`+`, `/`) spelling of the same bytes.
    Standard,
    Text(String),
    Null,
    Number(i64),
}

#[derive(Arbitrary, Debug)]
enum JwksEdit {
    Remove(u8),
    Duplicate(u8),
    Swap(u8, u8),
    Kid(u8, KidValue),
    Alg(u8, Choice),
    Use(u8, Choice),
    Kty(u8, Choice),
    Crv(u8, Choice),
    AddAttacker(u8, KidValue, Choice, Choice),
    Field(u8, u8, FieldMutation),
    Unknown(u8, String),
}

const USES: &[&str] = &["sig", "enc", "SIG", "sig ", ""];
const KTYS: &[&str] = &["RSA", "EC", "OKP", "oct", "rsa", ""];
const CRVS: &[&str] = &["P-256", "P-384", "Ed25519", "X25519", "Ed448", "secp256k1"];
const FIELDS: &[&str] = &["n", "e", "x", "y", "d", "k"];

fn choice(c: Choice, names: &[&str]) -> Option<Value> {
    match c {
        Choice::Absent => None,
        Choice::Named(i) => Some(names[usize::from(i) % names.len()].into()),
        Choice::Text(s) => Some(s.chars().take(16).collect::<String>().into()),
        Choice::Null => Some(Value::Null),
        Choice::Number(n) => Some(n.into()),
    }
}

fn kid_value(k: KidValue) -> Option<Value> {
    match k {
        KidValue::Absent => None,
        KidValue::Known(i) => Some(KIDS[usize::from(i) % KIDS.len()].into()),
        KidValue::Text(s) => Some(s.chars().take(16).collect::<String>().into()),
        KidValue::Number(n) => Some(n.into()),
        KidValue::Null => Some(Value::Null),
    }
}

fn set(jwk: &mut Value, name: &str, value: Option<Value>) {
    if let Some(object) = jwk.as_object_mut() {
        match value {
            Some(v) => object.insert(name.to_owned(), v),
            None => object.remove(name),
        };
    }
}

fn mutate_field(world: &World, jwk: &mut Value, name: &str, m: FieldMutation) {
    let current = jwk.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
    let bytes = || URL_SAFE_NO_PAD.decode(&current).unwrap_or_default();
    let value = match m {
        FieldMutation::Base64(pos, c) => {
            let mut s = current.into_bytes();
            if !s.is_empty() {
                let i = usize::from(pos) % s.len();
                s[i] = B64URL[usize::from(c) % B64URL.len()];
            }
            Value::String(String::from_utf8(s).unwrap_or_default())
        }
        FieldMutation::Truncate(len) => current.chars().take(usize::from(len)).collect::<String>().into(),
        FieldMutation::LeadingZeros(n) => {
            let mut b = vec![0; usize::from(n % 4) + 1];
            b.extend(bytes());
            URL_SAFE_NO_PAD.encode(b).into()
        }
        FieldMutation::DropLastByte => {
            let mut b = bytes();
            b.pop();
            URL_SAFE_NO_PAD.encode(b).into()
        }
        FieldMutation::Pad => format!("{current}=").into(),
        FieldMutation::From(i) => {
            let donor = &world.keys[usize::from(i) % world.keys.len()].jwk;
            match donor.get(name) {
                Some(v) => v.clone(),
                None => return,
            }
        }
        FieldMutation::Standard => STANDARD.encode(bytes()).into(),
        FieldMutation::Text(s) => s.chars().take(64).collect::<String>().into(),
        FieldMutation::Null => Value::Null,
        FieldMutation::Number(n) => n.into(),
    };
    set(jwk, name, Some(value));
}

fn edit_jwks(world: &World, edits: Vec<JwksEdit>) -> Vec<u8> {
    let mut keys: Vec<Value> = world.genuine_jwks["keys"].as_array().unwrap().clone();
    for edit in edits.into_iter().take(MAX_EDITS) {
        let n = keys.len();
        let index = |i: u8| if n == 0 { None } else { Some(usize::from(i) % n) };
        match edit {
            JwksEdit::Remove(i) => {
                if let Some(i) = index(i) {
                    keys.remove(i);
                }
            }
            JwksEdit::Duplicate(i) => {
                if let Some(i) = index(i) {
                    if n < 16 {
                        keys.push(keys[i].clone());
                    }
                }
            }
            JwksEdit::Swap(a, b) => {
                if let (Some(a), Some(b)) = (index(a), index(b)) {
                    keys.swap(a, b);
                }
            }
            JwksEdit::Kid(i, kid) => {
                if let Some(i) = index(i) {
                    set(&mut keys[i], "kid", kid_value(kid));
                }
            }
            JwksEdit::Alg(i, c) => {
                if let Some(i) = index(i) {
                    set(&mut keys[i], "alg", choice(c, ALGS));
                }
            }
            JwksEdit::Use(i, c) => {
                if let Some(i) = index(i) {
                    set(&mut keys[i], "use", choice(c, USES));
                }
            }
            JwksEdit::Kty(i, c) => {
                if let Some(i) = index(i) {
                    set(&mut keys[i], "kty", choice(c, KTYS));
                }
            }
            JwksEdit::Crv(i, c) => {
                if let Some(i) = index(i) {
                    set(&mut keys[i], "crv", choice(c, CRVS));
                }
            }
            JwksEdit::AddAttacker(a, kid, alg, key_use) => {
                if n < 16 {
                    let attacker = [ATTACKER_RSA, ATTACKER_ED, ATTACKER_EC][usize::from(a) % 3];
                    let mut jwk = world.keys[attacker].jwk.clone();
                    set(&mut jwk, "kid", kid_value(kid));
                    set(&mut jwk, "alg", choice(alg, ALGS));
                    set(&mut jwk, "use", choice(key_use, USES));
                    keys.push(jwk);
                }
            }
            JwksEdit::Field(i, f, m) => {
                if let Some(i) = index(i) {
                    mutate_field(world, &mut keys[i], FIELDS[usize::from(f) % FIELDS.len()], m);
                }
            }
            JwksEdit::Unknown(i, name) => {
                if let Some(i) = index(i) {
                    set(&mut keys[i], &name.chars().take(16).collect::<String>(), Some(json!("x")));
                }
            }
        }
    }
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

#[derive(Arbitrary, Debug)]
enum JwksSource {
    Genuine,
    Edited(Vec<JwksEdit>),
    /// Bytes of the genuine JWKS replaced.
    ByteEdited(Vec<(u16, u8)>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum NonceChoice {
    Ours,
    None,
    Other(String),
}

fn advertised(bits: u16) -> Vec<&'static str> {
    ADVERTISABLE.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, a)| *a).collect()
}

fn with_edited_jwks(world: &World, u: &mut Unstructured) -> arbitrary::Result<()> {
    let mut extra = Vec::new();
    let token = token(world, u, &mut extra)?;
    let jwks = match u.arbitrary::<JwksSource>()? {
        JwksSource::Genuine => None,
        JwksSource::Edited(edits) => Some(edit_jwks(world, edits)),
        JwksSource::ByteEdited(edits) => {
            let mut bytes = world.genuine_jwks_bytes.clone();
            for (pos, b) in edits.into_iter().take(MAX_EDITS) {
                let i = usize::from(pos) % bytes.len();
                bytes[i] = b;
            }
            Some(bytes)
        }
        JwksSource::Raw(bytes) => Some(bytes),
    };
    let advertised = match u.arbitrary::<Option<u16>>()? {
        Some(bits) => advertised(bits),
        None => DEFAULT_ADVERTISED.to_vec(),
    };
    let nonce_choice: NonceChoice = u.arbitrary()?;
    let nonce = match &nonce_choice {
        NonceChoice::Ours => Some(NONCE),
        NonceChoice::None => None,
        NonceChoice::Other(s) => Some(s.as_str()),
    };
    let jwks = match &jwks {
        // The prebuilt genuine keys allow DEFAULT_ADVERTISED only.
        None if advertised == DEFAULT_ADVERTISED => Jwks::Genuine,
        None => Jwks::Bytes(&world.genuine_jwks_bytes),
        Some(bytes) => Jwks::Bytes(bytes),
    };
    check(world, &Case { token: &token, jwks, advertised, nonce, extra: &extra });
    Ok(())
}

fn genuine_case<'a>(token: &'a str, extra: &'a [Signed]) -> Case<'a> {
    Case { token, jwks: Jwks::Genuine, advertised: DEFAULT_ADVERTISED.to_vec(), nonce: Some(NONCE), extra }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let world = world();
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut u = Unstructured::new(rest);
    match mode % 5 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                check(world, &genuine_case(token, &[]));
            }
        }
        1 => {
            let Ok(i) = u.arbitrary::<u8>() else { return };
            let Ok(edits) = u.arbitrary::<Vec<Edit>>() else { return };
            let original = world.signed[usize::from(i) % world.signed.len()].token.as_bytes().to_vec();
            let token = edit_token(world, original, edits);
            check(world, &genuine_case(&String::from_utf8_lossy(&token), &[]));
        }
        2 => {
            let mut extra = Vec::new();
            if let Ok(token) = forge(world, &mut u, &mut extra) {
                check(world, &genuine_case(&token, &extra));
            }
        }
        3 => {
            let _ = with_edited_jwks(world, &mut u);
        }
        _ => {
            let [i, low, high, jwks @ ..] = rest else { return };
            let token = &world.signed[usize::from(*i) % world.signed.len()].token;
            let advertised = advertised(u16::from_le_bytes([*low, *high]));
            let case = Case { token, jwks: Jwks::Bytes(jwks), advertised, nonce: Some(NONCE), extra: &[] };
            check(world, &case);
        }
    }
});
