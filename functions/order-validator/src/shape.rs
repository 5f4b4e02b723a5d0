//! Which inputs order-validator reads as references to objects (an S3 notification, an EventBridge event, or
//! `{"bucket", "key"}`) rather than as an order itself. Pure, so that a sender of orders (order-webhook) can refuse
//! an order of that shape instead of having it read as a reference.

use serde_json::Value;

/// Whether `event` names objects to read: top-level `Records` or `detail-type`, or `bucket` and `key` without
/// `line_items`.
pub fn names_objects(event: &Value) -> bool {
    event.get("Records").is_some()
        || event.get("detail-type").is_some()
        || (event.get("bucket").is_some()
            && event.get("key").is_some()
            && event.get("line_items").is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_and_orders_are_told_apart() {
        assert!(names_objects(&json!({"Records": []})));
        assert!(names_objects(&json!({"detail-type": "Object Created"})));
        assert!(names_objects(&json!({"bucket": "b", "key": "k"})));
        assert!(!names_objects(
            &json!({"bucket": "b", "key": "k", "line_items": []})
        ));
        assert!(!names_objects(&json!({"order_id": "PO-1"})));
    }
}
