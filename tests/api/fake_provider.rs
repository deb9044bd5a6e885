//! A fake OpenID provider for what a real one never sends: forged, expired, mis-signed tokens,
//! malformed token responses, UserInfo answers for someone else. It serves discovery, a JWKS
//! (counting how often it is fetched), a token endpoint that answers with whatever the test put
//! there, and a UserInfo endpoint that wants the access token it handed out.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "fake-client";
pub const CLIENT_SECRET: &str = "fake-client-secret";
/// The access token every code exchange hands out; UserInfo accepts only this one.
pub const ACCESS_TOKEN: &str = "fake-access-token";

/// A signing key: the kid it is published under and its PEM.
pub struct Key {
    pub kid: &'static str,
    pub encoding: EncodingKey,
    pub jwk: Jwk,
}

impl Key {
    pub fn load(kid: &'static str, pem_file: &str) -> Key {
        doorman::tokens::install_crypto_backend();
        let pem = std::fs::read(format!("{}/tests/fixtures/{pem_file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let encoding = EncodingKey::from_rsa_pem(&pem).unwrap();
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Key { kid, encoding, jwk }
    }

    pub fn trusted() -> Key {
        Key::load("trusted-1", "provider_key.pem")
    }

    pub fn rotated() -> Key {
        Key::load("trusted-2", "rotated_key.pem")
    }

    pub fn attacker(kid: &'static str) -> Key {
        Key::load(kid, "attacker_key.pem")
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// How the token endpoint behaves.
#[derive(Clone, Copy, Default)]
pub enum Behaviour {
    #[default]
    Normal,
    /// Answers after this long.
    Slow(std::time::Duration),
    /// Answers 200 with a body that is not JSON.
    Garbage,
}

/// What the UserInfo endpoint answers.
#[derive(Clone, Default)]
pub enum UserInfo {
    /// `{"sub": …}` of the last ID token handed out, nothing more.
    #[default]
    SubjectOnly,
    /// These claims, as JSON.
    Json(Value),
    /// This signed JWT, as `application/jwt`.
    Jwt(String),
    /// 503 after this long (longer than the app's timeout: a provider that hangs).
    Slow(std::time::Duration),
    /// 500.
    Down,
}

#[derive(Default)]
struct State {
    behaviour: Behaviour,
    published: Vec<Jwk>,
    next_id_token: Option<String>,
    /// A whole token-endpoint body to answer with instead of the usual one.
    next_raw_body: Option<String>,
    last_subject: Option<String>,
    token_requests: Vec<Vec<(String, String)>>,
    userinfo: UserInfo,
    userinfo_requests: usize,
    jwks_requests: usize,
    /// `Cache-Control: max-age` of the JWKS, when set.
    jwks_max_age: Option<u64>,
}

/// A running fake provider.
pub struct FakeProvider {
    pub issuer: String,
    state: Arc<Mutex<State>>,
}

impl FakeProvider {
    pub async fn start(published: &[&Key]) -> FakeProvider {
        Self::start_on(0, published).await
    }

    /// On a given port (0: any free one).
    pub async fn start_on(port: u16, published: &[&Key]) -> FakeProvider {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            published: published.iter().map(|k| k.jwk.clone()).collect(),
            ..State::default()
        }));
        let (data, discovery) = (web::Data::from(state.clone()), web::Data::new(discovery(&issuer)));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(discovery.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(|d: web::Data<Value>| async move { HttpResponse::Ok().json(d.get_ref()) }),
                )
                .route(
                    "/jwks",
                    web::get().to(|s: web::Data<Mutex<State>>| async move {
                        let mut state = s.lock().unwrap();
                        state.jwks_requests += 1;
                        let mut response = HttpResponse::Ok();
                        if let Some(seconds) = state.jwks_max_age {
                            response.insert_header(("Cache-Control", format!("public, max-age={seconds}")));
                        }
                        response.json(JwkSet { keys: state.published.clone() })
                    }),
                )
                .route("/token", web::post().to(token))
                .route("/userinfo", web::get().to(userinfo))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        FakeProvider { issuer, state }
    }

    /// Where this provider would send the browser back after `authorize` (our `/login`'s
    /// redirect), with `code`, the login's state and RFC 9207's `iss`.
    pub fn callback_path(&self, authorize: &url::Url, code: &str) -> String {
        let state = crate::helpers::param(authorize, "state");
        format!("/auth?code={code}&state={state}&iss={}", crate::helpers::urlencode(&self.issuer))
    }

    /// The ID token the next code exchange answers with.
    pub fn answer_with(&self, id_token: String) {
        self.state.lock().unwrap().next_id_token = Some(id_token);
    }

    /// The whole body (JSON or not) the next code exchange answers with.
    pub fn answer_with_body(&self, body: String) {
        self.state.lock().unwrap().next_raw_body = Some(body);
    }

    pub fn userinfo_answers(&self, answer: UserInfo) {
        self.state.lock().unwrap().userinfo = answer;
    }

    pub fn userinfo_requests(&self) -> usize {
        self.state.lock().unwrap().userinfo_requests
    }

    /// Serves the JWKS with `Cache-Control: max-age=seconds`.
    pub fn keys_max_age(&self, seconds: u64) {
        self.state.lock().unwrap().jwks_max_age = Some(seconds);
    }

    /// How often the JWKS was fetched (discovery's first fetch included).
    pub fn jwks_requests(&self) -> usize {
        self.state.lock().unwrap().jwks_requests
    }

    pub fn behave(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = behaviour;
    }

    /// Replaces the published keys (a key rotation).
    pub fn publish(&self, keys: &[&Key]) {
        self.state.lock().unwrap().published = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    /// The form fields of the last token request.
    pub fn last_token_request(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().token_requests.last().cloned().unwrap_or_default()
    }

    /// An app that signs in with this provider.
    pub async fn app(&self, env: Vec<(&'static str, String)>) -> crate::helpers::TestApp {
        let provider = Some((self.issuer.clone(), CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()));
        crate::helpers::TestApp::spawn_with(crate::helpers::Options { provider, env, ..Default::default() }).await
    }

    /// Claims a genuine token for this client would carry.
    pub fn claims(&self, subject: &str, nonce: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": format!("{subject}@fake.test"),
            "email_verified": true,
            "name": format!("Fake {subject}"),
        })
    }
}

fn discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        "authorization_response_iss_parameter_supported": true,
    })
}

async fn token(state: web::Data<Mutex<State>>, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let behaviour = state.lock().unwrap().behaviour;
    match behaviour {
        Behaviour::Normal => {}
        Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
        Behaviour::Garbage => return HttpResponse::Ok().content_type("application/json").body("<html>oops"),
    }
    let mut state = state.lock().unwrap();
    state.token_requests.push(form.into_inner());
    if let Some(body) = state.next_raw_body.take() {
        return HttpResponse::Ok().content_type("application/json").body(body);
    }
    match state.next_id_token.take() {
        Some(id_token) => {
            state.last_subject = subject_of(&id_token);
            HttpResponse::Ok().json(json!({
                "access_token": ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }))
        }
        None => HttpResponse::BadRequest().json(json!({ "error": "invalid_grant" })),
    }
}

fn subject_of(jwt: &str) -> Option<String> {
    use base64::Engine;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1)?).ok()?;
    serde_json::from_slice::<Value>(&payload).ok()?.get("sub")?.as_str().map(str::to_owned)
}

/// As providers do: only for the access token they issued (RFC 6750), then the answer the test chose.
async fn userinfo(state: web::Data<Mutex<State>>, req: actix_web::HttpRequest) -> HttpResponse {
    let bearer = req.headers().get("authorization").and_then(|v| v.to_str().ok());
    let (answer, subject) = {
        let mut state = state.lock().unwrap();
        state.userinfo_requests += 1;
        (state.userinfo.clone(), state.last_subject.clone())
    };
    if bearer != Some(&format!("Bearer {ACCESS_TOKEN}")) {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer error=\"invalid_token\""))
            .finish();
    }
    match answer {
        UserInfo::SubjectOnly => HttpResponse::Ok().json(json!({ "sub": subject })),
        UserInfo::Json(claims) => HttpResponse::Ok().json(claims),
        UserInfo::Jwt(jwt) => HttpResponse::Ok().content_type("application/jwt").body(jwt),
        UserInfo::Slow(delay) => {
            tokio::time::sleep(delay).await;
            HttpResponse::ServiceUnavailable().finish()
        }
        UserInfo::Down => HttpResponse::InternalServerError().finish(),
    }
}
