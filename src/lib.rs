//! Doorman: sign people in with Google (OpenID Connect) and keep them signed in with cookies.

pub mod auth;
pub mod config;
pub mod cookies;
pub mod db;
pub mod errors;
pub mod http;
pub mod logging;
pub mod login_session;
pub mod next_path;
pub mod oidc;
pub mod policy;
pub mod rate_limit;
pub mod routes;
pub mod schema;
pub mod sessions;
pub mod startup;
pub mod templates;
pub mod tokens;
