//! `tributary validate-order` end to end: the real binary on real files, its result document and exit codes.

mod common;

use common::*;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

fn validate_file(path: &Path) -> Output {
    tributary(&["validate-order", path.to_str().expect("utf-8 path")])
}

fn result(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "result JSON on stdout ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write order");
    path
}

fn error_paths(result: &Value) -> Vec<&str> {
    result["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect()
}

#[test]
fn a_valid_order_exits_0_with_the_canonical_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let order = write(
        dir.path(),
        "order.json",
        r#"{"id": " PO-7 ", "vendor": "Acme", "currency": "usd",
            "created_at": "2026-11-21T12:00:00+02:00",
            "line_items": [{"product_id": "SKU-1", "quantity": 3, "unit_price": 0.10}]}"#,
    );
    let run = validate_file(&order);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.stderr.is_empty());
    let result = result(&run);
    assert_eq!(result["status"], "valid");
    assert_eq!(result["order_id"], "PO-7");
    assert_eq!(result["errors"], json!([]));
    let order = &result["order"];
    assert_eq!(order["total"], "0.30");
    assert_eq!(order["currency"], "USD");
    assert_eq!(order["customer_id"], Value::Null);
    assert_eq!(order["line_count"], 1);
    assert_eq!(order["created_at"], "2026-11-21T10:00:00Z");
    assert!(
        order["validated_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
    assert_eq!(order["payload_hash"].as_str().map(str::len), Some(64));
}

#[test]
fn an_invalid_order_exits_3_with_every_error_on_stdout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let order = write(
        dir.path(),
        "order.json",
        r#"{"order_id": "PO-8", "vendor": " ", "currency": "XYZ",
            "created_at": "2026-11-21T10:00:00Z",
            "line_items": [{"product_id": "SKU-1", "quantity": "3", "unit_price": "-1"}]}"#,
    );
    let run = validate_file(&order);
    assert_eq!(run.status.code(), Some(3));
    let result = result(&run);
    assert_eq!(result["status"], "invalid");
    assert_eq!(result["order_id"], "PO-8");
    assert_eq!(result["order"], Value::Null);
    assert_eq!(
        error_paths(&result),
        [
            "vendor",
            "currency",
            "line_items[0].quantity",
            "line_items[0].unit_price"
        ]
    );
}

#[test]
fn malformed_json_exits_3_with_the_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let order = write(dir.path(), "order.json", "{\n  \"order_id\": \"PO-1\",,\n}");
    let run = validate_file(&order);
    assert_eq!(run.status.code(), Some(3));
    let result = result(&run);
    assert_eq!(result["order_id"], Value::Null);
    assert_eq!(error_paths(&result), ["$"]);
    let message = result["errors"][0]["message"].as_str().expect("message");
    assert!(message.contains("line 2 column"), "{message}");
}

#[test]
fn an_unreadable_file_exits_1_with_one_line_and_no_result() {
    let dir = tempfile::tempdir().expect("temp dir");
    for path in [dir.path().join("missing.json"), dir.path().to_owned()] {
        let run = validate_file(&path);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("cannot read"), "{stderr}");
        assert!(!stderr.contains("panicked"));
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn reads_the_order_from_stdin() {
    let body = std::fs::read(root().join("events/sfn-validate-order.json")).expect("sample event");
    let run = tributary_with_stdin(&["validate-order", "-"], &body);
    assert!(run.status.success());
    assert_eq!(result(&run)["order"]["total"], "60.97");
}

#[test]
fn the_sample_orders_validate_as_their_names_say() {
    let run = validate_file(&root().join("events/sfn-validate-order.json"));
    assert_eq!(run.status.code(), Some(0));
    let sfn = result(&run);
    assert_eq!(sfn["order_id"], "PO-1001");
    assert_eq!(sfn["order"]["line_count"], 2);

    let run = validate_file(&root().join("events/data/order-valid.json"));
    assert_eq!(run.status.code(), Some(0));
    let valid = result(&run);
    assert_eq!(valid["order"]["total"], "312.00");
    assert_eq!(valid["order"]["customer_id"], "C-0042");
    assert_eq!(valid["order"]["created_at"], "2026-11-21T08:30:00Z");

    let run = validate_file(&root().join("events/data/order-invalid.json"));
    assert_eq!(run.status.code(), Some(3));
    let invalid = result(&run);
    assert_eq!(invalid["order_id"], "PO-1003");
    assert_eq!(
        error_paths(&invalid),
        [
            "vendor",
            "currency",
            "created_at",
            "line_items[0].quantity",
            "line_items[1].product_id",
            "line_items[1].quantity",
            "line_items[1].unit_price",
            "total"
        ]
    );
}
