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

/// The request log end to end: each request one line, written by the writer thread from the
/// worker's record, with the proxy's id, the client, method, path without its query, status,
/// size and duration; a request from many threads at once loses none.
#[tokio::test]
async fn every_request_is_one_line_with_its_fields() {
    let fake = FakeProvider::start(&[&Key::trusted()]).await;
    let app = Binary::start(&fake, &[]).await;
    let client = reqwest::Client::new();
    let ask = |path: String, id: String| client.get(format!("{}{path}", app.address)).header("x-request-id", id).send();
    let answers = futures_util::future::join_all(
        (0..200).map(|n| ask(format!("/readyz?code=secret-{n}"), format!("log-test-{n:04}"))),
    )
    .await;
    assert!(answers.iter().all(|a| a.as_ref().is_ok_and(|r| r.status() == StatusCode::OK)));
    let missing = ask("/no\"such".to_owned(), "log-test-missing".to_owned()).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let log = app.log().await;

    for n in 0..200 {
        let id = format!("request_id=log-test-{n:04} ");
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&id)).collect();
        assert_eq!(lines.len(), 1, "one line for request {n}: {lines:?}");
        let line = lines[0];
        let (head, fields) = line.split_once(" INFO  request] ").unwrap_or_else(|| panic!("{line}"));
        assert!(chrono::DateTime::parse_from_rfc3339(&head[1..]).is_ok(), "{line}");
        let rest = fields.strip_prefix(&format!("{id}client=127.0.0.1 method=GET path=\"/readyz\" status=200 bytes="));
        let (bytes, duration) = rest.and_then(|r| r.split_once(" duration_ms=")).unwrap_or_else(|| panic!("{line}"));
        assert!(bytes.parse::<u64>().is_ok_and(|b| b > 0), "{line}");
        let (whole, fraction) = duration.split_once('.').unwrap_or_else(|| panic!("{line}"));
        assert!(whole.parse::<u64>().is_ok() && fraction.len() == 3 && fraction.parse::<u16>().is_ok(), "{line}");
    }
    assert!(!log.contains("secret-"), "never the query string");
    assert!(
        log.lines()
            .any(|l| l
                .contains("request_id=log-test-missing client=127.0.0.1 method=GET path=\"/no%22such\" status=404 ")),
        "{log}"
    );
}

/// The gateway's allowed checks are logged at debug: the proxy logs the request itself. Its
/// refusals are logged at info, and `request=debug` brings the allowed ones back.
#[tokio::test]
async fn the_gateways_allowed_checks_are_logged_only_at_debug() {
    let fake = FakeProvider::start(&[&Key::trusted()]).await;
    let secret = format!("log-test-jwt-key-{}", uuid::Uuid::new_v4());
    for (filter, allowed_logged) in [("info", false), ("info,request=debug", true)] {
        let app = Binary::start(&fake, &[("JWT_SECRET_KEY", &secret), ("RUST_LOG", filter)]).await;
        let keys = crate::guard::minting_keys(&secret, &app.address, &app.address);
        let token = keys.issue_access(uuid::Uuid::new_v4(), None, Default::default()).unwrap();
        let client = reqwest::Client::new();
        for (route, token, id) in [
            ("/auth/verify", Some(&token), "allowed-verify-1"),
            ("/auth/forward", Some(&token), "allowed-forward-1"),
            ("/auth/verify", None, "refused-verify-1"),
            ("/auth/verify?allowed_domains=elsewhere.test", Some(&token), "refused-rule-001"),
        ] {
            let mut request = client.get(format!("{}{route}", app.address)).header("x-request-id", id);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let status = request.send().await.unwrap().status();
            assert_eq!(status.is_success(), id.starts_with("allowed"), "{route} {status}");
        }
        let log = app.log().await;
        let line = |id: &str| log.lines().find(|l| l.contains(&format!("request_id={id} "))).map(str::to_owned);
        for id in ["allowed-verify-1", "allowed-forward-1"] {
            match line(id) {
                Some(l) => assert!(allowed_logged && l.contains(" DEBUG request] "), "{filter}: {l}"),
                None => assert!(!allowed_logged, "{filter}: no line for {id} in {log}"),
            }
        }
        assert!(line("refused-verify-1").is_some_and(|l| l.contains(" INFO  request] ") && l.contains("status=401")));
        assert!(line("refused-rule-001").is_some_and(|l| l.contains(" INFO  request] ") && l.contains("status=403")));
    }
}
