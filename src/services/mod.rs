//! What the routes ask for, in the app's own terms: who may sign in, signing in, refreshing,
//! the sign-in methods of an account, and the sessions a user has open. Built on `providers`,
//! `oidc`, `db` and `tokens`; knows nothing of HTTP.

pub mod accounts;
pub mod admission;
pub mod audit;
pub mod devices;
pub mod provider_logout;
pub mod refresh;
pub mod sign_in;

use crate::db::users::User;
use crate::error::AppError;
use crate::tokens::{Profile, SignError};

/// The profile the access tokens of `user`'s session opened through provider `idp` carry.
pub fn profile(user: &User, idp: &str) -> Profile {
    Profile {
        email: user.email.clone(),
        name: user.name.clone(),
        picture: user.picture.clone(),
        idp: Some(idp.to_owned()),
        email_verified: user.email_verified,
    }
}

/// A fresh random refresh-token id.
fn new_jti() -> String {
    oauth2::CsrfToken::new_random_len(32).into_secret()
}

fn sign_error(e: SignError) -> AppError {
    AppError::internal(format!("cannot sign a token: {e}"))
}
