//! Who receives the money: a name and an account (an IBAN, or an identification in another
//! scheme). Checked once, when the transaction is created; the stored copy is what is shown and
//! signed.

use crate::error::TxnError;
use serde::{Deserialize, Serialize};

/// Longest payee name, reference and account identification, in characters (the ISO 20022
/// `Max140Text` and `Max34Text` sizes that RFC 9396's `payment_initiation` schema uses).
pub const MAX_NAME_CHARS: usize = 140;
pub const MAX_REFERENCE_CHARS: usize = 140;
pub const MAX_IDENTIFICATION_CHARS: usize = 34;
pub const MAX_SCHEME_CHARS: usize = 35;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payee {
    pub name: String,
    pub account: Account,
}

/// Exactly one of the two forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Account {
    /// Electronic format: upper case, no spaces, valid check digits.
    Iban(String),
    Other {
        scheme_name: String,
        identification: String,
    },
}

impl Payee {
    /// Checks a payee as a client sent it; names are trimmed, IBANs are upper-cased and their
    /// spaces removed first (the paper format a person types).
    pub fn validate(self) -> Result<Self, TxnError> {
        let name = displayable(&self.name, MAX_NAME_CHARS).ok_or(TxnError::Invalid(
            "payee.name",
            "1–140 displayable characters",
        ))?;
        let account = match self.account {
            Account::Iban(iban) => {
                let iban: String = iban
                    .chars()
                    .filter(|c| *c != ' ')
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
                if !shonin_types::iban::iban_checksum_ok(&iban) {
                    return Err(TxnError::Invalid(
                        "payee.account.iban",
                        "an IBAN with valid check digits",
                    ));
                }
                Account::Iban(iban)
            }
            Account::Other {
                scheme_name,
                identification,
            } => Account::Other {
                scheme_name: displayable(&scheme_name, MAX_SCHEME_CHARS).ok_or(
                    TxnError::Invalid(
                        "payee.account.other.scheme_name",
                        "1–35 displayable characters",
                    ),
                )?,
                identification: displayable(&identification, MAX_IDENTIFICATION_CHARS).ok_or(
                    TxnError::Invalid(
                        "payee.account.other.identification",
                        "1–34 displayable characters",
                    ),
                )?,
            },
        };
        Ok(Payee { name, account })
    }
}

impl Account {
    /// The account's kind, scheme and identification as signed: `("iban", "", "DE89…")` or
    /// `("other", scheme, identification)`; three fields, so no scheme can pass for an IBAN.
    pub fn signed_parts(&self) -> [&str; 3] {
        match self {
            Account::Iban(iban) => ["iban", "", iban],
            Account::Other {
                scheme_name,
                identification,
            } => ["other", scheme_name, identification],
        }
    }

    /// The account as a person reads it: an IBAN in groups of four, else `scheme: id`.
    pub fn display(&self) -> String {
        match self {
            Account::Iban(iban) => iban
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            Account::Other {
                scheme_name,
                identification,
            } => format!("{scheme_name}: {identification}"),
        }
    }
}

/// Checks an optional reference (remittance information): at most 140 displayable characters;
/// empty or blank is no reference.
pub fn validate_reference(reference: Option<String>) -> Result<Option<String>, TxnError> {
    match reference {
        None => Ok(None),
        Some(r) if r.trim().is_empty() => Ok(None),
        Some(r) => displayable(&r, MAX_REFERENCE_CHARS)
            .map(Some)
            .ok_or(TxnError::Invalid(
                "reference",
                "at most 140 displayable characters",
            )),
    }
}

/// `s` trimmed, if it is 1..=`max` characters none of which could make it read as something else.
fn displayable(s: &str, max: usize) -> Option<String> {
    let s = s.trim();
    let n = s.chars().count();
    ((1..=max).contains(&n) && shonin_types::text::is_displayable(s)).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iban(name: &str, iban: &str) -> Payee {
        Payee {
            name: name.into(),
            account: Account::Iban(iban.into()),
        }
    }

    #[test]
    fn ibans_are_normalised_and_checked() {
        let p = iban(" Acme GmbH ", "de89 3704 0044 0532 0130 00")
            .validate()
            .unwrap();
        assert_eq!(p.name, "Acme GmbH");
        assert_eq!(p.account, Account::Iban("DE89370400440532013000".into()));
        assert_eq!(p.account.display(), "DE89 3704 0044 0532 0130 00");
        assert!(iban("Acme", "DE89370400440532013001").validate().is_err());
    }

    #[test]
    fn names_that_could_read_as_something_else_are_refused() {
        for name in ["", "  ", "Acme\u{202e}GmbH", "Acme\nGmbH", &"x".repeat(141)] {
            assert!(
                iban(name, "DE89370400440532013000").validate().is_err(),
                "{name:?}"
            );
        }
        assert!(
            iban(&"承".repeat(140), "DE89370400440532013000")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn another_scheme_cannot_pass_for_an_iban() {
        let other = Account::Other {
            scheme_name: "iban".into(),
            identification: "DE89370400440532013000".into(),
        };
        let iban = Account::Iban("DE89370400440532013000".into());
        assert_ne!(other.signed_parts(), iban.signed_parts());
    }

    #[test]
    fn references_are_optional_and_bounded() {
        assert_eq!(validate_reference(None).unwrap(), None);
        assert_eq!(validate_reference(Some(" ".into())).unwrap(), None);
        assert_eq!(
            validate_reference(Some("Invoice 42".into())).unwrap(),
            Some("Invoice 42".into())
        );
        assert!(validate_reference(Some("x".repeat(141))).is_err());
        assert!(validate_reference(Some("a\u{2066}b".into())).is_err());
    }
}
