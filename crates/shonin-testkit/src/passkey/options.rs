//! Reading the options a relying party passes to `navigator.credentials.create()` and `.get()`,
//! in WebAuthn L3's JSON form (`PublicKeyCredentialCreationOptionsJSON`,
//! `PublicKeyCredentialRequestOptionsJSON`, binary members in base64url) wrapped in
//! `{"publicKey": …}` as webauthn-rs serialises `CreationChallengeResponse` and
//! `RequestChallengeResponse`.
//!
//! Only the members this authenticator acts on are read; the rest (timeouts, hints,
//! authenticatorSelection, attestation preference) are ignored, as a platform authenticator that
//! can do everything it is asked would.

use serde_json::Value;

use super::authenticator_data::COSE_ES256;
use super::{Error, base64url};

/// What `register` needs from `{"publicKey": PublicKeyCredentialCreationOptionsJSON}`.
#[derive(Debug)]
pub(super) struct CreationOptions {
    pub(super) rp_id: String,
    pub(super) user_handle: Vec<u8>,
    pub(super) challenge: Vec<u8>,
    pub(super) exclude_credentials: Vec<Vec<u8>>,
    /// The client extension `credProps` (§10.1.3) was asked for.
    pub(super) cred_props: bool,
}

/// What `authenticate` needs from `{"publicKey": PublicKeyCredentialRequestOptionsJSON}`.
#[derive(Debug)]
pub(super) struct RequestOptions {
    pub(super) rp_id: String,
    pub(super) challenge: Vec<u8>,
    pub(super) allow_credentials: Vec<Vec<u8>>,
}

impl CreationOptions {
    pub(super) fn parse(options: &Value, origin: &str) -> Result<Self, Error> {
        let rp_id = match string(options, "/publicKey/rp/id")? {
            Some(id) => id.to_owned(),
            None => rp_id_from_origin(origin)?,
        };
        let user_handle = binary(options, "/publicKey/user/id")?;
        if !(1..=64).contains(&user_handle.len()) {
            return Err(Error::UserHandleLength(user_handle.len()));
        }
        let challenge = binary(options, "/publicKey/challenge")?;
        if !offers_es256(options)? {
            return Err(Error::NoSupportedAlgorithm);
        }
        Ok(Self {
            rp_id,
            user_handle,
            challenge,
            exclude_credentials: descriptor_ids(
                options,
                "/publicKey/excludeCredentials",
                "/publicKey/excludeCredentials/*/id",
            )?,
            cred_props: present(options, "/publicKey/extensions/credProps")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

impl RequestOptions {
    pub(super) fn parse(options: &Value, origin: &str) -> Result<Self, Error> {
        let rp_id = match string(options, "/publicKey/rpId")? {
            Some(id) => id.to_owned(),
            None => rp_id_from_origin(origin)?,
        };
        Ok(Self {
            rp_id,
            challenge: binary(options, "/publicKey/challenge")?,
            allow_credentials: descriptor_ids(
                options,
                "/publicKey/allowCredentials",
                "/publicKey/allowCredentials/*/id",
            )?,
        })
    }
}

/// A member that is there and not `null` (serde leaves `None` options out, others write null).
fn present<'a>(options: &'a Value, pointer: &str) -> Option<&'a Value> {
    options.pointer(pointer).filter(|value| !value.is_null())
}

fn string<'a>(options: &'a Value, pointer: &'static str) -> Result<Option<&'a str>, Error> {
    present(options, pointer)
        .map(|value| value.as_str().ok_or(Error::MissingField(pointer)))
        .transpose()
}

fn binary(options: &Value, pointer: &'static str) -> Result<Vec<u8>, Error> {
    let text = string(options, pointer)?.ok_or(Error::MissingField(pointer))?;
    base64url::decode(text).ok_or(Error::InvalidBase64(pointer))
}

/// The IDs of the `public-key` descriptors in a `PublicKeyCredentialDescriptorJSON` list; an
/// absent list is an empty one. Descriptors of other types are skipped, as browsers do.
fn descriptor_ids(
    options: &Value,
    list: &'static str,
    id_member: &'static str,
) -> Result<Vec<Vec<u8>>, Error> {
    let Some(descriptors) = present(options, list) else {
        return Ok(Vec::new());
    };
    let mut ids = Vec::new();
    for descriptor in descriptors.as_array().ok_or(Error::MissingField(list))? {
        if descriptor.get("type").and_then(Value::as_str) != Some("public-key") {
            continue;
        }
        let id = descriptor
            .get("id")
            .and_then(Value::as_str)
            .ok_or(Error::MissingField(id_member))?;
        ids.push(base64url::decode(id).ok_or(Error::InvalidBase64(id_member))?);
    }
    Ok(ids)
}

/// WebAuthn L3 §5.1.3: an empty `pubKeyCredParams` means the client's defaults (ES256 and
/// RS256); otherwise ES256 must be among the `public-key` entries.
fn offers_es256(options: &Value) -> Result<bool, Error> {
    const POINTER: &str = "/publicKey/pubKeyCredParams";
    let params = present(options, POINTER)
        .and_then(Value::as_array)
        .ok_or(Error::MissingField(POINTER))?;
    Ok(params.is_empty()
        || params.iter().any(|param| {
            param.get("type").and_then(Value::as_str) == Some("public-key")
                && param.get("alg").and_then(Value::as_i64) == Some(COSE_ES256)
        }))
}

/// Browsers default the RP ID to the origin's effective domain (§5.1.3, §5.1.4.1).
fn rp_id_from_origin(origin: &str) -> Result<String, Error> {
    url::Url::parse(origin)
        .ok()
        .and_then(|url| url.domain().map(str::to_owned))
        .ok_or_else(|| Error::NoRpId(origin.to_owned()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn creation() -> Value {
        json!({"publicKey": {
            "rp": {"id": "example.com", "name": "Example"},
            "user": {"id": "AQID", "name": "alice", "displayName": "Alice"},
            "challenge": "AAECAw",
            "pubKeyCredParams": [{"type": "public-key", "alg": -257}, {"type": "public-key", "alg": -7}],
            "excludeCredentials": [{"type": "public-key", "id": "BAUG"}],
            "extensions": {"credProps": true}
        }})
    }

    #[test]
    fn creation_options_are_read_from_webauthn_json() {
        let parsed = CreationOptions::parse(&creation(), "https://example.com").unwrap();
        assert_eq!(parsed.rp_id, "example.com");
        assert_eq!(parsed.user_handle, [1, 2, 3]);
        assert_eq!(parsed.challenge, [0, 1, 2, 3]);
        assert_eq!(parsed.exclude_credentials, [vec![4, 5, 6]]);
        assert!(parsed.cred_props);
    }

    #[test]
    fn padded_base64url_is_accepted_like_a_browser_would() {
        let mut options = creation();
        options["publicKey"]["challenge"] = json!("AAECAw==");
        let parsed = CreationOptions::parse(&options, "https://example.com").unwrap();
        assert_eq!(parsed.challenge, [0, 1, 2, 3]);
    }

    #[test]
    fn creation_without_es256_is_not_supported() {
        let mut options = creation();
        options["publicKey"]["pubKeyCredParams"] = json!([{"type": "public-key", "alg": -257}]);
        assert!(matches!(
            CreationOptions::parse(&options, "https://example.com"),
            Err(Error::NoSupportedAlgorithm)
        ));
        options["publicKey"]["pubKeyCredParams"] = json!([]);
        assert!(CreationOptions::parse(&options, "https://example.com").is_ok());
    }

    #[test]
    fn empty_or_oversized_user_handles_are_refused() {
        let mut options = creation();
        options["publicKey"]["user"]["id"] = json!("");
        assert!(matches!(
            CreationOptions::parse(&options, "https://example.com"),
            Err(Error::UserHandleLength(0))
        ));
        options["publicKey"]["user"]["id"] = json!(base64url::encode(&[7; 65]));
        assert!(matches!(
            CreationOptions::parse(&options, "https://example.com"),
            Err(Error::UserHandleLength(65))
        ));
    }

    #[test]
    fn missing_or_malformed_members_name_their_pointer() {
        let mut options = creation();
        options["publicKey"]["challenge"] = json!(12);
        assert!(matches!(
            CreationOptions::parse(&options, "https://example.com"),
            Err(Error::MissingField("/publicKey/challenge"))
        ));
        options["publicKey"]["challenge"] = json!("not base64!");
        assert!(matches!(
            CreationOptions::parse(&options, "https://example.com"),
            Err(Error::InvalidBase64("/publicKey/challenge"))
        ));
    }

    #[test]
    fn request_rp_id_defaults_to_the_origins_domain() {
        let options = json!({"publicKey": {"challenge": "AAEC", "userVerification": "required"}});
        let parsed = RequestOptions::parse(&options, "https://login.example.com:8443").unwrap();
        assert_eq!(parsed.rp_id, "login.example.com");
        assert!(parsed.allow_credentials.is_empty());
        assert!(matches!(
            RequestOptions::parse(&options, "not a url"),
            Err(Error::NoRpId(_))
        ));
    }
}
