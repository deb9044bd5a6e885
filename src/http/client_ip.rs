//! The client's address behind trusted proxies, worked out once per request: the rate limiter,
//! the session's device and the log line all ask for it.

use std::net::IpAddr;

use actix_web::{HttpMessage, HttpRequest};

use crate::config::TrustedProxies;

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

fn from_headers(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(forwarded) = header("x-forwarded-for") {
        let hops: Vec<IpAddr> = forwarded.split(',').filter_map(|h| h.trim().parse().ok()).collect();
        if let Some(client) = hops.iter().rev().find(|ip| !trusted.contains(ip)) {
            return Some(*client);
        }
    }
    header("x-real-ip").and_then(|v| v.trim().parse().ok()).or(Some(peer))
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
