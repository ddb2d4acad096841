//! Passkeys (WebAuthn Level 3 discoverable credentials with user verification) for Shonin.
//!
//! - [`PasskeyConfig`] and [`AaguidPolicy`]: the relying party and the operator's policy.
//! - [`StoredPasskey`] and [`PasskeyStore`]: one enrolled credential as stored, and the storage
//!   port `shonin-store` implements for both engines.
//! - [`Passkeys`]: the ceremonies. Enrolment and sign-in each begin with a challenge whose server
//!   state is kept in the shared [`FlowStore`](shonin_types::ports::FlowStore) with a short expiry,
//!   so any node can finish a ceremony another began; finishing consumes that state by
//!   compare-and-set, so a challenge is answered at most once.
//! - [`verify_assertion`]: an assertion for a challenge the server chose (transaction signing),
//!   checked by Shonin itself with [`CredentialPublicKey`], [`AssertionResponse`], [`Expected`].
//!
//! The ceremonies' WebAuthn checks (challenge, origin, RP ID hash, flags, signature, sign count)
//! are webauthn-rs's: see docs/ARCHITECTURE.md for why that crate and what it does not cover,
//! which is a challenge the relying party chooses.
//! Every failure is a [`PasskeyError`] whose [`PasskeyError::reason`] is a short fixed code for
//! the audit log; none of them is meant to be shown to the person signing in.

mod aaguid;
mod assertion;
mod ceremony;
mod config;
mod credential;
mod error;
mod recovery;
pub mod settings;

pub use aaguid::{AaguidNames, aaguid_of_attestation};
pub use assertion::{
    AssertionResponse, CredentialPublicKey, Expected, Framing, MAX_AUTHENTICATOR_DATA_LEN,
    MAX_CLIENT_DATA_JSON_LEN, MAX_CREDENTIAL_ID_LEN, MAX_SIGNATURE_LEN, MAX_USER_HANDLE_LEN,
    VerifiedAssertion, request_options, verify_assertion, verify_passkey_assertion,
};
pub use ceremony::{Challenge, Passkeys, SignedIn, UserRef};
pub use config::{AaguidPolicy, PasskeyConfig};
pub use credential::{
    MAX_PASSKEY_NAME_CHARS, PASSKEY_TABLE, PasskeyStore, StoredPasskey, record_use, validate_name,
};
pub use error::PasskeyError;
pub use recovery::{RECOVERY_CODE_COUNT, RecoveryCodeStore, generate_recovery_codes, hash_code};
