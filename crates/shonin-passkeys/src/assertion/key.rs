//! A credential's public key in the three algorithms Shonin verifies itself, read from the stored
//! webauthn-rs credential or from a public JWK, and the signature check with aws-lc-rs.

use super::{decode_b64url, encode_b64url};
use crate::ceremony::decode_passkey;
use crate::credential::StoredPasskey;
use crate::error::PasskeyError;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde_json::{Value, json};
use webauthn_rs::prelude::{COSEAlgorithm, COSEKeyType, ECDSACurve, EDDSACurve};

/// Length of a P-256 coordinate and of an Ed25519 public key.
const COORDINATE_LEN: usize = 32;
/// RSA moduli from 2048 to 8192 bits, the range aws-lc-rs verifies.
const RSA_MODULUS_LEN: std::ops::RangeInclusive<usize> = 256..=1024;
/// A public exponent longer than this is not one any authenticator uses.
const RSA_MAX_EXPONENT_LEN: usize = 8;

/// A credential's public key, as the WebAuthn algorithms Shonin accepts: ES256 (P-256), RS256
/// (RSA ≥ 2048 bits, PKCS#1 v1.5 with SHA-256) and EdDSA (Ed25519). Made by [`Self::of_passkey`]
/// or [`Self::from_jwk`], which check the key; one built by hand is checked when it verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialPublicKey {
    /// COSE -7: the point's coordinates, big-endian, 32 bytes each.
    Es256 { x: [u8; 32], y: [u8; 32] },
    /// COSE -257: modulus and public exponent, big-endian without leading zeros.
    Rs256 { n: Vec<u8>, e: Vec<u8> },
    /// COSE -8 with curve Ed25519: the encoded point.
    Ed25519 { x: [u8; 32] },
}

impl CredentialPublicKey {
    /// The key of a stored passkey (webauthn-rs's `Passkey` JSON). Other algorithms webauthn-rs
    /// accepts at enrolment (ES384, PS256…) are [`PasskeyError::UnsupportedKey`].
    pub fn of_passkey(p: &StoredPasskey) -> Result<Self, PasskeyError> {
        let passkey = decode_passkey(p)?;
        let cose = passkey.get_public_key();
        let key = match (&cose.type_, &cose.key) {
            (COSEAlgorithm::ES256, COSEKeyType::EC_EC2(ec))
                if ec.curve == ECDSACurve::SECP256R1 =>
            {
                Self::es256(&ec.x, &ec.y)
            }
            (COSEAlgorithm::RS256, COSEKeyType::RSA(rsa)) => {
                Self::rs256(strip_zeros(&rsa.n), strip_zeros(&rsa.e))
            }
            (COSEAlgorithm::EDDSA, COSEKeyType::EC_OKP(okp))
                if okp.curve == EDDSACurve::ED25519 =>
            {
                Self::ed25519(&okp.x)
            }
            _ => Err("only ES256, RS256 and Ed25519 keys are verified"),
        };
        key.map_err(PasskeyError::UnsupportedKey)
    }

    /// The public JWK (RFC 7517; EC and RSA members per RFC 7518 §6.2–6.3, OKP per RFC 8037 §2):
    /// exactly `kty`, `crv`, `x`, `y` / `kty`, `n`, `e` / `kty`, `crv`, `x`, base64url without
    /// padding. No `alg`: the key type decides it.
    pub fn to_jwk(&self) -> Value {
        match self {
            Self::Es256 { x, y } => json!({
                "kty": "EC", "crv": "P-256", "x": encode_b64url(x), "y": encode_b64url(y),
            }),
            Self::Rs256 { n, e } => json!({
                "kty": "RSA", "n": encode_b64url(n), "e": encode_b64url(e),
            }),
            Self::Ed25519 { x } => json!({
                "kty": "OKP", "crv": "Ed25519", "x": encode_b64url(x),
            }),
        }
    }

    /// Reads what [`Self::to_jwk`] writes, and nothing looser: exactly those members, full-length
    /// coordinates, an EC point on P-256, an RSA modulus of 2048–8192 bits, no leading zeros.
    pub fn from_jwk(jwk: &Value) -> Result<Self, PasskeyError> {
        let bad = |why: &str| PasskeyError::Malformed(format!("JWK: {why}"));
        let members = jwk.as_object().ok_or_else(|| bad("not an object"))?;
        let text = |name: &str| {
            members
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a member is missing or not a string"))
        };
        let exactly = |names: &[&str]| {
            if members.len() == names.len() && names.iter().all(|n| members.contains_key(*n)) {
                Ok(())
            } else {
                Err(bad("unexpected or missing members"))
            }
        };
        let key = match (text("kty")?, members.get("crv").and_then(Value::as_str)) {
            ("EC", Some("P-256")) => {
                exactly(&["kty", "crv", "x", "y"])?;
                let x = decode_b64url(text("x")?, COORDINATE_LEN, "JWK x")?;
                let y = decode_b64url(text("y")?, COORDINATE_LEN, "JWK y")?;
                Self::es256(&x, &y)
            }
            ("RSA", None) => {
                exactly(&["kty", "n", "e"])?;
                let n = decode_b64url(text("n")?, *RSA_MODULUS_LEN.end(), "JWK n")?;
                let e = decode_b64url(text("e")?, RSA_MAX_EXPONENT_LEN, "JWK e")?;
                Self::rs256(&n, &e)
            }
            ("OKP", Some("Ed25519")) => {
                exactly(&["kty", "crv", "x"])?;
                Self::ed25519(&decode_b64url(text("x")?, COORDINATE_LEN, "JWK x")?)
            }
            _ => Err("only EC P-256, RSA and OKP Ed25519 keys are accepted"),
        };
        key.map_err(bad)
    }

    /// The COSE algorithm (RFC 9053, RFC 8812): -7, -257 or -8.
    pub fn cose_alg(&self) -> i64 {
        match self {
            Self::Es256 { .. } => -7,
            Self::Rs256 { .. } => -257,
            Self::Ed25519 { .. } => -8,
        }
    }

    /// Verifies `signature` over `message` (ES256 signatures are ASN.1 DER, WebAuthn L3 §6.5.6).
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), PasskeyError> {
        let verified = match self {
            Self::Es256 { x, y } => UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point(x, y))
                .verify(message, signature),
            Self::Rs256 { n, e } => RsaPublicKeyComponents { n, e }.verify(
                &RSA_PKCS1_2048_8192_SHA256,
                message,
                signature,
            ),
            Self::Ed25519 { x } => UnparsedPublicKey::new(&ED25519, x).verify(message, signature),
        };
        verified.map_err(|_| PasskeyError::BadSignature)
    }

    fn es256(x: &[u8], y: &[u8]) -> Result<Self, &'static str> {
        let (Ok(x), Ok(y)) = (<[u8; 32]>::try_from(x), <[u8; 32]>::try_from(y)) else {
            return Err("a P-256 coordinate is not 32 bytes");
        };
        ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point(&x, &y))
            .map_err(|_| "the point is not on P-256")?;
        Ok(Self::Es256 { x, y })
    }

    fn rs256(n: &[u8], e: &[u8]) -> Result<Self, &'static str> {
        if !RSA_MODULUS_LEN.contains(&n.len()) || n.first() == Some(&0) {
            return Err("the RSA modulus is not 2048 to 8192 bits without leading zeros");
        }
        if e.is_empty() || e.len() > RSA_MAX_EXPONENT_LEN || e.first() == Some(&0) {
            return Err("the RSA exponent is empty, too long or has leading zeros");
        }
        Ok(Self::Rs256 {
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    fn ed25519(x: &[u8]) -> Result<Self, &'static str> {
        let x = <[u8; 32]>::try_from(x).map_err(|_| "an Ed25519 key is not 32 bytes")?;
        ParsedPublicKey::new(&ED25519, x).map_err(|_| "not an Ed25519 public key")?;
        Ok(Self::Ed25519 { x })
    }
}

/// SEC 1 §2.3.3 uncompressed point: 0x04 ‖ x ‖ y.
fn point(x: &[u8; 32], y: &[u8; 32]) -> [u8; 65] {
    let mut out = [0x04; 65];
    for (slot, byte) in out.iter_mut().skip(1).zip(x.iter().chain(y)) {
        *slot = *byte;
    }
    out
}

/// COSE carries RSA integers as unsigned big-endian byte strings (RFC 8230 §4), which some
/// authenticators pad with zeros; aws-lc-rs wants them minimal.
fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}
