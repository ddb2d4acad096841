//! A payment amount: a positive decimal in a currency's minor unit, with one canonical text (what
//! is signed) and one formatted text per page language (what is shown). Both come from the same
//! integer, so they cannot disagree.

use crate::currency::Currency;
use crate::error::TxnError;

/// The most integer digits an amount may have (RFC 9396's `payment_initiation` schema allows 15).
pub const MAX_INTEGER_DIGITS: usize = 15;

/// A page language for formatted values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    Ja,
}

/// A positive amount of money: `minor` units of `currency` (cents for EUR, yen for JPY). Stored
/// and sent as `{"value": "123.50", "currency": "EUR"}`, and checked again whenever it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "AmountJson", into = "AmountJson")]
pub struct Amount {
    minor: u128,
    currency: Currency,
}

impl Amount {
    /// Parses `value` in `currency`: digits, optionally a point and at most the currency's
    /// minor-unit digits; no sign, exponent, spaces or leading zeros; greater than zero.
    /// `"123.5"` EUR is 123.50 EUR; `"1.5"` JPY is refused (the yen has no fraction).
    pub fn parse(value: &str, currency: &str) -> Result<Self, TxnError> {
        let currency = Currency::from_code(currency).ok_or(TxnError::Invalid(
            "currency",
            "an ISO 4217 alphabetic code with a minor unit, e.g. EUR or JPY",
        ))?;
        let bad = TxnError::Invalid(
            "amount",
            "a decimal greater than zero, no sign or exponent, at most the currency's fraction digits",
        );
        let (int, frac) = match value.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (value, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || int.len() > MAX_INTEGER_DIGITS || (int.len() > 1 && int.starts_with('0'))
        {
            return Err(bad);
        }
        let exponent = usize::from(currency.exponent());
        let frac = match frac {
            None => "",
            Some(f) if digits(f) && f.len() <= exponent => f,
            Some(_) => return Err(bad),
        };
        // 15 integer digits and at most 4 fraction digits fit in u128 many times over.
        let mut minor: u128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            minor = minor * 10 + u128::from(b - b'0');
        }
        for _ in frac.len()..exponent {
            minor *= 10;
        }
        if minor == 0 {
            return Err(bad);
        }
        Ok(Amount { minor, currency })
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The canonical decimal: exactly the currency's fraction digits, no grouping
    /// (`12000` JPY, `123.50` EUR). This is what is signed.
    pub fn canonical(&self) -> String {
        let (int, frac) = self.split();
        if frac.is_empty() {
            int
        } else {
            format!("{int}.{frac}")
        }
    }

    /// The amount as a person reads it in `locale`: grouped thousands, the currency's symbol
    /// where it is unambiguous (`¥12,000`, `€123.50`; `12,000円` in Japanese), else its code
    /// (`CHF 1,234.00`).
    pub fn display(&self, locale: Locale) -> String {
        let (int, frac) = self.split();
        let mut number = group_thousands(&int);
        if !frac.is_empty() {
            number.push('.');
            number.push_str(&frac);
        }
        match (locale, self.currency.code(), self.currency.symbol()) {
            (Locale::Ja, "JPY", _) => format!("{number}円"),
            (_, _, Some(symbol)) => format!("{symbol}{number}"),
            (_, code, None) => format!("{code}\u{a0}{number}"),
        }
    }

    /// The integer part and the fraction digits (zero-padded to the exponent).
    fn split(&self) -> (String, String) {
        let exponent = usize::from(self.currency.exponent());
        let digits = format!("{:0width$}", self.minor, width = exponent + 1);
        let (int, frac) = digits.split_at(digits.len() - exponent);
        (int.to_owned(), frac.to_owned())
    }
}

/// An amount as JSON: the decimal as a string (never a JSON number, which would be a float).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountJson {
    pub value: String,
    pub currency: String,
}

impl TryFrom<AmountJson> for Amount {
    type Error = TxnError;

    fn try_from(j: AmountJson) -> Result<Self, TxnError> {
        Amount::parse(&j.value, &j.currency)
    }
}

impl From<Amount> for AmountJson {
    fn from(a: Amount) -> Self {
        AmountJson {
            value: a.canonical(),
            currency: a.currency.code().to_owned(),
        }
    }
}

fn group_thousands(int: &str) -> String {
    let mut out = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(v: &str, c: &str) -> Amount {
        Amount::parse(v, c).unwrap()
    }

    #[test]
    fn canonical_text_has_exactly_the_currency_fraction_digits() {
        assert_eq!(amount("12000", "JPY").canonical(), "12000");
        assert_eq!(amount("123.5", "EUR").canonical(), "123.50");
        assert_eq!(amount("123.50", "EUR").canonical(), "123.50");
        assert_eq!(amount("1", "KWD").canonical(), "1.000");
        assert_eq!(amount("0.01", "EUR").canonical(), "0.01");
        assert_eq!(
            amount("999999999999999.99", "USD").canonical(),
            "999999999999999.99"
        );
    }

    #[test]
    fn the_same_value_written_two_ways_is_one_amount() {
        assert_eq!(amount("123.5", "EUR"), amount("123.50", "EUR"));
        assert_ne!(amount("123.50", "EUR"), amount("123.50", "USD"));
    }

    #[test]
    fn malformed_or_non_positive_amounts_are_refused() {
        for (v, c) in [
            ("0", "EUR"),
            ("0.00", "EUR"),
            ("-1", "EUR"),
            ("+1", "EUR"),
            ("1.234", "EUR"),
            ("1.5", "JPY"),
            ("1.", "EUR"),
            (".5", "EUR"),
            ("01", "EUR"),
            ("1e3", "EUR"),
            ("1,000", "EUR"),
            (" 1", "EUR"),
            ("1 ", "EUR"),
            ("١٢", "EUR"),
            ("", "EUR"),
            ("1000000000000000", "EUR"),
            ("1", "XAU"),
            ("1", "eur"),
        ] {
            assert!(Amount::parse(v, c).is_err(), "{v} {c}");
        }
    }

    #[test]
    fn display_follows_the_page_language() {
        assert_eq!(amount("12000", "JPY").display(Locale::En), "¥12,000");
        assert_eq!(amount("12000", "JPY").display(Locale::Ja), "12,000円");
        assert_eq!(amount("123.5", "EUR").display(Locale::En), "€123.50");
        assert_eq!(amount("123.5", "EUR").display(Locale::Ja), "€123.50");
        assert_eq!(
            amount("1234567.8", "CHF").display(Locale::En),
            "CHF\u{a0}1,234,567.80"
        );
        assert_eq!(amount("100", "USD").display(Locale::En), "$100.00");
    }
}
