//! The browser's answer to `navigator.credentials.get()`: an `AuthenticationResponseJSON`
//! (WebAuthn L3 §5.1, what `PublicKeyCredential.toJSON()` returns), decoded with every binary
//! member bounded.

use super::{decode_b64url, encode_b64url};
use crate::error::PasskeyError;
use serde_json::{Map, Value};

/// The longest credential id (WebAuthn L3 §4 "Credential ID": at most 1023 bytes).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;
/// The longest `clientDataJSON` accepted; browsers write a few hundred bytes, SPC a little more.
pub const MAX_CLIENT_DATA_JSON_LEN: usize = 4096;
/// The longest authenticator data accepted: 37 bytes plus extension outputs.
pub const MAX_AUTHENTICATOR_DATA_LEN: usize = 1024;
/// The longest signature accepted: an RSA-8192 signature is exactly this long.
pub const MAX_SIGNATURE_LEN: usize = 1024;
/// The longest user handle (WebAuthn L3 §5.4.3 `user.id`: 1 to 64 bytes).
pub const MAX_USER_HANDLE_LEN: usize = 64;

/// An `AuthenticationResponseJSON`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionResponse {
    pub credential_id: Vec<u8>,
    pub authenticator_data: Vec<u8>,
    pub client_data_json: Vec<u8>,
    pub signature: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
}

impl AssertionResponse {
    /// Decodes the browser's JSON. Strict where a lax reading could make two readers disagree:
    /// `type` is `public-key`, `id` equals `rawId`, binary members are base64url without padding
    /// and within the limits above. Members it does not use (`authenticatorAttachment`,
    /// `clientExtensionResults`…) are ignored; a `userHandle` of `null` counts as absent.
    pub fn from_json(v: &Value) -> Result<Self, PasskeyError> {
        let bad = |why: &str| PasskeyError::Malformed(format!("assertion: {why}"));
        let outer = v.as_object().ok_or_else(|| bad("not an object"))?;
        if text(outer, "type")? != "public-key" {
            return Err(bad("type is not public-key"));
        }
        let id = text(outer, "id")?;
        if text(outer, "rawId")? != id {
            return Err(bad("id and rawId differ"));
        }
        let credential_id = decode_b64url(id, MAX_CREDENTIAL_ID_LEN, "id")?;
        if credential_id.is_empty() {
            return Err(bad("id is empty"));
        }
        let response = outer
            .get("response")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("response is missing or not an object"))?;
        let user_handle = match response.get("userHandle") {
            None | Some(Value::Null) => None,
            Some(Value::String(h)) => {
                let handle = decode_b64url(h, MAX_USER_HANDLE_LEN, "userHandle")?;
                if handle.is_empty() {
                    return Err(bad("userHandle is empty"));
                }
                Some(handle)
            }
            Some(_) => return Err(bad("userHandle is not a string")),
        };
        Ok(Self {
            credential_id,
            authenticator_data: decode_b64url(
                text(response, "authenticatorData")?,
                MAX_AUTHENTICATOR_DATA_LEN,
                "authenticatorData",
            )?,
            client_data_json: decode_b64url(
                text(response, "clientDataJSON")?,
                MAX_CLIENT_DATA_JSON_LEN,
                "clientDataJSON",
            )?,
            signature: decode_b64url(text(response, "signature")?, MAX_SIGNATURE_LEN, "signature")?,
            user_handle,
        })
    }

    /// The credential id as stored in [`StoredPasskey::credential_id`](crate::StoredPasskey):
    /// base64url without padding.
    pub fn credential_id_b64(&self) -> String {
        encode_b64url(&self.credential_id)
    }
}

/// A string member; its absence or another JSON type is malformed.
fn text<'a>(members: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, PasskeyError> {
    members.get(name).and_then(Value::as_str).ok_or_else(|| {
        PasskeyError::Malformed(format!("assertion: {name} is missing or not a string"))
    })
}
