//! `/auth/verify`, for nginx `auth_request`.

use actix_web::HttpResponse;

use crate::auth::MaybeUser;

/// 204 with the user in headers, or 401; never a redirect (nginx turns the 401 into one). A
/// rolled browser session renews its cookies here.
pub async fn verify(MaybeUser(user): MaybeUser) -> HttpResponse {
    match user {
        Some(user) => {
            let mut response = HttpResponse::NoContent();
            response.insert_header(("X-Auth-Request-User", user.id.to_string()));
            if let Some(email) = user.email {
                response.insert_header(("X-Auth-Request-Email", email));
            }
            response.finish()
        }
        None => HttpResponse::Unauthorized().insert_header(("WWW-Authenticate", "Bearer")).finish(),
    }
}
