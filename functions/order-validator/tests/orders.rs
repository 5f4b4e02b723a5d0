//! Integration tests: the real `order-validator` binary, driven through the Lambda Runtime API emulator,
//! against S3 and DynamoDB in moto_server. Results are read back from the table and the bucket.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use tributary_testkit::{FaultProxy, LambdaProcess, Moto, Stack, World, fixture, workspace_root};

/// The validator against a fresh bucket and orders table, reaching AWS at `endpoint`.
async fn world_at(endpoint: &str, extra_env: &[(&str, &str)]) -> World {
    let stack = Stack::new("orders", "order_id").await;
    let (table, bucket) = (stack.table.clone(), stack.bucket.clone());
    let mut env = vec![
        ("ORDERS_TABLE", table.as_str()),
        ("ORDERS_BUCKET", bucket.as_str()),
    ];
    env.extend_from_slice(extra_env);
    let binary = Path::new(env!("CARGO_BIN_EXE_order-validator"));
    World::start(stack, binary, endpoint, &env)
}

async fn world(extra_env: &[(&str, &str)]) -> World {
    world_at(&Moto::shared().endpoint(), extra_env).await
}

/// The sample S3 notification, for `key` in the world's bucket.
fn s3_event(w: &World, key: &str) -> Value {
    let mut event = fixture("s3-object-created-order.json");
    event["Records"][0]["s3"]["bucket"]["name"] = json!(w.bucket);
    event["Records"][0]["s3"]["object"]["key"] = json!(key.replace(' ', "+"));
    event["Records"][0]["s3"]["object"]["size"] = json!(100);
    event
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(workspace_root().join("events").join(name)).expect("sample")
}

fn attr(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok().or_else(|| v.as_n().ok()))
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_order_from_s3_is_stored_once_in_the_table_and_the_bucket() {
    let mut w = world(&[]).await;
    w.put(
        "orders/incoming/PO-1001.json",
        sample("sfn-validate-order.json"),
    )
    .await;
    let out = w
        .invoke(&s3_event(&w, "orders/incoming/PO-1001.json"))
        .expect("valid order");
    assert_eq!(out["status"], "valid");
    assert_eq!(out["order_id"], "PO-1001");
    assert_eq!(out["order"]["total"], "60.97");
    assert_eq!(out["errors"], json!([]));

    let items = w.items().await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(attr(item, "order_id"), "PO-1001");
    assert_eq!(attr(item, "total"), "60.97");
    assert_eq!(attr(item, "currency"), "USD");
    assert_eq!(attr(item, "line_count"), "2");
    let expires: i64 = attr(item, "expires_at").parse().expect("ttl number");
    let validated = chrono::DateTime::parse_from_rfc3339(&attr(item, "validated_at"))
        .expect("validated_at")
        .timestamp();
    assert_eq!(expires - validated, 3600, "the dedup window is the TTL");
    assert_eq!(
        attr(item, "source"),
        format!("s3://{}/orders/incoming/PO-1001.json", w.bucket)
    );

    let stored = w
        .get_json("orders/validated/PO-1001.json")
        .await
        .expect("validated object");
    assert_eq!(stored["total"], "60.97");
    assert_eq!(
        stored["line_items"][0],
        json!({"product_id": "SKU-10001", "quantity": 3, "unit_price": "19.99"})
    );
    assert!(w.keys("orders/rejected/").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_order_is_rejected_with_every_reason_and_nothing_enters_the_table() {
    let mut w = world(&[]).await;
    w.put(
        "orders/incoming/bad order.json",
        sample("data/order-invalid.json"),
    )
    .await;
    let out = w
        .invoke(&s3_event(&w, "orders/incoming/bad order.json"))
        .expect("invalid is a result, not an error");
    assert_eq!(out["status"], "invalid");
    let errors = out["errors"].as_array().expect("errors");
    assert!(errors.len() >= 4, "every violation is reported: {out}");
    assert!(
        errors
            .iter()
            .all(|e| e["path"].is_string() && e["message"].is_string())
    );
    assert!(w.items().await.is_empty());
    let rejected = w
        .get_json("orders/rejected/bad order.json")
        .await
        .expect("rejected object");
    assert_eq!(rejected["errors"], out["errors"]);
    let original: Value = serde_json::from_slice(&sample("data/order-invalid.json")).expect("json");
    assert_eq!(rejected["order"], original, "the original is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_rejected_at_the_root_with_its_position() {
    let mut w = world(&[]).await;
    w.put(
        "orders/incoming/broken.json",
        b"{\"order_id\": \"PO-9\",\n  \"vendor\": }".to_vec(),
    )
    .await;
    let out = w
        .invoke(&s3_event(&w, "orders/incoming/broken.json"))
        .expect("a result");
    assert_eq!(out["status"], "invalid");
    assert_eq!(out["errors"][0]["path"], "$");
    assert!(
        out["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 2")),
        "{out}"
    );
    let rejected = w
        .get_json("orders/rejected/broken.json")
        .await
        .expect("rejected object");
    assert!(
        rejected["order"]
            .as_str()
            .is_some_and(|t| t.contains("PO-9")),
        "the unparseable original is kept as text"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_copy_within_the_window_is_a_duplicate_and_other_content_is_a_conflict() {
    let mut w = world(&[]).await;
    let order = fixture("sfn-validate-order.json");
    let first = w.invoke(&order).expect("first copy");
    assert_eq!(first["status"], "valid");
    let second = w.invoke(&order).expect("second copy");
    assert_eq!(second["status"], "duplicate");
    assert_eq!(
        second["order"]["validated_at"], first["order"]["validated_at"],
        "the duplicate reports the stored copy"
    );
    assert_eq!(w.items().await.len(), 1);

    let mut changed = order.clone();
    changed["line_items"][0]["quantity"] = json!(4);
    changed.as_object_mut().expect("object").remove("total");
    let third = w.invoke(&changed).expect("conflict is a result");
    assert_eq!(third["status"], "conflict");
    assert_eq!(third["order"], Value::Null);
    assert_eq!(third["errors"][0]["path"], "order_id");
    let items = w.items().await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        attr(&items[0], "payload_hash"),
        first["order"]["payload_hash"].as_str().unwrap_or_default(),
        "the first copy is kept"
    );
    assert_eq!(
        w.keys("orders/validated/").await,
        ["orders/validated/PO-1001.json"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_s3_event_writes_nothing_twice() {
    let mut w = world(&[]).await;
    w.put(
        "orders/incoming/PO-1001.json",
        sample("sfn-validate-order.json"),
    )
    .await;
    let event = s3_event(&w, "orders/incoming/PO-1001.json");
    let first = w.invoke(&event).expect("first delivery");
    let before = w
        .get_json("orders/validated/PO-1001.json")
        .await
        .expect("validated");
    let again = w.invoke(&event).expect("redelivery");
    assert_eq!(
        (first["status"].as_str(), again["status"].as_str()),
        (Some("valid"), Some("duplicate"))
    );
    assert_eq!(
        w.get_json("orders/validated/PO-1001.json").await,
        Some(before),
        "the stored result is not rewritten"
    );
    assert_eq!(w.items().await.len(), 1);
    assert_eq!(
        w.keys("orders/").await.len(),
        2,
        "the incoming order and one validated copy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_resent_under_another_file_name_is_one_validated_object() {
    let mut w = world(&[]).await;
    let body = sample("sfn-validate-order.json");
    w.put("orders/incoming/PO-1001.json", body.clone()).await;
    w.put("orders/incoming/resent/PO-1001 (2).json", body).await;
    let first = w
        .invoke(&s3_event(&w, "orders/incoming/PO-1001.json"))
        .expect("first file");
    let second = w
        .invoke(&s3_event(&w, "orders/incoming/resent/PO-1001 (2).json"))
        .expect("second file");
    assert_eq!(
        (first["status"].as_str(), second["status"].as_str()),
        (Some("valid"), Some("duplicate"))
    );
    assert_eq!(
        w.keys("orders/validated/").await,
        ["orders/validated/PO-1001.json"],
        "validated objects are named by order id, not by the file that brought the order"
    );
    assert_eq!(w.items().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_restores_a_missing_result_object() {
    let mut w = world(&[]).await;
    let order = fixture("sfn-validate-order.json");
    w.invoke(&order).expect("first copy");
    // As if the first invocation stopped between the table write and the S3 write.
    w.s3.delete_object()
        .bucket(&w.bucket)
        .key("orders/validated/PO-1001.json")
        .send()
        .await
        .expect("delete");
    let again = w.invoke(&order).expect("retry");
    assert_eq!(again["status"], "duplicate");
    let restored = w
        .get_json("orders/validated/PO-1001.json")
        .await
        .expect("restored");
    assert_eq!(restored["validated_at"], again["order"]["validated_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_failing_after_the_table_write_fails_retryable_and_the_redelivery_restores_the_object() {
    let proxy = FaultProxy::start(&Moto::shared().endpoint());
    let mut w = world_at(&proxy.endpoint(), &[]).await;
    proxy.set(json!([{"method": "PUT", "path": "/orders/validated/", "status": 503,
        "body": "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"}]));
    let order = fixture("sfn-validate-order.json");
    let err = w
        .invoke(&order)
        .expect_err("the validated object cannot be written");
    assert!(
        ["Throttled", "ServiceUnavailable"].contains(&err.error_type.as_str()),
        "a retryable error: {err:?}"
    );
    assert!(proxy.hits()[0] >= 3, "the SDK retried: {:?}", proxy.hits());
    assert_eq!(w.items().await.len(), 1, "the table write happened");
    assert!(w.get("orders/validated/PO-1001.json").await.is_none());

    proxy.set(json!([]));
    let again = w.invoke(&order).expect("redelivery");
    assert_eq!(again["status"], "duplicate");
    let restored = w
        .get_json("orders/validated/PO-1001.json")
        .await
        .expect("restored by the redelivery");
    assert_eq!(restored["order_id"], "PO-1001");
    assert_eq!(w.items().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_window_the_same_order_is_accepted_again() {
    let mut w = world(&[("DEDUP_WINDOW_SECS", "1")]).await;
    let order = fixture("sfn-validate-order.json");
    assert_eq!(w.invoke(&order).expect("first")["status"], "valid");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        w.invoke(&order).expect("after the window")["status"],
        "valid"
    );
    assert_eq!(
        w.items().await.len(),
        1,
        "the lapsed item was replaced, not duplicated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_payloads_naming_an_object_and_keys_outside_incoming() {
    let mut w = world(&[]).await;
    w.put(
        "orders/incoming/PO-1002.json",
        sample("data/order-valid.json"),
    )
    .await;
    let out = w
        .invoke(&json!({"bucket": w.bucket, "key": "orders/incoming/PO-1002.json"}))
        .expect("object payload");
    assert_eq!(out["status"], "valid");
    assert!(w.get_json("orders/validated/PO-1002.json").await.is_some());

    let ignored = w
        .invoke(&s3_event(&w, "orders/validated/PO-1002.json"))
        .expect("ignored");
    assert_eq!(ignored["status"], "ignored");
    assert_eq!(w.items().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_a_clear_infrastructure_error_and_writes_no_result() {
    let mut w = world(&[("ORDERS_TABLE", "no-such-table")]).await;
    let err = w
        .invoke(&fixture("sfn-validate-order.json"))
        .expect_err("no table");
    assert_eq!(err.error_type, "NotFound");
    assert!(
        err.error_message.contains("no-such-table"),
        "{}",
        err.error_message
    );
    assert!(
        w.keys("orders/").await.is_empty(),
        "no result object without the table's verdict"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_over_the_size_limit_is_invalid_not_a_failure() {
    let mut w = world(&[("MAX_ORDER_BYTES", "64")]).await;
    w.put(
        "orders/incoming/big.json",
        sample("sfn-validate-order.json"),
    )
    .await;
    let out = w
        .invoke(&json!({"bucket": w.bucket, "key": "orders/incoming/big.json"}))
        .expect("a result");
    assert_eq!(out["status"], "invalid");
    assert!(
        out["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("64 byte limit")),
        "{out}"
    );
    assert!(w.get_json("orders/rejected/big.json").await.is_some());
    assert!(w.items().await.is_empty());
    // Counted like every other invalid order (the S3 event gave no size, so the read found it too large).
    let metrics: Vec<Value> = w
        .function
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.get("_aws").is_some())
        .collect();
    assert!(
        metrics
            .iter()
            .any(|m| m["Status"] == "invalid" && m["Orders"] == 1.0),
        "{metrics:?}"
    );

    // With the size in the event, the order is refused before it is read, and counted the same way.
    let mut event = s3_event(&w, "orders/incoming/big.json");
    event["Records"][0]["s3"]["object"]["size"] = json!(10_000);
    assert_eq!(w.invoke(&event).expect("a result")["status"], "invalid");
    let counted = w
        .function
        .log_text()
        .lines()
        .filter(|l| l.contains("\"_aws\"") && l.contains("\"Status\":\"invalid\""))
        .count();
    assert_eq!(counted, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_configuration_fails_every_invocation_as_invalid_config() {
    let binary = Path::new(env!("CARGO_BIN_EXE_order-validator"));
    // ORDERS_TABLE is required.
    let mut f = LambdaProcess::start(binary, &Moto::shared().endpoint(), &[]);
    for _ in 0..2 {
        let err = f
            .invoke(&fixture("sfn-validate-order.json"))
            .expect_err("no table to write to");
        assert_eq!(err.error_type, "InvalidConfig", "{}", err.error_message);
        assert!(
            err.error_message.contains("ORDERS_TABLE"),
            "{}",
            err.error_message
        );
    }
}

#[test]
fn cargo_lambda_deploy_creates_the_function_with_its_runtime_and_environment() {
    tributary_testkit::cargo_lambda_deploy(
        "order-validator",
        Path::new(env!("CARGO_BIN_EXE_order-validator")),
        &[
            ("ORDERS_TABLE", "tributary-orders"),
            ("ORDERS_BUCKET", "tributary-demo"),
        ],
    );
}
