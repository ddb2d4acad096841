//! The one rule for text a person reads: names and values shown on pages, in consent screens and
//! in the admin tool. Characters that can make text read as something else are refused.

/// Characters refused in displayed text: Unicode `Cc` controls (C0, DEL, C1), the line and
/// paragraph separators (U+2028, U+2029), and the bidirectional formatting characters (U+061C,
/// U+200E/F, U+202A–U+202E, U+2066–U+2069; Unicode TR9 §2, and the "Trojan Source" attack,
/// CVE-2021-42574). Each can make a page show something other than what the value says: a
/// reordered payee or amount, another client's name, a hidden line.
pub fn refused_in_display(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Whether `s` holds none of the characters [`refused_in_display`] refuses.
pub fn is_displayable(s: &str) -> bool {
    !s.chars().any(refused_in_display)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_separators_and_bidi_formatting_are_unsafe() {
        for c in [
            '\0', '\n', '\r', '\t', '\u{7f}', '\u{85}', '\u{9f}', '\u{2028}', '\u{2029}',
            '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
        ] {
            assert!(refused_in_display(c), "{:?}", c);
        }
        for s in ["Acme Bank", "承認", "Zürich – €10", "مرحبا", "a\u{200d}b"] {
            assert!(is_displayable(s), "{s}");
        }
        assert!(!is_displayable("pay \u{202e}01$"));
    }
}
