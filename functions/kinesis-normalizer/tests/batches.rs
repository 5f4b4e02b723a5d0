//! Integration tests: the real `kinesis-normalizer` binary through the Lambda Runtime API emulator, against S3
//! and DynamoDB in moto_server. Objects and items are read back; failures must show in `batchItemFailures`.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use tributary_testkit::streams::{failure_record, queue_bodies, queue_with, stream_with};
use tributary_testkit::{FaultProxy, Moto, Stack, World, fixture};

/// The normalizer against a fresh bucket and latest-state table, reaching AWS at `endpoint`.
async fn world_at(endpoint: &str, extra_env: &[(&str, &str)]) -> World {
    let stack = Stack::new("events", "entity_id").await;
    let (bucket, table) = (stack.bucket.clone(), stack.table.clone());
    let mut env = vec![
        ("EVENTS_BUCKET", bucket.as_str()),
        ("LATEST_TABLE", table.as_str()),
        ("ENTITY_KEY", "customer_id"),
    ];
    env.extend_from_slice(extra_env);
    let binary = Path::new(env!("CARGO_BIN_EXE_kinesis-normalizer"));
    World::start(stack, binary, endpoint, &env)
}

async fn world(extra_env: &[(&str, &str)]) -> World {
    world_at(&Moto::shared().endpoint(), extra_env).await
}

/// The latest-state items, by entity.
async fn latest(w: &World) -> HashMap<String, HashMap<String, AttributeValue>> {
    w.items()
        .await
        .into_iter()
        .map(|i| {
            (
                i.get("entity_id")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default(),
                i,
            )
        })
        .collect()
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn ndjson(body: &[u8]) -> Vec<Value> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("json line"))
        .collect()
}

fn sequence(event: &Value, i: usize) -> String {
    event["Records"][i]["kinesis"]["sequenceNumber"]
        .as_str()
        .expect("seq")
        .to_owned()
}

/// A one-record Kinesis batch for `payload`.
fn single(payload: &Value, seq: &str) -> Value {
    let mut event = fixture("kinesis-batch.json");
    let mut record = event["Records"][0].clone();
    record["kinesis"]["data"] =
        json!(base64::engine::general_purpose::STANDARD.encode(payload.to_string()));
    record["kinesis"]["sequenceNumber"] = json!(seq);
    event["Records"] = json!([record]);
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_batch_lands_in_s3_partitions_and_the_latest_state_table() {
    let mut w = world(&[]).await;
    let event = fixture("kinesis-batch.json");
    let out = w.invoke(&event).expect("batch succeeds");
    assert_eq!(out, json!({"batchItemFailures": []}));

    let events = w.objects("events/").await;
    let mut keys: Vec<&String> = events.keys().collect();
    keys.sort();
    let first = sequence(&event, 0);
    assert_eq!(
        keys,
        [
            &format!(
                "events/order_placed/year=2026/month=11/day=21/hour=10/shardId-000000000000-{first}-{}.jsonl",
                sequence(&event, 4)
            ),
            &format!(
                "events/page_view/year=2026/month=11/day=21/hour=10/shardId-000000000000-{}-{}.jsonl",
                sequence(&event, 1),
                sequence(&event, 1)
            ),
        ]
    );
    let orders = ndjson(&events[keys[0]]);
    let ids: Vec<&str> = orders
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "evt-1001",
            "evt-1003",
            &format!("shardId-000000000000-{}", sequence(&event, 4))
        ],
        "the duplicate evt-1001 is stored once"
    );
    assert_eq!(orders[0]["shipping_address"]["zip_code"], "10001");
    assert_eq!(orders[0]["_kinesis"]["sequence_number"], json!(first));

    let letters = w.objects("dead-letter/kinesis/").await;
    assert_eq!(letters.len(), 2);
    let letter: Value = serde_json::from_slice(
        &letters[&format!(
            "dead-letter/kinesis/2026-11-21/shardId-000000000000-{}.json",
            sequence(&event, 5)
        )],
    )
    .expect("json");
    assert!(
        letter["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not JSON"))
    );
    assert_eq!(
        letter["data"], event["Records"][5]["kinesis"]["data"],
        "the raw data is kept"
    );

    let items = latest(&w).await;
    assert_eq!(items.len(), 3, "cust-42, cust-7 and cust-9");
    assert_eq!(
        text(&items["cust-42"], "event_id"),
        "evt-1003",
        "the newest event of the entity"
    );
    assert_eq!(
        text(&items["cust-42"], "event_time"),
        "2026-11-21T10:02:00.500Z"
    );
    let stored: Value = serde_json::from_str(&text(&items["cust-7"], "event")).expect("event json");
    assert_eq!(stored["page_url"], "/checkout");
}

/// Objects with each event's processing time taken out.
async fn objects_without_time(w: &World, prefix: &str) -> Vec<(String, Vec<Value>)> {
    let mut out: Vec<(String, Vec<Value>)> = w
        .objects(prefix)
        .await
        .into_iter()
        .map(|(key, body)| {
            let lines = ndjson(&body)
                .into_iter()
                .map(|mut e| {
                    e.as_object_mut().expect("object").remove("ingested_at");
                    e
                })
                .collect();
            (key, lines)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_read_from_its_text_lands_as_it_does_read_as_a_value_and_other_events_are_refused()
{
    // The handler reads a batch from its text in one pass; an event whose text holds "redrive" anywhere is read
    // as a Value (a `redrive` member would make it a redrive request). Both must store the same.
    let event = fixture("kinesis-batch.json");
    let mut named = event.clone();
    named["note"] = json!("redrive");
    let (mut text, mut value) = (world(&[]).await, world(&[]).await);
    let out = text.invoke(&event).expect("batch read from its text");
    assert_eq!(out, value.invoke(&named).expect("batch read as a value"));
    assert_eq!(out, json!({"batchItemFailures": []}));
    let stored = objects_without_time(&text, "events/").await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored, objects_without_time(&value, "events/").await);
    assert_eq!(
        text.objects("dead-letter/").await,
        value.objects("dead-letter/").await
    );
    assert_eq!(latest(&text).await.len(), 3);

    for other in [
        json!({"Records": [{"eventSource": "aws:s3"}]}),
        json!({"hello": 1}),
        json!([1]),
    ] {
        let err = text.invoke(&other).expect_err("not a batch");
        assert_eq!(
            err.error_type, "InvalidEvent",
            "{other}: {}",
            err.error_message
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_batch_leaves_the_same_objects_and_items() {
    let mut w = world(&[]).await;
    let event = fixture("kinesis-batch.json");
    w.invoke(&event).expect("first delivery");
    let (objects, items) = (w.objects("").await, latest(&w).await);
    w.invoke(&event).expect("redelivery");
    let (again, items_again) = (w.objects("").await, latest(&w).await);
    assert_eq!(
        objects.keys().collect::<std::collections::BTreeSet<_>>(),
        again.keys().collect()
    );
    assert_eq!(items.len(), items_again.len());
    for (entity, item) in &items {
        assert_eq!(
            text(item, "event_id"),
            text(&items_again[entity], "event_id")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_event_never_overwrites_a_newer_one() {
    let mut w = world(&[]).await;
    let newer = json!({"eventId": "evt-9000", "type": "order_placed", "eventTime": "2026-11-21T12:00:00Z", "customerId": "cust-42"});
    w.invoke(&single(
        &newer,
        "49590338271490256608559692538361571095921575989136589999",
    ))
    .expect("newer first");
    w.invoke(&fixture("kinesis-batch.json"))
        .expect("older batch");
    assert_eq!(text(&latest(&w).await["cust-42"], "event_id"), "evt-9000");

    // Same event time: the later (numerically larger, here longer) sequence number wins.
    let tie = json!({"eventId": "evt-9001", "type": "order_placed", "eventTime": "2026-11-21T12:00:00Z", "customerId": "cust-42"});
    w.invoke(&single(
        &tie,
        "495903382714902566085596925383615710959215759891365899990",
    ))
    .expect("tie, later sequence");
    assert_eq!(text(&latest(&w).await["cust-42"], "event_id"), "evt-9001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_reported_in_batch_item_failures() {
    let mut w = world(&[("LATEST_TABLE", "no-such-table")]).await;
    let event = fixture("kinesis-batch.json");
    let out = w.invoke(&event).expect("partial failure is a response");
    assert_eq!(
        out,
        json!({"batchItemFailures": [{"itemIdentifier": sequence(&event, 0)}]}),
        "the first failed record, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_record_fails_the_invocation_fails() {
    let mut w = world(&[
        ("EVENTS_BUCKET", "no-such-bucket"),
        ("LATEST_TABLE", "no-such-table"),
    ])
    .await;
    let batch = single(&json!({"id": "x", "customerId": "c"}), "1");
    let err = w.invoke(&batch).expect_err("all failed");
    assert_eq!(err.error_type, "NotFound");
    assert!(
        err.error_message.contains("every record"),
        "{}",
        err.error_message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_batches_report_every_failed_message() {
    let mut ok = world(&[]).await;
    let event = fixture("sqs-batch.json");
    assert_eq!(
        ok.invoke(&event).expect("sqs batch"),
        json!({"batchItemFailures": []})
    );
    assert_eq!(ok.objects("dead-letter/").await.len(), 1);

    let mut broken = world(&[("LATEST_TABLE", "no-such-table")]).await;
    let out = broken.invoke(&event).expect("partial failure");
    let failed: Vec<&str> = out["batchItemFailures"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    assert_eq!(
        failed.len(),
        3,
        "each failed message, not only the first: {out}"
    );
    assert!(
        !failed.contains(&"3f1c0d2e-0000-4000-8000-000000000009"),
        "the dead-lettered message is done"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_objects_when_configured() {
    let mut w = world(&[("GZIP", "true")]).await;
    w.invoke(&fixture("kinesis-batch.json")).expect("batch");
    let events = w.objects("events/").await;
    assert_eq!(events.len(), 2);
    for (key, body) in events {
        assert!(key.ends_with(".jsonl.gz"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("gunzip");
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<Value>(l).is_ok())
        );
    }
}

/// Every event id in the events objects, with how often it is there.
async fn stored_events(w: &World) -> std::collections::BTreeMap<String, usize> {
    let mut ids = std::collections::BTreeMap::new();
    for body in w.objects("events/").await.values() {
        for event in ndjson(body) {
            *ids.entry(event["event_id"].as_str().expect("id").to_owned())
                .or_insert(0) += 1;
        }
    }
    ids
}

/// The latest-state table as entity -> event id.
async fn state(w: &World) -> std::collections::BTreeMap<String, String> {
    latest(w)
        .await
        .into_iter()
        .map(|(entity, item)| (entity, text(&item, "event_id")))
        .collect()
}

const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;

fn throttle(entity: &str) -> Value {
    json!([{"target": "PutItem", "body_contains": format!("\"{entity}\""), "status": 400, "body": THROTTLED,
        "headers": {"Content-Type": "application/x-amz-json-1.0"}}])
}

fn failed_ids(out: &Value) -> Vec<&str> {
    out["batchItemFailures"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_state_writes_fail_exactly_their_messages_and_the_redelivery_stores_every_event_once()
 {
    let event = fixture("sqs-batch.json");
    let mut clean = world(&[]).await;
    clean.invoke(&event).expect("clean run");

    let proxy = FaultProxy::start(&Moto::shared().endpoint());
    let mut w = world_at(&proxy.endpoint(), &[]).await;
    proxy.set(throttle("cust-7"));
    let out = w.invoke(&event).expect("partial failure");
    let cust_7 = "3f1c0d2e-0000-4000-8000-000000000001";
    assert_eq!(
        failed_ids(&out),
        [cust_7],
        "only the throttled entity's message"
    );
    assert!(
        proxy.hits()[0] >= 6,
        "retried WRITE_ATTEMPTS times: {:?}",
        proxy.hits()
    );
    assert!(
        !stored_events(&w).await.contains_key("evt-1002"),
        "its event waits for the redelivery"
    );

    // SQS delivers the failed message again; DynamoDB has recovered.
    proxy.set(json!([]));
    let mut again = event.clone();
    again["Records"] = json!(
        event["Records"]
            .as_array()
            .expect("records")
            .iter()
            .filter(|r| r["messageId"] == cust_7)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        failed_ids(&w.invoke(&again).expect("redelivery")),
        Vec::<&str>::new()
    );

    let stored = stored_events(&w).await;
    assert_eq!(
        stored,
        stored_events(&clean).await,
        "the same events as a run without faults"
    );
    assert!(stored.values().all(|n| *n == 1), "each once: {stored:?}");
    assert_eq!(state(&w).await, state(&clean).await);
}

/// A Kinesis batch of one record per `(event id, type, customer)`, sequence numbers from 100.
fn kinesis(events: &[(&str, &str, &str)]) -> Value {
    let template = fixture("kinesis-batch.json")["Records"][0].clone();
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, (id, kind, customer))| {
            let mut r = template.clone();
            let payload = json!({"eventId": id, "type": kind, "customerId": customer, "ts": 1_795_255_200 + i});
            r["kinesis"]["data"] =
                json!(base64::engine::general_purpose::STANDARD.encode(payload.to_string()));
            r["kinesis"]["sequenceNumber"] = json!(format!("{}", 100 + i));
            r
        })
        .collect();
    json!({ "Records": records })
}

/// What Kinesis sends after a partial failure: the records from the reported one on.
fn from_reported(event: &Value, out: &Value) -> Value {
    let first = failed_ids(out)[0].to_owned();
    let records: Vec<Value> = event["Records"]
        .as_array()
        .expect("records")
        .iter()
        .skip_while(|r| r["kinesis"]["sequenceNumber"] != first.as_str())
        .cloned()
        .collect();
    json!({ "Records": records })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kinesis_batch_failing_midway_is_retried_from_there_and_stores_every_event_once() {
    let event = kinesis(&[
        ("e1", "click", "c1"),
        ("e2", "view", "c2"),
        ("e3", "click", "c3"),
        ("e4", "view", "c4"),
        ("e5", "click", "c5"),
    ]);
    let mut clean = world(&[]).await;
    clean.invoke(&event).expect("clean run");

    let proxy = FaultProxy::start(&Moto::shared().endpoint());
    let mut w = world_at(&proxy.endpoint(), &[]).await;
    // The state write of the third record is throttled, and the object of "view" events cannot be written.
    proxy.set(json!([
        throttle("c3")[0],
        {"method": "PUT", "path": "/events/view/", "status": 500,
         "body": "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"}
    ]));
    let out = w.invoke(&event).expect("partial failure");
    // e3's state failed, so e3 and everything after it is held back from S3. The "view" object (e2) failed:
    // Kinesis retries from e2's record. The "click" object holds only e1, which stays.
    assert_eq!(failed_ids(&out), ["101"]);
    let after_first = stored_events(&w).await;
    assert!(after_first.keys().all(|id| id == "e1"), "{after_first:?}");

    proxy.set(json!([]));
    let again = from_reported(&event, &out);
    assert_eq!(
        failed_ids(&w.invoke(&again).expect("retry")),
        Vec::<&str>::new()
    );
    let stored = stored_events(&w).await;
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        ["e1", "e2", "e3", "e4", "e5"],
        "no event lost"
    );
    assert!(stored.values().all(|n| *n == 1), "none twice: {stored:?}");
    assert_eq!(state(&w).await, state(&clean).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_holding_a_record_that_comes_again_is_taken_back_so_nothing_is_stored_twice() {
    let event = kinesis(&[
        ("e1", "click", "c1"),
        ("e2", "view", "c2"),
        ("e3", "click", "c3"),
    ]);
    let proxy = FaultProxy::start(&Moto::shared().endpoint());
    let mut w = world_at(&proxy.endpoint(), &[]).await;
    proxy.set(json!([{"method": "PUT", "path": "/events/view/", "status": 500,
        "body": "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"}]));
    // The "click" object (e1, e3) was written, but e3 comes again with e2: the object is removed, and with it
    // every record comes again, so the invocation fails and Kinesis retries the whole batch. Without that, e3
    // would be stored by both invocations.
    let err = w.invoke(&event).expect_err("every record comes again");
    assert_eq!(err.error_type, "ServiceUnavailable");
    assert!(stored_events(&w).await.is_empty());

    proxy.set(json!([]));
    w.invoke(&event).expect("retry");
    let stored = stored_events(&w).await;
    assert_eq!(stored.keys().collect::<Vec<_>>(), ["e1", "e2", "e3"]);
    assert!(stored.values().all(|n| *n == 1), "{stored:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_write_slower_than_the_sdk_timeout_fails_its_record_not_the_batch() {
    let proxy = FaultProxy::start(&Moto::shared().endpoint());
    let env = [("SDK_ATTEMPT_TIMEOUT_MS", "400"), ("WRITE_ATTEMPTS", "2")];
    let mut w = world_at(&proxy.endpoint(), &env).await;
    proxy.set(json!([{"target": "PutItem", "body_contains": "\"cust-7\"", "delay": 2}]));
    let out = w
        .invoke(&fixture("sqs-batch.json"))
        .expect("partial failure");
    assert_eq!(failed_ids(&out), ["3f1c0d2e-0000-4000-8000-000000000001"]);
    assert_eq!(proxy.hits(), [2], "each attempt timed out");
    assert!(
        w.function.log_text().contains("(Timeout)"),
        "reported as a timeout"
    );
}

#[test]
fn cargo_lambda_deploy_creates_the_function_with_its_runtime_and_environment() {
    tributary_testkit::cargo_lambda_deploy(
        "kinesis-normalizer",
        Path::new(env!("CARGO_BIN_EXE_kinesis-normalizer")),
        &[
            ("EVENTS_BUCKET", "tributary-demo"),
            ("LATEST_TABLE", "tributary-events-latest"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_that_cannot_be_written_holds_back_the_events_after_it() {
    let mut event = kinesis(&[
        ("a", "click", "c1"),
        ("x", "click", "c2"),
        ("b", "click", "c3"),
    ]);
    // The middle record is poison.
    event["Records"][1]["kinesis"]["data"] = json!("%%% not base64");
    let proxy = FaultProxy::start(&Moto::shared().endpoint());
    let mut w = world_at(&proxy.endpoint(), &[]).await;
    proxy.set(json!([{"method": "PUT", "path": "/dead-letter/", "status": 500,
        "body": "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"}]));
    let out = w.invoke(&event).expect("partial failure");
    // Kinesis retries from the poison record: "b" must not be stored yet, or the retry would store it twice.
    assert_eq!(failed_ids(&out), ["101"]);
    assert_eq!(stored_events(&w).await.keys().collect::<Vec<_>>(), ["a"]);

    proxy.set(json!([]));
    w.invoke(&from_reported(&event, &out)).expect("retry");
    let stored = stored_events(&w).await;
    assert_eq!(stored.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert!(stored.values().all(|n| *n == 1), "{stored:?}");
    assert_eq!(w.objects("dead-letter/").await.len(), 1);
}

/// A Kinesis batch of `(shard, sequence number, payload)` records.
fn records(records: &[(&str, &str, Value)]) -> Value {
    let mut event = fixture("kinesis-batch.json");
    let template = event["Records"][0].clone();
    event["Records"] = records
        .iter()
        .map(|(shard, seq, payload)| {
            let mut r = template.clone();
            r["eventID"] = json!(format!("{shard}:{seq}"));
            r["kinesis"]["sequenceNumber"] = json!(seq);
            r["kinesis"]["data"] =
                json!(base64::engine::general_purpose::STANDARD.encode(payload.to_string()));
            r
        })
        .collect();
    event
}

/// A fresh dedup-window table (`event_id`), for SEEN_TABLE.
async fn seen_table() -> String {
    let seen = tributary_testkit::unique_bucket("seen");
    tributary_testkit::create_table(
        &tributary_testkit::dynamodb_client().await,
        &seen,
        "event_id",
    )
    .await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_another_record_sent_within_the_window_is_dropped_across_batches_and_shards() {
    let seen = seen_table().await;
    let mut w = world(&[("SEEN_TABLE", &seen)]).await;
    let click = |id: &str, customer: &str| json!({"id": id, "type": "click", "customer_id": customer, "ts": "2026-11-30T10:00:00Z"});
    let first = records(&[("shardId-000000000000", "100", click("E1", "c1"))]);
    let out = w.invoke(&first).expect("first batch");
    assert_eq!(out, json!({"batchItemFailures": []}));
    // A producer's retry of E1 arrives on another shard, in another batch, beside a new event.
    let second = records(&[
        ("shardId-000000000001", "7", click("E1", "c1")),
        ("shardId-000000000001", "8", click("E2", "c2")),
    ]);
    let out = w.invoke(&second).expect("second batch");
    assert_eq!(
        out,
        json!({"batchItemFailures": []}),
        "a dropped record is done"
    );
    // The first batch delivered again (its record's own claim): it converges to the same objects.
    w.invoke(&first).expect("redelivered");
    let stored = stored_events(&w).await;
    assert_eq!(
        (stored.get("E1"), stored.get("E2")),
        (Some(&1), Some(&1)),
        "{stored:?}"
    );
    let dropped: Vec<f64> = w
        .emf()
        .iter()
        .filter_map(|m| m["DuplicatesDropped"].as_f64())
        .collect();
    assert_eq!(
        dropped,
        [0.0, 1.0, 0.0],
        "the second batch reports its dropped duplicate"
    );

    // Without the window (DEDUP_WINDOW_SECS=0), only duplicates within a batch are dropped.
    let mut off = world(&[("SEEN_TABLE", &seen), ("DEDUP_WINDOW_SECS", "0")]).await;
    off.invoke(&first).expect("first batch");
    off.invoke(&second).expect("second batch");
    assert_eq!(stored_events(&off).await.get("E1"), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_whose_claims_fail_are_not_stored_anywhere_until_their_redelivery() {
    let seen = seen_table().await;
    let proxy = FaultProxy::start(&Moto::shared().endpoint());
    let mut w = world_at(
        &proxy.endpoint(),
        &[("SEEN_TABLE", &seen), ("WRITE_ATTEMPTS", "2")],
    )
    .await;
    // Every claim is throttled (only claims carry an origin).
    proxy.set(json!([{"target": "PutItem", "body_contains": "\"origin\":{\"S\"", "status": 400, "body": THROTTLED,
        "headers": {"Content-Type": "application/x-amz-json-1.0"}}]));
    let event = fixture("sqs-batch.json");
    let out = w.invoke(&event).expect("a partial failure");
    // Every record that holds an event fails (the poison record is dead-lettered, which needs no claim).
    assert_eq!(failed_ids(&out).len(), 3, "{out}");
    assert!(stored_events(&w).await.is_empty(), "no event in S3");
    assert!(
        state(&w).await.is_empty(),
        "and none in the latest-state table"
    );

    // DynamoDB recovers and SQS delivers the batch again: every event, once.
    proxy.set(json!([]));
    assert_eq!(
        failed_ids(&w.invoke(&event).expect("redelivery")),
        Vec::<&str>::new()
    );
    assert!(stored_events(&w).await.values().all(|n| *n == 1));
    assert!(!state(&w).await.is_empty());
}

// --- redrive from the stream ------------------------------------------------------------------------------------

/// The mapping's last attempt stored the range's first two records (its first failure was the third); the range
/// went to the on-failure queue. A redrive fetches the range back from the stream and stores what was not stored,
/// once; a redrive of the same message again changes nothing; a message that is not an on-failure record stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_stores_a_failed_range_from_the_stream_once_and_deletes_its_message() {
    let click = |id: &str, customer: &str, minute: u32| json!({"id": id, "type": "click", "customer_id": customer, "ts": format!("2026-11-30T10:{minute:02}:00Z")});
    let payloads = [
        click("R1", "c1", 1),
        json!({"id": "R2", "type": "view", "customer_id": "c2", "ts": "2026-11-30T10:02:00Z"}),
        click("R3", "c1", 3),
        click("R4", "c3", 4),
    ];
    let (arn, shard, seqs) = stream_with(&payloads).await;
    let mut w = world(&[]).await;
    // The last attempt, as stored: the records before its first failure.
    let attempt = records(&[
        (shard.as_str(), seqs[0].as_str(), payloads[0].clone()),
        (shard.as_str(), seqs[1].as_str(), payloads[1].clone()),
    ]);
    assert_eq!(
        w.invoke(&attempt).expect("attempt"),
        json!({"batchItemFailures": []})
    );
    let record = failure_record(&arn, &shard, &seqs[0], &seqs[3]);
    let (sqs, url) =
        queue_with(&[record.clone(), "{\"not\": \"a failure record\"}".to_owned()]).await;

    let report = w
        .invoke(&json!({"redrive": {"queue_url": url}}))
        .expect("redrive");
    assert_eq!(
        report["redriven"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(report["redriven"][0]["records"], 4);
    assert_eq!(report["redriven"][0]["deleted"], true);
    assert_eq!(
        report["unreadable"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    let stored = stored_events(&w).await;
    assert_eq!(
        stored,
        [("R1", 1), ("R2", 1), ("R3", 1), ("R4", 1)]
            .map(|(id, n)| (id.to_owned(), n))
            .into(),
        "each event of the range once"
    );
    assert_eq!(
        state(&w).await,
        [("c1", "R3"), ("c2", "R2"), ("c3", "R4")]
            .map(|(e, id)| (e.to_owned(), id.to_owned()))
            .into()
    );
    assert_eq!(
        queue_bodies(&sqs, &url).await,
        ["{\"not\": \"a failure record\"}"]
    );

    // The same range redriven again (its message delivered twice): nothing changes.
    let objects = w.objects("events/").await.len();
    sqs.send_message()
        .queue_url(&url)
        .message_body(&record)
        .send()
        .await
        .expect("send");
    let again = w
        .invoke(&json!({"redrive": {"queue_url": url}}))
        .expect("redrive again");
    assert_eq!(
        again["redriven"].as_array().map(Vec::len),
        Some(1),
        "{again}"
    );
    assert_eq!(stored_events(&w).await, stored);
    assert_eq!(w.objects("events/").await.len(), objects);
}

/// A range whose start the stream no longer holds, and one on a shard that is gone: both are reported by name and
/// stay in the queue; what is left of the first is stored. With `delete_aged_out`, they are deleted. A range on a
/// stream that cannot be found (a wrong ARN or region) is a failure, never an age: it stays either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_that_aged_out_of_the_stream_is_reported_by_name_and_kept() {
    let payloads =
        [json!({"id": "A1", "type": "click", "customer_id": "c1", "ts": "2026-11-30T11:00:00Z"})];
    let (arn, shard, seqs) = stream_with(&payloads).await;
    let mut w = world(&[]).await;
    // The emulator numbers records from 1: a range from 0 lost its start to retention.
    let trimmed = failure_record(&arn, &shard, "0", &seqs[0]);
    let gone = failure_record(&arn, "shardId-000000000009", &seqs[0], &seqs[0]);
    let elsewhere = failure_record(
        "arn:aws:kinesis:us-east-1:123456789012:stream/not-this-one",
        &shard,
        &seqs[0],
        &seqs[0],
    );
    let (sqs, url) = queue_with(&[trimmed, gone, elsewhere]).await;

    let report = w
        .invoke(&json!({"redrive": {"queue_url": url}}))
        .expect("redrive");
    let aged: Vec<&Value> = report["aged_out"]
        .as_array()
        .expect("aged_out")
        .iter()
        .collect();
    assert_eq!(aged.len(), 2, "{report}");
    let by_shard = |s: &str| {
        aged.iter()
            .find(|r| r["range"].as_str().is_some_and(|n| n.contains(s)))
            .unwrap_or_else(|| panic!("{s} in {report}"))
    };
    assert_eq!(by_shard(&shard)["first_left"], json!(seqs[0]));
    assert_eq!(by_shard(&shard)["records"], 1);
    assert_eq!(by_shard("shardId-000000000009")["records"], 0);
    assert!(report["redriven"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(
        report["failed"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert!(
        report["failed"][0]["range"]
            .as_str()
            .is_some_and(|r| r.contains("not-this-one")),
        "{report}"
    );
    assert_eq!(stored_events(&w).await.get("A1"), Some(&1));
    assert_eq!(
        queue_bodies(&sqs, &url).await.len(),
        3,
        "all stay in the queue"
    );

    let deleted = w
        .invoke(&json!({"redrive": {"queue_url": url, "delete_aged_out": true}}))
        .expect("redrive");
    assert_eq!(
        deleted["aged_out"].as_array().map(Vec::len),
        Some(2),
        "{deleted}"
    );
    assert_eq!(
        queue_bodies(&sqs, &url).await.len(),
        1,
        "the failed one stays"
    );
    assert_eq!(stored_events(&w).await.get("A1"), Some(&1));
}
