//! The binary's subcommands, run as an operator runs them: `check`, `migrate`, `keys generate`,
//! usage errors; against a real PostgreSQL and the real provider.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::helpers::{fresh_database, required_env};

/// The doorman binary, in an empty working directory (no `.env`), with exactly `env`.
pub(crate) fn doorman(args: &[&str], env: &[(&str, String)]) -> Output {
    let dir = std::env::temp_dir().join(format!("doorman-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(args)
        .current_dir(&dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .env("RUST_LOG", "warn")
        .output()
        .expect("the doorman binary runs");
    let _ = std::fs::remove_dir_all(&dir);
    output
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn base_env(database_url: String) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url),
        ("OIDC_ISSUER", required_env("TEST_OIDC_ISSUER")),
        ("GOOGLE_CLIENT_ID", "cli-client".into()),
        ("GOOGLE_CLIENT_SECRET", "cli-client-secret".into()),
        ("SECRET_KEY", format!("cli-session-key-{}", uuid::Uuid::new_v4())),
        ("JWT_SECRET_KEY", format!("cli-jwt-key-{}", uuid::Uuid::new_v4())),
        ("COOKIE_SECURE", "false".into()),
    ]
}

#[test]
fn bad_usage_and_bad_configuration_exit_with_2() {
    let bogus = doorman(&["bogus"], &[]);
    assert_eq!(bogus.status.code(), Some(2));
    assert!(text(&bogus.stderr).contains("unrecognized subcommand 'bogus'"), "{}", text(&bogus.stderr));
    assert_eq!(doorman(&["--help"], &[]).status.code(), Some(0));
    let unconfigured = doorman(&["check"], &[]);
    assert_eq!(unconfigured.status.code(), Some(2));
    let stderr = text(&unconfigured.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

#[test]
fn keys_generate_writes_a_private_key_the_server_accepts() {
    let (out, kid, jwk) = generated_key("ed25519");
    let path = out.to_str().unwrap();
    assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
    let again = doorman(&["keys", "generate", "--out", path], &[]);
    assert_eq!(again.status.code(), Some(1), "never overwrites");
    let small = doorman(&["keys", "generate", "--alg", "rs256", "--bits", "1024", "--out", "/tmp/never.pem"], &[]);
    assert_eq!(small.status.code(), Some(2), "RSA under 2048 bits is refused");
    assert!(text(&small.stderr).contains("--bits must be 2048"), "{}", text(&small.stderr));

    the_server_loads(path, &kid);
    let _ = std::fs::remove_file(PathBuf::from(path));
}

/// `keys generate --alg ALG` into a new file: the file (mode 0600), the printed kid, and the
/// printed public JWK (which names that kid and has no private part).
fn generated_key(alg: &str) -> (PathBuf, String, serde_json::Value) {
    let out = std::env::temp_dir().join(format!("doorman-{alg}-{}.pem", uuid::Uuid::new_v4().simple()));
    let generated = doorman(&["keys", "generate", "--alg", alg, "--out", out.to_str().unwrap()], &[]);
    assert_eq!(generated.status.code(), Some(0), "{}", text(&generated.stderr));
    let stdout = text(&generated.stdout);
    let kid = stdout.lines().find_map(|l| l.strip_prefix("kid: ")).expect("prints the kid").to_owned();
    let jwk: serde_json::Value =
        serde_json::from_str(stdout.lines().find_map(|l| l.strip_prefix("public JWK: ")).unwrap()).unwrap();
    assert_eq!(jwk["kid"].as_str(), Some(kid.as_str()));
    assert!(jwk.get("d").is_none(), "only the public part is printed");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    (out, kid, jwk)
}

/// `check` loads the key file as the server would and names its kid.
fn the_server_loads(key_file: &str, kid: &str) {
    let database = fresh_database(&required_env("TEST_DATABASE_URL"));
    let mut env = base_env(database);
    env.push(("JWT_PRIVATE_KEY_FILE", key_file.to_owned()));
    assert_eq!(doorman(&["migrate"], &env).status.code(), Some(0));
    let check = doorman(&["check"], &env);
    assert!(
        text(&check.stdout).contains(&format!("ok   signing key: asymmetric, kid {kid}")),
        "{}",
        text(&check.stdout)
    );
}

#[test]
fn keys_generate_writes_an_rsa_key_the_server_accepts() {
    let (out, kid, jwk) = generated_key("rs256");
    assert_eq!((jwk["kty"].as_str(), jwk["alg"].as_str()), (Some("RSA"), Some("RS256")));
    let modulus = jwk["n"].as_str().unwrap();
    assert_eq!(modulus.len(), 342, "2048 bits of modulus in base64url");
    assert!(jwk.get("p").is_none(), "only the public part is printed");
    the_server_loads(out.to_str().unwrap(), &kid);
    let _ = std::fs::remove_file(out);
}

#[test]
fn check_names_each_problem_and_migrate_fixes_the_database() {
    let env = base_env(fresh_database(&required_env("TEST_DATABASE_URL")));
    let before = doorman(&["check"], &env);
    let stdout = text(&before.stdout);
    assert_eq!(before.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ok   configuration: valid; providers google"), "{stdout}");
    assert!(
        stdout.contains("FAIL database: reachable,") && stdout.contains("pending: run `doorman migrate`"),
        "{stdout}"
    );
    assert!(stdout.contains("ok   provider google: discovery and"), "{stdout}");
    assert!(stdout.contains("ok   signing key: HS256 with JWT_SECRET_KEY"), "{stdout}");

    let migrated = doorman(&["migrate"], &env);
    assert_eq!(migrated.status.code(), Some(0), "{}", text(&migrated.stderr));
    assert!(text(&migrated.stdout).contains("the database is up to date"));
    let after = doorman(&["check"], &env);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after.stdout));
    assert!(text(&after.stdout).contains("ok   database: reachable, every migration applied"));
    assert!(!text(&after.stdout).contains("FAIL"));

    // A provider that is down, and a database that is not there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let mut down = env.clone();
    down.extend([
        ("PROVIDERS", "google,corp".to_owned()),
        ("PROVIDER_CORP_ISSUER", dead.clone()),
        ("PROVIDER_CORP_CLIENT_ID", "c".into()),
        ("PROVIDER_CORP_CLIENT_SECRET", "s".into()),
        ("HTTP_TIMEOUT_SECONDS", "2".into()),
    ]);
    let check = doorman(&["check"], &down);
    let stdout = text(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ok   provider google")
            && stdout.contains("FAIL provider corp: the identity provider is unavailable"),
        "{stdout}"
    );
    let mut no_db = env.clone();
    no_db[0].1 = dead.replace("http://", "postgres://postgres@") + "/nowhere";
    let check = doorman(&["check"], &no_db);
    assert_eq!(check.status.code(), Some(1));
    assert!(text(&check.stdout).contains("FAIL database: cannot connect to the database"), "{}", text(&check.stdout));
}
