//! The bytes an authenticator produces: authenticator data (WebAuthn L3 §6.1), attested
//! credential data with its COSE key (§6.5.2, RFC 9053 §7.1.1) and the attestation object with
//! the "none" statement (§6.5.4, §8.7).

use aws_lc_rs::digest::{SHA256, digest};

use super::Error;
use crate::cbor::Value;

/// §6.1 flags: user present.
pub(super) const UP: u8 = 0x01;
/// User verified.
pub(super) const UV: u8 = 0x04;
/// Backup eligible.
pub(super) const BE: u8 = 0x08;
/// Backup state.
pub(super) const BS: u8 = 0x10;
/// Attested credential data included.
const AT: u8 = 0x40;

/// COSE (RFC 9053 §2.1) algorithm ES256.
pub(super) const COSE_ES256: i64 = -7;

/// Length of the credential IDs this authenticator mints.
pub(super) const CREDENTIAL_ID_LEN: usize = 32;

/// DER prefix of a SubjectPublicKeyInfo for a P-256 key (id-ecPublicKey, prime256v1) whose
/// BIT STRING holds a 65-byte uncompressed point (RFC 5480 §2).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// §6.1: rpIdHash (32) ‖ flags (1) ‖ signCount (4, big-endian) ‖ attestedCredentialData. AT is
/// set exactly when attested credential data follows; ED is never set, as no authenticator
/// extension outputs are written.
pub(super) fn authenticator_data(
    rp_id: &str,
    flags: u8,
    sign_count: u32,
    attested_credential_data: Option<&[u8]>,
) -> Vec<u8> {
    let rp_id_hash = digest(&SHA256, rp_id.as_bytes());
    let mut out = Vec::with_capacity(37 + attested_credential_data.map_or(0, <[u8]>::len));
    out.extend_from_slice(rp_id_hash.as_ref());
    match attested_credential_data {
        Some(data) => {
            out.push(flags | AT);
            out.extend_from_slice(&sign_count.to_be_bytes());
            out.extend_from_slice(data);
        }
        None => {
            out.push(flags & !AT);
            out.extend_from_slice(&sign_count.to_be_bytes());
        }
    }
    out
}

/// §6.5.2: aaguid (16) ‖ credentialIdLength (2, big-endian) ‖ credentialId ‖ credentialPublicKey.
pub(super) fn attested_credential_data(
    aaguid: &[u8; 16],
    credential_id: &[u8; CREDENTIAL_ID_LEN],
    public_key: &[u8],
) -> Result<Vec<u8>, Error> {
    let cose_key = cose_es256_key(public_key)?;
    let mut out = Vec::with_capacity(18 + CREDENTIAL_ID_LEN + cose_key.len());
    out.extend_from_slice(aaguid);
    out.extend_from_slice(&(CREDENTIAL_ID_LEN as u16).to_be_bytes());
    out.extend_from_slice(credential_id);
    out.extend_from_slice(&cose_key);
    Ok(out)
}

/// The x and y coordinates of an uncompressed P-256 point (SEC 1 §2.3.3: 0x04 ‖ x ‖ y).
fn coordinates(public_key: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    match public_key.split_first() {
        Some((&0x04, xy)) if xy.len() == 64 => xy.split_at_checked(32).ok_or(Error::Crypto),
        _ => Err(Error::Crypto),
    }
}

/// The COSE_Key of an ES256 public key (§6.5.1.1 example 1), keys in CTAP2 canonical order:
/// {1 (kty): 2 (EC2), 3 (alg): -7 (ES256), -1 (crv): 1 (P-256), -2 (x), -3 (y)}.
fn cose_es256_key(public_key: &[u8]) -> Result<Vec<u8>, Error> {
    let (x, y) = coordinates(public_key)?;
    Ok(Value::Map(vec![
        (Value::Int(1), Value::Int(2)),
        (Value::Int(3), Value::Int(COSE_ES256)),
        (Value::Int(-1), Value::Int(1)),
        (Value::Int(-2), Value::Bytes(x)),
        (Value::Int(-3), Value::Bytes(y)),
    ])
    .to_vec())
}

/// §6.5.4 with the §8.7 "none" format: {"fmt": "none", "attStmt": {}, "authData": bytes}, in
/// CTAP2 canonical key order (shorter keys first).
pub(super) fn none_attestation_object(authenticator_data: &[u8]) -> Vec<u8> {
    Value::Map(vec![
        (Value::Text("fmt"), Value::Text("none")),
        (Value::Text("attStmt"), Value::Map(vec![])),
        (Value::Text("authData"), Value::Bytes(authenticator_data)),
    ])
    .to_vec()
}

/// The DER SubjectPublicKeyInfo that `AuthenticatorAttestationResponse.getPublicKey()` returns.
pub(super) fn p256_spki(public_key: &[u8]) -> Result<Vec<u8>, Error> {
    coordinates(public_key)?;
    let mut out = Vec::with_capacity(P256_SPKI_PREFIX.len() + public_key.len());
    out.extend_from_slice(&P256_SPKI_PREFIX);
    out.extend_from_slice(public_key);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point() -> Vec<u8> {
        let mut point = vec![0x04];
        point.extend(1..=64u8);
        point
    }

    #[test]
    fn assertion_data_is_rp_id_hash_flags_and_big_endian_count() {
        let data = authenticator_data("localhost", UP | UV | AT, 0x0102_0304, None);
        assert_eq!(data.len(), 37);
        assert_eq!(&data[..32], digest(&SHA256, b"localhost").as_ref());
        assert_eq!(
            data[32],
            UP | UV,
            "AT is cleared without attested credential data"
        );
        assert_eq!(&data[33..], &[1, 2, 3, 4]);
    }

    #[test]
    fn registration_data_carries_aaguid_credential_id_and_cose_key() {
        let aaguid = [0xaa; 16];
        let credential_id = [0xcc; CREDENTIAL_ID_LEN];
        let acd = attested_credential_data(&aaguid, &credential_id, &point()).unwrap();
        let data = authenticator_data("localhost", UP, 0, Some(&acd));
        assert_eq!(data[32], UP | AT);
        assert_eq!(&data[37..53], &aaguid);
        assert_eq!(&data[53..55], &[0, 32]);
        assert_eq!(&data[55..87], &credential_id);
        let cose = &data[87..];
        // a5 = map(5); 01 02; 03 26; 20 01; 21 58 20 <x>; 22 58 20 <y>
        assert_eq!(&cose[..7], &[0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01]);
        assert_eq!(&cose[7..10], &[0x21, 0x58, 0x20]);
        assert_eq!(&cose[10..42], &point()[1..33]);
        assert_eq!(&cose[42..45], &[0x22, 0x58, 0x20]);
        assert_eq!(&cose[45..], &point()[33..]);
    }

    #[test]
    fn none_attestation_object_has_the_three_members_in_canonical_order() {
        let object = none_attestation_object(&[9, 9]);
        let mut expected = vec![0xa3, 0x63];
        expected.extend(b"fmt");
        expected.push(0x64);
        expected.extend(b"none");
        expected.push(0x67);
        expected.extend(b"attStmt");
        expected.push(0xa0);
        expected.push(0x68);
        expected.extend(b"authData");
        expected.extend([0x42, 9, 9]);
        assert_eq!(object, expected);
    }

    #[test]
    fn compressed_or_short_points_are_refused() {
        assert!(cose_es256_key(&point()[..64]).is_err());
        let mut compressed = point()[..33].to_vec();
        compressed[0] = 0x02;
        assert!(cose_es256_key(&compressed).is_err());
        assert!(p256_spki(&[]).is_err());
    }
}
