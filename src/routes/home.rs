use actix_web::HttpResponse;

use crate::auth::MaybeUser;
use crate::errors::AppError;
use crate::templates::{HomePage, Viewer};

/// `GET /`: the login link, or who is signed in.
pub async fn home(MaybeUser(user): MaybeUser) -> Result<HttpResponse, AppError> {
    let viewer = user.map(|u| Viewer { name: u.display_name(), email: u.email, picture: u.picture });
    super::html(HomePage { viewer })
}
