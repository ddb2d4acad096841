//! The random identifiers the vault hands out: a prefix, then 22 base64url characters (128
//! random bits). The prefix says what it is; the letters keep it from ever looking like a card
//! number.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const RANDOM_CHARS: usize = 22;

/// `prefix` and 128 fresh random bits; `what` names it in the error.
pub(crate) fn generate(prefix: &str, what: &str) -> Result<String, shonin_keys::KeyError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| shonin_keys::KeyError::Generate(format!("random {what}")))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Whether `text` has exactly the form [`generate`] makes with `prefix`.
pub(crate) fn has_form(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == RANDOM_CHARS
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}
