//! Structured JSON logs on stderr, filtered by `RUST_LOG` or Lambda's `AWS_LAMBDA_LOG_LEVEL`: one object per line
//! with `timestamp`, `level`, `target`, the fields of every span the event is in (so each line of an invocation
//! carries its `correlation_id` and the runtime's `requestId`), then the event's own fields.

use serde_json::{Map, Value};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

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
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson)
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}

/// The line format: span fields (root first) and event fields flattened into one object. A later field of the
/// same name wins, so an event's own field is never hidden by a span's.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                // JsonFields keeps each span's fields as one JSON object.
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str(fields.as_str())
                {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields as JSON values.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn every_line_carries_the_fields_of_its_spans_at_the_top_level() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(buffer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("invocation", correlation_id = "exec-1");
            let _outer = outer.enter();
            let inner = tracing::info_span!("step", step = "convert", correlation_id = "inner");
            let _inner = inner.enter();
            tracing::info!(rows = 3_u64, ok = true, key = %"raw/a b.csv", "converted object");
        });
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("UTF-8");
        let line: Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "converted object");
        assert_eq!(line["rows"], 3);
        assert_eq!(line["ok"], true);
        assert_eq!(line["key"], "raw/a b.csv");
        assert_eq!(line["step"], "convert");
        // The innermost span wins over an outer one of the same name.
        assert_eq!(line["correlation_id"], "inner");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(text.lines().count(), 1);
    }

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
