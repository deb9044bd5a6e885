//! The gateway: `/auth/forward` with exactly the headers Traefik's `forwardAuth` sends (Traefik
//! is not packaged here; Caddy and nginx are tested for real in tests/deploy), per-route rules,
//! the signed identity for upstreams, and absolute `next` URLs on ALLOWED_REDIRECT_HOSTS.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::{header, StatusCode};
use serde_json::Value;

use crate::helpers::{location, set_cookies, unique, Browser, Options, TestApp};
use crate::sessions::wait_for_access_expiry;

const APP_HOST: &str = "app1.example.test";

async fn gateway(env: Vec<(&'static str, String)>) -> TestApp {
    let key = format!("{}/tests/fixtures/access_ed25519.pem", env!("CARGO_MANIFEST_DIR"));
    let mut all =
        vec![("JWT_PRIVATE_KEY_FILE", key), ("ALLOWED_REDIRECT_HOSTS", format!("{APP_HOST},.apps.example.test"))];
    all.extend(env);
    TestApp::spawn_with(Options { env: all, ..Default::default() }).await
}

/// What Traefik's forwardAuth middleware sends for a browser's `GET https://app1…/dash?x=1`
/// (doc.traefik.io, "ForwardAuth": the original request's headers plus X-Forwarded-Method,
/// -Proto, -Host, -Uri and -For).
fn traefik(browser: &Browser, app: &TestApp, path: &str, accept: &str) -> reqwest::RequestBuilder {
    browser
        .client
        .get(app.url(path))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", APP_HOST)
        .header("X-Forwarded-Uri", "/dash?x=1")
        .header("X-Forwarded-For", "203.0.113.9")
        .header(header::ACCEPT, accept)
        .header(header::USER_AGENT, "Mozilla/5.0 Gateway test")
}

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn forward_auth_sends_signed_out_browsers_to_the_login_and_back() {
    let app = gateway(vec![]).await;
    let browser = app.browser();
    let response = traefik(&browser, &app, "/auth/forward", HTML).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::REFERRER_POLICY], "no-referrer");
    let login = location(&response).to_owned();
    assert_eq!(login, format!("{}/login?next=https%3A%2F%2Fapp1.example.test%2Fdash%3Fx%3D1", app.address));
    let api = traefik(&browser, &app, "/auth/forward", "application/json").send().await.unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED, "other clients get 401");

    // The login it leads to ends on the original URL, on the original host.
    let done = browser.login(&unique("gate"), Some("https://app1.example.test/dash?x=1")).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "https://app1.example.test/dash?x=1");

    // Signed in: 200 with the identity headers and a JWT for the app.
    let response = traefik(&browser, &app, "/auth/forward", HTML).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let user = response.headers()["x-auth-request-user"].to_str().unwrap().to_owned();
    assert!(response.headers()["x-auth-request-email"].to_str().unwrap().ends_with("@example.test"));
    // The proxy keeps a 2xx answer's headers from the browser: not cached, and no browser
    // headers (the 302 above, which the browser gets, has them).
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert!(response.headers().contains_key("x-request-id"));
    assert!(!response.headers().contains_key(header::CONTENT_SECURITY_POLICY), "{:?}", response.headers());
    let jwt = response.headers()["x-auth-request-jwt"].to_str().unwrap().to_owned();
    let claims = upstream_claims(&app, &jwt, APP_HOST).await;
    assert_eq!(claims["sub"], user);
    assert_eq!(claims["type"], "upstream");
    assert_eq!(claims["iss"], app.address);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!((1..=300).contains(&lifetime), "at most five minutes: {lifetime}");
    // An upstream token is not an access token here.
    let as_access =
        app.browser().client.get(app.url("/chat")).bearer_auth(&jwt).header(header::ACCEPT, "application/json");
    assert_eq!(as_access.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// The claims of an upstream JWT, verified as an upstream app would: against the JWKS, with
/// its own host as the audience.
async fn upstream_claims(app: &TestApp, jwt: &str, audience: &str) -> Value {
    let jwks: JwkSet = reqwest::get(app.url("/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the JWT's kid is published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[app.address.as_str()]);
    jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap().claims
}

#[tokio::test]
async fn the_upstream_jwt_is_for_the_protected_host_only() {
    let app = gateway(vec![]).await;
    let browser = app.signed_in(&unique("aud")).await;
    let response = browser
        .client
        .get(app.url("/auth/verify"))
        .header("X-Forwarded-Host", "app2.example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let jwt = response.headers()["x-auth-request-jwt"].to_str().unwrap().to_owned();
    assert_eq!(upstream_claims(&app, &jwt, "app2.example.test").await["aud"], "app2.example.test");
    let jwks: JwkSet = reqwest::get(app.url("/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[APP_HOST]);
    let key = DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
    assert!(jsonwebtoken::decode::<Value>(&jwt, &key, &validation).is_err(), "another app refuses it");
    // HS256 access tokens: no upstream JWT (the shared secret would let apps mint their own).
    let plain = TestApp::spawn().await;
    let browser = plain.signed_in(&unique("hs")).await;
    let response = browser.get("/auth/verify").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!response.headers().contains_key("x-auth-request-jwt"));
}

#[tokio::test]
async fn per_route_rules_refuse_other_accounts_with_403() {
    let app = gateway(vec![]).await;
    let login = unique("ruled");
    let browser = app.signed_in(&login).await;
    let email = format!("{login}@example.test");
    for (query, expected) in [
        ("", StatusCode::OK),
        ("?allowed_domains=example.test", StatusCode::OK),
        ("?allowed_domains=corp.example,EXAMPLE.test", StatusCode::OK),
        (&format!("?allowed_emails={email}") as &str, StatusCode::OK),
        ("?allowed_domains=corp.example", StatusCode::FORBIDDEN),
        ("?allowed_emails=boss@example.test", StatusCode::FORBIDDEN),
        ("?allowed_domains=test", StatusCode::FORBIDDEN),
    ] {
        let forward = traefik(&browser, &app, &format!("/auth/forward{query}"), HTML).send().await.unwrap();
        assert_eq!(forward.status(), expected, "forward {query}");
        let verify = browser.client.get(app.url(&format!("/auth/verify{query}"))).send().await.unwrap();
        let verify_expected = if expected == StatusCode::OK { StatusCode::NO_CONTENT } else { expected };
        assert_eq!(verify.status(), verify_expected, "verify {query}");
    }
    let page = traefik(&browser, &app, "/auth/forward?allowed_domains=corp.example", HTML).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("open to other accounts only") && html.contains(&email), "a page for the browser: {html}");
    let json =
        traefik(&browser, &app, "/auth/forward?allowed_domains=corp.example", "application/json").send().await.unwrap();
    let body: Value = json.json().await.unwrap();
    assert_eq!(body["error"], "not_allowed");
    // Rules that do not parse are the proxy configuration's mistake: 400, never a pass.
    for route in ["/auth/verify", "/auth/forward"] {
        let twice = format!("{route}?allowed_domains=example.test&allowed_domains=corp.example");
        let response = traefik(&browser, &app, &twice, "application/json").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{route}");
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("malformed"), "{route}: {body}");
    }
}

#[tokio::test]
async fn an_expired_access_cookie_is_renewed_on_a_307_back_to_the_same_url() {
    let app = gateway(vec![("ACCESS_TOKEN_TTL_SECONDS", "1".into()), ("TOKEN_LEEWAY_SECONDS", "0".into())]).await;
    let browser = app.signed_in(&unique("renew")).await;
    let old = browser.cookie("access_token").unwrap();
    wait_for_access_expiry().await;
    browser.set_cookie("access_token", &old);
    let response = traefik(&browser, &app, "/auth/forward", HTML).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "https://app1.example.test/dash?x=1");
    let cookies = set_cookies(&response);
    assert!(cookies.contains_key("access_token") && cookies.contains_key("refresh_token"), "{cookies:?}");
    let again = traefik(&browser, &app, "/auth/forward", HTML).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK, "the renewed cookie passes");
}

#[tokio::test]
async fn absolute_next_urls_only_on_allowed_hosts() {
    let app = gateway(vec![]).await;
    for (next, lands) in [
        ("https://app1.example.test/x", "https://app1.example.test/x"),
        ("https://deep.apps.example.test/p?q=1", "https://deep.apps.example.test/p?q=1"),
        ("https://evil.example/", "/chat"),
        ("https://app1.example.test.evil.example/", "/chat"),
        ("https://app1.example.test@evil.example/", "/chat"),
        ("https://user:pw@app1.example.test/", "/chat"),
        ("//app1.example.test/", "/chat"),
        ("javascript://app1.example.test/%0aalert(1)", "/chat"),
        ("https:app1.example.test", "/chat"),
        ("https://app1.example.test\\@evil.example/", "/chat"),
        ("ftp://app1.example.test/", "/chat"),
    ] {
        let browser = app.browser();
        let response = browser.login(&unique("next"), Some(next)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&response), lands, "{next}");
    }
}
