//! Card ranges an ACS serves, the card scheme of each, and the ECI each scheme defines for an
//! outcome (ECI values are the schemes', not EMVCo's).

use crate::message::Pan;

/// The card scheme of a range: it decides the ECI values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Visa,
    Mastercard,
    Amex,
    Jcb,
    Discover,
}

/// What an authentication proved, as far as the ECI says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EciOutcome {
    /// `transStatus` Y.
    Authenticated,
    /// `transStatus` A.
    Attempted,
}

impl Scheme {
    /// The ECI for `outcome`: Visa, Amex, JCB and Discover 05 / 06; Mastercard 02 / 01.
    pub fn eci(self, outcome: EciOutcome) -> &'static str {
        match (self, outcome) {
            (Scheme::Mastercard, EciOutcome::Authenticated) => "02",
            (Scheme::Mastercard, EciOutcome::Attempted) => "01",
            (_, EciOutcome::Authenticated) => "05",
            (_, EciOutcome::Attempted) => "06",
        }
    }
}

/// The bounds of a range of card numbers (PReq/PRes `startRange`..`endRange`, 13–19 digits
/// each), inclusive. A number matches when its length lies between the bounds' lengths and,
/// padded to 19 digits, it lies between the start padded with zeros and the end padded with
/// nines: a 16-digit range covers exactly the 16-digit numbers it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounds {
    start: String,
    end: String,
    lengths: (usize, usize),
}

impl Bounds {
    pub fn new(start: &str, end: &str) -> Result<Self, &'static str> {
        let digits =
            |s: &str| (13..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(start) || !digits(end) {
            return Err("a range bound is 13 to 19 digits");
        }
        let bounds = Bounds {
            start: pad(start, b'0'),
            end: pad(end, b'9'),
            lengths: (start.len().min(end.len()), start.len().max(end.len())),
        };
        if bounds.start > bounds.end {
            return Err("the range starts after it ends");
        }
        Ok(bounds)
    }

    /// Whether the two ranges share a card number.
    pub fn overlaps(&self, other: &Bounds) -> bool {
        self.lengths.0 <= other.lengths.1
            && other.lengths.0 <= self.lengths.1
            && self.start <= other.end
            && other.start <= self.end
    }

    pub fn contains(&self, pan: &Pan) -> bool {
        let digits = pan.expose();
        if !(self.lengths.0..=self.lengths.1).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return false;
        }
        let padded = pad(digits, b'0');
        self.start <= padded && padded <= self.end
    }

    pub fn start(&self) -> &str {
        self.start.trim_end_matches('0')
    }

    /// Orders ranges so that of two nested ones the inner comes first: the later start, then
    /// the earlier end.
    pub fn specificity(&self) -> (std::cmp::Reverse<&str>, &str) {
        (std::cmp::Reverse(self.start.as_str()), self.end.as_str())
    }
}

/// A range of card numbers an ACS serves, with its scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardRange {
    pub bounds: Bounds,
    pub scheme: Scheme,
}

impl CardRange {
    pub fn new(start: &str, end: &str, scheme: Scheme) -> Result<Self, &'static str> {
        Ok(CardRange {
            bounds: Bounds::new(start, end)?,
            scheme,
        })
    }

    /// Whether the two ranges share a card number.
    pub fn overlaps(&self, other: &CardRange) -> bool {
        self.bounds.overlaps(&other.bounds)
    }

    pub fn contains(&self, pan: &Pan) -> bool {
        self.bounds.contains(pan)
    }

    pub fn start(&self) -> &str {
        self.bounds.start()
    }
}

fn pad(digits: &str, fill: u8) -> String {
    let mut s = digits.to_owned();
    while s.len() < 19 {
        s.push(char::from(fill));
    }
    s
}

/// The first range holding `pan`.
pub fn find_range<'a>(ranges: &'a [CardRange], pan: &Pan) -> Option<&'a CardRange> {
    ranges.iter().find(|r| r.contains(pan))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_holds_the_numbers_between_its_bounds() {
        let r = CardRange::new("4012000000006000", "4012000000006999", Scheme::Visa).unwrap();
        assert!(r.contains(&Pan::new("4012000000006000")));
        assert!(r.contains(&Pan::new("4012000000006999")));
        assert!(!r.contains(&Pan::new("4012000000007000")));
        assert!(!r.contains(&Pan::new("4012000000005999")));
        assert!(
            !r.contains(&Pan::new("40120000000060")),
            "a shorter number below the start"
        );
        assert!(!r.contains(&Pan::new("4012-0000")));
        assert!(CardRange::new("5", "6", Scheme::Visa).is_err());
        let next = CardRange::new("4012000000006999", "4012000000007999", Scheme::Visa).unwrap();
        let apart = CardRange::new("4012000000007000", "4012000000007999", Scheme::Visa).unwrap();
        assert!(r.overlaps(&next) && next.overlaps(&r));
        assert!(!r.overlaps(&apart));
        assert!(CardRange::new("4012000000006999", "4012000000006000", Scheme::Visa).is_err());
    }

    #[test]
    fn eci_per_scheme() {
        assert_eq!(Scheme::Visa.eci(EciOutcome::Authenticated), "05");
        assert_eq!(Scheme::Visa.eci(EciOutcome::Attempted), "06");
        assert_eq!(Scheme::Mastercard.eci(EciOutcome::Authenticated), "02");
        assert_eq!(Scheme::Mastercard.eci(EciOutcome::Attempted), "01");
    }
}
