//! Public JWKs (RFC 7517/7518/8037): checking a key fits an algorithm, picking the key from a set,
//! verifying signatures, and RFC 7638 thumbprints.
//!
//! Signatures are verified with aws-lc-rs directly rather than through jsonwebtoken's
//! `DecodingKey::from_jwk`: we decode each JWK member ourselves, so the policy (curve, RSA modulus
//! of at least 2048 bits, Ed25519 only, no private members, minimal integers) is enforced in one
//! place we can read, with a precise error for each rule, and there is no second JWK parser whose
//! leniency we would have to track.

use crate::b64::{b64url_encode, decode_labelled};
use crate::key_memo;
use crate::{Alg, Header, JoseError};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PSS_2048_8192_SHA256,
    RsaPublicKeyComponents,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Private-key members of EC, RSA, OKP and symmetric JWKs (RFC 7518 §6.2.2, §6.3.2, §6.4;
/// RFC 8037 §2). None may appear in a key used for verification or published.
pub const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Smallest RSA modulus accepted (FAPI 2.0 Security Profile §5.4.1).
const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted; bounds verification cost and matches aws-lc-rs's range.
const MAX_RSA_BITS: usize = 8192;

/// A public key checked against the algorithm it will verify.
#[derive(Debug)]
pub(crate) struct VerifyingKey(Arc<ParsedPublicKey>);

impl VerifyingKey {
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        self.0
            .verify_sig(message, signature)
            .map_err(|_| JoseError::BadSignature)
    }
}

/// Checks that `jwk` is a public key usable for `alg`: the right `kty`/`crv`, correctly encoded
/// coordinates or modulus, RSA of at least 2048 bits, no private members, and `alg`, `use` and
/// `key_ops` consistent with verifying `alg` signatures when present.
pub fn validate_public_jwk(jwk: &Value, alg: Alg) -> Result<(), JoseError> {
    let Value::Object(map) = jwk else {
        return Err(JoseError::NotAnObject("jwk"));
    };
    verifying_key(map, alg).map(|_| ())
}

/// Builds the verifying key for `alg` from `jwk`, applying every rule of [`validate_public_jwk`].
pub(crate) fn verifying_key(jwk: &Map<String, Value>, alg: Alg) -> Result<VerifyingKey, JoseError> {
    fits(jwk, alg)?;
    // Every rule on the JWK runs before the memo is consulted; the memo only saves aws-lc's parse
    // of bytes that passed them (`key_memo`).
    let parsed = match alg {
        Alg::ES256 => {
            let x = coordinate(jwk, "x", 32)?;
            let y = coordinate(jwk, "y", 32)?;
            let mut point = Vec::with_capacity(65);
            point.push(0x04); // SEC 1 §2.3.3 uncompressed point
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            key_memo::parsed(alg, point, |p| {
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p)
                    .map_err(|_| JoseError::InvalidJwk("x"))
            })?
        }
        Alg::PS256 => {
            let n = unsigned_integer(jwk, "n")?;
            let e = unsigned_integer(jwk, "e")?;
            let bits = bit_length(&n);
            if bits < MIN_RSA_BITS {
                return Err(JoseError::KeyTooSmall);
            }
            if bits > MAX_RSA_BITS {
                return Err(JoseError::InvalidJwk("n"));
            }
            // The memo key: n's length (≤ 1 KiB, so two bytes), n, then e.
            let n_len = u16::try_from(n.len()).map_err(|_| JoseError::InvalidJwk("n"))?;
            let mut bytes = Vec::with_capacity(2 + n.len() + e.len());
            bytes.extend_from_slice(&n_len.to_be_bytes());
            bytes.extend_from_slice(&n);
            bytes.extend_from_slice(&e);
            key_memo::parsed(alg, bytes, |_| {
                RsaPublicKeyComponents { n: &n, e: &e }
                    .to_parsed_public_key(&RSA_PSS_2048_8192_SHA256)
                    .map_err(|_| JoseError::InvalidJwk("n"))
            })?
        }
        Alg::EdDSA => {
            let x = coordinate(jwk, "x", 32)?;
            key_memo::parsed(alg, x, |x| {
                ParsedPublicKey::new(&ED25519, x).map_err(|_| JoseError::InvalidJwk("x"))
            })?
        }
    };
    Ok(VerifyingKey(parsed))
}

/// The cheap checks (no decoding): private members, `alg`, `use`, `key_ops`, `kty`, `crv`.
fn fits(jwk: &Map<String, Value>, alg: Alg) -> Result<(), JoseError> {
    if PRIVATE_JWK_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(JoseError::PrivateJwk);
    }
    // RFC 7517 §4.4: a key's own `alg` names the one algorithm it is for.
    match jwk.get("alg") {
        None => {}
        Some(Value::String(a)) if a == alg.as_str() => {}
        Some(_) => return Err(JoseError::KeyAlgMismatch("alg")),
    }
    // RFC 7517 §4.2 / §4.3: an encryption key, or one not allowed to verify, is not a signing key.
    match jwk.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err(JoseError::KeyAlgMismatch("use")),
    }
    match jwk.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|o| o == "verify") => {}
        Some(_) => return Err(JoseError::KeyAlgMismatch("key_ops")),
    }
    let kty = match jwk.get("kty") {
        Some(Value::String(k)) => k.as_str(),
        _ => return Err(JoseError::InvalidJwk("kty")),
    };
    let (want_kty, want_crv) = match alg {
        Alg::ES256 => ("EC", Some("P-256")),
        Alg::PS256 => ("RSA", None),
        // FAPI 2.0 §5.4.1: EdDSA with Ed25519 only, so Ed448 keys are refused.
        Alg::EdDSA => ("OKP", Some("Ed25519")),
    };
    if kty != want_kty {
        return Err(JoseError::KeyAlgMismatch("kty"));
    }
    if let Some(want) = want_crv {
        match jwk.get("crv") {
            Some(Value::String(c)) if c == want => {}
            _ => return Err(JoseError::KeyAlgMismatch("crv")),
        }
    }
    Ok(())
}

fn member<'a>(jwk: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, JoseError> {
    match jwk.get(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(JoseError::InvalidJwk(name)),
    }
}

/// A fixed-length field element (RFC 7518 §6.2.1.2: the full coordinate length, never shortened).
fn coordinate(
    jwk: &Map<String, Value>,
    name: &'static str,
    len: usize,
) -> Result<Vec<u8>, JoseError> {
    let bytes =
        decode_labelled(member(jwk, name)?, name).map_err(|_| JoseError::InvalidJwk(name))?;
    if bytes.len() != len {
        return Err(JoseError::InvalidJwk(name));
    }
    Ok(bytes)
}

/// A Base64urlUInt (RFC 7518 §2): non-empty, no leading zero octets.
fn unsigned_integer(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JoseError> {
    let bytes =
        decode_labelled(member(jwk, name)?, name).map_err(|_| JoseError::InvalidJwk(name))?;
    match bytes.first() {
        None | Some(0) => Err(JoseError::InvalidJwk(name)),
        Some(_) => Ok(bytes),
    }
}

/// Bits in a big-endian integer without leading zero octets.
fn bit_length(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(&top) => (be.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// Picks the key for `header` from a JWK set `{"keys":[...]}`.
///
/// With a `kid`, only keys of that `kid` are candidates; if several share it, they are narrowed
/// by `kty`/`crv`/`alg`/`use` (FAPI 2.0 §5.4: a verifier shall also match on those when `kid`s
/// repeat). Without a `kid`, the candidates are the keys that fit the algorithm. Exactly one must
/// remain.
pub(crate) fn select_key<'a>(
    jwks: &'a Value,
    header: &Header,
) -> Result<&'a Map<String, Value>, JoseError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JoseError::InvalidJwks)?;
    let mut objects = Vec::with_capacity(keys.len());
    for k in keys {
        objects.push(k.as_object().ok_or(JoseError::InvalidJwks)?);
    }
    let candidates: Vec<&Map<String, Value>> = match &header.kid {
        Some(kid) => objects
            .into_iter()
            .filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid.as_str()))
            .collect(),
        None => {
            let fitting: Vec<_> = objects
                .into_iter()
                .filter(|k| fits(k, header.alg).is_ok())
                .collect();
            return match fitting.as_slice() {
                [] => Err(JoseError::UnknownKey),
                [one] => Ok(one),
                _ => Err(JoseError::AmbiguousKey),
            };
        }
    };
    match candidates.as_slice() {
        [] => Err(JoseError::UnknownKey),
        // One key with this kid: it is the key; whether it fits is checked (and reported) later.
        [one] => Ok(one),
        several => {
            let mut first_error = None;
            let mut fitting = Vec::new();
            for k in several {
                match fits(k, header.alg) {
                    Ok(()) => fitting.push(*k),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            match fitting.as_slice() {
                [one] => Ok(one),
                [] => Err(first_error.unwrap_or(JoseError::UnknownKey)),
                _ => Err(JoseError::AmbiguousKey),
            }
        }
    }
}

/// The RFC 7638 JWK thumbprint with SHA-256, base64url-encoded: the hash of the JSON object of the
/// key's required members only, in lexicographic order, without whitespace (RFC 7638 §3.2;
/// RFC 8037 §2 for OKP).
pub fn jwk_thumbprint_sha256(jwk: &Value) -> Result<String, JoseError> {
    let Value::Object(map) = jwk else {
        return Err(JoseError::NotAnObject("jwk"));
    };
    let required: &[&'static str] = match map.get("kty").and_then(Value::as_str) {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("RSA") => &["e", "kty", "n"],
        Some("OKP") => &["crv", "kty", "x"],
        Some(_) => return Err(JoseError::UnsupportedKty),
        None => return Err(JoseError::InvalidJwk("kty")),
    };
    // A BTreeMap serialises in key order regardless of serde_json's `preserve_order` feature.
    let mut members = BTreeMap::new();
    for name in required {
        members.insert(*name, member(map, name)?);
    }
    let canonical = serde_json::to_vec(&members).map_err(|_| JoseError::Json("jwk"))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &canonical);
    Ok(b64url_encode(digest.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bit_length_counts_from_the_top_bit() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(&[0x7f; 256]), 2047);
    }

    #[test]
    fn private_members_are_refused_for_verification() {
        let jwk = json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"});
        assert_eq!(
            validate_public_jwk(&jwk, Alg::EdDSA),
            Err(JoseError::PrivateJwk)
        );
    }

    #[test]
    fn key_alg_use_and_key_ops_must_agree_with_the_header() {
        let base =
            json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert_eq!(validate_public_jwk(&base, Alg::EdDSA), Ok(()));
        let with = |k: &str, v: Value| {
            let mut j = base.clone();
            j[k] = v;
            validate_public_jwk(&j, Alg::EdDSA)
        };
        assert_eq!(
            with("alg", json!("ES256")),
            Err(JoseError::KeyAlgMismatch("alg"))
        );
        assert_eq!(
            with("use", json!("enc")),
            Err(JoseError::KeyAlgMismatch("use"))
        );
        assert_eq!(
            with("key_ops", json!(["sign"])),
            Err(JoseError::KeyAlgMismatch("key_ops"))
        );
        assert_eq!(
            with("crv", json!("Ed448")),
            Err(JoseError::KeyAlgMismatch("crv"))
        );
        assert_eq!(with("x", json!("AAAA")), Err(JoseError::InvalidJwk("x")));
        assert_eq!(
            validate_public_jwk(&base, Alg::ES256),
            Err(JoseError::KeyAlgMismatch("kty"))
        );
    }

    #[test]
    fn short_rsa_modulus_is_too_small() {
        let n = b64url_encode(&[0xc1; 128]); // 1024 bits
        let jwk = json!({"kty":"RSA","n":n,"e":"AQAB"});
        assert_eq!(
            validate_public_jwk(&jwk, Alg::PS256),
            Err(JoseError::KeyTooSmall)
        );
        let jwk = json!({"kty":"RSA","n":b64url_encode(&[0, 0xc1]),"e":"AQAB"});
        assert_eq!(
            validate_public_jwk(&jwk, Alg::PS256),
            Err(JoseError::InvalidJwk("n"))
        );
    }

    #[test]
    fn thumbprint_refuses_unknown_kty_and_missing_members() {
        assert_eq!(
            jwk_thumbprint_sha256(&json!({"kty":"oct","k":"AA"})),
            Err(JoseError::UnsupportedKty)
        );
        assert_eq!(
            jwk_thumbprint_sha256(&json!({"kty":"EC","crv":"P-256","x":"AA"})),
            Err(JoseError::InvalidJwk("y"))
        );
        assert_eq!(
            jwk_thumbprint_sha256(&json!([])),
            Err(JoseError::NotAnObject("jwk"))
        );
    }
}
