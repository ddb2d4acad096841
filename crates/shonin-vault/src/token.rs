//! Card tokens: `tok_` and 22 base64url characters (128 random bits). A token carries nothing
//! about the card; it contains letters, so it is never mistaken for a card number.

use crate::random_id;
use std::fmt;

const PREFIX: &str = "tok_";

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardToken(String);

impl CardToken {
    pub fn generate() -> Result<Self, shonin_keys::KeyError> {
        random_id::generate(PREFIX, "token").map(CardToken)
    }

    /// Accepts exactly the form [`CardToken::generate`] makes.
    pub fn parse(text: &str) -> Option<Self> {
        random_id::has_form(text, PREFIX).then(|| CardToken(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardToken({})", self.0)
    }
}

impl fmt::Display for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_others_do_not() {
        let t = CardToken::generate().unwrap();
        assert_eq!(t.as_str().len(), 26);
        assert_eq!(CardToken::parse(t.as_str()), Some(t.clone()));
        assert_ne!(CardToken::generate().unwrap(), t);
        for bad in [
            "",
            "tok_",
            "tok_short",
            "TOK_AAAAAAAAAAAAAAAAAAAAAA",
            "tok_AAAAAAAAAAAAAAAAAAAAA/",
            "tok_AAAAAAAAAAAAAAAAAAAAAAA",
            "4111111111111111",
        ] {
            assert!(CardToken::parse(bad).is_none(), "{bad}");
        }
    }
}
