//! Browser sessions that last: rolling renewal, server-side logout, the sessions page.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{location, set_cookies, unique, Browser, Options, TestApp};

/// Access tokens live 1 s and no verification leeway applies.
async fn short_lived_app() -> TestApp {
    let env = vec![("ACCESS_TOKEN_TTL_SECONDS", "1".into()), ("TOKEN_LEEWAY_SECONDS", "0".into())];
    TestApp::spawn_with(Options { env, ..Default::default() }).await
}

/// `exp` is a whole second after `iat`, which is rounded down: expired at most 2 s after issue.
async fn wait_for_access_expiry() {
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
}

async fn api_refresh(app: &TestApp, refresh: &str) -> StatusCode {
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
    let (a, b) = tokio::join!(send(TAB_BROWSER), send(TAB_BROWSER));
    assert_eq!((a.unwrap().status(), b.unwrap().status()), (StatusCode::OK, StatusCode::OK));
}

const TAB_BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) Tabs/1.0";

/// Signs in, lets the access token lapse, rotates once with `first` (a browser), and returns
/// the retired refresh token with the app.
async fn retired_refresh_token() -> (TestApp, Browser, String) {
    let app = short_lived_app().await;
    let browser = app.signed_in(&unique("grace")).await;
    let (access, retired) = (browser.cookie("access_token").unwrap(), browser.cookie("refresh_token").unwrap());
    wait_for_access_expiry().await;
    let rotated = reqwest::Client::new()
        .get(app.url("/chat"))
        .header("accept", "application/json")
        .header("user-agent", TAB_BROWSER)
        .header("cookie", format!("access_token={access}; refresh_token={retired}"))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), StatusCode::OK);
    (app, browser, retired)
}

/// Presents `refresh` alone (the access token long gone) as `user_agent`: the status, and
/// whether a new refresh token came back.
async fn present_for(app: &TestApp, refresh: &str, user_agent: &str) -> (StatusCode, Option<String>) {
    let response = reqwest::Client::new()
        .get(app.url("/chat"))
        .header("accept", "application/json")
        .header("user-agent", user_agent)
        .header("cookie", format!("refresh_token={refresh}"))
        .send()
        .await
        .unwrap();
    let renewed = set_cookies(&response)
        .get("refresh_token")
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().split_once('=').unwrap().1.to_owned());
    (response.status(), renewed)
}

async fn present(app: &TestApp, refresh: &str, user_agent: &str) -> StatusCode {
    present_for(app, refresh, user_agent).await.0
}

#[tokio::test]
async fn the_grace_is_for_the_same_browser_only() {
    let (app, _, retired) = retired_refresh_token().await;
    // A thief replaying the retired token from another browser, within the 10 s: theft.
    assert_eq!(present(&app, &retired, "curl/8.0").await, StatusCode::UNAUTHORIZED);
    // The session is revoked: the rightful browser is out too, even with the same user agent.
    assert_eq!(present(&app, &retired, TAB_BROWSER).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_grace_window_is_measured_by_the_database_clock() {
    use diesel::RunQueryDsl;
    // Within the 10 s by the database's clock: the second tab is served, the newer token kept.
    let (app, _, retired) = retired_refresh_token().await;
    assert_eq!(present_for(&app, &retired, TAB_BROWSER).await, (StatusCode::OK, None));
    // As if an instance whose clock runs an hour ahead had rotated: a rotation in the
    // database's future is no "moment ago", so no grace (the browser is still recovered below).
    let (app, _, retired) = retired_refresh_token().await;
    diesel::sql_query("UPDATE issued_tokens SET rotated_at = now() + interval '1 hour'")
        .execute(&mut app.db())
        .unwrap();
    let (status, renewed) = present_for(&app, &retired, TAB_BROWSER).await;
    assert_eq!(status, StatusCode::OK);
    assert!(renewed.is_some(), "not the grace (which keeps the newer token) but a new rotation");
    // 11 s ago by the database's clock: past the grace too.
    let (app, _, retired) = retired_refresh_token().await;
    diesel::sql_query("UPDATE issued_tokens SET rotated_at = now() - interval '11 seconds'")
        .execute(&mut app.db())
        .unwrap();
    assert!(present_for(&app, &retired, TAB_BROWSER).await.1.is_some());
}

#[tokio::test]
async fn a_renewal_whose_answer_never_arrived_does_not_end_the_session() {
    use diesel::RunQueryDsl;
    // The browser left a page before the renewal's answer (with the new refresh token) came back,
    // and returns a minute later with the token it still has.
    let (app, _, kept) = retired_refresh_token().await;
    diesel::sql_query("UPDATE issued_tokens SET rotated_at = now() - interval '60 seconds'")
        .execute(&mut app.db())
        .unwrap();
    let (status, renewed) = present_for(&app, &kept, TAB_BROWSER).await;
    assert_eq!(status, StatusCode::OK, "still signed in");
    let renewed = renewed.expect("a new refresh token");
    assert_eq!(present(&app, &renewed, TAB_BROWSER).await, StatusCode::OK, "and it keeps working");
    // From another browser, the same late token is theft, as before.
    let (app, _, kept) = retired_refresh_token().await;
    diesel::sql_query("UPDATE issued_tokens SET rotated_at = now() - interval '60 seconds'")
        .execute(&mut app.db())
        .unwrap();
    assert_eq!(present(&app, &kept, "curl/8.0").await, StatusCode::UNAUTHORIZED);
    assert_eq!(present(&app, &kept, TAB_BROWSER).await, StatusCode::UNAUTHORIZED, "the session was revoked");
}

#[tokio::test]
async fn a_token_displaced_by_a_recovery_is_theft() {
    use diesel::RunQueryDsl;
    // Someone holds the token of the lost answer (say, a thief who intercepted it) and the
    // browser recovers with its older one: the intercepted token is now dead, and presenting it
    // ends the session.
    let app = short_lived_app().await;
    let browser = app.signed_in(&unique("displaced")).await;
    let (access, first) = (browser.cookie("access_token").unwrap(), browser.cookie("refresh_token").unwrap());
    wait_for_access_expiry().await;
    let intercepted = reqwest::Client::new()
        .get(app.url("/chat"))
        .header("accept", "application/json")
        .header("user-agent", TAB_BROWSER)
        .header("cookie", format!("access_token={access}; refresh_token={first}"))
        .send()
        .await
        .unwrap();
    let second =
        set_cookies(&intercepted)["refresh_token"].split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    diesel::sql_query("UPDATE issued_tokens SET rotated_at = now() - interval '60 seconds'")
        .execute(&mut app.db())
        .unwrap();
    assert_eq!(present(&app, &first, TAB_BROWSER).await, StatusCode::OK, "the browser recovers");
    assert_eq!(present(&app, &second, TAB_BROWSER).await, StatusCode::UNAUTHORIZED, "the displaced token is refused");
    assert_eq!(api_refresh(&app, &first).await, StatusCode::UNAUTHORIZED, "and the session is over");
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

async fn api_rotate(app: &TestApp, refresh: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_often_it_is_refreshed() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in(&unique("lifetime")).await;
    let mut refresh = browser.cookie("refresh_token").unwrap();
    use diesel::RunQueryDsl;
    // Signed in 89 days ago and refreshed ever since: still within the default 90 days.
    diesel::sql_query("UPDATE issued_tokens SET created_at = now() - interval '89 days'")
        .execute(&mut app.db())
        .unwrap();
    let (status, body) = api_rotate(&app, &refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    refresh = body["refresh"].as_str().unwrap().to_owned();
    // The rotation did not push the end past sign-in + 90 days.
    let ends: Vec<(bool,)> =
        diesel::sql_query("SELECT expires_at <= created_at + interval '90 days' AS bounded FROM issued_tokens")
            .load::<Bounded>(&mut app.db())
            .unwrap()
            .into_iter()
            .map(|b| (b.bounded,))
            .collect();
    assert_eq!(ends, vec![(true,)]);
    diesel::sql_query("UPDATE issued_tokens SET created_at = now() - interval '91 days'")
        .execute(&mut app.db())
        .unwrap();
    let (status, body) = api_rotate(&app, &refresh).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{body}");
}

#[derive(diesel::QueryableByName)]
struct Bounded {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    bounded: bool,
}

#[tokio::test]
async fn a_refresh_re_runs_the_sign_in_policy_against_the_stored_user() {
    let open = TestApp::spawn().await;
    let browser = open.signed_in(&unique("offboarded")).await;
    let refresh = browser.cookie("refresh_token").unwrap();
    // A second instance on the same database, after ALLOWED_EMAIL_DOMAINS was tightened (the
    // provider's accounts are @example.test). Same keys, so it accepts the first one's tokens.
    let tightened = TestApp::spawn_with(Options {
        database_url: Some(open.database_url.clone()),
        env: vec![
            ("ALLOWED_EMAIL_DOMAINS", "corp.example".into()),
            ("JWT_SECRET_KEY", open.jwt_secret.clone()),
            ("SECRET_KEY", open.session_secret.clone()),
            ("REDIRECT_URL", format!("{}/auth", open.address)),
        ],
        ..Default::default()
    })
    .await;
    let (status, body) = api_rotate(&tightened, &refresh).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("account_not_allowed")), "{body}");
    // The session is over everywhere: the first instance refuses the token too.
    let (status, _) = api_rotate(&open, &refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
