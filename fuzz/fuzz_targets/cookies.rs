//! `Cookie` request headers as the app reads them: `HttpRequest::cookie(name)` (actix-web splits
//! each header on `;` and percent-decodes each pair with `Cookie::parse_encoded`), plus the
//! plain `Cookie::parse` / `parse_encoded` on the whole string, and `cookies::presented` (the
//! app's raw lookup for guarded requests). Never panics; the lookups agree with a direct reading
//! of the header (`presented` where there is nothing to percent-decode or unquote); whatever is
//! found can be written back out.
//!
//! Each input line is one `Cookie` header (HTTP/2 clients may send several); lines that are not
//! valid header values are skipped, as the HTTP layer would refuse them.
//! (`Cookie::split_parse` does not exist in the cookie 0.16 that actix-web 4 uses; the
//! split-on-`;` loop below is actix-web's own.)
#![no_main]

use actix_web::cookie::Cookie;
use actix_web::http::header::{HeaderValue, COOKIE};
use actix_web::test::TestRequest;
use doorman::cookies::{presented, ACCESS_COOKIE, LOGIN_COOKIE, REFRESH_COOKIE};
use libfuzzer_sys::fuzz_target;

/// What `HttpRequest::cookies()` does with one header value.
fn split_like_actix(header: &str) -> impl Iterator<Item = Cookie<'static>> + '_ {
    header
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|pair| Cookie::parse_encoded(pair).ok().map(Cookie::into_owned))
}

fn write_back(cookie: &Cookie<'_>) {
    let _ = cookie.to_string();
    let _ = cookie.encoded().to_string();
    let _ = cookie.stripped().to_string();
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };

    for whole in [Cookie::parse(text), Cookie::parse_encoded(text)].into_iter().flatten() {
        assert!(!whole.name().is_empty(), "{text:?} parsed as a cookie without a name");
        let _ = (whole.max_age(), whole.expires(), whole.same_site(), whole.path(), whole.domain());
        write_back(&whole);
    }

    let headers: Vec<&str> = text.split('\n').filter(|h| HeaderValue::from_str(h).is_ok()).collect();
    let mut request = TestRequest::default();
    for header in &headers {
        request = request.append_header((COOKIE, HeaderValue::from_str(header).unwrap()));
    }
    let req = request.to_http_request();
    let expected: Vec<Cookie<'static>> = headers.iter().flat_map(|h| split_like_actix(h)).collect();
    let found = req.cookies().expect("valid header values are UTF-8").clone();
    assert_eq!(found.len(), expected.len(), "cookie count differs for {headers:?}");
    for (a, b) in found.iter().zip(&expected) {
        assert_eq!((a.name(), a.value()), (b.name(), b.value()), "cookies differ for {headers:?}");
    }

    // `cookies::presented` (what guarded requests use) reads the raw value without decoding: on
    // headers with nothing to decode or unquote (printable ASCII, no `%` or `"`), it must find
    // what actix finds.
    let plain =
        headers.iter().all(|h| h.bytes().all(|b| (b == b'\t' || (b' '..=b'~').contains(&b)) && b != b'%' && b != b'"'));
    for name in [ACCESS_COOKIE, REFRESH_COOKIE, LOGIN_COOKIE] {
        let raw = presented(&req, name);
        if plain {
            assert_eq!(
                raw,
                req.cookie(name).as_ref().map(|c| c.value()),
                "cookies::presented and HttpRequest::cookie disagree on {name} for {headers:?}"
            );
        }
        let got = req.cookie(name);
        let want = expected.iter().find(|c| c.name() == name);
        assert_eq!(
            got.as_ref().map(|c| c.value()),
            want.map(|c| c.value()),
            "lookup of {name} disagrees for {headers:?}"
        );
        if let Some(cookie) = got {
            // The value reaches token verification as a string: it must be one.
            let _ = cookie.value().len();
            write_back(&cookie);
        }
    }
});
