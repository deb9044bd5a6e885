//! Revocation everywhere within seconds: a session ended on one instance is refused by another
//! within REVOCATION_POLL_SECONDS, access tokens included, on every guarded route.

use std::time::{Duration, Instant};

use reqwest::{header, StatusCode};

use crate::helpers::{unique, Browser, TestApp};

const POLL: &str = "1";

/// Two instances on one database, polling every second.
async fn two_instances() -> (TestApp, TestApp) {
    let first = TestApp::spawn_with(crate::helpers::Options {
        env: vec![("REVOCATION_POLL_SECONDS", POLL.into())],
        ..Default::default()
    })
    .await;
    let second = first.second_instance(vec![("REVOCATION_POLL_SECONDS", POLL.into())]).await;
    (first, second)
}

/// What `app` answers to the access token on each guarded route: `/chat` with it as Bearer,
/// `/auth/verify` and `/sessions` with it as the only cookie.
async fn guarded(app: &TestApp, access: &str) -> [StatusCode; 3] {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let chat = http.get(app.url("/chat")).bearer_auth(access).header(header::ACCEPT, "application/json");
    let cookie = format!("access_token={access}");
    let verify = http.get(app.url("/auth/verify")).header(header::COOKIE, &cookie);
    let sessions = http.get(app.url("/sessions")).header(header::COOKIE, &cookie).header(header::ACCEPT, "text/html");
    let mut out = [StatusCode::OK; 3];
    for (i, request) in [chat, verify, sessions].into_iter().enumerate() {
        out[i] = request.send().await.unwrap().status();
    }
    out
}

const ALLOWED: [StatusCode; 3] = [StatusCode::OK, StatusCode::NO_CONTENT, StatusCode::OK];
const REFUSED: [StatusCode; 3] = [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::SEE_OTHER];

/// Waits until `app` refuses `access` everywhere; how long it took. Fails after `limit`.
async fn refused_within(app: &TestApp, access: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let now = guarded(app, access).await;
        if now == REFUSED {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "still {now:?} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_logout_on_one_instance_is_refused_by_the_other_within_the_poll_interval() {
    let (first, second) = two_instances().await;
    let browser = first.signed_in(&unique("leaver")).await;
    let access = browser.cookie("access_token").unwrap();
    assert_eq!(guarded(&second, &access).await, ALLOWED, "the other instance takes the token");
    let logout = browser.post_form("/logout").await;
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(guarded(&first, &access).await, REFUSED, "refused at once where it ended");
    let took = refused_within(&second, &access, Duration::from_millis(1000 + 2500)).await;
    eprintln!("refused by the other instance after {took:?}");
}

#[tokio::test]
async fn a_session_revoked_from_the_sessions_page_is_refused_everywhere() {
    let (first, second) = two_instances().await;
    let login = unique("revoker");
    let phone = first.signed_in(&login).await;
    let laptop = Browser::new(&first.address);
    assert_eq!(laptop.login(&login, None).await.status(), StatusCode::SEE_OTHER);
    let phone_access = phone.cookie("access_token").unwrap();
    let laptop_access = laptop.cookie("access_token").unwrap();
    let phone_sid = first.token_keys().verify_access(&phone_access).unwrap().sid.unwrap();
    // From the laptop, end the phone's session, then every other one.
    let provider_data = format!("SELECT count(*) AS n FROM provider_sessions WHERE session_id = '{phone_sid}'");
    assert_eq!(first.count(&provider_data), 1, "the provider's sid and ID token are kept while it lives");
    let revoked = laptop.post_form(&format!("/sessions/{phone_sid}/revoke")).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.count(&provider_data), 0, "and dropped with its revocation");
    refused_within(&second, &phone_access, Duration::from_millis(3500)).await;
    assert_eq!(guarded(&second, &laptop_access).await, ALLOWED, "only that session ended");

    let tablet = Browser::new(&first.address);
    tablet.login(&login, None).await;
    let tablet_access = tablet.cookie("access_token").unwrap();
    assert_eq!(laptop.post_form("/sessions/revoke-others").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(guarded(&first, &tablet_access).await, REFUSED, "at once on this instance");
    refused_within(&second, &tablet_access, Duration::from_millis(3500)).await;
    assert_eq!(guarded(&second, &laptop_access).await, ALLOWED);
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_session_on_every_instance() {
    let (first, second) = two_instances().await;
    let browser = first.signed_in(&unique("stolen")).await;
    let (access, refresh) = (browser.cookie("access_token").unwrap(), browser.cookie("refresh_token").unwrap());
    let (status, _) = first.api_refresh(&refresh).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = first.api_refresh(&refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reuse detected");
    refused_within(&second, &access, Duration::from_millis(3500)).await;
}
