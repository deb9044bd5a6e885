//! The cookies this app sets, with their attributes in one place.

use std::time::Duration;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::HttpRequest;

use crate::config::CookieSettings;
use crate::tokens::TokenKeys;

/// Name of the cookie carrying the access JWT (runtime contract).
pub const ACCESS_COOKIE: &str = "access_token";
/// Name of the cookie carrying this browser's refresh token (runtime contract).
pub const REFRESH_COOKIE: &str = "refresh_token";
/// Name of actix-session's encrypted login cookie.
pub const LOGIN_COOKIE: &str = "doorman_login";

/// HttpOnly, SameSite=Lax (Strict would drop it on the first page after the provider's
/// redirect), Path=/, Max-Age = the token's lifetime. The refresh cookie needs Path=/ too: any
/// guarded page may have to renew an expired access token in place.
fn build(name: &'static str, value: String, lifetime: Duration, settings: CookieSettings) -> Cookie<'static> {
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(settings.secure)
        .max_age(CookieDuration::seconds(lifetime.as_secs() as i64))
        .finish()
}

/// The cookies for freshly issued tokens; no refresh cookie when there is no new refresh token
/// (another request rotated it a moment ago and the browser keeps the newer one).
pub fn issued(
    access: String,
    refresh: Option<String>,
    keys: &TokenKeys,
    settings: CookieSettings,
) -> Vec<Cookie<'static>> {
    let mut cookies = vec![build(ACCESS_COOKIE, access, keys.access_ttl(), settings)];
    cookies.extend(refresh.map(|r| build(REFRESH_COOKIE, r, keys.refresh_ttl(), settings)));
    cookies
}

/// Expired copies of both cookies, which make the browser drop them.
pub fn clear_all(settings: CookieSettings) -> [Cookie<'static>; 2] {
    [ACCESS_COOKIE, REFRESH_COOKIE].map(|name| {
        let mut cookie = build(name, String::new(), Duration::ZERO, settings);
        cookie.make_removal();
        cookie
    })
}

/// The value of the first cookie called `name` the request carries. Unlike
/// `HttpRequest::cookie`, this neither parses and percent-decodes every cookie nor caches them
/// in the request: guarded requests look up one cookie whose value (a JWT) is never encoded.
pub fn presented<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    let name = name.as_bytes();
    let value =
        req.headers().get_all(header::COOKIE).flat_map(|value| value.as_bytes().split(|b| *b == b';')).find_map(
            |pair| {
                let at = pair.iter().position(|b| *b == b'=')?;
                (pair[..at].trim_ascii() == name).then(|| pair[at + 1..].trim_ascii())
            },
        )?;
    std::str::from_utf8(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn finds_the_named_cookie_among_others_and_across_headers() {
        let req = TestRequest::default()
            .append_header((header::COOKIE, "theme=dark; access_token=a.b.c ;x=1"))
            .append_header((header::COOKIE, "refresh_token=r.s.t"))
            .to_http_request();
        assert_eq!(presented(&req, ACCESS_COOKIE), Some("a.b.c"));
        assert_eq!(presented(&req, REFRESH_COOKIE), Some("r.s.t"));
        assert_eq!(presented(&req, "missing"), None);
    }

    #[test]
    fn a_name_must_match_whole() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "xaccess_token=1; access_token_old=2"))
            .to_http_request();
        assert_eq!(presented(&req, ACCESS_COOKIE), None);
    }

    #[test]
    fn the_first_of_two_cookies_with_one_name_wins_as_with_actix() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "access_token=first; access_token=second"))
            .to_http_request();
        assert_eq!(presented(&req, ACCESS_COOKIE), req.cookie(ACCESS_COOKIE).map(|c| c.value().to_owned()).as_deref());
        assert_eq!(presented(&req, ACCESS_COOKIE), Some("first"));
    }
}
