//! What reaches the log, read from the real binary's stderr: one line per event, whatever a
//! client puts into a token, and a line for every security event worth a look.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::fake_provider::{FakeProvider, Key, CLIENT_ID, CLIENT_SECRET};
use crate::helpers::{fresh_database, param, required_env, Browser};

/// The binary, signing in with `fake`, its stderr piped.
struct Binary {
    child: Child,
    address: String,
}

impl Binary {
    async fn start(fake: &FakeProvider, env: &[(&str, &str)]) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("doorman-logs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_doorman"))
            .current_dir(&dir)
            .env_clear()
            .envs([
                ("DATABASE_URL", fresh_database(&required_env("TEST_DATABASE_URL"))),
                ("GOOGLE_CLIENT_ID", CLIENT_ID.to_owned()),
                ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
                ("OIDC_ISSUER", fake.issuer.clone()),
                ("REDIRECT_URL", format!("http://127.0.0.1:{port}/auth")),
                ("BIND_ADDR", format!("127.0.0.1:{port}")),
                ("COOKIE_SECURE", "false".to_owned()),
                ("SECRET_KEY", format!("test-session-key-{}", uuid::Uuid::new_v4())),
                ("JWT_SECRET_KEY", format!("test-jwt-key-{}", uuid::Uuid::new_v4())),
                ("RUST_LOG", "info".to_owned()),
            ])
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let address = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client.get(format!("{address}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Binary { child, address }
    }

    /// Stops it gracefully (SIGTERM: the server flushes its batched log before it exits, which
    /// a fixed wait and SIGKILL did not guarantee on a loaded machine) and returns what it logged.
    async fn log(mut self) -> String {
        let pid = self.child.id().to_string();
        let term = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(term.success(), "SIGTERM to the app");
        let mut log = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
        self.child.wait().unwrap();
        log
    }
}

#[tokio::test]
async fn a_newline_in_a_tokens_audience_does_not_start_a_log_line() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = Binary::start(&fake, &[]).await;
    let forged_line = "[2026-12-01T00:00:00Z INFO  request] forged=yes";
    let mut claims = fake.claims("injector", "");
    claims.as_object_mut().unwrap().remove("nonce");
    claims["aud"] = json!([CLIENT_ID, format!("x\n{forged_line}\r\u{1b}[2K")]);
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/google/", app.address))
        .json(&json!({ "token": key.sign(&claims) }))
        .send()
        .await;
    let status = response.map(|r| r.status());
    let log = app.log().await;
    assert_eq!(status.unwrap(), StatusCode::UNAUTHORIZED, "{log}");
    let refusal = log.lines().find(|l| l.contains("login failed")).unwrap_or_else(|| panic!("no refusal in {log}"));
    assert!(refusal.contains("x\\n[2026-12-01T00:00:00Z"), "the newline is escaped: {refusal}");
    assert!(!log.lines().any(|l| l.starts_with(forged_line)), "no forged line: {log}");
    assert!(!log.contains('\r') && !log.contains('\u{1b}'), "no raw control characters: {log:?}");
}

#[tokio::test]
async fn every_use_of_the_two_tabs_grace_is_logged() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = Binary::start(&fake, &[("ACCESS_TOKEN_TTL_SECONDS", "1"), ("TOKEN_LEEWAY_SECONDS", "0")]).await;
    let browser = Browser::new(&app.address);
    let authorize = browser.start_login(None).await;
    fake.answer_with(key.sign(&fake.claims("tabs", &param(&authorize, "nonce"))));
    assert_eq!(browser.get(&fake.callback_path(&authorize, "code")).await.status(), StatusCode::SEE_OTHER);
    let (access, refresh) = (browser.cookie("access_token").unwrap(), browser.cookie("refresh_token").unwrap());
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let tab = || {
        reqwest::Client::new()
            .get(format!("{}/chat", app.address))
            .header("accept", "application/json")
            .header("user-agent", "Tabs/1.0")
            .header("cookie", format!("access_token={access}; refresh_token={refresh}"))
            .send()
    };
    let (a, b) = tokio::join!(tab(), tab());
    let statuses = (a.unwrap().status(), b.unwrap().status());
    let log = app.log().await;
    assert_eq!(statuses, (StatusCode::OK, StatusCode::OK), "{log}");
    assert_eq!(log.lines().filter(|l| l.contains("(grace)")).count(), 1, "one grace use, one line: {log}");
}
