//! What a handler may know about the connection a request arrived on.

use rustls::pki_types::CertificateDer;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// The connection a request arrived on, inserted into every request's extensions by
/// [`super::serve`]; extract it with `axum::Extension<ConnectionInfo>`.
///
/// `client_cert_chain` is what the client *sent*, leaf first, after it proved possession of the
/// leaf's key. Nothing about its trust has been decided yet (see
/// [`super::ClientCertMode::Optional`]).
#[derive(Clone)]
pub struct ConnectionInfo {
    /// The TCP peer. Behind a TLS-terminating proxy this is the proxy.
    pub peer_addr: SocketAddr,
    /// Whether this server terminated TLS on the connection.
    pub tls: bool,
    /// The client certificate chain, leaf first, if one was sent.
    pub client_cert_chain: Option<Arc<[CertificateDer<'static>]>>,
}

impl ConnectionInfo {
    /// A plain-TCP connection (TLS terminated by a proxy in front, or a test).
    pub fn plain(peer_addr: SocketAddr) -> Self {
        Self {
            peer_addr,
            tls: false,
            client_cert_chain: None,
        }
    }

    /// The client's end-entity certificate, if it sent one.
    pub fn client_leaf(&self) -> Option<&CertificateDer<'static>> {
        self.client_cert_chain.as_deref().and_then(<[_]>::first)
    }
}

impl fmt::Debug for ConnectionInfo {
    // Certificates are not dumped: a count is enough to debug, and logs stay small.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionInfo")
            .field("peer_addr", &self.peer_addr)
            .field("tls", &self.tls)
            .field(
                "client_cert_chain",
                &self
                    .client_cert_chain
                    .as_ref()
                    .map(|chain| format!("<{} certificate(s)>", chain.len())),
            )
            .finish()
    }
}
