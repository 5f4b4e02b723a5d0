//! The function's errors, each with a stable `error_type` and a retry decision.

use crate::convert::{ConvertError, QualityGateError};
use crate::schema::SchemaError;
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
    #[error("s3://{bucket}/{key}: {source}")]
    Convert {
        bucket: String,
        key: String,
        #[source]
        source: ConvertError,
    },
    #[error("schema s3://{bucket}/{key}: {source}")]
    Schema {
        bucket: String,
        key: String,
        #[source]
        source: SchemaError,
    },
    #[error("s3://{bucket}/{key}: {source}; rejected rows are in {quarantine_key}")]
    QualityGate {
        bucket: String,
        key: String,
        quarantine_key: String,
        #[source]
        source: Box<QualityGateError>,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Event(e) => e.kind(),
            Self::Config(e) => e.kind(),
            Self::Aws(e) => e.kind(),
            Self::Convert {
                source: ConvertError::Registry(e),
                ..
            } => e.kind(),
            Self::Convert { source, .. } if source.is_input_error() => ErrorKind::InvalidInput,
            Self::Convert {
                source: ConvertError::Read(_),
                ..
            } => ErrorKind::ServiceUnavailable,
            Self::Convert { .. } | Self::Internal(_) => ErrorKind::Internal,
            Self::Schema { .. } => ErrorKind::InvalidInput,
            Self::QualityGate { .. } => ErrorKind::QualityGateFailed,
        }
    }
}
