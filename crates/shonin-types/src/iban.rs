//! The IBAN check digits (ISO 13616-1, ISO 7064 MOD 97-10), which a JSON Schema cannot express.
//!
//! Only the checksum is verified here; the shape (country code, two digits, up to 30 upper-case
//! alphanumerics) is the schema's job. Per-country lengths and BBAN formats are not checked: the
//! bank's payment engine, which knows its own reachability rules, does that.

/// The shortest and longest IBAN in electronic format (two letters, two digits, 1–30 more).
const LEN: std::ops::RangeInclusive<usize> = 5..=34;

/// True if `iban` (electronic format: no spaces, upper case) has valid check digits: moving the
/// first four characters to the end and reading letters as 10..35, the number is 1 mod 97.
pub fn iban_checksum_ok(iban: &str) -> bool {
    // ASCII first: `split_at` on a byte index must not land inside a multi-byte character.
    if !iban.is_ascii() || !LEN.contains(&iban.len()) {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut remainder: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let value = match c {
            '0'..='9' => u32::from(c) - u32::from('0'),
            'A'..='Z' => u32::from(c) - u32::from('A') + 10,
            _ => return false,
        };
        // Letters expand to two digits; the remainder stays below 97, so no overflow.
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_input_is_rejected_without_panicking() {
        assert!(!iban_checksum_ok("DE0\u{e9}12345"));
        assert!(!iban_checksum_ok("DE89370400440532013\u{e9}"));
    }

    #[test]
    fn published_example_ibans_pass() {
        // RFC 9396 §2.2 example and well-known registry examples.
        for iban in [
            "DE02100100109307118603",
            "GB82WEST12345698765432",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "BE68539007547034",
        ] {
            assert!(iban_checksum_ok(iban), "{iban}");
        }
    }

    #[test]
    fn one_changed_digit_or_swapped_pair_fails() {
        for iban in [
            "DE02100100109307118604",
            "DE20100100109307118603",
            "GB82WEST12345698765423",
            "GB82WEST1234569876543",
        ] {
            assert!(!iban_checksum_ok(iban), "{iban}");
        }
    }

    #[test]
    fn wrong_alphabet_or_length_fails_without_panicking() {
        for iban in [
            "",
            "DE0",
            "de02100100109307118603",
            "DE02 1001 0010 9307 1186 03",
            "DE02100100109307118603\u{e9}",
            &"1".repeat(35),
        ] {
            assert!(!iban_checksum_ok(iban), "{iban:?}");
        }
    }
}
