//! `/`: the home page.

use actix_web::{web, HttpResponse};

use crate::auth::MaybeUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::templates::HomePage;

/// `GET /`: the login link, or who is signed in.
pub async fn home(MaybeUser(user): MaybeUser, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let providers = &state.providers;
    let login_label = match providers.len() {
        1 => format!("Login with {}", providers.first().settings.name),
        _ => "Sign in".to_owned(),
    };
    super::page_with_forms(HomePage { viewer: user.map(super::viewer), login_label }, &state, Vec::new())
}
