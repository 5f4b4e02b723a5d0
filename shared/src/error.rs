//! Error classes shared by every function: a stable `error_type` name for Lambda and Step Functions, and
//! whether a retry can help.

use std::fmt;

/// The stable classes of failure. Their names are matched by Step Functions `Retry` / `Catch` rules, so they
/// never change once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The event or task payload has the wrong shape.
    InvalidEvent,
    /// The function's configuration is unusable.
    InvalidConfig,
    /// The input data cannot be processed as a whole (empty object, not UTF-8, no header, bad schema file).
    InvalidInput,
    /// Too many rows were rejected; the curated output was not written.
    QualityGateFailed,
    /// The file's schema is a change its dataset's compatibility mode refuses (or `SCHEMA_EVOLUTION=none` and the
    /// file has new columns); nothing was written.
    SchemaIncompatible,
    /// A warehouse load failed.
    LoadFailed,
    /// The files do not fit the warehouse table (a type it cannot widen to, a required column they lack); nothing
    /// was written.
    SchemaMismatch,
    /// An object, bucket or table does not exist.
    NotFound,
    /// The function's role may not do what it tried.
    AccessDenied,
    /// An AWS request was refused for a reason a retry will not fix.
    RequestRejected,
    /// An AWS service throttled the request.
    Throttled,
    /// An AWS service failed or could not be reached.
    ServiceUnavailable,
    /// An AWS request timed out.
    Timeout,
    /// Lost a race with a concurrent run on the same data (a serialization failure, a deadlock, a concurrent
    /// catalog update, Redshift's 1023); retried inside the function first, then left to the caller's retry.
    Conflict,
    /// A bug or an impossible state.
    Internal,
}

impl ErrorKind {
    /// Every kind, for documentation and for checks that state machines cover the retryable ones.
    pub const ALL: [ErrorKind; 15] = [
        Self::InvalidEvent,
        Self::InvalidConfig,
        Self::InvalidInput,
        Self::QualityGateFailed,
        Self::SchemaIncompatible,
        Self::LoadFailed,
        Self::SchemaMismatch,
        Self::NotFound,
        Self::AccessDenied,
        Self::RequestRejected,
        Self::Throttled,
        Self::ServiceUnavailable,
        Self::Timeout,
        Self::Conflict,
        Self::Internal,
    ];

    /// The stable name reported as Lambda's `errorType`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEvent => "InvalidEvent",
            Self::InvalidConfig => "InvalidConfig",
            Self::InvalidInput => "InvalidInput",
            Self::QualityGateFailed => "QualityGateFailed",
            Self::SchemaIncompatible => "SchemaIncompatible",
            Self::LoadFailed => "LoadFailed",
            Self::SchemaMismatch => "SchemaMismatch",
            Self::NotFound => "NotFound",
            Self::AccessDenied => "AccessDenied",
            Self::RequestRejected => "RequestRejected",
            Self::Throttled => "Throttled",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::Timeout => "Timeout",
            Self::Conflict => "Conflict",
            Self::Internal => "Internal",
        }
    }

    /// Whether running the same input again, later, can succeed.
    pub const fn retryable(self) -> bool {
        matches!(
            self,
            Self::Throttled | Self::ServiceUnavailable | Self::Timeout | Self::Conflict
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every error a handler can return.
pub trait Classify {
    fn kind(&self) -> ErrorKind;

    fn error_type(&self) -> &'static str {
        self.kind().as_str()
    }

    fn retryable(&self) -> bool {
        self.kind().retryable()
    }
}

/// Converts a classified error into Lambda's error payload, with the full source chain in the message.
#[cfg(feature = "lambda")]
pub fn diagnostic<E: Classify + std::error::Error>(err: &E) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: err.error_type().to_owned(),
        error_message: chain(err),
    }
}

/// The error's message followed by each of its sources, separated by `: `.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_kinds_are_retryable() {
        let retryable: Vec<_> = ErrorKind::ALL
            .iter()
            .filter(|k| k.retryable())
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            retryable,
            ["Throttled", "ServiceUnavailable", "Timeout", "Conflict"]
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}
