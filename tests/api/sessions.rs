//! Browser sessions that last: rolling renewal, server-side logout, the sessions page.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{location, set_cookies, unique, Browser, Options, TestApp};

/// Access tokens live 1 s and no verification leeway applies.
pub(crate) async fn short_lived_app() -> TestApp {
    let env = vec![("ACCESS_TOKEN_TTL_SECONDS", "1".into()), ("TOKEN_LEEWAY_SECONDS", "0".into())];
    TestApp::spawn_with(Options { env, ..Default::default() }).await
}

/// `exp` is a whole second after `iat`, which is rounded down: expired at most 2 s after issue.
pub(crate) async fn wait_for_access_expiry() {
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
}

pub(crate) async fn api_refresh(app: &TestApp, refresh: &str) -> StatusCode {
    reqwest::Client::new()
        .post(app.url("/api/v1/auth/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap()
        .status()
}

/// Puts an access token back into a browser whose jar dropped it (Max-Age passed).
fn keep_expired_access(browser: &Browser, token: &str) {
    browser.set_cookie("access_token", token);
}

#[tokio::test]
async fn an_expired_access_cookie_is_renewed_in_place_by_the_refresh_cookie() {
    let app = short_lived_app().await;
    let browser = app.signed_in(&unique("roll")).await;
    let (old_access, old_refresh) = (browser.cookie("access_token").unwrap(), browser.cookie("refresh_token").unwrap());
    wait_for_access_expiry().await;
    keep_expired_access(&browser, &old_access);

    let response = browser.get_json("/chat").await;
    assert_eq!(response.status(), StatusCode::OK, "still signed in after the access token expired");
    let renewed = set_cookies(&response);
    assert!(renewed.contains_key("access_token") && renewed.contains_key("refresh_token"), "{renewed:?}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Welcome!");
    assert_ne!(browser.cookie("refresh_token").unwrap(), old_refresh, "the refresh cookie rotated");
    assert_ne!(browser.cookie("access_token").unwrap(), old_access);
    assert_eq!(browser.get("/chat").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_both_stay_signed_in() {
    let app = short_lived_app().await;
    let browser = app.signed_in(&unique("tabs")).await;
    let (access, refresh) = (browser.cookie("access_token").unwrap(), browser.cookie("refresh_token").unwrap());
    wait_for_access_expiry().await;
    // Two requests carrying the same cookies, as two tabs of one browser would send them.
    let send = |user_agent: &'static str| {
        reqwest::Client::new()
            .get(app.url("/chat"))
            .header("accept", "application/json")
            .header("user-agent", user_agent)
            .header("cookie", format!("access_token={access}; refresh_token={refresh}"))
            .send()
    };
    let (a, b) = tokio::join!(send(crate::rotation::TAB_BROWSER), send(crate::rotation::TAB_BROWSER));
    assert_eq!((a.unwrap().status(), b.unwrap().status()), (StatusCode::OK, StatusCode::OK));
}

#[tokio::test]
async fn logout_revokes_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in(&unique("leaver")).await;
    let refresh = browser.cookie("refresh_token").unwrap();
    let response =
        browser.client.post(app.url("/logout")).header("sec-fetch-site", "same-origin").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cleared = set_cookies(&response);
    assert!(cleared["refresh_token"].contains("Max-Age=0"), "{cleared:?}");
    assert_eq!(api_refresh(&app, &refresh).await, StatusCode::UNAUTHORIZED, "a copied refresh token is dead");

    // Someone who kept both cookies is out once the access token lapses.
    let thief = app.browser();
    thief.set_cookie("refresh_token", &refresh);
    let bounced = thief.get("/chat").await;
    assert_eq!(bounced.status(), StatusCode::SEE_OTHER);
    assert!(set_cookies(&bounced)["refresh_token"].contains("Max-Age=0"), "the dead cookie is cleared");
}

#[tokio::test]
async fn a_dead_session_is_cleared_for_json_clients_too() {
    // The JSON error replaces the HTML one; the cookie clearing must survive that.
    let app = TestApp::spawn().await;
    let browser = app.signed_in(&unique("spa")).await;
    let refresh = browser.cookie("refresh_token").unwrap();
    browser.client.post(app.url("/logout")).header("sec-fetch-site", "same-origin").send().await.unwrap();

    let thief = app.browser();
    thief.set_cookie("refresh_token", &refresh);
    let response = thief.get_json("/chat").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let cleared = set_cookies(&response);
    assert!(cleared.get("refresh_token").is_some_and(|c| c.contains("Max-Age=0")), "{cleared:?}");
    assert!(cleared.get("access_token").is_some_and(|c| c.contains("Max-Age=0")), "{cleared:?}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "token_expired", "{body}");
}

#[tokio::test]
async fn logout_posted_by_a_browser_with_origin_null_works() {
    // Chromium sends `Origin: null` on same-origin posts under Referrer-Policy: no-referrer.
    let app = TestApp::spawn().await;
    let browser = app.signed_in(&unique("nullorigin")).await;
    let response = browser
        .client
        .post(app.url("/logout"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(browser.cookie("access_token").is_none());
}

#[tokio::test]
async fn the_sessions_page_lists_sessions_and_revokes_another_one() {
    let app = short_lived_app().await;
    let name = unique("multi");
    let laptop = app.signed_in(&name).await;
    let phone = app.signed_in(&name).await;
    let phone_refresh = phone.cookie("refresh_token").unwrap();

    let page = laptop.get("/sessions").await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&page);
    let rows: Vec<_> = doc.select(&scraper::Selector::parse("li.session").unwrap()).collect();
    assert_eq!(rows.len(), 2, "both sessions listed");
    let current: Vec<_> = rows.iter().filter(|r| r.value().classes().any(|c| c == "current")).collect();
    assert_eq!(current.len(), 1, "exactly one marked as this device");
    let other_id = rows
        .iter()
        .find(|r| !r.value().classes().any(|c| c == "current"))
        .unwrap()
        .value()
        .attr("data-session-id")
        .unwrap();

    let cross_site = laptop
        .client
        .post(app.url(&format!("/sessions/{other_id}/revoke")))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let revoked = laptop
        .client
        .post(app.url(&format!("/sessions/{other_id}/revoke")))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!((revoked.status(), location(&revoked)), (StatusCode::SEE_OTHER, "/sessions"));

    // The phone is out at its next refresh.
    wait_for_access_expiry().await;
    phone.set_cookie("refresh_token", &phone_refresh);
    assert_eq!(phone.get("/chat").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/chat").await.status(), StatusCode::OK, "the laptop rolls on");
    let page = laptop.get("/sessions").await.text().await.unwrap();
    assert_eq!(page.matches("data-session-id").count(), 1);
}

#[tokio::test]
async fn revoke_others_keeps_only_this_session_and_strangers_cannot_revoke() {
    let app = TestApp::spawn().await;
    let name = unique("many");
    let keeper = app.signed_in(&name).await;
    for _ in 0..2 {
        app.signed_in(&name).await;
    }
    let stranger = app.signed_in(&unique("stranger")).await;
    let page = keeper.get("/sessions").await.text().await.unwrap();
    assert_eq!(page.matches("data-session-id").count(), 3);
    let some_id = page.split("data-session-id=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let attempt = stranger.client.post(app.url(&format!("/sessions/{some_id}/revoke"))).send().await.unwrap();
    assert_eq!(attempt.status(), StatusCode::NOT_FOUND, "another user's session is not found, not revoked");

    let response = keeper.client.post(app.url("/sessions/revoke-others")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = keeper.get("/sessions").await.text().await.unwrap();
    assert_eq!(page.matches("data-session-id").count(), 1);
    assert!(page.contains("This device"));
}

#[tokio::test]
async fn auth_verify_answers_nginx_without_redirects() {
    let app = TestApp::spawn().await;
    let anonymous = app.browser().get("/auth/verify").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let browser = app.signed_in(&unique("proxied")).await;
    let response = browser.get("/auth/verify").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers()["x-auth-request-email"].to_str().unwrap().ends_with("@example.test"));
    assert_eq!(response.headers()["x-auth-request-user"].to_str().unwrap().len(), 36);
}
