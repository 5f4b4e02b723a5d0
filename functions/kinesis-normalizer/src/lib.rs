//! `kinesis-normalizer`: a Kinesis batch (or an SQS batch carrying the same JSON) becomes normalized events in
//! S3, partitioned by type and hour, and a DynamoDB latest-state table for fast lookups. Per-record failures
//! are reported in `batchItemFailures`; poison records go to a dead-letter path and never fail the batch.
//!
//! The core ([`normalize`], [`batch`]) is pure; the CLI uses it with default features off. The Lambda handler
//! and its adapters are behind the `lambda` feature.

pub mod batch;
pub mod failure;
pub mod json;
pub mod normalize;

#[cfg(feature = "lambda")]
pub mod config;
#[cfg(feature = "lambda")]
pub mod error;
#[cfg(feature = "lambda")]
pub mod handler;
#[cfg(feature = "lambda")]
pub mod redrive;
#[cfg(feature = "lambda")]
pub mod sink;
