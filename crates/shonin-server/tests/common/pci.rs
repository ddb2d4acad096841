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

/// Every place in `bytes` where a security code could be written out: `cvv`, `cvc` or `csc` (any
/// case) followed, after at most six characters of punctuation or space, by 3 or 4 digits that
/// stand alone. A bare three-digit number cannot be told from any other, so this looks for the
/// code with its name, as a log line or a JSON document would carry it.
pub fn cvv_members(bytes: &[u8]) -> Vec<String> {
    let lower: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
    let mut found = Vec::new();
    for start in 0..lower.len().saturating_sub(3) {
        let name = &lower[start..start + 3];
        if name != b"cvv" && name != b"cvc" && name != b"csc" {
            continue;
        }
        let mut i = start + 3;
        let mut gap = 0;
        while i < lower.len() && gap < 6 && matches!(lower[i], b'"' | b':' | b'=' | b' ' | b'\'') {
            i += 1;
            gap += 1;
        }
        let digits = lower[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let after = lower.get(i + digits);
        if (3..=4).contains(&digits) && !after.is_some_and(u8::is_ascii_alphanumeric) {
            found.push(String::from_utf8_lossy(&bytes[start..i + digits]).into_owned());
        }
    }
    found
}

/// Scans every file directly in `dir` (a test node's data directory, after its store closed):
/// how many files were read, and each card number or named security code found, with its file.
pub fn scan_dir(dir: &std::path::Path) -> (usize, Vec<String>) {
    let mut files = 0;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            for hit in card_numbers(&bytes).into_iter().chain(cvv_members(&bytes)) {
                found.push(format!("{}: {hit}", path.display()));
            }
        }
    }
    (files, found)
}
