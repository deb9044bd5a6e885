use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use ipnet::IpNet;

use super::client_ip;

const HEADER: &str = "x-request-id";

/// An id a proxy sent is kept when it looks like one (so nginx's `$request_id` links its log to
/// ours); anything else is replaced, so clients cannot inject text into our logs.
fn acceptable(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A random per-process prefix and a counter: unique across instances and restarts without a
/// random-number syscall per request.
fn next_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..16].to_owned());
    format!("{prefix}{:016x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Middleware: gives every request an id (echoed in `X-Request-Id`) and logs one key=value line
/// per request: id, client (behind trusted proxies, the forwarded one), method, path (never the
/// query string: it may hold a code), status, body size, duration.
pub async fn observe(
    trusted: Arc<Vec<IpNet>>,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let presented = req.headers().get(HEADER).and_then(|v| v.to_str().ok()).filter(|id| acceptable(id));
    let id = presented.map(str::to_owned).unwrap_or_else(next_id);
    let logging = log::log_enabled!(target: "request", log::Level::Info);
    let client = if logging { client_ip(req.request(), &trusted) } else { None };
    let method = req.method().clone();
    let path = if logging { req.path().to_owned() } else { String::new() };
    let mut response = next.call(req).await?;
    if logging {
        let bytes = match response.response().body().size() {
            BodySize::Sized(n) => n,
            _ => 0,
        };
        log::info!(
            target: "request",
            "request_id={id} client={} method={method} path={path:?} status={} bytes={bytes} duration_ms={:.3}",
            client.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
            response.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0,
        );
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static(HEADER), value);
    }
    Ok(response)
}
