//! Payment nonces: what a browser or app gets for the card it posted with a client token, and the
//! merchant's server exchanges once for a vault token. `nonce_` and 22 base64url characters (128
//! random bits). The store keeps only the nonce's SHA-256, so a copy of the database holds no
//! live nonce.

use crate::random_id;

const PREFIX: &str = "nonce_";

#[derive(Clone, PartialEq, Eq)]
pub struct PaymentNonce(String);

impl PaymentNonce {
    pub fn generate() -> Result<Self, shonin_keys::KeyError> {
        random_id::generate(PREFIX, "nonce").map(PaymentNonce)
    }

    /// Accepts exactly the form [`PaymentNonce::generate`] makes.
    pub fn parse(text: &str) -> Option<Self> {
        random_id::has_form(text, PREFIX).then(|| PaymentNonce(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the nonce in lowercase hex: its key in the store and its name in the audit
    /// log.
    pub fn digest(&self) -> String {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.0.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::fmt::Debug for PaymentNonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaymentNonce(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_nonces_parse_and_others_do_not() {
        let n = PaymentNonce::generate().unwrap();
        assert_eq!(n.as_str().len(), 28);
        assert_eq!(PaymentNonce::parse(n.as_str()), Some(n.clone()));
        assert_ne!(PaymentNonce::generate().unwrap(), n);
        assert_eq!(n.digest().len(), 64);
        assert_ne!(n.digest(), PaymentNonce::generate().unwrap().digest());
        assert!(!format!("{n:?}").contains(n.as_str()));
        for bad in [
            "",
            "nonce_",
            "nonce_short",
            "tok_AAAAAAAAAAAAAAAAAAAAAA",
            "nonce_AAAAAAAAAAAAAAAAAAAAA/",
            "nonce_AAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(PaymentNonce::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn digest_is_sha256_hex() {
        // SHA-256("nonce_AAAAAAAAAAAAAAAAAAAAAA"), computed with `printf %s … | sha256sum`.
        let n = PaymentNonce::parse("nonce_AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(
            n.digest(),
            "cac3c400fa2afb55ee34867245879872565a9f1743c03156cf480ddae6a0bcb2"
        );
    }
}
