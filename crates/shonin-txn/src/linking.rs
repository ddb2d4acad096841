//! Dynamic linking (PSD2 RTS Art. 5(1), OWASP Transaction Authorization 1.1): the WebAuthn
//! challenge that approves a transaction is SHA-256 over a canonical encoding of the data the
//! user is shown — payee, account, amount, currency, reference — and the transaction's id, a
//! server nonce and the approval deadline, behind a purpose tag.
//!
//! [`SignedData::fields`] is the one list both sides are made from: [`SignedData::encode`] (the
//! bytes hashed) and [`SignedData::display`] (the lines a page shows). Each field is written as
//! its UTF-8 length (4 bytes, big-endian) followed by its bytes, in a fixed order, so no two
//! different field lists encode alike. The tag `shonin-txn-v1` comes first: a sign-in challenge
//! (random bytes from the sign-in ceremony) or any other use of a passkey can never equal a
//! transaction challenge, and a transaction assertion can never sign anyone in (OWASP 1.4).

use crate::amount::{Amount, Locale};
use crate::payee::Payee;
use aws_lc_rs::digest::{SHA256, digest};

/// The purpose tag of a transaction approval challenge, version 1.
pub const PURPOSE_TAG: &str = "shonin-txn-v1";

/// The data a transaction approval signs.
#[derive(Debug, Clone, Copy)]
pub struct SignedData<'a> {
    pub transaction_id: &'a str,
    pub payee: &'a Payee,
    pub amount: &'a Amount,
    pub reference: Option<&'a str>,
    /// The server's nonce for this challenge (base64url, 32 random bytes).
    pub nonce: &'a str,
    /// The approval deadline, unix seconds.
    pub expires_at: i64,
}

/// One signed field: its name and its canonical text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: FieldName,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldName {
    Purpose,
    Transaction,
    PayeeName,
    AccountKind,
    AccountScheme,
    AccountIdentification,
    Amount,
    Currency,
    Reference,
    Nonce,
    Expiry,
}

/// What a page shows of a transaction, in this order, from the signed fields only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub payee: String,
    pub account: String,
    /// The amount formatted for the page's language (`€123.50`, `12,000円`).
    pub amount: String,
    pub reference: Option<String>,
}

impl SignedData<'_> {
    /// Every signed field, in encoding order.
    pub fn fields(&self) -> Vec<Field> {
        let [kind, scheme, identification] = self.payee.account.signed_parts();
        let f = |name, value: &str| Field {
            name,
            value: value.to_owned(),
        };
        vec![
            f(FieldName::Purpose, PURPOSE_TAG),
            f(FieldName::Transaction, self.transaction_id),
            f(FieldName::PayeeName, &self.payee.name),
            f(FieldName::AccountKind, kind),
            f(FieldName::AccountScheme, scheme),
            f(FieldName::AccountIdentification, identification),
            f(FieldName::Amount, &self.amount.canonical()),
            f(FieldName::Currency, self.amount.currency().code()),
            f(FieldName::Reference, self.reference.unwrap_or_default()),
            f(FieldName::Nonce, self.nonce),
            f(FieldName::Expiry, &self.expires_at.to_string()),
        ]
    }

    /// The canonical encoding: each field as `u32be(len) ‖ utf8`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        for field in self.fields() {
            let bytes = field.value.as_bytes();
            // Every field is bounded far below 4 GiB (names 140 characters, ids 32 bytes).
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    /// The WebAuthn challenge: SHA-256 of [`Self::encode`].
    pub fn challenge(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, &self.encode()).as_ref());
        out
    }

    /// What the user is shown, built from [`Self::fields`]'s values: the payee's name, the
    /// account, the amount and currency formatted for `locale`, and the reference.
    pub fn display(&self, locale: Locale) -> Shown {
        let mut shown = Shown {
            payee: String::new(),
            account: self.payee.account.display(),
            amount: self.amount.display(locale),
            reference: None,
        };
        for field in self.fields() {
            match field.name {
                FieldName::PayeeName => shown.payee = field.value,
                FieldName::Reference if !field.value.is_empty() => {
                    shown.reference = Some(field.value)
                }
                _ => {}
            }
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payee::Account;

    fn payee(name: &str) -> Payee {
        Payee {
            name: name.into(),
            account: Account::Iban("DE89370400440532013000".into()),
        }
    }

    #[test]
    fn the_encoding_is_length_prefixed_in_a_fixed_order() {
        let (p, a) = (payee("Acme"), Amount::parse("12000", "JPY").unwrap());
        let data = SignedData {
            transaction_id: "t1",
            payee: &p,
            amount: &a,
            reference: None,
            nonce: "n",
            expires_at: 1_800_000_000,
        };
        let bytes = data.encode();
        let mut expected = Vec::new();
        for v in [
            "shonin-txn-v1",
            "t1",
            "Acme",
            "iban",
            "",
            "DE89370400440532013000",
            "12000",
            "JPY",
            "",
            "n",
            "1800000000",
        ] {
            expected.extend_from_slice(&(v.len() as u32).to_be_bytes());
            expected.extend_from_slice(v.as_bytes());
        }
        assert_eq!(bytes, expected);
    }

    #[test]
    fn any_change_to_a_signed_field_changes_the_challenge() {
        let (p, a) = (payee("Acme"), Amount::parse("123.50", "EUR").unwrap());
        let base = SignedData {
            transaction_id: "t1",
            payee: &p,
            amount: &a,
            reference: Some("Invoice 1"),
            nonce: "n",
            expires_at: 1,
        };
        let c = base.challenge();
        let (p2, a2, a3) = (
            payee("Acme Ltd"),
            Amount::parse("123.51", "EUR").unwrap(),
            Amount::parse("123.50", "USD").unwrap(),
        );
        let changed = [
            SignedData {
                transaction_id: "t2",
                ..base
            },
            SignedData { payee: &p2, ..base },
            SignedData {
                amount: &a2,
                ..base
            },
            SignedData {
                amount: &a3,
                ..base
            },
            SignedData {
                reference: Some("Invoice 2"),
                ..base
            },
            SignedData {
                reference: None,
                ..base
            },
            SignedData { nonce: "m", ..base },
            SignedData {
                expires_at: 2,
                ..base
            },
        ];
        for (i, d) in changed.iter().enumerate() {
            assert_ne!(d.challenge(), c, "change {i} kept the challenge");
        }
    }

    #[test]
    fn shifting_text_between_fields_changes_the_challenge() {
        let (a, b) = (payee("AB"), payee("A"));
        let amount = Amount::parse("1", "EUR").unwrap();
        let one = SignedData {
            transaction_id: "t",
            payee: &a,
            amount: &amount,
            reference: Some("C"),
            nonce: "n",
            expires_at: 1,
        };
        let two = SignedData {
            payee: &b,
            reference: Some("BC"),
            ..one
        };
        assert_ne!(one.challenge(), two.challenge());
    }

    #[test]
    fn what_is_shown_comes_from_the_signed_fields() {
        let (p, a) = (payee("Acme"), Amount::parse("12000", "JPY").unwrap());
        let data = SignedData {
            transaction_id: "t1",
            payee: &p,
            amount: &a,
            reference: Some("Rent"),
            nonce: "n",
            expires_at: 1,
        };
        let shown = data.display(Locale::Ja);
        assert_eq!(shown.payee, "Acme");
        assert_eq!(shown.account, "DE89 3704 0044 0532 0130 00");
        assert_eq!(shown.amount, "12,000円");
        assert_eq!(shown.reference.as_deref(), Some("Rent"));
    }
}
