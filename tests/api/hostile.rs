//! Hostile input: every request gets a 4xx and the process keeps serving.

use reqwest::{header, StatusCode};
use serde_json::json;

use crate::fake_provider::{FakeProvider, Key};
use crate::helpers::{location, unique, Options, TestApp};

async fn still_serving(app: &TestApp) {
    assert_eq!(app.browser().get("/healthz").await.status(), StatusCode::OK, "the process keeps serving");
}

#[tokio::test]
async fn oversized_and_malformed_cookies_and_headers_get_4xx() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let big = "a".repeat(9 * 1024);
    let response =
        client.get(app.url("/chat")).header(header::COOKIE, format!("access_token={big}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let json = client
        .get(app.url("/chat"))
        .header("x-padding", &big)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(json.json::<serde_json::Value>().await.unwrap()["error"], "headers_too_large");
    let long_uri = client.get(app.url(&format!("/login?next=/{big}"))).send().await.unwrap();
    assert_eq!(long_uri.status(), StatusCode::URI_TOO_LONG);
    let body = client
        .post(app.url("/api/v1/auth/google/"))
        .json(&json!({"token": "a".repeat(100 * 1024)}))
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), StatusCode::PAYLOAD_TOO_LARGE);
    for cookie in [
        "access_token=%FF%FE",
        "access_token=eyJhbGciOiJub25lIn0.e30.",
        "refresh_token=not.a.jwt",
        "doorman_login=garbage; access_token=",
        "access_token=a.b.c; refresh_token=x.y.z",
    ] {
        let r = client
            .get(app.url("/chat"))
            .header(header::COOKIE, cookie)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{cookie}");
        let r = client.get(app.url("/auth?code=x&state=y")).header(header::COOKIE, cookie).send().await.unwrap();
        assert!(r.status().is_client_error(), "{cookie}: {}", r.status());
    }
    let r = client
        .get(app.url("/chat"))
        .header(header::AUTHORIZATION, "Bearer ")
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    still_serving(&app).await;
}

#[tokio::test]
async fn forged_access_tokens_are_refused_in_asymmetric_mode() {
    let key_file = format!("{}/tests/fixtures/provider_key.pem", env!("CARGO_MANIFEST_DIR"));
    let app = TestApp::spawn_with(Options {
        env: vec![("JWT_PRIVATE_KEY_FILE", key_file), ("JWT_KEY_ID", "k1".into())],
        ..Default::default()
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": uuid::Uuid::new_v4(), "email": "eve@x", "name": "Eve", "iat": now, "exp": now + 600, "type": "access"});
    // Algorithm confusion: HS256 keyed with the published public key.
    let jwks: serde_json::Value = reqwest::get(app.url("/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    let public = jwks.to_string();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    let confused =
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(public.as_bytes())).unwrap();
    // A key we never published, under a kid we do not know and under ours.
    let attacker = Key::attacker("k-unknown");
    let unknown_kid = attacker.sign(&claims);
    let mut stolen_kid = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    stolen_kid.kid = Some("k1".into());
    let wrong_key = jsonwebtoken::encode(&stolen_kid, &claims, &attacker.encoding).unwrap();
    // Large payloads: one that reaches the verifier (under the 8 KiB header limit), one refused
    // before anything parses it.
    let padded = |len: usize| {
        let mut claims = claims.clone();
        claims["name"] = json!("x".repeat(len));
        Key::attacker("k1").sign(&claims)
    };
    for (what, token, expected) in [
        ("alg confusion", confused, StatusCode::UNAUTHORIZED),
        ("unknown kid", unknown_kid, StatusCode::UNAUTHORIZED),
        ("wrong key", wrong_key, StatusCode::UNAUTHORIZED),
        ("big", padded(5_000), StatusCode::UNAUTHORIZED),
        ("huge", padded(20_000), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
    ] {
        let r = reqwest::Client::new()
            .get(app.url("/chat"))
            .bearer_auth(&token)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: the app must answer, not drop the connection: {e}"));
        assert_eq!(r.status(), expected, "{what}");
        let body: serde_json::Value = r.json().await.unwrap();
        let code = if expected == StatusCode::UNAUTHORIZED { "invalid_token" } else { "headers_too_large" };
        assert_eq!(body["error"], code, "{what}: {body}");
    }
    still_serving(&app).await;
}

#[tokio::test]
async fn open_redirects_in_every_encoding_fall_back_to_the_frontend() {
    let app = TestApp::spawn().await;
    let name = unique("redirect");
    // Each spelling lands exactly where it should: FRONTEND_URL (/chat), or a path of this
    // origin that browsers do not read as another host (percent-encoding is not decoded there).
    for (next, expected) in [
        ("%2F%2Fevil.example", "/chat"),
        ("/%5Cevil.example", "/%5Cevil.example"),
        ("/%2F/evil.example", "/%2F/evil.example"),
        ("%68ttps://evil.example", "/chat"),
        ("/\u{3000}/evil.example", "/chat"),
        ("https:\\\\evil.example", "/chat"),
        ("//evil.example@good", "/chat"),
        ("/ /evil.example", "/chat"),
        ("/.//evil.example", "/chat"),
        ("/chat?room=1", "/chat?room=1"),
    ] {
        let response = app.browser().login(&name, Some(next)).await;
        assert_eq!(location(&response), expected, "next={next:?}");
    }
    still_serving(&app).await;
}

#[tokio::test]
async fn sign_in_routes_are_rate_limited_per_client_with_retry_after() {
    let app = TestApp::spawn_with(Options {
        env: vec![("RATE_LIMIT_PER_SECOND", "1".into()), ("RATE_LIMIT_BURST", "3".into())],
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(client.get(app.url("/auth?code=x&state=y")).send().await.unwrap());
    }
    let limited = statuses.iter().find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).expect("a 429 after the burst");
    let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry));
    // Another client (behind the trusted loopback proxy) has its own budget; unlimited routes too.
    let other =
        client.get(app.url("/auth?code=x&state=y")).header("x-forwarded-for", "198.51.100.20").send().await.unwrap();
    assert_ne!(other.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(client.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    let api = client.post(app.url("/api/v1/auth/token/refresh/")).json(&json!({"refresh": "x"})).send().await.unwrap();
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS, "the API shares the budget");
    assert_eq!(api.json::<serde_json::Value>().await.unwrap()["error"], "rate_limited");
    let page = client.get(app.url("/login")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("retry-after"));
    assert!(page.text().await.unwrap().contains("many sign-in attempts"), "browsers get a page");
}

#[tokio::test]
async fn requests_carry_a_request_id_and_spoofed_ids_are_replaced() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let fresh = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(fresh.headers()["x-request-id"].to_str().unwrap().len(), 32);
    let kept = client.get(app.url("/healthz")).header("x-request-id", "nginx-abc12345").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "nginx-abc12345");
    let injected =
        client.get(app.url("/healthz")).header("x-request-id", "x\" status=200 fake=1").send().await.unwrap();
    assert_ne!(injected.headers()["x-request-id"], "x\" status=200 fake=1");
}

#[tokio::test]
async fn email_policy_refuses_other_domains_and_unverified_accounts_without_a_row() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![("ALLOWED_EMAIL_DOMAINS", "corp.example".into())]).await;
    let login = |claims: serde_json::Value| {
        let body = json!({ "token": key.sign(&claims) });
        reqwest::Client::new().post(app.url("/api/v1/auth/google/")).json(&body).send()
    };
    let mut outsider = fake.claims("outsider", "");
    outsider.as_object_mut().unwrap().remove("nonce");
    let r = login(outsider.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "account_not_allowed");

    // Only Google's `hd` is believed (admission.rs has the Google cases): from this provider it
    // admits nobody and is not stored.
    let mut workspace = outsider.clone();
    workspace["sub"] = json!("member");
    workspace["hd"] = json!("corp.example");
    assert_eq!(login(workspace).await.unwrap().status(), StatusCode::FORBIDDEN, "hd from a non-Google issuer");
    let mut by_email = outsider.clone();
    by_email["sub"] = json!("by-email");
    by_email["email"] = json!("someone@corp.example");
    by_email["hd"] = json!("corp.example");
    assert_eq!(
        login(by_email.clone()).await.unwrap().status(),
        StatusCode::OK,
        "a verified address in the domain admits"
    );
    by_email["sub"] = json!("unverified");
    by_email["email_verified"] = json!(false);
    assert_eq!(login(by_email).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert!(app.user_rows("outsider").is_empty() && app.user_rows("unverified").is_empty());
    assert!(app.user_rows("member").is_empty());
    assert_eq!(app.user_rows("by-email")[0].hosted_domain, None, "another provider's hd is never stored");
}

#[tokio::test]
async fn one_ipv6_host_cannot_dodge_the_limit_by_changing_its_address_within_its_64() {
    let app = TestApp::spawn_with(Options {
        env: vec![("RATE_LIMIT_PER_SECOND", "1".into()), ("RATE_LIMIT_BURST", "3".into())],
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut statuses = Vec::new();
    for i in 1..=6 {
        // Each request from another address of 2001:db8:1:2::/64, forwarded by the trusted proxy.
        let from = format!("2001:db8:1:2:{i:x}:{i:x}:{i:x}:{i:x}");
        let response = client.get(app.url("/auth?code=x&state=y")).header("x-forwarded-for", from).send().await;
        statuses.push(response.unwrap().status());
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let other_64 =
        client.get(app.url("/auth?code=x&state=y")).header("x-forwarded-for", "2001:db8:1:3::1").send().await.unwrap();
    assert_ne!(other_64.status(), StatusCode::TOO_MANY_REQUESTS, "the next /64 is another client");
}
