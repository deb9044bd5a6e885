//! A fake of GitHub's OAuth app web flow and of the two REST endpoints a sign-in reads, because
//! GitHub cannot be reached from the tests. It refuses what GitHub refuses (wrong secret, another
//! redirect_uri, a reused or expired code, a PKCE mismatch, a missing User-Agent, a token without
//! the `user:email` scope) and answers the way GitHub does: token errors with HTTP 200, a form
//! body unless JSON was asked for, so a login that works here is one GitHub would let through.

// A whole fake GitHub, knobs and all: a test binary that uses only some of them must still pass
// `clippy --all-targets -D warnings`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::{header, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "gh-client-id";
pub const CLIENT_SECRET: &str = "gh-client-secret";
/// GitHub's documented lifetime of an authorization code.
const CODE_TTL: Duration = Duration::from_secs(600);
const APP_DOCS: &str = "https://docs.github.com/apps/oauth-apps/maintaining-oauth-apps";

#[derive(Clone, Debug)]
pub struct GitHubEmail {
    pub email: String,
    pub primary: bool,
    pub verified: bool,
}

#[derive(Clone, Debug)]
pub struct GitHubUser {
    pub id: u64,
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    /// The public profile email (`email` of GET /user); may differ from the emails list.
    pub public_email: Option<String>,
    pub emails: Vec<GitHubEmail>,
}

impl GitHubUser {
    /// A user with one primary email, verified or not; login "user{id}", name Some("User {id}").
    /// No public email, as GitHub's default: the app has to read /user/emails to learn it.
    pub fn new(id: u64, email: &str, verified: bool) -> GitHubUser {
        GitHubUser {
            id,
            login: format!("user{id}"),
            name: Some(format!("User {id}")),
            avatar_url: Some(format!("https://avatars.githubusercontent.com/u/{id}?v=4")),
            public_email: None,
            emails: vec![GitHubEmail { email: email.to_owned(), primary: true, verified }],
        }
    }
}

/// What a code, then its token, stands for: fixed when the user approved, whoever signs in later.
#[derive(Clone)]
struct Grant {
    user: GitHubUser,
    redirect_uri: String,
    scopes: Vec<String>,
    challenge: Option<String>,
    expires: Instant,
}

#[derive(Default)]
struct State {
    redirect_uri: Option<String>,
    user: Option<GitHubUser>,
    deny_next: bool,
    down: bool,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Grant>,
    exchanges: usize,
    refused_exchanges: usize,
    api_calls: usize,
    last_authorize_query: Vec<(String, String)>,
}

type Shared = web::Data<Mutex<State>>;

/// A running fake GitHub.
pub struct FakeGitHub {
    base: String,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    /// Starts the fake on 127.0.0.1:0 (in the current tokio runtime, like fake_provider.rs).
    pub fn start() -> FakeGitHub {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/login/oauth/authorize", web::get().to(authorize))
                .route("/login/oauth/access_token", web::post().to(access_token))
                .route("/api/user", web::get().to(user))
                .route("/api/user/emails", web::get().to(emails))
                .default_service(web::to(|s: Shared| async move {
                    unavailable(&s).unwrap_or_else(|| *api_error(StatusCode::NOT_FOUND, None, "Not Found"))
                }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        FakeGitHub { base, state }
    }

    pub fn base(&self) -> String {
        self.base.clone()
    }

    pub fn auth_url(&self) -> String {
        format!("{}/login/oauth/authorize", self.base)
    }

    pub fn token_url(&self) -> String {
        format!("{}/login/oauth/access_token", self.base)
    }

    pub fn api_url(&self) -> String {
        format!("{}/api", self.base)
    }

    /// The callback registered for the OAuth app; authorize and token refuse any other redirect_uri.
    /// (Set after the app under test has its port.)
    pub fn register_redirect_uri(&self, uri: &str) {
        self.state.lock().unwrap().redirect_uri = Some(uri.to_owned());
    }

    /// The GitHub user who approves the next authorizations (until changed).
    pub fn sign_in_as(&self, user: GitHubUser) {
        self.state.lock().unwrap().user = Some(user);
    }

    /// The next authorization is refused by the user: redirect with error=access_denied.
    pub fn deny_next(&self) {
        self.state.lock().unwrap().deny_next = true;
    }

    /// While true every endpoint answers 503 (GitHub down).
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// Ages every code handed out so far past its ten minutes, so a test need not wait for them.
    pub fn expire_codes(&self) {
        let now = Instant::now();
        self.state.lock().unwrap().codes.values_mut().for_each(|grant| grant.expires = now);
    }

    pub fn exchanges(&self) -> usize {
        self.state.lock().unwrap().exchanges
    }

    pub fn refused_exchanges(&self) -> usize {
        self.state.lock().unwrap().refused_exchanges
    }

    /// Every request to /api, refused ones included: GitHub's rate limit counts those too.
    pub fn api_calls(&self) -> usize {
        self.state.lock().unwrap().api_calls
    }

    /// The last parameters the authorize endpoint received (query pairs), for assertions on scope, PKCE, state.
    pub fn last_authorize_query(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().last_authorize_query.clone()
    }
}

fn unavailable(state: &Shared) -> Option<HttpResponse> {
    let down = state.lock().unwrap().down;
    down.then(|| HttpResponse::ServiceUnavailable().content_type("text/plain").body("fake GitHub is down"))
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// GitHub shows these as a page of its own and never sends the browser to an unvetted URL.
fn page(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(format!("<!DOCTYPE html><p>{message}</p>"))
}

fn redirect(mut to: url::Url, pairs: &[(&str, &str)], state: Option<&str>) -> HttpResponse {
    to.query_pairs_mut().extend_pairs(pairs).extend_pairs(state.map(|s| ("state", s)));
    HttpResponse::Found().insert_header((header::LOCATION, to.as_str())).finish()
}

fn random_hex(len: usize) -> String {
    let mut out = String::new();
    while out.len() < len {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(len);
    out
}

/// RFC 7636's alphabet; S256 challenges are always 43 characters.
fn pkce_chars(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

async fn authorize(state: Shared, query: web::Query<Vec<(String, String)>>) -> HttpResponse {
    if let Some(down) = unavailable(&state) {
        return down;
    }
    let query = query.into_inner();
    let mut s = state.lock().unwrap();
    s.last_authorize_query = query.clone();
    if find(&query, "client_id") != Some(CLIENT_ID) {
        return page(StatusCode::NOT_FOUND, "Not Found: no OAuth app has this client_id.");
    }
    let Some(registered) = s.redirect_uri.clone() else {
        return page(StatusCode::BAD_REQUEST, "fake_github: the test forgot register_redirect_uri");
    };
    // Left out, GitHub falls back to the registered callback.
    let redirect_uri = find(&query, "redirect_uri").unwrap_or(&registered);
    let back = match url::Url::parse(redirect_uri) {
        Ok(back) if redirect_uri == registered => back,
        _ => return page(StatusCode::BAD_REQUEST, "The redirect_uri is not associated with this application."),
    };
    let state_param = find(&query, "state");
    let challenge = find(&query, "code_challenge");
    // A challenge without a method would mean `plain`, which GitHub does not support.
    let pkce_ok = match (challenge, find(&query, "code_challenge_method")) {
        (None, None) => true,
        (Some(c), Some("S256")) => c.len() == 43 && pkce_chars(c),
        _ => false,
    };
    if !pkce_ok {
        let error = [("error", "invalid_request"), ("error_description", "code_challenge_method must be S256.")];
        return redirect(back, &error, state_param);
    }
    if std::mem::take(&mut s.deny_next) {
        let error = [
            ("error", "access_denied"),
            ("error_description", "The user has denied your application access."),
            ("error_uri", &format!("{APP_DOCS}/troubleshooting-authorization-request-errors#access-denied")),
        ];
        return redirect(back, &error, state_param);
    }
    let Some(user) = s.user.clone() else {
        return page(StatusCode::INTERNAL_SERVER_ERROR, "fake_github: the test forgot sign_in_as");
    };
    let mut scopes: Vec<String> = Vec::new();
    for scope in find(&query, "scope").unwrap_or("").split([' ', ',']).filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    let code = random_hex(20);
    let grant = Grant {
        user,
        redirect_uri: registered,
        scopes,
        challenge: challenge.map(str::to_owned),
        expires: Instant::now() + CODE_TTL,
    };
    s.codes.insert(code.clone(), grant);
    redirect(back, &[("code", &code)], state_param)
}

/// Client credentials from `Authorization: Basic`, which GitHub takes besides the form fields.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    scheme.eq_ignore_ascii_case("basic").then(|| (id.to_owned(), secret.to_owned()))
}

fn exchange(s: &mut State, req: &HttpRequest, form: &[(String, String)]) -> Result<(String, String), &'static str> {
    let right = |id: &str, secret: &str| id == CLIENT_ID && secret == CLIENT_SECRET;
    let in_body = right(find(form, "client_id").unwrap_or(""), find(form, "client_secret").unwrap_or(""));
    if !in_body && !basic_credentials(req).is_some_and(|(id, secret)| right(&id, &secret)) {
        return Err("incorrect_client_credentials");
    }
    // Presented once, a code is gone, whatever comes of it.
    let grant = find(form, "code").and_then(|code| s.codes.remove(code));
    let grant = grant.filter(|g| Instant::now() < g.expires).ok_or("bad_verification_code")?;
    if find(form, "redirect_uri").is_some_and(|uri| uri != grant.redirect_uri) {
        return Err("redirect_uri_mismatch");
    }
    let pkce_ok = match (&grant.challenge, find(form, "code_verifier")) {
        (None, None) => true,
        (Some(challenge), Some(v)) => {
            (43..=128).contains(&v.len()) && pkce_chars(v) && URL_SAFE_NO_PAD.encode(Sha256::digest(v)) == *challenge
        }
        _ => false,
    };
    if !pkce_ok {
        return Err("bad_verification_code");
    }
    let token = format!("gho_{}", random_hex(36));
    let scope = grant.scopes.join(",");
    s.tokens.insert(token.clone(), grant);
    Ok((token, scope))
}

async fn access_token(state: Shared, req: HttpRequest, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    if let Some(down) = unavailable(&state) {
        return down;
    }
    let answer = {
        let mut s = state.lock().unwrap();
        let answer = exchange(&mut s, &req, &form);
        match answer {
            Ok(_) => s.exchanges += 1,
            Err(_) => s.refused_exchanges += 1,
        }
        answer
    };
    let fields: Vec<(&str, String)> = match answer {
        Ok((token, scope)) => vec![("access_token", token), ("scope", scope), ("token_type", "bearer".into())],
        Err(error) => {
            let (description, anchor) = match error {
                "incorrect_client_credentials" => {
                    ("The client_id and/or client_secret passed are incorrect.", "incorrect-client-credentials")
                }
                "redirect_uri_mismatch" => (
                    "The redirect_uri MUST match the registered callback URL for this application.",
                    "redirect-uri-mismatch2",
                ),
                _ => ("The code passed is incorrect or expired.", "bad-verification-code"),
            };
            let uri = format!("{APP_DOCS}/troubleshooting-oauth-app-access-token-request-errors#{anchor}");
            vec![("error", error.into()), ("error_description", description.into()), ("error_uri", uri)]
        }
    };
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("application/json") {
        let body: serde_json::Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
        return HttpResponse::Ok().json(body);
    }
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    HttpResponse::Ok().content_type("application/x-www-form-urlencoded; charset=utf-8").body(body)
}

fn api_answer(status: StatusCode, grant: Option<&Grant>, body: &Value) -> HttpResponse {
    let mut answer = HttpResponse::build(status);
    answer.content_type("application/json; charset=utf-8");
    if let Some(grant) = grant {
        answer.insert_header(("X-OAuth-Scopes", grant.scopes.join(", ")));
    }
    answer.body(body.to_string())
}

/// A REST error as GitHub words it, `status` a string as GitHub sends it.
fn api_error(status: StatusCode, grant: Option<&Grant>, message: &str) -> Box<HttpResponse> {
    let body =
        json!({ "message": message, "documentation_url": "https://docs.github.com/rest", "status": status.as_str() });
    Box::new(api_answer(status, grant, &body))
}

/// GitHub's checks before any REST answer: a User-Agent, then a token it issued.
fn api_grant(state: &Shared, req: &HttpRequest) -> Result<Grant, Box<HttpResponse>> {
    let mut s = state.lock().unwrap();
    s.api_calls += 1;
    if req.headers().get(header::USER_AGENT).is_none_or(|ua| ua.is_empty()) {
        let message =
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header";
        return Err(api_error(StatusCode::FORBIDDEN, None, message));
    }
    let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(api_error(StatusCode::UNAUTHORIZED, None, "Requires authentication"));
    };
    let token = value.split_once(' ').and_then(|(scheme, token)| {
        (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")).then_some(token.trim())
    });
    token
        .and_then(|t| s.tokens.get(t))
        .cloned()
        .ok_or_else(|| api_error(StatusCode::UNAUTHORIZED, None, "Bad credentials"))
}

async fn user(state: Shared, req: HttpRequest) -> HttpResponse {
    if let Some(down) = unavailable(&state) {
        return down;
    }
    let grant = match api_grant(&state, &req) {
        Ok(grant) => grant,
        Err(refusal) => return *refusal,
    };
    let u = &grant.user;
    let body = json!({
        "login": u.login, "id": u.id, "node_id": STANDARD.encode(format!("04:User{}", u.id)),
        "avatar_url": u.avatar_url, "gravatar_id": "", "url": format!("https://api.github.com/users/{}", u.login),
        "html_url": format!("https://github.com/{}", u.login), "type": "User", "site_admin": false,
        "name": u.name, "company": null, "blog": "", "location": null, "email": u.public_email,
        "hireable": null, "bio": null, "twitter_username": null, "public_repos": 0, "public_gists": 0,
        "followers": 0, "following": 0, "created_at": "2011-01-25T18:44:36Z", "updated_at": "2024-01-02T03:04:05Z",
    });
    api_answer(StatusCode::OK, Some(&grant), &body)
}

async fn emails(state: Shared, req: HttpRequest) -> HttpResponse {
    if let Some(down) = unavailable(&state) {
        return down;
    }
    let grant = match api_grant(&state, &req) {
        Ok(grant) => grant,
        Err(refusal) => return *refusal,
    };
    // Without the scope GitHub hides the resource rather than saying it is forbidden.
    if !grant.scopes.iter().any(|s| s == "user:email" || s == "user") {
        return *api_error(StatusCode::NOT_FOUND, Some(&grant), "Not Found");
    }
    let list: Vec<Value> = (grant.user.emails.iter())
        .map(|e| {
            let visibility = if e.primary { json!("public") } else { Value::Null };
            json!({ "email": e.email, "primary": e.primary, "verified": e.verified, "visibility": visibility })
        })
        .collect();
    api_answer(StatusCode::OK, Some(&grant), &Value::Array(list))
}
