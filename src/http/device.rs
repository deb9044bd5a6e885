//! The device a session is started from, as the sessions page shows it.

use actix_web::{http::header, HttpRequest};

use super::client_ip;
use crate::config::TrustedProxies;
use crate::db::issued_tokens::Device;

const MAX_USER_AGENT: usize = 512;

/// The user agent (cut to 512 bytes) and the client address behind trusted proxies.
pub fn device(req: &HttpRequest, trusted: &TrustedProxies) -> Device {
    Device { user_agent: user_agent(req), ip: client_ip(req, trusted).map(|ip| ip.to_string()) }
}

/// The user agent, trimmed and cut to 512 bytes, as sessions store it.
pub fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| {
        let mut ua = ua.trim().to_owned();
        if ua.len() > MAX_USER_AGENT {
            let mut end = MAX_USER_AGENT;
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua.truncate(end);
        }
        ua
    })
}
