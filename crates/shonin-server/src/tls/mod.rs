//! TLS termination and the connection layer: the rustls server configuration (BCP 195 /
//! RFC 9325), the accept loop that hands each request its [`ConnectionInfo`] (peer address and
//! client certificate), and a development PKI.
//!
//! This module decides *how* bytes arrive, never *who* may do what: a client certificate is
//! passed on after proof of possession only, and trusting it (RFC 8705) is the application's job.

mod client_cert;
mod config;
mod connection;
pub mod dev_pki;
mod error;
mod error_heads;
mod h2_scan;
mod idle;
mod message_rules;
mod pem_files;
mod per_ip;
mod read_deadline;
mod serve;

pub use config::{ClientCertMode, server_config};
pub use connection::ConnectionInfo;
pub use error::TlsError;
pub use serve::{RefusalHook, ServeLimits, serve};
