//! The JWS compact serialisation (RFC 7515 §7.1): assembling our own signatures and strictly
//! splitting and decoding received ones.

use crate::b64::{b64url_encode, decode_labelled};
use crate::{Alg, JoseError};
use serde_json::{Map, Value};

/// The longest compact JWS accepted, in bytes. Request objects, client assertions and DPoP proofs
/// are far smaller; the cap bounds the work an unauthenticated caller can cause.
pub const MAX_JWS_LEN: usize = 16 * 1024;

/// The deepest JSON nesting accepted in a header or payload. Legitimate JOSE objects (including
/// `authorization_details`) stay well below it; serde_json's own limit (128) is a stack guard, not
/// a policy.
pub const MAX_JSON_DEPTH: usize = 16;

/// A decoded, policy-checked protected header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub alg: Alg,
    pub kid: Option<String>,
    pub typ: Option<String>,
    /// An embedded public key (DPoP, RFC 9449 §4.2); never used to pick a key for [`crate::verify_jwt`].
    pub jwk: Option<Value>,
    /// The whole header object, for parameters this struct does not name.
    pub raw: Map<String, Value>,
}

/// The three segments of a compact JWS, split but not yet trusted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'a> {
    /// `header.payload`, exactly as received: the bytes the signature covers (RFC 7515 §5.2).
    pub signing_input: &'a str,
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
}

/// Splits `token` into three segments after checking its length.
pub(crate) fn split(token: &str) -> Result<Parts<'_>, JoseError> {
    if token.len() > MAX_JWS_LEN {
        return Err(JoseError::TooLarge { max: MAX_JWS_LEN });
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(JoseError::Malformed(
        "expected three dot-separated segments",
    ))?;
    let (header, payload) = signing_input.split_once('.').ok_or(JoseError::Malformed(
        "expected three dot-separated segments",
    ))?;
    if payload.contains('.') {
        return Err(JoseError::Malformed(
            "expected three dot-separated segments",
        ));
    }
    if header.is_empty() {
        return Err(JoseError::Malformed("empty header segment"));
    }
    if signature.is_empty() {
        // An empty signature is what alg "none" produces (RFC 7518 §3.6).
        return Err(JoseError::Malformed("empty signature segment"));
    }
    Ok(Parts {
        signing_input,
        header,
        payload,
        signature,
    })
}

/// Decodes one base64url segment into a JSON object, enforcing the depth limit before parsing.
pub(crate) fn decode_object(
    segment: &str,
    what: &'static str,
) -> Result<Map<String, Value>, JoseError> {
    let bytes = decode_labelled(segment, what)?;
    if json_depth_exceeds(&bytes, MAX_JSON_DEPTH) {
        return Err(JoseError::TooDeep(what));
    }
    // RFC 7515 §5.2: a JWS with duplicate header names may be rejected; we reject duplicates
    // in the header and the claims alike.
    match shonin_types::json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(JoseError::NotAnObject(what)),
        Err(shonin_types::json::JsonError::DuplicateName(_)) => Err(JoseError::DuplicateName(what)),
        Err(shonin_types::json::JsonError::Syntax(_)) => Err(JoseError::Json(what)),
    }
}

/// True if `json` opens more than `max` nested arrays/objects. Brackets inside strings do not
/// count; anything that is not JSON is left for the parser to reject. Runs before parsing, so a
/// deeply nested input costs one linear scan and no allocation.
pub fn json_depth_exceeds(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Decodes and checks the protected header of a compact JWS without verifying anything else.
///
/// Strict: at most [`MAX_JWS_LEN`] bytes, exactly three segments, a non-empty header that is a
/// JSON object no deeper than [`MAX_JSON_DEPTH`], an `alg` inside the policy, no `crit`, and
/// `kid`/`typ` strings and `jwk` an object when present.
pub fn decode_header(token: &str) -> Result<Header, JoseError> {
    let parts = split(token)?;
    header_from_segment(parts.header)
}

pub(crate) fn header_from_segment(segment: &str) -> Result<Header, JoseError> {
    let raw = decode_object(segment, "header")?;
    let alg = match raw.get("alg") {
        None => return Err(JoseError::MissingHeader("alg")),
        Some(Value::String(s)) => s.parse::<Alg>()?,
        Some(_) => return Err(JoseError::InvalidHeader("alg")),
    };
    // RFC 7515 §4.1.11: a recipient that does not understand a listed extension must reject.
    if raw.contains_key("crit") {
        return Err(JoseError::UnsupportedCrit);
    }
    let kid = optional_string(&raw, "kid")?;
    let typ = optional_string(&raw, "typ")?;
    let jwk = match raw.get("jwk") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => return Err(JoseError::InvalidHeader("jwk")),
    };
    Ok(Header {
        alg,
        kid,
        typ,
        jwk,
        raw,
    })
}

fn optional_string(
    raw: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, JoseError> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JoseError::InvalidHeader(name)),
    }
}

/// `BASE64URL(header) || '.' || BASE64URL(claims)` (RFC 7515 §5.1 steps 1–6), the bytes a signer
/// signs. Both must be JSON objects and the header's `alg` must be inside the policy, so we never
/// produce a token we would refuse ourselves.
pub fn signing_input(header: &Value, claims: &Value) -> Result<String, JoseError> {
    let Value::Object(h) = header else {
        return Err(JoseError::NotAnObject("header"));
    };
    match h.get("alg") {
        None => return Err(JoseError::MissingHeader("alg")),
        Some(Value::String(s)) => {
            s.parse::<Alg>()?;
        }
        Some(_) => return Err(JoseError::InvalidHeader("alg")),
    }
    if !claims.is_object() {
        return Err(JoseError::NotAnObject("claims"));
    }
    // Serialising a `Value` cannot fail (all keys are strings), but stay total.
    let h = serde_json::to_vec(header).map_err(|_| JoseError::Json("header"))?;
    let c = serde_json::to_vec(claims).map_err(|_| JoseError::Json("claims"))?;
    let mut out = b64url_encode(&h);
    out.push('.');
    out.push_str(&b64url_encode(&c));
    Ok(out)
}

/// Appends the signature: `signing_input || '.' || BASE64URL(signature)` (RFC 7515 §7.1).
pub fn assemble(signing_input: &str, signature: &[u8]) -> String {
    let mut out = String::with_capacity(signing_input.len() + 1 + signature.len().div_ceil(3) * 4);
    out.push_str(signing_input);
    out.push('.');
    out.push_str(&b64url_encode(signature));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counter_ignores_brackets_in_strings() {
        assert!(!json_depth_exceeds(
            br#"{"a":"[[[[[[[[[[[[[[[[[[[[[[["}"#,
            2
        ));
        assert!(!json_depth_exceeds(br#"{"a":"\"[[[[["}"#, 1));
        assert!(json_depth_exceeds(br#"{"a":{"b":[1]}}"#, 2));
        assert!(!json_depth_exceeds(br#"{"a":{"b":[1]}}"#, 3));
    }

    #[test]
    fn signing_input_refuses_an_alg_outside_the_policy() {
        let claims = json!({});
        assert_eq!(
            signing_input(&json!({"alg":"HS256"}), &claims),
            Err(JoseError::AlgNotAllowed("HS256".into()))
        );
        assert_eq!(
            signing_input(&json!({}), &claims),
            Err(JoseError::MissingHeader("alg"))
        );
        assert_eq!(
            signing_input(&json!({"alg":"ES256"}), &json!([1])),
            Err(JoseError::NotAnObject("claims"))
        );
    }

    #[test]
    fn assembled_token_splits_back_into_its_parts() {
        let si = signing_input(&json!({"alg":"EdDSA","kid":"k"}), &json!({"sub":"x"})).unwrap();
        let token = assemble(&si, &[1, 2, 3]);
        let parts = split(&token).unwrap();
        assert_eq!(parts.signing_input, si);
        assert_eq!(parts.signature, "AQID");
        let h = decode_header(&token).unwrap();
        assert_eq!(h.alg, Alg::EdDSA);
        assert_eq!(h.kid.as_deref(), Some("k"));
    }

    #[test]
    fn header_rejects_crit_and_mistyped_parameters() {
        let tok = |h: Value| {
            assemble(
                &format!("{}.e30", b64url_encode(h.to_string().as_bytes())),
                b"s",
            )
        };
        assert_eq!(
            decode_header(&tok(json!({"alg":"ES256","crit":["b64"],"b64":false}))),
            Err(JoseError::UnsupportedCrit)
        );
        assert_eq!(
            decode_header(&tok(json!({"alg":"ES256","kid":7}))),
            Err(JoseError::InvalidHeader("kid"))
        );
        assert_eq!(
            decode_header(&tok(json!({"alg":"ES256","jwk":"x"}))),
            Err(JoseError::InvalidHeader("jwk"))
        );
        assert_eq!(
            decode_header(&tok(json!({"alg":["ES256"]}))),
            Err(JoseError::InvalidHeader("alg"))
        );
        assert_eq!(
            decode_header(&tok(json!({"typ":"JWT"}))),
            Err(JoseError::MissingHeader("alg"))
        );
    }

    #[test]
    fn split_rejects_wrong_segment_counts_and_empty_parts() {
        for bad in ["a.b", "a.b.c.d", "a", ".b.c", "a.b.", "a..b.c", ""] {
            assert!(split(bad).is_err(), "{bad:?}");
        }
        assert!(
            split("a..c").is_ok(),
            "an empty payload is a JWS matter for the caller"
        );
    }
}
