//! The cookies this app sets, with their attributes in one place.

use std::time::Duration;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};

/// Name of the cookie carrying the access JWT (runtime contract).
pub const ACCESS_COOKIE: &str = "access_token";
/// Name of the cookie carrying this browser's refresh token (runtime contract).
pub const REFRESH_COOKIE: &str = "refresh_token";
/// Name of actix-session's encrypted login cookie.
pub const LOGIN_SESSION_COOKIE: &str = "doorman_login";

/// HttpOnly, SameSite=Lax (Strict would drop it on the first page after the provider's
/// redirect), Path=/, Max-Age = the token's lifetime. The refresh cookie needs Path=/ too: any
/// guarded page may have to renew an expired access token in place.
fn build(name: &'static str, value: String, lifetime: Duration, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(CookieDuration::seconds(lifetime.as_secs() as i64))
        .finish()
}

pub fn access(token: String, lifetime: Duration, secure: bool) -> Cookie<'static> {
    build(ACCESS_COOKIE, token, lifetime, secure)
}

pub fn refresh(token: String, lifetime: Duration, secure: bool) -> Cookie<'static> {
    build(REFRESH_COOKIE, token, lifetime, secure)
}

/// Expired copies of both cookies, which make the browser drop them.
pub fn clear_all(secure: bool) -> [Cookie<'static>; 2] {
    [ACCESS_COOKIE, REFRESH_COOKIE].map(|name| {
        let mut cookie = build(name, String::new(), Duration::ZERO, secure);
        cookie.make_removal();
        cookie
    })
}
