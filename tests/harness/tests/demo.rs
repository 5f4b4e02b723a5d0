//! `make demo` as a test: runs `scripts/demo` -- moto_server, a throwaway PostgreSQL, `terraform apply` of
//! infra/terraform, the functions under `cargo lambda watch`, the state machine in aws-local-stepfunctions -- and
//! checks its JSON report against what the seeded sample data must produce.
//!
//! Needs what the demo needs: the project virtualenv with moto and cargo-lambda, `infra/node_modules`, Terraform
//! with the AWS provider mirror, PostgreSQL and Node. `make test` installs the first two.

use serde_json::Value;
use std::process::Command;
use tributary_testkit::{python, workspace_root};

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn the_demo_runs_every_flow_end_to_end() {
    let root = workspace_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let report_path = dir.path().join("report.json");
    let output = Command::new(python())
        .arg(root.join("scripts/demo"))
        .arg("--json")
        .arg(&report_path)
        .current_dir(&root)
        .output()
        .expect("run scripts/demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = std::fs::read_to_string(&report_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| panic!("the demo wrote no report\n{stdout}\n{stderr}"));
    assert!(
        output.status.success() && report["ok"] == true,
        "the demo failed ({:?}):\n{stdout}\n{stderr}",
        output.status.code()
    );

    // Every sample event in events/, invoked with `cargo lambda invoke --data-file`, answered as expected.
    let samples = report["flows"]["samples"]["invocations"]
        .as_array()
        .expect("sample invocations");
    let mut files: Vec<String> = std::fs::read_dir(root.join("events"))
        .expect("events/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut invoked: Vec<String> = samples
        .iter()
        .map(|i| i["sample"].as_str().expect("sample").to_owned())
        .collect();
    invoked.sort();
    assert_eq!(invoked, files, "every sample event is invoked");
    let sample_checks = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| {
            c["check"]
                .as_str()
                .is_some_and(|c| c.starts_with("samples:"))
        })
        .filter(|c| c["ok"] == true)
        .count();
    assert_eq!(sample_checks, files.len());

    // CSV: the good file through every state, the gate failure caught and notified, the redelivery a no-op.
    let csv = &report["flows"]["csv"];
    let executions = csv["executions"].as_array().expect("executions");
    assert_eq!(executions.len(), 4);
    assert_eq!(
        strings(&executions[0]["path"]),
        [
            "Transform",
            "Quality gate",
            "Prepare load",
            "Load",
            "Load finished?",
            "Notify success"
        ]
    );
    let good = &csv["files"][0];
    let good_rows = good["rows"].as_u64().expect("rows") - good["bad_rows"].as_u64().expect("bad");
    assert_eq!(
        executions[0]["output"]["load"]["result"]["rows_loaded"],
        good_rows
    );
    assert_eq!(
        (
            executions[1]["status"].as_str(),
            executions[1]["error"].as_str()
        ),
        (Some("FAILED"), Some("QualityGateFailed"))
    );
    assert_eq!(
        strings(&executions[1]["path"]),
        ["Transform", "Notify failure", "Failed"]
    );
    assert_eq!(
        executions[2]["output"]["transform"]["status"], "skipped",
        "the redelivered event"
    );
    // The next day's file brings a column: the dataset's version 2, in Glue and in the warehouse table.
    let next = &csv["files"][2];
    assert_eq!(executions[3]["output"]["transform"]["schema_version"], 2);
    let dataset = &csv["dataset"];
    assert_eq!(dataset["registered_versions"], serde_json::json!([1, 2]));
    assert!(strings(&dataset["warehouse_columns"]).contains(&"channel"));
    let total = good_rows + next["rows"].as_u64().expect("rows");
    assert_eq!(csv["warehouse"]["rows"], total, "each file loaded once");
    let queried: u64 = dataset["query"]["rows"]
        .as_array()
        .expect("query rows")
        .iter()
        .filter_map(|r| r[1].as_u64())
        .sum();
    assert_eq!(queried, total, "one query reads both versions");
    let curated: Vec<&str> = csv["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["key"].as_str())
        .filter(|k| k.starts_with("curated/"))
        .collect();
    assert_eq!(curated.len(), 2, "{curated:?}");
    // Four for the CSV files, one for the webhook's rejected order.
    assert_eq!(report["notifications"].as_array().map(Vec::len), Some(5));

    // Kinesis: every distinct event in the latest-state table, the poison record dead-lettered.
    let kinesis = &report["flows"]["kinesis"];
    assert_eq!(kinesis["latest_state_items"], kinesis["events"]);
    assert_eq!(kinesis["dead_lettered"], kinesis["poison"]);

    // Orders: each decided as expected; one validated object and one item per accepted order.
    let orders = &report["flows"]["orders"];
    for order in orders["orders"].as_array().expect("orders") {
        assert_eq!(order["status"], order["expected"], "{order}");
    }
    let valid = orders["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .filter(|o| o["status"] == "valid")
        .count();
    assert_eq!(orders["table_items"], valid);
    let validated = orders["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter(|o| {
            o["key"]
                .as_str()
                .is_some_and(|k| k.starts_with("orders/validated/"))
        })
        .count();
    assert_eq!(validated, valid);

    // The order webhook: each answer, one execution per accepted delivery, each run to its outcome.
    let webhook = &report["flows"]["webhook"];
    let answers: Vec<(u64, &str)> = webhook["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| {
            (
                d["status"].as_u64().expect("status"),
                d["answer"]["status"]
                    .as_str()
                    .or(d["answer"]["error"].as_str())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        [
            (202, "accepted"),
            (202, "accepted"),
            (401, "unauthorized"),
            (401, "unauthorized"),
            (202, "accepted")
        ]
    );
    let runs: Vec<(&str, Vec<&str>)> = webhook["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| (e["delivery_id"].as_str().expect("id"), strings(&e["path"])))
        .collect();
    assert_eq!(
        runs,
        [
            ("msg_demo_3001", vec!["Validate", "Decide", "Accepted"]),
            (
                "msg_demo_3002",
                vec!["Validate", "Decide", "Notify rejection", "Rejected"]
            ),
        ]
    );
    assert_eq!(webhook["stored"]["total"], "50.00");

    // The latency table from the functions' EMF records: a row per function that reports durations, and one per
    // step of the converter and of the loader.
    let steps: Vec<&str> = report["latency"]
        .as_array()
        .expect("latency")
        .iter()
        .map(|r| r["step"].as_str().expect("step"))
        .collect();
    assert_eq!(
        steps,
        [
            "csv-to-parquet",
            "csv-to-parquet / ConvertMs",
            "csv-to-parquet / S3ReadMs",
            "csv-to-parquet / S3UploadMs",
            "kinesis-normalizer",
            "order-webhook",
            "redshift-loader",
            "redshift-loader / CopyMs",
            "redshift-loader / MergeMs",
            "redshift-loader / S3ReadMs"
        ]
    );

    // The backfill of ~1,000 objects no event announced, run twice: converted and loaded once, batches run several
    // at once, then everything skipped; the warehouse holds each row once.
    let backfill = &report["flows"]["backfill"];
    let objects = backfill["objects"].as_u64().expect("objects");
    let runs = backfill["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{backfill}");
    let summary = |i: usize, field: &str| runs[i]["summary"][field].as_u64();
    assert_eq!(
        (
            summary(0, "objects"),
            summary(0, "converted"),
            summary(0, "failed")
        ),
        (Some(objects), Some(objects), Some(0)),
        "{backfill}"
    );
    assert!(runs[0]["max_concurrent"].as_u64() > Some(1), "{backfill}");
    assert_eq!(runs[0]["load"]["files_loaded"].as_u64(), Some(objects));
    assert_eq!(summary(1, "skipped"), Some(objects), "{backfill}");
    assert_eq!(runs[1]["load"]["files_loaded"].as_u64(), Some(0));
    for run in runs {
        assert_eq!(
            run["warehouse_rows"].as_u64(),
            Some(objects * 3),
            "{backfill}"
        );
    }

    // One warehouse row traced back: its execution (the correlation id), its source object, its loaded file.
    let trace = &report["flows"]["csv"]["trace"];
    assert!(
        trace["correlation_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("arn:aws:states:") && id.contains(":execution:")),
        "{trace}"
    );
    assert!(
        trace["source_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("raw/orders/")),
        "{trace}"
    );
    assert_eq!(trace["ledger"].as_array().map(Vec::len), Some(1), "{trace}");

    // The outputs a user opens.
    let out = root.join("target/demo");
    assert!(out.join("functions.log").is_file());
    assert!(out.join(curated[0]).is_file());
}
