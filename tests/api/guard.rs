//! The guard on /chat, logout, health and error formats.

use reqwest::{header, StatusCode};

use crate::helpers::{location, set_cookies, unique, Options, TestApp};

#[tokio::test]
async fn chat_without_a_token_redirects_browsers_and_401s_api_clients() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let html = browser.get("/chat").await;
    assert_eq!(html.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&html), "/login?next=%2Fchat");

    let json = browser.get_json("/chat").await;
    assert_eq!(json.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let body: serde_json::Value = json.json().await.unwrap();
    assert_eq!(body["error"], "not_authenticated");
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn expired_and_tampered_access_tokens_are_told_apart() {
    let env = vec![("ACCESS_TOKEN_TTL_SECONDS", "1".into()), ("TOKEN_LEEWAY_SECONDS", "0".into())];
    let app = TestApp::spawn_with(Options { env, ..Default::default() }).await;
    let browser = app.signed_in(&unique("frank")).await;
    let token = browser.cookie("access_token").unwrap();

    let mut tampered = token.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let response = app
        .browser()
        .client
        .get(app.url("/chat"))
        .bearer_auth(&tampered)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().contains("invalid_token"));
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], "invalid_token");

    // Token lifetime 1 s, no leeway, and up to 1 s of timestamp rounding.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let expired = app
        .browser()
        .client
        .get(app.url("/chat"))
        .bearer_auth(&token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = expired.status();
    let expired_body: serde_json::Value = expired.json().await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired_body["error"], "token_expired");

    let stale_cookie = app.browser();
    stale_cookie.set_cookie("access_token", &token);
    let bounced = stale_cookie.get("/chat?room=7").await;
    assert_eq!(bounced.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&bounced), "/login?next=%2Fchat%3Froom%3D7");
}

#[tokio::test]
async fn bearer_tokens_work_without_cookies() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in(&unique("gina")).await;
    let token = browser.cookie("access_token").unwrap();
    let response = reqwest::Client::new()
        .get(app.url("/chat"))
        .bearer_auth(token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["message"], "Welcome!");
}

/// Token keys like the app's, with another refresh seed and these parties.
pub(crate) fn minting_keys(jwt_secret: &str, issuer: &str, audience: &str) -> doorman::tokens::TokenKeys {
    doorman::tokens::TokenKeys::new(
        &secrecy::SecretString::from(jwt_secret.to_owned()),
        &secrecy::SecretString::from("a-seed-the-app-does-not-have-0123456789"),
        None,
        doorman::tokens::Lifetimes {
            access: std::time::Duration::from_secs(600),
            refresh: std::time::Duration::from_secs(6000),
        },
        doorman::tokens::Parties { issuer: issuer.into(), audience: audience.into() },
    )
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let app = TestApp::spawn().await;
    let other = minting_keys("some-other-secret-0123456789abcdef0123", &app.address, &app.address);
    let profile = doorman::tokens::Profile { name: Some("Eve".into()), ..Default::default() };
    let forged = other.issue_access(uuid::Uuid::new_v4(), None, profile).unwrap();
    let browser = app.browser();
    browser.set_cookie("access_token", &forged);
    assert_eq!(browser.get("/chat").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn tokens_signed_with_our_key_for_another_issuer_or_audience_are_refused_everywhere() {
    let app = TestApp::spawn().await;
    let profile = || doorman::tokens::Profile { email: Some("eve@corp.example".into()), ..Default::default() };
    // What the app itself would mint passes: the test's forging works.
    let ours = minting_keys(&app.jwt_secret, &app.address, &app.address)
        .issue_access(uuid::Uuid::new_v4(), None, profile())
        .unwrap();
    let bearer = |token: String, path: &'static str| {
        reqwest::Client::new().get(app.url(path)).bearer_auth(token).header("accept", "application/json").send()
    };
    assert_eq!(bearer(ours.clone(), "/chat").await.unwrap().status(), StatusCode::OK);
    assert_eq!(bearer(ours, "/auth/verify").await.unwrap().status(), StatusCode::NO_CONTENT);
    for (what, issuer, audience) in [
        ("a staging deployment sharing the secret", "https://staging.example", app.address.as_str()),
        ("a service's own audience", app.address.as_str(), "https://other-service.example"),
    ] {
        let forged = minting_keys(&app.jwt_secret, issuer, audience)
            .issue_access(uuid::Uuid::new_v4(), None, profile())
            .unwrap();
        assert_eq!(bearer(forged.clone(), "/chat").await.unwrap().status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(bearer(forged.clone(), "/auth/verify").await.unwrap().status(), StatusCode::UNAUTHORIZED, "{what}");
        let browser = app.browser();
        browser.set_cookie("access_token", &forged);
        assert_eq!(browser.get("/chat").await.status(), StatusCode::SEE_OTHER, "{what}");
        assert_eq!(browser.get("/auth/verify").await.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
}

#[tokio::test]
async fn a_refresh_token_forged_with_the_access_key_is_refused() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in(&unique("mint")).await;
    let genuine = browser.cookie("refresh_token").unwrap();
    // The genuine token's claims (session, jti and all), signed with JWT_SECRET_KEY.
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(genuine.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(app.jwt_secret.as_bytes()),
    )
    .unwrap();
    let refresh = |token: String| {
        reqwest::Client::new()
            .post(app.url("/api/v1/auth/token/refresh/"))
            .json(&serde_json::json!({ "refresh": token }))
            .send()
    };
    assert_eq!(refresh(forged).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(genuine).await.unwrap().status(), StatusCode::OK, "the genuine one still works");
}

#[tokio::test]
async fn logout_clears_the_cookie_and_refuses_other_origins() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in(&unique("hank")).await;

    let cross_site = browser
        .client
        .post(app.url("/logout"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/chat").await.status(), StatusCode::OK, "still signed in");

    let response = browser.client.post(app.url("/logout")).header("origin", &app.address).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // The local provider publishes an end_session_endpoint: RP-initiated logout (provider_logout.rs).
    assert!(location(&response).starts_with(&format!("{}/session/end?", app.issuer)), "{}", location(&response));
    let cleared = &set_cookies(&response)["access_token"];
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(browser.cookie("access_token").is_none());
    assert_eq!(browser.get("/chat").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn health_readiness_and_unknown_pages() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    assert_eq!(browser.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(browser.get("/readyz").await.status(), StatusCode::OK);

    let missing = browser.get("/nope").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("Page not found"));
    let missing_json = browser.get_json("/nope").await;
    assert_eq!(missing_json.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing_json.json::<serde_json::Value>().await.unwrap()["error"], "not_found");
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.browser().get("/").await;
    let headers = response.headers();
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");

    // JSON gets a policy that allows nothing, and no CORS headers unless origins are configured.
    let json = app.browser().get_json("/nope").await;
    let headers = json.headers();
    assert_eq!(headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.get("access-control-allow-credentials").is_none() && headers.get("vary").is_none());
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    let database = url::Url::parse(&app.database_url).unwrap().path().trim_start_matches('/').to_owned();
    let mut admin =
        <diesel::PgConnection as diesel::Connection>::establish(&crate::helpers::required_env("TEST_DATABASE_URL"))
            .unwrap();
    diesel::RunQueryDsl::execute(diesel::sql_query(format!("DROP DATABASE {database} WITH (FORCE)")), &mut admin)
        .unwrap();
    let response = app.browser().get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.browser().get("/healthz").await.status(), StatusCode::OK, "the process still serves");
}
