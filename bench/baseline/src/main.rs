//! Benchmark baseline for doorman's guarded `GET /chat`: verifies the same HS256 `access_token`
//! cookie with the same checks (HS256 only, exp with 5 s leeway, sub/iat/exp/iss/aud required,
//! iss and aud = the app's public origin, type = "access") and answers the same JSON, with
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

#[get("/chat")]
async fn chat(req: HttpRequest, keys: web::Data<Keys>) -> HttpResponse {
    let Some(cookie) = req.cookie("access_token") else {
        return HttpResponse::Unauthorized().finish();
    };
    let claims = match jsonwebtoken::decode::<Claims>(cookie.value(), &keys.decoding, &keys.validation) {
        Ok(data) if data.claims.token_type == TokenType::Access => data.claims,
        _ => return HttpResponse::Unauthorized().finish(),
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
    HttpServer::new(move || App::new().app_data(keys.clone()).service(chat)).bind(&bind)?.run().await
}
