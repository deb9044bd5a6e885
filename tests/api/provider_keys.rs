//! The provider's signing keys over time: a provider that signs each token with a new key, a
//! flood of made-up key ids (bounded fetches), a withdrawn key dropped when its max-age runs out.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::fake_provider::{FakeProvider, Key};
use crate::forged_tokens::{assert_rejected, callback_with};
use crate::helpers::TestApp;

/// An app that keeps the default limit on key refetches (the other tests turn it off).
async fn app_with_default_refetch_limit(fake: &FakeProvider) -> TestApp {
    fake.app(vec![("JWKS_MIN_REFRESH_SECONDS", "10".into())]).await
}

#[tokio::test]
async fn a_provider_that_signs_each_token_with_a_new_key_signs_everyone_in() {
    let (first, second) = (Key::trusted(), Key::rotated());
    let fake = FakeProvider::start(&[&first]).await;
    let app = app_with_default_refetch_limit(&fake).await;
    let (_, response) = callback_with(&app, &fake, |nonce| first.sign(&fake.claims("r1", nonce))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let fetched = fake.jwks_requests();
    // A second later the provider signs with a key published after our last fetch.
    tokio::time::sleep(Duration::from_secs(1)).await;
    fake.publish(&[&first, &second]);
    let (_, response) = callback_with(&app, &fake, |nonce| second.sign(&fake.claims("r2", nonce))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a new kid from the token endpoint is fetched at once");
    assert_eq!(fake.jwks_requests(), fetched + 1, "one refetch for the new key");
    assert_eq!((app.user_rows("r1").len(), app.user_rows("r2").len()), (1, 1));
}

#[tokio::test]
async fn made_up_key_ids_make_a_bounded_number_of_key_fetches() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let app = app_with_default_refetch_limit(&fake).await;
    let fetched = fake.jwks_requests();
    // Posted to the API: at most one refetch per JWKS_MIN_REFRESH_SECONDS, however many kids.
    let attacker_kids: Vec<String> = (0..40).map(|i| format!("made-up-{i}")).collect();
    for kid in &attacker_kids {
        let attacker = Key::attacker(Box::leak(kid.clone().into_boxed_str()));
        let mut claims = fake.claims("flood", "");
        claims.as_object_mut().unwrap().remove("nonce");
        let response = reqwest::Client::new()
            .post(app.url("/api/v1/auth/google/"))
            .json(&json!({ "token": attacker.sign(&claims) }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{kid}");
    }
    assert_eq!(fake.jwks_requests(), fetched, "the keys were fetched at start-up, less than 10 s ago");
    // From the token endpoint, an unknown kid refetches once; the same kid again does not.
    let unknown = Key::attacker("rotated-away");
    for _ in 0..3 {
        let (_, response) = callback_with(&app, &fake, |nonce| unknown.sign(&fake.claims("flood", nonce))).await;
        assert_rejected(response, StatusCode::UNAUTHORIZED).await;
    }
    assert_eq!(fake.jwks_requests(), fetched + 1, "one refetch for that kid, whatever the number of tokens");
    assert!(app.user_rows("flood").is_empty());
}

#[tokio::test]
async fn a_key_the_provider_withdraws_stops_verifying_once_its_max_age_runs_out() {
    let (withdrawn, current) = (Key::trusted(), Key::rotated());
    let fake = FakeProvider::start(&[&withdrawn]).await;
    fake.keys_max_age(1);
    let app = fake.app(vec![]).await;
    let post = |key: &Key| {
        let mut claims = fake.claims("holder", "");
        claims.as_object_mut().unwrap().remove("nonce");
        reqwest::Client::new().post(app.url("/api/v1/auth/google/")).json(&json!({ "token": key.sign(&claims) })).send()
    };
    assert_eq!(post(&withdrawn).await.unwrap().status(), StatusCode::OK);
    let fetched = fake.jwks_requests();
    // After a compromise the provider publishes only its new key.
    fake.publish(&[&current]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(fake.jwks_requests() > fetched, "the keys were fetched again in the background");
    assert_eq!(post(&withdrawn).await.unwrap().status(), StatusCode::UNAUTHORIZED, "the withdrawn key is dead");
    assert_eq!(post(&current).await.unwrap().status(), StatusCode::OK);
}
