//! Happy paths against the real local provider.

use reqwest::StatusCode;

use crate::helpers::{location, param, set_cookies, unique, TestApp};

#[tokio::test]
async fn login_sets_a_safe_cookie_and_chat_greets_the_user() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let name = unique("alice");

    let authorize = browser.start_login(None).await;
    assert!(authorize.as_str().starts_with(&app.issuer), "redirects to the provider");
    assert_eq!(param(&authorize, "response_type"), "code");
    assert_eq!(param(&authorize, "redirect_uri"), app.url("/auth"));
    assert_eq!(param(&authorize, "scope"), "openid email profile");
    assert_eq!(param(&authorize, "code_challenge_method"), "S256");
    assert_eq!(param(&authorize, "code_challenge").len(), 43);
    assert!(param(&authorize, "state").len() >= 16 && param(&authorize, "nonce").len() >= 16);
    let session = browser.cookie("doorman_login").expect("login session cookie");
    assert!(!session.contains(&param(&authorize, "state")), "the session cookie is encrypted");

    let callback = browser.sign_in_at_provider(&authorize, &name).await;
    assert_eq!(param(&callback, "iss"), app.issuer, "the provider names itself (RFC 9207)");
    let response = browser.client.get(callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/chat", "lands on FRONTEND_URL");
    let cookies = set_cookies(&response);
    let access = &cookies["access_token"];
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=900"] {
        assert!(access.contains(attribute), "{attribute} missing in {access}");
    }
    assert!(!access.contains("Secure"), "COOKIE_SECURE=false in tests");
    let refresh = &cookies["refresh_token"];
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(refresh.contains(attribute), "{attribute} missing in {refresh}");
    }

    let chat = browser.get("/chat").await;
    assert_eq!(chat.status(), StatusCode::OK);
    let html = chat.text().await.unwrap();
    let display = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
    assert!(html.contains(&format!("Welcome, {display}!")), "greets by name: {html}");
    assert!(html.contains(&format!("{name}@example.test")), "shows the email");

    let json: serde_json::Value = browser.get_json("/chat").await.json().await.unwrap();
    let rows = app.user_rows(&name);
    assert_eq!(rows.len(), 1);
    assert_eq!(json["message"], "Welcome!");
    assert_eq!(json["user"]["user_id"], rows[0].id.to_string());
    assert_eq!(json["user"]["user_email"], format!("{name}@example.test"));
    assert_eq!(json["user"]["name"], display);
    assert!(json["user"]["picture"].is_string());
    assert!(rows[0].email_verified);
    assert_eq!(rows[0].issuer, app.issuer);
}

#[tokio::test]
async fn home_page_shows_login_link_then_the_signed_in_user() {
    let app = TestApp::spawn().await;
    let anonymous = app.browser().get("/").await.text().await.unwrap();
    assert!(anonymous.contains(r#"href="/login""#) && anonymous.contains("Login with Google"));
    let name = unique("homer");
    let browser = app.signed_in(&name).await;
    let home = browser.get("/").await.text().await.unwrap();
    assert!(home.contains("Hello,") && home.contains(r#"href="/chat""#) && home.contains(r#"action="/logout""#));
}

#[tokio::test]
async fn a_returning_user_is_updated_not_duplicated() {
    let app = TestApp::spawn().await;
    let name = unique("bob");
    app.signed_in(&name).await;
    let first = app.user_rows(&name);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.signed_in(&name).await;
    let second = app.user_rows(&name);
    assert_eq!(second.len(), 1, "one row per person");
    assert_eq!(first[0].id, second[0].id, "same user id");
    assert!(second[0].last_login_at > first[0].last_login_at, "last login stamped");
    assert_eq!(second[0].updated_at, first[0].updated_at, "an unchanged profile is not an update");
    assert_eq!(second[0].created_at, first[0].created_at);
}

#[tokio::test]
async fn concurrent_first_logins_of_one_person_make_one_row() {
    let app = TestApp::spawn().await;
    let name = unique("carol");
    // Everyone signs in at the provider first; then all callbacks hit the app at once.
    let mut pending = Vec::new();
    for _ in 0..6 {
        let browser = app.browser();
        let authorize = browser.start_login(None).await;
        let callback = browser.sign_in_at_provider(&authorize, &name).await;
        pending.push((browser, callback));
    }
    let responses = futures_util::future::join_all(
        pending.iter().map(|(browser, callback)| browser.client.get(callback.clone()).send()),
    )
    .await;
    for response in responses {
        assert_eq!(response.unwrap().status(), StatusCode::SEE_OTHER, "every login succeeds");
    }
    assert_eq!(app.user_rows(&name).len(), 1);
}

#[tokio::test]
async fn next_brings_the_user_back_and_foreign_targets_fall_back() {
    let app = TestApp::spawn().await;
    let name = unique("dave");
    let response = app.browser().login(&name, Some("/chat?room=1")).await;
    assert_eq!(location(&response), "/chat?room=1");

    for evil in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "///evil.example/x",
        "/\t/evil.example",
        "http:evil.example",
        "https:%2F%2Fevil.example",
        "/.//evil.example",
        "javascript:alert(1)",
    ] {
        let response = app.browser().login(&name, Some(evil)).await;
        assert_eq!(location(&response), "/chat", "next={evil:?} must fall back to FRONTEND_URL");
    }
}

#[tokio::test]
async fn a_user_sent_to_login_from_chat_comes_back_to_chat() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let bounced = browser.get("/chat").await;
    assert_eq!(bounced.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&bounced), "/login?next=%2Fchat");
    let authorize = browser.start_login(Some("/chat")).await;
    let callback = browser.sign_in_at_provider(&authorize, &unique("erin")).await;
    let response = browser.client.get(callback).send().await.unwrap();
    assert_eq!(location(&response), "/chat");
    assert_eq!(browser.get("/chat").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logins_started_in_two_tabs_both_complete() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let name = unique("tabs");
    let first = browser.start_login(Some("/first")).await;
    let second = browser.start_login(Some("/second")).await;
    let second_callback = browser.sign_in_at_provider(&second, &name).await;
    let first_callback = browser.sign_in_at_provider(&first, &name).await;
    let a = browser.client.get(second_callback).send().await.unwrap();
    let b = browser.client.get(first_callback).send().await.unwrap();
    assert_eq!((location(&a), location(&b)), ("/second", "/first"));
}
