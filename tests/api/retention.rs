//! Bounded storage: the clean-up deletes what ended longer ago than the retention settings and
//! keeps the rest; one instance at a time (an advisory lock); `doorman cleanup` runs it now.

use std::time::Duration;

use diesel::RunQueryDsl;

use crate::cli::{base_env, doorman, text};
use crate::helpers::TestApp;
use doorman::db::retention::{self, Limits, SWEEP_LOCK};

const DAY: u64 = 24 * 3600;

fn limits() -> Limits {
    Limits {
        sessions: Duration::from_secs(30 * DAY),
        audit: Duration::from_secs(180 * DAY),
        login_states: Duration::from_secs(600),
    }
}

/// One account with sessions and rows of every age around the limits, each named by what it is.
fn seed(app: &TestApp) {
    let mut conn = app.db();
    for sql in [
        "INSERT INTO users (id, email) VALUES ('00000000-0000-0000-0000-000000000001', 'kept@example.test')",
        "INSERT INTO issued_tokens (id, user_id, jti_hash, expires_at, revoked_at, created_at, user_agent, provider) VALUES \
         ('10000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000001', '\\x01', now() + interval '9 days', NULL, now() - interval '200 days', 'live, old', 'google'), \
         ('10000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', '\\x02', now() + interval '9 days', now() - interval '31 days', now() - interval '40 days', 'revoked 31 days ago', 'google'), \
         ('10000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000001', '\\x03', now() + interval '9 days', now() - interval '29 days', now() - interval '40 days', 'revoked 29 days ago', 'google'), \
         ('10000000-0000-0000-0000-000000000004', '00000000-0000-0000-0000-000000000001', '\\x04', now() - interval '31 days', NULL, now() - interval '60 days', 'expired 31 days ago', 'google'), \
         ('10000000-0000-0000-0000-000000000005', '00000000-0000-0000-0000-000000000001', '\\x05', now() - interval '12 hours', NULL, now() - interval '60 days', 'expired hours ago', 'google')",
        "INSERT INTO provider_sessions (session_id, issuer, provider_sid) VALUES \
         ('10000000-0000-0000-0000-000000000001', 'https://idp.example', 'live'), \
         ('10000000-0000-0000-0000-000000000005', 'https://idp.example', 'expired')",
        "INSERT INTO audit_events (kind, at, detail) VALUES \
         ('sign_in', now() - interval '181 days', 'old'), ('sign_in', now() - interval '179 days', 'kept')",
        "INSERT INTO consumed_login_states (state_hash, consumed_at) VALUES \
         ('\\x01', now() - interval '11 minutes'), ('\\x02', now() - interval '9 minutes')",
        "INSERT INTO consumed_logout_tokens (jti_hash, consumed_at) VALUES \
         ('\\x01', now() - interval '25 hours'), ('\\x02', now() - interval '23 hours')",
    ] {
        diesel::sql_query(sql).execute(&mut conn).unwrap();
    }
}

fn remaining(app: &TestApp) -> (Vec<String>, i64, i64, i64, i64) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        user_agent: String,
    }
    let sessions: Vec<Name> =
        diesel::sql_query("SELECT user_agent FROM issued_tokens ORDER BY id").load(&mut app.db()).unwrap();
    (
        sessions.into_iter().map(|s| s.user_agent).collect(),
        app.count("SELECT count(*) AS n FROM audit_events WHERE detail = 'kept'")
            - app.count("SELECT count(*) AS n FROM audit_events WHERE detail = 'old'"),
        app.count("SELECT count(*) AS n FROM consumed_login_states"),
        app.count("SELECT count(*) AS n FROM consumed_logout_tokens"),
        app.count("SELECT count(*) AS n FROM provider_sessions"),
    )
}

#[tokio::test]
async fn rows_past_the_limits_go_and_rows_inside_stay() {
    let app = TestApp::spawn().await;
    seed(&app);
    let swept = retention::sweep(&mut app.db(), limits()).unwrap().expect("nobody else sweeps");
    assert_eq!(
        (swept.sessions, swept.audit_events, swept.login_states, swept.logout_tokens, swept.provider_sessions),
        (2, 1, 1, 1, 1)
    );
    let (sessions, audit, states, logout_tokens, provider_sessions) = remaining(&app);
    assert_eq!(sessions, ["live, old", "revoked 29 days ago", "expired hours ago"]);
    assert_eq!((audit, states, logout_tokens), (1, 1, 1), "only the rows inside the limits stay");
    assert_eq!(provider_sessions, 1, "the expired session's provider data went, the live one's stayed");
    assert_eq!(app.count("SELECT count(*) AS n FROM users"), 1, "accounts are never swept");
    let again = retention::sweep(&mut app.db(), limits()).unwrap().unwrap();
    assert_eq!((again.sessions, again.audit_events), (0, 0), "nothing left to do");
}

#[tokio::test]
async fn batches_delete_more_rows_than_one_batch_holds() {
    let app = TestApp::spawn().await;
    let mut conn = app.db();
    diesel::sql_query("INSERT INTO audit_events (kind, at) SELECT 'logout', now() - interval '200 days' FROM generate_series(1, 4500)")
        .execute(&mut conn)
        .unwrap();
    let swept = retention::sweep(&mut conn, limits()).unwrap().unwrap();
    assert_eq!(swept.audit_events, 4500);
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_events"), 0);
}

#[tokio::test]
async fn two_instances_never_sweep_at_once() {
    let app = TestApp::spawn().await;
    seed(&app);
    // Another instance holds the sweep's lock: this one skips its turn and deletes nothing.
    let mut other = app.db();
    diesel::sql_query(format!("SELECT pg_advisory_lock({SWEEP_LOCK})")).execute(&mut other).unwrap();
    assert!(retention::sweep(&mut app.db(), limits()).unwrap().is_none());
    let env = base_env(app.database_url.clone());
    let busy = doorman(&["cleanup"], &env);
    assert_eq!(busy.status.code(), Some(1));
    assert!(text(&busy.stderr).contains("another instance is cleaning up right now"), "{}", text(&busy.stderr));
    assert_eq!(remaining(&app).0.len(), 5, "nothing deleted while the other one sweeps");
    diesel::sql_query(format!("SELECT pg_advisory_unlock({SWEEP_LOCK})")).execute(&mut other).unwrap();

    // `doorman cleanup` sweeps now, with the server's settings, and says what went.
    let done = doorman(&["cleanup", "--json"], &env);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let report: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!((report["sessions"].as_u64(), report["audit_events"].as_u64()), (Some(2), Some(1)), "{report}");
    assert!(report["millis"].is_u64());
    // The lock is free again once a sweep ends.
    let mut probe = app.db();
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let free: Locked = diesel::sql_query(format!("SELECT pg_try_advisory_lock({SWEEP_LOCK}) AS locked"))
        .get_result(&mut probe)
        .unwrap();
    assert!(free.locked);
}

#[tokio::test]
async fn shorter_retention_settings_delete_sooner() {
    let app = TestApp::spawn().await;
    seed(&app);
    let mut env = base_env(app.database_url.clone());
    env.push(("SESSION_RETENTION_DAYS", "1".into()));
    env.push(("AUDIT_RETENTION_DAYS", "1".into()));
    let done = doorman(&["cleanup"], &env);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert!(text(&done.stdout).starts_with("deleted 3 session(s), 2 audit event(s)"), "{}", text(&done.stdout));
    assert_eq!(remaining(&app).0, ["live, old", "expired hours ago"]);
}
