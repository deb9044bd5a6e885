//! Per-client rate limits on the routes that start or finish a sign-in (`/login`, `/auth`,
//! `/api/v1/auth/*`): a token bucket of RATE_LIMIT_BURST refilled at RATE_LIMIT_PER_SECOND,
//! keyed by the client address (behind TRUSTED_PROXIES, the forwarded one). 429 + Retry-After.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::{clock::QuantaInstant, NotUntil};
use actix_governor::{Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError};
use actix_web::dev::ServiceRequest;
use actix_web::middleware::Condition;
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::client_ip;
use crate::config::{RateLimitSettings, TrustedProxies};

/// Rate-limit key: the client's address.
#[derive(Clone)]
pub struct ClientAddress {
    trusted: TrustedProxies,
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        Ok(client_ip(req.request(), &self.trusted).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        mut response: HttpResponseBuilder,
    ) -> HttpResponse {
        use actix_governor::governor::clock::{Clock, DefaultClock};
        let wait = negative.wait_time_from(DefaultClock::default().now()).as_secs().max(1);
        response.insert_header(("Retry-After", wait.to_string())).json(serde_json::json!({
            "error": "rate_limited",
            "detail": format!("too many requests; please try again in {wait} s"),
        }))
    }
}

/// One limiter shared by every worker and every limited route.
#[derive(Clone)]
pub struct RateLimit {
    config: GovernorConfig<ClientAddress, NoOpMiddleware<QuantaInstant>>,
    enabled: bool,
}

impl RateLimit {
    /// `per_second == 0` turns the limits off.
    pub fn new(limits: RateLimitSettings, trusted: TrustedProxies) -> Self {
        let RateLimitSettings { per_second, burst } = limits;
        let enabled = per_second > 0 && burst > 0;
        let period = Duration::from_nanos((1_000_000_000 / u64::from(per_second.max(1))).max(1));
        let config = GovernorConfigBuilder::default()
            .period(period)
            .burst_size(burst.max(1))
            .key_extractor(ClientAddress { trusted })
            .finish()
            .expect("period and burst are both non-zero");
        RateLimit { config, enabled }
    }

    /// The middleware for one limited resource.
    pub fn middleware(&self) -> Condition<Governor<ClientAddress, NoOpMiddleware<QuantaInstant>>> {
        Condition::new(self.enabled, Governor::new(&self.config))
    }
}
