//! The DynamoDB adapter: one conditional write decides whether an order is new, a duplicate or a conflict.

use crate::validate::{CustomerId, ValidOrder};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use tributary_shared::aws::AwsError;

/// What the table said about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Written now.
    New,
    /// Already there, within the window, with the same content; carries the stored item's `validated_at`.
    Duplicate { validated_at: String },
    /// Already there, within the window, with other content; carries the stored hash.
    Conflict { stored_hash: String },
}

/// The item for an order; `expires_at` (epoch seconds) is the table's TTL attribute.
pub fn item(order: &ValidOrder, expires_at: i64, source: &str) -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let mut item: HashMap<String, AttributeValue> = [
        ("order_id", s(&order.order_id)),
        ("vendor", s(&order.vendor)),
        ("currency", s(order.currency.code())),
        ("total", s(&order.total)),
        (
            "line_count",
            AttributeValue::N(order.line_count.to_string()),
        ),
        (
            "created_at",
            s(&order
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        ),
        (
            "validated_at",
            s(&order
                .validated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        ),
        ("payload_hash", s(&order.payload_hash)),
        ("expires_at", AttributeValue::N(expires_at.to_string())),
        ("source", s(source)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    match &order.customer_id {
        Some(CustomerId::Integer(n)) => {
            item.insert("customer_id".into(), AttributeValue::N(n.to_string()))
        }
        Some(CustomerId::Text(t)) => item.insert("customer_id".into(), s(t)),
        None => None,
    };
    item
}

/// Writes the order unless an unexpired item with its id exists; then compares content hashes.
pub async fn put_if_new(
    client: &Client,
    table: &str,
    order: &ValidOrder,
    window_secs: i64,
    source: &str,
) -> Result<Stored, AwsError> {
    let now = order.validated_at.timestamp();
    let put = client
        .put_item()
        .table_name(table)
        .set_item(Some(item(order, now + window_secs, source)))
        // A lapsed item may still be there (TTL deletion is lazy): it no longer blocks a new copy.
        .condition_expression("attribute_not_exists(order_id) OR expires_at < :now")
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .send()
        .await;
    match put {
        Ok(_) => Ok(Stored::New),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(PutItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            let existing = client
                .get_item()
                .table_name(table)
                .key("order_id", AttributeValue::S(order.order_id.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("GetItem", table, &e))?;
            let text = |name: &str| {
                existing
                    .item()
                    .and_then(|i| i.get(name))
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            let stored_hash = text("payload_hash");
            if stored_hash == order.payload_hash {
                Ok(Stored::Duplicate {
                    validated_at: text("validated_at"),
                })
            } else {
                Ok(Stored::Conflict { stored_hash })
            }
        }
        Err(e) => Err(AwsError::from_sdk("PutItem", table, &e)),
    }
}
