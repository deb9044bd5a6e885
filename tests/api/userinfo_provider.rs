//! A real OpenID Certified provider (oidc-provider) in its default claims configuration: the ID
//! token carries `sub` only, email and profile come from UserInfo (OIDC Core §5.4). scripts/test
//! starts it and sets TEST_OIDC_CONFORM_ISSUER.

use reqwest::StatusCode;

use crate::helpers::{required_env, unique, Options, TestApp};

#[tokio::test]
async fn a_provider_that_keeps_the_profile_out_of_its_id_tokens_signs_people_in() {
    let issuer = required_env("TEST_OIDC_CONFORM_ISSUER");
    let app = TestApp::spawn_with(Options { issuer: Some(issuer.clone()), ..Default::default() }).await;
    let name = unique("conform");
    let browser = app.signed_in(&name).await;
    let chat = browser.get_json("/chat").await;
    assert_eq!(chat.status(), StatusCode::OK);
    let body: serde_json::Value = chat.json().await.unwrap();
    assert_eq!(body["user"]["user_email"], format!("{name}@example.test"));
    assert!(body["user"]["name"].as_str().is_some_and(|n| !n.is_empty()), "{body}");
    let row = &app.user_rows(&name)[0];
    assert!(row.email_verified, "the verified flag came from UserInfo");
    assert_eq!(row.issuer, issuer);
    assert!(row.picture.is_some());
}
