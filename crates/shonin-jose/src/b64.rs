//! Strict base64url without padding (RFC 7515 §2, RFC 4648 §5).

use crate::JoseError;
use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// URL-safe alphabet, no padding on output, padding and non-canonical trailing bits rejected on
/// input, so each byte string has exactly one accepted encoding.
const STRICT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes `bytes` as base64url without padding.
pub fn b64url_encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

/// Decodes base64url without padding; rejects `=`, `+`, `/`, whitespace and any other character
/// outside the URL-safe alphabet.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, JoseError> {
    decode_labelled(text, "input")
}

/// As [`b64url_decode`], naming `what` in the error.
pub(crate) fn decode_labelled(text: &str, what: &'static str) -> Result<Vec<u8>, JoseError> {
    STRICT.decode(text).map_err(|_| JoseError::Base64(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_all_lengths() {
        let data: Vec<u8> = (0u8..=255).collect();
        for n in 0..40 {
            let enc = b64url_encode(&data[..n]);
            assert!(!enc.contains('='));
            assert_eq!(b64url_decode(&enc).unwrap(), &data[..n]);
        }
    }

    #[test]
    fn rejects_padding_standard_alphabet_whitespace_and_trailing_bits() {
        for bad in ["YQ==", "YQ=", "a+b/", "YW Jj", "YW\nJj", "YR", "Y", "é"] {
            assert!(b64url_decode(bad).is_err(), "{bad:?} must be rejected");
        }
        assert_eq!(b64url_decode("_-8").unwrap(), vec![0xff, 0xef]);
    }
}
