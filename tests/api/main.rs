//! Integration tests: the real app on a random port, a fresh PostgreSQL database per test, the
//! real local identity provider (oidc-provider) for the happy paths, and a fake provider only
//! for tokens a real one would never issue. `scripts/test` starts the services and sets
//! TEST_DATABASE_URL and TEST_OIDC_ISSUER.

mod audit;
mod cli;
mod conformance;
mod cookie_shadowing;
mod fake_github;
mod fake_provider;
mod faults;
mod forged_tokens;
mod gateway;
mod guard;
mod helpers;
mod hostile;
mod identities;
mod log_lines;
mod login;
mod metrics;
mod openapi;
mod operators;
mod provider_keys;
mod provider_logout;
mod providers;
mod rejections;
mod retention;
mod revocation;
mod rotation;
mod sessions;
mod startup;
mod token_api;
mod userinfo_provider;
