//! Refresh-token rotation at its edges: the two-tabs grace (same browser, database clock), a
//! renewal whose answer never arrived, a token displaced by such a recovery, the absolute
//! session lifetime and the sign-in policy re-checked at every refresh.

use reqwest::StatusCode;

use crate::helpers::{set_cookies, unique, TestApp};
use crate::sessions::{api_refresh, short_lived_app, wait_for_access_expiry};

pub(crate) const TAB_BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) Tabs/1.0";

/// Signs in, lets the access token lapse, rotates once as TAB_BROWSER, and returns the app,
/// the retired refresh token and the one the rotation handed out.
async fn rotated_once() -> (TestApp, String, String) {
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
    let current =
        set_cookies(&rotated)["refresh_token"].split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    (app, retired, current)
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
    let (app, retired, _) = rotated_once().await;
    // A thief replaying the retired token from another browser, within the 10 s: theft.
    assert_eq!(present(&app, &retired, "curl/8.0").await, StatusCode::UNAUTHORIZED);
    // The session is revoked: the rightful browser is out too, even with the same user agent.
    assert_eq!(present(&app, &retired, TAB_BROWSER).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_grace_window_is_measured_by_the_database_clock() {
    use diesel::RunQueryDsl;
    // Within the 10 s by the database's clock: the second tab is served, the newer token kept.
    let (app, retired, _) = rotated_once().await;
    assert_eq!(present_for(&app, &retired, TAB_BROWSER).await, (StatusCode::OK, None));
    // As if an instance whose clock runs an hour ahead had rotated: a rotation in the
    // database's future is no "moment ago", so no grace (the browser is still recovered below).
    let (app, retired, _) = rotated_once().await;
    diesel::sql_query("UPDATE issued_tokens SET rotated_at = now() + interval '1 hour'")
        .execute(&mut app.db())
        .unwrap();
    let (status, renewed) = present_for(&app, &retired, TAB_BROWSER).await;
    assert_eq!(status, StatusCode::OK);
    assert!(renewed.is_some(), "not the grace (which keeps the newer token) but a new rotation");
    // 11 s ago by the database's clock: past the grace too.
    let (app, retired, _) = rotated_once().await;
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
    let (app, kept, _) = rotated_once().await;
    diesel::sql_query("UPDATE issued_tokens SET rotated_at = now() - interval '60 seconds'")
        .execute(&mut app.db())
        .unwrap();
    let (status, renewed) = present_for(&app, &kept, TAB_BROWSER).await;
    assert_eq!(status, StatusCode::OK, "still signed in");
    let renewed = renewed.expect("a new refresh token");
    assert_eq!(present(&app, &renewed, TAB_BROWSER).await, StatusCode::OK, "and it keeps working");
    // From another browser, the same late token is theft, as before.
    let (app, kept, _) = rotated_once().await;
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
    let (app, first, second) = rotated_once().await;
    diesel::sql_query("UPDATE issued_tokens SET rotated_at = now() - interval '60 seconds'")
        .execute(&mut app.db())
        .unwrap();
    assert_eq!(present(&app, &first, TAB_BROWSER).await, StatusCode::OK, "the browser recovers");
    assert_eq!(present(&app, &second, TAB_BROWSER).await, StatusCode::UNAUTHORIZED, "the displaced token is refused");
    assert_eq!(api_refresh(&app, &first).await, StatusCode::UNAUTHORIZED, "and the session is over");
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
    let (status, body) = app.api_refresh(&refresh).await;
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
    let (status, body) = app.api_refresh(&refresh).await;
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
    let tightened = open.second_instance(vec![("ALLOWED_EMAIL_DOMAINS", "corp.example".into())]).await;
    let (status, body) = tightened.api_refresh(&refresh).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("account_not_allowed")), "{body}");
    // The session is over everywhere: the first instance refuses the token too.
    let (status, _) = open.api_refresh(&refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
