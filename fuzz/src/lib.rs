//! Helpers shared by the fuzz targets: a minimal executor for the async verifiers, a fixed
//! Ed25519 signer (so structured inputs carry valid signatures and reach the
//! checks behind signature verification) and a field splitter for structured inputs.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

/// Runs `fut` to completion by polling it with a no-op waker. The verifiers fuzzed here stage
/// their claims instead of writing them and never pend, so a future still pending after a few
/// polls is a bug.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..64 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("future still pending after 64 polls, but the verifiers never pend");
}

/// RFC 8037 Appendix A.1/A.2: the Ed25519 test key (`d` is the seed, `x` the public key).
pub const ED25519_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
pub const ED25519_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// RFC 8037 Appendix A.3: the RFC 7638 thumbprint of that key.
pub const ED25519_JKT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

static ED25519: LazyLock<Ed25519KeyPair> = LazyLock::new(|| {
    let seed = shonin_jose::b64url_decode(ED25519_D).expect("RFC 8037 seed is base64url");
    let key = Ed25519KeyPair::from_seed_unchecked(&seed).expect("RFC 8037 seed is 32 bytes");
    assert_eq!(
        shonin_jose::b64url_encode(key.public_key().as_ref()),
        ED25519_X,
        "RFC 8037 A.2 public key"
    );
    key
});

/// The public JWK of the RFC 8037 key, without `kid`.
pub fn ed25519_public_jwk() -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": ED25519_X})
}

/// Signs `claims` under `header` with the RFC 8037 Ed25519 key. `None` if `signing_input`
/// refuses the pair (header or claims not an object, `alg` outside the policy).
pub fn sign_ed25519(header: &Value, claims: &Value) -> Option<String> {
    let input = shonin_jose::signing_input(header, claims).ok()?;
    let signature = ED25519.sign(input.as_bytes());
    Some(shonin_jose::assemble(&input, signature.as_ref()))
}

/// Signs raw `message` bytes with the RFC 8037 Ed25519 key (for WebAuthn assertions, whose
/// signed data is `authenticatorData ‖ SHA-256(clientDataJSON)`).
pub fn sign_ed25519_raw(message: &[u8]) -> Vec<u8> {
    ED25519.sign(message).as_ref().to_vec()
}

/// The claims of a compact JWS, read without checking anything (for assertions about what a
/// verifier accepted). `None` if the token is not three parts with a JSON payload.
pub fn unverified_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload) = (parts.next()?, parts.next()?);
    let bytes = shonin_jose::b64url_decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `base` with the members of `overlay` (if it is an object) put over it.
pub fn merge_objects(base: Value, overlay: &Value) -> Value {
    let mut out: Map<String, Value> = match base {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Value::Object(extra) = overlay {
        for (k, v) in extra {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Splits `data` at the first `N - 1` newlines into `N` fields (missing fields are empty; the
/// last field keeps any further newlines).
pub fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}

/// `data` split into its first byte (flags; 0 if empty) and the rest.
pub fn flags_and_rest(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&flags, rest)) => (flags, rest),
        None => (0, data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_at_newlines() {
        assert_eq!(fields::<3>(b"a\nb\nc\nd"), [&b"a"[..], b"b", b"c\nd"]);
        assert_eq!(fields::<3>(b"a"), [&b"a"[..], b"", b""]);
        assert_eq!(fields::<1>(b"a\nb"), [&b"a\nb"[..]]);
    }

    #[test]
    fn signer_produces_proofs_the_jose_crate_accepts() {
        let header = json!({"alg": "EdDSA"});
        let token = sign_ed25519(&header, &json!({"a": 1})).expect("signs");
        let (_, payload) =
            shonin_jose::verify_jws_with_jwk(&token, &ed25519_public_jwk()).expect("verifies");
        assert_eq!(payload, br#"{"a":1}"#);
        assert_eq!(
            shonin_jose::jwk_thumbprint_sha256(&ed25519_public_jwk()).expect("thumbprint"),
            ED25519_JKT
        );
    }
}
