//! The cookies this app sets, with their names and attributes in one place, and how a request's
//! credential cookies are read.
//!
//! Cookie shadowing: an app on a sibling subdomain, or on the same host behind `auth_request`,
//! can set a cookie of the same name with a longer Path or a parent Domain; browsers then send
//! both, the more specific first, and a reader that takes the first signs the victim in as the
//! attacker. A credential cookie that arrives twice is therefore believed in neither copy, and
//! both are cleared where we can reach them. The `__Host-` names (COOKIE_HOST_PREFIX) cannot be
//! set by another host at all.

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
/// Its name with COOKIE_HOST_PREFIX.
pub const HOST_LOGIN_COOKIE: &str = "__Host-doorman_login";
/// The prefix browsers only accept on Secure, Path=/, host-only cookies set by the host itself.
const HOST_PREFIX: &str = "__Host-";

/// The three cookie names, with or without the `__Host-` prefix.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    pub access: &'static str,
    pub refresh: &'static str,
    pub login: &'static str,
}

pub fn names(settings: CookieSettings) -> Names {
    if settings.host_prefix {
        Names { access: "__Host-access_token", refresh: "__Host-refresh_token", login: HOST_LOGIN_COOKIE }
    } else {
        Names { access: ACCESS_COOKIE, refresh: REFRESH_COOKIE, login: LOGIN_COOKIE }
    }
}

/// HttpOnly, SameSite=Lax (Strict would drop it on the first page after the provider's
/// redirect), Path=/, Max-Age = the token's lifetime. The refresh cookie needs Path=/ too: any
/// guarded page may have to renew an expired access token in place.
fn build(name: &'static str, value: String, lifetime: Duration, settings: CookieSettings) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(settings.secure || name.starts_with(HOST_PREFIX))
        .max_age(CookieDuration::seconds(lifetime.as_secs() as i64))
        .finish();
    // COOKIE_DOMAIN: one login for sibling subdomains (the forward-auth gateway).
    if let Some(domain) = settings.domain {
        cookie.set_domain(domain);
    }
    cookie
}

/// The cookies for freshly issued tokens; no refresh cookie when there is no new refresh token
/// (another request rotated it a moment ago and the browser keeps the newer one).
pub fn issued(
    access: String,
    refresh: Option<String>,
    keys: &TokenKeys,
    settings: CookieSettings,
) -> Vec<Cookie<'static>> {
    let names = names(settings);
    let mut cookies = vec![build(names.access, access, keys.access_ttl(), settings)];
    cookies.extend(refresh.map(|r| build(names.refresh, r, keys.refresh_ttl(), settings)));
    cookies
}

/// Expired copies of both cookies, which make the browser drop them.
pub fn clear_all(settings: CookieSettings) -> [Cookie<'static>; 2] {
    let names = names(settings);
    [names.access, names.refresh].map(|name| removal(name, "/", settings))
}

fn removal(name: &'static str, path: &str, settings: CookieSettings) -> Cookie<'static> {
    let mut cookie = build(name, String::new(), Duration::ZERO, settings);
    cookie.set_path(path.to_owned());
    cookie.make_removal();
    cookie
}

/// Removals of both credential cookies at Path=/ and at every directory of this request's path
/// (`/a/b` → `/a/b`, `/a`), where a shadowing copy is most likely. A copy set for a parent
/// Domain is out of our reach: that is what COOKIE_HOST_PREFIX and a host of its own are for.
pub fn clear_shadowed(req: &HttpRequest, settings: CookieSettings) -> Vec<Cookie<'static>> {
    let names = names(settings);
    let mut paths = vec!["/".to_owned()];
    let mut path = req.path().trim_end_matches('/');
    while !path.is_empty() {
        paths.push(path.to_owned());
        path = path.rsplit_once('/').map_or("", |(parent, _)| parent);
    }
    paths.truncate(8);
    paths.iter().flat_map(|p| [removal(names.access, p, settings), removal(names.refresh, p, settings)]).collect()
}

/// How often a cookie arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'r> {
    Absent,
    Once(&'r str),
    /// Twice or more (someone else set one: shadowing), or not text: believe none.
    Shadowed,
}

/// Every cookie called `name` the request carries. Unlike `HttpRequest::cookie`, this neither
/// parses and percent-decodes every cookie nor caches them in the request: guarded requests
/// look up the credentials, whose values (JWTs) are never encoded.
pub fn presented_all<'r>(req: &'r HttpRequest, name: &str) -> Presented<'r> {
    let [found] = scan(req, [name]);
    found
}

/// Both credential cookies, in one pass over the Cookie headers (the guarded path: callgrind
/// put two passes at 4k instructions per request, one with memchr at a few hundred).
pub fn credentials(req: &HttpRequest, names: Names) -> (Presented<'_>, Presented<'_>) {
    let [access, refresh] = scan(req, [names.access, names.refresh]);
    (access, refresh)
}

fn scan<'r, const N: usize>(req: &'r HttpRequest, names: [&str; N]) -> [Presented<'r>; N] {
    let mut found = [const { Presented::Absent }; N];
    for header in req.headers().get_all(header::COOKIE) {
        let bytes = header.as_bytes();
        let mut start = 0;
        for end in memchr::memchr_iter(b';', bytes).chain(std::iter::once(bytes.len())) {
            let pair = &bytes[start..end];
            start = end + 1;
            let Some(at) = memchr::memchr(b'=', pair) else { continue };
            let name = pair[..at].trim_ascii();
            for (wanted, slot) in names.iter().zip(found.iter_mut()) {
                if name == wanted.as_bytes() {
                    *slot = match slot {
                        Presented::Absent => std::str::from_utf8(pair[at + 1..].trim_ascii())
                            .map_or(Presented::Shadowed, Presented::Once),
                        _ => Presented::Shadowed,
                    };
                }
            }
        }
    }
    found
}

/// The value of the cookie called `name`, when it arrived exactly once.
pub fn presented<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    match presented_all(req, name) {
        Presented::Once(value) => Some(value),
        Presented::Absent | Presented::Shadowed => None,
    }
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
    fn a_cookie_that_arrives_twice_is_believed_in_neither_copy() {
        for header in ["access_token=attacker; access_token=victim", "access_token=same; access_token=same"] {
            let req = TestRequest::default().insert_header((header::COOKIE, header)).to_http_request();
            assert_eq!(presented_all(&req, ACCESS_COOKIE), Presented::Shadowed, "{header}");
            assert_eq!(presented(&req, ACCESS_COOKIE), None);
        }
        let across = TestRequest::default()
            .append_header((header::COOKIE, "refresh_token=a"))
            .append_header((header::COOKIE, "refresh_token=b"))
            .to_http_request();
        assert_eq!(presented_all(&across, REFRESH_COOKIE), Presented::Shadowed);
    }

    #[test]
    fn shadowing_copies_are_cleared_along_the_path() {
        let settings = CookieSettings { secure: true, host_prefix: false, domain: None };
        let req = TestRequest::with_uri("/app/chat/").to_http_request();
        let cleared: Vec<(String, String)> = clear_shadowed(&req, settings)
            .iter()
            .map(|c| (c.name().to_owned(), c.path().unwrap_or_default().to_owned()))
            .collect();
        for path in ["/", "/app", "/app/chat"] {
            for name in [ACCESS_COOKIE, REFRESH_COOKIE] {
                assert!(cleared.contains(&(name.to_owned(), path.to_owned())), "{name} at {path}: {cleared:?}");
            }
        }
        assert!(clear_shadowed(&req, settings).iter().all(|c| c.max_age() == Some(CookieDuration::ZERO)));
    }

    #[test]
    fn host_prefixed_names_are_always_secure() {
        let settings = CookieSettings { secure: false, host_prefix: true, domain: None };
        let names = names(settings);
        assert_eq!(names.access, "__Host-access_token");
        let cookie = build(names.access, "x".into(), Duration::from_secs(60), settings);
        assert_eq!((cookie.secure(), cookie.path(), cookie.domain()), (Some(true), Some("/"), None));
    }

    #[test]
    fn cookie_domain_goes_on_the_credential_cookies_and_their_removals() {
        let settings = CookieSettings { secure: true, host_prefix: false, domain: Some("example.com") };
        let cookie = build(ACCESS_COOKIE, "x".into(), Duration::from_secs(60), settings);
        assert_eq!(cookie.domain(), Some("example.com"));
        assert!(clear_all(settings).iter().all(|c| c.domain() == Some("example.com")));
    }
}
