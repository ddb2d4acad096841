//! ISO 4217 currencies with their minor units: the number of fraction digits an amount in that
//! currency may have (JPY 0, EUR 2, KWD 3). A code outside this list is refused, so an amount is
//! never shown or signed with a precision its currency does not have.

/// One currency: its alphabetic code and its minor unit (ISO 4217 "E" column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    /// The currency with this alphabetic code (three upper-case letters), if ISO 4217 lists it
    /// as a currency with a minor unit (funds codes with minor units are included; precious
    /// metals, testing and "no currency" codes are not).
    pub fn from_code(code: &str) -> Option<Self> {
        BY_EXPONENT.iter().find_map(|(exponent, codes)| {
            codes.iter().find(|c| **c == code).map(|c| Currency {
                code: c,
                exponent: *exponent,
            })
        })
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// The number of fraction digits of an amount in this currency.
    pub fn exponent(self) -> u8 {
        self.exponent
    }

    /// The symbol shown before an amount, for the currencies whose symbol is unambiguous on a
    /// page in English or Japanese; `None` shows the code instead.
    pub fn symbol(self) -> Option<&'static str> {
        match self.code {
            "EUR" => Some("€"),
            "JPY" => Some("¥"),
            "USD" => Some("$"),
            "GBP" => Some("£"),
            _ => None,
        }
    }
}

/// ISO 4217 (list one, 2026) by minor unit: the currencies with 0, 3, 4 and 2 fraction digits.
const BY_EXPONENT: [(u8, &[&str]); 4] = [
    (
        0,
        &[
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
            "VND", "VUV", "XAF", "XOF", "XPF",
        ],
    ),
    (3, &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]),
    (4, &["CLF", "UYW"]),
    (
        2,
        &[
            "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
            "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
            "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP",
            "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD",
            "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES",
            "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL",
            "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR",
            "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR",
            "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
            "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP",
            "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU", "UZS", "VED", "VES", "WST",
            "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_code_is_listed_twice() {
        let mut all: Vec<&str> = BY_EXPONENT
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        let e = |c| Currency::from_code(c).map(Currency::exponent);
        assert_eq!(e("JPY"), Some(0));
        assert_eq!(e("EUR"), Some(2));
        assert_eq!(e("KWD"), Some(3));
        assert_eq!(e("CLF"), Some(4));
        for refused in ["XAU", "XXX", "XTS", "eur", "EURO", "", "€"] {
            assert_eq!(e(refused), None, "{refused}");
        }
    }

    #[test]
    fn every_listed_code_is_accepted() {
        for (exponent, codes) in BY_EXPONENT {
            for code in codes {
                let c = Currency::from_code(code).unwrap();
                assert_eq!((c.code(), c.exponent()), (*code, exponent));
            }
        }
    }
}
