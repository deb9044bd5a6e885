//! Prometheus metrics (the `prometheus` crate), served on METRICS_BIND_ADDR only. Labels are
//! bounded: provider ids from the configuration, outcomes and status codes from fixed lists,
//! never a user, a session or a path. Without METRICS_BIND_ADDR nothing is recorded.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// How a sign-in ended.
#[derive(Debug, Clone, Copy)]
pub enum LoginOutcome {
    Success,
    /// Refused by the person at the provider or by the policy (403).
    Denied,
    /// Anything else: a bad or replayed response, the provider or database unavailable.
    Failed,
}

/// How a gateway question (`/auth/verify`, `/auth/forward`) was answered.
#[derive(Debug, Clone, Copy)]
pub enum VerifyOutcome {
    Allowed,
    Unauthenticated,
    Forbidden,
    /// A browser sent back with renewed cookies (`/auth/forward`'s 307).
    Renewed,
}

/// Status codes with a counter of their own, resolved once; others count as "other".
const STATUSES: [u16; 22] =
    [200, 204, 301, 302, 303, 304, 307, 400, 401, 403, 404, 405, 409, 413, 414, 415, 422, 429, 431, 500, 502, 503];

struct Inner {
    registry: Registry,
    logins: IntCounterVec,
    refreshes: IntCounterVec,
    verify: IntCounterVec,
    by_status: Vec<IntCounter>,
    other_status: IntCounter,
    duration: Histogram,
}

/// The app's metrics; a no-op when they are not served.
pub struct Metrics(Option<Inner>);

impl Metrics {
    pub fn disabled() -> Self {
        Metrics(None)
    }

    /// Registers every metric; `providers`: the provider ids, so each login counter exists
    /// (at zero) from the start.
    pub fn enabled(providers: &[&str]) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let logins = IntCounterVec::new(
            Opts::new("doorman_logins_total", "Sign-ins by provider and outcome"),
            &["provider", "outcome"],
        )?;
        let refreshes = IntCounterVec::new(
            Opts::new("doorman_token_refreshes_total", "Refresh-token rotations by outcome"),
            &["outcome"],
        )?;
        let verify = IntCounterVec::new(
            Opts::new("doorman_verify_total", "Gateway answers (/auth/verify, /auth/forward) by outcome"),
            &["outcome"],
        )?;
        let requests =
            IntCounterVec::new(Opts::new("doorman_http_requests_total", "HTTP responses by status"), &["status"])?;
        let duration = Histogram::with_opts(
            HistogramOpts::new("doorman_http_request_duration_seconds", "Time to answer a request")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )?;
        for provider in providers {
            for outcome in ["success", "denied", "failed"] {
                logins.with_label_values(&[provider, outcome]);
            }
        }
        let by_status = STATUSES.iter().map(|s| requests.with_label_values(&[&s.to_string()])).collect();
        let other_status = requests.with_label_values(&["other"]);
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(refreshes.clone()))?;
        registry.register(Box::new(verify.clone()))?;
        registry.register(Box::new(requests))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Metrics(Some(Inner { registry, logins, refreshes, verify, by_status, other_status, duration })))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// One answered request.
    pub fn request(&self, status: u16, seconds: f64) {
        if let Some(m) = &self.0 {
            match STATUSES.iter().position(|s| *s == status) {
                Some(i) => m.by_status[i].inc(),
                None => m.other_status.inc(),
            }
            m.duration.observe(seconds);
        }
    }

    pub fn login(&self, provider: &str, outcome: LoginOutcome) {
        if let Some(m) = &self.0 {
            let outcome = match outcome {
                LoginOutcome::Success => "success",
                LoginOutcome::Denied => "denied",
                LoginOutcome::Failed => "failed",
            };
            m.logins.with_label_values(&[provider, outcome]).inc();
        }
    }

    /// `outcome`: `success` or the refusal's code (`expired`, `reused`, …), from a fixed list.
    pub fn refresh(&self, outcome: &'static str) {
        if let Some(m) = &self.0 {
            m.refreshes.with_label_values(&[outcome]).inc();
        }
    }

    pub fn verify(&self, outcome: VerifyOutcome) {
        if let Some(m) = &self.0 {
            let outcome = match outcome {
                VerifyOutcome::Allowed => "allowed",
                VerifyOutcome::Unauthenticated => "unauthenticated",
                VerifyOutcome::Forbidden => "forbidden",
                VerifyOutcome::Renewed => "renewed",
            };
            m.verify.with_label_values(&[outcome]).inc();
        }
    }

    /// The exposition in the Prometheus text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let Some(m) = &self.0 else { return Ok(String::new()) };
        let mut out = Vec::new();
        TextEncoder::new().encode(&m.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_move_and_labels_stay_bounded() {
        let m = Metrics::enabled(&["google", "github"]).unwrap();
        m.request(200, 0.001);
        m.request(299, 0.002);
        m.login("github", LoginOutcome::Success);
        m.refresh("reused");
        m.verify(VerifyOutcome::Forbidden);
        let text = m.render().unwrap();
        assert!(text.contains(r#"doorman_http_requests_total{status="200"} 1"#), "{text}");
        assert!(text.contains(r#"doorman_http_requests_total{status="other"} 1"#), "{text}");
        assert!(text.contains(r#"doorman_logins_total{outcome="success",provider="github"} 1"#), "{text}");
        assert!(text.contains(r#"doorman_logins_total{outcome="failed",provider="google"} 0"#), "{text}");
        assert!(text.contains(r#"doorman_token_refreshes_total{outcome="reused"} 1"#), "{text}");
        assert!(text.contains(r#"doorman_verify_total{outcome="forbidden"} 1"#), "{text}");
        assert!(text.contains("doorman_http_request_duration_seconds_count 2"), "{text}");
        let off = Metrics::disabled();
        off.request(200, 0.1);
        assert_eq!(off.render().unwrap(), "");
    }
}
