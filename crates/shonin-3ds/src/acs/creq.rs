//! The browser challenge's form fields (EMV 3DS browser flow): the requestor's page posts `creq`,
//! the CReq JSON as base64url without padding (padding is accepted anyway), and
//! `threeDSSessionData`, an opaque base64url value the ACS echoes with the final CRes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{CReq, ErrorCode, Message, Refused, Rejection, Versions, check};

/// The longest `creq` field read: a browser CReq is five elements (well under 1 KiB) plus
/// whatever extensions a requestor adds.
pub const MAX_CREQ_FIELD: usize = 16 * 1024;
/// `threeDSSessionData`: at most 1024 characters (EMV 3DS 2.2.0 Table A.3).
pub const MAX_SESSION_DATA: usize = 1024;

fn base64url(value: &str) -> Option<Vec<u8>> {
    let trimmed = value.trim_end_matches('=');
    // At most two padding characters, and only where padding goes.
    if value.len() - trimmed.len() > 2 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(trimmed).ok()
}

/// Reads the `creq` field: base64url, then the CReq's own checks against `versions`. A field
/// that is not base64url, or holds another message type, is Erro 101 (nothing identifies a
/// transaction in it); the CReq's element errors are its own codes (201, 203, …).
pub fn read(field: &str, versions: Versions) -> Result<CReq, Box<Refused>> {
    match read_field(field, "creq", versions)? {
        Message::CReq(creq) => Ok(creq),
        other => Err(not_a(&other, "the creq field must hold a CReq")),
    }
}

/// Reads a form field that carries a message as base64url JSON (`creq`, `cres`, `erro`; padding
/// tolerated) and checks the message against `versions`. Not base64url, or longer than
/// [`MAX_CREQ_FIELD`], is Erro 101 naming `name`.
pub fn read_field(field: &str, name: &str, versions: Versions) -> Result<Message, Box<Refused>> {
    let invalid = |detail: String| {
        Box::new(Refused {
            rejection: Rejection::element(ErrorCode::MessageReceivedInvalid, name, detail),
            identified: Default::default(),
        })
    };
    if field.len() > MAX_CREQ_FIELD {
        return Err(invalid(format!("the {name} field is too long")));
    }
    let bytes =
        base64url(field.trim()).ok_or_else(|| invalid(format!("{name} is not base64url")))?;
    check(&bytes, versions)
}

/// The Erro 101 for a field that holds `other` instead of the message it should.
pub fn not_a(other: &Message, detail: &str) -> Box<Refused> {
    Box::new(Refused {
        rejection: Rejection::element(ErrorCode::MessageReceivedInvalid, "messageType", detail),
        identified: crate::Identified {
            message_type: Some(other.message_type()),
            message_version: Some(other.message_version()),
            ..Default::default()
        },
    })
}

/// Checks `threeDSSessionData`: absent or empty is none; otherwise base64url characters (padding
/// allowed), at most [`MAX_SESSION_DATA`].
pub fn session_data(field: Option<&str>) -> Result<Option<String>, Rejection> {
    let Some(value) = field.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let valid = value.len() <= MAX_SESSION_DATA
        && value
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && value.len() - value.trim_end_matches('=').len() <= 2;
    if !valid {
        return Err(Rejection::element(
            ErrorCode::InvalidFormat,
            "threeDSSessionData",
            "threeDSSessionData must be base64url, at most 1024 characters",
        ));
    }
    Ok(Some(value.to_owned()))
}

/// The base64url (no padding) form field of a message: the final CRes's `cres`, or `erro`.
pub fn encode(message: &impl serde::Serialize) -> String {
    // The messages are plain strings and maps: serialising cannot fail.
    let json = serde_json::to_vec(message).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREQ: &str = r#"{"threeDSServerTransID":"8a880dc0-d2d2-4067-bcb1-b08d1690b26e","acsTransID":"d7c1ee99-9478-44a6-b1f2-391e29c6b340","messageType":"CReq","messageVersion":"2.2.0","challengeWindowSize":"05"}"#;

    #[test]
    fn a_creq_reads_with_and_without_padding() {
        let plain = URL_SAFE_NO_PAD.encode(CREQ);
        let creq = read(&plain, Versions::ALL).unwrap();
        assert_eq!(creq.acs_trans_id, "d7c1ee99-9478-44a6-b1f2-391e29c6b340");
        let padded = base64::engine::general_purpose::URL_SAFE.encode(CREQ);
        assert!(padded.ends_with('='), "the sample needs padding");
        assert_eq!(read(&padded, Versions::ALL).unwrap(), creq);
        let encoded = encode(&creq);
        assert!(!encoded.contains('='), "no padding");
        assert_eq!(read(&encoded, Versions::ALL).unwrap(), creq);
    }

    #[test]
    fn what_is_not_a_creq_is_refused_with_its_code() {
        let code = |field: &str| read(field, Versions::ALL).unwrap_err().rejection.code;
        assert_eq!(code("not base64!"), ErrorCode::MessageReceivedInvalid);
        assert_eq!(
            code(&"A".repeat(MAX_CREQ_FIELD + 1)),
            ErrorCode::MessageReceivedInvalid
        );
        assert_eq!(
            code(&URL_SAFE_NO_PAD.encode(CREQ.replace("\"05\"", "\"09\""))),
            ErrorCode::InvalidFormat
        );
        assert_eq!(
            code(&URL_SAFE_NO_PAD.encode(CREQ.replace(
                r#""acsTransID":"d7c1ee99-9478-44a6-b1f2-391e29c6b340","#,
                ""
            ))),
            ErrorCode::RequiredElementMissing
        );
        let rres = r#"{"messageType":"RRes","messageVersion":"2.2.0","resultsStatus":"01","threeDSServerTransID":"bc9f0b90-1041-47f0-94df-d692170ea0d7","dsTransID":"6a00d179-bcdd-4eb4-a7e9-40eb30023b05","acsTransID":"f888079d-dae8-4a18-81b0-be6e77355e71"}"#;
        let refused = read(&URL_SAFE_NO_PAD.encode(rres), Versions::ALL).unwrap_err();
        assert_eq!(refused.rejection.code, ErrorCode::MessageReceivedInvalid);
        assert_eq!(refused.rejection.element.as_deref(), Some("messageType"));
    }

    #[test]
    fn session_data_is_base64url_and_bounded() {
        assert_eq!(session_data(None).unwrap(), None);
        assert_eq!(session_data(Some("")).unwrap(), None);
        assert_eq!(
            session_data(Some("c2Vzc2lvbi0x")).unwrap().as_deref(),
            Some("c2Vzc2lvbi0x")
        );
        assert!(session_data(Some("YQ==")).is_ok());
        for bad in ["a b", "<script>", "a+/b", "YQ===", &"a".repeat(1025)] {
            assert_eq!(
                session_data(Some(bad)).unwrap_err().code,
                ErrorCode::InvalidFormat,
                "{bad}"
            );
        }
    }
}
