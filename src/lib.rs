//! Doorman: sign people in with Google (OpenID Connect) and keep them signed in with cookies.
//!
//! Layers, each importing only those below it (checked by `tests/layers.rs`):
//! `cli` → `startup` → `routes` → `auth`, `http`, `login_cookie` → `state`, `services` → `error`,
//! `cookies`, `templates` → `providers`, `revocation` → `oidc`, `db`, `tokens` → `config`, `next_path`, `schema`,
//! `logging`, `metrics`.

pub mod auth;
pub mod cli;
pub mod config;
pub mod cookies;
pub mod db;
pub mod error;
pub mod http;
pub mod logging;
pub mod login_cookie;
pub mod metrics;
pub mod next_path;
pub mod oidc;
pub mod providers;
pub mod revocation;
pub mod routes;
pub mod schema;
pub mod services;
pub mod startup;
pub mod state;
pub mod templates;
pub mod tokens;
