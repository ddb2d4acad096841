//! The options the page passes to `navigator.credentials.get()` for a challenge the server chose.

use super::encode_b64url;
use crate::credential::StoredPasskey;
use serde_json::{Value, json};
use std::time::Duration;

/// `{"publicKey": PublicKeyCredentialRequestOptionsJSON}` (WebAuthn L3 §5.5, the shape
/// `PublicKeyCredential.parseRequestOptionsFromJSON()` reads): `challenge`, `rpId`, the given
/// credentials in `allowCredentials` (with their enrolment transports, so the browser offers
/// the right authenticator), `userVerification: "required"` and `timeout` in milliseconds.
///
/// Naming the credentials is fine here, unlike at sign-in: the user is already known. With none,
/// the browser offers any passkey for the RP ID, so the caller must still check that the one
/// used is the user's (§7.2 steps 5–6) before [`verify_passkey_assertion`](super::verify_passkey_assertion).
pub fn request_options(
    challenge: &[u8],
    rp_id: &str,
    credentials: &[StoredPasskey],
    timeout: Duration,
) -> Value {
    let allow: Vec<Value> = credentials
        .iter()
        .map(|p| {
            let mut descriptor = serde_json::Map::new();
            descriptor.insert("type".into(), "public-key".into());
            descriptor.insert("id".into(), p.credential_id.clone().into());
            if !p.transports.is_empty() {
                descriptor.insert("transports".into(), json!(p.transports));
            }
            Value::Object(descriptor)
        })
        .collect();
    json!({"publicKey": {
        "challenge": encode_b64url(challenge),
        "rpId": rp_id,
        "allowCredentials": allow,
        "userVerification": "required",
        "timeout": u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
    }})
}
