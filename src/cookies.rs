//! The cookies this app sets, with their attributes in one place.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};

/// Name of the cookie carrying the access JWT (runtime contract).
pub const ACCESS_COOKIE: &str = "access_token";
/// Name of actix-session's encrypted login cookie.
pub const LOGIN_SESSION_COOKIE: &str = "doorman_login";

/// The access cookie: HttpOnly, SameSite=Lax (Strict would drop it on the first page after the
/// provider's redirect), Path=/, Max-Age = the token's lifetime.
pub fn access(token: String, lifetime: std::time::Duration, secure: bool) -> Cookie<'static> {
    Cookie::build(ACCESS_COOKIE, token)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(CookieDuration::seconds(lifetime.as_secs() as i64))
        .finish()
}

/// An expired access cookie with the same attributes, which makes the browser drop it.
pub fn clear_access(secure: bool) -> Cookie<'static> {
    let mut cookie = access(String::new(), std::time::Duration::ZERO, secure);
    cookie.make_removal();
    cookie
}
