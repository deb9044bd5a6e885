//! Faults: the database going away and coming back, a provider that is slow or talks garbage.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::fake_provider::{Behaviour, FakeProvider, Key};
use crate::helpers::{param, unique, Options, TestApp};

/// The throwaway cluster `scripts/test` started for this test alone.
struct FaultCluster {
    data: String,
    port: String,
    bin: String,
}

impl FaultCluster {
    fn from_env() -> FaultCluster {
        let var = crate::helpers::required_env;
        FaultCluster { data: var("TEST_FAULT_PG_DATA"), port: var("TEST_FAULT_PG_PORT"), bin: var("TEST_PG_BIN") }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let pg_ctl = format!("{}/pg_ctl", self.bin);
        let mut command = if unsafe_is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &pg_ctl]);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let status = command.args(["-D", &self.data]).args(args).status().expect("pg_ctl runs");
        assert!(status.success(), "pg_ctl {args:?} failed");
    }

    fn stop(&self) {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    }

    fn start(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.data);
        let log = format!("{}/server.log", self.data);
        self.pg_ctl(&["-l", &log, "-w", "-t", "30", "-o", &options, "start"]);
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

fn unsafe_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false)
}

#[tokio::test]
async fn a_database_outage_gives_503s_in_bounded_time_and_the_app_recovers() {
    let cluster = FaultCluster::from_env();
    // Revocations are polled every 2 s: unknown (fail safe) 12 s into the outage.
    let options = Options { env: vec![("REVOCATION_POLL_SECONDS", "2".into())], ..Default::default() };
    let app = TestApp::spawn_on_database(&cluster.admin_url(), options).await;
    let browser = app.signed_in(&unique("outage")).await;
    assert_eq!(browser.get("/sessions").await.status(), StatusCode::OK);

    cluster.stop();
    let started = Instant::now();
    assert_eq!(browser.get("/readyz").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = browser.get("/sessions").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("database is unavailable"), "a friendly page");
    assert!(started.elapsed() < Duration::from_secs(10), "answers within the pool timeout: {:?}", started.elapsed());
    // Guarded pages that need no database keep working, and the process serves.
    assert_eq!(browser.get_json("/chat").await.status(), StatusCode::OK);
    assert_eq!(browser.get("/healthz").await.status(), StatusCode::OK);
    // A login during the outage fails cleanly and writes nothing half-way.
    let other = app.browser();
    let authorize = other.start_login(None).await;
    let callback = other.sign_in_at_provider(&authorize, &unique("during")).await;
    let failed = other.get(callback.as_str()).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!crate::helpers::set_cookies(&failed).contains_key("access_token"));
    // Once revocations have been unknown for six poll intervals, sessions are refused (503)
    // rather than trusted: a session ended elsewhere just before the outage cannot be told apart.
    let deadline = started + Duration::from_secs(30);
    loop {
        let chat = browser.get_json("/chat").await;
        if chat.status() == StatusCode::SERVICE_UNAVAILABLE {
            let body: serde_json::Value = chat.json().await.unwrap();
            assert!(body["detail"].as_str().unwrap().contains("cannot be checked"), "{body}");
            break;
        }
        assert_eq!(chat.status(), StatusCode::OK);
        assert!(Instant::now() < deadline, "sessions still trusted 30 s into the outage");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(started.elapsed() >= Duration::from_secs(8), "not before the staleness limit: {:?}", started.elapsed());

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while browser.get("/readyz").await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the app did not recover after the database came back");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Sessions are trusted again at the first successful poll (within REVOCATION_POLL_SECONDS).
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.get_json("/chat").await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "sessions not trusted again after the database came back");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(browser.get("/sessions").await.status(), StatusCode::OK, "recovered by itself");
    assert_eq!(app.signed_in(&unique("after")).await.get("/chat").await.status(), StatusCode::OK);
}

async fn login_against(fake: &FakeProvider, app: &TestApp) -> (StatusCode, Duration) {
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    let key = Key::trusted();
    fake.answer_with(key.sign(&fake.claims("slowpoke", &param(&authorize, "nonce"))));
    let started = Instant::now();
    let status = browser.get(&fake.callback_path(&authorize, "c")).await.status();
    (status, started.elapsed())
}

#[tokio::test]
async fn a_slow_token_endpoint_times_out_with_a_clear_page() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![("HTTP_TIMEOUT_SECONDS", "2".into())]).await;
    fake.behave(Behaviour::Slow(Duration::from_secs(6)));
    let (status, took) = login_against(&fake, &app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < Duration::from_secs(5), "bounded by HTTP_TIMEOUT_SECONDS: {took:?}");
    assert!(app.user_rows("slowpoke").is_empty());
    fake.behave(Behaviour::Normal);
    let (status, _) = login_against(&fake, &app).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "works again once the provider is back to normal");
}

#[tokio::test]
async fn a_token_endpoint_answering_garbage_gives_a_clear_page() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![]).await;
    fake.behave(Behaviour::Garbage);
    let (status, _) = login_against(&fake, &app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.browser().get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_app_starts_while_the_provider_is_down_and_recovers_when_it_returns() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let issuer = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn_with(Options {
        provider: Some((issuer, crate::fake_provider::CLIENT_ID.into(), crate::fake_provider::CLIENT_SECRET.into())),
        env: vec![("HTTP_TIMEOUT_SECONDS", "2".into())],
        ..Default::default()
    })
    .await;
    assert_eq!(app.browser().get("/login").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    let key = Key::trusted();
    let fake = FakeProvider::start_on(port, &[&key]).await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    assert!(authorize.as_str().starts_with(&fake.issuer), "discovery succeeded once the provider came up");
}
