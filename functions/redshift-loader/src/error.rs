//! The function's errors, each with a stable `error_type`; a failed load is `LoadFailed` with Redshift's words.

use crate::postgres::LoadError;
use crate::request::RequestError;
use tributary_shared::aws::AwsError;
use tributary_shared::config::ConfigError;
use tributary_shared::{Classify, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A load's own error: PostgreSQL's, or one found before any SQL ran (a schema mismatch, unreadable Parquet).
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "load into {table} failed ({status}): {error}{}{}",
        statement.as_ref().map(|s| format!(" in statement: {s}")).unwrap_or_default(),
        if rejected_rows.is_empty() { String::new() } else { format!("; load errors: {}", rejected_rows.join(" | ")) }
    )]
    LoadFailed {
        table: String,
        status: String,
        error: String,
        statement: Option<String>,
        rejected_rows: Vec<String>,
    },
    /// Lost a race with a concurrent load of the same table, every time it was retried.
    #[error("load into {table} lost a race with a concurrent load {attempts} time(s): {error}")]
    Conflict {
        table: String,
        attempts: u32,
        error: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Request(e) => e.kind(),
            Self::Config(e) => e.kind(),
            Self::Aws(e) => e.kind(),
            Self::Load(e) => e.kind(),
            Self::LoadFailed { .. } => ErrorKind::LoadFailed,
            Self::Conflict { .. } => ErrorKind::Conflict,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}
