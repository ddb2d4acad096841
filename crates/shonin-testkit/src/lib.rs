//! Test doubles for Shonin's tests and benchmarks.
//!
//! [`passkey`] is a software WebAuthn authenticator together with the part of the browser that
//! wraps it: it reads the options JSON a relying party sends to `navigator.credentials.create()` /
//! `.get()` and returns what `PublicKeyCredential.toJSON()` would, so a server can be driven
//! end to end without a browser.
//!
//! This crate is for tests only. Its keys live in memory, it performs none of the client's
//! security checks (origin against RP ID, user consent) on purpose so tests can present what a
//! hostile client would, and it must never be a dependency of a shipped crate.

mod cbor;
pub mod passkey;
pub mod softhsm;

pub use passkey::{Authenticator, Error, SoftPasskey};
