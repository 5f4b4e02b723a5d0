//! The table schema: column types from a `schemas/<dataset>.json` file or from inference, and their Arrow and
//! Parquet types.

use arrow_schema::{DataType, Field, Schema as ArrowSchema, TimeUnit};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    String,
    Int64,
    Float64,
    Bool,
    /// Parquet DATE (days since the epoch).
    Date,
    /// Parquet TIMESTAMP(MICROS, adjusted to UTC).
    Timestamp,
    /// Parquet DECIMAL(precision, scale), exact.
    Decimal {
        precision: u8,
        scale: i8,
    },
}

impl ColumnType {
    pub fn arrow_type(self) -> DataType {
        match self {
            Self::String => DataType::Utf8,
            Self::Int64 => DataType::Int64,
            Self::Float64 => DataType::Float64,
            Self::Bool => DataType::Boolean,
            Self::Date => DataType::Date32,
            Self::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Self::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String => f.write_str("string"),
            Self::Int64 => f.write_str("int64"),
            Self::Float64 => f.write_str("float64"),
            Self::Bool => f.write_str("bool"),
            Self::Date => f.write_str("date"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
        }
    }
}

const TYPE_NAMES: &str = "string, int64, float64, bool, date, timestamp, decimal(p,s)";

impl FromStr for ColumnType {
    type Err = SchemaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        Ok(match t.as_str() {
            "string" => Self::String,
            "int64" => Self::Int64,
            "float64" => Self::Float64,
            "bool" => Self::Bool,
            "date" => Self::Date,
            "timestamp" => Self::Timestamp,
            _ => {
                let bad = || SchemaError::UnknownType(s.to_owned());
                let args = t
                    .strip_prefix("decimal(")
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(bad)?;
                let (p, sc) = args.split_once(',').ok_or_else(bad)?;
                let precision: u8 = p.trim().parse().map_err(|_| bad())?;
                let scale: i8 = sc.trim().parse().map_err(|_| bad())?;
                if !(1..=38).contains(&precision) || scale < 0 || scale as u8 > precision {
                    return Err(SchemaError::BadDecimal(s.to_owned()));
                }
                Self::Decimal { precision, scale }
            }
        })
    }
}

/// A declared column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(
        rename = "type",
        serialize_with = "ser_type",
        deserialize_with = "de_type"
    )]
    pub column_type: ColumnType,
    #[serde(default = "yes")]
    pub nullable: bool,
}

fn yes() -> bool {
    true
}

fn ser_type<S: serde::Serializer>(t: &ColumnType, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

fn de_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ColumnType, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// The schema file: `{"columns": [{"name": .., "type": .., "nullable": ..}, ...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub columns: Vec<Column>,
}

/// Lineage column: the S3 key (or file path) the row came from.
pub const SOURCE_KEY_COLUMN: &str = "_source_key";
/// Lineage column: when the row was converted (UTC).
pub const INGESTED_AT_COLUMN: &str = "_ingested_at";
/// Lineage column: the correlation id of the conversion (the state machine's execution ARN, the EventBridge event
/// id or the S3 request id; null for a local `tributary convert`).
pub const CORRELATION_ID_COLUMN: &str = "_correlation_id";
/// Every lineage column, in output order (after the data columns).
pub const LINEAGE_COLUMNS: [&str; 3] =
    [SOURCE_KEY_COLUMN, INGESTED_AT_COLUMN, CORRELATION_ID_COLUMN];

/// Why a schema is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    #[error(
        "schema is not valid JSON of the form {{\"columns\": [{{\"name\", \"type\", \"nullable\"}}]}}: {0}"
    )]
    Json(String),
    #[error("unknown column type {0:?} (expected one of {TYPE_NAMES})")]
    UnknownType(String),
    #[error("invalid decimal type {0:?}: precision must be 1..=38 and scale 0..=precision")]
    BadDecimal(String),
    #[error("schema has no columns")]
    Empty,
    #[error("schema declares column {0:?} twice")]
    Duplicate(String),
    #[error("column name {0:?} is reserved for lineage")]
    Reserved(String),
}

impl Schema {
    /// Parses and checks a schema document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SchemaError> {
        let schema: Schema =
            serde_json::from_slice(bytes).map_err(|e| SchemaError::Json(e.to_string()))?;
        schema.check()?;
        Ok(schema)
    }

    pub(crate) fn check(&self) -> Result<(), SchemaError> {
        if self.columns.is_empty() {
            return Err(SchemaError::Empty);
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.columns {
            if LINEAGE_COLUMNS.contains(&c.name.as_str()) {
                return Err(SchemaError::Reserved(c.name.clone()));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(SchemaError::Duplicate(c.name.clone()));
            }
        }
        Ok(())
    }

    /// The Arrow schema of the output: the columns, then the lineage columns.
    pub fn arrow_schema(&self) -> Arc<ArrowSchema> {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.column_type.arrow_type(), c.nullable))
            .collect();
        fields.push(Field::new(SOURCE_KEY_COLUMN, DataType::Utf8, false));
        fields.push(Field::new(
            INGESTED_AT_COLUMN,
            ColumnType::Timestamp.arrow_type(),
            false,
        ));
        fields.push(Field::new(CORRELATION_ID_COLUMN, DataType::Utf8, true));
        Arc::new(ArrowSchema::new(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_type_name() {
        let doc = br#"{"columns": [
            {"name": "a", "type": "string", "nullable": false}, {"name": "b", "type": "int64"},
            {"name": "c", "type": "float64"}, {"name": "d", "type": "bool"}, {"name": "e", "type": "date"},
            {"name": "f", "type": "timestamp"}, {"name": "g", "type": "decimal(12, 2)"}]}"#;
        let s = Schema::from_json(doc).expect("valid schema");
        assert!(!s.columns[0].nullable);
        assert!(s.columns[1].nullable);
        assert_eq!(
            s.columns[6].column_type,
            ColumnType::Decimal {
                precision: 12,
                scale: 2
            }
        );
        assert_eq!(s.arrow_schema().fields().len(), 7 + LINEAGE_COLUMNS.len());
    }

    #[test]
    fn rejects_unknown_types_and_bad_decimals() {
        assert!(
            matches!(Schema::from_json(br#"{"columns":[{"name":"a","type":"varchar"}]}"#), Err(SchemaError::Json(m)) if m.contains("varchar"))
        );
        assert_eq!(
            "decimal(40,2)".parse::<ColumnType>(),
            Err(SchemaError::BadDecimal("decimal(40,2)".into()))
        );
        assert_eq!(
            "decimal(4,5)".parse::<ColumnType>(),
            Err(SchemaError::BadDecimal("decimal(4,5)".into()))
        );
    }

    #[test]
    fn rejects_unknown_fields_duplicates_and_reserved_names() {
        assert!(matches!(
            Schema::from_json(br#"{"columns":[{"name":"a","type":"int64","nulable":true}]}"#),
            Err(SchemaError::Json(_))
        ));
        assert_eq!(
            Schema::from_json(
                br#"{"columns":[{"name":"a","type":"int64"},{"name":"a","type":"bool"}]}"#
            ),
            Err(SchemaError::Duplicate("a".into()))
        );
        assert_eq!(
            Schema::from_json(br#"{"columns":[{"name":"_source_key","type":"string"}]}"#),
            Err(SchemaError::Reserved("_source_key".into()))
        );
        assert_eq!(
            Schema::from_json(br#"{"columns":[]}"#),
            Err(SchemaError::Empty)
        );
    }

    #[test]
    fn type_names_round_trip() {
        for name in [
            "string",
            "int64",
            "float64",
            "bool",
            "date",
            "timestamp",
            "decimal(38,10)",
        ] {
            assert_eq!(
                name.parse::<ColumnType>().map(|t| t.to_string()).as_deref(),
                Ok(name)
            );
        }
    }
}
