//! PCI DSS 3.3/3.5 checks for tests: find anything that looks like a card number.
#![allow(dead_code)]

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Every Luhn-valid run of 13–19 digits in `bytes` that stands alone (no letter or digit right
/// before or after it, so the digits inside hex hashes and identifiers do not count).
pub fn card_numbers(bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let run = &bytes[start..i];
        let alone = (start == 0 || !bytes[start - 1].is_ascii_alphanumeric())
            && (i == bytes.len() || !bytes[i].is_ascii_alphanumeric());
        if alone && (13..=19).contains(&run.len()) && luhn(run) {
            found.push(String::from_utf8_lossy(run).into_owned());
        }
    }
    found
}
