//! Security headers, added unless the handler set its own. HTML pages get the full set; other
//! responses (JSON, redirects, empty bodies) a policy that allows nothing, per OWASP's advice
//! for APIs, which also keeps every guarded JSON response a few hundred bytes shorter. Every
//! response is `Cache-Control: no-store` unless its handler chose otherwise (the stylesheet, the
//! JWKS): pages and tokens speak for one signed-in user.

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Pages may load our stylesheet and https images (profile pictures), nothing else.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";
/// Nothing may be loaded or framed by anything that is not an HTML page.
const NOTHING_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

static PAGE: [(HeaderName, HeaderValue); 5] = [
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY)),
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    // The callback URL carries the code; no page of ours may leak it onward.
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
];
static OTHER: [(HeaderName, HeaderValue); 4] = [
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(NOTHING_POLICY)),
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    // Also on redirects: the browser applies it to the request the redirect leads to.
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
];

pub fn add(headers: &mut HeaderMap) {
    let html = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let set: &[(HeaderName, HeaderValue)] = if html { &PAGE } else { &OTHER };
    for (name, value) in set {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(content_type: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(t) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
        }
        add(&mut headers);
        headers
    }

    #[test]
    fn pages_get_the_full_set() {
        let headers = with_type(Some("text/html; charset=utf-8"));
        assert_eq!(headers.get(header::CONTENT_SECURITY_POLICY).unwrap(), PAGE_POLICY);
        assert_eq!(headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    }

    #[test]
    fn other_responses_allow_nothing() {
        for content_type in [Some("application/json"), None] {
            let headers = with_type(content_type);
            assert_eq!(headers.get(header::CONTENT_SECURITY_POLICY).unwrap(), NOTHING_POLICY);
            assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
            assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
            assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
            assert!(headers.get(header::X_FRAME_OPTIONS).is_none());
        }
    }

    #[test]
    fn a_handlers_own_header_wins() {
        let mut headers = HeaderMap::new();
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
        add(&mut headers);
        assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "same-origin");
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "public, max-age=300");
    }
}
