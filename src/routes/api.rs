//! The JSON API for single-page and mobile apps: ID-token login per provider and token refresh.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::http;
use crate::providers::Provider;
use crate::services::refresh::{self, RefreshError};
use crate::services::{admission, sign_in};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct IdTokenLogin {
    token: String,
    access_token: Option<String>,
}

/// `at_hash` (OIDC Core 3.1.3.8): the left half of SHA-256 of the access token, base64url.
fn access_token_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// `POST /api/v1/auth/{id}/` (`/api/v1/auth/google/` included): verifies an ID token of
/// provider `id` (kind `oidc`), upserts the account, opens a session. An ID token of another
/// provider fails verification (issuer and audience are this provider's).
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
    let user = &issued.user;
    Ok(HttpResponse::Ok().json(json!({
        "user": {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "picture": user.picture,
            "emailVerified": user.email_verified,
        },
        "access": issued.access,
        "refresh": issued.refresh,
    })))
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh: String,
}

/// `POST /api/v1/auth/token/refresh/`: rotates the refresh token; a retired one revokes its session.
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
    Ok(HttpResponse::Ok().json(json!({ "access": issued.access, "refresh": issued.refresh })))
}

/// `GET /.well-known/jwks.json`: the access tokens' public keys, when signing is asymmetric.
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let set = state.tokens.jwks().ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(set))
}
