//! The DynamoDB adapter: conditional latest-state writes and the dedup window's claims, a bounded number at a
//! time, with the one retry layer (the client's own retries are off). Events and dead letters go to S3 through
//! `tributary_shared::s3`.

use crate::batch::{EntityWrite, Plan, sortable_sequence};
use crate::normalize::format_time;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::{StreamExt, stream};
use std::time::Duration;
use tributary_shared::aws::AwsError;
use tributary_shared::retry::Backoff;

/// The one retry layer of latest-state writes (the DynamoDB client's own retries are off, see `main.rs`):
/// full jitter from 50 ms doubling to 2 s; the number of attempts is `WRITE_ATTEMPTS`.
pub const WRITE_BACKOFF: Backoff = Backoff {
    attempts: 6,
    base: Duration::from_millis(50),
    cap: Duration::from_secs(2),
};

/// What a latest-state write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Stored,
    /// The table already holds a newer event for the entity: nothing to do, and not a failure.
    Stale,
}

/// The largest event kept whole in its item: DynamoDB refuses items over 400 KB, and a refusal would fail the
/// record on every delivery and stall the shard behind it.
const MAX_ITEM_EVENT_BYTES: usize = 350 * 1024;

/// The item for an entity's newest event. `event_time` and `seq_sort` order events for the condition. An event
/// too large for an item is left out of it (`event_bytes` says how large it was); S3 has it whole.
fn item(
    plan: &Plan,
    write: &EntityWrite,
    entity_key: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    let event = &plan.events[write.event];
    let meta = &plan.inputs[plan.owners[write.event]].meta;
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let body = &event.json;
    let whole = if body.len() <= MAX_ITEM_EVENT_BYTES {
        ("event", s(&event.text()))
    } else {
        ("event_bytes", AttributeValue::N(body.len().to_string()))
    };
    [
        ("entity_id", s(&write.entity)),
        ("entity_key", s(entity_key)),
        ("event_id", s(&event.event_id)),
        ("event_type", s(&event.event_type)),
        ("event_time", s(&format_time(event.event_time))),
        ("sequence_number", s(&meta.sequence_number)),
        ("seq_sort", s(&sortable_sequence(&meta.sequence_number))),
        ("shard_id", s(&meta.shard_id)),
        whole,
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Writes each entity's newest event unless the table holds a newer one, `concurrency` at a time, retrying
/// throttling and transient failures with exponential backoff. Returns one result per write, in order.
pub async fn write_latest(
    client: &Client,
    table: &str,
    plan: &Plan,
    writes: &[EntityWrite],
    entity_key: &str,
    concurrency: usize,
    attempts: u32,
) -> Vec<Result<Written, AwsError>> {
    stream::iter(writes)
        .map(|write| {
            let item = item(plan, write, entity_key);
            async move { put_newer(client, table, item, attempts).await }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

async fn put_newer(
    client: &Client,
    table: &str,
    item: std::collections::HashMap<String, AttributeValue>,
    attempts: u32,
) -> Result<Written, AwsError> {
    let time = item
        .get("event_time")
        .cloned()
        .unwrap_or(AttributeValue::Null(true));
    let seq = item
        .get("seq_sort")
        .cloned()
        .unwrap_or(AttributeValue::Null(true));
    let written = put_if(table, attempts, || {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item.clone()))
            // Never let an older event overwrite a newer one: by event time, then by sequence number.
            .condition_expression("attribute_not_exists(entity_id) OR event_time < :t OR (event_time = :t AND seq_sort < :s)")
            .expression_attribute_values(":t", time.clone())
            .expression_attribute_values(":s", seq.clone())
    })
    .await?;
    Ok(if written {
        Written::Stored
    } else {
        Written::Stale
    })
}

/// One conditional `PutItem`, through the one retry layer (throttling, timeouts and 5xx, `attempts` in all):
/// `Ok(true)` when written, `Ok(false)` when its condition refused it.
async fn put_if(
    table: &str,
    attempts: u32,
    request: impl Fn() -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
) -> Result<bool, AwsError> {
    Backoff {
        attempts,
        ..WRITE_BACKOFF
    }
    .retry(
        async |_| match request().send().await {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::from_sdk("PutItem", table, &e)),
        },
        |err, _| err.kind.retryable(),
    )
    .await
}

/// What the seen table said about one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The first record with this `event_id` within the window, or this same record again: store the event.
    Mine,
    /// Another record claimed this `event_id` within the window: drop the event.
    Seen,
}

/// Claims each `(event_id, origin)` in the seen table, `concurrency` at a time; one result per claim, in order.
/// `origin` names the record (`<shard or queue>/<sequence number or message id>`).
///
/// A claim is one conditional write that succeeds when no unexpired claim exists or the claim is this record's
/// own. That makes a redelivered batch converge: a batch that claimed its events and then failed to store them
/// comes again and claims them again, while another record with one of those ids is dropped, since the record
/// that claimed it first stores it. If that record's retries run out, its copies were dropped: it is in the
/// failure queue (for Kinesis, as a shard and sequence range to read again from the stream; see the README).
/// The seen table's key for an event id: the id itself, or, for an id longer than DynamoDB's 2048-byte partition
/// key allows (with a margin), `sha256:` and its digest, so that no id can fail its record on every delivery.
pub fn claim_key(event_id: &str) -> String {
    if event_id.len() <= 1024 {
        event_id.to_owned()
    } else {
        format!(
            "sha256:{}",
            tributary_shared::hash::sha256_hex([event_id.as_bytes()], 32)
        )
    }
}

pub async fn claim(
    client: &Client,
    table: &str,
    claims: &[(&str, String)],
    now: i64,
    window_secs: i64,
    concurrency: usize,
    attempts: u32,
) -> Vec<Result<Claim, AwsError>> {
    stream::iter(claims)
        .map(|(event_id, origin)| async move {
            let mine =
                put_if(table, attempts, || {
                    client
                    .put_item()
                    .table_name(table)
                    .item("event_id", AttributeValue::S(claim_key(event_id)))
                    .item("origin", AttributeValue::S(origin.clone()))
                    .item("expires_at", AttributeValue::N((now + window_secs).to_string()))
                    // A lapsed claim may still be there (TTL deletion is lazy): it no longer counts.
                    .condition_expression(
                        "attribute_not_exists(event_id) OR expires_at < :now OR origin = :origin",
                    )
                    .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                    .expression_attribute_values(":origin", AttributeValue::S(origin.clone()))
                })
                .await?;
            Ok(if mine { Claim::Mine } else { Claim::Seen })
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_too_long_for_a_partition_key_are_claimed_by_digest() {
        assert_eq!(claim_key("evt-1"), "evt-1");
        let long = "x".repeat(5000);
        let key = claim_key(&long);
        assert!(key.starts_with("sha256:") && key.len() == 7 + 64, "{key}");
        assert_eq!(claim_key(&long), key, "the same id, the same key");
        assert_ne!(claim_key(&"y".repeat(5000)), key);
    }
    use crate::batch::{Source, entity_writes, read_event};
    use base64::Engine;

    fn plan(payload: &str) -> Plan {
        let event = serde_json::json!({"Records": [{"eventID": "shardId-000000000000:1", "kinesis": {
            "sequenceNumber": "1", "partitionKey": "k", "approximateArrivalTimestamp": 1_795_255_200.0,
            "data": base64::engine::general_purpose::STANDARD.encode(payload)}}]});
        let (source, inputs) = read_event(&event).expect("event");
        assert_eq!(source, Source::Kinesis);
        Plan::new(source, inputs, chrono::Utc::now(), 1 << 20)
    }

    #[test]
    fn an_event_too_large_for_an_item_is_left_out_of_it_and_sized() {
        let small = plan(r#"{"id": "e1", "note": "short"}"#);
        let item_small = item(&small, &entity_writes(&small, "id")[0], "id");
        assert!(
            item_small["event"]
                .as_s()
                .is_ok_and(|e| e.contains("short"))
        );

        let big = plan(&format!(
            r#"{{"id": "e2", "note": "{}"}}"#,
            "x".repeat(400 * 1024)
        ));
        let item_big = item(&big, &entity_writes(&big, "id")[0], "id");
        assert!(!item_big.contains_key("event"));
        let size: usize = item_big["event_bytes"]
            .as_n()
            .expect("n")
            .parse()
            .expect("number");
        assert!(size > 400 * 1024);
        assert_eq!(
            item_big["event_id"].as_s().ok().map(String::as_str),
            Some("e2")
        );
    }
}
