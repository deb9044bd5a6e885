use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The client's address: the peer, or, when the peer is a trusted proxy, the right-most address
/// in `X-Forwarded-For` (then `X-Real-IP`) that is not itself a trusted proxy. Addresses to the
/// left of that were written by the client and cannot be believed.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(forwarded) = header("x-forwarded-for") {
        let hops: Vec<IpAddr> = forwarded.split(',').filter_map(|h| h.trim().parse().ok()).collect();
        if let Some(client) = hops.iter().rev().find(|ip| !is_trusted(ip)) {
            return Some(*client);
        }
    }
    header("x-real-ip").and_then(|v| v.trim().parse().ok()).or(Some(peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn loopback() -> Vec<IpNet> {
        vec!["127.0.0.0/8".parse().unwrap()]
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
}
