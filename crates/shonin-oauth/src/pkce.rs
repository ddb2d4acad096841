//! Proof Key for Code Exchange (RFC 7636), restricted to `S256` as FAPI 2.0 requires
//! (Security Profile §5.3.2.2 item 3).
//!
//! The challenge is parsed once, at the PAR endpoint, into a [`CodeChallenge`]; the verifier is
//! parsed at the token endpoint into a [`CodeVerifier`]; [`verify`] compares them in constant
//! time.

use aws_lc_rs::digest::{SHA256, digest};
use shonin_jose::{b64url_decode, b64url_encode};
use shonin_types::ErrorCode;
use shonin_types::{SecretBytes, constant_time_eq};
use std::fmt;

/// The only transformation accepted (RFC 7636 §4.2; FAPI 2.0 forbids `plain`).
pub const S256: &str = "S256";

/// Length of an S256 challenge: base64url of a 32-byte SHA-256 digest, without padding.
const S256_CHALLENGE_LEN: usize = 43;

/// RFC 7636 §4.1: a verifier is 43 to 128 characters long.
const VERIFIER_LEN: std::ops::RangeInclusive<usize> = 43..=128;

/// Why a PKCE parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// No `code_challenge` in the authorization request (FAPI 2.0 §5.3.2.2 item 3: PKCE required).
    #[error("code_challenge is missing")]
    MissingChallenge,
    /// No `code_challenge_method`; RFC 7636 §4.3 would default to `plain`, which FAPI 2.0 forbids.
    #[error("code_challenge_method is missing (plain is not allowed)")]
    MissingMethod,
    /// A `code_challenge_method` other than `S256` (RFC 7636 §4.4.1: transform not supported).
    #[error("code_challenge_method must be S256")]
    UnsupportedMethod,
    /// The challenge is not 43 characters of base64url encoding 32 bytes (RFC 7636 §4.2).
    #[error("code_challenge is not a base64url SHA-256 digest")]
    MalformedChallenge,
    /// No `code_verifier` in the token request although the code carries a challenge.
    #[error("code_verifier is missing")]
    MissingVerifier,
    /// The verifier is shorter than 43 or longer than 128 characters, or uses characters outside
    /// the unreserved set (RFC 7636 §4.1).
    #[error("code_verifier is not 43-128 unreserved characters")]
    MalformedVerifier,
    /// `BASE64URL(SHA256(code_verifier))` differs from the challenge (RFC 7636 §4.6).
    #[error("code_verifier does not match code_challenge")]
    Mismatch,
}

impl PkceError {
    /// The OAuth error code (RFC 6749 §4.1.2.1, §5.2) this failure produces.
    pub fn oauth_error(&self) -> ErrorCode {
        match self {
            // Authorization (PAR) request problems: RFC 7636 §4.4.1.
            PkceError::MissingChallenge
            | PkceError::MissingMethod
            | PkceError::UnsupportedMethod
            | PkceError::MalformedChallenge => ErrorCode::InvalidRequest,
            // Token request problems: RFC 7636 §4.6 — the grant does not verify.
            PkceError::MissingVerifier | PkceError::MalformedVerifier | PkceError::Mismatch => {
                ErrorCode::InvalidGrant
            }
        }
    }
}

/// An `S256` code challenge (RFC 7636 §4.2): 43 base64url characters encoding 32 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Parses the `code_challenge` and `code_challenge_method` parameters of an authorization
    /// request. Both are required, and the method must be `S256`.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge.ok_or(PkceError::MissingChallenge)?;
        match method {
            None => return Err(PkceError::MissingMethod),
            // RFC 7636 §4.3: method names are case-sensitive ("S256", "plain").
            Some(S256) => {}
            Some(_) => return Err(PkceError::UnsupportedMethod),
        }
        Self::from_s256(challenge)
    }

    /// Parses a stored S256 challenge (the method is implied).
    pub fn from_s256(challenge: &str) -> Result<Self, PkceError> {
        if challenge.len() != S256_CHALLENGE_LEN {
            return Err(PkceError::MalformedChallenge);
        }
        // Strict base64url: exactly one encoding per digest, so the comparison in `verify` can be
        // a plain string compare.
        match b64url_decode(challenge) {
            Ok(bytes) if bytes.len() == 32 => Ok(Self(challenge.to_owned())),
            _ => Err(PkceError::MalformedChallenge),
        }
    }

    /// The challenge as sent by the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Always `S256`.
    pub fn method(&self) -> &'static str {
        S256
    }
}

impl fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeChallenge(S256, {})", self.0)
    }
}

impl TryFrom<String> for CodeChallenge {
    type Error = PkceError;

    fn try_from(s: String) -> Result<Self, PkceError> {
        Self::from_s256(&s)
    }
}

impl From<CodeChallenge> for String {
    fn from(c: CodeChallenge) -> String {
        c.0
    }
}

impl serde::Serialize for CodeChallenge {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for CodeChallenge {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_s256(&s).map_err(serde::de::Error::custom)
    }
}

/// A `code_verifier` (RFC 7636 §4.1): 43–128 characters of `[A-Za-z0-9-._~]`. A secret until
/// the code is redeemed: redacted in `Debug` and zeroized on drop. Deliberately not
/// `PartialEq`: the only comparison is [`verify`], in constant time.
#[derive(Clone)]
pub struct CodeVerifier(SecretBytes);

impl CodeVerifier {
    /// Parses the `code_verifier` parameter of a token request.
    pub fn parse(verifier: Option<&str>) -> Result<Self, PkceError> {
        let v = verifier.ok_or(PkceError::MissingVerifier)?;
        if !VERIFIER_LEN.contains(&v.len()) || !v.bytes().all(is_unreserved) {
            return Err(PkceError::MalformedVerifier);
        }
        Ok(Self(SecretBytes::new(v.as_bytes().to_vec())))
    }

    /// `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
    pub fn s256_challenge(&self) -> String {
        b64url_encode(digest(&SHA256, self.0.expose()).as_ref())
    }
}

impl TryFrom<&str> for CodeVerifier {
    type Error = PkceError;

    fn try_from(s: &str) -> Result<Self, PkceError> {
        Self::parse(Some(s))
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier([REDACTED])")
    }
}

/// RFC 3986 §2.3 unreserved characters, the alphabet of RFC 7636 §4.1.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 7636 §4.6: the server recomputes the challenge from the verifier and compares.
pub fn verify(challenge: &CodeChallenge, verifier: &CodeVerifier) -> Result<(), PkceError> {
    let computed = verifier.s256_challenge();
    if constant_time_eq(computed.as_bytes(), challenge.0.as_bytes()) {
        Ok(())
    } else {
        Err(PkceError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn rfc_challenge() -> CodeChallenge {
        CodeChallenge::parse(Some(RFC_CHALLENGE), Some("S256")).unwrap()
    }

    #[test]
    fn rfc7636_appendix_b_verifier_matches_its_challenge() {
        let v = CodeVerifier::parse(Some(RFC_VERIFIER)).unwrap();
        assert_eq!(v.s256_challenge(), RFC_CHALLENGE);
        assert_eq!(verify(&rfc_challenge(), &v), Ok(()));
    }

    #[test]
    fn a_different_verifier_does_not_match() {
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
        let v = CodeVerifier::parse(Some(other)).unwrap();
        assert_eq!(verify(&rfc_challenge(), &v), Err(PkceError::Mismatch));
        assert_eq!(PkceError::Mismatch.oauth_error(), "invalid_grant");
    }

    #[test]
    fn missing_challenge_is_an_invalid_request() {
        let e = CodeChallenge::parse(None, Some("S256")).unwrap_err();
        assert_eq!(e, PkceError::MissingChallenge);
        assert_eq!(e.oauth_error(), "invalid_request");
    }

    #[test]
    fn missing_method_is_refused_because_it_would_mean_plain() {
        assert_eq!(
            CodeChallenge::parse(Some(RFC_CHALLENGE), None),
            Err(PkceError::MissingMethod)
        );
    }

    #[test]
    fn plain_and_unknown_methods_are_refused() {
        for m in ["plain", "s256", "S512", "", "S256 "] {
            assert_eq!(
                CodeChallenge::parse(Some(RFC_CHALLENGE), Some(m)),
                Err(PkceError::UnsupportedMethod),
                "{m:?}"
            );
        }
        // A "plain" challenge equal to a valid verifier is refused too.
        assert_eq!(
            CodeChallenge::parse(Some(RFC_VERIFIER), Some("plain")),
            Err(PkceError::UnsupportedMethod)
        );
    }

    #[test]
    fn malformed_s256_challenges_are_refused() {
        let long = "A".repeat(44);
        let bad = [
            "",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c", // 42
            long.as_str(),                                // 44
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", // standard alphabet
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=", // padded
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", // non-canonical trailing bits
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw cM",
            "É9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c",
        ];
        for c in bad {
            assert_eq!(
                CodeChallenge::parse(Some(c), Some("S256")),
                Err(PkceError::MalformedChallenge),
                "{c:?}"
            );
        }
    }

    #[test]
    fn verifier_length_bounds_are_43_and_128() {
        assert!(CodeVerifier::parse(Some(&"a".repeat(43))).is_ok());
        assert!(CodeVerifier::parse(Some(&"a".repeat(128))).is_ok());
        for n in [0, 1, 42, 129, 1000] {
            assert_eq!(
                CodeVerifier::parse(Some(&"a".repeat(n))).unwrap_err(),
                PkceError::MalformedVerifier,
                "{n}"
            );
        }
    }

    #[test]
    fn verifier_accepts_only_unreserved_characters() {
        let ok = format!("{}-._~09AZaz", "x".repeat(40));
        assert!(CodeVerifier::parse(Some(&ok)).is_ok());
        for c in ['+', '/', '=', ' ', '%', '!', '\n', 'é'] {
            let v = format!("{}{c}", "x".repeat(43));
            assert_eq!(
                CodeVerifier::parse(Some(&v)).unwrap_err(),
                PkceError::MalformedVerifier,
                "{c:?}"
            );
        }
    }

    #[test]
    fn missing_verifier_is_an_invalid_grant() {
        let e = CodeVerifier::parse(None).unwrap_err();
        assert_eq!(e, PkceError::MissingVerifier);
        assert_eq!(e.oauth_error(), "invalid_grant");
    }

    #[test]
    fn verifier_debug_is_redacted() {
        let v = CodeVerifier::parse(Some(RFC_VERIFIER)).unwrap();
        let shown = format!("{v:?}");
        assert!(!shown.contains("dBjf"), "{shown}");
    }

    #[test]
    fn challenge_round_trips_through_serde_and_rejects_bad_stored_values() {
        let c = rfc_challenge();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, format!("\"{RFC_CHALLENGE}\""));
        assert_eq!(serde_json::from_str::<CodeChallenge>(&json).unwrap(), c);
        assert!(serde_json::from_str::<CodeChallenge>("\"short\"").is_err());
        assert_eq!(c.method(), "S256");
        assert_eq!(String::from(c.clone()), RFC_CHALLENGE);
        assert_eq!(CodeChallenge::try_from(RFC_CHALLENGE.to_owned()), Ok(c));
    }
}
