//! Reading "an object was created" from the three shapes it arrives in: an S3 notification (`Records[]`), an
//! EventBridge `Object Created` event, and a plain `{"bucket": .., "key": ..}` task payload.
//!
//! Keys in S3 notifications and EventBridge events are URL-encoded (`+` is a space, then `%XX` bytes of UTF-8);
//! keys in a plain task payload are taken literally.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3Event;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// One object named by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// The decoded key, ready for S3 API calls.
    pub key: String,
    pub etag: Option<String>,
    pub size: Option<u64>,
    /// When the object was created, per the event; `None` for a plain task payload.
    pub event_time: Option<DateTime<Utc>>,
}

/// Why an event could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error(
        "event is not an S3 notification, an EventBridge Object Created event or a {{bucket, key}} payload"
    )]
    UnknownShape,
    #[error("event field {field} is missing or not a string")]
    MissingField { field: &'static str },
    #[error("object key {key:?} is not valid URL encoding: {reason}")]
    BadKeyEncoding { key: String, reason: &'static str },
    #[error("{shape} is not valid: {reason}")]
    Invalid { shape: &'static str, reason: String },
}

impl crate::Classify for EventError {
    fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::InvalidEvent
    }
}

/// EventBridge's `detail` for S3 `Object Created`, which `aws_lambda_events` leaves generic.
#[derive(Debug, Deserialize)]
struct ObjectCreatedDetail {
    bucket: Named,
    object: DetailObject,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[derive(Debug, Deserialize)]
struct DetailObject {
    key: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    etag: Option<String>,
}

/// A Step Functions task's payload: the key is literal, not URL-encoded.
#[derive(Deserialize)]
struct TaskPayload {
    bucket: String,
    key: String,
    #[serde(default)]
    etag: Option<String>,
}

/// Reads every created object named by `event`. Notification records that are not `ObjectCreated:*` (e.g. the
/// `s3:TestEvent` S3 sends when a notification is configured) are left out.
///
/// The first two shapes are `aws_lambda_events`' [`S3Event`] and [`EventBridgeEvent`]; this layer adds what they
/// leave to the caller: telling the shapes apart, decoding keys, and dropping the quotes around ETags.
pub fn objects_created(event: &Value) -> Result<Vec<ObjectRef>, EventError> {
    let invalid = |shape: &'static str| {
        move |e: serde_json::Error| EventError::Invalid {
            shape,
            reason: e.to_string(),
        }
    };
    if event.get("Records").is_some() {
        let n = S3Event::deserialize(event).map_err(invalid("S3 notification"))?;
        return n
            .records
            .into_iter()
            .filter(|r| {
                r.event_name
                    .as_deref()
                    .is_none_or(|name| name.starts_with("ObjectCreated"))
            })
            .map(|r| {
                let missing = |field| EventError::MissingField { field };
                let key = r.s3.object.key.ok_or_else(|| missing("s3.object.key"))?;
                Ok(ObjectRef {
                    key: url_decode_key(&key)?,
                    bucket: r.s3.bucket.name.ok_or_else(|| missing("s3.bucket.name"))?,
                    etag: r.s3.object.e_tag.map(unquote),
                    size: r.s3.object.size.and_then(|s| u64::try_from(s).ok()),
                    event_time: Some(r.event_time),
                })
            })
            .collect();
    }
    if event.get("detail-type").is_some() {
        let e =
            EventBridgeEvent::<Value>::deserialize(event).map_err(invalid("EventBridge event"))?;
        if e.detail_type != "Object Created" {
            return Ok(Vec::new());
        }
        let detail = ObjectCreatedDetail::deserialize(&e.detail)
            .map_err(invalid("EventBridge Object Created detail"))?;
        return Ok(vec![ObjectRef {
            key: url_decode_key(&detail.object.key)?,
            bucket: detail.bucket.name,
            etag: detail.object.etag.map(unquote),
            size: detail.object.size,
            event_time: e.time,
        }]);
    }
    if event.get("bucket").is_some() || event.get("key").is_some() {
        let t = TaskPayload::deserialize(event).map_err(|_| {
            let field = if event.get("bucket").and_then(Value::as_str).is_none() {
                "bucket"
            } else {
                "key"
            };
            EventError::MissingField { field }
        })?;
        return Ok(vec![ObjectRef {
            bucket: t.bucket,
            key: t.key,
            etag: t.etag.map(unquote),
            size: None,
            event_time: None,
        }]);
    }
    Err(EventError::UnknownShape)
}

fn unquote(etag: String) -> String {
    etag.trim_matches('"').to_owned()
}

/// Decodes an S3 event key: `+` is a space, then `%XX` escapes are bytes of UTF-8.
pub fn url_decode_key(key: &str) -> Result<String, EventError> {
    let bad = |reason| EventError::BadKeyEncoding {
        key: key.to_owned(),
        reason,
    };
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .ok_or_else(|| bad("truncated % escape"))?;
                let hi = hex_value(hex[0]).ok_or_else(|| bad("non-hex digit in % escape"))?;
                let lo = hex_value(hex[1]).ok_or_else(|| bad("non-hex digit in % escape"))?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad("escapes do not form UTF-8"))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_plus_as_space_and_percent_escapes_as_utf8() {
        assert_eq!(
            url_decode_key("raw/orders/my+file%C3%A9+%2B1.csv")
                .ok()
                .as_deref(),
            Some("raw/orders/my fileé +1.csv")
        );
    }

    #[test]
    fn rejects_broken_escapes() {
        assert!(matches!(
            url_decode_key("a%2"),
            Err(EventError::BadKeyEncoding { .. })
        ));
        assert!(matches!(
            url_decode_key("a%zz"),
            Err(EventError::BadKeyEncoding { .. })
        ));
        assert!(matches!(
            url_decode_key("a%FF"),
            Err(EventError::BadKeyEncoding { .. })
        ));
    }

    /// A notification record as S3 sends it.
    fn record(event_name: &str, key: &str) -> Value {
        json!({"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": event_name,
            "eventTime": "2026-11-21T10:00:00.000Z", "userIdentity": {"principalId": "AWS:X"},
            "requestParameters": {"sourceIPAddress": "203.0.113.10"}, "responseElements": {},
            "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 3, "eTag": "abc"}}})
    }

    #[test]
    fn reads_s3_notification_records_and_skips_non_created_ones() {
        let event = json!({"Records": [
            record("ObjectCreated:Put", "raw/x/a+b.csv"),
            record("ObjectRemoved:Delete", "raw/x/gone.csv"),
        ]});
        let objects = objects_created(&event).expect("valid event");
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].key, "raw/x/a b.csv");
        assert_eq!(objects[0].etag.as_deref(), Some("abc"));
        assert_eq!(objects[0].size, Some(3));
        assert_eq!(
            objects[0].event_time.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-21T10:00:00+00:00")
        );
    }

    #[test]
    fn reads_the_sample_events() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/");
        for (file, key) in [
            (
                "s3-object-created-csv.json",
                "raw/orders/order lines 2026-11-21.csv",
            ),
            (
                "eventbridge-object-created-csv.json",
                "raw/orders/order lines 2026-11-21.csv",
            ),
            ("s3-object-created-order.json", ""),
            ("sfn-convert-csv.json", ""),
        ] {
            let text = std::fs::read_to_string(format!("{root}{file}")).expect("sample event");
            let event: Value = serde_json::from_str(&text).expect("JSON");
            let objects = objects_created(&event).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(objects.len(), 1, "{file}");
            assert_eq!(objects[0].bucket, "tributary-demo", "{file}");
            if !key.is_empty() {
                assert_eq!(objects[0].key, key, "{file}");
            }
        }
    }

    #[test]
    fn a_notification_without_what_s3_always_sends_is_invalid_and_says_what() {
        let mut r = record("ObjectCreated:Put", "raw/x/a.csv");
        r.as_object_mut().map(|o| o.remove("eventTime"));
        match objects_created(&json!({"Records": [r]})) {
            Err(EventError::Invalid { shape, reason }) => {
                assert_eq!(shape, "S3 notification");
                assert!(reason.contains("eventTime"), "{reason}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn reads_eventbridge_object_created() {
        let event = json!({"detail-type": "Object Created", "source": "aws.s3", "time": "2026-11-21T10:00:00Z",
            "detail": {"bucket": {"name": "b"}, "object": {"key": "raw/x/%C3%A9.csv", "size": 1, "etag": "\"e\""}}});
        let objects = objects_created(&event).expect("valid event");
        assert_eq!(objects[0].key, "raw/x/é.csv");
        assert_eq!(objects[0].etag.as_deref(), Some("e"));
    }

    #[test]
    fn takes_task_payload_keys_literally() {
        let objects = objects_created(&json!({"bucket": "b", "key": "raw/x/a+b%20.csv"}))
            .expect("valid payload");
        assert_eq!(objects[0].key, "raw/x/a+b%20.csv");
        assert_eq!(objects[0].event_time, None);
    }

    #[test]
    fn names_the_missing_field() {
        assert_eq!(
            objects_created(&json!({"bucket": "b"})),
            Err(EventError::MissingField { field: "key" })
        );
        assert_eq!(
            objects_created(&json!({"hello": 1})),
            Err(EventError::UnknownShape)
        );
    }
}
