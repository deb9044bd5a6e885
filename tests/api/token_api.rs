//! The JSON API: ID-token login, refresh rotation and reuse detection, JWKS, CORS.

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::fake_provider::{FakeProvider, Key, CLIENT_ID};
use crate::helpers::TestApp;

struct Api {
    app: TestApp,
    fake: FakeProvider,
    key: Key,
    http: reqwest::Client,
}

impl Api {
    async fn start(env: Vec<(&'static str, String)>) -> Api {
        let key = Key::trusted();
        let fake = FakeProvider::start(&[&key]).await;
        let app = fake.app(env).await;
        Api { app, fake, key, http: reqwest::Client::new() }
    }

    /// A Google-style ID token as a single-page app would post it (no nonce of ours).
    fn id_token(&self, subject: &str, change: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.fake.claims(subject, "");
        claims.as_object_mut().unwrap().remove("nonce");
        change(&mut claims);
        self.key.sign(&claims)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self.http.post(self.app.url(path)).json(&body).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, subject: &str) -> Value {
        let (status, body) =
            self.post("/api/v1/auth/google/", json!({ "token": self.id_token(subject, |_| {}) })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn refresh(&self, refresh: &Value) -> (StatusCode, Value) {
        self.post("/api/v1/auth/token/refresh/", json!({ "refresh": refresh })).await
    }
}

#[tokio::test]
async fn id_token_login_answers_user_access_and_refresh() {
    let api = Api::start(vec![]).await;
    let body = api.login("spa-user").await;
    assert_eq!(body["user"]["email"], "spa-user@fake.test");
    assert_eq!(body["user"]["name"], "Fake spa-user");
    assert_eq!(body["user"]["emailVerified"], true);
    assert!(body["user"]["id"].as_str().unwrap().len() == 36);
    let access = body["access"].as_str().unwrap();
    let chat = api
        .http
        .get(api.app.url("/chat"))
        .bearer_auth(access)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), StatusCode::OK);
    assert_eq!(chat.json::<Value>().await.unwrap()["user"]["user_id"], body["user"]["id"]);
    // The refresh token is refused where an access token is expected.
    let wrong = api
        .http
        .get(api.app.url("/chat"))
        .bearer_auth(body["refresh"].as_str().unwrap())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api.app.user_rows("spa-user").len(), 1);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_session() {
    let api = Api::start(vec![]).await;
    let first = api.login("rotor").await;
    let (status, second) = api.refresh(&first["refresh"]).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh"], first["refresh"], "the refresh token rotates");
    assert!(second["access"].is_string());
    let (status, third) = api.refresh(&second["refresh"]).await;
    assert_eq!(status, StatusCode::OK);

    // The retired first token comes back: reuse, and the whole session dies.
    let (status, body) = api.refresh(&first["refresh"]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("token_reused")));
    let (status, body) = api.refresh(&third["refresh"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the newest token of a revoked session is dead too: {body}");
}

#[tokio::test]
async fn a_disabled_account_is_refused_with_account_disabled() {
    let api = Api::start(vec![]).await;
    let first = api.login("lockedout").await;
    let id = first["user"]["id"].as_str().unwrap().to_owned();
    let env = crate::cli::base_env(api.app.database_url.clone());
    assert_eq!(crate::cli::doorman(&["users", "disable", &id], &env).status.code(), Some(0));
    let (status, body) = api.refresh(&first["refresh"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "its session ended: {body}");
    let (status, body) = api.post("/api/v1/auth/google/", json!({ "token": api.id_token("lockedout", |_| {}) })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "account_disabled");
    assert!(body["detail"].as_str().unwrap().contains("disabled by an administrator"), "{body}");
    assert_eq!(api.app.count("SELECT count(*) AS n FROM issued_tokens WHERE revoked_at IS NULL"), 0, "no session");
    assert_eq!(crate::cli::doorman(&["users", "enable", &id], &env).status.code(), Some(0));
    assert_eq!(api.login("lockedout").await["user"]["id"], id.as_str(), "enabled: the same account again");
}

#[tokio::test]
async fn api_input_errors_have_the_right_status_and_shape() {
    let api = Api::start(vec![]).await;
    let raw = |body: &'static str, content_type: &'static str| {
        api.http.post(api.app.url("/api/v1/auth/google/")).header(header::CONTENT_TYPE, content_type).body(body).send()
    };
    let malformed = raw("{not json", "application/json").await.unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"], "malformed_body");
    assert!(body["detail"].is_string());
    assert_eq!(
        raw(r#"{"access_token":"x"}"#, "application/json").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(raw(r#"{"token":5}"#, "application/json").await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        raw("token=x", "application/x-www-form-urlencoded").await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let cases: Vec<(&str, String, StatusCode)> = vec![
        ("garbage", "not-a-jwt".into(), StatusCode::UNAUTHORIZED),
        ("other audience", api.id_token("x", |c| c["aud"] = json!("another-app")), StatusCode::UNAUTHORIZED),
        (
            "expired",
            api.id_token("x", |c| {
                c["exp"] = json!(chrono::Utc::now().timestamp() - 600);
            }),
            StatusCode::UNAUTHORIZED,
        ),
        ("other issuer", api.id_token("x", |c| c["iss"] = json!("https://evil.example")), StatusCode::UNAUTHORIZED),
        ("unverified email", api.id_token("x", |c| c["email_verified"] = json!(false)), StatusCode::FORBIDDEN),
        ("attacker key", Key::attacker("trusted-1").sign(&api.fake.claims("x", "")), StatusCode::UNAUTHORIZED),
    ];
    for (what, token, expected) in cases {
        let (status, body) = api.post("/api/v1/auth/google/", json!({ "token": token })).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert!(body["error"].is_string() && body["detail"].is_string(), "{what}: {body}");
    }
    assert!(api.app.user_rows("x").is_empty(), "no row for any refused token");

    let (status, body) = api.refresh(&json!("not-a-token")).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let (status, _) = api.post("/api/v1/auth/token/refresh/", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_access_token_that_does_not_match_at_hash_is_refused() {
    let api = Api::start(vec![]).await;
    let token = api.id_token("hashy", |c| c["at_hash"] = json!("AAAAAAAAAAAAAAAAAAAAAA"));
    let (status, _) = api.post("/api/v1/auth/google/", json!({ "token": token, "access_token": "ya29.other" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unreachable_provider_gives_503() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Nothing listens there: discovery fails at start-up (the app starts anyway) and at the request.
    let app = TestApp::spawn_with(crate::helpers::Options {
        provider: Some((format!("http://127.0.0.1:{port}"), CLIENT_ID.into(), "secret".into())),
        env: vec![("HTTP_TIMEOUT_SECONDS", "2".into())],
        ..Default::default()
    })
    .await;
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/google/"))
        .json(&json!({"token": "a.b.c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "service_unavailable");
    assert_eq!(app.browser().get("/login").await.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn rs256_access_tokens_verify_against_the_published_jwks() {
    let key_file = format!("{}/tests/fixtures/provider_key.pem", env!("CARGO_MANIFEST_DIR"));
    let api = Api::start(vec![("JWT_PRIVATE_KEY_FILE", key_file), ("JWT_KEY_ID", "access-1".into())]).await;
    let body = api.login("jwks-user").await;
    let access = body["access"].as_str().unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet =
        api.http.get(api.app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!((header.alg, header.kid.as_deref()), (jsonwebtoken::Algorithm::RS256, Some("access-1")));
    let jwk = jwks.find("access-1").expect("published");
    assert!(!serde_json::to_string(jwk).unwrap().contains("\"d\""), "no private part published");
    // As an upstream service verifies it: key from the JWKS, issuer and audience = our origin.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    validation.set_issuer(&[&api.app.address]);
    validation.set_audience(&[&api.app.address]);
    let claims = jsonwebtoken::decode::<Value>(access, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims;
    assert_eq!((claims["type"].as_str(), claims["sub"].clone()), (Some("access"), body["user"]["id"].clone()));

    let hs_app = TestApp::spawn_with(Default::default()).await;
    assert_eq!(reqwest::get(hs_app.url("/.well-known/jwks.json")).await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let api = Api::start(vec![("CORS_ALLOWED_ORIGINS", "https://app.example".into())]).await;
    let preflight = |origin: &'static str| {
        api.http
            .request(reqwest::Method::OPTIONS, api.app.url("/api/v1/auth/token/refresh/"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    assert!(!refused.status().is_success());

    // The page must be able to read an error too: the JSON error keeps the CORS headers.
    let error = api
        .http
        .post(api.app.url("/api/v1/auth/token/refresh/"))
        .header("origin", "https://app.example")
        .json(&serde_json::json!({ "refresh": "not-a-token" }))
        .send()
        .await
        .unwrap();
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(error.json::<serde_json::Value>().await.unwrap()["error"], "invalid_token");
}
