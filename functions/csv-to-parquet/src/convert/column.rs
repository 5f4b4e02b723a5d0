//! Column builders that type and validate values and can drop a half-appended row.

use super::*;

#[derive(Debug)]
pub(super) enum Values {
    /// Strings are appended only once the whole row is known to be good, so they never need truncating.
    Str(StringBuilder),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Bool(BooleanBufferBuilder),
    Date(Vec<i32>),
    Ts(Vec<i64>),
    Dec(Vec<i128>),
}

#[derive(Debug)]
pub(super) struct ColumnBuilder {
    pub(super) column_type: ColumnType,
    pub(super) nullable: bool,
    pub(super) values: Values,
    /// Which values are set: no bitmap is kept until the first null, so a column without nulls costs no bit per
    /// value.
    pub(super) valid: NullBufferBuilder,
}

/// A value that did not fit its column; the message names the column and the problem.
pub(super) type FieldError = String;

pub(super) fn shown(text: &str) -> String {
    let mut s: String = text.chars().take(64).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

impl ColumnBuilder {
    pub(super) fn new(column: &Column, capacity: usize) -> Self {
        let values = match column.column_type {
            ColumnType::String => {
                Values::Str(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            ColumnType::Int64 => Values::I64(Vec::with_capacity(capacity)),
            ColumnType::Float64 => Values::F64(Vec::with_capacity(capacity)),
            ColumnType::Bool => Values::Bool(BooleanBufferBuilder::new(capacity)),
            ColumnType::Date => Values::Date(Vec::with_capacity(capacity)),
            ColumnType::Timestamp => Values::Ts(Vec::with_capacity(capacity)),
            ColumnType::Decimal { .. } => Values::Dec(Vec::with_capacity(capacity)),
        };
        Self {
            column_type: column.column_type,
            nullable: column.nullable,
            values,
            valid: NullBufferBuilder::new(capacity),
        }
    }

    pub(super) fn len(&self) -> usize {
        match &self.values {
            Values::Str(b) => b.len(),
            _ => self.valid.len(),
        }
    }

    pub(super) fn is_string(&self) -> bool {
        matches!(self.values, Values::Str(_))
    }

    /// Checks a string field without appending it (see [`ColumnBuilder::push_str`]).
    pub(super) fn check_str(&self, name: &str, text: &str) -> Result<(), FieldError> {
        if text.is_empty() && !self.nullable {
            return Err(format!(
                "column {name:?}: empty value in a non-nullable column"
            ));
        }
        Ok(())
    }

    /// Appends a checked string field; empty is null.
    pub(super) fn push_str(&mut self, text: &str) {
        if let Values::Str(b) = &mut self.values {
            if text.is_empty() {
                b.append_null()
            } else {
                b.append_value(text)
            }
        }
    }

    pub(super) fn push_null(&mut self, name: &str) -> Result<(), FieldError> {
        if !self.nullable {
            return Err(format!(
                "column {name:?}: empty value in a non-nullable column"
            ));
        }
        match &mut self.values {
            Values::Str(b) => {
                b.append_null();
                return Ok(());
            }
            Values::I64(v) | Values::Ts(v) => v.push(0),
            Values::F64(v) => v.push(0.0),
            Values::Bool(v) => v.append(false),
            Values::Date(v) => v.push(0),
            Values::Dec(v) => v.push(0),
        }
        self.valid.append_null();
        Ok(())
    }

    /// Appends one typed (non-string) field.
    pub(super) fn push(&mut self, name: &str, text: &str) -> Result<(), FieldError> {
        if text.is_empty() {
            return self.push_null(name);
        }
        let bad = |t: ColumnType| format!("column {name:?}: {:?} is not a valid {t}", shown(text));
        let t = trim(text);
        if t.is_empty() {
            return self.push_null(name);
        }
        match &mut self.values {
            Values::Str { .. } => {}
            Values::I64(v) => v.push(parse_i64(t).ok_or_else(|| bad(ColumnType::Int64))?),
            Values::F64(v) => v.push(parse_f64(t).ok_or_else(|| bad(ColumnType::Float64))?),
            Values::Bool(v) => v.append(parse_bool(t).ok_or_else(|| bad(ColumnType::Bool))?),
            Values::Date(v) => v.push(parse_date(t).ok_or_else(|| bad(ColumnType::Date))?),
            Values::Ts(v) => v.push(parse_timestamp(t).ok_or_else(|| bad(ColumnType::Timestamp))?),
            Values::Dec(v) => {
                let ColumnType::Decimal { precision, scale } = self.column_type else {
                    return Err(bad(self.column_type));
                };
                v.push(parse_decimal(t, precision, scale).map_err(|e| match e {
                    DecimalError::NotANumber => bad(self.column_type),
                    DecimalError::TooManyFractionDigits => {
                        format!(
                            "column {name:?}: {:?} has more than {scale} decimal places",
                            shown(text)
                        )
                    }
                    DecimalError::TooManyDigits => {
                        format!(
                            "column {name:?}: {:?} does not fit {}",
                            shown(text),
                            self.column_type
                        )
                    }
                })?);
            }
        }
        self.valid.append_non_null();
        Ok(())
    }

    pub(super) fn truncate(&mut self, len: usize) {
        if self.len() <= len {
            return;
        }
        self.valid.truncate(len);
        match &mut self.values {
            Values::Str(_) => {}
            Values::I64(v) | Values::Ts(v) => v.truncate(len),
            Values::F64(v) => v.truncate(len),
            Values::Bool(v) => v.truncate(len),
            Values::Date(v) => v.truncate(len),
            Values::Dec(v) => v.truncate(len),
        }
    }

    /// Takes the built array, leaving the builder empty.
    pub(super) fn finish(&mut self, capacity: usize) -> Result<ArrayRef, ConvertError> {
        // A bitmap whose nulls were all truncated away holds none: no null buffer, as before.
        let nulls = self.valid.finish().filter(|n| n.null_count() > 0);
        Ok(match &mut self.values {
            Values::Str(b) => {
                // finish() leaves the builder with no capacity; start the next batch at this one's size
                // instead of regrowing from nothing.
                let bytes = b.values_slice().len();
                let array = b.finish();
                *b = StringBuilder::with_capacity(capacity, bytes + bytes / 8);
                Arc::new(array)
            }
            Values::I64(v) => Arc::new(Int64Array::new(
                ScalarBuffer::from(take(v, capacity)),
                nulls,
            )),
            Values::F64(v) => Arc::new(Float64Array::new(
                ScalarBuffer::from(take(v, capacity)),
                nulls,
            )),
            Values::Bool(v) => {
                let bits = v.finish();
                *v = BooleanBufferBuilder::new(capacity);
                Arc::new(BooleanArray::new(bits, nulls))
            }
            Values::Date(v) => Arc::new(Date32Array::new(
                ScalarBuffer::from(take(v, capacity)),
                nulls,
            )),
            Values::Ts(v) => Arc::new(
                TimestampMicrosecondArray::new(ScalarBuffer::from(take(v, capacity)), nulls)
                    .with_timezone("UTC"),
            ),
            Values::Dec(v) => {
                let ColumnType::Decimal { precision, scale } = self.column_type else {
                    return Err(arrow_schema::ArrowError::InvalidArgumentError(
                        "decimal builder without decimal type".into(),
                    )
                    .into());
                };
                Arc::new(
                    Decimal128Array::new(ScalarBuffer::from(take(v, capacity)), nulls)
                        .with_precision_and_scale(precision, scale)?,
                )
            }
        })
    }
}

pub(super) fn take<T>(v: &mut Vec<T>, capacity: usize) -> Vec<T> {
    std::mem::replace(v, Vec::with_capacity(capacity))
}
