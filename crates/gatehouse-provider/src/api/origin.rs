//! Where a request came from: the client address (one rule for throttles, audit events
//! and the session list) and the user agent.

use actix_web::HttpRequest;
use actix_web::http::header::USER_AGENT;
use ipnet::IpNet;
use std::net::IpAddr;

use crate::state::AppState;

/// Longest user agent kept: enough to recognise a browser, bounded for storage.
const MAX_USER_AGENT_CHARS: usize = 256;

#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The client address ([`client_address`]).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Origin {
    pub fn of(req: &HttpRequest, state: &AppState) -> Self {
        let user_agent = req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(MAX_USER_AGENT_CHARS).collect());
        let ip = client_address(req, &state.trusted_proxies).map(|ip| ip.to_string());
        Self { ip, user_agent }
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy
/// (`server.trusted_proxies`); then the right-most `X-Forwarded-For` entry that is not
/// a trusted proxy. Entries left of it were written by the client and prove nothing.
pub fn client_address(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    forwarded.reverse();
    let mut closest = peer;
    for entry in forwarded {
        // A malformed entry ends the chain: what lies left of it cannot be trusted.
        let Ok(ip) = entry.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
            return Some(closest);
        };
        if !is_trusted(&ip) {
            return Some(ip);
        }
        closest = ip;
    }
    // Every hop is trusted: the left-most one is the nearest to the client we know.
    Some(closest)
}

/// The bucket a client address is counted in: IPv6 clients by their /64 (one host
/// usually holds a whole /64 and can change its address within it at will).
pub fn throttle_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => IpNet::new(IpAddr::V6(v6), 64)
            .map_or_else(|_| v6.to_string(), |net| net.trunc().to_string()),
    }
}
