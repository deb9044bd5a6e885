//! The JSON API for single-page and mobile apps: ID-token login per provider and token refresh.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{AppError, ErrorBody};
use crate::http;
use crate::providers::Provider;
use crate::services::refresh::{self, RefreshError};
use crate::services::{admission, sign_in};
use crate::state::AppState;

/// An ID token the client got from the provider itself (Google Identity Services, Auth.js).
#[derive(Deserialize, ToSchema)]
pub struct IdTokenLogin {
    /// The provider's ID token (a JWT; at most 16 KiB).
    token: String,
    /// The access token issued with it: checked against the ID token's `at_hash`, and used
    /// for UserInfo when the ID token carries no profile.
    access_token: Option<String>,
}

/// The signed-in account, as the sign-in answer shows it; unknown fields are `null`, not absent.
#[derive(Serialize, ToSchema)]
pub struct ApiUser {
    id: Uuid,
    #[schema(required = true)]
    name: Option<String>,
    #[schema(required = true)]
    email: Option<String>,
    #[schema(required = true)]
    picture: Option<String>,
    #[serde(rename = "emailVerified")]
    email_verified: bool,
}

/// A new session's user and tokens.
#[derive(Serialize, ToSchema)]
pub struct SignedIn {
    user: ApiUser,
    /// The access token (a JWT): `Authorization: Bearer` on guarded routes.
    access: String,
    /// The refresh token, for `POST /api/v1/auth/token/refresh/`.
    refresh: String,
}

/// A rotated pair: keep the new refresh token, the old one is retired.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    access: String,
    refresh: String,
}

/// Only a browser's racing tabs are answered without a new refresh token (the grace), so an
/// API answer always has one; its absence here would be a bug, not a client's error.
fn new_refresh(refresh: Option<String>) -> Result<String, AppError> {
    refresh.ok_or_else(|| AppError::internal("an API rotation issued no refresh token"))
}

/// `at_hash` (OIDC Core 3.1.3.8): the left half of SHA-256 of the access token, base64url.
fn access_token_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// `POST /api/v1/auth/{id}/` (`/api/v1/auth/google/` included): verifies an ID token of
/// provider `id` (kind `oidc`), upserts the account, opens a session. An ID token of another
/// provider fails verification (issuer and audience are this provider's).
#[utoipa::path(
    post, path = "/api/v1/auth/{id}/", tag = "api",
    summary = "Sign in with a provider's ID token",
    params(("id" = String, Path, description = "A provider id of kind `oidc` (`google` is the first)", example = "google")),
    request_body = IdTokenLogin,
    responses(
        (status = 200, description = "Signed in: the account and a new session's tokens", body = SignedIn),
        (status = 400, description = "The body is not JSON (`malformed_body`), or the provider's UserInfo answer could not be used (`login_failed`)", body = ErrorBody),
        (status = 401, description = "The ID token (or the access token beside it) does not verify: `invalid_token`", body = ErrorBody),
        (status = 403, description = "The sign-in policy refuses this account (`email_not_verified`, `account_not_allowed`), or an operator disabled it (`account_disabled`)", body = ErrorBody),
        (status = 404, description = "No such provider, or one without ID tokens (GitHub): `not_found`", body = ErrorBody),
        (status = 422, description = "A field is missing or mistyped, or `token` is empty or longer than 16 KiB: `invalid_field`", body = ErrorBody),
        (status = 429, response = super::openapi::RateLimited),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn id_token_login(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<IdTokenLogin>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let provider = state.providers.get(&path).ok_or(AppError::NotFound)?;
    let result = sign_in_with(&req, provider, body.into_inner(), &state).await;
    super::callback::settled(&state, &req, provider, result).await
}

async fn sign_in_with(
    req: &HttpRequest,
    provider: &Provider,
    body: IdTokenLogin,
    state: &AppState,
) -> Result<HttpResponse, AppError> {
    let Some(oidc) = provider.client.openid() else {
        return Err(AppError::rejected(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("provider {} has no ID tokens; sign in with it in the browser", provider.id()),
        ));
    };
    let IdTokenLogin { token, access_token } = body;
    if token.is_empty() || token.len() > 16 * 1024 {
        return Err(AppError::rejected(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "token must be an ID token"));
    }
    let mut identity = oidc.verify_id_token(&token).await?;
    if let (Some(access_token), Some(expected)) = (access_token.as_deref(), identity.access_token_hash.as_deref()) {
        if access_token_hash(access_token) != expected {
            return Err(AppError::rejected(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "access_token does not belong to this ID token",
            ));
        }
    }
    // A provider that keeps the profile out of its ID tokens serves it from UserInfo, which
    // needs the access token; without one the identity stays as the ID token says.
    if let Some(access_token) = access_token.as_deref().filter(|_| identity.missing.any()) {
        identity = oidc.complete_with(identity, access_token).await?;
    }
    admission::admit(&identity, &state.settings.policy)?;
    let device = http::device(req, &state.settings.server.trusted_proxies);
    let issued = sign_in::sign_in(state, provider, identity, device, None).await?;
    let user = issued.user;
    let user = ApiUser {
        id: user.id,
        name: user.name,
        email: user.email,
        picture: user.picture,
        email_verified: user.email_verified,
    };
    Ok(HttpResponse::Ok().json(SignedIn { user, access: issued.access, refresh: new_refresh(issued.refresh)? }))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token of the last answer (sign-in or refresh).
    refresh: String,
}

/// `POST /api/v1/auth/token/refresh/`: rotates the refresh token; a retired one revokes its session.
#[utoipa::path(
    post, path = "/api/v1/auth/token/refresh/", tag = "api",
    summary = "Rotate the refresh token",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access token and the next refresh token", body = TokenPair),
        (status = 401, description = "`invalid_token` (unknown, forged, or its session ended), `token_expired`, or `token_reused` (a retired token: its session is ended)", body = ErrorBody),
        (status = 403, description = "The sign-in policy no longer admits the account (its session is ended): `account_not_allowed`", body = ErrorBody),
        (status = 429, response = super::openapi::RateLimited),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn refresh(
    req: HttpRequest,
    body: web::Json<RefreshRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let device = http::device(&req, &state.settings.server.trusted_proxies);
    let presenter = refresh::Presenter { browser: false, device: &device };
    let issued = refresh::refresh(&state, &body.refresh, presenter).await?.map_err(|e| {
        let (status, code) = match e {
            RefreshError::Expired => (StatusCode::UNAUTHORIZED, "token_expired"),
            RefreshError::Reused => (StatusCode::UNAUTHORIZED, "token_reused"),
            RefreshError::Invalid | RefreshError::SessionEnded => (StatusCode::UNAUTHORIZED, "invalid_token"),
            RefreshError::NotAllowed => (StatusCode::FORBIDDEN, "account_not_allowed"),
        };
        AppError::rejected(status, code, e.to_string())
    })?;
    Ok(HttpResponse::Ok().json(TokenPair { access: issued.access, refresh: new_refresh(issued.refresh)? }))
}

/// A JWK Set (RFC 7517), for the document only: jsonwebtoken's `JwkSet` is what is sent.
#[derive(ToSchema)]
#[schema(as = JwkSet)]
#[expect(dead_code, reason = "describes jsonwebtoken's JwkSet, never built")]
struct JwkSetDoc {
    keys: Vec<JwkDoc>,
}

/// One public key: `kty` `OKP` (Ed25519, `crv` and `x`) or `RSA` (`n` and `e`).
#[derive(ToSchema)]
#[schema(as = Jwk)]
#[expect(dead_code, reason = "describes jsonwebtoken's Jwk, never built")]
struct JwkDoc {
    kty: String,
    kid: Option<String>,
    #[schema(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// `GET /.well-known/jwks.json`: the access tokens' public keys, when signing is asymmetric.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "tokens",
    summary = "The access tokens' public keys",
    responses(
        (status = 200, description = "The keys that verify access tokens and upstream JWTs (cacheable for 5 minutes)", body = JwkSetDoc),
        (status = 404, description = "Tokens are signed with a shared secret (no JWT_PRIVATE_KEY_FILE): nothing to publish", content((ErrorBody = "application/json"), (String = "text/html"))),
    ),
)]
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let set = state.tokens.jwks().ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(set))
}
