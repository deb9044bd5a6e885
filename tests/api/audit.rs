//! The audit trail: one row per security event with its device, written in the transaction of
//! its change (no event without its change, no change without its event), and the sessions
//! page's "Recent activity".

use reqwest::StatusCode;

use crate::cli::{base_env, doorman};
use crate::helpers::{param, unique, Browser, TestApp};

const PHONE: &str = "Mozilla/5.0 (Linux; Android 14) audit-test phone";
const LAPTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) audit-test laptop";

/// An event as (kind, user agent, detail).
type Recorded = (String, Option<String>, Option<String>);

/// The account's events, oldest first.
fn trail(app: &TestApp, login: &str) -> Vec<Recorded> {
    use diesel::prelude::*;
    use doorman::schema::audit_events as events;
    let user = app.user_rows(login)[0].id;
    events::table
        .filter(events::user_id.eq(user))
        .order(events::id.asc())
        .select((events::kind, events::user_agent, events::detail))
        .load(&mut app.db())
        .unwrap()
}

fn event(kind: &str, device: &str, detail: Option<&str>) -> Recorded {
    (kind.to_owned(), Some(device.to_owned()), detail.map(str::to_owned))
}

#[tokio::test]
async fn each_security_event_of_a_session_is_recorded_with_its_device() {
    let app = TestApp::spawn().await;
    let login = unique("audited");
    let phone = Browser::with_user_agent(&app.address, PHONE);
    assert_eq!(phone.login(&login, None).await.status(), StatusCode::SEE_OTHER);
    let laptop = Browser::with_user_agent(&app.address, LAPTOP);
    assert_eq!(laptop.login(&login, None).await.status(), StatusCode::SEE_OTHER);
    let keys = app.token_keys();
    let phone_sid = keys.verify_access(&phone.cookie("access_token").unwrap()).unwrap().sid.unwrap();

    // The laptop ends the phone's session, then its refresh token is replayed by the API.
    let retired = laptop.cookie("refresh_token").unwrap();
    assert_eq!(laptop.post_form(&format!("/sessions/{phone_sid}/revoke")).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.api_refresh(&retired).await.0, StatusCode::OK);
    assert_eq!(app.api_refresh(&retired).await.0, StatusCode::UNAUTHORIZED, "reuse");
    // A new laptop session logs out.
    assert_eq!(laptop.login(&login, None).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(laptop.post_form("/logout").await.status(), StatusCode::SEE_OTHER);

    // The API client (the refresh) sends no user agent.
    let trail = trail(&app, &login);
    assert_eq!(
        trail,
        vec![
            event("sign_in", PHONE, Some("first sign-in, account opened")),
            event("sign_in", LAPTOP, None),
            event("session_revoked", LAPTOP, Some("revoked by the user")),
            (String::from("refresh_reuse"), None, Some("refresh token reused".into())),
            event("sign_in", LAPTOP, None),
            event("logout", LAPTOP, Some("logged out")),
        ]
    );
    let with_ip = app.count("SELECT count(*) AS n FROM audit_events WHERE ip = '127.0.0.1' AND provider = 'google'");
    assert_eq!(with_ip, 6, "every event has the client's address and the provider");
    let sessions = app.count("SELECT count(DISTINCT session_id) AS n FROM audit_events WHERE session_id IS NOT NULL");
    assert_eq!(sessions, 3, "each event names its session");
}

#[tokio::test]
async fn refused_sign_ins_are_recorded_with_their_reason_and_no_token() {
    let app = TestApp::spawn().await;
    let browser = Browser::with_user_agent(&app.address, PHONE);
    let authorize = browser.start_login(None).await;
    let state = param(&authorize, "state");
    let cancelled = browser.get(&format!("/auth?error=access_denied&state={state}")).await;
    assert_eq!(cancelled.status(), StatusCode::FORBIDDEN);
    // A code for a login this browser never started.
    let forged = browser.get("/auth?code=secret-code-value&state=forged-state-value").await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    use diesel::prelude::*;
    use doorman::schema::audit_events as events;
    type Row = (String, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = events::table
        .order(events::id.asc())
        .select((events::kind, events::provider, events::user_agent, events::detail))
        .load(&mut app.db())
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.0 == "sign_in_refused" && r.1.as_deref() == Some("google")), "{rows:?}");
    assert!(rows.iter().all(|r| r.2.as_deref() == Some(PHONE)), "{rows:?}");
    let detail = |i: usize| rows[i].3.clone().unwrap_or_default();
    assert_eq!(detail(0), "access_denied: the sign-in was cancelled or refused at the provider");
    assert!(detail(1).starts_with("login_failed: this sign-in response does not match a login"), "{}", detail(1));
    let leaked = format!(
        "SELECT count(*) AS n FROM audit_events WHERE concat(detail, user_agent, provider) LIKE '%secret-code-value%' \
         OR concat(detail, user_agent, provider) LIKE '%forged-state-value%' OR concat(detail, user_agent) LIKE '%{state}%'"
    );
    assert_eq!(app.count(&leaked), 0, "no code or state in the trail");
}

#[tokio::test]
async fn the_sessions_page_lists_the_latest_twenty_events() {
    let app = TestApp::spawn().await;
    let login = unique("recent");
    let browser = Browser::with_user_agent(&app.address, LAPTOP);
    assert_eq!(browser.login(&login, None).await.status(), StatusCode::SEE_OTHER);
    let page = browser.get("/sessions").await.text().await.unwrap();
    assert!(page.contains("<h2>Recent activity</h2>"), "{page}");
    assert_eq!(page.matches("data-kind=\"sign_in\"").count(), 1, "{page}");
    assert!(page.contains("Signed in with Google") && page.contains(LAPTOP), "{page}");
    // 25 older refusals of this account: the page shows the newest 20, the sign-in not among them.
    let user = app.user_rows(&login)[0].id;
    let mut conn = app.db();
    use diesel::RunQueryDsl;
    diesel::sql_query(format!(
        "INSERT INTO audit_events (kind, user_id, provider, at, detail) \
         SELECT 'sign_in_refused', '{user}', 'google', now() + g * interval '1 second', 'test ' || g \
         FROM generate_series(1, 25) g"
    ))
    .execute(&mut conn)
    .unwrap();
    let page = browser.get("/sessions").await.text().await.unwrap();
    assert_eq!(page.matches("<li class=\"event\"").count(), 20, "{page}");
    assert_eq!(page.matches("data-kind=\"sign_in\"").count(), 0, "the oldest fell off");
    assert!(page.contains("A sign-in with Google was refused"), "{page}");
    // Another account's events never show.
    let other = app.signed_in(&unique("other")).await;
    let theirs = other.get("/sessions").await.text().await.unwrap();
    assert_eq!(theirs.matches("<li class=\"event\"").count(), 1, "{theirs}");
}

/// Makes every write to `table` fail inside the database, as a crash between two statements
/// of a change would.
fn refuse_writes(app: &TestApp, table: &str, operation: &str) {
    use diesel::RunQueryDsl;
    let mut conn = app.db();
    for sql in [
        "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            .to_owned(),
        format!("CREATE TRIGGER refuse_{table} BEFORE {operation} ON {table} FOR EACH ROW EXECUTE FUNCTION refuse()"),
    ] {
        diesel::sql_query(sql).execute(&mut conn).unwrap();
    }
}

fn allow_writes(app: &TestApp, table: &str) {
    use diesel::RunQueryDsl;
    diesel::sql_query(format!("DROP TRIGGER refuse_{table} ON {table}")).execute(&mut app.db()).unwrap();
}

#[tokio::test]
async fn no_change_without_its_event_and_no_event_without_its_change() {
    let app = TestApp::spawn().await;
    let login = unique("atomic");
    let browser = app.signed_in(&login).await;
    let user = app.user_rows(&login)[0].id;
    let live = "SELECT count(*) AS n FROM issued_tokens WHERE revoked_at IS NULL";
    let events = "SELECT count(*) AS n FROM audit_events";
    assert_eq!((app.count(live), app.count(events)), (1, 1));

    // The trail cannot be written: no sign-in, logout, disable or delete happens.
    refuse_writes(&app, "audit_events", "INSERT");
    let newcomer = unique("newcomer");
    let failed = Browser::new(&app.address).login(&newcomer, None).await;
    assert!(failed.status().is_server_error(), "{}", failed.status());
    let accounts = format!("SELECT count(*) AS n FROM identities WHERE subject = '{newcomer}'");
    assert_eq!(app.count(&accounts), 0, "no account without its sign_in event");
    assert_eq!(app.count("SELECT count(*) AS n FROM issued_tokens"), 1, "no session without its sign_in event");
    assert!(browser.post_form("/logout").await.status().is_server_error());
    assert_eq!(app.count(live), 1, "still signed in: the logout could not be recorded");
    let env = base_env(app.database_url.clone());
    assert_eq!(doorman(&["users", "disable", &user.to_string()], &env).status.code(), Some(1));
    assert_eq!(app.count("SELECT count(*) AS n FROM users WHERE disabled_at IS NOT NULL"), 0);
    assert_eq!(doorman(&["users", "delete", &user.to_string()], &env).status.code(), Some(1));
    assert_eq!(app.user_rows(&login).len(), 1, "not erased");
    allow_writes(&app, "audit_events");

    // The sessions cannot be changed: no logout or revocation is recorded.
    refuse_writes(&app, "issued_tokens", "UPDATE");
    assert!(browser.post_form("/logout").await.status().is_server_error());
    assert_eq!(doorman(&["sessions", "revoke", "--user", &user.to_string()], &env).status.code(), Some(1));
    assert_eq!(app.count(events), 1, "only the first sign-in");
    allow_writes(&app, "issued_tokens");
    assert_eq!(browser.post_form("/logout").await.status(), StatusCode::SEE_OTHER);
    assert_eq!((app.count(live), app.count(events)), (0, 2));
}
