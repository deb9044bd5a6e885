//! Oversized requests are refused before anything parses them.

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;

use crate::error::AppError;

/// Longest request target we accept; real ones (the callback with code and state) are far shorter.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest single header value (a cookie header holding both tokens and a login is ~3 KiB).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Largest total of all header names and values.
pub const MAX_HEADERS_TOTAL_BYTES: usize = 32 * 1024;

/// Why an oversized request line or header block is refused (414 / 431), checked before any
/// extractor parses it.
pub fn refusal(req: &ServiceRequest) -> Option<AppError> {
    let target_len = req.uri().path().len() + req.uri().query().map_or(0, |q| q.len() + 1);
    if target_len > MAX_URI_BYTES {
        return Some(AppError::rejected(StatusCode::URI_TOO_LONG, "uri_too_long", "the address is too long"));
    }
    let mut total = 0;
    let too_big = req.headers().iter().any(|(name, value)| {
        total += name.as_str().len() + value.len();
        value.len() > MAX_HEADER_BYTES
    });
    (too_big || total > MAX_HEADERS_TOTAL_BYTES).then(|| {
        AppError::rejected(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request's headers or cookies are too large; clearing this site's cookies will help",
        )
    })
}
