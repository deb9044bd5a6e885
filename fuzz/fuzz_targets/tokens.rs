//! Token verification. Three key sets: two like the app's, HS256 access tokens (the default) and
//! EdDSA access tokens with a kid (JWT_PRIVATE_KEY_FILE), and a "staging" deployment that holds
//! the same JWT secret and SECRET_KEY but has another issuer and audience. Refresh tokens are
//! HS256 under a key derived from SECRET_KEY in all three; every token carries `iss` and `aud`.
//!
//! The first input byte picks a mode:
//! - 0: the rest, as a string, is presented as a token;
//! - 1: a genuine token is edited (bytes replaced, inserted, deleted, segments swapped or
//!   spliced from another genuine token);
//! - 2: a token is forged: chosen header (alg, kid), genuine or edited claims, and a signature
//!   from `none`, HMAC keyed with public material (alg confusion), an attacker's Ed25519 key, a
//!   transplanted genuine signature, or arbitrary bytes.
//!
//! Nothing may panic, and a token only verifies if it decodes (base64url, leniently: unused
//! trailing bits and padding ignored) to exactly the header, claims and signature of a token we
//! issued for that purpose by a key set with the same keys and parties (so never one from the
//! staging set in the others, nor the other way round). Byte-level differences that decode the
//! same are not counted as forgeries, since they carry no new content.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use doorman::tokens::{AccessSigner, Lifetimes, Parties, Profile, TokenKeys};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use uuid::Uuid;

const SECRET: &str = "fuzz-only-jwt-secret-0123456789abcdef";
/// SECRET_KEY, from which the refresh-token key is derived.
const SEED: &str = "fuzz-only-session-seed-0123456789abcdef";
const ISSUER: &str = "https://login.example.test";
const AUDIENCE: &str = "https://apps.example.test";
const STAGING_ISSUER: &str = "https://staging.example.test";
const STAGING_AUDIENCE: &str = "https://staging-apps.example.test";
const ACCESS_KEY: &[u8] = include_bytes!("../../tests/fixtures/access_ed25519.pem");
/// Fuzz-only Ed25519 key, made with `openssl genpkey -algorithm ed25519`; protects nothing.
const ATTACKER_KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    Refresh,
}

struct Genuine {
    key_set: usize,
    kind: Kind,
    token: String,
    parts: Vec<Vec<u8>>,
}

struct World {
    key_sets: [TokenKeys; 3],
    /// Key sets with the same access keys and parties.
    access_group: [u8; 3],
    /// Key sets with the same refresh key and parties.
    refresh_group: [u8; 3],
    genuine: Vec<Genuine>,
    ed_kid: String,
    ed_public_x: String,
    attacker: EncodingKey,
}

fn decoded_parts(token: &str) -> Option<Vec<Vec<u8>>> {
    token.split('.').map(|part| LENIENT.decode(part).ok()).collect()
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let secret = SecretString::from(SECRET);
        let seed = SecretString::from(SEED);
        let day = Duration::from_secs(86_400);
        let lifetimes = Lifetimes { access: day, refresh: 2 * day };
        let ours = || Parties { issuer: ISSUER.into(), audience: AUDIENCE.into() };
        let staging = Parties { issuer: STAGING_ISSUER.into(), audience: STAGING_AUDIENCE.into() };
        let signer = AccessSigner::asymmetric(ACCESS_KEY, None, None).expect("fixture key");
        let key_sets = [
            TokenKeys::new(&secret, &seed, None, lifetimes, ours()),
            TokenKeys::new(&secret, &seed, Some(signer), lifetimes, ours()),
            TokenKeys::new(&secret, &seed, None, lifetimes, staging),
        ];
        let jwk = &key_sets[1].jwks().expect("asymmetric keys publish a JWKS").keys[0];
        let ed_kid = jwk.common.key_id.clone().expect("kid");
        let ed_public_x = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(p) => p.x.clone(),
            other => panic!("unexpected key {other:?}"),
        };
        let user = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let sid = Uuid::from_u128(0xfedc_ba98_7654_3210_fedc_ba98_7654_3210);
        let profile = || Profile {
            email: Some("ada@example.test".into()),
            name: Some("Ada Lövelace \"<x>\"".into()),
            picture: Some("https://img.example.test/a.png".into()),
            idp: Some("corp".into()),
            email_verified: true,
        };
        let mut genuine = Vec::new();
        let mut add = |key_set: usize, kind: Kind, token: String| {
            let parts = decoded_parts(&token).expect("our tokens are base64url");
            genuine.push(Genuine { key_set, kind, token, parts });
        };
        for (i, keys) in key_sets.iter().enumerate() {
            add(i, Kind::Access, keys.issue_access(user, Some(sid), profile()).unwrap());
            add(i, Kind::Access, keys.issue_access(user, None, Profile::default()).unwrap());
        }
        add(0, Kind::Refresh, key_sets[0].issue_refresh(user, sid, "jti-0123456789").unwrap());
        add(2, Kind::Refresh, key_sets[2].issue_refresh(user, sid, "jti-0123456789").unwrap());
        let attacker = EncodingKey::from_ed_pem(ATTACKER_KEY).expect("attacker key");
        let world = World {
            key_sets,
            access_group: [0, 1, 2],
            refresh_group: [0, 0, 1],
            genuine,
            ed_kid,
            ed_public_x,
            attacker,
        };
        for g in &world.genuine {
            assert!(verifies(&world, g.key_set, g.kind, &g.token), "a genuine token does not verify");
        }
        world
    })
}

fn verifies(world: &World, key_set: usize, kind: Kind, token: &str) -> bool {
    let keys = &world.key_sets[key_set];
    match kind {
        Kind::Access => keys.verify_access(token).is_ok(),
        Kind::Refresh => keys.verify_refresh(token).is_ok(),
    }
}

/// Presents `token` everywhere; it may only verify where an identical (decoded) token we issued does.
fn check(world: &World, token: &str) {
    for key_set in 0..world.key_sets.len() {
        for kind in [Kind::Access, Kind::Refresh] {
            if !verifies(world, key_set, kind, token) {
                continue;
            }
            let parts = decoded_parts(token);
            let group = match kind {
                Kind::Access => &world.access_group,
                Kind::Refresh => &world.refresh_group,
            };
            let issued = world
                .genuine
                .iter()
                .any(|g| g.kind == kind && group[g.key_set] == group[key_set] && parts.as_ref() == Some(&g.parts));
            assert!(issued, "{token:?} verified as {kind:?} with key set {key_set} but is no token we issued");
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Edit {
    /// Replaces a byte with a base64url character (stays well-formed more often).
    Base64(u16, u8),
    Replace(u16, u8),
    Insert(u16, u8),
    Delete(u16),
    Truncate(u16),
    SwapSegments(u8, u8),
    /// Replaces one segment with the same segment of another genuine token.
    Splice(u8, u8),
    Append(Vec<u8>),
}

fn segments(token: &[u8]) -> Vec<Vec<u8>> {
    token.split(|&b| b == b'.').map(<[u8]>::to_vec).collect()
}

fn mutate(world: &World, u: &mut Unstructured) -> arbitrary::Result<()> {
    let original = u.choose(&world.genuine)?;
    let mut token = original.token.as_bytes().to_vec();
    let edits: Vec<Edit> = u.arbitrary()?;
    if edits.is_empty() {
        return Ok(());
    }
    for edit in edits.into_iter().take(8) {
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
                let donor = segments(world.genuine[usize::from(other) % world.genuine.len()].token.as_bytes());
                let mut segs = segments(&token);
                let i = usize::from(seg) % segs.len();
                segs[i] = donor[i % donor.len()].clone();
                token = segs.join(&b'.');
            }
            Edit::Append(bytes) => token.extend(bytes),
            _ => {}
        }
    }
    if let Ok(token) = std::str::from_utf8(&token) {
        check(world, token);
    }
    Ok(())
}

#[derive(Arbitrary, Debug)]
enum Kid {
    None,
    Ours,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Claims {
    /// The claims of a genuine token, unchanged.
    Genuine(u8),
    /// Genuine claims with fields overwritten (type flipped, expiry pushed out, another user…).
    Edited(u8, Vec<(String, Value)>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Access,
    Refresh,
    /// `iss`/`aud` values of the parties: ours, staging's, the refresh endpoint's.
    Party(u8),
}

const PARTIES: &[&str] = &[
    ISSUER,
    AUDIENCE,
    STAGING_ISSUER,
    STAGING_AUDIENCE,
    "https://login.example.test/api/v1/auth/token/refresh/",
    "https://staging.example.test/api/v1/auth/token/refresh/",
];

#[derive(Arbitrary, Debug)]
enum Signature {
    Empty,
    /// HMAC keyed with what an attacker knows: our public key, our kid, nothing, or any bytes.
    /// `true`: the raw public key; `false`: its base64url spelling from the JWKS.
    HmacPublicX(u8, bool),
    HmacKid(u8),
    HmacEmpty(u8),
    /// HMAC keyed with SECRET_KEY itself, not the key derived from it.
    HmacSeed(u8),
    HmacBytes(u8, Vec<u8>),
    Attacker,
    Transplant(u8),
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Forgery {
    alg: Result<u8, String>,
    kid: Kid,
    typ: Option<String>,
    claims: Claims,
    signature: Signature,
}

const ALGS: &[&str] =
    &["HS256", "HS384", "HS512", "EdDSA", "RS256", "PS256", "ES256", "none", "None", "NONE", "hs256", "Ed25519", ""];

fn hmac_alg(n: u8) -> Algorithm {
    [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512][usize::from(n) % 3]
}

fn forge(world: &World, u: &mut Unstructured) -> arbitrary::Result<()> {
    let f: Forgery = u.arbitrary()?;
    let mut header = serde_json::Map::new();
    let alg = match &f.alg {
        Ok(n) => ALGS[usize::from(*n) % ALGS.len()].to_owned(),
        Err(s) => s.clone(),
    };
    header.insert("alg".into(), alg.into());
    match &f.kid {
        Kid::None => {}
        Kid::Ours => {
            header.insert("kid".into(), world.ed_kid.clone().into());
        }
        Kid::Other(kid) => {
            header.insert("kid".into(), kid.clone().into());
        }
    }
    if let Some(typ) = &f.typ {
        header.insert("typ".into(), typ.clone().into());
    }
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    let payload = match f.claims {
        Claims::Genuine(i) => world.genuine[usize::from(i) % world.genuine.len()].parts[1].clone(),
        Claims::Edited(i, fields) => {
            let source = &world.genuine[usize::from(i) % world.genuine.len()].parts[1];
            let mut claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(source).unwrap();
            for (name, value) in fields {
                let value = match value {
                    Value::Null => serde_json::Value::Null,
                    Value::Bool(b) => b.into(),
                    Value::Int(n) => n.into(),
                    Value::Str(s) => s.into(),
                    Value::Access => "access".into(),
                    Value::Refresh => "refresh".into(),
                    Value::Party(i) => PARTIES[usize::from(i) % PARTIES.len()].into(),
                };
                claims.insert(name, value);
            }
            serde_json::to_vec(&claims).unwrap()
        }
        Claims::Raw(bytes) => bytes,
    };
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    let hmac = |n: u8, key: &[u8]| {
        if key == SECRET.as_bytes() {
            return None; // That would be signing, not forging.
        }
        jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(key), hmac_alg(n)).ok()
    };
    let signature = match f.signature {
        Signature::Empty => Some(String::new()),
        Signature::HmacPublicX(n, true) => hmac(n, &URL_SAFE_NO_PAD.decode(&world.ed_public_x).unwrap()),
        Signature::HmacPublicX(n, false) => hmac(n, world.ed_public_x.as_bytes()),
        Signature::HmacKid(n) => hmac(n, world.ed_kid.as_bytes()),
        Signature::HmacEmpty(n) => hmac(n, b""),
        Signature::HmacSeed(n) => hmac(n, SEED.as_bytes()),
        Signature::HmacBytes(n, key) => hmac(n, &key),
        Signature::Attacker => jsonwebtoken::crypto::sign(message.as_bytes(), &world.attacker, Algorithm::EdDSA).ok(),
        Signature::Transplant(i) => {
            let token = &world.genuine[usize::from(i) % world.genuine.len()].token;
            token.rsplit('.').next().map(str::to_owned)
        }
        Signature::Bytes(bytes) => Some(URL_SAFE_NO_PAD.encode(bytes)),
    };
    if let Some(signature) = signature {
        check(world, &format!("{message}.{signature}"));
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                check(world, token);
            }
        }
        1 => {
            let _ = mutate(world, &mut Unstructured::new(rest));
        }
        _ => {
            let _ = forge(world, &mut Unstructured::new(rest));
        }
    }
});
