//! Type inference from a sample of rows, with safe widening: a column gets the narrowest type every sampled
//! value fits, and anything ambiguous becomes `string`, which never loses text.

use crate::schema::ColumnType;
use crate::values::{parse_i64, parse_timestamp, trim};

/// What one non-empty value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Bool,
    Int,
    Float,
    Date,
    Timestamp,
    Text,
}

fn shape(raw: &str) -> Shape {
    let s = trim(raw);
    if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") {
        return Shape::Bool;
    }
    if let Some(integral) = numeral(s) {
        if has_leading_zero(s) {
            // "007" and "00501" are identifiers (zip codes, SKUs): parsing them as numbers loses the zeros.
            return Shape::Text;
        }
        if integral {
            return if parse_i64(s).is_some() {
                Shape::Int
            } else {
                Shape::Text
            };
        }
        return Shape::Float;
    }
    if s.len() == 10 && crate::values::parse_date(s).is_some() {
        return Shape::Date;
    }
    if s.len() > 10 && parse_timestamp(s).is_some() {
        return Shape::Timestamp;
    }
    Shape::Text
}

/// `[+-]digits[.digits][(e|E)[+-]digits]`, with digits on at least one side of the point: `Some(true)` for an
/// integer (no point, no exponent), `Some(false)` for any other such numeral, `None` for anything else.
fn numeral(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    let mut integral = true;
    if i < b.len() && b[i] == b'.' {
        integral = false;
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        integral = false;
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    (i == b.len()).then_some(integral)
}

fn has_leading_zero(s: &str) -> bool {
    let digits = s.trim_start_matches(['+', '-']).as_bytes();
    digits.len() > 1 && digits[0] == b'0' && digits[1].is_ascii_digit()
}

/// Running inference state of one column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inferred(Option<Shape>);

impl Inferred {
    /// Widens the column's type to admit `raw`. Empty values are nulls and do not change the type.
    pub fn observe(&mut self, raw: &str) {
        if trim(raw).is_empty() || self.0 == Some(Shape::Text) {
            return;
        }
        let next = shape(raw);
        self.0 = Some(match (self.0, next) {
            (None, n) => n,
            (Some(a), b) if a == b => a,
            (Some(Shape::Int), Shape::Float) | (Some(Shape::Float), Shape::Int) => Shape::Float,
            (Some(Shape::Date), Shape::Timestamp) | (Some(Shape::Timestamp), Shape::Date) => {
                Shape::Timestamp
            }
            _ => Shape::Text,
        });
    }

    /// The column type; a column with no values in the sample is a string.
    pub fn column_type(self) -> ColumnType {
        match self.0 {
            Some(Shape::Bool) => ColumnType::Bool,
            Some(Shape::Int) => ColumnType::Int64,
            Some(Shape::Float) => ColumnType::Float64,
            Some(Shape::Date) => ColumnType::Date,
            Some(Shape::Timestamp) => ColumnType::Timestamp,
            Some(Shape::Text) | None => ColumnType::String,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> ColumnType {
        let mut i = Inferred::default();
        for v in values {
            i.observe(v);
        }
        i.column_type()
    }

    #[test]
    fn picks_the_narrowest_type() {
        assert_eq!(infer(&["1", "-2", ""]), ColumnType::Int64);
        assert_eq!(infer(&["1.5", "2e3"]), ColumnType::Float64);
        assert_eq!(infer(&["true", "FALSE"]), ColumnType::Bool);
        assert_eq!(infer(&["2026-11-21"]), ColumnType::Date);
        assert_eq!(infer(&["2026-11-21T10:00:00Z"]), ColumnType::Timestamp);
    }

    #[test]
    fn widens_safely() {
        assert_eq!(infer(&["1", "2.5"]), ColumnType::Float64);
        assert_eq!(
            infer(&["2026-11-21", "2026-11-21 10:00:00"]),
            ColumnType::Timestamp
        );
        assert_eq!(infer(&["1", "true"]), ColumnType::String);
        assert_eq!(infer(&["1", "abc", "2"]), ColumnType::String);
        assert_eq!(infer(&["2026-11-21", "5"]), ColumnType::String);
    }

    #[test]
    fn keeps_identifiers_with_leading_zeros_as_text() {
        assert_eq!(infer(&["00501", "10001"]), ColumnType::String);
        assert_eq!(infer(&["0", "0.5", "-0.25"]), ColumnType::Float64);
    }

    #[test]
    fn integers_beyond_i64_stay_text() {
        assert_eq!(infer(&["123456789012345678901234"]), ColumnType::String);
    }

    #[test]
    fn empty_and_unseen_columns_are_strings() {
        assert_eq!(infer(&[]), ColumnType::String);
        assert_eq!(infer(&["", " "]), ColumnType::String);
        assert_eq!(infer(&["nan", "inf"]), ColumnType::String);
        assert_eq!(infer(&["1e"]), ColumnType::String);
    }
}
