//! JOSE for Shonin: compact JWS assembly for our own signatures and verification of JWTs under a
//! fixed algorithm policy — PS256, ES256 and EdDSA (Ed25519) only, never `none`, HS* or RS*
//! (FAPI 2.0 §5.4, RFC 8725 §3.1).
//!
//! This crate holds no keys and performs no I/O.

mod alg;

pub use alg::Alg;
