//! Benchmark floor for one login (`cargo build --release --example login-floor`, run by
//! `bench/run` and `bench/login-pair`): the least an actix-web server built on doorman's backbone
//! crates must do for an OpenID Connect sign-in with the same protocol steps, so that the app's
//! CPU per login can be priced as a ratio in one run, as its guarded path is against
//! `bench/baseline`.
//!
//! What it does, and the app does too:
//! - `GET /login`: state, nonce and PKCE verifier through openidconnect, kept in an encrypted
//!   actix-session cookie (`doorman_login`); 303 to the provider;
//! - `GET /auth?code&state&iss`: the cookie read and removed, state and `iss` compared, the code
//!   exchanged through openidconnect (reqwest), the ID token's RS256 signature checked with ring
//!   (as the app does) and its claims with openidconnect (iss, aud, exp, iat, nonce), the user
//!   upserted with one diesel statement on actix's blocking pool (r2d2), an HS256 access token
//!   set as an HttpOnly cookie; 303 to `/chat`;
//! - `GET /chat`: the access token verified, the user's JSON.
//!
//! What it leaves out, and the app does not: refresh tokens and sessions, identities, the
//! audit trail, single use of the login state, provider sessions for logout, rate limits,
//! metrics, logging, security headers, error pages. The difference between the two is the price
//! of those features.
//!
//! Environment (the app's names): DATABASE_URL, OIDC_ISSUER, GOOGLE_CLIENT_ID,
//! GOOGLE_CLIENT_SECRET, REDIRECT_URL, SECRET_KEY, JWT_SECRET_KEY, BIND_ADDR. Loopback
//! benchmarks only: it answers every failure with a bare status.

use actix_session::config::CookieContentSecurity;
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{Cookie, Key, SameSite};
use actix_web::http::header;
use actix_web::{get, web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::upsert::excluded;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

diesel::table! {
    floor_users (id) {
        id -> Uuid,
        subject -> Text,
        email -> Nullable<Text>,
        name -> Nullable<Text>,
        picture -> Nullable<Text>,
    }
}

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Built once at start-up, shared by every worker.
struct Floor {
    client: Client,
    http: openidconnect::reqwest::Client,
    issuer: String,
    /// (kid, n, e) of the provider's RSA keys.
    rsa: Vec<(Option<String>, Vec<u8>, Vec<u8>)>,
    pool: Pool<ConnectionManager<diesel::PgConnection>>,
    origin: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
}

/// The app's access-token claims.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    email: Option<String>,
    name: Option<String>,
    picture: Option<String>,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    #[serde(rename = "type")]
    token_type: String,
}

#[get("/login")]
async fn login(session: Session, floor: web::Data<Floor>) -> HttpResponse {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = floor
        .client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("profile".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let pending =
        Pending { state: state.into_secret(), nonce: nonce.secret().clone(), verifier: verifier.into_secret() };
    if session.insert("login", pending).is_err() {
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::SeeOther().insert_header((header::LOCATION, url.as_str())).finish()
}

#[derive(Deserialize)]
struct Callback {
    code: String,
    state: String,
    iss: Option<String>,
}

#[get("/auth")]
async fn auth(query: web::Query<Callback>, session: Session, floor: web::Data<Floor>) -> HttpResponse {
    let query = query.into_inner();
    let Some(Ok(pending)) = session.remove_as::<Pending>("login") else {
        return HttpResponse::BadRequest().finish();
    };
    if pending.state != query.state || query.iss.as_deref() != Some(floor.issuer.as_str()) {
        return HttpResponse::BadRequest().finish();
    }
    let Ok(request) = floor.client.exchange_code(AuthorizationCode::new(query.code)) else {
        return HttpResponse::InternalServerError().finish();
    };
    let Ok(response) =
        request.set_pkce_verifier(PkceCodeVerifier::new(pending.verifier)).request_async(&floor.http).await
    else {
        return HttpResponse::BadGateway().finish();
    };
    let Some(id_token) = response.id_token() else { return HttpResponse::BadGateway().finish() };
    if !rs256_ok(&id_token.to_string(), &floor.rsa) {
        return HttpResponse::BadRequest().finish();
    }
    let verifier = floor.client.id_token_verifier().insecure_disable_signature_check();
    let Ok(claims) = id_token.claims(&verifier, &Nonce::new(pending.nonce)) else {
        return HttpResponse::BadRequest().finish();
    };
    let subject = claims.subject().to_string();
    let email = claims.email().map(|e| e.to_string());
    let name = claims.name().and_then(|n| n.get(None)).map(|n| n.to_string());
    let picture = claims.picture().and_then(|p| p.get(None)).map(|p| p.to_string());
    let pool = floor.pool.clone();
    let row = (email.clone(), name.clone(), picture.clone());
    let user_id = web::block(move || {
        use floor_users::dsl as u;
        let mut conn = pool.get().map_err(|_| diesel::result::Error::BrokenTransactionManager)?;
        diesel::insert_into(u::floor_users)
            .values((u::subject.eq(subject), u::email.eq(row.0), u::name.eq(row.1), u::picture.eq(row.2)))
            .on_conflict(u::subject)
            .do_update()
            .set((u::email.eq(excluded(u::email)), u::name.eq(excluded(u::name)), u::picture.eq(excluded(u::picture))))
            .returning(u::id)
            .get_result::<Uuid>(&mut conn)
    })
    .await;
    let Ok(Ok(user_id)) = user_id else { return HttpResponse::ServiceUnavailable().finish() };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let access = Claims {
        sub: user_id,
        email,
        name,
        picture,
        iat: now,
        exp: now + 900,
        iss: floor.origin.clone(),
        aud: floor.origin.clone(),
        token_type: "access".to_owned(),
    };
    let Ok(token) = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &access, &floor.encoding) else {
        return HttpResponse::InternalServerError().finish();
    };
    session.purge();
    let cookie = Cookie::build("access_token", token).path("/").http_only(true).same_site(SameSite::Lax).finish();
    HttpResponse::SeeOther().insert_header((header::LOCATION, "/chat")).cookie(cookie).finish()
}

/// The RS256 signature of a compact JWT against the key its `kid` names (ring, as the app).
fn rs256_ok(jwt: &str, keys: &[(Option<String>, Vec<u8>, Vec<u8>)]) -> bool {
    let engine = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some((signed, signature)) = jwt.rsplit_once('.') else { return false };
    let Some(header) = signed.split('.').next().and_then(|h| engine.decode(h).ok()) else { return false };
    let Ok(header) = serde_json::from_slice::<serde_json::Value>(&header) else { return false };
    let kid = header["kid"].as_str();
    let Some((_, n, e)) = keys.iter().find(|(k, _, _)| kid.is_none() || k.as_deref() == kid) else { return false };
    let Ok(signature) = engine.decode(signature) else { return false };
    header["alg"] == "RS256"
        && RsaPublicKeyComponents { n, e }.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature).is_ok()
}

#[get("/chat")]
async fn chat(req: HttpRequest, floor: web::Data<Floor>) -> HttpResponse {
    let Some(cookie) = req.cookie("access_token") else { return HttpResponse::Unauthorized().finish() };
    let Ok(data) = jsonwebtoken::decode::<Claims>(cookie.value(), &floor.decoding, &floor.validation) else {
        return HttpResponse::Unauthorized().finish();
    };
    let claims = data.claims;
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(serde_json::json!({
        "message": "Welcome!",
        "user": { "user_id": claims.sub, "user_email": claims.email, "name": claims.name, "picture": claims.picture }
    }))
}

#[get("/readyz")]
async fn readyz() -> HttpResponse {
    HttpResponse::Ok().finish()
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is required"))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let issuer = env("OIDC_ISSUER");
    let redirect = env("REDIRECT_URL");
    let origin = redirect.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).expect("OIDC_ISSUER"), &http)
        .await
        .expect("the provider's discovery document and keys");
    let b64 = |v: &serde_json::Value| {
        v.as_str().and_then(|s| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok())
    };
    let rsa = metadata
        .jwks()
        .keys()
        .iter()
        .filter_map(|k| serde_json::to_value(k).ok())
        .filter(|k| k["kty"] == "RSA")
        .filter_map(|k| Some((k["kid"].as_str().map(str::to_owned), b64(&k["n"])?, b64(&k["e"])?)))
        .collect();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(env("GOOGLE_CLIENT_ID")),
        Some(ClientSecret::new(env("GOOGLE_CLIENT_SECRET"))),
    )
    .set_redirect_uri(RedirectUrl::new(redirect).expect("REDIRECT_URL"));
    let pool = Pool::builder()
        .build(ConnectionManager::<diesel::PgConnection>::new(env("DATABASE_URL")))
        .expect("a database pool");
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS floor_users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), \
         subject text NOT NULL UNIQUE, email text, name text, picture text)",
    )
    .execute(&mut pool.get().expect("a database connection"))
    .expect("the floor_users table");
    let secret = env("JWT_SECRET_KEY");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.set_required_spec_claims(&["exp", "sub", "iat", "iss", "aud"]);
    validation.set_issuer(&[&origin]);
    validation.set_audience(&[&origin]);
    let floor = web::Data::new(Floor {
        client,
        http,
        issuer,
        rsa,
        pool,
        encoding: EncodingKey::from_secret(secret.as_bytes()),
        decoding: DecodingKey::from_secret(secret.as_bytes()),
        validation,
        origin,
    });
    let key = Key::derive_from(env("SECRET_KEY").as_bytes());
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8002".to_owned());
    // Worker count: actix's default (one per available CPU), as in the app.
    HttpServer::new(move || {
        let login_cookie = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name("doorman_login".to_owned())
            .cookie_content_security(CookieContentSecurity::Private)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_secure(false)
            .build();
        App::new()
            .app_data(floor.clone())
            .service(chat)
            .service(readyz)
            .service(web::scope("").wrap(login_cookie).service(login).service(auth))
    })
    .bind(&bind)?
    .run()
    .await
}
