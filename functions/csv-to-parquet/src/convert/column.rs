//! Column builders that type and validate values and can drop a half-appended row.

use super::*;

#[derive(Debug)]
pub(super) enum Values {
    Str(Strings),
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
    /// A date or timestamp column's last date.
    last_date: LastDate,
}

/// A string column's values, end to end, and where each ends: Arrow's layout, in buffers that can drop a
/// half-appended row (Arrow's `StringBuilder` cannot, so strings had to wait for the rest of their row, and each
/// field was cut out twice). Only text goes in (a `&str`, or a field's bytes cut from a record's checked text at
/// its ASCII delimiters, [`field_span`]), so the values are valid UTF-8; the typed batches carry them as Arrow
/// binary, which Arrow takes as it is, where a string array's text would be checked again (2.5 % of the notes
/// shape's instructions). The file's column is still UTF-8 text ([`typed_schema`]).
#[derive(Debug)]
pub(super) struct Strings {
    values: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is value `i`; it starts with a 0.
    offsets: Vec<i32>,
}

/// Text values up to this long are copied as one block ([`Strings::push_from`]).
const BLOCK: usize = 16;

/// A batch ends once a string column holds this many bytes, far below what an `i32` offset can address.
pub(super) const STRING_BATCH_BYTES: usize = 1 << 30;

impl Strings {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            values: Vec::with_capacity(bytes),
            offsets,
        }
    }

    /// Appends `data[span]`, the bytes of a text: a field cut from a record's checked text at its ASCII delimiters
    /// ([`field_span`]). A short value is copied as a block of [`BLOCK`] bytes, the data after it included (then
    /// dropped), rather than by a call to `memcpy` for its length ([`crate::block::extend_from`]).
    fn push_from(&mut self, data: &[u8], span: std::ops::Range<usize>) {
        debug_assert!(
            data.get(span.clone())
                .is_some_and(|t| std::str::from_utf8(t).is_ok()),
            "text column given non-text"
        );
        crate::block::extend_from::<BLOCK>(&mut self.values, data, span);
        // Below 2^31: a batch ends at STRING_BATCH_BYTES, and one record is shorter than 1 GiB (MAX_RECORD_BYTES).
        self.offsets.push(self.values.len() as i32);
    }

    fn truncate(&mut self, len: usize) {
        if let Some(&end) = self.offsets.get(len) {
            self.values.truncate(end as usize);
            self.offsets.truncate(len + 1);
        }
    }

    /// The built array; the next batch's buffers start at this one's size.
    fn finish(
        &mut self,
        rows: usize,
        nulls: Option<NullBuffer>,
    ) -> Result<BinaryArray, ConvertError> {
        let bytes = self.values.len();
        let Self { values, offsets } =
            std::mem::replace(self, Self::with_capacity(rows, bytes + bytes / 8));
        Ok(BinaryArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(values),
            nulls,
        )?)
    }
}

/// The typed batches' schema: the output's, with its text columns as binary ([`Strings`]). The encoder writes
/// them by the output's schema, as UTF-8 text.
pub(super) fn typed_schema(schema: &SchemaRef) -> SchemaRef {
    let fields = schema.fields().iter().map(|f| match f.data_type() {
        arrow_schema::DataType::Utf8 => Arc::new(
            f.as_ref()
                .clone()
                .with_data_type(arrow_schema::DataType::Binary),
        ),
        _ => Arc::clone(f),
    });
    Arc::new(arrow_schema::Schema::new_with_metadata(
        fields.collect::<Vec<_>>(),
        schema.metadata().clone(),
    ))
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
            ColumnType::String => Values::Str(Strings::with_capacity(capacity, capacity * 16)),
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
            last_date: LastDate::default(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.valid.len()
    }

    /// Whether the batch should end here: a string column's bytes near what its offsets can address.
    pub(super) fn full(&self) -> bool {
        matches!(&self.values, Values::Str(s) if s.values.len() >= STRING_BATCH_BYTES)
    }

    pub(super) fn push_null(&mut self, name: &str) -> Result<(), FieldError> {
        if !self.nullable {
            return Err(format!(
                "column {name:?}: empty value in a non-nullable column"
            ));
        }
        match &mut self.values {
            Values::Str(s) => s.push_from(b"", 0..0),
            Values::I64(v) | Values::Ts(v) => v.push(0),
            Values::F64(v) => v.push(0.0),
            Values::Bool(v) => v.append(false),
            Values::Date(v) => v.push(0),
            Values::Dec(v) => v.push(0),
        }
        self.valid.append_null();
        Ok(())
    }

    /// Whether this is a text column, whose fields go in by [`Self::push_text`].
    pub(super) fn is_text(&self) -> bool {
        matches!(self.values, Values::Str(_))
    }

    /// Appends one field of a text column: `data[span]`, the bytes of a text (see [`Strings::push_from`]); empty
    /// is null.
    pub(super) fn push_text(
        &mut self,
        name: &str,
        data: &[u8],
        span: std::ops::Range<usize>,
    ) -> Result<(), FieldError> {
        let Values::Str(s) = &mut self.values else {
            return Err(format!("column {name:?}: not a text column"));
        };
        if span.is_empty() {
            return self.push_null(name);
        }
        s.push_from(data, span);
        self.valid.append_non_null();
        Ok(())
    }

    /// Appends one field: a string as it is, any other type trimmed and parsed. An empty field is null (so is a
    /// blank one, for the other types).
    pub(super) fn push(&mut self, name: &str, text: &str) -> Result<(), FieldError> {
        if self.is_text() {
            return self.push_text(name, text.as_bytes(), 0..text.len());
        }
        if text.is_empty() {
            return self.push_null(name);
        }
        let bad = |t: ColumnType| format!("column {name:?}: {:?} is not a valid {t}", shown(text));
        let t = trim(text);
        if t.is_empty() {
            return self.push_null(name);
        }
        match &mut self.values {
            Values::Str(_) => {}
            Values::I64(v) => v.push(parse_i64(t).ok_or_else(|| bad(ColumnType::Int64))?),
            Values::F64(v) => v.push(parse_f64(t).ok_or_else(|| bad(ColumnType::Float64))?),
            Values::Bool(v) => v.append(parse_bool(t).ok_or_else(|| bad(ColumnType::Bool))?),
            Values::Date(v) => v.push(
                parse_date_after(t, &mut self.last_date).ok_or_else(|| bad(ColumnType::Date))?,
            ),
            Values::Ts(v) => v.push(
                parse_timestamp_after(t, &mut self.last_date)
                    .ok_or_else(|| bad(ColumnType::Timestamp))?,
            ),
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
            Values::Str(s) => s.truncate(len),
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
            Values::Str(s) => Arc::new(s.finish(capacity, nulls)?),
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
