//! What our tokens say: their claims, who they are from and for, how long they live.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a token is for; each is refused where the other is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
    /// `X-Auth-Request-Jwt`: for the upstream app behind the gateway, never taken back here.
    Upstream,
}

/// The claims of an access token, as the runtime contract lists them, plus `picture` and the
/// session id `sid` (absent only in tokens minted outside a session).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub email: Option<String>,
    /// Whether the provider vouched for `email` (per-route rules trust only verified ones).
    #[serde(default)]
    pub email_verified: bool,
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// The provider id of the sign-in that opened the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(rename = "type")]
    pub token_type: TokenType,
}

/// The claims of a refresh token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshClaims {
    pub sub: Uuid,
    pub sid: Uuid,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(rename = "type")]
    pub token_type: TokenType,
}

/// Who tokens are from and for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// `iss` of every token: this app's public origin.
    pub issuer: String,
    /// `aud` of access tokens (ACCESS_TOKEN_AUDIENCE): what upstream services check.
    pub audience: String,
}

impl Parties {
    /// Refresh tokens are for one audience only: the endpoint that takes them.
    pub(super) fn refresh_audience(&self) -> String {
        format!("{}/api/v1/auth/token/refresh/", self.issuer)
    }
}

/// How long tokens live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: Duration,
    pub refresh: Duration,
}

/// The profile an access token carries.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub email: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    /// The provider id the session signed in with (`idp`).
    pub idp: Option<String>,
    pub email_verified: bool,
}
