//! The card security code (CVV2, CVC2, CID): sensitive authentication data. PCI DSS v4.0.1
//! 3.3.1.2 forbids keeping it after authorisation, even encrypted; 3.3.2 demands strong
//! cryptography for it before. The vault holds one only sealed, only for minutes, and hands it
//! out once (`Vault::detokenize` takes it).

use crate::Brand;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(transparent)]
pub struct Cvv(String);

impl Cvv {
    /// Three digits; four for American Express, whose CID has four.
    pub fn parse(text: &str, brand: Brand) -> Result<Self, &'static str> {
        let (len, rule) = if brand == Brand::Amex {
            (4, "must be 4 digits for this card")
        } else {
            (3, "must be 3 digits for this card")
        };
        if text.len() != len || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(rule);
        }
        Ok(Cvv(text.to_owned()))
    }

    /// The digits, for the one answer that carries them. Never log them.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Cvv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cvv(***)")
    }
}

impl Drop for Cvv {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_follows_the_brand_and_debug_hides_the_digits() {
        assert_eq!(Cvv::parse("123", Brand::Visa).unwrap().expose(), "123");
        assert_eq!(Cvv::parse("1234", Brand::Amex).unwrap().expose(), "1234");
        for (bad, brand) in [
            ("12", Brand::Visa),
            ("1234", Brand::Visa),
            ("123", Brand::Amex),
            ("12a", Brand::Mastercard),
            (" 123", Brand::Visa),
            ("١٢٣", Brand::Visa),
        ] {
            assert!(Cvv::parse(bad, brand).is_err(), "{bad}");
        }
        let dbg = format!("{:?}", Cvv::parse("737", Brand::Visa).unwrap());
        assert_eq!(dbg, "Cvv(***)");
    }
}
