//! Card tokens: `tok_` and 22 base64url characters (128 random bits). A token carries nothing
//! about the card; it contains letters, so it is never mistaken for a card number.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

const PREFIX: &str = "tok_";
const RANDOM_CHARS: usize = 22;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardToken(String);

impl CardToken {
    pub fn generate() -> Result<Self, shonin_keys::KeyError> {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| shonin_keys::KeyError::Generate("random token".into()))?;
        Ok(CardToken(format!(
            "{PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// Accepts exactly the form [`CardToken::generate`] makes.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(PREFIX)?;
        (rest.len() == RANDOM_CHARS
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| CardToken(text.to_owned()))
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
