//! The binary refuses bad configuration with one line naming the variable.

use std::process::Command;

fn run_with(env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorman"));
    // An empty working directory, so the repository's .env is not read.
    let dir = std::env::temp_dir().join(format!("doorman-startup-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    command.current_dir(&dir).env_clear();
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

const GOOD: [(&str, &str); 7] = [
    ("BIND_ADDR", "127.0.0.1:0"),
    ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
    ("GOOGLE_CLIENT_ID", "client"),
    ("GOOGLE_CLIENT_SECRET", "dev-only-secret"),
    ("OIDC_ISSUER", "http://127.0.0.1:1"),
    ("SECRET_KEY", "dev-only-session-key-0123456789abcdef"),
    ("JWT_SECRET_KEY", "dev-only-jwt-key-0123456789abcdef01234"),
];

fn with(overrides: &[(&'static str, &'static str)], without: &str) -> Vec<(&'static str, &'static str)> {
    let mut env: Vec<_> = GOOD.iter().copied().filter(|(k, _)| *k != without).collect();
    for (k, v) in overrides {
        env.retain(|(key, _)| key != k);
        env.push((k, v));
    }
    env
}

#[test]
fn missing_and_bad_variables_stop_the_server_with_one_named_line() {
    for (env, var) in [
        (with(&[], "DATABASE_URL"), "DATABASE_URL"),
        (with(&[("SECRET_KEY", "short")], ""), "SECRET_KEY"),
        (with(&[("COOKIE_SECURE", "perhaps")], ""), "COOKIE_SECURE"),
        (with(&[("OIDC_ISSUER", "https://accounts.google.com")], ""), "SECRET_KEY"),
    ] {
        let (code, stderr) = run_with(&env);
        assert_eq!(code, 2, "{var}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(var), "{stderr}");
        assert!(!stderr.contains("dev-only"), "secrets never printed: {stderr}");
    }
}

#[test]
fn an_unreachable_database_stops_the_server_with_a_clear_message() {
    let (code, stderr) = run_with(&GOOD);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("nobody@"), "the URL (credentials) is not printed: {stderr}");
}

#[tokio::test]
async fn instances_starting_together_on_a_new_database_both_come_up() {
    let database_url = crate::helpers::fresh_database(&crate::helpers::required_env("TEST_DATABASE_URL"));
    let settings = || {
        let mut env: std::collections::HashMap<String, String> =
            GOOD.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.insert("DATABASE_URL".into(), database_url.clone());
        doorman::config::Settings::from_source(env).unwrap()
    };
    let listener = || std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, b) = tokio::join!(
        doorman::startup::Application::build_with_listener(settings(), listener()),
        doorman::startup::Application::build_with_listener(settings(), listener()),
    );
    assert!(a.is_ok() && b.is_ok(), "both migrate without tripping over each other: {:?} {:?}", a.err(), b.err());
}
