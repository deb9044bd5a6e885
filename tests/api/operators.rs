//! The operators' subcommands against a running app and its real database: disabling and
//! enabling a signed-in user, erasing one, revoking sessions, listing and showing accounts,
//! the audit trail; outputs, `--json` shapes and exit codes.

use std::time::{Duration, Instant};

use reqwest::{header, StatusCode};
use serde_json::Value;

use crate::cli::{base_env, doorman, text};
use crate::helpers::{unique, Browser, Options, TestApp};

/// An app whose instances poll for ended sessions every second.
async fn app() -> TestApp {
    TestApp::spawn_with(Options { env: vec![("REVOCATION_POLL_SECONDS", "1".into())], ..Default::default() }).await
}

/// Runs `doorman ARGS` on the app's database; exit code and stdout (stderr on failure).
fn operator(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let out = doorman(args, &base_env(app.database_url.clone()));
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn operator_json(app: &TestApp, args: &[&str]) -> Value {
    let (code, stdout, stderr) = operator(app, args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?} prints JSON ({e}): {stdout}"))
}

async fn chat_status(app: &TestApp, access: &str) -> StatusCode {
    let chat =
        reqwest::Client::new().get(app.url("/chat")).bearer_auth(access).header(header::ACCEPT, "application/json");
    chat.send().await.unwrap().status()
}

/// Waits (at most `limit`) until `/chat` refuses `access`.
async fn refused_within(app: &TestApp, access: &str, limit: Duration) {
    let started = Instant::now();
    while chat_status(app, access).await != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < limit, "the access token is still accepted after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The kinds of the account's events, oldest first.
fn kinds(app: &TestApp, who: &str) -> Vec<String> {
    let events = operator_json(app, &["audit", "--user", who, "--json"]);
    let mut kinds: Vec<String> =
        events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    kinds.reverse();
    kinds
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_everywhere_and_cannot_sign_in_until_enabled() {
    let app = app().await;
    let login = unique("disabled");
    let email = format!("{login}@example.test");
    let browser = app.signed_in(&login).await;
    let (access, refresh) = (browser.cookie("access_token").unwrap(), browser.cookie("refresh_token").unwrap());
    assert_eq!(chat_status(&app, &access).await, StatusCode::OK);

    let (code, stdout, stderr) = operator(&app, &["users", "disable", &email]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("disabled ") && stdout.contains("1 session(s) ended"), "{stdout}");
    let (code, stdout, _) = operator(&app, &["users", "disable", &email]);
    assert_eq!((code, stdout.contains("was disabled already")), (0, true), "{stdout}");

    // Its refresh token is refused at once, its access token within the poll interval.
    assert_eq!(app.api_refresh(&refresh).await.0, StatusCode::UNAUTHORIZED);
    refused_within(&app, &access, Duration::from_millis(3500)).await;

    // The next sign-in: a 403 page that says why, and nothing written but the refusal.
    let last_used =
        format!("SELECT count(*) AS n FROM identities WHERE subject = '{login}' AND last_login_at = created_at");
    assert_eq!(app.count(&last_used), 1);
    let again = Browser::new(&app.address);
    let response = again.login(&login, None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(again.cookie("access_token").is_none(), "no cookie for a disabled account");
    let page = response.text().await.unwrap();
    assert!(page.contains("<h1>We couldn&#39;t sign you in</h1>"), "{page}");
    assert!(page.contains("This account has been disabled by an administrator"), "{page}");
    let live = "SELECT count(*) AS n FROM issued_tokens WHERE revoked_at IS NULL";
    assert_eq!(app.count(live), 0);
    assert_eq!(app.count(&last_used), 1, "the refused sign-in did not touch the identity");
    let (_, shown, _) = operator(&app, &["users", "show", &email]);
    assert!(shown.contains("status       disabled since "), "{shown}");

    let (code, stdout, _) = operator(&app, &["users", "enable", &email]);
    assert_eq!((code, stdout.contains("they can sign in again")), (0, true), "{stdout}");
    let back = Browser::new(&app.address);
    assert_eq!(back.login(&login, None).await.status(), StatusCode::SEE_OTHER, "enabled: signs in again");
    assert_eq!(app.count(live), 1);
    assert_eq!(
        kinds(&app, &email),
        ["sign_in", "session_revoked", "user_disabled", "sign_in_refused", "user_enabled", "sign_in"],
        "every step is in the audit trail"
    );
    let refused = operator_json(&app, &["audit", "--user", &email, "--json", "--limit", "3"]);
    let refusal = &refused["events"][2];
    assert_eq!(refusal["kind"], "sign_in_refused");
    assert_eq!(refusal["detail"], "account disabled");
    assert_eq!(refusal["provider"], "google");
    assert_eq!(refusal["ip"], "127.0.0.1");
}

#[tokio::test]
async fn delete_erases_the_account_and_anonymises_its_audit_trail_and_nobody_else_is_touched() {
    let app = app().await;
    let (gone, stays) = (unique("erased"), unique("bystander"));
    let browser = app.signed_in(&gone).await;
    let bystander = app.signed_in(&stays).await;
    let access = browser.cookie("access_token").unwrap();
    let id = app.user_rows(&gone)[0].id.to_string();
    let by_user = |table: &str| {
        let column = if table == "users" { "id" } else { "user_id" };
        app.count(&format!("SELECT count(*) AS n FROM {table} WHERE {column} = '{id}'"))
    };
    assert_eq!((by_user("users"), by_user("identities"), by_user("issued_tokens")), (1, 1, 1));

    let (code, stdout, stderr) = operator(&app, &["users", "delete", &id]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("1 identity(ies) and 1 session(s) erased"), "{stdout}");
    assert_eq!((by_user("users"), by_user("identities"), by_user("issued_tokens")), (0, 0, 0));
    // The trail keeps what happened, without the IP or device.
    let events = operator_json(&app, &["audit", "--json"]);
    let theirs: Vec<&Value> = events["events"].as_array().unwrap().iter().filter(|e| e["user_id"] == id).collect();
    let kinds: Vec<&str> = theirs.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["user_deleted", "session_revoked", "sign_in"]);
    assert!(theirs.iter().all(|e| e["ip"].is_null() && e["user_agent"].is_null()), "{theirs:?}");
    // Its access token dies everywhere although its session row is gone.
    refused_within(&app, &access, Duration::from_millis(3500)).await;
    // The other user is untouched.
    assert_eq!(chat_status(&app, &bystander.cookie("access_token").unwrap()).await, StatusCode::OK);
    assert_eq!(app.user_rows(&stays).len(), 1);
    let other = app.count("SELECT count(*) AS n FROM audit_events WHERE ip = '127.0.0.1' AND kind = 'sign_in'");
    assert_eq!(other, 1, "the bystander's events keep their IP");
    let (code, _, stderr) = operator(&app, &["users", "delete", &id]);
    assert_eq!((code, stderr.trim()), (1, format!("no user has the id or email \"{id}\"").as_str()));
}

#[tokio::test]
async fn sessions_revoke_ends_one_session_or_every_session_of_a_user() {
    let app = app().await;
    let login = unique("revoked");
    let (laptop, phone) = (app.signed_in(&login).await, app.signed_in(&login).await);
    let phone_access = phone.cookie("access_token").unwrap();
    let sid = app.token_keys().verify_access(&phone_access).unwrap().sid.unwrap().to_string();
    let (code, stdout, _) = operator(&app, &["sessions", "revoke", "--session", &sid]);
    assert_eq!((code, stdout.trim()), (0, format!("session {sid} revoked").as_str()));
    let (code, _, stderr) = operator(&app, &["sessions", "revoke", "--session", &sid]);
    assert_eq!((code, stderr.trim()), (1, format!("no live session has the id {sid}").as_str()), "twice: not found");
    refused_within(&app, &phone_access, Duration::from_millis(3500)).await;
    let laptop_access = laptop.cookie("access_token").unwrap();
    assert_eq!(chat_status(&app, &laptop_access).await, StatusCode::OK, "the other session lives");
    let (code, stdout, _) = operator(&app, &["sessions", "revoke", "--user", &format!("{login}@EXAMPLE.test")]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("1 session(s) of "), "{stdout}");
    refused_within(&app, &laptop_access, Duration::from_millis(3500)).await;
    let (code, _, stderr) = operator(&app, &["sessions", "revoke", "--user", "x@y", "--session", &sid]);
    assert_eq!(code, 2, "both at once is bad usage: {stderr}");
    let details = app.count("SELECT count(*) AS n FROM audit_events WHERE detail = 'revoked by an operator'");
    assert_eq!(details, 2);
}

#[tokio::test]
async fn users_list_and_show_print_tables_and_json() {
    let app = app().await;
    let (first, second) = (unique("lister-a"), unique("lister-b"));
    app.signed_in(&first).await;
    app.signed_in(&second).await;
    let (code, table, _) = operator(&app, &["users", "list"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two users: {table}");
    assert!(lines[0].starts_with("ID") && lines[0].contains("EMAIL") && lines[0].contains("SESSIONS"), "{table}");
    assert!(lines[1].contains(&format!("{first}@example.test")) && lines[1].contains("active"), "{table}");
    assert!(lines[1].contains("google"), "{table}");

    let listed = operator_json(&app, &["users", "list", "--email", &first.to_uppercase(), "--json"]);
    assert_eq!(listed["total"], 1, "{listed}");
    let user = &listed["users"][0];
    assert_eq!(user["email"], format!("{first}@example.test"));
    assert_eq!((user["live_sessions"].as_i64(), user["providers"].as_str()), (Some(1), Some("google")));
    assert!(user["disabled_at"].is_null() && user["id"].is_string(), "{user}");
    let (_, limited, _) = operator(&app, &["users", "list", "--limit", "1"]);
    assert!(limited.contains("(1 of 2 shown; --limit N for more)"), "{limited}");
    let none = operator_json(&app, &["users", "list", "--email", "lister%example", "--json"]);
    assert_eq!(none["total"], 0, "LIKE wildcards are literal: {none}");

    let shown = operator_json(&app, &["users", "show", &format!("{second}@example.test"), "--json"]);
    assert_eq!(shown["user"]["email"], format!("{second}@example.test"));
    assert_eq!(shown["identities"][0]["provider"], "google");
    assert_eq!(shown["identities"][0]["subject"], second);
    assert_eq!(shown["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(shown["events"][0]["kind"], "sign_in");
    let (code, text, _) = operator(&app, &["users", "show", &format!("{second}@example.test")]);
    assert_eq!(code, 0);
    for part in ["identities", "live sessions", "recent activity", "sign_in", "status       active"] {
        assert!(text.contains(part), "{part}: {text}");
    }
}

#[tokio::test]
async fn bad_arguments_unknown_users_and_an_unreachable_database_are_one_line_errors() {
    let app = app().await;
    let cases: [(&[&str], i32, &str); 6] = [
        (&["users", "show", "nobody@example.test"], 1, "no user has the id or email \"nobody@example.test\""),
        (&["users", "disable", "00000000-0000-0000-0000-000000000000"], 1, "no user has the id or email"),
        (&["users", "list", "--limit", "0"], 2, "--limit must be at least 1"),
        (&["audit", "--user", "nobody@example.test"], 1, "no user has the id or email"),
        (&["sessions", "revoke", "--session", "not-a-uuid"], 2, "invalid value 'not-a-uuid'"),
        (&["users", "frobnicate"], 2, "unrecognized subcommand 'frobnicate'"),
    ];
    for (args, expected, message) in cases {
        let (code, _, stderr) = operator(&app, args);
        assert_eq!(code, expected, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let (code, _, stderr) = operator(&app, &["users", "show", "nobody@example.test"]);
    assert_eq!((code, stderr.lines().count()), (1, 1), "one line: {stderr}");
    // An email on two accounts (one through an identity) names neither.
    let login = unique("twice");
    app.signed_in(&login).await;
    let email = format!("{login}@example.test");
    use diesel::RunQueryDsl;
    let other = "00000000-0000-0000-0000-00000000000a";
    for sql in [
        format!("INSERT INTO users (id) VALUES ('{other}')"),
        format!(
            "INSERT INTO identities (user_id, provider, issuer, subject, email) \
             VALUES ('{other}', 'corp', 'https://corp.example', 'x', '{}')",
            email.to_uppercase()
        ),
    ] {
        diesel::sql_query(sql).execute(&mut app.db()).unwrap();
    }
    let (code, _, stderr) = operator(&app, &["users", "show", &email]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("several users have the email") && stderr.contains("00000000-0000-0000-0000-00000000000a"),
        "{stderr}"
    );
    let down = doorman(&["users", "list"], &base_env("postgres://postgres@127.0.0.1:9/none".into()));
    let stderr = text(&down.stderr);
    assert_eq!(down.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("DATABASE_URL: cannot connect to the database"), "{stderr}");
}

#[tokio::test]
async fn a_sign_in_racing_the_disable_leaves_no_live_session() {
    use diesel::RunQueryDsl;
    let app = app().await;
    let login = unique("racer");
    app.signed_in(&login).await;
    let user = app.user_rows(&login)[0].id;
    let live = "SELECT count(*) AS n FROM issued_tokens WHERE revoked_at IS NULL";
    assert_eq!(app.count(live), 1);
    // An operator's transaction holds the account row while the next sign-in starts: the
    // sign-in's snapshot sees an enabled account, and it waits for the row.
    let mut operator = app.db();
    diesel::sql_query("BEGIN").execute(&mut operator).unwrap();
    diesel::sql_query(format!("SELECT id FROM users WHERE id = '{user}' FOR UPDATE")).execute(&mut operator).unwrap();
    let racer = Browser::new(&app.address);
    let signing_in = tokio::spawn({
        let (racer, login) = (racer.clone(), login.clone());
        async move { racer.login(&login, None).await.status() }
    });
    let waiting =
        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";
    let started = Instant::now();
    while app.count(waiting) == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the sign-in never waited for the account row");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The disable commits (its sessions revoked in the same transaction), then the sign-in goes on.
    diesel::sql_query(format!("UPDATE users SET disabled_at = now() WHERE id = '{user}'"))
        .execute(&mut operator)
        .unwrap();
    diesel::sql_query(
        "UPDATE issued_tokens SET revoked_at = now(), revoked_reason = 'account disabled' WHERE revoked_at IS NULL",
    )
    .execute(&mut operator)
    .unwrap();
    diesel::sql_query("COMMIT").execute(&mut operator).unwrap();
    assert_eq!(signing_in.await.unwrap(), StatusCode::FORBIDDEN, "refused: the account was disabled meanwhile");
    assert_eq!(app.count(live), 0, "no live session for a disabled account");
    assert!(racer.cookie("access_token").is_none());
}

#[tokio::test]
async fn a_disabled_account_cannot_refresh_even_a_session_left_open() {
    use diesel::RunQueryDsl;
    let app = app().await;
    let login = unique("leftopen");
    let browser = app.signed_in(&login).await;
    let user = app.user_rows(&login)[0].id;
    // Disabled behind the CLI's back (a restored backup, a hand-written UPDATE): the session
    // row is still live, and the refresh must still be refused.
    diesel::sql_query(format!("UPDATE users SET disabled_at = now() WHERE id = '{user}'"))
        .execute(&mut app.db())
        .unwrap();
    assert_eq!(app.api_refresh(&browser.cookie("refresh_token").unwrap()).await.0, StatusCode::UNAUTHORIZED);
}
