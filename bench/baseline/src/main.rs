//! Benchmark baseline for doorman's guarded `GET /chat`, `GET /auth/verify` and
//! `GET /auth/forward`: verifies the same HS256 `access_token`
//! cookie with the same checks (HS256 only, exp with 5 s leeway, sub/iat/exp/iss/aud required,
//! iss and aud = the app's public origin, type = "access") and answers the same JSON (or, for the
//! gateway routes, the same identity headers), with
//! nothing else: no logger, no session middleware, no default headers, no database, no error
//! negotiation.
//!
//! Environment: JWT_SECRET_KEY (required), REDIRECT_URL (the app's, for its origin; required),
//! BIND_ADDR (default 127.0.0.1:8001).

use actix_web::{get, http::header, web, App, HttpRequest, HttpResponse, HttpServer};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use uuid::Uuid;

/// The same claims as the app's `AccessClaims`.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Claims {
    sub: Uuid,
    email: Option<String>,
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
    iat: i64,
    exp: i64,
    #[serde(rename = "type")]
    token_type: TokenType,
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum TokenType {
    Access,
    Refresh,
}

/// Parsed once at start-up, shared by every worker.
struct Keys {
    decoding: DecodingKey,
    validation: Validation,
}

fn claims(req: &HttpRequest, keys: &Keys) -> Option<Claims> {
    let cookie = req.cookie("access_token")?;
    match jsonwebtoken::decode::<Claims>(cookie.value(), &keys.decoding, &keys.validation) {
        Ok(data) if data.claims.token_type == TokenType::Access => Some(data.claims),
        _ => None,
    }
}

/// The gateway's answer: the identity in headers.
fn identity(mut response: actix_web::HttpResponseBuilder, claims: Claims) -> HttpResponse {
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response.insert_header(("X-Auth-Request-User", claims.sub.to_string()));
    if let Some(email) = claims.email {
        response.insert_header(("X-Auth-Request-Email", email));
    }
    response.finish()
}

#[get("/auth/verify")]
async fn verify(req: HttpRequest, keys: web::Data<Keys>) -> HttpResponse {
    match claims(&req, &keys) {
        Some(c) => identity(HttpResponse::NoContent(), c),
        None => HttpResponse::Unauthorized().finish(),
    }
}

#[get("/auth/forward")]
async fn forward(req: HttpRequest, keys: web::Data<Keys>) -> HttpResponse {
    match claims(&req, &keys) {
        Some(c) => identity(HttpResponse::Ok(), c),
        None => HttpResponse::Unauthorized().finish(),
    }
}

#[get("/chat")]
async fn chat(req: HttpRequest, keys: web::Data<Keys>) -> HttpResponse {
    let Some(claims) = claims(&req, &keys) else {
        return HttpResponse::Unauthorized().finish();
    };
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(serde_json::json!({
        "message": "Welcome!",
        "user": {
            "user_id": claims.sub,
            "user_email": claims.email,
            "name": claims.name,
            "picture": claims.picture,
        }
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let secret = std::env::var("JWT_SECRET_KEY").expect("JWT_SECRET_KEY is required");
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8001".to_owned());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.validate_exp = true;
    validation.set_required_spec_claims(&["exp", "sub", "iat", "iss", "aud"]);
    let redirect = std::env::var("REDIRECT_URL").expect("REDIRECT_URL is required");
    let origin = redirect.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    validation.set_issuer(&[&origin]);
    validation.set_audience(&[&origin]);
    let keys = web::Data::new(Keys { decoding: DecodingKey::from_secret(secret.as_bytes()), validation });
    // Worker count: actix's default (one per available CPU), as in the app.
    HttpServer::new(move || App::new().app_data(keys.clone()).service(chat).service(verify).service(forward))
        .bind(&bind)?
        .run()
        .await
}
