//! The function's errors. Per-record write failures are not errors (they go in `batchItemFailures`); the
//! invocation fails only when the event is unreadable or every record failed.

use crate::batch::BatchError;
use tributary_shared::config::ConfigError;
use tributary_shared::{Classify, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("every record of the batch failed; first failure: {first}")]
    AllFailed { kind: ErrorKind, first: String },
    #[error(transparent)]
    Aws(#[from] tributary_shared::aws::AwsError),
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Batch(e) => e.kind(),
            Self::Config(e) => e.kind(),
            Self::AllFailed { kind, .. } => *kind,
            Self::Aws(e) => e.kind(),
            Self::BadRequest(_) => ErrorKind::InvalidEvent,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}
