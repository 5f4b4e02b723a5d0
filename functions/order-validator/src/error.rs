//! The function's errors. An invalid order is a normal result, never an error: only infrastructure fails.

use tributary_shared::aws::AwsError;
use tributary_shared::config::ConfigError;
use tributary_shared::event::EventError;
use tributary_shared::{Classify, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(
        "no bucket to write results to: set ORDERS_BUCKET for orders that arrive as a task payload"
    )]
    NoBucket,
    #[error("the event is not JSON: {0}")]
    NotJson(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Event(e) => e.kind(),
            Self::Config(e) => e.kind(),
            Self::Aws(e) => e.kind(),
            Self::NoBucket => ErrorKind::InvalidConfig,
            Self::NotJson(_) => ErrorKind::InvalidEvent,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}
