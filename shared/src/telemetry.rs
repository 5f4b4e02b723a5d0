//! Structured JSON logs on stderr, filtered by `RUST_LOG` or Lambda's `AWS_LAMBDA_LOG_LEVEL`.

use tracing_subscriber::EnvFilter;

/// The filter directive: `RUST_LOG` wins, then `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging control), then
/// `default`.
pub fn filter_directive(
    rust_log: Option<&str>,
    lambda_level: Option<&str>,
    default: &str,
) -> String {
    if let Some(directive) = rust_log.filter(|s| !s.trim().is_empty()) {
        return directive.to_owned();
    }
    match lambda_level.map(|s| s.trim().to_ascii_lowercase()) {
        Some(level) if ["trace", "debug", "info", "warn", "error"].contains(&level.as_str()) => {
            level
        }
        // Lambda's FATAL has no tracing equivalent; it means "only the worst".
        Some(level) if level == "fatal" => "error".to_owned(),
        _ => default.to_owned(),
    }
}

/// Installs the global JSON subscriber. Safe to call twice (the second call is a no-op).
pub fn init() {
    let directive = filter_directive(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        "info",
    );
    let filter = EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_takes_precedence() {
        assert_eq!(
            filter_directive(Some("debug,hyper=warn"), Some("ERROR"), "info"),
            "debug,hyper=warn"
        );
    }

    #[test]
    fn lambda_levels_map_to_tracing_levels() {
        assert_eq!(filter_directive(None, Some("WARN"), "info"), "warn");
        assert_eq!(filter_directive(None, Some("FATAL"), "info"), "error");
        assert_eq!(filter_directive(None, Some("bogus"), "info"), "info");
        assert_eq!(filter_directive(Some(" "), None, "info"), "info");
    }
}
