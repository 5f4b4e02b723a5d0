//! The Lambda handler: reads orders from S3 notifications or Step Functions payloads, validates them, dedups
//! valid ones through one conditional DynamoDB write, and writes the result beside them in S3.
//!
//! An invalid order is a normal result (`"status": "invalid"`), so a Step Functions Choice can branch on
//! `$.status`; only infrastructure failures are Lambda errors.

use crate::config::Config;
use crate::error::Error;
use crate::store::{Stored, put_if_new};
use crate::validate::{Outcome, ValidOrder, outcome};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tributary_shared::event::{ObjectRef, objects_created};
use tributary_shared::metrics::MetricSet;
use tributary_shared::s3;

/// Everything the handler needs, built once per cold start.
#[derive(Debug)]
pub struct Deps {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub config: Config,
}

/// Where an order came from, and so where its result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// An object under the incoming prefix.
    Object { bucket: String, key: String },
    /// A Step Functions payload that is the order itself.
    Payload,
}

/// A task envelope from the orders state machine: the order, as sent, with the execution's correlation id (which
/// the Lambda process has already put on every log line).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(rename = "correlation_id")]
    _correlation_id: &'a RawValue,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// Handles one event: the raw JSON, so amounts keep their literal text.
pub async fn handle(event: &RawValue, deps: &Deps) -> Result<Value, Error> {
    let now = Utc::now();
    let event = serde_json::from_str::<Envelope>(event.get()).map_or(event, |e| e.event);
    let shape: Value =
        serde_json::from_str(event.get()).map_err(|e| Error::NotJson(e.to_string()))?;
    if !crate::shape::names_objects(&shape) {
        return process(
            Bytes::copy_from_slice(event.get().as_bytes()),
            Source::Payload,
            now,
            deps,
        )
        .await;
    }
    let mut results = Vec::new();
    for object in objects_created(&shape)? {
        results.push(process_object(object, now, deps).await?);
    }
    Ok(match results.len() {
        1 => results.remove(0),
        _ => json!({ "results": results }),
    })
}

async fn process_object(
    object: ObjectRef,
    now: DateTime<Utc>,
    deps: &Deps,
) -> Result<Value, Error> {
    let c = &deps.config;
    if !object.key.starts_with(c.incoming_prefix.as_str())
        || !object.key.to_ascii_lowercase().ends_with(".json")
    {
        tracing::info!(bucket = %object.bucket, key = %object.key, "ignoring object outside the incoming prefix");
        return Ok(
            json!({"status": "ignored", "bucket": object.bucket, "key": object.key,
            "reason": format!("not a .json object under {}", c.incoming_prefix)}),
        );
    }
    if object.size.is_some_and(|n| n > c.max_order_bytes) {
        let errors = [too_large(c.max_order_bytes)];
        let result = Outcome::invalid(None, errors.to_vec());
        let source = Source::Object {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
        };
        write_rejected(deps, &source, &result, &Bytes::new()).await?;
        emit(&result);
        return to_json(&result);
    }
    let source = Source::Object {
        bucket: object.bucket.clone(),
        key: object.key.clone(),
    };
    let body =
        match s3::get_optional(&deps.s3, &object.bucket, &object.key, c.max_order_bytes).await {
            Ok(body) => body,
            // Over the size limit (the event did not say how big it was): an invalid order, not a failure.
            Err(e) if e.kind == tributary_shared::ErrorKind::InvalidInput => {
                let result = Outcome::invalid(None, vec![too_large(c.max_order_bytes)]);
                write_rejected(deps, &source, &result, &Bytes::new()).await?;
                emit(&result);
                return to_json(&result);
            }
            Err(e) => return Err(Error::Aws(e)),
        };
    let Some(body) = body else {
        return Err(Error::Aws(tributary_shared::aws::AwsError::other(
            "GetObject",
            format!("s3://{}/{}", object.bucket, object.key),
            tributary_shared::ErrorKind::NotFound,
            "the order object does not exist",
        )));
    };
    process(body, source, now, deps).await
}

fn too_large(limit: u64) -> crate::validate::Rejection {
    crate::validate::Rejection::new(
        "$",
        format!("the document is larger than the {limit} byte limit"),
    )
}

async fn process(
    body: Bytes,
    source: Source,
    now: DateTime<Utc>,
    deps: &Deps,
) -> Result<Value, Error> {
    let c = &deps.config;
    let result = if body.len() as u64 > c.max_order_bytes {
        Outcome::invalid(None, vec![too_large(c.max_order_bytes)])
    } else {
        outcome(&body, now)
    };
    let Some(order) = result.order.clone() else {
        write_rejected(deps, &source, &result, &body).await?;
        emit(&result);
        return to_json(&result);
    };
    let origin = match &source {
        Source::Object { bucket, key } => format!("s3://{bucket}/{key}"),
        Source::Payload => "stepfunctions".to_owned(),
    };
    let result = match put_if_new(
        &deps.dynamodb,
        &c.table,
        &order,
        c.dedup_window_secs,
        &origin,
    )
    .await?
    {
        Stored::New => {
            write_validated(deps, &source, &order, false).await?;
            result
        }
        Stored::Duplicate { validated_at } => {
            // The first copy may have stopped between the table and S3: make sure its object exists, with the
            // first copy's validation time so the content is what it would have been.
            let mut first = order.clone();
            if let Ok(at) = DateTime::parse_from_rfc3339(&validated_at) {
                first.validated_at = at.with_timezone(&Utc);
            }
            write_validated(deps, &source, &first, true).await?;
            Outcome::duplicate(first)
        }
        Stored::Conflict { stored_hash } => Outcome::conflict(&order, &stored_hash),
    };
    tracing::info!(order_id = %order.order_id, status = %result.status, "order processed");
    emit(&result);
    to_json(&result)
}

fn emit(result: &Outcome) {
    MetricSet::new("Tributary")
        .dimension("Function", "order-validator")
        .dimension("Status", result.status.as_str())
        .value("Orders", 1.0, "Count")
        .emit();
}

fn to_json(result: &Outcome) -> Result<Value, Error> {
    serde_json::to_value(result).map_err(|e| Error::Internal(e.to_string()))
}

/// `<name>` for rejected objects: the incoming key's path below the prefix (folders folded into `__`), or for a
/// payload, the order id made safe for a key (a digest of the body when it has none).
fn rejected_name(
    source: &Source,
    incoming_prefix: &str,
    order_id: Option<&str>,
    body: &[u8],
) -> String {
    match (source, order_id) {
        (Source::Object { key, .. }, _) => {
            let rest = key.strip_prefix(incoming_prefix).unwrap_or(key);
            let stem = rest
                .len()
                .checked_sub(5)
                .filter(|&n| rest.is_char_boundary(n))
                .map_or(rest, |n| &rest[..n]);
            stem.split('/')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("__")
        }
        (Source::Payload, Some(id)) => order_key_name(id),
        (Source::Payload, None) => format!("unidentified-{}", short_digest(body)),
    }
}

/// `<name>` for validated objects: the order id, whatever file brought it, so one order is one object however
/// often it is sent. An id with characters unsafe in a key is made safe and suffixed with a digest of the id, so
/// two ids never share an object.
fn order_key_name(order_id: &str) -> String {
    let safe = |ch: char| ch.is_ascii_alphanumeric() || "-_.".contains(ch);
    if !order_id.is_empty() && order_id.chars().all(safe) && !order_id.starts_with('.') {
        return order_id.to_owned();
    }
    let cleaned: String = order_id
        .chars()
        .map(|ch| if safe(ch) { ch } else { '_' })
        .collect();
    format!("{cleaned}-{}", short_digest(order_id.as_bytes()))
}

fn short_digest(bytes: &[u8]) -> String {
    tributary_shared::hash::sha256_hex([bytes], 8)
}

fn result_bucket<'a>(deps: &'a Deps, source: &'a Source) -> Result<&'a str, Error> {
    match source {
        Source::Object { bucket, .. } => Ok(deps.config.bucket.as_deref().unwrap_or(bucket)),
        Source::Payload => deps.config.bucket.as_deref().ok_or(Error::NoBucket),
    }
}

async fn write_validated(
    deps: &Deps,
    source: &Source,
    order: &ValidOrder,
    only_if_missing: bool,
) -> Result<(), Error> {
    let bucket = result_bucket(deps, source)?;
    let key = format!(
        "{}{}.json",
        deps.config.validated_prefix,
        order_key_name(&order.order_id)
    );
    if only_if_missing && s3::head(&deps.s3, bucket, &key).await?.is_some() {
        return Ok(());
    }
    let mut doc = serde_json::to_value(order).map_err(|e| Error::Internal(e.to_string()))?;
    doc["line_items"] = order
        .line_items
        .iter()
        .map(|l| json!({"product_id": l.product_id, "quantity": l.quantity, "unit_price": l.unit_price.normalize().to_string()}))
        .collect();
    let body = serde_json::to_vec_pretty(&doc).map_err(|e| Error::Internal(e.to_string()))?;
    s3::put(
        &deps.s3,
        bucket,
        &key,
        Bytes::from(body),
        "application/json",
    )
    .await?;
    Ok(())
}

async fn write_rejected(
    deps: &Deps,
    source: &Source,
    result: &Outcome,
    body: &[u8],
) -> Result<(), Error> {
    let bucket = result_bucket(deps, source)?;
    let name = rejected_name(
        source,
        &deps.config.incoming_prefix,
        result.order_id.as_deref(),
        body,
    );
    let key = format!("{}{name}.json", deps.config.rejected_prefix);
    // The original as it was: parsed when it is JSON, else its text, so nothing is lost.
    let original = serde_json::from_slice::<Value>(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let doc = json!({"order": original, "errors": result.errors, "order_id": result.order_id,
        "source": match source { Source::Object { bucket, key } => format!("s3://{bucket}/{key}"), Source::Payload => "stepfunctions".into() }});
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::Internal(e.to_string()))?;
    s3::put(
        &deps.s3,
        bucket,
        &key,
        Bytes::from(bytes),
        "application/json",
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_names_follow_the_incoming_key_or_the_order_id() {
        let obj = Source::Object {
            bucket: "b".into(),
            key: "orders/incoming/2026/PO 1.json".into(),
        };
        assert_eq!(
            rejected_name(&obj, "orders/incoming/", Some("PO-1"), b""),
            "2026__PO 1"
        );
        assert_eq!(
            rejected_name(&Source::Payload, "orders/incoming/", Some("PO-1"), b""),
            "PO-1"
        );
        let anon = rejected_name(&Source::Payload, "orders/incoming/", None, b"{");
        assert!(anon.starts_with("unidentified-") && anon.len() == "unidentified-".len() + 16);
    }

    #[test]
    fn validated_names_are_the_order_id_made_safe_without_collisions() {
        assert_eq!(order_key_name("PO-1001"), "PO-1001");
        assert_eq!(order_key_name("po_7.2026"), "po_7.2026");
        let slash = order_key_name("PO/1 x");
        let underscore = order_key_name("PO_1_x");
        assert!(
            slash.starts_with("PO_1_x-") && slash.len() == "PO_1_x-".len() + 16,
            "{slash}"
        );
        assert_eq!(underscore, "PO_1_x");
        assert_ne!(order_key_name("a/b"), order_key_name("a b"));
        assert!(
            order_key_name("..").starts_with("..-"),
            "no dot-only segment as is"
        );
    }
}
