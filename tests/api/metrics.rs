//! Prometheus metrics: only on METRICS_BIND_ADDR, in a format a real parser reads (the Python
//! `prometheus_client` parser), and counters that move with logins, refreshes and verifies.

use std::collections::HashMap;
use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::{unique, Options, TestApp};

/// Every sample of the exposition, parsed by prometheus_client: "name{label=value,…}" → value.
fn parse(exposition: &str) -> HashMap<String, f64> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    // Debian's interpreter, where scripts/test installs python3-prometheus-client (a python3
    // earlier on PATH, e.g. pyenv's, would not have it); TEST_PYTHON overrides.
    let python = std::env::var("TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_owned());
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "prometheus_client could not parse the exposition (scripts/test installs python3-prometheus-client): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let url = format!("{}/metrics", app.metrics_address.as_ref().expect("METRICS_BIND_ADDR is set"));
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    parse(&response.text().await.unwrap())
}

fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    *samples.get(key).unwrap_or_else(|| panic!("no sample {key} in {samples:?}"))
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_move_with_the_traffic() {
    let app =
        TestApp::spawn_with(Options { env: vec![("METRICS_BIND_ADDR", "127.0.0.1:0".into())], ..Default::default() })
            .await;
    assert_eq!(reqwest::get(app.url("/metrics")).await.unwrap().status(), StatusCode::NOT_FOUND, "never public");
    let before = scrape(&app).await;
    assert_eq!(value(&before, "doorman_logins_total{outcome=success,provider=google}"), 0.0);

    let browser = app.signed_in(&unique("counted")).await;
    assert_eq!(browser.get("/auth/verify").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.browser().get("/auth/verify").await.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = app.api_refresh(&browser.cookie("refresh_token").unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.api_refresh("not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let denied = app.browser();
    let authorize = denied.start_login(None).await;
    let state = crate::helpers::param(&authorize, "state");
    assert_eq!(denied.get(&format!("/auth?error=access_denied&state={state}")).await.status(), StatusCode::FORBIDDEN);

    let after = scrape(&app).await;
    assert_eq!(value(&after, "doorman_logins_total{outcome=success,provider=google}"), 1.0);
    assert_eq!(value(&after, "doorman_logins_total{outcome=denied,provider=google}"), 1.0);
    assert_eq!(value(&after, "doorman_token_refreshes_total{outcome=success}"), 1.0);
    assert_eq!(value(&after, "doorman_token_refreshes_total{outcome=invalid}"), 1.0);
    assert_eq!(value(&after, "doorman_verify_total{outcome=allowed}"), 1.0);
    assert_eq!(value(&after, "doorman_verify_total{outcome=unauthenticated}"), 1.0);
    assert!(value(&after, "doorman_http_requests_total{status=303}") >= 2.0, "/login and /auth");
    assert!(value(&after, "doorman_http_requests_total{status=204}") >= 1.0);
    let counted = value(&after, "doorman_http_request_duration_seconds_count{}");
    assert!(counted >= 7.0, "every request is timed: {counted}");
    assert!(value(&after, "doorman_http_request_duration_seconds_bucket{le=+Inf}") == counted);
    // Labels stay bounded: no user, session or path anywhere.
    assert!(after.keys().all(|k| !k.contains("user=") && !k.contains("path=")), "{:?}", after.keys());
}
