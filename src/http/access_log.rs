//! The request log: one key=value line per request (its format: `logging::request`).
//!
//! RUST_LOG decides whether it is written (target `request`, level info; debug for the
//! gateway's allowed checks, `allowed_checks_enabled`), but the line is not a `log` record:
//! through `format_args!` and env_logger's formatter it cost 6.8k instructions, 7 % of a
//! guarded request (callgrind; README.md, Benchmarks), and this line is written for every
//! request. Other records still go through env_logger.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::ServiceResponse;

use crate::logging;

/// Whether request lines are written at all (e.g. `RUST_LOG=info,request=off` turns them off).
pub fn enabled() -> bool {
    log::log_enabled!(target: "request", log::Level::Info)
}

/// Whether the gateway's answers that let a request pass are logged too: at debug, so not by
/// default (`RUST_LOG=info,request=debug` turns them on). The proxy logs the request itself,
/// and nginx does not log its auth subrequests by default either (`log_subrequest off`): at
/// info every proxied request would be logged twice, and this line was 5 % of the gateway's
/// CPU per request (README.md, Benchmarks). Refusals, redirects and errors are logged at info.
pub fn allowed_checks_enabled() -> bool {
    log::log_enabled!(target: "request", log::Level::Debug)
}

/// Logs the request behind `response`: id, client (behind trusted proxies, the forwarded one),
/// method, path (never the query string: it may hold a code), status, body size, duration.
/// `now`: when it ended (the clock the duration was read from, so the line costs no other).
pub fn write<B: MessageBody>(
    level: log::Level,
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
        level,
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
