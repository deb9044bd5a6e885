//! Per-client rate limits on the routes that start or finish a sign-in (`/login`, `/auth`,
//! `/api/v1/auth/*`): a token bucket of RATE_LIMIT_BURST refilled at RATE_LIMIT_PER_SECOND,
//! keyed by the client address (behind TRUSTED_PROXIES, the forwarded one). 429 + Retry-After.
//!
//! IPv6 clients are keyed by their /64: one host commonly has a whole /64 and could otherwise
//! take a fresh bucket for every request. The limiter keeps one entry per key; entries whose
//! bucket has filled up again are pruned every minute, so a flood of distinct addresses costs
//! memory for at most about a minute's worth of them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::{clock::QuantaInstant, NotUntil};
use actix_governor::{Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError};
use actix_web::dev::ServiceRequest;
use actix_web::middleware::Condition;
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::client_ip;
use crate::config::{RateLimitSettings, TrustedProxies};
use crate::error::ErrorBody;

/// How often buckets that have filled up again are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The bucket an address counts against: IPv4 (IPv4-mapped IPv6 included) by address, other
/// IPv6 by its /64.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Rate-limit key: the client's address (its /64 for IPv6).
#[derive(Clone)]
pub struct ClientAddress {
    trusted: TrustedProxies,
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        Ok(bucket(client_ip(req.request(), &self.trusted).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        mut response: HttpResponseBuilder,
    ) -> HttpResponse {
        use actix_governor::governor::clock::{Clock, DefaultClock};
        let wait = negative.wait_time_from(DefaultClock::default().now()).as_secs().max(1);
        let body =
            ErrorBody { error: "rate_limited", detail: format!("too many requests; please try again in {wait} s") };
        response.insert_header(("Retry-After", wait.to_string())).json(body)
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

    /// Forgets the clients whose bucket is full again (they are as good as new); returns how
    /// many are still tracked.
    pub fn prune(&self) -> usize {
        let limiter = self.config.limiter();
        limiter.retain_recent();
        limiter.shrink_to_fit();
        limiter.len()
    }

    /// Prunes every minute for as long as the server runs (needs the Tokio runtime).
    pub fn spawn_pruning(&self) {
        if !self.enabled {
            return;
        }
        let limit = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PRUNE_EVERY);
            loop {
                tick.tick().await;
                limit.prune();
            }
        });
    }

    /// The middleware for one limited resource.
    pub fn middleware(&self) -> Condition<Governor<ClientAddress, NoOpMiddleware<QuantaInstant>>> {
        Condition::new(self.enabled, Governor::new(&self.config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrustedProxies;

    #[test]
    fn ipv6_clients_share_the_bucket_of_their_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(bucket(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")), ip("2001:db8:1:2::"));
        assert_ne!(bucket(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(bucket(ip("::ffff:198.51.100.7")), ip("198.51.100.7"), "IPv4-mapped counts as IPv4");
        assert_eq!(bucket(ip("198.51.100.7")), ip("198.51.100.7"));
    }

    #[test]
    fn a_flood_of_distinct_clients_is_forgotten_once_their_buckets_refill() {
        let limit = RateLimit::new(RateLimitSettings { per_second: 1_000_000, burst: 1 }, TrustedProxies::new(vec![]));
        let limiter = limit.config.limiter();
        for i in 0..20_000u32 {
            let _ = limiter.check_key(&IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)));
        }
        assert_eq!(limiter.len(), 20_000, "every client was tracked");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(limit.prune(), 0, "refilled buckets are dropped");
    }
}
