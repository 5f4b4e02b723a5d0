//! The DynamoDB adapter: conditional latest-state writes, a bounded number at a time, with the one retry layer
//! (the client's own retries are off). Events and dead letters go to S3 through `tributary_shared::s3`.

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

/// The item for an entity's newest event. `event_time` and `seq_sort` order events for the condition.
fn item(
    plan: &Plan,
    write: &EntityWrite,
    entity_key: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    let event = &plan.events[write.event];
    let meta = &plan.inputs[plan.owners[write.event]].meta;
    let s = |v: &str| AttributeValue::S(v.to_owned());
    [
        ("entity_id", s(&write.entity)),
        ("entity_key", s(entity_key)),
        ("event_id", s(&event.event_id)),
        ("event_type", s(&event.event_type)),
        ("event_time", s(&format_time(event.event_time))),
        ("sequence_number", s(&meta.sequence_number)),
        ("seq_sort", s(&sortable_sequence(&meta.sequence_number))),
        ("shard_id", s(&meta.shard_id)),
        ("event", s(&event.to_json())),
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
    let mut attempt = 0;
    loop {
        attempt += 1;
        let put = client
            .put_item()
            .table_name(table)
            .set_item(Some(item.clone()))
            // Never let an older event overwrite a newer one: by event time, then by sequence number.
            .condition_expression("attribute_not_exists(entity_id) OR event_time < :t OR (event_time = :t AND seq_sort < :s)")
            .expression_attribute_values(":t", time.clone())
            .expression_attribute_values(":s", seq.clone())
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Written::Stored),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                return Ok(Written::Stale);
            }
            Err(e) => {
                let err = AwsError::from_sdk("PutItem", table, &e);
                let backoff = Backoff {
                    attempts,
                    ..WRITE_BACKOFF
                };
                if !err.kind.retryable() || !backoff.again(attempt) {
                    return Err(err);
                }
                tokio::time::sleep(backoff.delay(attempt)).await;
            }
        }
    }
}
