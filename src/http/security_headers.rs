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

/// The page policy for a page whose forms lead (through our 303) to these other origins too:
/// browsers apply `form-action` to the redirects a form submission follows.
pub fn page_policy_with_form_targets(origins: &[String]) -> String {
    let targets: String = origins.iter().filter(|o| is_origin(o)).map(|o| format!(" {o}")).collect();
    PAGE_POLICY.replacen("form-action 'self'", &format!("form-action 'self'{targets}"), 1)
}

/// Only a plain `scheme://host[:port]` goes into the policy (a provider URL with a `;` must
/// not add directives of its own).
fn is_origin(origin: &str) -> bool {
    url::Url::parse(origin).is_ok_and(|u| u.origin().ascii_serialization() == origin)
}

/// The gateway's identity header. A 2xx answer that carries it is for nginx, Caddy or Traefik,
/// which keep its headers from the browser (they copy only the identity headers into the
/// upstream request), so it gets `no-store` only: the browser headers would be a hundred bytes
/// per guarded request for nobody.
pub const IDENTITY_HEADER: HeaderName = HeaderName::from_static("x-auth-request-user");

/// `for_proxy`: a gateway's 2xx answer (`IDENTITY_HEADER`).
pub fn add(headers: &mut HeaderMap, for_proxy: bool) {
    let html = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let set: &[(HeaderName, HeaderValue)] = match (html, for_proxy) {
        // OTHER's first entry: `Cache-Control: no-store`.
        (false, true) => &OTHER[..1],
        (true, _) => &PAGE,
        (false, false) => &OTHER,
    };
    for (name, value) in set {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_targets_are_added_as_origins_only() {
        let policy = page_policy_with_form_targets(&[
            "https://github.com".to_owned(),
            "https://evil.example; script-src *".to_owned(),
            "http://127.0.0.1:9000".to_owned(),
        ]);
        assert!(policy.contains("form-action 'self' https://github.com http://127.0.0.1:9000;"), "{policy}");
        assert!(!policy.contains("script-src"), "{policy}");
    }

    fn with_type(content_type: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(t) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
        }
        add(&mut headers, false);
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
    fn an_answer_for_a_proxy_gets_no_store_only_and_a_page_always_the_full_set() {
        let mut headers = HeaderMap::new();
        add(&mut headers, true);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
        let mut page = HeaderMap::new();
        page.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        add(&mut page, true);
        assert_eq!(page.get(header::CONTENT_SECURITY_POLICY).unwrap(), PAGE_POLICY);
    }

    #[test]
    fn a_handlers_own_header_wins() {
        let mut headers = HeaderMap::new();
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
        add(&mut headers, false);
        assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "same-origin");
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "public, max-age=300");
    }
}
