//! `tributary redrive` against the emulator: the normalizer's redrive run from a workstation, with the function's
//! settings from the environment.

use serde_json::{Value, json};
use std::process::Command;
use tributary_testkit::streams::{failure_record, queue_bodies, queue_with, stream_with};
use tributary_testkit::{Moto, Stack};

/// `tributary redrive ARGS` with `env` (beside the emulator's endpoint and credentials) and nothing else.
fn redrive(env: &[(&str, &str)], args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("redrive")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", Moto::shared().endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .output()
        .expect("tributary runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "a JSON report; status {:?}, stdout: {}, stderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// A kinesis-normalizer in the emulator's Lambda control plane, with the settings `tributary redrive --function`
/// must use (the entity key among them).
fn deployed_normalizer(stack: &Stack, queue_url: &str) -> String {
    let name = tributary_testkit::unique_bucket("normalizer");
    tributary_testkit::boto3(
        r#"
import io, json, sys, zipfile
import boto3
name, bucket, table, queue = sys.argv[1:5]
iam = boto3.client("iam")
role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("bootstrap", "")
boto3.client("lambda").create_function(
    FunctionName=name, Runtime="provided.al2023", Role=role["Role"]["Arn"], Handler="bootstrap",
    Code={"ZipFile": code.getvalue()},
    Environment={"Variables": {"EVENTS_BUCKET": bucket, "LATEST_TABLE": table, "ENTITY_KEY": "customer_id",
                               "REDRIVE_QUEUE_URL": queue}})
"#,
        &[&name, &stack.bucket, &stack.table, queue_url],
    );
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_stores_a_failed_range_and_exits_3_while_a_message_stays() {
    let stack = Stack::new("cliredrive", "entity_id").await;
    let payloads = [
        json!({"id": "C1", "type": "click", "customer_id": "c1", "ts": "2026-11-30T12:00:00Z"}),
        json!({"id": "C2", "type": "click", "customer_id": "c2", "ts": "2026-11-30T12:01:00Z"}),
    ];
    let (arn, shard, seqs) = stream_with(&payloads).await;
    let (sqs, url) = queue_with(&[failure_record(&arn, &shard, &seqs[0], &seqs[1])]).await;

    // The deployed function's settings and queue, with nothing in this process's environment.
    let function = deployed_normalizer(&stack, &url);
    let (code, report) = tokio::task::block_in_place(|| redrive(&[], &["--function", &function]));
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["redriven"][0]["records"], 2, "{report}");
    let events: Vec<Value> = stack
        .objects("events/")
        .await
        .values()
        .flat_map(|body| {
            body.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice::<Value>(l).expect("json line"))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["C1", "C2"]);
    assert!(queue_bodies(&sqs, &url).await.is_empty());
    // Latest state under the function's ENTITY_KEY.
    let entities: Vec<String> = stack
        .items()
        .await
        .iter()
        .filter_map(|i| i.get("entity_id")?.as_s().ok().cloned())
        .collect();
    assert_eq!(entities.len(), 2, "{entities:?}");
    assert!(
        entities.iter().all(|e| e == "c1" || e == "c2"),
        "{entities:?}"
    );

    // A range on a shard that is gone stays in the queue: exit 3, named in the report.
    sqs.send_message()
        .queue_url(&url)
        .message_body(failure_record(
            &arn,
            "shardId-000000000007",
            &seqs[0],
            &seqs[0],
        ))
        .send()
        .await
        .expect("send");
    // Settings from this process's environment instead.
    let env = [
        ("EVENTS_BUCKET", stack.bucket.as_str()),
        ("LATEST_TABLE", stack.table.as_str()),
        ("ENTITY_KEY", "customer_id"),
    ];
    let (code, report) = tokio::task::block_in_place(|| redrive(&env, &["--queue-url", &url]));
    assert_eq!(code, 3, "{report}");
    assert!(
        report["aged_out"][0]["range"]
            .as_str()
            .is_some_and(|r| r.contains("shardId-000000000007")),
        "{report}"
    );
    assert_eq!(queue_bodies(&sqs, &url).await.len(), 1);
}
