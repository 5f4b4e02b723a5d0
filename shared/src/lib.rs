//! Common crate for Tributary functions: configuration, error classes, S3 event reading, partition paths,
//! telemetry and (behind features) AWS client construction and S3 streaming adapters.
//!
//! Features keep it light: `aws` adds the SDK configuration, `s3` the S3 client and its adapters, `lambda` the
//! conversion of errors into Lambda diagnostics. A crate that needs none of them compiles no SDK.

pub mod config;
pub mod correlation;
pub mod error;
pub mod event;
pub mod hash;
pub mod metrics;
pub mod partition;
pub mod retry;
pub mod telemetry;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "s3")]
pub mod s3;

pub use error::{Classify, ErrorKind};
