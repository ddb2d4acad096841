//! Who is on the other end: the TCP peer and, behind a trusted proxy, the client it forwards.

use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shonin_tls::ConnectionInfo;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The connection's peer and the client address used for rate limits and audit entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    pub peer: SocketAddr,
    pub client_ip: IpAddr,
}

impl ClientAddr {
    /// Resolves the client address. `X-Forwarded-For` is believed only when the TCP peer is a
    /// configured trusted proxy; then the right-most address that is not itself a trusted proxy
    /// is the client (entries to its left were written by the client and can be forged).
    pub fn resolve(parts: &Parts, trusted_proxies: &[IpAddr]) -> ClientAddr {
        let peer = parts
            .extensions
            .get::<ConnectionInfo>()
            .map(|c| c.peer_addr)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let mut client_ip = peer.ip();
        if trusted_proxies.contains(&peer.ip()) {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect::<Vec<_>>();
            for hop in forwarded.iter().rev() {
                match hop.parse::<IpAddr>() {
                    Ok(ip) if trusted_proxies.contains(&ip) => continue,
                    Ok(ip) => {
                        client_ip = ip;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        ClientAddr { peer, client_ip }
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(addr) = parts.extensions.get::<ClientAddr>() {
            return Ok(*addr);
        }
        Ok(ClientAddr::resolve(
            parts,
            &state.config.server.trusted_proxies,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, xff: Option<&str>) -> Parts {
        let mut req = Request::builder().uri("/");
        if let Some(v) = xff {
            req = req.header("x-forwarded-for", v);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectionInfo::plain(peer.parse().unwrap()));
        parts
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let p = parts("203.0.113.9:4000", Some("198.51.100.1"));
        assert_eq!(
            ClientAddr::resolve(&p, &[]).client_ip,
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarded_for_from_trusted_proxy_takes_rightmost_untrusted_hop() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let p = parts("10.0.0.2:4000", Some("6.6.6.6, 198.51.100.1, 10.0.0.2"));
        assert_eq!(
            ClientAddr::resolve(&p, &[proxy]).client_ip,
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn garbage_forwarded_for_falls_back_to_peer() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let p = parts("10.0.0.2:4000", Some("not-an-ip"));
        assert_eq!(ClientAddr::resolve(&p, &[proxy]).client_ip, proxy);
    }
}
