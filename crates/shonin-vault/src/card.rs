//! Card data: what a client sends, what is sealed, and what is shown.

use crate::{Cvv, VaultError};
use serde::{Deserialize, Serialize};
use shonin_types::Pan;
use time::{Date, Month, OffsetDateTime};
use zeroize::Zeroize;

/// The card networks recognised from the number's first digits (issuer identification number
/// ranges as the networks publish them). Unknown ranges are `Other`; nothing is refused for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    Unionpay,
    Other,
}

impl Brand {
    pub fn of(pan: &Pan) -> Self {
        let d = pan.expose();
        let prefix = |n: usize| d.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
        match (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6)) {
            (4, ..) => Brand::Visa,
            (_, 51..=55, ..) | (_, _, _, 2221..=2720, _) => Brand::Mastercard,
            (_, 34 | 37, ..) => Brand::Amex,
            (_, _, _, 6011, _) | (_, 65, ..) | (_, _, 644..=649, ..) => Brand::Discover,
            (_, _, _, 3528..=3589, _) => Brand::Jcb,
            (_, 62, ..) => Brand::Unionpay,
            _ => Brand::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Discover => "discover",
            Brand::Jcb => "jcb",
            Brand::Unionpay => "unionpay",
            Brand::Other => "other",
        }
    }
}

/// The longest cardholder name kept (EMV's cardholder name is 2 – 26 characters; 3-D Secure's
/// `cardholderName` up to 45): anything longer is refused, not cut.
pub const MAX_NAME_CHARS: usize = 45;

/// A card as a client posts it (`POST /vault/cards`, `POST /vault/nonces`). Unknown members are
/// refused, never dropped silently. The `cvv` is held apart from the card, sealed and only until
/// the card's first detokenize (its authorisation), see [`crate::Cvv`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    pub pan: String,
    pub exp_month: u8,
    pub exp_year: u16,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub cvv: Option<String>,
}

impl std::fmt::Debug for CardInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardInput")
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .finish_non_exhaustive()
    }
}

impl Drop for CardInput {
    fn drop(&mut self) {
        self.pan.zeroize();
        if let Some(cvv) = self.cvv.as_mut() {
            cvv.zeroize();
        }
    }
}

/// The checked card: what is sealed.
#[derive(Serialize, Deserialize)]
pub struct CardData {
    pub pan: Pan,
    pub exp_month: u8,
    pub exp_year: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl std::fmt::Debug for CardData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardData")
            .field("pan", &self.pan)
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .finish_non_exhaustive()
    }
}

/// The largest request body a card comes in.
pub const MAX_INPUT_BYTES: usize = 4 * 1024;

impl CardInput {
    /// Reads a card from a request body: at most 4 KiB, a JSON object with unique member names
    /// and only the members of [`CardInput`]. The error is the rule broken.
    pub fn from_json(bytes: &[u8]) -> Result<Self, &'static str> {
        if bytes.len() > MAX_INPUT_BYTES {
            return Err("at most 4 KiB");
        }
        let v = shonin_types::json::from_slice(bytes)
            .ok()
            // serde reads a struct from an array too; only an object is taken.
            .filter(serde_json::Value::is_object)
            .ok_or("a JSON object with unique member names")?;
        serde_json::from_value(v)
            .map_err(|_| "{pan, exp_month, exp_year, name?, cvv?} and nothing else")
    }

    /// The security code, if one was sent: 3 digits, 4 for American Express.
    pub fn checked_cvv(&self, card: &CardData) -> Result<Option<Cvv>, VaultError> {
        self.cvv
            .as_deref()
            .map(|c| Cvv::parse(c, Brand::of(&card.pan)))
            .transpose()
            .map_err(|rule| VaultError::InvalidCard { field: "cvv", rule })
    }

    /// Checks the number (13 – 19 digits, Luhn), the expiry (a real month, not past at `now`,
    /// at most 20 years ahead) and the name (1 – 45 characters, no control characters).
    pub fn check(&self, now: OffsetDateTime) -> Result<CardData, VaultError> {
        let invalid = |field, rule| VaultError::InvalidCard { field, rule };
        let pan = Pan::parse(&self.pan).map_err(|rule| invalid("pan", rule))?;
        let month =
            Month::try_from(self.exp_month).map_err(|_| invalid("exp_month", "must be 1 to 12"))?;
        let year = i32::from(self.exp_year);
        if !(2000..=2099).contains(&year) {
            return Err(invalid("exp_year", "must be a four-digit year"));
        }
        // A card is valid through the last day of its expiry month.
        let last_day = Date::from_calendar_date(year, month, 1)
            .map(|d| d.month().length(year))
            .and_then(|len| Date::from_calendar_date(year, month, len))
            .map_err(|_| invalid("exp_month", "must be 1 to 12"))?;
        if last_day < now.date() {
            return Err(invalid("exp_year", "the card has expired"));
        }
        if year > now.year() + 20 {
            return Err(invalid("exp_year", "is more than 20 years ahead"));
        }
        let name = match &self.name {
            None => None,
            Some(n) => {
                let n = n.trim();
                if n.is_empty() || n.chars().count() > MAX_NAME_CHARS {
                    return Err(invalid("name", "must be 1 to 45 characters"));
                }
                if n.chars().any(char::is_control) {
                    return Err(invalid("name", "must not contain control characters"));
                }
                Some(n.to_owned())
            }
        };
        Ok(CardData {
            pan,
            exp_month: self.exp_month,
            exp_year: self.exp_year,
            name,
        })
    }
}

/// A card as shown to any client allowed to read it: the token, the brand, the first six and
/// last four digits (PCI DSS 3.4.1), and the expiry. Never the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardView {
    pub token: String,
    pub brand: Brand,
    pub first6: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-07 12:00 UTC);

    fn input(pan: &str, m: u8, y: u16, name: Option<&str>) -> CardInput {
        CardInput {
            pan: pan.into(),
            exp_month: m,
            exp_year: y,
            name: name.map(str::to_owned),
            cvv: None,
        }
    }

    #[test]
    fn a_valid_card_is_checked_and_printed_masked() {
        let c = input("4111 1111 1111 1111", 12, 2026, Some(" Jane Doe "))
            .check(NOW)
            .unwrap();
        assert_eq!(c.pan.expose(), "4111111111111111");
        assert_eq!(c.name.as_deref(), Some("Jane Doe"));
        let dbg = format!("{c:?}");
        assert!(
            dbg.contains("411111******1111") && !dbg.contains("4111111111111111"),
            "{dbg}"
        );
        assert!(!dbg.contains("Jane"), "{dbg}");
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        let cases = [
            (input("4111111111111112", 1, 2030, None), "pan"),
            (input("411111111111", 1, 2030, None), "pan"),
            (input("4111-1111-1111-1111", 1, 2030, None), "pan"),
            (input("4111111111111111", 0, 2030, None), "exp_month"),
            (input("4111111111111111", 13, 2030, None), "exp_month"),
            (input("4111111111111111", 11, 2026, None), "exp_year"),
            (input("4111111111111111", 1, 26, None), "exp_year"),
            (input("4111111111111111", 1, 2047, None), "exp_year"),
            (input("4111111111111111", 1, 2030, Some("")), "name"),
            (input("4111111111111111", 1, 2030, Some("a\u{7}b")), "name"),
            (
                input("4111111111111111", 1, 2030, Some(&"x".repeat(46))),
                "name",
            ),
        ];
        for (card, field) in cases {
            match card.check(NOW) {
                Err(VaultError::InvalidCard { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_cvv_is_checked_against_the_brand_and_never_printed() {
        let mut amex = input("378282246310005", 1, 2030, None);
        amex.cvv = Some("1234".into());
        let card = amex.check(NOW).unwrap();
        assert_eq!(amex.checked_cvv(&card).unwrap().unwrap().expose(), "1234");
        assert!(!format!("{amex:?}").contains("1234"));
        amex.cvv = Some("123".into());
        assert!(matches!(
            amex.checked_cvv(&card),
            Err(VaultError::InvalidCard { field: "cvv", .. })
        ));
        amex.cvv = None;
        assert!(amex.checked_cvv(&card).unwrap().is_none());
        let parsed = CardInput::from_json(
            br#"{"pan":"4111111111111111","exp_month":1,"exp_year":2030,"cvv":"737"}"#,
        )
        .unwrap();
        assert_eq!(parsed.cvv.as_deref(), Some("737"));
        assert!(
            CardInput::from_json(
                br#"{"pan":"4111111111111111","exp_month":1,"exp_year":2030,"cvc":"737"}"#
            )
            .is_err()
        );
        assert!(CardInput::from_json(br#"["4111111111111111",1,2030]"#).is_err());
    }

    #[test]
    fn brands_from_the_first_digits() {
        for (pan, brand) in [
            ("4111111111111111", Brand::Visa),
            ("5555555555554444", Brand::Mastercard),
            ("2223003122003222", Brand::Mastercard),
            ("378282246310005", Brand::Amex),
            ("6011111111111117", Brand::Discover),
            ("3530111333300000", Brand::Jcb),
            ("6200000000000005", Brand::Unionpay),
            ("9999999999999995", Brand::Other),
        ] {
            assert_eq!(Brand::of(&Pan::parse(pan).unwrap()), brand, "{pan}");
        }
    }
}
