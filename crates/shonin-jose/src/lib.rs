//! JOSE for Shonin: compact JWS assembly for our own signatures and verification of JWTs under a
//! fixed algorithm policy — PS256, ES256 and EdDSA (Ed25519) only, never `none`, HS* or RS*
//! (FAPI 2.0 §5.4, RFC 8725 §3.1).
//!
//! Parsing is strict and bounded: tokens over [`MAX_JWS_LEN`], JSON deeper than
//! [`MAX_JSON_DEPTH`], padded or non-alphabet base64url, `crit` headers and private JWK members
//! are all refused, each with its own [`JoseError`] variant.
//!
//! This crate holds no keys and performs no I/O. It keeps one process-wide, bounded memo of
//! parsed public keys (`key_memo`), which saves work and changes no result.

mod alg;
mod b64;
mod compact;
mod error;
mod jwk;
mod jwt;
mod key_memo;

pub use alg::Alg;
pub use b64::{b64url_decode, b64url_encode};
pub use compact::{
    Header, MAX_JSON_DEPTH, MAX_JWS_LEN, assemble, decode_header, json_depth_exceeds, signing_input,
};
pub use error::JoseError;
pub use jwk::{PRIVATE_JWK_MEMBERS, jwk_thumbprint_sha256, validate_public_jwk};
pub use jwt::{
    DEFAULT_LEEWAY_FUTURE, VerifyOptions, verify_jws_with_jwk, verify_jwt, verify_with_jwk,
};
