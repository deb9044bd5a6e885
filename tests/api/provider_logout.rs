//! Logout at the provider: RP-initiated logout against the real provider (oidc-provider with
//! `rpInitiatedLogout`), back-channel logout tokens it really sends (`backchannelLogout`) when
//! its session ends, and forged logout tokens from the fake provider.

use base64::Engine;
use reqwest::{header, StatusCode, Url};
use serde_json::{json, Value};

use crate::fake_provider::{FakeProvider, Key, CLIENT_ID};
use crate::forged_tokens::callback_with;
use crate::helpers::{location, param, unique, Browser, TestApp};

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Confirms the provider's "sign out?" page (oidc-provider's end-session form) and follows it to
/// where the provider sends the browser afterwards.
async fn confirm_end_session(browser: &Browser, end_session: &str) -> Url {
    let page = browser.client.get(end_session).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the provider asks to confirm");
    let html = page.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let form = doc.select(&scraper::Selector::parse("form").unwrap()).next().expect("a logout form");
    let action = Url::parse(end_session).unwrap().join(form.value().attr("action").unwrap()).unwrap();
    let mut fields: Vec<(String, String)> = doc
        .select(&scraper::Selector::parse("form input[type=hidden]").unwrap())
        .map(|i| (i.value().attr("name").unwrap().to_owned(), i.value().attr("value").unwrap_or("").to_owned()))
        .collect();
    fields.push(("logout".into(), "yes".into()));
    let done = browser.client.post(action.clone()).form(&fields).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "the provider ends its session");
    action.join(location(&done)).unwrap()
}

#[tokio::test]
async fn logout_goes_through_the_providers_end_session_endpoint() {
    let app = TestApp::spawn().await;
    let login = unique("rp");
    let browser = app.signed_in(&login).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM provider_sessions WHERE id_token IS NOT NULL"), 1);
    let response = browser.post_form("/logout").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let end_session = Url::parse(location(&response)).unwrap();
    assert_eq!(end_session.as_str().split('?').next().unwrap(), format!("{}/session/end", app.issuer));
    assert_eq!(param(&end_session, "post_logout_redirect_uri"), format!("{}/", app.address));
    let hint = payload(&param(&end_session, "id_token_hint"));
    assert_eq!((hint["sub"].as_str(), hint["iss"].as_str()), (Some(login.as_str()), Some(app.issuer.as_str())));
    assert_eq!(hint["aud"], param(&end_session, "client_id"), "the ID token of this sign-in");
    assert!(browser.cookie("access_token").is_none(), "signed out here first");
    assert_eq!(app.count("SELECT count(*) AS n FROM provider_sessions"), 0, "the ID token is not kept");
    // The provider accepts the hint and the registered URI, and sends the browser home.
    let back = confirm_end_session(&browser, end_session.as_str()).await;
    assert_eq!(back.as_str(), format!("{}/", app.address));
}

#[tokio::test]
async fn a_provider_without_an_end_session_endpoint_logs_out_locally() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = fake.app(vec![]).await;
    let (browser, response) = callback_with(&app, &fake, |nonce| trusted.sign(&fake.claims("local", nonce))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = browser.post_form("/logout").await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/"), "like Google");
}

#[tokio::test]
async fn the_providers_back_channel_logout_ends_the_session_of_another_app() {
    // Two apps (two clients) signed in through one session at the provider. One cookie jar
    // (cookies ignore ports): the second app's tokens are taken before the first's replace them.
    let (first, second) = (TestApp::spawn().await, TestApp::spawn().await);
    let other = Browser::new(&second.address);
    let login = unique("both");
    assert_eq!(other.login(&login, None).await.status(), StatusCode::SEE_OTHER);
    let (access, refresh) = (other.cookie("access_token").unwrap(), other.cookie("refresh_token").unwrap());
    let browser = Browser { app: Url::parse(&first.address).unwrap(), ..other.clone() };
    assert_eq!(browser.login(&login, None).await.status(), StatusCode::SEE_OTHER, "the provider remembers");
    assert_eq!(second.count("SELECT count(*) AS n FROM provider_sessions WHERE provider_sid IS NOT NULL"), 1);

    // Logging out of the first app ends the provider's session, which tells the second.
    let response = browser.post_form("/logout").await;
    confirm_end_session(&browser, location(&response)).await;
    let chat =
        reqwest::Client::new().get(second.url("/chat")).bearer_auth(&access).header(header::ACCEPT, "application/json");
    assert_eq!(chat.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "refused at once");
    let (status, _) = second.api_refresh(&refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(second.count("SELECT count(*) AS n FROM issued_tokens WHERE revoked_reason = 'back-channel logout'"), 1);
    let recorded =
        "SELECT count(*) AS n FROM audit_events WHERE kind = 'backchannel_logout' AND session_id IS NOT NULL \
                    AND provider = 'google' AND ip = '127.0.0.1'";
    assert_eq!(second.count(recorded), 1, "the provider's logout is in the audit trail");
    assert_eq!(first.count("SELECT count(*) AS n FROM audit_events WHERE kind = 'logout'"), 1);
}

/// An app of the fake provider with two sessions of "victim" (provider sessions s1 and s2).
async fn signed_in_twice(fake: &FakeProvider, key: &Key) -> (TestApp, Browser, Browser) {
    let app = fake.app(vec![]).await;
    let mut browsers = Vec::new();
    for sid in ["s1", "s2"] {
        let (browser, response) = callback_with(&app, fake, |nonce| {
            let mut claims = fake.claims("victim", nonce);
            claims["sid"] = json!(sid);
            key.sign(&claims)
        })
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        browsers.push(browser);
    }
    let second = browsers.pop().unwrap();
    (app, browsers.pop().unwrap(), second)
}

fn logout_claims(fake: &FakeProvider, sid: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": fake.issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
        "sid": sid,
        "sub": "victim",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    })
}

async fn post_logout_token(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/backchannel-logout"))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn forged_stale_or_replayed_logout_tokens_end_nothing() {
    let (trusted, attacker) = (Key::trusted(), Key::attacker("trusted-1"));
    let fake = FakeProvider::start(&[&trusted]).await;
    let (app, first, second) = signed_in_twice(&fake, &trusted).await;
    let unsigned = |claims: &Value| {
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.", b64(&json!({"alg": "none"})), b64(claims))
    };
    // A genuine logout token of session s1, signed by the provider's key, with one change.
    let changed = |change: fn(&mut Value)| {
        let mut c = logout_claims(&fake, "s1");
        change(&mut c);
        trusted.sign(&c)
    };
    let cases: Vec<(&str, String)> = vec![
        ("signed by another key under the provider's kid", attacker.sign(&logout_claims(&fake, "s1"))),
        ("unsigned", unsigned(&logout_claims(&fake, "s1"))),
        (
            "for another audience",
            changed(|c| {
                c["aud"] = json!("someone-else");
            }),
        ),
        (
            "stale",
            changed(|c| {
                c["iat"] = json!(chrono::Utc::now().timestamp() - 3600);
            }),
        ),
        (
            "with a nonce",
            changed(|c| {
                c["nonce"] = json!("n");
            }),
        ),
        (
            "without events",
            changed(|c| {
                c.as_object_mut().unwrap().remove("events");
            }),
        ),
        (
            "with another event",
            changed(|c| {
                c["events"] = json!({"urn:x": {}});
            }),
        ),
        (
            "without sid or sub",
            changed(|c| {
                let o = c.as_object_mut().unwrap();
                o.remove("sid");
                o.remove("sub");
            }),
        ),
        (
            "without jti",
            changed(|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
        ),
        (
            "from an issuer we do not know",
            changed(|c| {
                c["iss"] = json!("https://evil.example");
            }),
        ),
        ("not a JWT", "garbage".to_owned()),
    ];
    for (what, token) in &cases {
        let (status, body) = post_logout_token(&app, token).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{what}: {body}"
        );
    }
    assert_eq!(first.get_json("/chat").await.status(), StatusCode::OK, "nothing ended");

    // A genuine token ends the session of its sid only, here at once.
    let genuine = trusted.sign(&logout_claims(&fake, "s1"));
    let (status, body) = post_logout_token(&app, &genuine).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(first.get_json("/chat").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(second.get_json("/chat").await.status(), StatusCode::OK, "the other provider session lives");
    let (status, body) = post_logout_token(&app, &genuine).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("logout_token_replayed")));
    // By `sub` alone: every session of that identity.
    let mut by_sub = logout_claims(&fake, "");
    by_sub.as_object_mut().unwrap().remove("sid");
    let (status, _) = post_logout_token(&app, &trusted.sign(&by_sub)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second.get_json("/chat").await.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = post_logout_token(&app, "").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}
