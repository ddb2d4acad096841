//! `clientDataJSON`, the part of a response the browser writes (WebAuthn L3 §5.8.1).

use serde::Serialize;

use super::{Error, base64url};

/// Which ceremony the client data belongs to, i.e. its `type` member.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ceremony {
    Create,
    Get,
}

// Field order is the serialisation order: §5.8.1.1 fixes type, challenge, origin, crossOrigin as
// the prefix a browser writes, and serde writes struct fields in declaration order.
#[derive(Serialize)]
struct CollectedClientData<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    challenge: &'a str,
    origin: &'a str,
    #[serde(rename = "crossOrigin")]
    cross_origin: bool,
}

/// The compact JSON a top-level browsing context (never cross-origin) produces. The challenge is
/// re-encoded from its bytes, as a browser does after decoding the options.
pub(super) fn client_data_json(
    ceremony: Ceremony,
    challenge: &[u8],
    origin: &str,
) -> Result<Vec<u8>, Error> {
    let challenge = base64url::encode(challenge);
    let data = CollectedClientData {
        type_: match ceremony {
            Ceremony::Create => "webauthn.create",
            Ceremony::Get => "webauthn.get",
        },
        challenge: &challenge,
        origin,
        cross_origin: false,
    };
    Ok(serde_json::to_vec(&data)?)
}

#[cfg(test)]
mod tests {
    use super::{Ceremony, client_data_json};

    #[test]
    fn client_data_is_compact_and_in_the_browsers_key_order() {
        let json =
            client_data_json(Ceremony::Get, &[0xfb, 0xff], "https://localhost:8443").unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"type":"webauthn.get","challenge":"-_8","origin":"https://localhost:8443","crossOrigin":false}"#
        );
    }
}
