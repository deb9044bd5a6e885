//! `TestApp`: spawns the app; `Browser`: a cookie-keeping client that does not follow redirects.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;

use diesel::{Connection, PgConnection, RunQueryDsl};
use doorman::config::Settings;
use doorman::startup::Application;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{header, Response, StatusCode, Url};
use uuid::Uuid;

pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the integration tests through scripts/test"))
}

/// A running app with its own database.
pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub issuer: String,
    /// Its JWT_SECRET_KEY, for tests that mint tokens with it.
    pub jwt_secret: String,
    /// Its SECRET_KEY, for a second instance that must accept its refresh tokens.
    pub session_secret: String,
    pub settings: Settings,
    /// `http://127.0.0.1:PORT` of the metrics listener, with METRICS_BIND_ADDR.
    pub metrics_address: Option<String>,
}

/// Options for one test app.
#[derive(Default)]
pub struct Options {
    /// An issuer other than the local provider (the fake one); its client id and secret.
    pub provider: Option<(String, String, String)>,
    /// Another real provider to register a client at (instead of TEST_OIDC_ISSUER).
    pub issuer: Option<String>,
    /// Another app's database (a second instance), instead of a fresh one.
    pub database_url: Option<String>,
    pub env: Vec<(&'static str, String)>,
    /// Providers beside the first (`google`); with any, PROVIDERS lists them after it.
    pub providers: Vec<Extra>,
}

/// A provider after the first.
pub enum Extra {
    /// An OpenID provider at `issuer` (a client is registered there for `/auth/{id}`).
    Oidc { id: &'static str, issuer: String },
    /// An OpenID provider whose client the test already has: issuer, client id and secret.
    OidcClient { id: &'static str, issuer: String, client_id: String, client_secret: String },
    /// The GitHub-shaped fake, as provider `github`.
    GitHub(Arc<crate::fake_github::FakeGitHub>),
}

/// The `n` a counting query (`SELECT count(*) AS n …`) answers on `conn` (for what only that
/// session sees, such as its prepared statements).
pub fn count_on(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

pub fn fresh_database(admin_url: &str) -> String {
    let name = format!("test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(admin_url).expect("connect to the test PostgreSQL");
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).expect("create test database");
    let mut url = Url::parse(admin_url).unwrap();
    url.set_path(&name);
    url.to_string()
}

/// Registers a client for this app at the local provider (dynamic client registration).
async fn register_client(issuer: &str, redirect_uri: &str) -> (String, String) {
    let origin = Url::parse(redirect_uri).unwrap().origin().ascii_serialization();
    let response = reqwest::Client::new()
        .post(format!("{issuer}/reg"))
        .json(&serde_json::json!({
            "redirect_uris": [redirect_uri],
            "post_logout_redirect_uris": [format!("{origin}/")],
            "backchannel_logout_uri": format!("{origin}/backchannel-logout"),
            "backchannel_logout_session_required": true,
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }))
        .send()
        .await
        .expect("provider registration endpoint");
    assert_eq!(response.status(), StatusCode::CREATED, "client registration failed");
    let body: serde_json::Value = response.json().await.unwrap();
    (body["client_id"].as_str().unwrap().to_owned(), body["client_secret"].as_str().unwrap().to_owned())
}

fn add_oidc(
    set: &mut impl FnMut(String, String) -> Option<String>,
    id: &str,
    issuer: String,
    client_id: String,
    secret: String,
) {
    let upper = id.to_ascii_uppercase().replace('-', "_");
    set(format!("PROVIDER_{upper}_ISSUER"), issuer);
    set(format!("PROVIDER_{upper}_CLIENT_ID"), client_id);
    set(format!("PROVIDER_{upper}_CLIENT_SECRET"), secret);
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        Self::spawn_on_database(&required_env("TEST_DATABASE_URL"), options).await
    }

    /// An app whose fresh database lives on the PostgreSQL server of `admin_url`.
    pub async fn spawn_on_database(admin_url: &str, options: Options) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let address = format!("http://127.0.0.1:{port}");
        let redirect = format!("{address}/auth");
        let (issuer, client_id, client_secret) = match options.provider {
            Some(provider) => provider,
            None => {
                let issuer = options.issuer.unwrap_or_else(|| required_env("TEST_OIDC_ISSUER"));
                let (id, secret) = register_client(&issuer, &redirect).await;
                (issuer, id, secret)
            }
        };
        let database_url = options.database_url.unwrap_or_else(|| fresh_database(admin_url));
        let jwt_secret = format!("test-jwt-key-{}", Uuid::new_v4());
        let mut env: HashMap<String, String> = [
            ("DATABASE_URL", database_url.clone()),
            ("GOOGLE_CLIENT_ID", client_id),
            ("GOOGLE_CLIENT_SECRET", client_secret),
            ("OIDC_ISSUER", issuer.clone()),
            ("REDIRECT_URL", redirect),
            ("SECRET_KEY", format!("test-session-key-{}", Uuid::new_v4())),
            ("JWT_SECRET_KEY", jwt_secret.clone()),
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("COOKIE_SECURE", "false".to_owned()),
            ("JWKS_MIN_REFRESH_SECONDS", "0".to_owned()),
            ("DATABASE_POOL_SIZE", "4".to_owned()),
            // Tests log in many times a second from one address; the limit has its own test.
            ("RATE_LIMIT_PER_SECOND", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut ids = vec!["google".to_owned()];
        for extra in options.providers {
            let mut set = |k: String, v: String| env.insert(k, v);
            match extra {
                Extra::Oidc { id, issuer } => {
                    let (client_id, secret) = register_client(&issuer, &format!("{address}/auth/{id}")).await;
                    add_oidc(&mut set, id, issuer, client_id, secret);
                    ids.push(id.to_owned());
                }
                Extra::OidcClient { id, issuer, client_id, client_secret } => {
                    add_oidc(&mut set, id, issuer, client_id, client_secret);
                    ids.push(id.to_owned());
                }
                Extra::GitHub(fake) => {
                    use crate::fake_github::{CLIENT_ID, CLIENT_SECRET};
                    fake.register_redirect_uri(&format!("{address}/auth/github"));
                    for (k, v) in [
                        ("CLIENT_ID", CLIENT_ID.to_owned()),
                        ("CLIENT_SECRET", CLIENT_SECRET.to_owned()),
                        ("AUTH_URL", fake.auth_url()),
                        ("TOKEN_URL", fake.token_url()),
                        ("API_URL", fake.api_url()),
                    ] {
                        set(format!("PROVIDER_GITHUB_{k}"), v);
                    }
                    ids.push("github".to_owned());
                }
            }
        }
        if ids.len() > 1 {
            env.insert("PROVIDERS".to_owned(), ids.join(","));
        }
        for (k, v) in options.env {
            env.insert(k.to_owned(), v);
        }
        let jwt_secret = env["JWT_SECRET_KEY"].clone();
        let session_secret = env["SECRET_KEY"].clone();
        let settings = Settings::from_source(env).expect("test settings are valid");
        let app = Application::build_with_listener(settings.clone(), listener).await.expect("app starts");
        let metrics_address = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
        tokio::spawn(app.run_until_stopped());
        TestApp { address, database_url, issuer, jwt_secret, session_secret, settings, metrics_address }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    /// Another instance of this app: same database, same keys, same public origin.
    pub async fn second_instance(&self, env: Vec<(&'static str, String)>) -> TestApp {
        let mut all = vec![
            ("JWT_SECRET_KEY", self.jwt_secret.clone()),
            ("SECRET_KEY", self.session_secret.clone()),
            ("REDIRECT_URL", format!("{}/auth", self.address)),
        ];
        all.extend(env);
        TestApp::spawn_with(Options { database_url: Some(self.database_url.clone()), env: all, ..Default::default() })
            .await
    }

    /// This app's token keys, to mint and read its tokens.
    pub fn token_keys(&self) -> doorman::tokens::TokenKeys {
        let s = &self.settings;
        doorman::tokens::TokenKeys::from_settings(&s.tokens, &s.login.secret_key, &s.site.public_origin).unwrap()
    }

    /// `POST /api/v1/auth/token/refresh/`: the status and the JSON body.
    pub async fn api_refresh(&self, refresh: &str) -> (StatusCode, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(self.url("/api/v1/auth/token/refresh/"))
            .json(&serde_json::json!({ "refresh": refresh }))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// The `n` a counting query (`SELECT count(*) AS n …`) answers in this app's database.
    pub fn count(&self, sql: &str) -> i64 {
        count_on(&mut self.db(), sql)
    }

    pub fn db(&self) -> PgConnection {
        PgConnection::establish(&self.database_url).expect("connect to the test database")
    }

    /// The accounts of a subject (at any provider), each with that identity's fields.
    pub fn user_rows(&self, subject: &str) -> Vec<UserRow> {
        use diesel::prelude::*;
        use doorman::db::{identities::IdentityRow, users::User};
        use doorman::schema::{identities, users};
        users::table
            .inner_join(identities::table)
            .filter(identities::subject.eq(subject))
            .select((User::as_select(), IdentityRow::as_select()))
            .load::<(User, IdentityRow)>(&mut self.db())
            .unwrap()
            .into_iter()
            .map(|(user, identity)| UserRow {
                id: user.id,
                issuer: identity.issuer,
                subject: identity.subject,
                provider: identity.provider,
                email: user.email,
                email_verified: user.email_verified,
                name: user.name,
                picture: user.picture,
                hosted_domain: identity.hosted_domain,
                created_at: user.created_at,
                updated_at: user.updated_at,
                last_login_at: user.last_login_at,
            })
            .collect()
    }

    /// Signs a user in with provider `id` (an OpenID one) and returns the browser.
    pub async fn signed_in_with(&self, id: &str, login: &str) -> Browser {
        let browser = self.browser();
        let response = browser.login_with(id, login).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login with {id} should complete");
        assert!(browser.cookie("access_token").is_some(), "login sets the access cookie");
        browser
    }

    /// Signs a user in through the real provider and returns the browser holding the cookie.
    pub async fn signed_in(&self, login: &str) -> Browser {
        let browser = self.browser();
        let response = browser.login(login, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login should complete");
        assert!(browser.cookie("access_token").is_some(), "login sets the access cookie");
        browser
    }
}

/// An account as one of its identities sees it: the account's id and profile, the identity's
/// issuer, subject, provider and `hd`.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub provider: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub hosted_domain: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub last_login_at: chrono::DateTime<chrono::Utc>,
}

/// One browser: its own cookie jar, redirects not followed so each hop can be checked.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub app: Url,
}

impl Browser {
    pub fn new(app: &str) -> Self {
        Self::built(app, reqwest::Client::builder())
    }

    /// A browser that names itself `user_agent`.
    pub fn with_user_agent(app: &str, user_agent: &str) -> Self {
        Self::built(app, reqwest::Client::builder().user_agent(user_agent.to_owned()))
    }

    fn built(app: &str, builder: reqwest::ClientBuilder) -> Self {
        let jar = Arc::new(Jar::default());
        let client = builder
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap();
        Browser { client, jar, app: Url::parse(app).unwrap() }
    }

    pub async fn get(&self, path_or_url: &str) -> Response {
        let url = self.app.join(path_or_url).unwrap();
        self.client.get(url).header(header::ACCEPT, "text/html").send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Response {
        self.client.get(self.app.join(path).unwrap()).header(header::ACCEPT, "application/json").send().await.unwrap()
    }

    /// The value of one of this browser's cookies for the app.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let header = self.jar.cookies(&self.app)?;
        header.to_str().ok()?.split("; ").find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar.add_cookie_str(&format!("{name}={value}; Path=/"), &self.app);
    }

    /// `GET /login[?next]`: the provider URL the app redirects to.
    pub async fn start_login(&self, next: Option<&str>) -> Url {
        let path = match next {
            Some(next) => format!("/login?next={}", urlencode(next)),
            None => "/login".to_owned(),
        };
        let response = self.get(&path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        Url::parse(location(&response)).unwrap()
    }

    /// Signs in at the local provider's login page; returns the app callback URL it redirects to.
    pub async fn sign_in_at_provider(&self, authorize: &Url, login: &str) -> Url {
        let to_interaction = self.client.get(authorize.clone()).send().await.unwrap();
        assert_eq!(to_interaction.status(), StatusCode::SEE_OTHER, "provider starts an interaction");
        let interaction = authorize.join(location(&to_interaction)).unwrap();
        if interaction.as_str().starts_with(self.app.as_str()) {
            // The provider remembers this browser from an earlier sign-in and skips its page.
            return interaction;
        }
        let page = self.client.get(interaction.clone()).send().await.unwrap().text().await.unwrap();
        let action = form_action(&page);
        let submitted = self
            .client
            .post(interaction.join(&action).unwrap())
            .form(&[("prompt", "login"), ("login", login), ("password", "anything")])
            .send()
            .await
            .unwrap();
        assert_eq!(submitted.status(), StatusCode::SEE_OTHER, "provider accepts the login form");
        let resume = interaction.join(location(&submitted)).unwrap();
        let back = self.client.get(resume).send().await.unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER, "provider sends the browser back");
        Url::parse(location(&back)).unwrap()
    }

    /// `GET /login/{id}`: the provider URL the app redirects to.
    pub async fn start_login_with(&self, id: &str) -> Url {
        let response = self.get(&format!("/login/{id}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "/login/{id}");
        Url::parse(location(&response)).unwrap()
    }

    /// The whole flow with provider `id` (an OpenID provider of oidc-provider's kind); returns
    /// the response of its callback.
    pub async fn login_with(&self, id: &str, login: &str) -> Response {
        let authorize = self.start_login_with(id).await;
        let callback = self.sign_in_at_provider(&authorize, login).await;
        assert!(callback.as_str().starts_with(self.app.as_str()), "callback goes to the app: {callback}");
        self.client.get(callback).header(header::ACCEPT, "text/html").send().await.unwrap()
    }

    /// A form post from one of the app's own pages.
    pub async fn post_form(&self, path: &str) -> Response {
        let origin = self.app.origin().ascii_serialization();
        let url = self.app.join(path).unwrap();
        self.client.post(url).header(header::ORIGIN, origin).header(header::ACCEPT, "text/html").send().await.unwrap()
    }

    /// The whole flow: /login → provider → /auth; returns the response of /auth.
    pub async fn login(&self, login: &str, next: Option<&str>) -> Response {
        let authorize = self.start_login(next).await;
        let callback = self.sign_in_at_provider(&authorize, login).await;
        assert!(callback.as_str().starts_with(self.app.as_str()), "callback goes to the app: {callback}");
        self.client.get(callback).header(header::ACCEPT, "text/html").send().await.unwrap()
    }
}

pub fn location(response: &Response) -> &str {
    response.headers().get(header::LOCATION).expect("a Location header").to_str().unwrap()
}

/// The `Set-Cookie` headers of a response, by cookie name.
pub fn set_cookies(response: &Response) -> HashMap<String, String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| Some((v.split_once('=')?.0.to_owned(), v.to_owned())))
        .collect()
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn form_action(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("form").unwrap();
    let form = doc.select(&selector).next().expect("the provider's login page has a form");
    form.value().attr("action").expect("form action").to_owned()
}

/// A query parameter of a URL.
pub fn param(url: &Url, name: &str) -> String {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// A login name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}
