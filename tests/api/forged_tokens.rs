//! ID tokens a real provider would never issue, served by the fake provider.

use base64::Engine;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fake_provider::{FakeProvider, Key, CLIENT_ID, CLIENT_SECRET};
use crate::helpers::{location, param, set_cookies, Browser, TestApp};

async fn app_for(fake: &FakeProvider) -> TestApp {
    fake.app(vec![]).await
}

/// Starts a login, lets the fake provider answer the code exchange with `forge(nonce)`, and
/// returns the app's answer to the callback.
pub(crate) async fn callback_with(
    app: &TestApp,
    fake: &FakeProvider,
    forge: impl FnOnce(&str) -> String,
) -> (Browser, Response) {
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    assert!(authorize.as_str().starts_with(&fake.issuer));
    fake.answer_with(forge(&param(&authorize, "nonce")));
    let response = browser.get(&fake.callback_path(&authorize, "fake-code")).await;
    (browser, response)
}

#[tokio::test]
async fn a_replay_is_refused_even_by_a_provider_that_accepts_a_code_twice() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = app_for(&fake).await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    let saved_session = browser.cookie("doorman_login").unwrap();
    let id_token = trusted.sign(&fake.claims("replayed", &param(&authorize, "nonce")));
    fake.answer_with(id_token.clone());
    let callback = fake.callback_path(&authorize, "reusable");
    assert_eq!(browser.get(&callback).await.status(), StatusCode::SEE_OTHER);

    // The fake provider exchanges the code again; the state, recorded as used, stops the login.
    fake.answer_with(id_token);
    let thief = app.browser();
    thief.set_cookie("doorman_login", &saved_session);
    let replay = thief.get(&callback).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(!set_cookies(&replay).contains_key("access_token"));
    let page = replay.text().await.unwrap();
    assert!(page.contains("already used"), "{page}");
    let user = &app.user_rows("replayed")[0];
    let sessions: i64 = diesel::RunQueryDsl::get_result(
        diesel::QueryDsl::count(diesel::QueryDsl::filter(
            doorman::schema::issued_tokens::table,
            diesel::ExpressionMethods::eq(doorman::schema::issued_tokens::user_id, user.id),
        )),
        &mut app.db(),
    )
    .unwrap();
    assert_eq!(sessions, 1, "the replay opened no session");
}

pub(crate) async fn assert_rejected(response: Response, status: StatusCode) {
    assert_eq!(response.status(), status);
    assert!(!set_cookies(&response).contains_key("access_token"), "no access cookie");
    assert!(response.text().await.unwrap().contains("couldn"), "a friendly page");
}

/// A change that makes genuine claims wrong in one way.
type ClaimChange = Box<dyn Fn(&mut Value)>;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_genuine_token_passes_and_pkce_and_profile_updates_work() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = app_for(&fake).await;

    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    let claims = fake.claims("ivy", &param(&authorize, "nonce"));
    fake.answer_with(trusted.sign(&claims));
    let response = browser.get(&fake.callback_path(&authorize, "c1")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/chat");

    // PKCE: the verifier sent to the token endpoint hashes to the challenge sent to /authorize.
    let request = fake.last_token_request();
    let verifier = request.iter().find(|(k, _)| k == "code_verifier").map(|(_, v)| v.clone()).unwrap();
    assert_eq!(b64(&Sha256::digest(verifier.as_bytes())), param(&authorize, "code_challenge"));
    assert!(request.iter().any(|(k, v)| k == "code" && v == "c1"));

    let first = app.user_rows("ivy");
    assert_eq!(first[0].name.as_deref(), Some("Fake ivy"));
    let (_, again) = callback_with(&app, &fake, |nonce| {
        let mut claims = fake.claims("ivy", nonce);
        claims["name"] = Value::from("Ivy Renamed");
        claims["email"] = Value::from("ivy.new@fake.test");
        trusted.sign(&claims)
    })
    .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let second = app.user_rows("ivy");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].name.as_deref(), Some("Ivy Renamed"), "profile refreshed at login");
    assert_eq!(second[0].email.as_deref(), Some("ivy.new@fake.test"));
    assert!(second[0].updated_at > first[0].updated_at, "a changed profile moves updated_at");
}

#[tokio::test]
async fn tokens_signed_by_another_key_are_refused() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = app_for(&fake).await;
    // The attacker's key under the trusted key's kid: the signature does not verify.
    let impostor = Key::attacker("trusted-1");
    let (_, response) = callback_with(&app, &fake, |nonce| impostor.sign(&fake.claims("eve", nonce))).await;
    assert_rejected(response, StatusCode::UNAUTHORIZED).await;
    // Under a kid the provider never published: refetching the keys does not help.
    let unknown = Key::attacker("attacker-kid");
    let (_, response) = callback_with(&app, &fake, |nonce| unknown.sign(&fake.claims("eve", nonce))).await;
    assert_rejected(response, StatusCode::UNAUTHORIZED).await;
    assert!(app.user_rows("eve").is_empty(), "no row for a refused login");
}

#[tokio::test]
async fn expired_wrong_audience_wrong_issuer_wrong_nonce_and_foreign_azp_are_refused() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = app_for(&fake).await;
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, ClaimChange)> = vec![
        (
            "expired",
            Box::new(move |c| {
                c["exp"] = Value::from(now - 120);
                c["iat"] = Value::from(now - 600);
            }),
        ),
        ("audience", Box::new(|c| c["aud"] = Value::from("someone-else"))),
        ("extra audience", Box::new(|c| c["aud"] = serde_json::json!([CLIENT_ID, "someone-else"]))),
        ("issuer", Box::new(|c| c["iss"] = Value::from("https://evil.example"))),
        ("nonce", Box::new(|c| c["nonce"] = Value::from("not-the-nonce-we-sent"))),
        (
            "no nonce",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("nonce");
            }),
        ),
        ("azp", Box::new(|c| c["azp"] = Value::from("another-client"))),
    ];
    for (what, change) in cases {
        let (_, response) = callback_with(&app, &fake, |nonce| {
            let mut claims = fake.claims("victim", nonce);
            change(&mut claims);
            trusted.sign(&claims)
        })
        .await;
        assert!(response.status().is_client_error(), "{what}: {}", response.status());
        assert_rejected(response, StatusCode::UNAUTHORIZED).await;
    }
    assert!(app.user_rows("victim").is_empty());
}

#[tokio::test]
async fn a_token_within_the_clock_skew_allowance_passes() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = app_for(&fake).await;
    let (_, response) = callback_with(&app, &fake, |nonce| {
        let mut claims = fake.claims("skewed", nonce);
        claims["exp"] = Value::from(chrono::Utc::now().timestamp() - 20);
        trusted.sign(&claims)
    })
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "20 s past exp is within the 60 s allowance");
}

#[tokio::test]
async fn unsigned_and_hmac_tokens_are_refused_even_when_advertised() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = app_for(&fake).await;
    let (_, response) = callback_with(&app, &fake, |nonce| {
        let claims = fake.claims("nobody", nonce);
        format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims.to_string().as_bytes()))
    })
    .await;
    assert_rejected(response, StatusCode::UNAUTHORIZED).await;

    // HS256 keyed with the client secret: valid by the spec, refused by us (asymmetric only).
    let (_, response) = callback_with(&app, &fake, |nonce| {
        let claims = fake.claims("nobody", nonce);
        let key = jsonwebtoken::EncodingKey::from_secret(CLIENT_SECRET.as_bytes());
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &key).unwrap()
    })
    .await;
    assert_rejected(response, StatusCode::UNAUTHORIZED).await;
    assert!(app.user_rows("nobody").is_empty());
}

#[tokio::test]
async fn a_provider_key_rotation_is_followed() {
    let (old, new) = (Key::trusted(), Key::rotated());
    let fake = FakeProvider::start(&[&old]).await;
    let app = app_for(&fake).await;
    // The app fetched the keys at start-up; now the provider rotates.
    fake.publish(&[&new]);
    let (_, response) = callback_with(&app, &fake, |nonce| new.sign(&fake.claims("rotated", nonce))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "an unknown kid makes the app fetch the keys again");
    assert_eq!(app.user_rows("rotated").len(), 1);
}

#[tokio::test]
async fn a_code_the_provider_refuses_gives_a_4xx_page() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = app_for(&fake).await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    // No token queued: the fake answers invalid_grant.
    let response = browser.get(&fake.callback_path(&authorize, "used")).await;
    assert_rejected(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_missing_iss_parameter_is_refused_when_the_provider_promises_one() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = app_for(&fake).await;
    let browser = app.browser();
    let authorize = browser.start_login(None).await;
    fake.answer_with(trusted.sign(&fake.claims("noiss", &param(&authorize, "nonce"))));
    let response = browser.get(&format!("/auth?code=c&state={}", param(&authorize, "state"))).await;
    assert_rejected(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn an_unverified_email_is_refused_at_the_callback_unless_allowed() {
    let trusted = Key::trusted();
    let fake = FakeProvider::start(&[&trusted]).await;
    let app = app_for(&fake).await;
    let (_, response) = callback_with(&app, &fake, |nonce| {
        let mut claims = fake.claims("unverified", nonce);
        claims["email_verified"] = Value::from(false);
        trusted.sign(&claims)
    })
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(app.user_rows("unverified").is_empty(), "a refused user gets no row");

    let lenient = fake.app(vec![("REQUIRE_EMAIL_VERIFIED", "false".into())]).await;
    let (_, response) = callback_with(&lenient, &fake, |nonce| {
        let mut claims = fake.claims("unverified", nonce);
        claims["email_verified"] = Value::from(false);
        trusted.sign(&claims)
    })
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!lenient.user_rows("unverified")[0].email_verified);
}
