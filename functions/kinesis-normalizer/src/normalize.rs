//! Normalizing one record's payload into a clean event: snake_case keys, trimmed strings, and a resolved
//! `event_id`, `event_type` and UTC `event_time`. Pure: bytes and metadata in, an event or a poison reason out.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value};

/// Where a record came from, as its event source reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// Kinesis shard id (`shardId-000000000000`), or the SQS queue name.
    pub shard_id: String,
    /// Kinesis sequence number, or the SQS message id.
    pub sequence_number: String,
    /// Kinesis partition key (empty for SQS).
    pub partition_key: String,
    /// When the record reached the stream or queue.
    pub arrival: DateTime<Utc>,
}

/// Why a record cannot become an event. Poison records go to the dead-letter path and never fail the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Poison {
    #[error("data is not valid base64")]
    BadBase64,
    #[error("payload is not JSON: {0}")]
    NotJson(String),
    #[error("payload is JSON but not an object")]
    NotObject,
    #[error("payload is {size} bytes, over the {limit} byte limit")]
    TooLarge { size: usize, limit: usize },
}

/// A normalized event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: String,
    /// Safe as one S3 key segment.
    pub event_type: String,
    pub event_time: DateTime<Utc>,
    /// The whole event as written: the normalized payload plus `event_id`, `event_type`, `event_time`,
    /// `event_time_source`, `_kinesis` and `ingested_at`.
    pub body: Map<String, Value>,
}

/// RFC 3339, UTC, milliseconds: `2026-11-21T10:00:00.000Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Normalizes one decoded payload.
pub fn normalize(
    payload: &[u8],
    meta: &RecordMeta,
    ingested_at: DateTime<Utc>,
    max_bytes: usize,
) -> Result<Event, Poison> {
    if payload.len() > max_bytes {
        return Err(Poison::TooLarge {
            size: payload.len(),
            limit: max_bytes,
        });
    }
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| Poison::NotJson(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(Poison::NotObject);
    };
    let Value::Object(mut body) = clean(Value::Object(object)) else {
        return Err(Poison::NotObject);
    };

    let event_id = ["event_id", "id"]
        .iter()
        .find_map(|k| scalar_text(body.get(*k)))
        .unwrap_or_else(|| format!("{}-{}", meta.shard_id, meta.sequence_number));
    let event_type = ["event_type", "type"]
        .iter()
        .find_map(|k| scalar_text(body.get(*k)))
        .map(|t| sanitize_type(&t))
        .unwrap_or_else(|| "unknown".to_owned());
    let from_payload = ["event_time", "timestamp", "ts", "created_at"]
        .iter()
        .find_map(|k| body.get(*k).and_then(parse_time));
    let (event_time, source) = match from_payload {
        Some(t) => (t, "payload"),
        None => (meta.arrival, "arrival"),
    };

    body.insert("event_id".into(), Value::String(event_id.clone()));
    body.insert("event_type".into(), Value::String(event_type.clone()));
    body.insert("event_time".into(), Value::String(format_time(event_time)));
    body.insert("event_time_source".into(), Value::String(source.into()));
    body.insert(
        "_kinesis".into(),
        serde_json::json!({
            "partition_key": meta.partition_key,
            "sequence_number": meta.sequence_number,
            "shard_id": meta.shard_id,
            "approximate_arrival": format_time(meta.arrival),
        }),
    );
    body.insert(
        "ingested_at".into(),
        Value::String(format_time(ingested_at)),
    );
    Ok(Event {
        event_id,
        event_type,
        event_time,
        body,
    })
}

/// snake_case keys and trimmed strings, all the way down.
fn clean(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (snake_case(&k), clean(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(clean).collect()),
        Value::String(s) => {
            let t = s.trim();
            if t.len() == s.len() {
                Value::String(s)
            } else {
                Value::String(t.to_owned())
            }
        }
        other => other,
    }
}

/// `customerId` → `customer_id`, `HTTPStatus` → `http_status`, `Order-Total` → `order_total`.
pub fn snake_case(key: &str) -> String {
    let chars: Vec<char> = key.trim().chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == ' ' || c == '.' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() {
            let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
            let next = chars.get(i + 1).copied();
            let boundary = prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(char::is_uppercase) && next.is_some_and(char::is_lowercase));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn scalar_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Lower case, `[a-z0-9_.-]` only (anything else becomes `_`), at most 100 characters; never empty, `.` or `..`.
pub fn sanitize_type(raw: &str) -> String {
    let cleaned: String = raw
        .trim()
        .chars()
        .take(100)
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "unknown".to_owned()
    } else {
        cleaned
    }
}

/// Epoch numbers above this are milliseconds (10^11 seconds is the year 5138).
const MILLIS_THRESHOLD: f64 = 1e11;

/// RFC 3339 with any offset, epoch seconds or epoch milliseconds (as a number or a numeric string).
pub fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    let epoch = |n: f64| -> Option<DateTime<Utc>> {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        let millis = if n > MILLIS_THRESHOLD { n } else { n * 1000.0 };
        Utc.timestamp_millis_opt(millis.round() as i64).single()
    };
    match value {
        Value::Number(n) => epoch(n.as_f64()?),
        Value::String(s) => {
            let s = s.trim();
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(epoch))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta() -> RecordMeta {
        RecordMeta {
            shard_id: "shardId-000000000001".into(),
            sequence_number: "49590338271490256608559692538361571095921575989136588898".into(),
            partition_key: "customer-42".into(),
            arrival: Utc
                .with_ymd_and_hms(2026, 11, 21, 9, 59, 59)
                .single()
                .expect("time"),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 5)
            .single()
            .expect("time")
    }

    fn event(payload: Value) -> Event {
        normalize(payload.to_string().as_bytes(), &meta(), now(), 1 << 20).expect("normalizes")
    }

    #[test]
    fn keys_become_snake_case_recursively() {
        let e = event(
            json!({"customerId": 1, "shippingAddress": {"zipCode": "1", "HTTPStatus": 200}, "lineItems": [{"unitPrice": 2}]}),
        );
        assert_eq!(e.body["customer_id"], 1);
        assert_eq!(e.body["shipping_address"]["zip_code"], "1");
        assert_eq!(e.body["shipping_address"]["http_status"], 200);
        assert_eq!(e.body["line_items"][0]["unit_price"], 2);
    }

    #[test]
    fn snake_case_handles_acronyms_digits_and_separators() {
        assert_eq!(snake_case("customerId"), "customer_id");
        assert_eq!(snake_case("HTTPStatusCode"), "http_status_code");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("Order-Total"), "order_total");
        assert_eq!(snake_case("address2Line"), "address2_line");
        assert_eq!(snake_case("ID"), "id");
    }

    #[test]
    fn string_values_are_trimmed_everywhere() {
        let e = event(json!({"name": "  Ada ", "tags": [" a ", "b"], "nested": {"x": " y"}}));
        assert_eq!(
            (
                e.body["name"].as_str(),
                e.body["tags"][0].as_str(),
                e.body["nested"]["x"].as_str()
            ),
            (Some("Ada"), Some("a"), Some("y"))
        );
    }

    #[test]
    fn event_id_comes_from_the_payload_or_the_record() {
        assert_eq!(event(json!({"eventId": "e-1"})).event_id, "e-1");
        assert_eq!(event(json!({"id": 77})).event_id, "77");
        assert_eq!(
            event(json!({"x": 1})).event_id,
            format!("shardId-000000000001-{}", meta().sequence_number)
        );
    }

    #[test]
    fn event_type_is_sanitized_for_s3_paths() {
        assert_eq!(
            event(json!({"type": "Order Placed/v2"})).event_type,
            "order_placed_v2"
        );
        assert_eq!(
            event(json!({"eventType": "page.view"})).event_type,
            "page.view"
        );
        assert_eq!(event(json!({"event_type": ".."})).event_type, "unknown");
        assert_eq!(event(json!({"x": 1})).event_type, "unknown");
    }

    #[test]
    fn event_time_accepts_rfc3339_epoch_seconds_and_millis() {
        let ten = Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("time");
        assert_eq!(
            event(json!({"eventTime": "2026-11-21T11:00:00+01:00"})).event_time,
            ten
        );
        assert_eq!(event(json!({"timestamp": ten.timestamp()})).event_time, ten);
        assert_eq!(event(json!({"ts": ten.timestamp_millis()})).event_time, ten);
        assert_eq!(
            event(json!({"createdAt": ten.timestamp().to_string()})).event_time,
            ten
        );
        let e = event(json!({"ts": 1_795_255_200.5}));
        assert_eq!(e.body["event_time"], "2026-11-21T10:00:00.500Z");
        assert_eq!(e.body["event_time_source"], "payload");
    }

    #[test]
    fn the_first_time_field_in_priority_order_wins() {
        let e = event(
            json!({"created_at": "2020-01-01T00:00:00Z", "event_time": "2026-11-21T10:00:00Z"}),
        );
        assert_eq!(e.body["event_time"], "2026-11-21T10:00:00.000Z");
    }

    #[test]
    fn a_missing_or_unparseable_time_falls_back_to_arrival() {
        for payload in [
            json!({"x": 1}),
            json!({"event_time": "yesterday"}),
            json!({"ts": -5}),
        ] {
            let e = event(payload);
            assert_eq!(e.event_time, meta().arrival);
            assert_eq!(e.body["event_time_source"], "arrival");
            assert_eq!(e.body["event_time"], "2026-11-21T09:59:59.000Z");
        }
    }

    #[test]
    fn adds_kinesis_metadata_and_ingestion_time() {
        let e = event(json!({"x": 1}));
        assert_eq!(e.body["_kinesis"]["partition_key"], "customer-42");
        assert_eq!(e.body["_kinesis"]["shard_id"], "shardId-000000000001");
        assert_eq!(
            e.body["_kinesis"]["approximate_arrival"],
            "2026-11-21T09:59:59.000Z"
        );
        assert_eq!(e.body["ingested_at"], "2026-11-21T10:00:05.000Z");
    }

    #[test]
    fn poison_payloads_are_named() {
        let m = meta();
        assert!(matches!(
            normalize(b"not json", &m, now(), 100),
            Err(Poison::NotJson(_))
        ));
        assert_eq!(normalize(b"[1,2]", &m, now(), 100), Err(Poison::NotObject));
        assert_eq!(normalize(b"\"s\"", &m, now(), 100), Err(Poison::NotObject));
        assert_eq!(
            normalize(&[b' '; 101], &m, now(), 100),
            Err(Poison::TooLarge {
                size: 101,
                limit: 100
            })
        );
    }
}
