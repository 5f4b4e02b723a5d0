//! Reading "an object was created" from the three shapes it arrives in: an S3 notification (`Records[]`), an
//! EventBridge `Object Created` event, and a plain `{"bucket": .., "key": ..}` task payload.
//!
//! Keys in S3 notifications and EventBridge events are URL-encoded (`+` is a space, then `%XX` bytes of UTF-8);
//! keys in a plain task payload are taken literally.

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
    #[error("event time {0:?} is not RFC 3339")]
    BadTime(String),
}

impl crate::Classify for EventError {
    fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::InvalidEvent
    }
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "Records")]
    records: Vec<NotificationRecord>,
}

#[derive(Deserialize)]
struct NotificationRecord {
    #[serde(rename = "eventName", default)]
    event_name: Option<String>,
    #[serde(rename = "eventTime", default)]
    event_time: Option<String>,
    s3: NotificationS3,
}

#[derive(Deserialize)]
struct NotificationS3 {
    bucket: Named,
    object: EventObject,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct EventObject {
    key: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, alias = "eTag")]
    etag: Option<String>,
}

#[derive(Deserialize)]
struct EventBridge {
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    time: Option<String>,
    detail: EventBridgeDetail,
}

#[derive(Deserialize)]
struct EventBridgeDetail {
    bucket: Named,
    object: EventObject,
}

#[derive(Deserialize)]
struct TaskPayload {
    bucket: String,
    key: String,
    #[serde(default)]
    etag: Option<String>,
}

/// Reads every created object named by `event`. Notification records that are not `ObjectCreated:*` (e.g. the
/// `s3:TestEvent` S3 sends when a notification is configured) are left out.
pub fn objects_created(event: &Value) -> Result<Vec<ObjectRef>, EventError> {
    if event.get("Records").is_some() {
        let n: Notification =
            serde_json::from_value(event.clone()).map_err(|_| EventError::UnknownShape)?;
        return n
            .records
            .into_iter()
            .filter(|r| {
                r.event_name
                    .as_deref()
                    .is_none_or(|name| name.starts_with("ObjectCreated"))
            })
            .map(|r| {
                Ok(ObjectRef {
                    key: url_decode_key(&r.s3.object.key)?,
                    bucket: r.s3.bucket.name,
                    etag: r.s3.object.etag.map(unquote),
                    size: r.s3.object.size,
                    event_time: r.event_time.as_deref().map(parse_time).transpose()?,
                })
            })
            .collect();
    }
    if event.get("detail-type").is_some() {
        let e: EventBridge =
            serde_json::from_value(event.clone()).map_err(|_| EventError::UnknownShape)?;
        if e.detail_type != "Object Created" {
            return Ok(Vec::new());
        }
        return Ok(vec![ObjectRef {
            key: url_decode_key(&e.detail.object.key)?,
            bucket: e.detail.bucket.name,
            etag: e.detail.object.etag.map(unquote),
            size: e.detail.object.size,
            event_time: e.time.as_deref().map(parse_time).transpose()?,
        }]);
    }
    if event.get("bucket").is_some() || event.get("key").is_some() {
        let t: TaskPayload = serde_json::from_value(event.clone()).map_err(|_| {
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

fn parse_time(s: &str) -> Result<DateTime<Utc>, EventError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| EventError::BadTime(s.to_owned()))
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

    #[test]
    fn reads_s3_notification_records_and_skips_non_created_ones() {
        let event = json!({"Records": [
            {"eventName": "ObjectCreated:Put", "eventTime": "2026-11-21T10:00:00.000Z",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "raw/x/a+b.csv", "size": 3, "eTag": "abc"}}},
            {"eventName": "ObjectRemoved:Delete", "eventTime": "2026-11-21T10:00:00.000Z",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "raw/x/gone.csv"}}}
        ]});
        let objects = objects_created(&event).expect("valid event");
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].key, "raw/x/a b.csv");
        assert_eq!(objects[0].etag.as_deref(), Some("abc"));
        assert_eq!(
            objects[0].event_time.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-21T10:00:00+00:00")
        );
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
