//! Callbacks that must fail: a 4xx HTML page, no access cookie, and the app keeps serving.

use reqwest::{Response, StatusCode};

use crate::helpers::{param, set_cookies, unique, Options, TestApp};

async fn assert_refused(response: Response, status: StatusCode, text: &str) {
    assert_eq!(response.status(), status);
    assert!(!set_cookies(&response).contains_key("access_token"), "no access cookie on failure");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(body.contains(text), "expected {text:?} in {body}");
    assert!(!body.contains("panicked") && !body.contains("diesel"), "no internals on the page");
}

#[tokio::test]
async fn a_callback_without_state_or_code_is_refused() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    assert_refused(browser.get("/auth").await, StatusCode::BAD_REQUEST, "missing its code or state").await;
    assert_refused(browser.get("/auth?code=abc").await, StatusCode::BAD_REQUEST, "missing its code or state").await;
}

#[tokio::test]
async fn a_forged_state_is_refused() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    let name = unique("mallory");
    let callback = browser.sign_in_at_provider(&authorize, &name).await;
    let forged = callback.as_str().replace(&param(&callback, "state"), "forged-state-value");
    assert_refused(browser.get(&forged).await, StatusCode::BAD_REQUEST, "does not match a login").await;
    assert!(app.user_rows(&name).is_empty());
}

#[tokio::test]
async fn a_state_from_another_browser_is_refused() {
    let app = TestApp::spawn().await;
    let victim = app.browser();
    let attacker = app.browser();
    let authorize = attacker.start_login(None).await;
    let callback = attacker.sign_in_at_provider(&authorize, &unique("attacker")).await;
    // Login CSRF: the attacker's callback URL opened in the victim's browser.
    assert_refused(victim.get(callback.as_str()).await, StatusCode::BAD_REQUEST, "does not match a login").await;
}

#[tokio::test]
async fn a_replayed_callback_is_refused_even_with_the_old_session_cookie() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    let saved_session = browser.cookie("doorman_login").unwrap();
    let callback = browser.sign_in_at_provider(&authorize, &unique("replay")).await;
    let first = browser.get(callback.as_str()).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);

    // Same browser again: the session no longer holds the state.
    assert_refused(browser.get(callback.as_str()).await, StatusCode::BAD_REQUEST, "does not match a login").await;
    // A copy of the cookie from before the callback: the provider refuses the used code (and
    // were it to accept it, the used state would stop the replay: forged_tokens.rs).
    let thief = app.browser();
    thief.set_cookie("doorman_login", &saved_session);
    assert_refused(thief.get(callback.as_str()).await, StatusCode::BAD_REQUEST, "used already").await;
}

#[tokio::test]
async fn access_denied_at_the_provider_gives_a_friendly_page() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    let state = param(&authorize, "state");
    let response = browser.get(&format!("/auth?error=access_denied&state={state}")).await;
    assert_refused(response, StatusCode::FORBIDDEN, "cancelled or refused").await;
    let other = browser.get("/auth?error=server_error&error_description=%3Cscript%3E").await;
    let body_status = other.status();
    let body = other.text().await.unwrap();
    assert_eq!(body_status, StatusCode::BAD_REQUEST);
    assert!(!body.contains("<script>"), "provider text is never echoed raw");
}

#[tokio::test]
async fn a_login_that_took_too_long_is_refused() {
    let app =
        TestApp::spawn_with(Options { env: vec![("LOGIN_TIMEOUT_SECONDS", "1".into())], ..Default::default() }).await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    let login_cookie = browser.cookie("doorman_login").expect("the login cookie");
    let name = unique("slow");
    let callback = browser.sign_in_at_provider(&authorize, &name).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // The cookie's Max-Age has run out and the browser dropped it; a kept copy (or a browser
    // that ignores Max-Age) still reaches the login's own age check, which must refuse it.
    assert!(browser.cookie("doorman_login").is_none(), "the browser dropped the expired cookie");
    browser.set_cookie("doorman_login", &login_cookie);
    assert_refused(browser.get(callback.as_str()).await, StatusCode::BAD_REQUEST, "took too long").await;
    assert!(app.user_rows(&name).is_empty(), "nothing written");
}

#[tokio::test]
async fn a_tampered_session_cookie_counts_as_no_login() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    let original = browser.cookie("doorman_login").unwrap();
    let callback = browser.sign_in_at_provider(&authorize, &unique("tamper")).await;
    let mut bytes = original.into_bytes();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    browser.set_cookie("doorman_login", std::str::from_utf8(&bytes).unwrap());
    assert_refused(browser.get(callback.as_str()).await, StatusCode::BAD_REQUEST, "does not match a login").await;
}

#[tokio::test]
async fn a_response_naming_another_issuer_is_refused() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    let callback = browser.sign_in_at_provider(&authorize, &unique("mixup")).await;
    let mut mixed = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "iss" { "https://evil.example".to_owned() } else { v.into_owned() };
            (k.into_owned(), value)
        })
        .collect();
    mixed.query_pairs_mut().clear().extend_pairs(pairs);
    assert_refused(browser.get(mixed.as_str()).await, StatusCode::BAD_REQUEST, "unexpected provider").await;
}

#[tokio::test]
async fn hostile_callback_parameters_get_a_4xx() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let long = "a".repeat(5000);
    assert_refused(browser.get(&format!("/auth?code={long}&state=x")).await, StatusCode::BAD_REQUEST, "too long").await;
    let response = browser.get("/auth?code=%FF%FE&state=%C3%28").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "non-UTF-8 parameters");
    assert_eq!(browser.get("/healthz").await.status(), StatusCode::OK, "still serving");
}
