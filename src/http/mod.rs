//! HTTP concerns outside the routes: the edge middleware (size limits, request ids, security
//! headers, the request log) and request facts several routes need: same-origin checks for
//! state-changing posts, the client's address behind trusted proxies, the device.

mod access_log;
mod client_ip;
mod device;
mod edge;
mod limits;
mod request_id;
mod security_headers;

pub use client_ip::client_ip;
pub use device::device;
pub use edge::edge;

use actix_web::HttpRequest;

/// True unless the request comes from another site's page (CSRF). Browsers say so in
/// `Sec-Fetch-Site`; for clients that do not send it, `Origin` must be ours when present. With
/// our `Referrer-Policy: no-referrer`, Chromium sends `Origin: null` even on same-origin posts,
/// which is why `Sec-Fetch-Site` decides first.
pub fn is_same_origin(req: &HttpRequest, public_origin: &str) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    header("origin").is_none_or(|origin| origin == public_origin)
}
