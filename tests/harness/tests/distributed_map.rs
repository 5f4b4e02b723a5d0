//! The local runner's Distributed Map (infra/distributed-map.mjs), which the backfill state machine runs on: what
//! it reads from S3, how it batches, how many child executions at once, what it writes, when it fails, and that it
//! refuses what it does not implement. The children here are Pass, Wait and Fail states, so only the map is tested.

use serde_json::{Value, json};
use std::process::Output;
use tributary_testkit::Stack;

/// Runs `definition` on `input` with the local runner.
fn run(definition: &Value, input: &Value) -> Output {
    let job = json!({
        "definition": definition,
        "input": input,
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:backfill:run-1",
        "functions": {},
        "lambdaEndpoint": "http://127.0.0.1:9",
        "waitMs": 50,
    });
    tributary_testkit::states::run_job(&job)
}

fn report(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the runner's report is JSON")
}

/// A backfill-shaped definition: a Distributed Map over `$.bucket`/`$.prefix` in batches of 5, two at once, its
/// results written under `results/`, each child waiting a moment then failing for a batch holding a key with
/// "bad" in it, else answering its batch.
fn definition(extra: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                       "Parameters": {"Bucket.$": "$.bucket", "Prefix.$": "$.prefix"}},
        "ItemBatcher": {"MaxItemsPerBatch": 5, "BatchInput": {"tag.$": "$.tag"}},
        "MaxConcurrency": 2,
        "ToleratedFailurePercentage": 0,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Pause",
            "States": {
                "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Bad?"},
                "Bad?": {"Type": "Choice",
                         "Choices": [{"Variable": "$.Items[0].Key", "StringMatches": "*bad*", "Next": "Refuse"}],
                         "Default": "Answer"},
                "Refuse": {"Type": "Fail", "Error": "BadBatch", "Cause": "a bad key"},
                "Answer": {"Type": "Pass", "Parameters": {"items.$": "$.Items", "tag.$": "$.BatchInput.tag"},
                           "End": true}
            }
        },
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Parameters": {"Bucket.$": "$.bucket", "Prefix": "results/"}},
        "ResultPath": "$.map",
        "End": true
    });
    if let (Some(map), Some(extra)) = (map.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    json!({"StartAt": "Objects", "States": {"Objects": map}})
}

async fn bucket_with(keys: &[String]) -> Stack {
    let stack = Stack::bucket("dmap").await;
    for key in keys {
        stack.put(key, b"x".to_vec()).await;
    }
    stack
}

async fn json_object(stack: &Stack, key: &str) -> Value {
    serde_json::from_slice(&stack.get(key).await.unwrap_or_else(|| panic!("{key}"))).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_map_lists_the_prefix_batches_it_runs_two_children_at_once_and_writes_its_results()
 {
    let keys: Vec<String> = (0..23).map(|i| format!("in/{i:02}.csv")).collect();
    let stack = bucket_with(&keys).await;
    stack.put("other/x.csv", b"x".to_vec()).await;
    let out = tokio::task::block_in_place(|| {
        run(
            &definition(json!({})),
            &json!({"bucket": stack.bucket, "prefix": "in/", "tag": "t1"}),
        )
    });
    let report = report(&out);
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    assert_eq!(
        (
            &report["maps"]["children"],
            &report["maps"]["maxConcurrent"],
            &report["maps"]["failed"]
        ),
        (&json!(5), &json!(2), &json!(0))
    );
    let details = &report["output"]["map"]["ResultWriterDetails"];
    assert_eq!(details["Bucket"], json!(stack.bucket));
    let manifest_key = details["Key"].as_str().expect("manifest key");
    assert!(manifest_key.starts_with("results/") && manifest_key.ends_with("/manifest.json"));
    let manifest = json_object(&stack, manifest_key).await;
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    let file = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
        .as_str()
        .expect("a result file");
    let entries = json_object(&stack, file).await;
    let mut listed: Vec<String> = Vec::new();
    for entry in entries.as_array().expect("entries") {
        assert_eq!(entry["Status"], "SUCCEEDED");
        let output: Value =
            serde_json::from_str(entry["Output"].as_str().expect("Output")).expect("JSON");
        assert_eq!(output["tag"], "t1", "BatchInput reaches every child");
        let items = output["items"].as_array().expect("items");
        assert!(items.len() <= 5);
        listed.extend(
            items
                .iter()
                .map(|i| i["Key"].as_str().expect("Key").to_owned()),
        );
        assert!(
            items
                .iter()
                .all(|i| i["Etag"].is_string() && i["Size"] == 1)
        );
    }
    listed.sort();
    assert_eq!(
        listed, keys,
        "every object under the prefix, once, and nothing else"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_failed_children_than_tolerated_fail_the_map_and_the_failures_are_written() {
    let mut keys: Vec<String> = (0..20).map(|i| format!("in/{i:02}.csv")).collect();
    keys[5] = "in/05-bad.csv".to_owned();
    let stack = bucket_with(&keys).await;
    let input = json!({"bucket": stack.bucket, "prefix": "in/", "tag": "t"});

    // One batch of four failed: 25 %, over the 0 % tolerated.
    let failed = report(&tokio::task::block_in_place(|| {
        run(&definition(json!({})), &input)
    }));
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["error"], "States.ExceedToleratedFailureThreshold");

    // Tolerated at 30 %: the map succeeds, and the failed batch is in FAILED_0.json with its error.
    let tolerated = report(&tokio::task::block_in_place(|| {
        run(
            &definition(json!({"ToleratedFailurePercentage": 30})),
            &input,
        )
    }));
    assert_eq!(tolerated["status"], "SUCCEEDED", "{tolerated}");
    let manifest = json_object(
        &stack,
        tolerated["output"]["map"]["ResultWriterDetails"]["Key"]
            .as_str()
            .expect("manifest"),
    )
    .await;
    let failures = json_object(
        &stack,
        manifest["ResultFiles"]["FAILED"][0]["Key"]
            .as_str()
            .expect("FAILED file"),
    )
    .await;
    assert_eq!(failures.as_array().map(Vec::len), Some(1));
    assert_eq!(failures[0]["Error"], "BadBatch");
    let input: Value =
        serde_json::from_str(failures[0]["Input"].as_str().expect("Input")).expect("JSON");
    assert_eq!(input["Items"][0]["Key"], "in/05-bad.csv");
}

#[test]
fn a_distributed_map_field_the_runner_does_not_implement_is_refused_before_anything_runs() {
    for extra in [
        json!({"ItemSelector": {"key.$": "$$.Map.Item.Value.Key"}}),
        json!({"ToleratedFailureCount": 3}),
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                              "ReaderConfig": {"InputType": "CSV"}, "Parameters": {"Bucket": "b", "Key": "k"}}}),
    ] {
        let out = run(
            &definition(extra.clone()),
            &json!({"bucket": "b", "prefix": ""}),
        );
        assert_eq!(out.status.code(), Some(1), "{extra}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("does not implement") || stderr.contains("must read with"),
            "{extra}: {stderr}"
        );
    }
}
