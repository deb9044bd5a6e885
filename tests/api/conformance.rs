//! OpenID conformance against the fake provider: profile claims from UserInfo when the ID token
//! lacks them (and a UserInfo answer for someone else refused), malformed ID tokens and token
//! responses as 4xx. Key rotation is in `provider_keys.rs`; the real oidc-provider in its
//! default claims configuration in `userinfo_provider.rs`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fake_provider::{Behaviour, FakeProvider, Key, UserInfo, ACCESS_TOKEN, CLIENT_ID};
use crate::forged_tokens::{assert_rejected, callback_with};
use crate::helpers::set_cookies;

/// Claims of an ID token that carries identity only, as oidc-provider's default configuration
/// and many providers issue them.
fn identity_only(fake: &FakeProvider, subject: &str, nonce: &str) -> Value {
    let mut claims = fake.claims(subject, nonce);
    for claim in ["email", "email_verified", "name"] {
        claims.as_object_mut().unwrap().remove(claim);
    }
    claims
}

fn profile(subject: &str) -> Value {
    json!({
        "sub": subject,
        "email": format!("{subject}@userinfo.test"),
        "email_verified": true,
        "name": format!("Info {subject}"),
        "picture": "https://pictures.example/p.png",
    })
}

async fn chat_json(browser: &crate::helpers::Browser) -> Value {
    let response = browser.get_json("/chat").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn userinfo_fills_the_profile_an_id_token_leaves_out() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![]).await;
    fake.userinfo_answers(UserInfo::Json(profile("uma")));
    let (browser, response) = callback_with(&app, &fake, |nonce| key.sign(&identity_only(&fake, "uma", nonce))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in although the ID token has no email");
    let body = chat_json(&browser).await;
    assert_eq!(body["user"]["name"], "Info uma");
    assert_eq!(body["user"]["user_email"], "uma@userinfo.test");
    let row = &app.user_rows("uma")[0];
    assert!(row.email_verified, "the verified flag came with the email");
    assert_eq!(row.picture.as_deref(), Some("https://pictures.example/p.png"));
    assert_eq!(row.issuer, fake.issuer, "identity still from the ID token");
    assert_eq!(fake.userinfo_requests(), 1);
}

#[tokio::test]
async fn the_id_token_wins_and_userinfo_is_not_asked_when_nothing_is_missing() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![]).await;
    fake.userinfo_answers(UserInfo::Json(profile("gus")));
    // Everything we use is in the ID token (as Google's are): no UserInfo request.
    let (_, response) = callback_with(&app, &fake, |nonce| {
        let mut claims = fake.claims("gus", nonce);
        claims["picture"] = json!("https://pictures.example/gus.png");
        key.sign(&claims)
    })
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(fake.userinfo_requests(), 0);
    // Only the picture missing: UserInfo fills it, and nothing the ID token said is replaced.
    let (_, response) = callback_with(&app, &fake, |nonce| key.sign(&fake.claims("gus", nonce))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(fake.userinfo_requests(), 1);
    let row = &app.user_rows("gus")[0];
    assert_eq!(row.email.as_deref(), Some("gus@fake.test"));
    assert_eq!(row.name.as_deref(), Some("Fake gus"));
    assert_eq!(row.picture.as_deref(), Some("https://pictures.example/p.png"));
}

#[tokio::test]
async fn a_userinfo_answer_for_another_subject_signs_nobody_in() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![]).await;
    fake.userinfo_answers(UserInfo::Json(profile("someone-else")));
    let (_, response) = callback_with(&app, &fake, |nonce| key.sign(&identity_only(&fake, "victim", nonce))).await;
    assert_rejected(response, StatusCode::UNAUTHORIZED).await;
    assert!(app.user_rows("victim").is_empty() && app.user_rows("someone-else").is_empty(), "nothing written");
}

#[tokio::test]
async fn userinfo_down_or_slow_is_a_503_within_the_timeout() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![("HTTP_TIMEOUT_SECONDS", "1".into())]).await;
    for answer in [UserInfo::Down, UserInfo::Slow(Duration::from_secs(5))] {
        fake.userinfo_answers(answer);
        let started = Instant::now();
        let (_, response) = callback_with(&app, &fake, |nonce| key.sign(&identity_only(&fake, "patient", nonce))).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!set_cookies(&response).contains_key("access_token"));
        // Bounded by HTTP_TIMEOUT_SECONDS (1 s), not by the provider's 5 s.
        assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    }
    assert!(app.user_rows("patient").is_empty());
}

#[tokio::test]
async fn a_signed_userinfo_answer_is_verified_and_a_forged_one_refused() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![]).await;
    let signed = |signer: &Key, subject: &str| {
        let mut claims = profile(subject);
        claims["iss"] = json!(fake.issuer);
        claims["aud"] = json!(CLIENT_ID);
        signer.sign(&claims)
    };
    fake.userinfo_answers(UserInfo::Jwt(signed(&key, "sig")));
    let (_, response) = callback_with(&app, &fake, |nonce| key.sign(&identity_only(&fake, "sig", nonce))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.user_rows("sig")[0].email.as_deref(), Some("sig@userinfo.test"));

    // The attacker's key under the provider's kid, and a genuine one for another audience.
    let mut other_audience = profile("forged");
    other_audience["iss"] = json!(fake.issuer);
    other_audience["aud"] = json!("another-client");
    for forged in [signed(&Key::attacker("trusted-1"), "forged"), key.sign(&other_audience)] {
        fake.userinfo_answers(UserInfo::Jwt(forged));
        let (_, response) = callback_with(&app, &fake, |nonce| key.sign(&identity_only(&fake, "forged", nonce))).await;
        assert_rejected(response, StatusCode::UNAUTHORIZED).await;
    }
    assert!(app.user_rows("forged").is_empty());
}

#[tokio::test]
async fn the_token_api_uses_userinfo_with_the_access_token_posted_beside_the_id_token() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![]).await;
    fake.userinfo_answers(UserInfo::Json(profile("spa")));
    let mut claims = identity_only(&fake, "spa", "");
    claims.as_object_mut().unwrap().remove("nonce");
    let post = |body: Value| reqwest::Client::new().post(app.url("/api/v1/auth/google/")).json(&body).send();
    // Without an access token the ID token alone decides: no verified email, refused.
    let alone = post(json!({ "token": key.sign(&claims) })).await.unwrap();
    assert_eq!(alone.status(), StatusCode::FORBIDDEN);
    assert_eq!(fake.userinfo_requests(), 0);
    let with = post(json!({ "token": key.sign(&claims), "access_token": ACCESS_TOKEN })).await.unwrap();
    assert_eq!(with.status(), StatusCode::OK);
    let body: Value = with.json().await.unwrap();
    assert_eq!(body["user"]["email"], "spa@userinfo.test");
    assert_eq!(body["user"]["emailVerified"], true);
    // An access token the provider does not know: UserInfo refuses it, so does the API.
    let wrong = post(json!({ "token": key.sign(&claims), "access_token": "not-the-token" })).await.unwrap();
    assert!(wrong.status().is_client_error(), "{}", wrong.status());
}

/// One way to make a token response or its ID token malformed.
type Malform = Box<dyn Fn(&FakeProvider, &Key, &str) -> String>;

fn without(claim: &'static str) -> Malform {
    Box::new(move |fake, key, nonce| {
        let mut claims = fake.claims("broken", nonce);
        claims.as_object_mut().unwrap().remove(claim);
        token_body(json!(key.sign(&claims)))
    })
}

fn token_body(id_token: Value) -> String {
    json!({ "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300, "id_token": id_token }).to_string()
}

#[tokio::test]
async fn malformed_id_tokens_and_token_responses_are_4xx_not_outages() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = fake.app(vec![]).await;
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let cases: Vec<(&str, Malform)> = vec![
        ("no iat", without("iat")),
        ("no sub", without("sub")),
        ("no exp", without("exp")),
        ("no aud", without("aud")),
        ("no iss", without("iss")),
        ("no nonce although one was sent", without("nonce")),
        (
            "no id_token",
            Box::new(|_, _, _| json!({ "access_token": ACCESS_TOKEN, "token_type": "Bearer" }).to_string()),
        ),
        ("id_token not a string", Box::new(|_, _, _| token_body(json!(42)))),
        (
            "a JWT of two parts",
            Box::new(|fake, key, nonce| {
                let jwt = key.sign(&fake.claims("broken", nonce));
                token_body(json!(jwt.rsplit_once('.').unwrap().0))
            }),
        ),
        (
            "a payload that is not JSON",
            Box::new(move |_, _, _| {
                token_body(json!(format!("{}.{}.{}", b64(r#"{"alg":"RS256"}"#), b64("not json"), b64("s"))))
            }),
        ),
        (
            "a MAC token type",
            Box::new(|fake, key, nonce| {
                let mut body: Value =
                    serde_json::from_str(&token_body(json!(key.sign(&fake.claims("broken", nonce))))).unwrap();
                body["token_type"] = json!("mac");
                body.to_string()
            }),
        ),
        (
            "a token type that is not a string",
            Box::new(|fake, key, nonce| {
                let mut body: Value =
                    serde_json::from_str(&token_body(json!(key.sign(&fake.claims("broken", nonce))))).unwrap();
                body["token_type"] = json!(7);
                body.to_string()
            }),
        ),
        (
            "no access token",
            Box::new(|fake, key, nonce| {
                json!({ "token_type": "Bearer", "id_token": key.sign(&fake.claims("broken", nonce)) }).to_string()
            }),
        ),
    ];
    for (what, malform) in cases {
        let (_, response) = callback_with(&app, &fake, |nonce| {
            fake.answer_with_body(malform(&fake, &key, nonce));
            String::new()
        })
        .await;
        let status = response.status();
        assert!(status.is_client_error(), "{what}: {status}");
        assert!(!set_cookies(&response).contains_key("access_token"), "{what}: no cookie");
        let page = response.text().await.unwrap();
        assert!(page.contains("couldn"), "{what}: a friendly page: {page}");
    }
    assert!(app.user_rows("broken").is_empty(), "no row for any of them");
    // A provider answering something that is not JSON at all is down: that stays a 503.
    fake.behave(Behaviour::Garbage);
    let (_, response) = callback_with(&app, &fake, |nonce| key.sign(&fake.claims("broken", nonce))).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}
