//! `csv-to-parquet`: raw CSV objects (plain or gzip) become typed, validated Parquet; bad rows go to a quarantine
//! CSV with their line number and reason.
//!
//! The core ([`convert`], [`schema`], [`infer`], [`values`]) is pure and has no AWS dependency; the CLI uses it
//! with default features off. The Lambda handler and its S3 adapter are behind the `lambda` feature.

pub mod backfill;
mod block;
pub mod codec;
pub mod convert;
pub mod infer;
pub mod layout;
pub mod outcome;
pub mod registry;
pub mod replay;
pub mod schema;
mod tokenize;
pub mod values;

#[cfg(feature = "lambda")]
pub mod config;
#[cfg(feature = "lambda")]
pub mod error;
#[cfg(feature = "lambda")]
pub mod handler;

pub use codec::Codec;
pub use convert::{ConvertError, Options, QualityGateError, Summary, convert, quality_gate};
pub use schema::{ColumnType, Schema};
