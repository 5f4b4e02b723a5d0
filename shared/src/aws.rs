//! AWS SDK configuration and error classification. The SDK reads `AWS_ENDPOINT_URL` (and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`) itself, so the same binary runs against AWS or a local emulator.

use crate::ErrorKind;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use aws_config::SdkConfig;

/// Loads the SDK configuration from the environment (region, credentials, endpoint override), with timeouts:
/// connecting 3.1 s, and each attempt of a call, up to its response's headers, `SDK_ATTEMPT_TIMEOUT_MS`
/// (default 60,000). A request that hangs then fails as `Timeout` and is retried, instead of holding the
/// invocation until Lambda ends it. Read once, at cold start.
pub async fn load_config() -> SdkConfig {
    let attempt = std::env::var("SDK_ATTEMPT_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(60_000);
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_millis(3100))
                .operation_attempt_timeout(std::time::Duration::from_millis(attempt))
                .build(),
        )
        .load()
        .await
}

/// A failed AWS call, with its class and enough context to act on it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} {target} failed ({kind}): {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub target: String,
    pub kind: ErrorKind,
    pub message: String,
}

impl AwsError {
    /// Classifies an SDK error from `operation` on `target` (a bucket/key, a table, ...).
    pub fn from_sdk<E>(
        operation: &'static str,
        target: impl Into<String>,
        err: &SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self {
            operation,
            target: target.into(),
            kind: kind_of(err),
            message: DisplayErrorContext(err).to_string(),
        }
    }

    /// An error that did not come from the SDK (a broken stream, a failed task).
    pub fn other(
        operation: &'static str,
        target: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            operation,
            target: target.into(),
            kind,
            message: message.into(),
        }
    }
}

impl crate::Classify for AwsError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// The class of an SDK error: transport trouble and 5xx are retryable, most 4xx are not.
pub fn kind_of<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> ErrorKind {
    match err {
        SdkError::TimeoutError(_) => ErrorKind::Timeout,
        SdkError::DispatchFailure(f) if f.is_timeout() => ErrorKind::Timeout,
        SdkError::DispatchFailure(f) if f.is_user() => ErrorKind::Internal,
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::ServiceUnavailable,
        SdkError::ServiceError(ctx) => classify(
            ctx.raw().status().as_u16(),
            ctx.err().code().unwrap_or_default(),
        ),
        _ => ErrorKind::Internal,
    }
}

/// Classifies a service error by its code, falling back to the HTTP status.
pub fn classify(status: u16, code: &str) -> ErrorKind {
    match code {
        "SlowDown"
        | "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ProvisionedThroughputExceededException" => ErrorKind::Throttled,
        "NoSuchKey"
        | "NoSuchBucket"
        | "NoSuchUpload"
        | "NotFound"
        | "ResourceNotFoundException" => ErrorKind::NotFound,
        "AccessDenied"
        | "AccessDeniedException"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch" => ErrorKind::AccessDenied,
        "RequestTimeout" | "RequestTimeoutException" => ErrorKind::Timeout,
        // An archived object (S3 Glacier, Deep Archive) that was not restored.
        "InvalidObjectState" => ErrorKind::InvalidInput,
        // A conditional write whose condition no longer holds: another writer got there first.
        "PreconditionFailed" | "ConditionalRequestConflict" => ErrorKind::Conflict,
        "InternalError" | "InternalFailure" | "ServiceUnavailable" => ErrorKind::ServiceUnavailable,
        _ => match status {
            429 => ErrorKind::Throttled,
            403 => ErrorKind::AccessDenied,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            500..=599 => ErrorKind::ServiceUnavailable,
            _ => ErrorKind::RequestRejected,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        assert!(classify(503, "SlowDown").retryable());
        assert!(classify(500, "").retryable());
        assert!(classify(400, "ProvisionedThroughputExceededException").retryable());
    }

    #[test]
    fn client_errors_are_not_retryable() {
        assert_eq!(classify(404, "NoSuchKey"), ErrorKind::NotFound);
        assert_eq!(classify(403, ""), ErrorKind::AccessDenied);
        assert_eq!(classify(400, "InvalidArgument"), ErrorKind::RequestRejected);
        assert!(!classify(400, "InvalidArgument").retryable());
    }
}
