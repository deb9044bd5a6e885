//! The request log: one key=value line per request (its format: `logging::request`).
//!
//! RUST_LOG decides whether it is written (target `request`, level info), but the line is not
//! a `log` record: through `format_args!` and env_logger's formatter it cost 6.8k instructions,
//! 7 % of a guarded request (callgrind; README.md, Benchmarks), and this line is written for
//! every request. Other records still go through env_logger.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::ServiceResponse;

use crate::logging;

/// Whether request lines are written at all (e.g. `RUST_LOG=info,request=off` turns them off).
pub fn enabled() -> bool {
    log::log_enabled!(target: "request", log::Level::Info)
}

/// Logs the request behind `response`: id, client (behind trusted proxies, the forwarded one),
/// method, path (never the query string: it may hold a code), status, body size, duration.
/// `now`: when it ended (the clock the duration was read from, so the line costs no other).
pub fn write<B: MessageBody>(
    response: &ServiceResponse<B>,
    id: &[u8],
    client: Option<IpAddr>,
    took: Duration,
    now: Instant,
) {
    let bytes = match response.response().body().size() {
        BodySize::Sized(n) => n,
        _ => 0,
    };
    let request = response.request();
    logging::request(&logging::Record {
        at: now,
        id,
        client,
        method: request.method().as_str(),
        path: request.path(),
        status: response.status().as_u16(),
        bytes,
        took,
    });
}
