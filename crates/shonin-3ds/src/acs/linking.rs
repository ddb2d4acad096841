//! Dynamic linking for the 3-D Secure challenge (PSD2 RTS Art. 5(1)): the WebAuthn challenge a
//! cardholder's passkey signs is SHA-256 over the purchase the challenge page shows — merchant,
//! amount, currency — with the ACS's transaction ID, a server nonce and the deadline, behind the
//! purpose tag `shonin-3ds-v1`.
//!
//! The encoding is the one of transaction signing (`shonin_txn::linking`): each field as its
//! UTF-8 length (4 bytes, big-endian) and its bytes, in a fixed order. The tag differs, so a
//! card purchase's assertion can never approve a transfer or sign anyone in, nor the reverse.
//! The page shows [`PurchaseChallenge::display`], made from the same fields.

use aws_lc_rs::digest::{SHA256, digest};

use super::store::Purchase;

/// The purpose tag of a 3-D Secure challenge, version 1.
pub const PURPOSE_TAG: &str = "shonin-3ds-v1";

/// The data a 3-D Secure passkey challenge signs.
#[derive(Debug, Clone, Copy)]
pub struct PurchaseChallenge<'a> {
    pub acs_trans_id: &'a str,
    pub purchase: &'a Purchase,
    /// The server's nonce for this challenge (base64url, 32 random bytes).
    pub nonce: &'a str,
    /// The challenge's deadline, unix seconds.
    pub expires_at: i64,
}

/// What the challenge page shows of a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownPurchase {
    pub merchant: String,
    /// `12,000 JPY`, `123.45 EUR`; a currency without a known code reads `123.45 (978)`.
    pub amount: String,
}

impl PurchaseChallenge<'_> {
    fn fields(&self) -> [&str; 7] {
        [
            PURPOSE_TAG,
            self.acs_trans_id,
            &self.purchase.merchant_name,
            &self.purchase.amount,
            &self.purchase.currency,
            &self.purchase.exponent,
            self.nonce,
        ]
    }

    /// The canonical encoding: each field as `u32be(len) ‖ utf8`, the deadline last.
    pub fn encode(&self) -> Vec<u8> {
        let expiry = self.expires_at.to_string();
        let mut out = Vec::with_capacity(192);
        for field in self.fields().into_iter().chain([expiry.as_str()]) {
            // Every field is bounded by the AReq's rules (merchant name 40 characters).
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }

    /// The WebAuthn challenge: SHA-256 of [`Self::encode`].
    pub fn challenge(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, &self.encode()).as_ref());
        out
    }

    /// What the page shows: the merchant as the AReq named it, and the amount formatted with the
    /// purchase's own exponent.
    pub fn display(&self) -> ShownPurchase {
        shown(self.purchase)
    }
}

/// The merchant and formatted amount of `purchase` (the fields [`PurchaseChallenge`] signs).
pub fn shown(purchase: &Purchase) -> ShownPurchase {
    let exponent = purchase.exponent.parse::<usize>().unwrap_or(0);
    let digits = purchase.amount.trim_start_matches('0');
    let digits = format!("{digits:0>width$}", width = exponent + 1);
    let (units, minor) = digits.split_at(digits.len() - exponent);
    let mut grouped = String::with_capacity(units.len() + units.len() / 3);
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = if minor.is_empty() {
        grouped
    } else {
        format!("{grouped}.{minor}")
    };
    let amount = match alpha_code(&purchase.currency) {
        Some(code) => format!("{number} {code}"),
        None => format!("{number} ({})", purchase.currency),
    };
    ShownPurchase {
        merchant: purchase.merchant_name.clone(),
        amount,
    }
}

/// ISO 4217 alphabetic codes of the numeric codes card purchases most often carry.
pub fn alpha_code(numeric: &str) -> Option<&'static str> {
    const CODES: &[(&str, &str)] = &[
        ("036", "AUD"),
        ("124", "CAD"),
        ("156", "CNY"),
        ("208", "DKK"),
        ("344", "HKD"),
        ("356", "INR"),
        ("392", "JPY"),
        ("410", "KRW"),
        ("484", "MXN"),
        ("554", "NZD"),
        ("578", "NOK"),
        ("643", "RUB"),
        ("702", "SGD"),
        ("752", "SEK"),
        ("756", "CHF"),
        ("826", "GBP"),
        ("840", "USD"),
        ("901", "TWD"),
        ("949", "TRY"),
        ("978", "EUR"),
        ("985", "PLN"),
        ("986", "BRL"),
    ];
    CODES.iter().find(|(n, _)| *n == numeric).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(merchant: &str, amount: &str, currency: &str, exponent: &str) -> Purchase {
        Purchase {
            merchant_name: merchant.into(),
            amount: amount.into(),
            currency: currency.into(),
            exponent: exponent.into(),
        }
    }

    fn challenge(p: &Purchase, nonce: &str) -> [u8; 32] {
        PurchaseChallenge {
            acs_trans_id: "f888079d-dae8-4a18-81b0-be6e77355e71",
            purchase: p,
            nonce,
            expires_at: 1_800_000_000,
        }
        .challenge()
    }

    #[test]
    fn every_signed_field_changes_the_challenge() {
        let base = purchase("Tokyo Books", "12000", "392", "0");
        let c = challenge(&base, "n1");
        for other in [
            purchase("Tokyo Book", "12000", "392", "0"),
            purchase("Tokyo Books", "12001", "392", "0"),
            purchase("Tokyo Books", "12000", "840", "0"),
            purchase("Tokyo Books", "12000", "392", "2"),
        ] {
            assert_ne!(challenge(&other, "n1"), c, "{other:?}");
        }
        assert_ne!(challenge(&base, "n2"), c);
        let moved = PurchaseChallenge {
            acs_trans_id: "f888079d-dae8-4a18-81b0-be6e77355e71",
            purchase: &base,
            nonce: "n1",
            expires_at: 1_800_000_001,
        };
        assert_ne!(moved.challenge(), c);
    }

    #[test]
    fn the_encoding_starts_with_the_purpose_tag_and_is_length_prefixed() {
        let p = purchase("A", "1", "978", "2");
        let bytes = PurchaseChallenge {
            acs_trans_id: "t",
            purchase: &p,
            nonce: "n",
            expires_at: 5,
        }
        .encode();
        assert_eq!(&bytes[..4], &13u32.to_be_bytes());
        assert_eq!(&bytes[4..17], b"shonin-3ds-v1");
        // Moving a character between neighbouring fields changes the bytes.
        let q = purchase("A1", "", "978", "2");
        let other = PurchaseChallenge {
            acs_trans_id: "t",
            purchase: &q,
            nonce: "n",
            expires_at: 5,
        }
        .encode();
        assert_ne!(bytes, other);
        assert_ne!(PURPOSE_TAG, "shonin-txn-v1");
    }

    #[test]
    fn amounts_are_shown_with_their_own_exponent() {
        let cases = [
            (("12000", "392", "0"), "12,000 JPY"),
            (("12350", "978", "2"), "123.50 EUR"),
            (("63551", "643", "2"), "635.51 RUB"),
            (("5", "840", "2"), "0.05 USD"),
            (("000123456789", "826", "2"), "1,234,567.89 GBP"),
            (("1000", "999", "3"), "1.000 (999)"),
            (("0", "392", "0"), "0 JPY"),
        ];
        for ((amount, currency, exponent), want) in cases {
            let shown = shown(&purchase("M", amount, currency, exponent));
            assert_eq!(shown.amount, want, "{amount} {currency} {exponent}");
        }
    }
}
