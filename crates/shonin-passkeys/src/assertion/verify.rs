//! WebAuthn L3 §7.2 "Verifying an Authentication Assertion", the steps that apply when the
//! relying party chose the challenge and already knows the credential (steps 1–6 are the
//! caller's: it sent the options and looked the credential up).

use super::encode_b64url;
use super::key::CredentialPublicKey;
use super::response::{AssertionResponse, MAX_CLIENT_DATA_JSON_LEN};
use crate::aaguid::Reader;
use crate::credential::StoredPasskey;
use crate::error::PasskeyError;
use aws_lc_rs::digest::{SHA256, digest};
use serde_json::Value;
use shonin_types::json::JsonError;

/// Nesting deeper than this in `clientDataJSON` is refused; SPC's `payment` member nests three.
const MAX_CLIENT_DATA_DEPTH: usize = 8;

/// §6.1 authenticator data flags.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;
const ED: u8 = 0x80;
/// rpIdHash (32) ‖ flags (1) ‖ signCount (4).
const AUTHENTICATOR_DATA_MIN_LEN: usize = 37;

/// What the relying party expects of the assertion.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The challenge the server chose (for transaction signing, a hash of the payment data).
    pub challenge: &'a [u8],
    /// The serialized origin of the page, e.g. `https://localhost:8443`; compared exactly.
    pub origin: &'a str,
    pub rp_id: &'a str,
    /// `webauthn.get`; `payment.get` for Secure Payment Confirmation.
    pub client_data_type: &'a str,
    /// Whether the page asking may be framed by another origin.
    pub framing: Framing,
}

/// Where the page that asks for the assertion may run (WebAuthn L3 §7.2 steps 13–14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Top-level or same-origin frames only: `crossOrigin` absent or false, no `topOrigin`.
    /// Shonin's own pages are never framed by another origin.
    SameOrigin,
    /// Also inside a cross-origin iframe of any `https` page: the EMV 3-D Secure challenge,
    /// framed by whichever merchant's checkout. A cross-origin assertion must name its
    /// `topOrigin`, and that must be an `https` origin.
    AnyHttpsTop,
}

/// A verified assertion: what the caller records and what it may still need to read.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAssertion {
    /// The authenticator's counter; store it (forward only) as the credential's new count.
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backup_state: bool,
    /// `clientDataJSON` as parsed (for SPC, its `payment` member).
    pub client_data: Value,
}

/// Checks an assertion for a challenge the relying party chose (WebAuthn L3 §7.2 steps 7–22):
/// client data type, challenge and origin, no cross-origin frame, RP ID hash, user presence
/// and verification (always required), backup flags, the signature and the counter.
///
/// The caller has already checked that `resp.credential_id` is the credential it asked for
/// (steps 5–6) and found `key` and `stored_sign_count` from it; [`verify_passkey_assertion`]
/// does that for a [`StoredPasskey`]. A counter that did not increase is
/// [`PasskeyError::SignCountNotIncreased`]; [`PasskeyError::for_passkey`] names the credential.
pub fn verify_assertion(
    resp: &AssertionResponse,
    key: &CredentialPublicKey,
    expected: &Expected<'_>,
    stored_sign_count: u32,
) -> Result<VerifiedAssertion, PasskeyError> {
    // Step 7.
    let auth = AuthenticatorData::parse(&resp.authenticator_data)?;
    // Steps 8–9.
    let client_data = parse_client_data(&resp.client_data_json)?;
    let member = |name: &'static str| {
        client_data
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                PasskeyError::Malformed(format!(
                    "clientDataJSON: {name} is missing or not a string"
                ))
            })
    };
    // Step 10.
    if member("type")? != expected.client_data_type {
        return Err(PasskeyError::TypeMismatch);
    }
    // Step 11: the exact unpadded base64url text, so no other spelling of the bytes passes.
    if member("challenge")? != encode_b64url(expected.challenge) {
        return Err(PasskeyError::ChallengeMismatch);
    }
    // Step 12.
    if member("origin")? != expected.origin {
        return Err(PasskeyError::OriginMismatch);
    }
    // Steps 13–14.
    let cross_origin = match client_data.get("crossOrigin") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(PasskeyError::CrossOrigin),
    };
    let top_origin = client_data.get("topOrigin");
    match expected.framing {
        Framing::SameOrigin if cross_origin || top_origin.is_some() => {
            return Err(PasskeyError::CrossOrigin);
        }
        Framing::SameOrigin => {}
        Framing::AnyHttpsTop => {
            let https_top = top_origin
                .and_then(Value::as_str)
                .is_some_and(|o| o.starts_with("https://") && o.len() > "https://".len());
            if (cross_origin || top_origin.is_some()) && !(cross_origin && https_top) {
                return Err(PasskeyError::CrossOrigin);
            }
        }
    }
    // Step 15.
    if auth.rp_id_hash != digest(&SHA256, expected.rp_id.as_bytes()).as_ref() {
        return Err(PasskeyError::RpIdMismatch);
    }
    // Step 16.
    if auth.flags & UP == 0 {
        return Err(PasskeyError::UserNotPresent);
    }
    // Step 17: user verification is always required.
    if auth.flags & UV == 0 {
        return Err(PasskeyError::UserNotVerified);
    }
    // Step 18.
    let backup_eligible = auth.flags & BE != 0;
    let backup_state = auth.flags & BS != 0;
    if backup_state && !backup_eligible {
        return Err(PasskeyError::BackupStateWithoutEligibility);
    }
    // Steps 20–21.
    let mut signed = Vec::with_capacity(resp.authenticator_data.len() + 32);
    signed.extend_from_slice(&resp.authenticator_data);
    signed.extend_from_slice(digest(&SHA256, &resp.client_data_json).as_ref());
    key.verify(&signed, &resp.signature)?;
    // Step 22: a counter of 0 on both sides is an authenticator without one (synced passkeys).
    if (auth.sign_count != 0 || stored_sign_count != 0) && auth.sign_count <= stored_sign_count {
        return Err(PasskeyError::SignCountNotIncreased {
            stored: stored_sign_count,
            received: auth.sign_count,
        });
    }
    Ok(VerifiedAssertion {
        sign_count: auth.sign_count,
        backup_eligible,
        backup_state,
        client_data,
    })
}

/// [`verify_assertion`] against a stored passkey: the response must name this credential
/// (§7.2 step 6, else [`PasskeyError::UnknownCredential`]), a user handle, when present, must be
/// its owner's (else [`PasskeyError::UserHandleMismatch`]), BE must not have changed since
/// enrolment (step 19), and a counter regression names the credential and its owner.
pub fn verify_passkey_assertion(
    resp: &AssertionResponse,
    passkey: &StoredPasskey,
    expected: &Expected<'_>,
) -> Result<VerifiedAssertion, PasskeyError> {
    if resp.credential_id_b64() != passkey.credential_id {
        return Err(PasskeyError::UnknownCredential);
    }
    if let Some(handle) = &resp.user_handle {
        let owner = uuid::Uuid::parse_str(&passkey.user_id).ok();
        if owner.map(|u| u.into_bytes().to_vec()).as_ref() != Some(handle) {
            return Err(PasskeyError::UserHandleMismatch {
                user_id: passkey.user_id.clone(),
            });
        }
    }
    let key = CredentialPublicKey::of_passkey(passkey)?;
    let verified = verify_assertion(resp, &key, expected, passkey.sign_count)
        .map_err(|e| e.for_passkey(passkey))?;
    if verified.backup_eligible != passkey.backup_eligible {
        return Err(PasskeyError::BackupEligibilityChanged);
    }
    Ok(verified)
}

/// The parts of §6.1 authenticator data an assertion uses.
struct AuthenticatorData<'a> {
    rp_id_hash: &'a [u8],
    flags: u8,
    sign_count: u32,
}

impl<'a> AuthenticatorData<'a> {
    /// rpIdHash ‖ flags ‖ signCount, then nothing but the extension outputs ED announces: an
    /// assertion carries no attested credential data (AT), and trailing bytes are refused.
    fn parse(bytes: &'a [u8]) -> Result<Self, PasskeyError> {
        let bad = |why: &str| PasskeyError::Malformed(format!("authenticatorData: {why}"));
        let (head, extensions) = bytes
            .split_at_checked(AUTHENTICATOR_DATA_MIN_LEN)
            .ok_or_else(|| bad("shorter than 37 bytes"))?;
        let (rp_id_hash, rest) = head
            .split_at_checked(32)
            .ok_or_else(|| bad("shorter than 37 bytes"))?;
        let (&flags, count) = rest
            .split_first()
            .ok_or_else(|| bad("shorter than 37 bytes"))?;
        let sign_count = <[u8; 4]>::try_from(count)
            .map(u32::from_be_bytes)
            .map_err(|_| bad("shorter than 37 bytes"))?;
        if flags & AT != 0 {
            return Err(bad("attested credential data in an assertion"));
        }
        match (flags & ED != 0, extensions.is_empty()) {
            (false, true) => {}
            (false, false) => return Err(bad("bytes after the signature counter")),
            (true, _) if is_one_cbor_map(extensions) => {}
            (true, _) => return Err(bad("extension outputs are not exactly one CBOR map")),
        }
        Ok(Self {
            rp_id_hash,
            flags,
            sign_count,
        })
    }
}

/// §6.1: with ED, the rest of the authenticator data is one CBOR map of extension outputs.
/// Shonin asks for none, so their content is ignored; only the shape is checked (bounded).
fn is_one_cbor_map(bytes: &[u8]) -> bool {
    let mut r = Reader::new(bytes);
    let entries = match r.head() {
        Ok((5, entries)) => entries,
        _ => return false,
    };
    (0..entries).all(|_| r.skip(1).is_ok() && r.skip(1).is_ok()) && r.position() == bytes.len()
}

/// §7.2 steps 8–9: UTF-8 JSON (no byte-order mark: browsers write none), an object, bounded in
/// size and depth, member names unique (a second `challenge` must not hide the first).
fn parse_client_data(bytes: &[u8]) -> Result<Value, PasskeyError> {
    let bad = |why: &str| PasskeyError::Malformed(format!("clientDataJSON: {why}"));
    if bytes.len() > MAX_CLIENT_DATA_JSON_LEN {
        return Err(bad("too long"));
    }
    if shonin_jose::json_depth_exceeds(bytes, MAX_CLIENT_DATA_DEPTH) {
        return Err(bad("nested too deeply"));
    }
    let value = shonin_types::json::from_slice(bytes).map_err(|e| match e {
        JsonError::DuplicateName(_) => bad("a member name is repeated"),
        JsonError::Syntax(_) => bad("not JSON"),
    })?;
    if !value.is_object() {
        return Err(bad("not an object"));
    }
    Ok(value)
}
