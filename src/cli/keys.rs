//! `doorman keys generate`: a new access-token signing key for JWT_PRIVATE_KEY_FILE, written
//! with mode 0600 and never over an existing file; prints its kid and public JWK (what
//! `/.well-known/jwks.json` will publish), for the key-rotation steps of the README.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use base64::Engine;

use super::{KeyAlg, REFUSED, USAGE};
use crate::tokens::AccessSigner;

pub(super) fn generate(alg: KeyAlg, bits: usize, out: &Path) -> ExitCode {
    let pem = match alg {
        KeyAlg::Ed25519 => ed25519(),
        KeyAlg::Rs256 => rsa_key(bits),
    };
    let pem = match pem {
        Ok(pem) => pem,
        Err(e) => {
            eprintln!("keys generate: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let signer = match AccessSigner::asymmetric(pem.as_bytes(), None, None) {
        Ok(signer) => signer,
        Err(e) => {
            eprintln!("keys generate: the new key does not load: {e}");
            return ExitCode::from(REFUSED);
        }
    };
    if let Err(e) = write_private(out, pem.as_bytes()) {
        eprintln!("keys generate: cannot write {}: {e}", out.display());
        return ExitCode::from(REFUSED);
    }
    let jwk = signer.jwks().and_then(|set| set.keys.first()).and_then(|k| serde_json::to_string(k).ok());
    let kid = signer.jwks().and_then(|set| set.keys.first()).and_then(|k| k.common.key_id.clone());
    println!("wrote {} (mode 0600)", out.display());
    println!("kid: {}", kid.unwrap_or_default());
    println!("public JWK: {}", jwk.unwrap_or_default());
    ExitCode::SUCCESS
}

/// The DER of an RFC 8410 Ed25519 private key (PKCS#8 v1) before its 32-byte seed. Written by
/// hand because ring's generator makes PKCS#8 v2 (with the public key), which the key loader
/// (jsonwebtoken) does not read, and ring does not give the seed back.
const ED25519_PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

fn ed25519() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut seed = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut seed).map_err(|_| "no system randomness".to_owned())?;
    let der: Vec<u8> = ED25519_PKCS8_PREFIX.iter().chain(seed.iter()).copied().collect();
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    Ok(format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n")))
}

/// An RSA key of `bits` (2048, 3072 or 4096) as PKCS#8 PEM.
fn rsa_key(bits: usize) -> Result<String, String> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    if ![2048, 3072, 4096].contains(&bits) {
        return Err(format!("--bits must be 2048, 3072 or 4096 for rs256, got {bits}"));
    }
    let key =
        rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).map_err(|e| format!("cannot generate the key: {e}"))?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| format!("cannot encode the key: {e}"))?;
    Ok(pem.as_str().to_owned())
}

/// Creates the file (failing if it exists) readable by its owner only.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
