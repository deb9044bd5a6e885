//! The one middleware of our own that every request passes through. In order: refuse an
//! oversized request, give it an id, run the app, re-render errors in the format the client
//! wants, add the cookies an extractor decided, add security headers (and `Cache-Control:
//! no-store` unless the handler chose its caching) and the id, log one line.
//!
//! One layer instead of five: every actix middleware layer boxes futures and moves the request
//! and the response through its state, and five of them were a measurable share of a guarded
//! request (README.md, Benchmarks). Each step lives with its concern; this only puts them in
//! order.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use super::security_headers::{self, IDENTITY_HEADER};
use super::{access_log, client_ip, cookie_updates, limits, negotiate, request_id};
use crate::config::TrustedProxies;
use crate::metrics::Metrics;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// What the edge needs besides the request. Each worker holds its own in an `Rc`, so handing it
/// to a request bumps a count only that worker touches (cloning the `Arc`s themselves would write
/// their shared counts from both cores on every request).
pub struct Edge {
    pub trusted: TrustedProxies,
    pub metrics: Arc<Metrics>,
}

pub async fn edge(
    parts: Rc<Edge>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    // The clock is read only for what uses it: the request log and the metrics.
    let logged = access_log::enabled();
    let started = (logged || parts.metrics.is_enabled()).then(Instant::now);
    let id = request_id::for_request(&req);
    let json = negotiate::wants_json(req.request());

    let response = match limits::refusal(&req) {
        Some(error) => req.error_response(error).map_into_right_body(),
        None => next.call(req).await?.map_into_left_body(),
    };
    let mut response = match negotiate::replacement(&response, json) {
        Some(replacement) => ServiceResponse::new(response.into_parts().0, replacement).map_into_right_body(),
        None => response,
    };
    cookie_updates::apply(&mut response)?;
    let for_proxy = response.status().is_success() && response.headers().contains_key(IDENTITY_HEADER);
    let headers = response.headers_mut();
    security_headers::add(headers, for_proxy);
    headers.insert(request_id::HEADER, id.to_header());

    if let Some(started) = started {
        let now = Instant::now();
        let took = now.saturating_duration_since(started);
        parts.metrics.request(response.status().as_u16(), took.as_secs_f64());
        // A gateway's 2xx is an allowed check: logged at debug (access_log.rs says why).
        if logged && (!for_proxy || access_log::allowed_checks_enabled()) {
            let level = if for_proxy { log::Level::Debug } else { log::Level::Info };
            let client = client_ip::for_log(response.request(), &parts.trusted);
            access_log::write(level, &response, id.as_bytes(), client, took, now);
        }
    }
    Ok(response)
}
