//! TLS termination and the connection layer of the `shonin` server: the rustls server
//! configuration (BCP 195 / RFC 9325), the accept loop that hands each request its
//! [`ConnectionInfo`] (peer address and client certificate) with its deadlines and limits
//! (handshake, header-block and idle deadlines, HTTP/2 frame scan, per-IP cap, RFC 9112 Host
//! rule, security headers on the heads hyper writes itself), and a development PKI. It knows
//! nothing of the application behind the `axum::Router` it serves; the two things both write,
//! the security headers and the problem+json body, are defined here ([`headers`], [`problem`]).
//!
//! This crate decides *how* bytes arrive, never *who* may do what: a client certificate is
//! passed on after proof of possession only, and trusting it (RFC 8705) is the application's job.

mod client_cert;
mod config;
mod connection;
pub mod dev_pki;
mod error;
mod error_heads;
mod h2_scan;
pub mod headers;
mod idle;
mod message_rules;
mod pem_files;
mod per_ip;
pub mod probe;
pub mod problem;
mod read_deadline;
mod serve;

pub use config::{ClientCertMode, mutual_client_config, server_config};
pub use connection::ConnectionInfo;
pub use error::TlsError;
pub use serve::{RefusalHook, ServeLimits, serve};
