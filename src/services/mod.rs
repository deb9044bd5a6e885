//! What the routes ask for, in the app's own terms: who may sign in, signing in, refreshing, and
//! the sessions a user has open. Built on `oidc`, `db` and `tokens`; knows nothing of HTTP.

pub mod admission;
pub mod devices;
pub mod refresh;
pub mod sign_in;

use crate::db::users::User;
use crate::error::AppError;
use crate::tokens::{Profile, SignError};

/// The profile a user's access tokens carry.
pub fn profile(user: &User) -> Profile {
    Profile { email: user.email.clone(), name: user.name.clone(), picture: user.picture.clone() }
}

/// A fresh random refresh-token id.
fn new_jti() -> String {
    oauth2::CsrfToken::new_random_len(32).into_secret()
}

fn sign_error(e: SignError) -> AppError {
    AppError::internal(format!("cannot sign a token: {e}"))
}
