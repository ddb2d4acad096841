//! Shonin's own check of a WebAuthn assertion whose challenge the server chose (transaction
//! signing now, Secure Payment Confirmation later): WebAuthn L3 §7.2 for a relying party that
//! already knows which credential must answer.
//!
//! Sign-in and enrolment stay on webauthn-rs; it draws its own random challenge and cannot be
//! given one, so a challenge that is a hash of payment data needs this path. It is kept small:
//! three key types, one JSON shape, no attestation, and every input bounded before it is parsed.
//!
//! - [`CredentialPublicKey`]: the stored credential's key, or the same key as a JWK.
//! - [`AssertionResponse`]: `PublicKeyCredential.toJSON()` of a `get()`, decoded strictly.
//! - [`verify_assertion`] / [`verify_passkey_assertion`]: the checks; [`request_options`]: what
//!   the page passes to `navigator.credentials.get()`.

mod key;
mod options;
mod response;
mod verify;

pub use key::CredentialPublicKey;
pub use options::request_options;
pub use response::{
    AssertionResponse, MAX_AUTHENTICATOR_DATA_LEN, MAX_CLIENT_DATA_JSON_LEN, MAX_CREDENTIAL_ID_LEN,
    MAX_SIGNATURE_LEN, MAX_USER_HANDLE_LEN,
};
pub use verify::{
    Expected, Framing, VerifiedAssertion, verify_assertion, verify_passkey_assertion,
};

use crate::error::PasskeyError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding and with zero trailing bits, the only spelling accepted: one value
/// has one text, so two parties never read different bytes from the same response.
fn decode_b64url(text: &str, max_len: usize, what: &'static str) -> Result<Vec<u8>, PasskeyError> {
    if text.len() > (max_len * 4).div_ceil(3) {
        return Err(PasskeyError::Malformed(format!("{what} is too long")));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| PasskeyError::Malformed(format!("{what} is not base64url without padding")))?;
    if bytes.len() > max_len {
        return Err(PasskeyError::Malformed(format!("{what} is too long")));
    }
    Ok(bytes)
}

fn encode_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
