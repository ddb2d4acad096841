//! A primary account number (PAN): checked (ISO/IEC 7812-1 length and Luhn digit), masked
//! wherever it is printed, zeroed when dropped. Shared by the ACS, the DS simulator and the vault.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A primary account number (`acctNumber` in 3-D Secure). `Debug` and `Display` show the first six
/// and last four digits at most (PCI DSS 3.4.1); the full number leaves only through `expose` and
/// serialisation; the memory is zeroed when it is dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pan(String);

impl Pan {
    pub fn new(digits: impl Into<String>) -> Self {
        Pan(digits.into())
    }

    /// A card number typed by a person: spaces are dropped; then 13–19 digits whose Luhn check
    /// digit holds (ISO/IEC 7812-1).
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let digits: String = text.chars().filter(|c| *c != ' ').collect();
        if !(13..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a card number is 13 to 19 digits");
        }
        let sum: u32 = digits
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                if i % 2 == 1 {
                    if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
                } else {
                    d
                }
            })
            .sum();
        if !sum.is_multiple_of(10) {
            return Err("the card number's check digit is wrong (Luhn)");
        }
        Ok(Pan(digits))
    }

    /// The full number, for routing by card range and for the vault. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        let s = &self.0;
        if s.len() >= 13 && s.is_ascii() {
            format!(
                "{}{}{}",
                &s[..6],
                "*".repeat(s.len() - 10),
                &s[s.len() - 4..]
            )
        } else {
            "*".repeat(s.chars().count())
        }
    }
}

impl Drop for Pan {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}
