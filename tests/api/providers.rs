//! Several providers, one account: two real OpenID providers (oidc-provider as `google` and as
//! `corp`) and the GitHub-shaped fake, their sign-ins, linking by email, the account page, and
//! the mix-up defence.

use std::sync::Arc;

use base64::Engine;
use reqwest::{header, StatusCode, Url};
use serde_json::Value;

use crate::fake_github::{FakeGitHub, GitHubEmail, GitHubUser};
use crate::helpers::{location, param, required_env, set_cookies, unique, Browser, Extra, Options, TestApp};

/// An app with `google` (the local provider), `corp` (the second one) and `github` (the fake).
async fn three(env: Vec<(&'static str, String)>) -> (TestApp, Arc<FakeGitHub>) {
    let github = Arc::new(FakeGitHub::start());
    let providers = vec![
        Extra::Oidc { id: "corp", issuer: required_env("TEST_OIDC_CONFORM_ISSUER") },
        Extra::GitHub(github.clone()),
    ];
    let mut env = env;
    env.push(("PROVIDER_CORP_NAME", "Corp SSO".to_owned()));
    let app = TestApp::spawn_with(Options { providers, env, ..Default::default() }).await;
    (app, github)
}

/// The claims of a JWT, unverified (the app verified it).
fn claims(jwt: &str) -> Value {
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// The account id `/chat` reports for this browser.
async fn account_of(browser: &Browser) -> String {
    let chat = browser.get_json("/chat").await;
    assert_eq!(chat.status(), StatusCode::OK, "signed in");
    let body: Value = chat.json().await.unwrap();
    body["user"]["user_id"].as_str().unwrap().to_owned()
}

/// Signs in with the fake GitHub as `user`; the response of the app's callback.
async fn github_login(browser: &Browser, github: &FakeGitHub, user: GitHubUser) -> reqwest::Response {
    github.sign_in_as(user);
    let authorize = browser.start_login_with("github").await;
    github_callback(browser, &authorize).await
}

/// Follows the fake's approval back to the app.
async fn github_callback(browser: &Browser, authorize: &Url) -> reqwest::Response {
    let approved = browser.client.get(authorize.clone()).send().await.unwrap();
    assert_eq!(approved.status(), StatusCode::FOUND, "the fake approves");
    browser.client.get(location(&approved)).header(header::ACCEPT, "text/html").send().await.unwrap()
}

fn identity_count(app: &TestApp, account: &str) -> i64 {
    use diesel::prelude::*;
    use doorman::schema::identities;
    let account = uuid::Uuid::parse_str(account).unwrap();
    identities::table.filter(identities::user_id.eq(account)).count().get_result(&mut app.db()).unwrap()
}

fn account_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    doorman::schema::users::table.count().get_result(&mut app.db()).unwrap()
}

#[tokio::test]
async fn the_sign_in_page_offers_every_provider_in_order() {
    let (app, _github) = three(vec![]).await;
    let browser = app.browser();
    let page = browser.get("/login?next=/sessions").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = scraper::Html::parse_document(&page.text().await.unwrap());
    let buttons: Vec<(String, String)> = html
        .select(&scraper::Selector::parse("ul.providers a").unwrap())
        .map(|a| (a.text().collect::<String>(), a.value().attr("href").unwrap().to_owned()))
        .collect();
    let login = |id: &str| format!("{}/login/{id}?next=%2Fsessions", app.address);
    assert_eq!(
        buttons,
        vec![
            ("Continue with Google".to_owned(), login("google")),
            ("Continue with Corp SSO".to_owned(), login("corp")),
            ("Continue with GitHub".to_owned(), login("github")),
        ]
    );
    let json: Value = browser.get_json("/login").await.json().await.unwrap();
    let ids: Vec<&str> = json["providers"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["google", "corp", "github"]);
    assert_eq!(json["providers"][1]["name"], "Corp SSO");
    assert_eq!(json["providers"][2]["login_url"], format!("{}/login/github", app.address));
    assert_eq!(browser.get("/login/gitlab").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(browser.get("/auth/gitlab?code=x&state=y").await.status(), StatusCode::NOT_FOUND);
    // The first provider's callback is /auth only.
    assert_eq!(browser.get("/auth/google?code=x&state=y").await.status(), StatusCode::NOT_FOUND);
    let home = browser.get("/").await.text().await.unwrap();
    assert!(home.contains(">Sign in</a>"), "{home}");
}

#[tokio::test]
async fn each_provider_signs_in_through_its_own_callback() {
    let (app, github) = three(vec![]).await;
    let google = app.browser();
    let name = unique("gina");
    let authorize = google.start_login_with("google").await;
    assert_eq!(param(&authorize, "redirect_uri"), app.url("/auth"));
    let response = google.login_with("google", &name).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(set_cookies(&response).contains_key("access_token"));
    assert_eq!(claims(&google.cookie("access_token").unwrap())["idp"], "google");

    let corp = app.browser();
    let corp_name = unique("carl");
    let authorize = corp.start_login_with("corp").await;
    assert!(authorize.as_str().starts_with(&required_env("TEST_OIDC_CONFORM_ISSUER")));
    assert_eq!(param(&authorize, "redirect_uri"), app.url("/auth/corp"));
    let response = corp.login_with("corp", &corp_name).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "corp's callback signs in");
    let access = corp.cookie("access_token").unwrap();
    assert_eq!(claims(&access)["idp"], "corp");
    let rows = app.user_rows(&corp_name);
    assert_eq!((rows.len(), rows[0].provider.as_str()), (1, "corp"));
    assert_eq!(rows[0].email.as_deref(), Some(format!("{corp_name}@example.test").as_str()), "from UserInfo");
    let sessions = corp.get("/sessions").await.text().await.unwrap();
    assert!(sessions.contains("signed in with <span class=\"provider\">Corp SSO</span>"), "{sessions}");

    let hub = app.browser();
    let response = github_login(&hub, &github, GitHubUser::new(4242, "hub@example.test", true)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "github's callback signs in");
    let asked: Vec<(String, String)> = github.last_authorize_query();
    let asked = |k: &str| asked.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(asked("redirect_uri"), app.url("/auth/github"));
    assert_eq!(asked("scope"), "read:user user:email");
    assert_eq!(asked("code_challenge_method"), "S256");
    assert!(asked("state").len() >= 16);
    assert_eq!(claims(&hub.cookie("access_token").unwrap())["idp"], "github");
    let chat: Value = hub.get_json("/chat").await.json().await.unwrap();
    assert_eq!(chat["user"]["user_email"], "hub@example.test");
    assert_eq!(chat["user"]["name"], "User 4242");
    let rows = app.user_rows("4242");
    assert_eq!(rows.len(), 1, "GitHub's subject is its numeric id");
    assert_eq!((rows[0].issuer.as_str(), rows[0].provider.as_str()), (github.base().as_str(), "github"));
    // Three people, three accounts.
    assert_eq!(account_count(&app), 3);
}

#[tokio::test]
async fn github_identities_are_its_numeric_id_and_primary_verified_email() {
    let (app, github) = three(vec![]).await;
    let mut user = GitHubUser::new(777, "primary@example.test", true);
    user.emails.insert(0, GitHubEmail { email: "other@example.test".into(), primary: false, verified: true });
    user.public_email = Some("public@example.test".into());
    let first = app.browser();
    assert_eq!(github_login(&first, &github, user.clone()).await.status(), StatusCode::SEE_OTHER);
    let account = account_of(&first).await;
    assert_eq!(app.user_rows("777")[0].email.as_deref(), Some("primary@example.test"));
    // A renamed login is the same person.
    user.login = "renamed".into();
    let again = app.browser();
    assert_eq!(github_login(&again, &github, user).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(account_of(&again).await, account);
    assert_eq!(github.exchanges(), 2);

    // A primary address GitHub has not verified is no email at all: refused while
    // REQUIRE_EMAIL_VERIFIED, and nothing written.
    let unverified = app.browser();
    let response = github_login(&unverified, &github, GitHubUser::new(778, "new@example.test", false)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!set_cookies(&response).contains_key("access_token"));
    assert!(app.user_rows("778").is_empty());

    // Refused at GitHub: a page, no cookie.
    github.deny_next();
    let denied = app.browser();
    let authorize = denied.start_login_with("github").await;
    let response = github_callback(&denied, &authorize).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("cancelled or refused"));
}

#[tokio::test]
async fn a_github_callback_replayed_or_with_a_used_code_signs_nobody_in() {
    let (app, github) = three(vec![]).await;
    let browser = app.browser();
    github.sign_in_as(GitHubUser::new(31, "replay@example.test", true));
    let authorize = browser.start_login_with("github").await;
    let approved = browser.client.get(authorize).send().await.unwrap();
    let callback = location(&approved).to_owned();
    let first = browser.client.get(&callback).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    // The same response again, from a browser that has the login cookie of another login.
    let thief = app.browser();
    let _ = thief.start_login_with("github").await;
    let replay = thief.client.get(&callback).header(header::ACCEPT, "text/html").send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(thief.cookie("access_token").is_none());
    assert_eq!(github.exchanges(), 1, "the replay never reached GitHub");
}

#[tokio::test]
async fn a_first_sign_in_links_by_verified_email_only_where_the_provider_allows_it() {
    let email_login = |tag: &str| format!("{}@shared.test", unique(tag));
    // Without LINK_BY_EMAIL: the same verified address at two providers is two accounts.
    let (app, _github) = three(vec![]).await;
    let login = email_login("nolink");
    let a = app.browser();
    a.login_with("google", &login).await;
    let b = app.browser();
    assert_eq!(b.login_with("corp", &login).await.status(), StatusCode::SEE_OTHER);
    assert_ne!(account_of(&a).await, account_of(&b).await);

    // With it: the corp sign-in joins the account that has the address verified.
    let (app, github) = three(vec![
        ("PROVIDER_CORP_LINK_BY_EMAIL", "true".into()),
        ("PROVIDER_GITHUB_LINK_BY_EMAIL", "true".into()),
        ("REQUIRE_EMAIL_VERIFIED", "false".into()),
    ])
    .await;
    let login = email_login("link");
    let a = app.browser();
    a.login_with("google", &login).await;
    let b = app.browser();
    assert_eq!(b.login_with("corp", &login).await.status(), StatusCode::SEE_OTHER);
    let account = account_of(&a).await;
    assert_eq!(account_of(&b).await, account, "linked by the verified email");
    assert_eq!(identity_count(&app, &account), 2);
    let c = app.browser();
    let response = github_login(&c, &github, GitHubUser::new(90, &login, true)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(account_of(&c).await, account, "GitHub's verified primary address links too");
    assert_eq!(identity_count(&app, &account), 3);

    // An unverified address never links, whatever the flag: a new account.
    let d = app.browser();
    let response = github_login(&d, &github, GitHubUser::new(91, &login, false)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "admitted: REQUIRE_EMAIL_VERIFIED=false");
    assert_ne!(account_of(&d).await, account);
    let f = app.browser();
    assert_eq!(f.login_with("corp", &format!("unverified:{login}")).await.status(), StatusCode::SEE_OTHER);
    let chat: Value = f.get_json("/chat").await.json().await.unwrap();
    assert_eq!(chat["user"]["user_email"], login.to_lowercase(), "the same address, unverified");
    assert_ne!(account_of(&f).await, account, "corp says the address is unverified: no link");

    // Two accounts with the address verified (two Google accounts the dev provider gives one
    // address: their logins differ in case only): no way to tell which, so a new one.
    let twice = email_login("twice");
    let (g1, g2) = (app.browser(), app.browser());
    g1.login_with("google", &twice).await;
    g2.login_with("google", &twice.to_uppercase()).await;
    assert_ne!(account_of(&g1).await, account_of(&g2).await, "google does not link (no flag)");
    let h = app.browser();
    h.login_with("corp", &twice).await;
    let third = account_of(&h).await;
    assert!(third != account_of(&g1).await && third != account_of(&g2).await, "ambiguous: a new account");

    // A first sign-in whose email would link it to a disabled account is refused, not given a
    // new account of its own.
    let locked = email_login("locked");
    let owner = app.browser();
    owner.login_with("google", &locked).await;
    let env = crate::cli::base_env(app.database_url.clone());
    assert_eq!(crate::cli::doorman(&["users", "disable", &account_of(&owner).await], &env).status.code(), Some(0));
    let rows = || app.count("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM identities) AS n");
    let before = rows();
    assert_eq!(app.browser().login_with("corp", &locked).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(rows(), before, "no account opened, no identity attached to the disabled one");
}

#[tokio::test]
async fn the_account_page_connects_and_disconnects_sign_in_methods() {
    let (app, github) = three(vec![]).await;
    let browser = app.signed_in_with("google", &unique("acct")).await;
    let account = account_of(&browser).await;
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(page.contains("data-provider=\"google\""), "{page}");
    assert!(page.contains("Connect Corp SSO") && page.contains("Connect GitHub"), "{page}");
    assert!(!page.contains(">Disconnect<"), "the only method cannot be disconnected: {page}");

    github.sign_in_as(GitHubUser::new(500, "someone-else@example.test", true));
    let to_github = browser.post_form("/account/connect/github").await;
    assert_eq!(to_github.status(), StatusCode::SEE_OTHER);
    let authorize = Url::parse(location(&to_github)).unwrap();
    let back = github_callback(&browser, &authorize).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&back), "/account");
    assert_eq!(identity_count(&app, &account), 2);
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(page.contains("data-provider=\"github\"") && !page.contains("Connect GitHub"), "{page}");
    assert_eq!(page.matches(">Disconnect<").count(), 2, "{page}");

    // GitHub now signs in to the same account.
    let other = app.browser();
    assert_eq!(
        github_login(&other, &github, GitHubUser::new(500, "x@example.test", true)).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(account_of(&other).await, account);

    // Disconnecting GitHub ends the sessions it signed in; the last method is kept.
    let github_identity = app.user_rows("500")[0].clone();
    assert_eq!(github_identity.id.to_string(), account);
    let ids = identity_ids(&app, &account);
    let (google_id, github_id) = (ids[0], ids[1]);
    let removed = browser.post_form(&format!("/account/identities/{github_id}/remove")).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(identity_count(&app, &account), 1);
    let (status, _) = app.api_refresh(&other.cookie("refresh_token").unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the GitHub session ended with its identity");
    let last = browser.post_form(&format!("/account/identities/{google_id}/remove")).await;
    assert_eq!(last.status(), StatusCode::CONFLICT);
    assert!(last.text().await.unwrap().contains("last way to sign in"));
    assert_eq!(identity_count(&app, &account), 1);
    let not_mine = browser.post_form(&format!("/account/identities/{}/remove", uuid::Uuid::new_v4())).await;
    assert_eq!(not_mine.status(), StatusCode::NOT_FOUND);
    // One audit event each for the connect and the removal (not for the refused ones).
    let events = |kind: &str| {
        app.count(&format!(
            "SELECT count(*) AS n FROM audit_events WHERE kind = '{kind}' AND user_id = '{account}' \
             AND provider = 'github' AND ip = '127.0.0.1'"
        ))
    };
    assert_eq!((events("identity_connected"), events("identity_removed")), (1, 1));
    let detail = "SELECT count(*) AS n FROM audit_events WHERE detail = '1 session(s) it signed in ended'";
    assert_eq!(app.count(detail), 1);
}

fn identity_ids(app: &TestApp, account: &str) -> Vec<uuid::Uuid> {
    use diesel::prelude::*;
    use doorman::schema::identities;
    let account = uuid::Uuid::parse_str(account).unwrap();
    identities::table
        .filter(identities::user_id.eq(account))
        .order(identities::created_at.asc())
        .select(identities::id)
        .load(&mut app.db())
        .unwrap()
}

#[tokio::test]
async fn an_identity_of_another_account_is_refused_and_nothing_changes() {
    let (app, github) = three(vec![]).await;
    let owner = app.browser();
    assert_eq!(
        github_login(&owner, &github, GitHubUser::new(600, "owner@example.test", true)).await.status(),
        StatusCode::SEE_OTHER
    );
    let owner_account = account_of(&owner).await;
    let browser = app.signed_in_with("google", &unique("taker")).await;
    let account = account_of(&browser).await;
    let to_github = browser.post_form("/account/connect/github").await;
    let authorize = Url::parse(location(&to_github)).unwrap();
    let refused = github_callback(&browser, &authorize).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let page = refused.text().await.unwrap();
    assert!(page.contains("already belongs to another account"), "{page}");
    assert_eq!((identity_count(&app, &account), identity_count(&app, &owner_account)), (1, 1));
    assert_eq!(app.user_rows("600")[0].id.to_string(), owner_account);
}

#[tokio::test]
async fn cross_site_posts_to_the_account_are_refused() {
    let (app, _github) = three(vec![]).await;
    let browser = app.signed_in_with("google", &unique("csrf")).await;
    let account = account_of(&browser).await;
    let identity = identity_ids(&app, &account)[0];
    for path in ["/account/connect/github".to_owned(), format!("/account/identities/{identity}/remove")] {
        for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
            let response = browser.client.post(app.url(&path)).header(name, value).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} with {name}: {value}");
        }
    }
    assert_eq!(identity_count(&app, &account), 1);
}

#[tokio::test]
async fn a_response_at_another_providers_callback_is_refused() {
    let (app, github) = three(vec![]).await;
    // Started with corp, delivered to google's callback (/auth) with corp's code and state.
    let browser = app.browser();
    let authorize = browser.start_login_with("corp").await;
    let callback = browser.sign_in_at_provider(&authorize, &unique("mixup")).await;
    assert_eq!(callback.path(), "/auth/corp");
    let moved = format!("/auth?{}", callback.query().unwrap());
    let response = browser.get(&moved).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("another provider"));
    assert!(browser.cookie("access_token").is_none());

    // Started with google, delivered to corp's and github's callbacks.
    for target in ["/auth/corp", "/auth/github"] {
        let browser = app.browser();
        let authorize = browser.start_login_with("google").await;
        let callback = browser.sign_in_at_provider(&authorize, &unique("mixup")).await;
        let response = browser.get(&format!("{target}?{}", callback.query().unwrap())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{target}");
        assert!(browser.cookie("access_token").is_none());
    }

    // A GitHub code delivered to /auth never reaches any token endpoint.
    let browser = app.browser();
    github.sign_in_as(GitHubUser::new(700, "mix@example.test", true));
    let authorize = browser.start_login_with("github").await;
    let approved = browser.client.get(authorize).send().await.unwrap();
    let callback = Url::parse(location(&approved)).unwrap();
    let response = browser.get(&format!("/auth?{}", callback.query().unwrap())).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!((github.exchanges(), github.refused_exchanges()), (0, 0));
    assert_eq!(account_count(&app), 0, "nobody signed in");
}

#[tokio::test]
async fn one_provider_down_leaves_the_others_working() {
    // corp's issuer answers nothing: the app starts anyway.
    let github = Arc::new(FakeGitHub::start());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let providers = vec![
        Extra::OidcClient { id: "corp", issuer: dead, client_id: "c".into(), client_secret: "s".into() },
        Extra::GitHub(github.clone()),
    ];
    let app = TestApp::spawn_with(Options { providers, ..Default::default() }).await;
    let browser = app.browser();
    let response = browser.get("/login/corp").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.unwrap().contains("not answering"));
    let signed_in = app.signed_in_with("google", &unique("up")).await;
    account_of(&signed_in).await;
    // GitHub goes down between its approval and our code exchange: a 503 page, no cookie.
    let down = app.browser();
    github.sign_in_as(GitHubUser::new(800, "down@example.test", true));
    let authorize = down.start_login_with("github").await;
    let approved = down.client.get(authorize).send().await.unwrap();
    github.set_down(true);
    let response = down.client.get(location(&approved)).header(header::ACCEPT, "text/html").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.cookie("access_token").is_none());
    let again = app.signed_in_with("google", &unique("still")).await;
    account_of(&again).await;
}
