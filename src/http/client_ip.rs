//! The client's address behind trusted proxies, worked out once per request: the rate limiter,
//! the session's device and the log line all ask for it.

use std::net::IpAddr;

use actix_web::http::header::{HeaderName, X_FORWARDED_FOR};
use actix_web::{HttpMessage, HttpRequest};

use crate::config::TrustedProxies;

/// As a constant: a `&str` name is parsed again at every lookup, and behind a proxy both are
/// looked up on every request.
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// What `client_ip` found, kept in the request's extensions.
#[derive(Clone, Copy)]
struct ClientAddress(Option<IpAddr>);

/// The client's address: the peer, or, when the peer is a trusted proxy, the right-most address
/// in `X-Forwarded-For` (then `X-Real-IP`) that is not itself a trusted proxy. Addresses to the
/// left of that were written by the client and cannot be believed.
pub fn client_ip(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    if let Some(known) = known(req) {
        return known;
    }
    let found = from_headers(req, trusted);
    req.extensions_mut().insert(ClientAddress(found));
    found
}

/// For the log line, after the response: what an earlier step found, or worked out now
/// without storing it (most requests ask only here).
pub(super) fn for_log(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    known(req).unwrap_or_else(|| from_headers(req, trusted))
}

fn known(req: &HttpRequest) -> Option<Option<IpAddr>> {
    req.extensions().get::<ClientAddress>().map(|c| c.0)
}

/// Walks the forwarded addresses from the right: each trusted proxy appended the address it saw.
/// The first one that is not a trusted proxy is the client. Every `X-Forwarded-For` line counts,
/// in order (a proxy may add a line instead of extending one). An entry that does not parse
/// (`unknown`, an obfuscated name, bytes) is what the last trusted proxy wrote for a client it
/// could not name: the client is unknown, and nothing to its left (the client's own words) is
/// believed.
fn from_headers(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut hops = Vec::new();
    for line in req.headers().get_all(X_FORWARDED_FOR) {
        match line.to_str() {
            Ok(line) => hops.extend(line.split(',').map(|hop| parse_hop(hop.trim()))),
            Err(_) => hops.push(None),
        }
    }
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if trusted.contains(ip) => continue,
            Some(ip) => return Some(*ip),
            None => return None,
        }
    }
    // No forwarded hop, or only proxies: X-Real-IP, else the proxy itself.
    let real = req.headers().get(X_REAL_IP).and_then(|v| v.to_str().ok()).and_then(|v| parse_hop(v.trim()));
    match real {
        Some(ip) => Some(ip),
        None => Some(peer),
    }
}

/// `203.0.113.9`, `203.0.113.9:5000`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:5000`,
/// IPv4-mapped IPv6 as IPv4.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|s| s.ip()))
        .or_else(|_| {
            hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).ok_or(()).and_then(|h| h.parse().map_err(|_| ()))
        })
        .ok()?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn loopback() -> TrustedProxies {
        TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()])
    }

    #[test]
    fn untrusted_peers_cannot_claim_another_address() {
        let req = TestRequest::default()
            .peer_addr("203.0.113.9:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4"))
            .to_http_request();
        assert_eq!(client_ip(&req, &loopback()), Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_spoofed_hops_are_skipped() {
        let req = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "6.6.6.6, 198.51.100.7, 127.0.0.2"))
            .to_http_request();
        assert_eq!(client_ip(&req, &loopback()), Some("198.51.100.7".parse().unwrap()));
        let bare = TestRequest::default().peer_addr("127.0.0.1:5000".parse().unwrap()).to_http_request();
        assert_eq!(client_ip(&bare, &loopback()), Some("127.0.0.1".parse().unwrap()));
    }

    fn behind_loopback(peer: &str, lines: &[&str]) -> Option<IpAddr> {
        let req = lines
            .iter()
            .fold(TestRequest::default().peer_addr(peer.parse().unwrap()), |r, line| {
                r.append_header(("x-forwarded-for", *line))
            })
            .to_http_request();
        from_headers(&req, &loopback())
    }

    #[test]
    fn every_forwarded_shape_names_the_client_a_trusted_proxy_saw() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // A proxy that adds a second line: the client's own line (first) is not believed.
        assert_eq!(behind_loopback("127.0.0.1:1", &["6.6.6.6", "198.51.100.7"]), ip("198.51.100.7"));
        // Ports, brackets, IPv4-mapped addresses.
        assert_eq!(behind_loopback("127.0.0.1:1", &["6.6.6.6, 198.51.100.7:4711"]), ip("198.51.100.7"));
        assert_eq!(behind_loopback("127.0.0.1:1", &["[2001:db8::7]:4711"]), ip("2001:db8::7"));
        assert_eq!(behind_loopback("127.0.0.1:1", &["[2001:db8::7]"]), ip("2001:db8::7"));
        assert_eq!(behind_loopback("127.0.0.1:1", &["::ffff:198.51.100.7"]), ip("198.51.100.7"));
        // What the proxy could not name stops the walk: the spoofed entry left of it is not the client.
        assert_eq!(behind_loopback("127.0.0.1:1", &["6.6.6.6, unknown"]), None);
        assert_eq!(behind_loopback("127.0.0.1:1", &["6.6.6.6", "_hidden"]), None);
        // nginx in front of BIND_ADDR=[::]:…: its address arrives IPv4-mapped and is still trusted.
        assert_eq!(behind_loopback("[::ffff:127.0.0.1]:1", &["198.51.100.7"]), ip("198.51.100.7"));
        // Only proxies in the list: the proxy nearest the client.
        assert_eq!(behind_loopback("127.0.0.1:1", &["127.0.0.5"]), ip("127.0.0.1"));
    }

    #[test]
    fn the_address_is_worked_out_once_per_request() {
        let req = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.7"))
            .to_http_request();
        assert_eq!(for_log(&req, &loopback()), Some("198.51.100.7".parse().unwrap()), "not stored");
        assert!(known(&req).is_none());
        client_ip(&req, &loopback());
        // Whatever the trust list says now, the request keeps the address it was given.
        let nobody = TrustedProxies::new(Vec::new());
        assert_eq!(client_ip(&req, &nobody), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(for_log(&req, &nobody), Some("198.51.100.7".parse().unwrap()));
    }
}
