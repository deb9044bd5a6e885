//! Identities beside accounts: the migration of a single-provider database in place, first
//! sign-ins racing, and the ID-token API per provider.

use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::fake_provider::{FakeProvider, Key, CLIENT_ID, CLIENT_SECRET};
use crate::helpers::{count_on, fresh_database, required_env, unique, Extra, Options, TestApp};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

fn count(app: &TestApp, table: &str) -> i64 {
    app.count(&format!("SELECT count(*) AS n FROM {table}"))
}

#[tokio::test]
async fn a_single_provider_database_keeps_its_accounts_and_sessions_when_migrated() {
    // The schema as the previous release left it, with two users and a live session.
    let url = fresh_database(&required_env("TEST_DATABASE_URL"));
    let mut conn = PgConnection::establish(&url).unwrap();
    while let Some(next) = conn.pending_migrations(MIGRATIONS).unwrap().first() {
        if next.name().to_string().contains("identities") {
            break;
        }
        conn.run_next_migration(MIGRATIONS).unwrap();
    }
    let issuer = required_env("TEST_OIDC_ISSUER");
    let (login, other) = (unique("legacy"), unique("bystander"));
    let (user_id, other_id, sid, jti) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), "legacy-jti-0123456789");
    for (id, subject) in [(user_id, &login), (other_id, &other)] {
        diesel::sql_query(
            "INSERT INTO users (id, issuer, subject, email, email_verified, name) VALUES ($1, $2, $3, $3 || '@example.test', true, 'Legacy')",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(&issuer)
        .bind::<Text, _>(subject)
        .execute(&mut conn)
        .unwrap();
    }
    diesel::sql_query(
        "INSERT INTO issued_tokens (id, user_id, jti_hash, expires_at) \
         VALUES ($1, $2, sha256(convert_to($3, 'UTF8')), now() + interval '1 day')",
    )
    .bind::<SqlUuid, _>(sid)
    .bind::<SqlUuid, _>(user_id)
    .bind::<Text, _>(jti)
    .execute(&mut conn)
    .unwrap();

    // The new release starts on it and migrates.
    let app = TestApp::spawn_with(Options { database_url: Some(url), ..Default::default() }).await;
    let rows = app.user_rows(&login);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].id, rows[0].issuer.as_str(), rows[0].provider.as_str()), (user_id, issuer.as_str(), "google"));
    assert_eq!(app.user_rows(&other)[0].id, other_id);
    assert_eq!((count(&app, "users"), count(&app, "identities")), (2, 2));

    // The session still refreshes, for the same account.
    let keys = app.token_keys();
    let (status, body) = app.api_refresh(&keys.issue_refresh(user_id, sid, jti).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the old session lives on");
    let claims = keys.verify_access(body["access"].as_str().unwrap()).unwrap();
    assert_eq!((claims.sub, claims.sid, claims.idp.as_deref()), (user_id, Some(sid), Some("google")));

    // And the person signs in to their old account.
    let browser = app.signed_in(&login).await;
    let chat: Value = browser.get_json("/chat").await.json().await.unwrap();
    assert_eq!(chat["user"]["user_id"], user_id.to_string());
    assert_eq!((count(&app, "users"), count(&app, "identities")), (2, 2));
}

#[tokio::test]
async fn simultaneous_first_sign_ins_of_one_person_make_one_account() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![("DATABASE_POOL_SIZE", "10".into())]).await;
    let mut claims = fake.claims("racer", "");
    claims.as_object_mut().unwrap().remove("nonce");
    let token = key.sign(&claims);
    let http = reqwest::Client::new();
    let attempts = (0..100).map(|_| {
        let (http, url, token) = (http.clone(), app.url("/api/v1/auth/google/"), token.clone());
        tokio::spawn(async move { http.post(url).json(&json!({ "token": token })).send().await.unwrap().status() })
    });
    for status in futures_util::future::join_all(attempts).await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(app.user_rows("racer").len(), 1);
    assert_eq!(app.user_rows("racer")[0].subject, "racer");
    assert_eq!((count(&app, "users"), count(&app, "identities")), (1, 1), "no orphan account");
    assert_eq!(count(&app, "issued_tokens"), 100, "one session per sign-in");
}

#[tokio::test]
async fn the_id_token_api_takes_each_providers_tokens_at_its_own_route_only() {
    let key = Key::trusted();
    let (google, corp) = (FakeProvider::start(&[&key]).await, FakeProvider::start(&[&key]).await);
    let github = std::sync::Arc::new(crate::fake_github::FakeGitHub::start());
    let providers = vec![
        Extra::OidcClient {
            id: "corp",
            issuer: corp.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
        },
        Extra::GitHub(github),
    ];
    let provider = Some((google.issuer.clone(), CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()));
    let app = TestApp::spawn_with(Options { provider, providers, ..Default::default() }).await;
    let id_token = |fake: &FakeProvider, subject: &str| {
        let mut claims = fake.claims(subject, "");
        claims.as_object_mut().unwrap().remove("nonce");
        key.sign(&claims)
    };
    let http = reqwest::Client::new();
    let post = |path: &str, token: String| {
        let request = http.post(app.url(path)).json(&json!({ "token": token }));
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post("/api/v1/auth/corp/", id_token(&corp, "api-corp")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access"].as_str().unwrap();
    let keys = app.token_keys();
    assert_eq!(keys.verify_access(access).unwrap().idp.as_deref(), Some("corp"));
    assert_eq!(app.user_rows("api-corp")[0].provider, "corp");

    let (status, body) = post("/api/v1/auth/google/", id_token(&corp, "api-cross")).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{body}");
    let (status, _) = post("/api/v1/auth/corp", id_token(&google, "api-cross")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "google's token at corp's route");
    assert!(app.user_rows("api-cross").is_empty());
    let (status, body) = post("/api/v1/auth/github/", id_token(&google, "api-gh")).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");
    let (status, body) = post("/api/v1/auth/gitlab/", id_token(&google, "api-gl")).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");
    let (status, _) = post("/api/v1/auth/google/", id_token(&google, "api-google")).await;
    assert_eq!(status, StatusCode::OK);
}

/// The sign-in statement is prepared once per connection (PostgreSQL no longer parses and
/// plans it at every login), and a column a newer release adds to `users` while this one runs
/// does not break its prepared statement.
#[tokio::test]
async fn the_sign_in_statement_is_prepared_once_and_outlives_a_new_column() {
    use doorman::db::issued_tokens::Device;
    use doorman::db::sign_in::{sign_in, Linking, SignInOutcome};
    use doorman::db::users::NewIdentity;

    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    // One connection, so every sign-in of the app runs on the one that prepared the statement.
    let app = fake.app(vec![("DATABASE_POOL_SIZE", "1".into())]).await;
    let http = reqwest::Client::new();
    let api_sign_in = |subject: &str| {
        let mut claims = fake.claims(subject, "");
        claims.as_object_mut().unwrap().remove("nonce");
        http.post(app.url("/api/v1/auth/google/")).json(&json!({ "token": key.sign(&claims) })).send()
    };
    assert_eq!(api_sign_in("prepared-first").await.unwrap().status(), StatusCode::OK);
    diesel::sql_query("ALTER TABLE users ADD COLUMN added_by_a_newer_release text").execute(&mut app.db()).unwrap();
    for subject in ["prepared-second", "prepared-first"] {
        let response = api_sign_in(subject).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{subject} after the new column: {}",
            response.text().await.unwrap()
        );
    }
    assert_eq!(app.user_rows("prepared-second").len(), 1);

    // On a connection of its own: two sign-ins, one prepared statement.
    let mut conn = app.db();
    let identity = |subject: &str| NewIdentity {
        provider: "google".into(),
        issuer: fake.issuer.clone(),
        subject: subject.into(),
        email: Some(format!("{subject}@example.test")),
        email_verified: true,
        name: None,
        picture: None,
        hosted_domain: None,
        provider_session: None,
        id_token: None,
    };
    let device = Device { user_agent: None, ip: None };
    let prepared = |conn: &mut PgConnection| {
        let sql = "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%INSERT INTO consumed_login_states%'";
        count_on(conn, sql)
    };
    for (n, subject) in ["direct-1", "direct-2"].into_iter().enumerate() {
        let ttl = std::time::Duration::from_secs(60);
        let linking = Linking { by_email: false };
        let outcome = sign_in(&mut conn, &identity(subject), linking, &unique("jti"), ttl, &device, None).unwrap();
        assert!(matches!(outcome, SignInOutcome::SignedIn(_)), "sign-in {n}: {outcome:?}");
        assert_eq!(prepared(&mut conn), 1, "after sign-in {n}");
    }
}
