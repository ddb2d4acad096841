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
        let exponent = match code {
            // Minor unit 0.
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            // Minor unit 3.
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            // Minor unit 4.
            "CLF" | "UYW" => 4,
            c if TWO_DIGIT.binary_search(&c).is_ok() => 2,
            _ => return None,
        };
        let code = ALL_CODES.iter().copied().find(|c| *c == code)?;
        Some(Currency { code, exponent })
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

/// Currencies whose minor unit is 2, sorted (ISO 4217 list one, 2026).
const TWO_DIGIT: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BMD",
    "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF",
    "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL",
    "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
    "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD",
    "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU", "UZS", "VED",
    "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
];

/// Every code [`Currency::from_code`] accepts, so the returned code is `'static`.
const ALL_CODES: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF", "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND", "CLF", "UYW",
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BMD",
    "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF",
    "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL",
    "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
    "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD",
    "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU", "UZS", "VED",
    "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_digit_list_is_sorted_for_binary_search() {
        assert!(TWO_DIGIT.windows(2).all(|w| w[0] < w[1]));
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
        for code in ALL_CODES {
            assert_eq!(Currency::from_code(code).map(Currency::code), Some(*code));
        }
    }
}
