//! Arrow rows as PostgreSQL COPY CSV, and PostgreSQL column types for an Arrow schema.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, TimeUnit};
use std::fmt::Write;

/// The PostgreSQL type for an Arrow type; anything without a direct equivalent is stored as text.
pub fn pg_type(t: &DataType) -> String {
    match t {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Decimal128(p, s) => format!("numeric({p},{s})"),
        _ => "text".into(),
    }
}

/// Whether [`write_csv`] writes this type natively (others are refused up front).
pub fn supported(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Boolean
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float32
            | DataType::Float64
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Date32
            | DataType::Timestamp(_, _)
            | DataType::Decimal128(_, _)
    )
}

/// Checks every column can be written.
pub fn check_schema(schema: &Schema) -> Result<(), String> {
    match schema.fields().iter().find(|f| !supported(f.data_type())) {
        Some(f) => Err(format!(
            "column {:?} has type {} that the PostgreSQL loader does not handle",
            f.name(),
            f.data_type()
        )),
        None => Ok(()),
    }
}

fn quote(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn micros_to_text(out: &mut String, micros: i64, tz: bool) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    if let Some(t) = chrono::DateTime::from_timestamp(secs, u32::try_from(frac * 1000).unwrap_or(0))
    {
        let _ = write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S%.6f"));
        if tz {
            out.push_str("+00");
        }
    }
}

fn decimal_text(out: &mut String, v: i128, scale: i8) {
    let scale = usize::try_from(scale.max(0)).unwrap_or(0);
    let digits = v.unsigned_abs().to_string();
    if v < 0 {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(&digits);
    } else if digits.len() > scale {
        out.push_str(&digits[..digits.len() - scale]);
        out.push('.');
        out.push_str(&digits[digits.len() - scale..]);
    } else {
        out.push_str("0.");
        out.push_str(&"0".repeat(scale - digits.len()));
        out.push_str(&digits);
    }
}

/// Appends the batch as CSV rows (no header): NULL is an unquoted empty field, strings are always quoted so
/// an empty string stays an empty string.
pub fn write_csv(batch: &RecordBatch, out: &mut Vec<u8>) {
    let mut cell = String::new();
    for row in 0..batch.num_rows() {
        for (c, column) in batch.columns().iter().enumerate() {
            if c > 0 {
                out.push(b',');
            }
            if column.is_null(row) {
                continue;
            }
            cell.clear();
            match column.data_type() {
                DataType::Utf8 => quote(out, column.as_string::<i32>().value(row)),
                DataType::LargeUtf8 => quote(out, column.as_string::<i64>().value(row)),
                DataType::Boolean => cell.push_str(if column.as_boolean().value(row) {
                    "t"
                } else {
                    "f"
                }),
                DataType::Int16 => {
                    let _ = write!(cell, "{}", column.as_primitive::<Int16Type>().value(row));
                }
                DataType::Int32 => {
                    let _ = write!(cell, "{}", column.as_primitive::<Int32Type>().value(row));
                }
                DataType::Int64 => {
                    let _ = write!(cell, "{}", column.as_primitive::<Int64Type>().value(row));
                }
                DataType::Float32 => {
                    let _ = write!(cell, "{}", column.as_primitive::<Float32Type>().value(row));
                }
                DataType::Float64 => {
                    let _ = write!(cell, "{}", column.as_primitive::<Float64Type>().value(row));
                }
                DataType::Date32 => {
                    let days = column.as_primitive::<Date32Type>().value(row);
                    if let Some(d) = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).and_then(|e| {
                        e.checked_add_signed(chrono::TimeDelta::days(i64::from(days)))
                    }) {
                        let _ = write!(cell, "{}", d.format("%Y-%m-%d"));
                    }
                }
                DataType::Timestamp(unit, tz) => {
                    let micros = match unit {
                        TimeUnit::Second => column
                            .as_primitive::<TimestampSecondType>()
                            .value(row)
                            .saturating_mul(1_000_000),
                        TimeUnit::Millisecond => column
                            .as_primitive::<TimestampMillisecondType>()
                            .value(row)
                            .saturating_mul(1000),
                        TimeUnit::Microsecond => {
                            column.as_primitive::<TimestampMicrosecondType>().value(row)
                        }
                        TimeUnit::Nanosecond => {
                            column.as_primitive::<TimestampNanosecondType>().value(row) / 1000
                        }
                    };
                    micros_to_text(&mut cell, micros, tz.is_some());
                }
                DataType::Decimal128(_, scale) => decimal_text(
                    &mut cell,
                    column.as_primitive::<Decimal128Type>().value(row),
                    *scale,
                ),
                _ => {}
            }
            out.extend_from_slice(cell.as_bytes());
        }
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        BooleanArray, Date32Array, Decimal128Array, Int64Array, StringArray,
        TimestampMicrosecondArray,
    };
    use arrow_schema::Field;
    use std::sync::Arc;

    #[test]
    fn rows_become_copy_csv_with_nulls_distinct_from_empty_strings() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new("d", DataType::Decimal128(12, 2), true),
            Field::new("b", DataType::Boolean, true),
            Field::new("day", DataType::Date32, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("a \"q\", b"), Some(""), None])),
                Arc::new(Int64Array::from(vec![Some(1), None, Some(-3)])),
                Arc::new(
                    Decimal128Array::from(vec![Some(1999), Some(-5), None])
                        .with_precision_and_scale(12, 2)
                        .expect("decimal"),
                ),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
                Arc::new(Date32Array::from(vec![Some(20_778), None, Some(0)])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1_795_255_200_000_001), None, None])
                        .with_timezone("UTC"),
                ),
            ],
        )
        .expect("batch");
        let mut out = Vec::new();
        write_csv(&batch, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "\"a \"\"q\"\", b\",1,19.99,t,2026-11-21,2026-11-21 10:00:00.000001+00\n\"\",,-0.05,f,,\n,-3,,,1970-01-01,\n"
        );
    }

    #[test]
    fn arrow_types_map_to_postgres_types() {
        assert_eq!(pg_type(&DataType::Decimal128(12, 2)), "numeric(12,2)");
        assert_eq!(
            pg_type(&DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into())
            )),
            "timestamptz"
        );
        assert_eq!(pg_type(&DataType::Int64), "bigint");
        assert_eq!(pg_type(&DataType::Utf8), "text");
    }
}
