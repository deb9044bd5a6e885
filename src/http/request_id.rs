//! `X-Request-Id`: one id per request, in the response and in the log line.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderName, HeaderValue};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// An id a proxy sent is kept when it looks like one (so nginx's `$request_id` links its log to
/// ours); anything else is replaced, so clients cannot inject text into our logs.
fn acceptable(id: &[u8]) -> bool {
    (8..=64).contains(&id.len()) && id.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// A request's id: the proxy's header value, or a new one, made a header value only for the
/// response (the log line reads its bytes; a second copy for it cost an allocation per request).
pub enum RequestId {
    Presented(HeaderValue),
    New([u8; 32]),
}

impl RequestId {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            RequestId::Presented(value) => value.as_bytes(),
            RequestId::New(hex) => hex,
        }
    }

    pub fn to_header(&self) -> HeaderValue {
        match self {
            RequestId::Presented(value) => value.clone(),
            RequestId::New(hex) => HeaderValue::from_bytes(hex).unwrap_or_else(|_| HeaderValue::from_static("invalid")),
        }
    }
}

/// The request's id: the proxy's, or a new one.
pub fn for_request(req: &ServiceRequest) -> RequestId {
    match req.headers().get(&HEADER) {
        Some(presented) if acceptable(presented.as_bytes()) => RequestId::Presented(presented.clone()),
        _ => RequestId::New(next_id()),
    }
}

/// A random per-thread prefix and a per-thread counter, 32 hex digits: unique across threads,
/// instances and restarts without a random-number syscall or a formatting pass per request, and
/// without one counter that every worker writes (its cache line would bounce between the cores
/// on every request).
fn next_id() -> [u8; 32] {
    use std::cell::Cell;
    thread_local! {
        static NEXT: Cell<u128> = Cell::new(u128::from(uuid::Uuid::new_v4().as_u64_pair().0) << 64);
    }
    let id = NEXT.with(|next| next.replace(next.get().wrapping_add(1)));
    let mut hex = [0u8; 32];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[((id >> (124 - 4 * i)) & 0xf) as usize];
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn new_ids_are_unique_hex_of_fixed_length() {
        let req = TestRequest::default().to_srv_request();
        let (a, b) = (for_request(&req).to_header(), for_request(&req).to_header());
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 32);
            assert!(id.as_bytes().iter().all(u8::is_ascii_hexdigit));
        }
        assert_eq!(a.as_bytes()[..16], b.as_bytes()[..16], "one prefix per thread");
        let elsewhere =
            std::thread::spawn(|| for_request(&TestRequest::default().to_srv_request()).to_header()).join().unwrap();
        assert_ne!(elsewhere.as_bytes()[..16], a.as_bytes()[..16], "another thread, another prefix");
    }

    #[test]
    fn a_proxys_id_is_kept_only_when_it_looks_like_one() {
        let kept = TestRequest::default().insert_header(("x-request-id", "nginx-0123456789abcdef")).to_srv_request();
        assert_eq!(for_request(&kept).to_header(), "nginx-0123456789abcdef");
        assert_eq!(for_request(&kept).as_bytes(), b"nginx-0123456789abcdef", "and in the log line");
        for hostile in ["short", "has space in it", "quote\"injection-attempt", &"x".repeat(65)] {
            let req = TestRequest::default().insert_header(("x-request-id", hostile)).to_srv_request();
            let id = for_request(&req);
            assert_ne!(id.to_header(), hostile, "{hostile:?} must be replaced");
            assert_eq!(id.as_bytes(), id.to_header().as_bytes(), "the log line and the header agree");
        }
    }
}
