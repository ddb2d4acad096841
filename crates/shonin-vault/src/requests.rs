//! The small request bodies of client-side tokenization, read strictly: at most 1 KiB, a JSON
//! object with unique member names and exactly the one member named. The error is the rule
//! broken.

use crate::WebOrigin;
use serde::Deserialize;

/// The largest of these bodies.
pub const MAX_BYTES: usize = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginBody {
    origin: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NonceBody {
    nonce: String,
}

fn object<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    shape: &'static str,
) -> Result<T, &'static str> {
    if bytes.len() > MAX_BYTES {
        return Err("at most 1 KiB");
    }
    let v = shonin_types::json::from_slice(bytes)
        .ok()
        // serde reads a struct from an array too; only an object is taken.
        .filter(serde_json::Value::is_object)
        .ok_or("a JSON object with unique member names")?;
    serde_json::from_value(v).map_err(|_| shape)
}

/// `POST /vault/client-tokens`: `{"origin": "https://shop.example"}`.
pub fn origin_from_json(bytes: &[u8]) -> Result<WebOrigin, &'static str> {
    let body: OriginBody = object(bytes, "{origin} and nothing else")?;
    WebOrigin::parse(&body.origin)
}

/// `POST /vault/nonces/exchange`: `{"nonce": "nonce_…"}`. The nonce's form is checked by the
/// exchange (an ill-formed one is as unknown as a used one).
pub fn nonce_from_json(bytes: &[u8]) -> Result<String, &'static str> {
    let body: NonceBody = object(bytes, "{nonce} and nothing else")?;
    Ok(body.nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_strictly() {
        assert_eq!(
            origin_from_json(br#"{"origin":"https://shop.example"}"#)
                .unwrap()
                .as_str(),
            "https://shop.example"
        );
        assert_eq!(
            nonce_from_json(br#"{"nonce":"nonce_x"}"#).unwrap(),
            "nonce_x"
        );
        for bad in [
            &b""[..],
            b"[]",
            br#"{"origin":"https://shop.example","x":1}"#,
            br#"{"origin":"https://a.example","origin":"https://b.example"}"#,
            br#"{"origin":"https://shop.example/pay"}"#,
            br#"{"origin":1}"#,
            br#"["https://shop.example"]"#,
        ] {
            assert!(origin_from_json(bad).is_err());
        }
        assert!(nonce_from_json(br#"{"nonce":"a","nonce":"b"}"#).is_err());
        assert!(nonce_from_json(br#"["nonce_x"]"#).is_err());
        let big = format!(r#"{{"nonce":"{}"}}"#, "a".repeat(1100));
        assert_eq!(nonce_from_json(big.as_bytes()), Err("at most 1 KiB"));
    }
}
