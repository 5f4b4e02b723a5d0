//! Parsing CSV field text into typed values, exactly: integers, floats, booleans, ISO dates and timestamps,
//! and decimals without a detour through floating point. These run once per field, so they are hand-written.

/// Trims ASCII whitespace at both ends.
pub fn trim(s: &str) -> &str {
    // Most values have nothing to trim: two byte checks instead of the loops.
    match s.as_bytes() {
        [first, .., last] if !first.is_ascii_whitespace() && !last.is_ascii_whitespace() => s,
        [only] if !only.is_ascii_whitespace() => s,
        _ => s.trim_ascii(),
    }
}

/// A signed 64-bit integer (`-42`, `+7`).
pub fn parse_i64(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(d - b'0');
        // Accumulate negatively so i64::MIN parses.
        v = v.checked_mul(10)?.checked_sub(digit)?;
    }
    if neg { Some(v) } else { v.checked_neg() }
}

/// A 64-bit float in the usual decimal or exponent notation (also `NaN`, `inf`).
#[inline]
pub fn parse_f64(s: &str) -> Option<f64> {
    simple_f64(s.as_bytes()).or_else(|| s.parse().ok())
}

/// Exact powers of ten as `f64` (all of them up to 1e22 are).
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Clinger's fast path for plain decimals: an optional `-`, at most 15 digits and one `.`. The digits as an
/// integer and the power of ten are both exact `f64`s, so one division is correctly rounded: the same result as
/// `str::parse`. `None` for anything else.
fn simple_f64(b: &[u8]) -> Option<f64> {
    let (neg, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if body.is_empty() || body.len() > 16 {
        return None;
    }
    let mut mantissa = 0_u64;
    let mut digits = 0_usize;
    let mut point = None;
    for (i, &c) in body.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    let fraction = point.map_or(0, |p| body.len() - p - 1);
    // Up to 15 digits: below 2^53, so exact.
    #[allow(clippy::cast_precision_loss)]
    let value = mantissa as f64 / POW10[fraction];
    Some(if neg { -value } else { value })
}

/// `true/false`, `t/f`, `yes/no`, `y/n`, `1/0`, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    // One word compare, instead of lowercasing into a buffer and matching the spellings one by one.
    const fn word(text: &[u8]) -> u64 {
        let mut bytes = [0_u8; 8];
        let mut i = 0;
        while i < text.len() {
            bytes[i] = text[i];
            i += 1;
        }
        u64::from_le_bytes(bytes)
    }
    match s.as_bytes() {
        [c] => match c.to_ascii_lowercase() {
            b't' | b'y' | b'1' => Some(true),
            b'f' | b'n' | b'0' => Some(false),
            _ => None,
        },
        b @ [_, _, ..] if b.len() <= 5 => {
            let mut bytes = [0_u8; 8];
            bytes[..b.len()].copy_from_slice(b);
            // Every longer spelling is letters only, and a byte ORed with 0x20 equals a lowercase letter only if it
            // is that letter in either case.
            let lower =
                u64::from_le_bytes(bytes) | (0x2020_2020_2020_u64 & ((1 << (8 * b.len())) - 1));
            match lower {
                x if x == word(b"true") || x == word(b"yes") => Some(true),
                x if x == word(b"false") || x == word(b"no") => Some(false),
                _ => None,
            }
        }
        _ => None,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0_u32;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(d - b'0');
    }
    Some(v)
}

const fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

/// Days in the year before each month's first, in a common year.
const DAYS_BEFORE_MONTH: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Leap years before year `y` from year 0 on: every fourth, but not every hundredth unless every four hundredth
/// (proleptic Gregorian, so year 0 is one).
const fn leap_years_before(y: u32) -> u32 {
    y.div_ceil(4) - y.div_ceil(100) + y.div_ceil(400)
}

/// Days since 1970-01-01 of January 1st of year `y` (0 to 9999).
fn days_before_year(y: u32) -> i64 {
    const EPOCH: i64 = 365 * 1970 + leap_years_before(1970) as i64;
    365 * i64::from(y) + i64::from(leap_years_before(y)) - EPOCH
}

/// `YYYY-MM-DD` at the start of `b`, as days since the epoch.
fn date_prefix(b: &[u8]) -> Option<i64> {
    let head: &[u8; 10] = b.get(..10)?.try_into().ok()?;
    if head[4] != b'-' || head[7] != b'-' {
        return None;
    }
    // Each digit's value; a byte that is not a digit wraps past 9.
    let d = [0, 1, 2, 3, 5, 6, 8, 9].map(|i| head[i].wrapping_sub(b'0'));
    if d.iter().any(|&x| x > 9) {
        return None;
    }
    let n = |i: usize| u32::from(d[i]);
    let y = n(0) * 1000 + n(1) * 100 + n(2) * 10 + n(3);
    let m = n(4) * 10 + n(5);
    let day = n(6) * 10 + n(7);
    if !(1..=12).contains(&m) {
        return None;
    }
    let leap = u32::from(is_leap(y));
    let month_days = match m {
        2 => 28 + leap,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > month_days {
        return None;
    }
    let leap_day = if m > 2 { leap } else { 0 };
    let within = DAYS_BEFORE_MONTH[m as usize - 1] + leap_day + day - 1;
    Some(days_before_year(y) + i64::from(within))
}

/// The last date a column read, with its day number. A column's dates repeat from row to row (an order's lines, a
/// day of readings), and a repeat costs a ten-byte compare instead of the calendar's checks.
#[derive(Debug, Default, Clone)]
pub struct LastDate(Option<([u8; 10], i64)>);

impl LastDate {
    /// [`date_prefix`], remembered.
    #[inline]
    fn days(&mut self, b: &[u8]) -> Option<i64> {
        let head: [u8; 10] = b.get(..10)?.try_into().ok()?;
        match self.0 {
            Some((last, days)) if last == head => Some(days),
            _ => {
                let days = date_prefix(&head)?;
                self.0 = Some((head, days));
                Some(days)
            }
        }
    }
}

/// An ISO-8601 calendar date `YYYY-MM-DD`, as days since the epoch.
pub fn parse_date(s: &str) -> Option<i32> {
    parse_date_after(s, &mut LastDate::default())
}

/// [`parse_date`], for the next value of a column whose last date was `last`.
pub fn parse_date_after(s: &str, last: &mut LastDate) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 {
        return None;
    }
    i32::try_from(last.days(b)?).ok()
}

/// An ISO-8601 timestamp as microseconds since the epoch, UTC: `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|±HH[:MM]]`.
/// Without an offset the time is taken as UTC; a bare date is midnight UTC. Fractions past microseconds are
/// truncated.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    parse_timestamp_after(s, &mut LastDate::default())
}

/// [`parse_timestamp`], for the next value of a column whose last date was `last`.
pub fn parse_timestamp_after(s: &str, last: &mut LastDate) -> Option<i64> {
    let b = s.as_bytes();
    let days = last.days(b)?;
    let mut micros = days.checked_mul(86_400_000_000)?;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some(micros);
    }
    if !matches!(rest[0], b'T' | b't' | b' ') || rest.len() < 6 || rest[3] != b':' {
        return None;
    }
    let hh = i64::from(digits(&rest[1..3])?);
    let mm = i64::from(digits(&rest[4..6])?);
    let mut i = 6;
    let mut ss = 0_i64;
    if rest.get(i) == Some(&b':') {
        ss = i64::from(digits(rest.get(i + 1..i + 3)?)?);
        i += 3;
    }
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let mut frac = 0_i64;
    if matches!(rest.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        while i < rest.len() && rest[i].is_ascii_digit() {
            if i - start < 6 {
                frac = frac * 10 + i64::from(rest[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            frac *= 10;
        }
    }
    let offset_secs = match &rest[i..] {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (oh, om) = match tail {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    micros = micros.checked_add(((hh * 3600 + mm * 60 + ss) - offset_secs) * 1_000_000 + frac)?;
    Some(micros)
}

/// Why a decimal did not fit its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    NotANumber,
    TooManyFractionDigits,
    TooManyDigits,
}

/// A decimal string as an unscaled integer at `scale`, exactly: `"19.99"` at scale 2 is `1999`. More fraction
/// digits than the scale are refused unless they are zeros (no silent rounding), and so are values with more
/// than `precision` significant digits.
pub fn parse_decimal(s: &str, precision: u8, scale: i8) -> Result<i128, DecimalError> {
    if let Some(v) = small_decimal(s.as_bytes(), precision, scale) {
        return Ok(v);
    }
    let b = s.as_bytes();
    let (neg, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (int_part, frac_part) = match body.iter().position(|&c| c == b'.') {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &[][..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(DecimalError::NotANumber);
    }
    if !int_part.iter().chain(frac_part).all(u8::is_ascii_digit) {
        return Err(DecimalError::NotANumber);
    }
    let scale = usize::try_from(scale).map_err(|_| DecimalError::NotANumber)?;
    let (kept, dropped) = frac_part.split_at(frac_part.len().min(scale));
    if dropped.iter().any(|&c| c != b'0') {
        return Err(DecimalError::TooManyFractionDigits);
    }
    let significant = int_part.iter().skip_while(|&&c| c == b'0').count();
    if significant + scale > usize::from(precision) {
        return Err(DecimalError::TooManyDigits);
    }
    let mut v: i128 = 0;
    for &d in int_part.iter().chain(kept) {
        v = v * 10 + i128::from(d - b'0');
    }
    for _ in kept.len()..scale {
        v *= 10;
    }
    Ok(if neg { -v } else { v })
}

/// The common case of [`parse_decimal`] in one pass and 64-bit arithmetic: an optional `-`, up to 18 digits,
/// and at most `scale` fraction digits. `None` sends anything else (including every error) to the general path.
fn small_decimal(b: &[u8], precision: u8, scale: i8) -> Option<i128> {
    let scale = usize::try_from(scale).ok()?;
    let (neg, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if body.is_empty() || body.len() > 18 {
        return None;
    }
    let mut v = 0_u64;
    let mut int_digits = 0_usize;
    let mut frac_digits = 0_usize;
    let mut leading_zeros = 0_usize;
    let mut seen_point = false;
    for &c in body {
        match c {
            b'0'..=b'9' => {
                v = v * 10 + u64::from(c - b'0');
                if seen_point {
                    frac_digits += 1;
                } else {
                    if c == b'0' && int_digits == leading_zeros {
                        leading_zeros += 1;
                    }
                    int_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if int_digits + frac_digits == 0
        || frac_digits > scale
        || (int_digits - leading_zeros) + scale > usize::from(precision)
    {
        return None;
    }
    let mut v = i128::from(v);
    for _ in frac_digits..scale {
        v *= 10;
    }
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    /// H. Hinnant's `days_from_civil`, the reference for the table-driven date above.
    fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let mp = i64::from((m + 9) % 12);
        let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    #[test]
    fn every_date_from_year_0_to_9999_matches_the_reference() {
        let mut expected_valid = 0;
        for y in 0..=9999_u32 {
            let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
            for m in 0..=13_u32 {
                for d in 0..=32_u32 {
                    let text = format!("{y:04}-{m:02}-{d:02}");
                    let days_in = match m {
                        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                        4 | 6 | 9 | 11 => 30,
                        2 if leap => 29,
                        2 => 28,
                        _ => 0,
                    };
                    let valid = d >= 1 && d <= days_in;
                    let want = valid.then(|| days_from_civil(i64::from(y), m, d));
                    assert_eq!(date_prefix(text.as_bytes()), want, "{text}");
                    expected_valid += usize::from(valid);
                }
            }
        }
        // 10,000 years of 365 days, and 2,425 leap days.
        assert_eq!(expected_valid, 3_652_425);
        assert_eq!(date_prefix(b"1970-01-01"), Some(0));
        for bad in [
            "197a-01-01",
            "1970/01/01",
            "1970-01-1",
            "1970-1-01x",
            "+970-01-01",
            "1970-0:-01",
        ] {
            assert_eq!(date_prefix(bad.as_bytes()), None, "{bad}");
        }
    }

    use super::*;

    #[test]
    fn integers_cover_the_full_i64_range() {
        assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64("9223372036854775808"), None);
        assert_eq!(parse_i64("+42"), Some(42));
        assert_eq!(parse_i64("4 2"), None);
        assert_eq!(parse_i64("-"), None);
        assert_eq!(parse_i64("1.0"), None);
        assert_eq!(parse_i64("-0"), Some(0));
        assert_eq!(parse_i64("0000000000000000042"), Some(42));
        assert_eq!(
            parse_i64("00000000000000000042"),
            None,
            "more than 19 digits"
        );
        // Random integers of 1 to 20 digits, signed or not: as `str::parse` (which takes more digits).
        let mut next = tributary_testkit::seeded_rng(0x1A7E_6E25_u64);
        for _ in 0..100_000 {
            let digits = (next() % 20 + 1) as usize;
            let mut text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            match next() % 3 {
                0 => text.insert(0, '-'),
                1 => text.insert(0, '+'),
                _ => {}
            }
            let expected = text.parse::<i64>().ok().filter(|_| digits <= 19);
            assert_eq!(parse_i64(&text), expected, "{text}");
        }
    }

    #[test]
    fn the_fast_float_path_agrees_with_the_standard_parser() {
        let mut next = tributary_testkit::seeded_rng(0x9E37_79B9_7F4A_7C15_u64);
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "0.1",
            "0.3",
            "19.99",
            "-12.5",
            "123456789012345",
            "1234567890.12345",
            "999999999999999",
            "0.00000000000001",
            "7.",
            ".5",
            "-.5",
            "1.23456789012345",
            "3.14159",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for _ in 0..20_000 {
            let digits = (next() % 15 + 1) as usize;
            let mut text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let point = (next() % (digits as u64 + 1)) as usize;
            text.insert(point, '.');
            if next().is_multiple_of(2) {
                text.insert(0, '-');
            }
            cases.push(text);
        }
        for text in cases {
            let expected: f64 = text.parse().expect("a float");
            let fast =
                simple_f64(text.as_bytes()).unwrap_or_else(|| panic!("{text} is a plain decimal"));
            assert_eq!(fast.to_bits(), expected.to_bits(), "{text}");
        }
        for other in [
            "1e5",
            "NaN",
            "inf",
            "+1",
            "1.2.3",
            "",
            "-",
            ".",
            "9007199254740993",
            "0.9999999999999999",
            "12345678901234567890",
        ] {
            assert_eq!(simple_f64(other.as_bytes()), None, "{other}");
        }
        assert_eq!(parse_f64("1e5"), Some(100_000.0));
        assert_eq!(parse_f64("-"), None);
    }

    /// A random numeral of 1 to `max_digits` digits, with a point somewhere in it but one time in `no_point`, and
    /// a minus sign half the time.
    fn random_numeral(next: &mut impl FnMut() -> u64, max_digits: u64, no_point: u64) -> String {
        let digits = next() % max_digits + 1;
        let mut text: String = (0..digits)
            .map(|_| char::from(b'0' + (next() % 10) as u8))
            .collect();
        if !next().is_multiple_of(no_point) {
            text.insert((next() % (digits + 1)) as usize, '.');
        }
        if next().is_multiple_of(2) {
            text.insert(0, '-');
        }
        text
    }

    /// Whatever path a number takes, `parse_f64` gives `str::parse`'s answer: random numerals of 1 to 22 digits
    /// (Python's shortest round-trip floats have up to 17), with and without a point and a sign.
    #[test]
    fn floats_of_every_length_parse_as_the_standard_parser_does() {
        let mut next = tributary_testkit::seeded_rng(0xF10A_7123_u64);
        let mut fast = 0;
        for _ in 0..100_000 {
            let text = random_numeral(&mut next, 22, 4);
            let expected: f64 = text.parse().expect("a float");
            assert_eq!(
                parse_f64(&text).map(f64::to_bits),
                Some(expected.to_bits()),
                "{text}"
            );
            fast += usize::from(simple_f64(text.as_bytes()).is_some());
        }
        // About two numerals in three have at most 15 digits.
        assert!(fast > 55_000, "{fast}");
    }

    #[test]
    fn booleans_accept_common_spellings() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("n"), Some(false));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("falsey"), None);
        assert_eq!(parse_bool(""), None);
    }

    /// The word compare against the plain rule it replaced (lowercase, then match the spellings): every string
    /// of up to three bytes, and up to five along the longer spellings, over the spellings' letters in both cases,
    /// the digits, the bytes that become a digit once 0x20 is ORed in, NUL and non-ASCII bytes.
    #[test]
    fn booleans_match_the_plain_rule_on_every_short_string() {
        fn plain(b: &[u8]) -> Option<bool> {
            match b.to_ascii_lowercase().as_slice() {
                b"true" | b"t" | b"yes" | b"y" | b"1" => Some(true),
                b"false" | b"f" | b"no" | b"n" | b"0" => Some(false),
                _ => None,
            }
        }
        let alphabet: Vec<u8> = b"truefalsyno"
            .iter()
            .flat_map(|c| [*c, c.to_ascii_uppercase()])
            .chain(*b"01\x10\x11 @\0\xC3\xA9")
            .collect();
        let mut checked = 0;
        let mut stack = vec![Vec::new()];
        while let Some(s) = stack.pop() {
            if let Ok(t) = std::str::from_utf8(&s) {
                assert_eq!(parse_bool(t), plain(&s), "{s:?}");
                checked += 1;
            }
            let along = |w: &[u8]| w.len() > s.len() && w[..s.len()].eq_ignore_ascii_case(&s);
            if s.len() < 3 || (s.len() < 5 && (along(b"true") || along(b"false"))) {
                for &c in &alphabet {
                    let mut longer = s.clone();
                    longer.push(c);
                    stack.push(longer);
                }
            }
        }
        assert!(checked > 20_000, "{checked}");
    }

    /// A column's dates through one [`LastDate`], repeating, changing, invalid between valid ones: each as it
    /// parses alone.
    #[test]
    fn a_remembered_date_parses_as_a_fresh_one() {
        let texts = [
            "2026-03-01T00:00:00Z",
            "2026-03-01T23:59:59.5Z",
            "2026-03-01",
            "2026-03-02T00:00:00+01:00",
            "2026-02-30T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-03-02T25:00:00Z",
            "2026-03-02T01:00:00Z",
            "2024-02-29",
            "2024-02-29x",
            "2024-02-2",
            "2025-02-29",
            "",
            "2026-03-01T00:00:00Z",
        ];
        let mut dates = LastDate::default();
        let mut stamps = LastDate::default();
        for text in texts {
            assert_eq!(
                parse_date_after(text, &mut dates),
                parse_date(text),
                "{text}"
            );
            assert_eq!(
                parse_timestamp_after(text, &mut stamps),
                parse_timestamp(text),
                "{text}"
            );
        }
    }

    #[test]
    fn dates_are_validated_against_the_calendar() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-11-21"), Some(20_778));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("2026-1-01"), None);
    }

    #[test]
    fn timestamps_honour_offsets_and_fractions() {
        let base = 20_778_i64 * 86_400_000_000 + 10 * 3_600_000_000;
        assert_eq!(parse_timestamp("2026-11-21T10:00:00Z"), Some(base));
        assert_eq!(parse_timestamp("2026-11-21 10:00:00"), Some(base));
        assert_eq!(parse_timestamp("2026-11-21T10:00"), Some(base));
        assert_eq!(parse_timestamp("2026-11-21T11:30:00+01:30"), Some(base));
        assert_eq!(parse_timestamp("2026-11-21T05:00:00-0500"), Some(base));
        assert_eq!(parse_timestamp("2026-11-21T12:00:00+02"), Some(base));
        assert_eq!(
            parse_timestamp("2026-11-21T10:00:00.5Z"),
            Some(base + 500_000)
        );
        assert_eq!(
            parse_timestamp("2026-11-21T10:00:00.123456789Z"),
            Some(base + 123_456)
        );
        assert_eq!(
            parse_timestamp("2026-11-21"),
            Some(base - 10 * 3_600_000_000)
        );
    }

    #[test]
    fn timestamps_reject_out_of_range_fields_and_junk() {
        assert_eq!(parse_timestamp("2026-11-21T24:00:00Z"), None);
        assert_eq!(parse_timestamp("2026-11-21T10:60:00Z"), None);
        assert_eq!(parse_timestamp("2026-11-21T10:00:00.Z"), None);
        assert_eq!(parse_timestamp("2026-11-21T10:00:00 UTC"), None);
        assert_eq!(parse_timestamp("2026-11-21X10:00:00"), None);
        assert_eq!(parse_timestamp("21/11/2026"), None);
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("19.99", 12, 2), Ok(1999));
        assert_eq!(parse_decimal("-0.1", 12, 2), Ok(-10));
        assert_eq!(parse_decimal("7", 12, 2), Ok(700));
        assert_eq!(parse_decimal(".5", 12, 2), Ok(50));
        assert_eq!(parse_decimal("3.", 12, 2), Ok(300));
        assert_eq!(parse_decimal("1.230", 12, 2), Ok(123));
        assert_eq!(
            parse_decimal("99999999999999999999999999999999999999", 38, 0),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
    }

    #[test]
    fn the_fast_decimal_path_agrees_with_the_general_one() {
        for text in [
            "19.99",
            "-0.1",
            "7",
            ".5",
            "3.",
            "0",
            "-0",
            "000.10",
            "12.3",
            "0001234567890.5",
            "9999999999.99",
            "99999999999.9",
            "123456789012345678",
            "1.2.3",
            "-",
            ".",
            "",
            "1e5",
            "+1",
            "12,5",
            " 1",
            "1.234",
            "00000000000000000001",
        ] {
            for (precision, scale) in [(12, 2), (38, 0), (18, 6), (5, 5), (3, 0)] {
                let fast = small_decimal(text.as_bytes(), precision, scale);
                let general = parse_decimal(text, precision, scale);
                if let Some(v) = fast {
                    assert_eq!(Ok(v), general, "{text:?} at ({precision}, {scale})");
                }
            }
        }
        assert_eq!(
            small_decimal(b"19.99", 12, 2),
            Some(1999),
            "the common case is fast"
        );
        assert_eq!(
            small_decimal(b"-999999999999999999", 38, 0),
            Some(-999_999_999_999_999_999)
        );
        assert_eq!(small_decimal(b"123.4", 3, 0), None);
        assert_eq!(small_decimal(b"99.99", 4, 2), Some(9999));
        assert_eq!(small_decimal(b"100.00", 4, 2), None);
    }

    /// Random numerals at random precisions and scales: the fast path answers as the general one, or leaves it.
    #[test]
    fn the_fast_decimal_path_never_disagrees_with_the_general_one() {
        let mut next = tributary_testkit::seeded_rng(0xDEC1_3A15_u64);
        let mut fast = 0;
        for _ in 0..100_000 {
            let text = random_numeral(&mut next, 21, 3);
            let precision = (next() % 38 + 1) as u8;
            let scale = (next() % (u64::from(precision) + 1)) as i8;
            let general = parse_decimal(&text, precision, scale);
            if let Some(v) = small_decimal(text.as_bytes(), precision, scale) {
                assert_eq!(Ok(v), general, "{text:?} at ({precision}, {scale})");
                fast += 1;
            }
        }
        assert!(fast > 10_000, "{fast}");
    }

    #[test]
    fn decimals_refuse_rounding_and_overflow() {
        assert_eq!(
            parse_decimal("1.234", 12, 2),
            Err(DecimalError::TooManyFractionDigits)
        );
        assert_eq!(
            parse_decimal("12345678901", 12, 2),
            Err(DecimalError::TooManyDigits)
        );
        assert_eq!(parse_decimal("0001234567890.5", 12, 2), Ok(123_456_789_050));
        assert_eq!(parse_decimal("1e5", 12, 2), Err(DecimalError::NotANumber));
        assert_eq!(parse_decimal(".", 12, 2), Err(DecimalError::NotANumber));
        assert_eq!(parse_decimal("", 12, 2), Err(DecimalError::NotANumber));
    }
}
