//! One correlation id per invocation: in every log line (`correlation_id`), and in what the invocation writes
//! (curated objects' metadata and rows, the load ledger), so a warehouse row leads back to the execution and the
//! source object.
//!
//! Where it comes from, first match wins ([`of_event`]):
//! - a task envelope `{"correlation_id": "...", "event": {...}}`, which the state machines send with
//!   `$$.Execution.Id`, or a csv-to-parquet summary passed on to the loader (it carries the id it was given);
//! - an EventBridge event's `id`;
//! - an S3 notification's `x-amz-request-id` (the request that wrote the object; CloudTrail has it too);
//! - otherwise the Lambda request id (a Kinesis or SQS batch, a plain payload).

use serde_json::Value;

/// The field that names the correlation id, in a task envelope and in the summaries the functions answer.
pub const FIELD: &str = "correlation_id";
/// The S3 user-metadata key on objects the pipeline writes.
pub const META: &str = "correlation-id";

/// The id an event brings with it, if any (see the module documentation).
pub fn of_event(event: &Value) -> Option<String> {
    let text = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(id) = event.get(FIELD).and_then(text) {
        return Some(id);
    }
    if event.get("detail-type").is_some() {
        return event.get("id").and_then(text);
    }
    let first = event.get("Records")?.get(0)?;
    if first.get("eventSource").and_then(Value::as_str) == Some("aws:s3") {
        return first
            .get("responseElements")?
            .get("x-amz-request-id")
            .and_then(text);
    }
    None
}

/// What a task envelope wraps, or the event itself when it is not an envelope. An envelope is an object with
/// exactly the two fields `correlation_id` and `event`.
pub fn unwrap(event: &Value) -> &Value {
    match event.as_object() {
        Some(o) if o.len() == 2 && o.contains_key(FIELD) && o.contains_key("event") => &o["event"],
        _ => event,
    }
}

/// An event type that may bring its own correlation id.
pub trait Correlate {
    fn correlation_id(&self) -> Option<String>;
}

impl Correlate for Value {
    fn correlation_id(&self) -> Option<String> {
        of_event(self)
    }
}

/// An event as its text: read as a `Value` only when it names one of the places an id comes from, so that a
/// Kinesis or SQS batch of megabytes is not read a second time to find that it brings none (three SIMD scans of
/// a 10 MB batch take about 1 ms; building its `Value`, 28 ms). A key or value that spells one of those names
/// with `\u` escapes is not looked for.
impl Correlate for Box<serde_json::value::RawValue> {
    fn correlation_id(&self) -> Option<String> {
        of_text(self.get())
    }
}

/// [`of_event`] of an event's text (see the `RawValue` impl of [`Correlate`]).
fn of_text(text: &str) -> Option<String> {
    let named = ["\"correlation_id\"", "\"detail-type\"", "\"aws:s3\""]
        .iter()
        .any(|word| memchr::memmem::find(text.as_bytes(), word.as_bytes()).is_some());
    if !named {
        return None;
    }
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| of_event(&v))
}

/// A webhook delivery: its `webhook-id` header (the orders execution is named after it).
impl Correlate for aws_lambda_events::apigw::ApiGatewayV2httpRequest {
    fn correlation_id(&self) -> Option<String> {
        self.headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }
}

/// The id of the invocation being served, inside [`scope`].
#[cfg(feature = "lambda")]
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.to_string()).ok()
}

#[cfg(feature = "lambda")]
tokio::task_local! {
    static CURRENT: std::sync::Arc<str>;
}

/// Runs `invocation` with `id` as the current correlation id ([`current`]) and in a span whose field
/// `correlation_id` every log line of the invocation carries (see [`crate::telemetry`]).
#[cfg(feature = "lambda")]
pub async fn scope<F: std::future::Future>(id: String, invocation: F) -> F::Output {
    use tracing::Instrument;
    let span = tracing::info_span!("invocation", correlation_id = %id);
    CURRENT.scope(id.into(), invocation.instrument(span)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_envelope_names_its_id_and_wraps_the_event() {
        let e = json!({"correlation_id": "arn:aws:states:x:1:execution:m:e1", "event": {"bucket": "b", "key": "k"}});
        assert_eq!(
            of_event(&e).as_deref(),
            Some("arn:aws:states:x:1:execution:m:e1")
        );
        assert_eq!(unwrap(&e), &json!({"bucket": "b", "key": "k"}));
        // A summary carries the id but is not an envelope.
        let s = json!({"correlation_id": "c", "status": "converted", "event": 1});
        assert_eq!(of_event(&s).as_deref(), Some("c"));
        assert_eq!(unwrap(&s), &s);
    }

    #[test]
    fn eventbridge_and_s3_events_bring_their_ids() {
        let eb = json!({"id": "7bf73129", "detail-type": "Object Created", "detail": {}});
        assert_eq!(of_event(&eb).as_deref(), Some("7bf73129"));
        let s3 = json!({"Records": [{"eventSource": "aws:s3", "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"}}]});
        assert_eq!(of_event(&s3).as_deref(), Some("C3D13FE58DE4C810"));
    }

    #[test]
    fn an_events_text_brings_the_id_its_value_does() {
        for event in [
            json!({"correlation_id": "arn:aws:states:x:1:execution:m:e1", "event": {"key": "k"}}),
            json!({"id": "7bf73129", "detail-type": "Object Created", "detail": {}}),
            json!({"Records": [{"eventSource": "aws:s3", "responseElements": {"x-amz-request-id": "C3D1"}}]}),
            json!({"Records": [{"eventSource": "aws:kinesis", "kinesis": {"data": "eyJpZCI6IDF9"}}]}),
            json!({"Records": [{"eventSource": "aws:sqs", "body": "{\"correlation_id\": \"inner\"}"}]}),
            json!({"correlation_id": "  "}),
            json!([1, 2]),
        ] {
            let text = serde_json::value::RawValue::from_string(event.to_string()).expect("raw");
            assert_eq!(text.correlation_id(), of_event(&event), "{event}");
        }
    }

    #[test]
    fn batches_and_blank_ids_bring_none() {
        assert_eq!(
            of_event(&json!({"Records": [{"eventSource": "aws:kinesis"}]})),
            None
        );
        assert_eq!(of_event(&json!({"correlation_id": "  "})), None);
        assert_eq!(of_event(&json!([1, 2])), None);
    }
}
