//! `/`: the home page.

use actix_web::HttpResponse;

use crate::auth::MaybeUser;
use crate::error::AppError;
use crate::templates::HomePage;

/// `GET /`: the login link, or who is signed in.
pub async fn home(MaybeUser(user): MaybeUser) -> Result<HttpResponse, AppError> {
    super::html(HomePage { viewer: user.map(super::viewer) })
}
