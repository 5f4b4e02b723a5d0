//! Exact money: decimals read from their literal text (a JSON number's or a string's, never through a float),
//! exact products and sums, half-even rounding to a currency's minor units, and plain decimal strings out.

use rust_decimal::{Decimal, RoundingStrategy};

/// Most decimal places a [`Decimal`] holds.
const MAX_SCALE: i64 = 28;
/// Most digits of a 96-bit mantissa (its maximum, 79228162514264337593543950335, has 29).
const MAX_DIGITS: usize = 29;

/// Why a text is not an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("is not a decimal number")]
    NotANumber,
    #[error(
        "has more digits than can be held exactly (at most 28 decimal places and 28 significant digits)"
    )]
    OutOfRange,
}

/// Parses a decimal exactly: `[+-]digits[.digits][(e|E)[+-]digits]`, which covers every JSON number literal and
/// the usual decimal strings (`"19.99"`, `"-1"`, `"1.5e3"`). No whitespace, thousands separators, `NaN`,
/// `Infinity`, or a point without digits on both sides (`".5"`, `"5."`).
///
/// The value is exact or an error, never rounded: `0.30000000000000001` stays what it says, where an `f64`
/// would make it `0.3`. Trailing zeros are dropped (`"19.90"` is 19.9), so equal amounts are equal values.
pub fn parse_decimal(text: &str) -> Result<Decimal, AmountError> {
    let b = text.as_bytes();
    let (negative, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (number, exponent) = match b.iter().position(|&c| matches!(c, b'e' | b'E')) {
        Some(p) => (&b[..p], Some(&b[p + 1..])),
        None => (b, None),
    };
    let (int, frac) = match number.iter().position(|&c| c == b'.') {
        Some(p) => (&number[..p], Some(&number[p + 1..])),
        None => (number, None),
    };
    let all_digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !all_digits(int) || !frac.is_none_or(all_digits) {
        return Err(AmountError::NotANumber);
    }
    let frac = frac.unwrap_or_default();
    let exponent = match exponent {
        Some(e) => parse_exponent(e)?,
        None => 0,
    };

    // The value is digits × 10^-scale; keep only the significant digits.
    let digits: Vec<u8> = int.iter().chain(frac).copied().collect();
    let Some(first) = digits.iter().position(|&d| d != b'0') else {
        return Ok(Decimal::ZERO);
    };
    let last = digits.iter().rposition(|&d| d != b'0').unwrap_or(first);
    let significant = &digits[first..=last];
    let trailing_zeros = digits.len() - 1 - last;
    // Frac length and the zeros are bounded by the input's length; the exponent is clamped, so no overflow.
    let mut scale = frac.len() as i64 - exponent - trailing_zeros as i64;
    if significant.len() > MAX_DIGITS || scale > MAX_SCALE {
        return Err(AmountError::OutOfRange);
    }
    let mut mantissa: i128 = 0;
    for &d in significant {
        mantissa = mantissa * 10 + i128::from(d - b'0');
    }
    while scale < 0 {
        mantissa = mantissa.checked_mul(10).ok_or(AmountError::OutOfRange)?;
        scale += 1;
    }
    let scale = u32::try_from(scale).map_err(|_| AmountError::OutOfRange)?;
    let value =
        Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| AmountError::OutOfRange)?;
    Ok(if negative { -value } else { value })
}

/// An exponent's digits, clamped far beyond any representable scale so huge ones cannot overflow.
fn parse_exponent(b: &[u8]) -> Result<i64, AmountError> {
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(AmountError::NotANumber);
    }
    let magnitude = digits.iter().fold(0_i64, |acc, &d| {
        (acc * 10 + i64::from(d - b'0')).min(1_000_000)
    });
    Ok(if negative { -magnitude } else { magnitude })
}

/// `quantity × price`, or `None` when the exact product does not fit (a [`Decimal`] would silently round it).
pub fn exact_mul(quantity: u64, price: Decimal) -> Option<Decimal> {
    Decimal::from(quantity)
        .checked_mul(price)
        .filter(|product| product.scale() == price.scale())
}

/// `a + b`, or `None` when the exact sum does not fit.
pub fn exact_add(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_add(b)
        .filter(|sum| sum.scale() == a.scale().max(b.scale()))
}

/// Rounds half to even (banker's rounding) to `places` decimal places: 100.5 → 100 and 103.5 → 104 at 0 places,
/// 0.125 → 0.12 and 0.135 → 0.14 at 2.
pub fn round_half_even(value: Decimal, places: u32) -> Decimal {
    value.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven)
}

/// The amount rounded half-even to `places` and written with exactly that many decimal places: `"0.30"` for
/// USD, `"1000"` for JPY, `"1.235"` for KWD.
pub fn format_amount(value: Decimal, places: u32) -> String {
    plain(round_half_even(value, places), places)
}

/// The shortest plain decimal string of the value (no exponent, no trailing zeros): `"19.99"`, `"20"`,
/// `"0.1"`. Equal values give equal strings, so it is the canonical form for hashing.
pub fn canonical(value: Decimal) -> String {
    let value = value.normalize();
    plain(value, value.scale())
}

/// Writes `value` with exactly `places` decimal places; `places` must be at least the value's scale.
fn plain(value: Decimal, places: u32) -> String {
    let mut digits = value.mantissa().unsigned_abs().to_string();
    for _ in value.scale()..places {
        digits.push('0');
    }
    let places = places as usize;
    if digits.len() <= places {
        digits.insert_str(0, &"0".repeat(places + 1 - digits.len()));
    }
    let mut out = String::with_capacity(digits.len() + 2);
    if value.is_sign_negative() && !value.is_zero() {
        out.push('-');
    }
    let (int, frac) = digits.split_at(digits.len() - places);
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        parse_decimal(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn total(lines: &[(u64, &str)], places: u32) -> String {
        let sum = lines.iter().fold(Decimal::ZERO, |acc, &(q, p)| {
            let line = exact_mul(q, d(p)).unwrap_or_else(|| panic!("{q} x {p} fits"));
            exact_add(acc, line).unwrap_or_else(|| panic!("sum fits"))
        });
        format_amount(sum, places)
    }

    #[test]
    fn decimals_parse_exactly_from_their_text() {
        assert_eq!(canonical(d("19.99")), "19.99");
        assert_eq!(canonical(d("0.30000000000000001")), "0.30000000000000001");
        assert_eq!(canonical(d("-0.1")), "-0.1");
        assert_eq!(canonical(d("+7")), "7");
        assert_eq!(canonical(d("0019.990")), "19.99");
        assert_eq!(canonical(d("-0.00")), "0");
        assert_eq!(
            canonical(d("79228162514264337593543950335")),
            "79228162514264337593543950335"
        );
        assert_eq!(
            canonical(d("0.0000000000000000000000000001")),
            "0.0000000000000000000000000001"
        );
    }

    #[test]
    fn exponents_are_applied_exactly() {
        assert_eq!(canonical(d("1.999e1")), "19.99");
        assert_eq!(canonical(d("1999E-2")), "19.99");
        assert_eq!(canonical(d("1.5e+3")), "1500");
        assert_eq!(canonical(d("0e999999999999999999999")), "0");
        assert_eq!(canonical(d("100e-30")), "0.0000000000000000000000000001");
    }

    #[test]
    fn non_numbers_are_refused() {
        for text in [
            "", "-", "+", ".5", "5.", "1.2.3", "1,000.00", "$5", "1e", "1e+", "e5", " 1", "1 ",
            "NaN", "Infinity", "0x10", "1_000", "١٢",
        ] {
            assert_eq!(
                parse_decimal(text),
                Err(AmountError::NotANumber),
                "{text:?}"
            );
        }
    }

    #[test]
    fn values_that_cannot_be_held_exactly_are_refused_not_rounded() {
        for text in [
            "79228162514264337593543950336",
            "0.00000000000000000000000000001",
            "1.00000000000000000000000000001",
            "1e29",
            "1e-29",
            "1e999999999999",
        ] {
            assert_eq!(
                parse_decimal(text),
                Err(AmountError::OutOfRange),
                "{text:?}"
            );
        }
        // Trailing zeros past 28 places carry no value, so they do not count.
        assert_eq!(canonical(d("1.000000000000000000000000000000000")), "1");
    }

    #[test]
    fn three_times_ten_cents_is_exactly_thirty_cents() {
        assert_eq!(total(&[(3, "0.10")], 2), "0.30");
        assert_eq!(total(&[(1, "0.1"), (1, "0.2")], 2), "0.30");
        assert_eq!(
            canonical(exact_add(d("0.1"), d("0.2")).unwrap_or_default()),
            "0.3"
        );
        assert_eq!(total(&[(10, "0.1")], 2), "1.00");
    }

    #[test]
    fn yen_totals_round_half_even_to_whole_yen() {
        assert_eq!(total(&[(3, "33.5")], 0), "100");
        assert_eq!(total(&[(3, "34.5")], 0), "104");
        assert_eq!(total(&[(4, "250")], 0), "1000");
    }

    #[test]
    fn half_even_rounds_a_midpoint_to_the_even_neighbour_both_ways() {
        assert_eq!(format_amount(d("0.125"), 2), "0.12");
        assert_eq!(format_amount(d("0.135"), 2), "0.14");
        assert_eq!(format_amount(d("2.5"), 0), "2");
        assert_eq!(format_amount(d("3.5"), 0), "4");
        assert_eq!(format_amount(d("0.1251"), 2), "0.13", "above the midpoint");
        assert_eq!(format_amount(d("0.1249"), 2), "0.12", "below the midpoint");
    }

    #[test]
    fn dinar_totals_have_three_places() {
        assert_eq!(total(&[(1, "1.2345")], 3), "1.234");
        assert_eq!(total(&[(1, "1.2355")], 3), "1.236");
        assert_eq!(total(&[(2, "0.6175")], 3), "1.235");
        assert_eq!(total(&[(1, "5")], 3), "5.000");
    }

    #[test]
    fn amounts_are_padded_to_the_minor_units() {
        assert_eq!(format_amount(d("0"), 2), "0.00");
        assert_eq!(format_amount(d("7"), 2), "7.00");
        assert_eq!(format_amount(d("0.5"), 4), "0.5000");
        assert_eq!(format_amount(d("0.004"), 2), "0.00");
        assert_eq!(format_amount(d("-1.005"), 2), "-1.00");
        assert_eq!(format_amount(d("-0.001"), 2), "0.00", "no negative zero");
        assert_eq!(format_amount(d("1000"), 0), "1000");
    }

    #[test]
    fn products_and_sums_that_would_round_are_refused() {
        let big = d("79228162514264337593543950335");
        assert_eq!(exact_mul(2, big), None);
        assert_eq!(exact_add(big, Decimal::ONE), None);
        // 28 places times a quantity that needs more mantissa bits than 96.
        let fine = d("1.2345678901234567890123456789");
        assert_eq!(exact_mul(1_000_000_000, fine), None);
        assert_eq!(
            exact_mul(3, d("0.10")).map(canonical),
            Some("0.3".to_owned())
        );
        assert_eq!(
            exact_mul(u64::MAX, Decimal::ONE).map(canonical),
            Some(u64::MAX.to_string())
        );
    }

    #[test]
    fn canonical_form_is_the_same_for_equal_values() {
        assert_eq!(canonical(d("20")), canonical(d("20.00")));
        assert_eq!(canonical(d("2e1")), canonical(d("20.0")));
        assert_ne!(canonical(d("20")), canonical(d("20.01")));
    }
}
