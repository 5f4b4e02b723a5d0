//! ISO 4217 currency codes and their minor units: how many decimal places an amount in each currency has.

use std::fmt;

/// ISO 4217 List One (active codes), sorted by code, with each code's minor units. `None` is the standard's
/// "N.A.": precious metals, bond-market units, the SDR and the testing / no-currency codes, which have no
/// minor unit and cannot price an order. Funds with minor units (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW)
/// are listed like currencies.
///
/// Withdrawn codes are absent: among recent ones HRK (Croatia, euro 2023), MRO, STD, VEF, ZWL (replaced by ZWG,
/// 2024), SLL (redenominated to SLE), ANG (replaced by XCG, 2025) and BGN (Bulgaria, euro 2026).
const ISO_4217: [(&str, Option<u8>); 178] = [
    ("AED", Some(2)),
    ("AFN", Some(2)),
    ("ALL", Some(2)),
    ("AMD", Some(2)),
    ("AOA", Some(2)),
    ("ARS", Some(2)),
    ("AUD", Some(2)),
    ("AWG", Some(2)),
    ("AZN", Some(2)),
    ("BAM", Some(2)),
    ("BBD", Some(2)),
    ("BDT", Some(2)),
    ("BHD", Some(3)),
    ("BIF", Some(0)),
    ("BMD", Some(2)),
    ("BND", Some(2)),
    ("BOB", Some(2)),
    ("BOV", Some(2)),
    ("BRL", Some(2)),
    ("BSD", Some(2)),
    ("BTN", Some(2)),
    ("BWP", Some(2)),
    ("BYN", Some(2)),
    ("BZD", Some(2)),
    ("CAD", Some(2)),
    ("CDF", Some(2)),
    ("CHE", Some(2)),
    ("CHF", Some(2)),
    ("CHW", Some(2)),
    ("CLF", Some(4)),
    ("CLP", Some(0)),
    ("CNY", Some(2)),
    ("COP", Some(2)),
    ("COU", Some(2)),
    ("CRC", Some(2)),
    ("CUC", Some(2)),
    ("CUP", Some(2)),
    ("CVE", Some(2)),
    ("CZK", Some(2)),
    ("DJF", Some(0)),
    ("DKK", Some(2)),
    ("DOP", Some(2)),
    ("DZD", Some(2)),
    ("EGP", Some(2)),
    ("ERN", Some(2)),
    ("ETB", Some(2)),
    ("EUR", Some(2)),
    ("FJD", Some(2)),
    ("FKP", Some(2)),
    ("GBP", Some(2)),
    ("GEL", Some(2)),
    ("GHS", Some(2)),
    ("GIP", Some(2)),
    ("GMD", Some(2)),
    ("GNF", Some(0)),
    ("GTQ", Some(2)),
    ("GYD", Some(2)),
    ("HKD", Some(2)),
    ("HNL", Some(2)),
    ("HTG", Some(2)),
    ("HUF", Some(2)),
    ("IDR", Some(2)),
    ("ILS", Some(2)),
    ("INR", Some(2)),
    ("IQD", Some(3)),
    ("IRR", Some(2)),
    ("ISK", Some(0)),
    ("JMD", Some(2)),
    ("JOD", Some(3)),
    ("JPY", Some(0)),
    ("KES", Some(2)),
    ("KGS", Some(2)),
    ("KHR", Some(2)),
    ("KMF", Some(0)),
    ("KPW", Some(2)),
    ("KRW", Some(0)),
    ("KWD", Some(3)),
    ("KYD", Some(2)),
    ("KZT", Some(2)),
    ("LAK", Some(2)),
    ("LBP", Some(2)),
    ("LKR", Some(2)),
    ("LRD", Some(2)),
    ("LSL", Some(2)),
    ("LYD", Some(3)),
    ("MAD", Some(2)),
    ("MDL", Some(2)),
    ("MGA", Some(2)),
    ("MKD", Some(2)),
    ("MMK", Some(2)),
    ("MNT", Some(2)),
    ("MOP", Some(2)),
    ("MRU", Some(2)),
    ("MUR", Some(2)),
    ("MVR", Some(2)),
    ("MWK", Some(2)),
    ("MXN", Some(2)),
    ("MXV", Some(2)),
    ("MYR", Some(2)),
    ("MZN", Some(2)),
    ("NAD", Some(2)),
    ("NGN", Some(2)),
    ("NIO", Some(2)),
    ("NOK", Some(2)),
    ("NPR", Some(2)),
    ("NZD", Some(2)),
    ("OMR", Some(3)),
    ("PAB", Some(2)),
    ("PEN", Some(2)),
    ("PGK", Some(2)),
    ("PHP", Some(2)),
    ("PKR", Some(2)),
    ("PLN", Some(2)),
    ("PYG", Some(0)),
    ("QAR", Some(2)),
    ("RON", Some(2)),
    ("RSD", Some(2)),
    ("RUB", Some(2)),
    ("RWF", Some(0)),
    ("SAR", Some(2)),
    ("SBD", Some(2)),
    ("SCR", Some(2)),
    ("SDG", Some(2)),
    ("SEK", Some(2)),
    ("SGD", Some(2)),
    ("SHP", Some(2)),
    ("SLE", Some(2)),
    ("SOS", Some(2)),
    ("SRD", Some(2)),
    ("SSP", Some(2)),
    ("STN", Some(2)),
    ("SVC", Some(2)),
    ("SYP", Some(2)),
    ("SZL", Some(2)),
    ("THB", Some(2)),
    ("TJS", Some(2)),
    ("TMT", Some(2)),
    ("TND", Some(3)),
    ("TOP", Some(2)),
    ("TRY", Some(2)),
    ("TTD", Some(2)),
    ("TWD", Some(2)),
    ("TZS", Some(2)),
    ("UAH", Some(2)),
    ("UGX", Some(0)),
    ("USD", Some(2)),
    ("USN", Some(2)),
    ("UYI", Some(0)),
    ("UYU", Some(2)),
    ("UYW", Some(4)),
    ("UZS", Some(2)),
    ("VED", Some(2)),
    ("VES", Some(2)),
    ("VND", Some(0)),
    ("VUV", Some(0)),
    ("WST", Some(2)),
    ("XAF", Some(0)),
    ("XAG", None),
    ("XAU", None),
    ("XBA", None),
    ("XBB", None),
    ("XBC", None),
    ("XBD", None),
    ("XCD", Some(2)),
    ("XCG", Some(2)),
    ("XDR", None),
    ("XOF", Some(0)),
    ("XPD", None),
    ("XPF", Some(0)),
    ("XPT", None),
    ("XSU", None),
    ("XTS", None),
    ("XUA", None),
    ("XXX", None),
    ("YER", Some(2)),
    ("ZAR", Some(2)),
    ("ZMW", Some(2)),
    ("ZWG", Some(2)),
];

/// A currency an order can be priced in: an active ISO 4217 code with minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    minor_units: u32,
}

impl Currency {
    /// The three-letter code, upper case (`"USD"`).
    pub const fn code(self) -> &'static str {
        self.code
    }

    /// Decimal places of an amount: 2 for USD and EUR, 0 for JPY, 3 for KWD, 4 for CLF.
    pub const fn minor_units(self) -> u32 {
        self.minor_units
    }
}

/// Serialized as its code.
impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// Why a code is not a currency an order can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("{0:?} is not an active ISO 4217 currency code")]
    Unknown(String),
    #[error(
        "{0} is an ISO 4217 code without minor units (a metal, bond unit, SDR or testing code), not a currency an order can be priced in"
    )]
    NoMinorUnits(&'static str),
}

/// Looks a code up, ignoring ASCII case (`"usd"` is USD); the returned code is the canonical upper case one.
pub fn lookup(code: &str) -> Result<Currency, CurrencyError> {
    let upper = code.to_ascii_uppercase();
    let index = ISO_4217
        .binary_search_by(|(c, _)| (*c).cmp(upper.as_str()))
        .map_err(|_| CurrencyError::Unknown(code.to_owned()))?;
    let (code, minor_units) = ISO_4217[index];
    minor_units
        .map(|units| Currency {
            code,
            minor_units: u32::from(units),
        })
        .ok_or(CurrencyError::NoMinorUnits(code))
}

/// Every currency an order can be priced in, in code order.
pub fn all() -> impl Iterator<Item = Currency> {
    ISO_4217.iter().filter_map(|&(code, units)| {
        units.map(|u| Currency {
            code,
            minor_units: u32::from(u),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(code: &str) -> u32 {
        lookup(code).map(Currency::minor_units).unwrap_or(u32::MAX)
    }

    #[test]
    fn the_table_is_sorted_unique_and_well_formed() {
        assert!(
            ISO_4217.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted and without duplicates, so binary search finds every code"
        );
        for (code, units) in ISO_4217 {
            assert!(
                code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{code}"
            );
            assert!(units.is_none_or(|u| u <= 4), "{code}");
        }
    }

    #[test]
    fn common_currencies_have_their_minor_units() {
        assert_eq!(units("USD"), 2);
        assert_eq!(units("EUR"), 2);
        assert_eq!(units("GBP"), 2);
        assert_eq!(units("JPY"), 0);
        assert_eq!(units("KRW"), 0);
        assert_eq!(units("ISK"), 0);
        assert_eq!(units("XOF"), 0);
        assert_eq!(units("KWD"), 3);
        assert_eq!(units("BHD"), 3);
        assert_eq!(units("TND"), 3);
        assert_eq!(units("CLF"), 4);
        assert_eq!(units("UYW"), 4);
    }

    #[test]
    fn the_full_list_is_present_not_a_handful() {
        assert!(all().count() > 150);
        for code in [
            "AED", "ZWG", "XCG", "SLE", "VED", "VES", "MRU", "STN", "CHE", "USN",
        ] {
            assert!(lookup(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn lookup_ignores_case_and_returns_the_canonical_code() {
        assert_eq!(lookup("usd").map(Currency::code), Ok("USD"));
        assert_eq!(lookup("Jpy").map(|c| c.to_string()), Ok("JPY".to_owned()));
    }

    #[test]
    fn withdrawn_and_made_up_codes_are_unknown() {
        for code in [
            "HRK", "MRO", "VEF", "ZWL", "SLL", "DEM", "XYZ", "US", "USDT", "",
        ] {
            assert_eq!(
                lookup(code),
                Err(CurrencyError::Unknown(code.to_owned())),
                "{code}"
            );
        }
    }

    #[test]
    fn codes_without_minor_units_cannot_price_an_order() {
        for code in ["XAU", "XAG", "XDR", "XTS", "XXX"] {
            assert!(
                matches!(lookup(code), Err(CurrencyError::NoMinorUnits(c)) if c == code),
                "{code}"
            );
        }
        assert!(all().all(|c| !["XAU", "XAG", "XDR", "XTS", "XXX"].contains(&c.code())));
        assert_eq!(units("XAF"), 0, "a currency that merely starts with X");
    }
}
