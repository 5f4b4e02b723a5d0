//! Integration tests: the real `csv-to-parquet` binary, driven through the Lambda Runtime API emulator, against
//! S3 in moto_server. Every test uploads real objects and reads the results back from S3.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type, TimestampMicrosecondType};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use tributary_testkit::{
    FaultProxy, LambdaProcess, Moto, Stack, World, fixture, unique_bucket, workspace_root,
};

const DATA: &str = "events/data/order_lines.csv";
const SCHEMA: &str = "events/data/order_lines.schema.json";

/// The converter against bucket `bucket`, reaching S3 at `endpoint` (the emulator, or a fault proxy).
async fn world_at(bucket: &str, endpoint: &str, env: &[(&str, &str)]) -> World {
    let binary = Path::new(env!("CARGO_BIN_EXE_csv-to-parquet"));
    World::start(Stack::named(bucket).await, binary, endpoint, env)
}

async fn world_in(bucket: &str, env: &[(&str, &str)]) -> World {
    world_at(bucket, &Moto::shared().endpoint(), env).await
}

/// The converter behind its own fault proxy, on a fresh bucket; the test reaches S3 directly.
async fn behind_proxy(prefix: &str, env: &[(&str, &str)]) -> (FaultProxy, World) {
    let proxy = FaultProxy::start(&Moto::shared().endpoint());
    let w = world_at(&unique_bucket(prefix), &proxy.endpoint(), env).await;
    (proxy, w)
}

async fn world(env: &[(&str, &str)]) -> World {
    world_in(&unique_bucket("csv"), env).await
}

/// `key`'s current version, as S3 describes it.
async fn head_of(w: &World, key: &str) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    w.s3.head_object()
        .bucket(&w.bucket)
        .key(key)
        .send()
        .await
        .expect("source")
}

/// The partition folder of `key`'s current version: its Last-Modified day, which names the curated and quarantine
/// objects whatever the event's own time.
async fn day_of(w: &World, key: &str) -> String {
    let at = *head_of(w, key)
        .await
        .last_modified()
        .expect("Last-Modified");
    let day = chrono::DateTime::from_timestamp(at.secs(), 0)
        .expect("a time")
        .date_naive();
    day.format("year=%Y/month=%m/day=%d").to_string()
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(workspace_root().join(path)).expect("sample data")
}

/// An S3 notification for `key` in `bucket`, built from the sample event with the key URL-encoded as S3 does.
fn notification(bucket: &str, key: &str) -> Value {
    let mut event = fixture("s3-object-created-csv.json");
    let encoded: String = key
        .bytes()
        .map(|b| match b {
            b' ' => "+".to_owned(),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    event["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    event["Records"][0]["s3"]["object"]["key"] = json!(encoded);
    event
}

fn parquet_batches(bytes: impl Into<Bytes>) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(bytes.into())
        .expect("valid parquet")
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("batches")
}

fn total_rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converts_the_sample_event_with_its_schema_and_quarantines_bad_rows() {
    let event = fixture("s3-object-created-csv.json");
    let bucket = event["Records"][0]["s3"]["bucket"]["name"]
        .as_str()
        .expect("bucket")
        .to_owned();
    let mut w = world_in(&bucket, &[]).await;
    let etag = w
        .put("raw/orders/order lines 2026-11-21.csv", read(DATA))
        .await;
    w.put("schemas/orders.json", read(SCHEMA)).await;

    let out = w.invoke(&event).expect("conversion succeeds");
    assert_eq!(out["status"], "converted");
    // Metrics per dataset (for the data alarms) and per function, in one EMF record.
    let emf = w.emf();
    let converted = emf
        .iter()
        .find(|m| m["FilesConverted"] == 1.0)
        .expect("an EMF record of the conversion");
    assert_eq!(
        (
            &converted["Dataset"],
            &converted["RowsOut"],
            &converted["RowsRejected"]
        ),
        (&json!("orders"), &json!(205.0), &json!(4.0))
    );
    assert_eq!(
        converted["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Function", "Dataset"], ["Function"]])
    );
    // Where the time went, step by step, in the answer and in the metrics: the reads' waits are part of the
    // conversion, which is part of the whole, as the uploads are.
    let steps = &out["steps"];
    let step = |name: &str| {
        steps[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} in {out}"))
    };
    let whole = out["duration_ms"].as_u64().expect("duration");
    assert!(
        step("s3_read_ms") <= step("convert_ms")
            && step("convert_ms") <= whole
            && step("s3_upload_ms") <= whole,
        "{out}"
    );
    for (metric, name) in [
        ("S3ReadMs", "s3_read_ms"),
        ("ConvertMs", "convert_ms"),
        ("S3UploadMs", "s3_upload_ms"),
    ] {
        assert_eq!(converted[metric], json!(step(name) as f64), "{metric}");
    }
    assert_eq!(
        (
            out["rows_in"].as_u64(),
            out["rows_out"].as_u64(),
            out["rows_rejected"].as_u64()
        ),
        (Some(209), Some(205), Some(4))
    );
    assert_eq!(out["schema_source"], "declared");
    assert_eq!(out["source_etag"], json!(etag));
    let day = day_of(&w, "raw/orders/order lines 2026-11-21.csv").await;
    assert_eq!(
        out["output_key"],
        format!("curated/orders/{day}/order lines 2026-11-21.parquet")
    );
    assert_eq!(
        out["quarantine_key"],
        format!("quarantine/orders/{day}/order lines 2026-11-21.csv")
    );
    assert!(out["bytes_in"].as_u64() == Some(read(DATA).len() as u64));

    let key = out["output_key"].as_str().expect("output key");
    let parquet = w.get(key).await.expect("curated object exists");
    assert_eq!(out["bytes_out"].as_u64(), Some(parquet.len() as u64));
    let head =
        w.s3.head_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .expect("head");
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("source-etag"))
            .map(String::as_str),
        Some(etag.as_str())
    );

    let batches = parquet_batches(parquet);
    assert_eq!(total_rows(&batches), 205);
    let first = &batches[0];
    assert_eq!(
        first
            .column_by_name("order_id")
            .expect("order_id")
            .as_string::<i32>()
            .value(0),
        "PO-1001"
    );
    assert_eq!(
        first
            .column_by_name("vendor")
            .expect("vendor")
            .as_string::<i32>()
            .value(0),
        "Acme, Inc."
    );
    assert_eq!(
        first
            .column_by_name("vendor")
            .expect("vendor")
            .as_string::<i32>()
            .value(2),
        "The \"Best\" Supplies"
    );
    assert_eq!(
        first
            .column_by_name("description")
            .expect("desc")
            .as_string::<i32>()
            .value(2),
        "Shelf bracket\n(two-part)"
    );
    assert_eq!(
        first
            .column_by_name("quantity")
            .expect("quantity")
            .as_primitive::<Int64Type>()
            .value(1),
        10
    );
    let price = first
        .column_by_name("unit_price")
        .expect("unit_price")
        .as_primitive::<Decimal128Type>();
    assert_eq!(
        (
            price.value(0),
            price.value(1),
            price.precision(),
            price.scale()
        ),
        (1999, 10, 12, 2)
    );
    let created = first
        .column_by_name("created_at")
        .expect("created_at")
        .as_primitive::<TimestampMicrosecondType>();
    assert_eq!(
        created.value(2),
        1_795_257_000_250_000,
        "11:30:00.250+01:00 is 10:30:00.250 UTC"
    );
    let source = first
        .column_by_name("_source_key")
        .expect("lineage")
        .as_string::<i32>();
    assert_eq!(source.value(0), "raw/orders/order lines 2026-11-21.csv");

    let quarantine = w
        .get(out["quarantine_key"].as_str().expect("quarantine key"))
        .await
        .expect("quarantine exists");
    let rows: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&quarantine[..])
        .records()
        .collect::<Result<_, _>>()
        .expect("csv");
    let lines: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(lines, ["7", "8", "9", "11"]);
    assert!(rows[0][1].contains("\"three\" is not a valid int64"));
    assert!(rows[3][1].contains("expected 14 fields, found 11"));
    assert!(
        w.keys("raw/").await.len() == 1,
        "nothing is written under raw/"
    );
}

/// As deployed: the raw object in a landing bucket under Object Lock (GOVERNANCE), the declared schema and every
/// output in the data bucket (`OUTPUT_BUCKET`). The conversion reads the locked object and writes nothing beside
/// it; its redelivery is skipped; its quarantine replays; the raw version cannot be deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_source_in_a_locked_landing_bucket_redelivery_and_replay_still_work() {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule,
    };
    let data = unique_bucket("lockdata");
    let mut w = world_in(&data, &[("OUTPUT_BUCKET", &data)]).await;
    let landing = unique_bucket("landing");
    w.s3.create_bucket()
        .bucket(&landing)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("landing bucket");
    w.s3.put_object_lock_configuration()
        .bucket(&landing)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Governance)
                                .days(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("default retention");
    let key = "raw/orders/order lines 2026-11-21.csv";
    let put =
        w.s3.put_object()
            .bucket(&landing)
            .key(key)
            .body(read(DATA).into())
            .send()
            .await
            .expect("upload");
    w.put("schemas/orders.json", read(SCHEMA)).await;

    let event = notification(&landing, key);
    let first = w.invoke(&event).expect("converts");
    assert_eq!(
        (
            &first["status"],
            &first["schema_source"],
            &first["output_bucket"]
        ),
        (&json!("converted"), &json!("declared"), &json!(data)),
        "{first}"
    );
    assert_eq!(first["rows_rejected"], 4);
    let again = w.invoke(&event).expect("redelivery");
    assert_eq!(again["status"], "skipped", "{again}");
    assert_eq!(w.keys("curated/").await.len(), 1);
    let landed =
        w.s3.list_object_versions()
            .bucket(&landing)
            .send()
            .await
            .expect("versions");
    assert_eq!(
        landed.versions().len(),
        1,
        "nothing written beside the source"
    );

    let quarantine = first["quarantine_key"].as_str().expect("quarantine");
    let replay = w
        .invoke(&json!({"replay": format!("s3://{data}/{quarantine}")}))
        .expect("replays");
    assert_eq!(replay["status"], "converted", "{replay}");

    let refused =
        w.s3.delete_object()
            .bucket(&landing)
            .key(key)
            .version_id(put.version_id().expect("version"))
            .send()
            .await;
    assert!(refused.is_err(), "the raw version is locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_skipped_and_leaves_one_output() {
    let mut w = world(&[]).await;
    w.put("raw/orders/a.csv", read(DATA)).await;
    let event = notification(&w.bucket, "raw/orders/a.csv");
    let first = w.invoke(&event).expect("first delivery converts");
    let before = w
        .get(first["output_key"].as_str().expect("key"))
        .await
        .expect("output");
    let second = w.invoke(&event).expect("redelivery succeeds");
    assert_eq!(second["status"], "skipped");
    assert_eq!(second["output_key"], first["output_key"]);
    assert_eq!(second["bytes_out"], first["bytes_out"]);
    assert_eq!(w.keys("curated/").await.len(), 1);
    assert_eq!(
        w.get(first["output_key"].as_str().expect("key")).await,
        Some(before),
        "the output was not rewritten"
    );

    // A new version of the same key is converted again, into the same deterministic key.
    let mut changed = read(DATA);
    changed.extend_from_slice(
        b"PO-9999,1,Late Co,1,SKU-1,x,1,1.00,,USD,2026-11-21,2026-11-21T12:00:00Z,true,\n",
    );
    w.put("raw/orders/a.csv", changed).await;
    let third = w.invoke(&event).expect("a new version converts");
    assert_eq!(third["status"], "converted");
    assert_eq!(third["rows_in"].as_u64(), Some(210));
    assert_eq!(w.keys("curated/").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converts_gzip_objects_and_infers_types_without_a_schema() {
    let mut w = world(&[]).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(
        b"id,amount,when,flag\n1,2.5,2026-11-21T10:00:00Z,true\n2,3,2026-11-21T11:00:00Z,false\n",
    )
    .expect("gzip");
    let body = gz.finish().expect("gzip");
    let size = body.len() as u64;
    w.put("raw/metrics/m.csv.gz", body).await;
    let out = w
        .invoke(&notification(&w.bucket, "raw/metrics/m.csv.gz"))
        .expect("gzip converts");
    assert_eq!(out["rows_out"].as_u64(), Some(2));
    assert_eq!(out["bytes_in"].as_u64(), Some(size));
    assert_eq!(out["schema_source"], "inferred");
    let types: Vec<&str> = out["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(types, ["int64", "float64", "timestamp", "bool"]);
    let batches = parquet_batches(
        w.get(out["output_key"].as_str().expect("key"))
            .await
            .expect("output"),
    );
    assert_eq!(
        batches[0]
            .column(0)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec(),
        [1, 2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_gate_fails_the_invocation_and_writes_no_curated_output() {
    let mut w = world(&[("MAX_REJECT_RATIO", "0.01")]).await;
    w.put("raw/orders/bad.csv", read(DATA)).await;
    w.put("schemas/orders.json", read(SCHEMA)).await;
    let err = w
        .invoke(&notification(&w.bucket, "raw/orders/bad.csv"))
        .expect_err("gate fails");
    assert_eq!(err.error_type, "QualityGateFailed");
    assert!(
        err.error_message.contains("4 of 209 rows rejected"),
        "{}",
        err.error_message
    );
    assert!(w.keys("curated/").await.is_empty(), "no curated output");
    let quarantine = w.keys("quarantine/orders/").await;
    assert_eq!(quarantine.len(), 1, "the quarantine is kept");
    let body = w.get(&quarantine[0]).await.expect("quarantine");
    assert_eq!(
        body.iter().filter(|&&b| b == b'\n').count(),
        1 + 4,
        "a header and the four rejected rows"
    );
    // The dataset's rejection-ratio alarm sees the failed file too.
    let emf = w.emf();
    assert!(
        emf.iter().any(|m| m["Dataset"] == "orders"
            && m["RowsIn"] == 209.0
            && m["RowsRejected"] == 4.0
            && m["QualityGateFailures"] == 1.0),
        "{emf:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_with_spaces_and_unicode_are_decoded() {
    let mut w = world(&[]).await;
    let key = "raw/orders/Ünïcode files/Q4 +1 (copy).csv";
    w.put(key, b"a,b\n1,x\n".to_vec()).await;
    let out = w.invoke(&notification(&w.bucket, key)).expect("converts");
    assert_eq!(out["source_key"], key);
    let expected = format!(
        "curated/orders/{}/Ünïcode files__Q4 +1 (copy).parquet",
        day_of(&w, key).await
    );
    assert_eq!(out["output_key"], json!(expected));
    assert!(w.get(&expected).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_payloads_and_eventbridge_events_are_accepted() {
    let mut w = world(&[]).await;
    w.put("raw/orders/order lines 2026-11-21.csv", read(DATA))
        .await;
    let mut task = fixture("sfn-convert-csv.json");
    task["bucket"] = json!(w.bucket);
    let out = w.invoke(&task).expect("task payload converts");
    assert_eq!(out["status"], "converted");
    assert!(
        out["output_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("curated/orders/year="))
    );

    let mut eb = fixture("eventbridge-object-created-csv.json");
    eb["detail"]["bucket"]["name"] = json!(w.bucket);
    let again = w.invoke(&eb).expect("eventbridge event accepted");
    assert_eq!(again["source_key"], "raw/orders/order lines 2026-11-21.csv");
    // The same version by another path: the same output (the object's own day, not the event's), skipped.
    assert_eq!(again["status"], "skipped");
    assert_eq!(again["output_key"], out["output_key"]);
    assert_eq!(
        again["output_key"],
        format!(
            "curated/orders/{}/order lines 2026-11-21.parquet",
            day_of(&w, "raw/orders/order lines 2026-11-21.csv").await
        )
    );
}

/// A backfill batch (the Distributed Map's Items) beside the live event of one object: the event's time says
/// 2026-11-21, the object was written today, and both name today's output, so the second is skipped and the
/// loader hears of one curated object. An archived object is reported, not read; a batch of two datasets is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_batch_and_the_live_event_of_one_object_convert_it_once() {
    let mut w = world(&[]).await;
    let key = "raw/orders/a.csv";
    w.put(key, read(DATA)).await;
    let live = w
        .invoke(&notification(&w.bucket, key))
        .expect("live event converts");
    assert_eq!(live["status"], "converted");
    let head = head_of(&w, key).await;
    let item = json!({
        "Key": key, "Etag": head.e_tag(), "Size": head.content_length(), "StorageClass": "STANDARD",
        "LastModified": head.last_modified().expect("Last-Modified").secs(),
    });
    let archived = json!({"Key": "raw/orders/old.csv", "Etag": "\"0f\"", "Size": 3, "LastModified": 1,
                          "StorageClass": "GLACIER"});
    let batch =
        json!({"Items": [item, archived], "BatchInput": {"bucket": w.bucket, "mode": "convert"}});
    let out = w.invoke(&batch).expect("batch");
    assert_eq!(out["results"][0]["status"], "skipped", "{out}");
    assert_eq!(out["results"][0]["output_key"], live["output_key"]);
    assert_eq!(out["results"][1]["status"], "failed");
    assert_eq!(out["results"][1]["error_type"], "InvalidInput");
    assert_eq!(
        out["files"],
        json!([format!(
            "s3://{}/{}",
            w.bucket,
            live["output_key"].as_str().expect("key")
        )])
    );
    assert_eq!(w.keys("curated/").await.len(), 1);

    let mixed = json!({"Items": [{"Key": "raw/orders/a.csv"}, {"Key": "raw/returns/b.csv"}],
                       "BatchInput": {"bucket": w.bucket}});
    let refused = w.invoke(&mixed).expect_err("two datasets");
    assert_eq!(refused.error_type, "InvalidEvent");
    assert!(
        refused.error_message.contains("several datasets"),
        "{}",
        refused.error_message
    );
}

/// The state machine's envelope names the execution: its ARN is in every log line of the invocation, on the
/// curated object, in every row and in the answer the loader takes. Without an envelope, an EventBridge event's id
/// is the correlation id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_correlation_id_reaches_the_logs_the_object_the_rows_and_the_answer() {
    let mut w = world(&[]).await;
    let key = "raw/orders/order lines 2026-11-21.csv";
    w.put(key, read(DATA)).await;
    let execution = "arn:aws:states:us-east-1:123456789012:execution:tributary-csv:0b1e6c1a";
    let mut eb = fixture("eventbridge-object-created-csv.json");
    eb["detail"]["bucket"]["name"] = json!(w.bucket);
    let out = w
        .invoke(&json!({"correlation_id": execution, "event": eb}))
        .expect("an envelope converts");
    assert_eq!(out["status"], "converted");
    assert_eq!(out["correlation_id"], execution);

    let output = out["output_key"].as_str().expect("output key");
    let head =
        w.s3.head_object()
            .bucket(&w.bucket)
            .key(output)
            .send()
            .await
            .expect("curated object");
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("correlation-id"))
            .map(String::as_str),
        Some(execution)
    );
    let batches = parquet_batches(w.get(output).await.expect("curated bytes"));
    let ids: std::collections::BTreeSet<Option<String>> = batches
        .iter()
        .flat_map(|b| {
            let column = b.column_by_name("_correlation_id").expect("lineage column");
            column
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(ids, [Some(execution.to_owned())].into());

    let lines = w.log_lines();
    let converted: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "converted object")
        .collect();
    assert_eq!(converted.len(), 1, "{lines:?}");
    assert_eq!(converted[0]["correlation_id"], execution);
    // Every line the invocation wrote carries it (the runtime's own lines name its request id).
    let invocation: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("requestId").is_some())
        .collect();
    assert!(!invocation.is_empty(), "{lines:?}");
    assert!(
        invocation.iter().all(|l| l["correlation_id"] == execution),
        "{invocation:?}"
    );

    // An EventBridge event on its own: its id. The source version was converted, so this one is skipped.
    let again = w.invoke(&eb).expect("eventbridge event accepted");
    assert_eq!(again["status"], "skipped");
    assert_eq!(again["correlation_id"], eb["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_outside_raw_are_ignored_and_nothing_is_written() {
    let mut w = world(&[]).await;
    w.put("curated/orders/x.csv", b"a\n1\n".to_vec()).await;
    let out = w
        .invoke(&notification(&w.bucket, "curated/orders/x.csv"))
        .expect("ignored, not failed");
    assert_eq!(out["status"], "ignored");
    assert!(
        out["reason"]
            .as_str()
            .is_some_and(|r| r.contains("outside the raw prefix"))
    );
    assert_eq!(w.keys("").await, ["curated/orders/x.csv"]);
}

/// Two conversions of one source version at once (a redelivery beside the first delivery, a backfill beside the
/// live event): both find no output, both convert, and their uploads reach S3 together (the proxy holds each
/// upload 1.5 s). The curated upload is conditional, so one writes the object and the other finds it written and
/// answers skipped: one curated object, and one conversion the loader's ledger hears of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_conversions_of_one_source_version_at_once_write_one_curated_object() {
    let (proxy, mut w) = behind_proxy("race", &[]).await;
    let binary = Path::new(env!("CARGO_BIN_EXE_csv-to-parquet"));
    let mut other = LambdaProcess::start(binary, &proxy.endpoint(), &[]);
    w.put("raw/orders/a.csv", read(DATA)).await;
    proxy.set(json!([{"method": "PUT", "path": "/curated/", "delay": 1.5}]));
    let event = notification(&w.bucket, "raw/orders/a.csv");
    let (first, second) = tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            let a = s.spawn(|| w.function.invoke(&event));
            let b = s.spawn(|| other.invoke(&event));
            (a.join().expect("first"), b.join().expect("second"))
        })
    });
    let (first, second) = (
        first.expect("first answers"),
        second.expect("second answers"),
    );
    let mut statuses = [
        first["status"].as_str().unwrap_or_default(),
        second["status"].as_str().unwrap_or_default(),
    ];
    statuses.sort_unstable();
    assert_eq!(statuses, ["converted", "skipped"], "{first} {second}");
    assert_eq!(first["output_key"], second["output_key"]);
    assert_eq!(proxy.hits(), [2], "both uploads were made");
    assert_eq!(w.keys("curated/").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_non_retryable_error() {
    let mut w = world(&[]).await;
    let missing = w
        .invoke(&notification(&w.bucket, "raw/orders/missing.csv"))
        .expect_err("missing object");
    assert_eq!(missing.error_type, "NotFound");

    w.put("raw/orders/empty.csv", Vec::new()).await;
    let empty = w
        .invoke(&notification(&w.bucket, "raw/orders/empty.csv"))
        .expect_err("empty object");
    assert_eq!(empty.error_type, "InvalidInput");
    assert!(
        empty.error_message.contains("empty"),
        "{}",
        empty.error_message
    );

    w.put("raw/latin/l.csv", b"caf\xe9,b\n1,2\n".to_vec()).await;
    let latin = w
        .invoke(&notification(&w.bucket, "raw/latin/l.csv"))
        .expect_err("not UTF-8");
    assert_eq!(latin.error_type, "InvalidInput");
    assert!(latin.error_message.contains("UTF-8"));

    w.put("raw/orders/ok.csv", b"a\n1\n".to_vec()).await;
    w.put(
        "schemas/orders.json",
        b"{\"columns\": [{\"name\": \"a\", \"type\": \"varchar\"}]}".to_vec(),
    )
    .await;
    let schema = w
        .invoke(&notification(&w.bucket, "raw/orders/ok.csv"))
        .expect_err("bad schema");
    assert_eq!(schema.error_type, "InvalidInput");
    assert!(schema.error_message.contains("varchar"));

    let shape = w
        .invoke(&json!({"hello": "world"}))
        .expect_err("unknown event");
    assert_eq!(shape.error_type, "InvalidEvent");
    assert!(w.keys("curated/").await.is_empty());
}

/// Incompressible-ish text, so that the Parquet output needs more than one 5 MiB part.
fn big_csv(rows: u64) -> Vec<u8> {
    let mut csv = b"id,payload\n".to_vec();
    let mut next = tributary_testkit::seeded_rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..rows {
        let payload: String = (0..6).map(|_| format!("{:016x}", next())).collect();
        csv.extend_from_slice(format!("{i},{payload}\n").as_bytes());
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_outputs_stream_through_a_multipart_upload() {
    let mut w = world(&[("UPLOAD_PART_MB", "5"), ("ROW_GROUP_MB", "1")]).await;
    let rows = 120_000;
    w.put("raw/big/big.csv", big_csv(rows)).await;
    let out = w
        .invoke(&notification(&w.bucket, "raw/big/big.csv"))
        .expect("converts");
    assert_eq!(out["rows_out"].as_u64(), Some(rows));
    assert!(
        out["bytes_out"]
            .as_u64()
            .is_some_and(|b| b > 5 * 1024 * 1024),
        "output spans several parts: {out}"
    );
    let body = w
        .get(out["output_key"].as_str().expect("key"))
        .await
        .expect("output");
    let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(body)).expect("parquet");
    assert!(reader.metadata().num_row_groups() > 1);
    let batches: Vec<RecordBatch> = reader
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("batches");
    assert_eq!(total_rows(&batches) as u64, rows);
    let last = batches.last().expect("a batch");
    assert_eq!(
        last.column(0)
            .as_primitive::<Int64Type>()
            .values()
            .last()
            .copied(),
        Some(rows as i64 - 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_zstd_writes_zstd_chunks_of_the_same_rows_and_a_bad_codec_fails_at_start() {
    let csv = big_csv(20_000);
    let mut outputs = Vec::new();
    for env in [&[][..], &[("COMPRESSION", "zstd")][..]] {
        let mut w = world(env).await;
        w.put("raw/big/big.csv", csv.clone()).await;
        let out = w
            .invoke(&notification(&w.bucket, "raw/big/big.csv"))
            .expect("converts");
        let body = w
            .get(out["output_key"].as_str().expect("key"))
            .await
            .expect("output");
        outputs.push(body);
    }
    let codecs = |body: &[u8]| -> Vec<Compression> {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(Bytes::from(body.to_vec())).expect("parquet");
        reader.metadata().row_groups()[0]
            .columns()
            .iter()
            .map(|c| c.compression())
            .collect()
    };
    let (snappy, zstd) = (&outputs[0], &outputs[1]);
    assert!(codecs(snappy).iter().all(|c| *c == Compression::SNAPPY));
    // The footer names the codec, not its level.
    assert!(
        codecs(zstd)
            .iter()
            .all(|c| matches!(c, Compression::ZSTD(_))),
        "{:?}",
        codecs(zstd)
    );
    assert_eq!(data_columns(zstd.clone()), data_columns(snappy.clone()));
    // Hex payloads: snappy finds few repeats in them; zstd entropy-codes their 16 symbols.
    assert!(
        zstd.len() < snappy.len() * 3 / 4,
        "{} against {}",
        zstd.len(),
        snappy.len()
    );

    let mut w = world(&[("COMPRESSION", "gzip")]).await;
    w.put("raw/big/small.csv", b"id\n1\n".to_vec()).await;
    let err = w
        .invoke(&notification(&w.bucket, "raw/big/small.csv"))
        .expect_err("refused");
    assert!(err.error_message.contains("COMPRESSION"), "{err:?}");
}

/// The data columns of a conversion (the lineage columns differ between two runs).
fn data_columns(bytes: Vec<u8>) -> Vec<RecordBatch> {
    parquet_batches(bytes)
        .into_iter()
        .map(|b| {
            let keep: Vec<usize> = (0..b.num_columns())
                .filter(|&i| !b.schema().field(i).name().starts_with('_'))
                .collect();
            b.project(&keep).expect("project")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_object_body_cut_mid_file_is_resumed_and_converts_as_if_uncut() {
    let (proxy, mut w) = behind_proxy("csv-cut", &[]).await;
    let bucket = w.bucket.clone();
    w.put("raw/orders/cut.csv", read(DATA)).await;
    w.put("raw/orders/whole.csv", read(DATA)).await;
    w.put("schemas/orders.json", read(SCHEMA)).await;
    let whole = w
        .invoke(&notification(&bucket, "raw/orders/whole.csv"))
        .expect("uncut conversion");

    // The first GET of the object sends 5,000 of its 20,826 bytes, then drops the connection.
    proxy.set(json!([{"method": "GET", "path": "/raw/orders/cut\\.csv(\\?|$)", "cut_after": 5000, "times": 1}]));
    let cut = w
        .invoke(&notification(&bucket, "raw/orders/cut.csv"))
        .expect("the cut read is resumed");
    assert_eq!(proxy.hits(), [1], "the body was cut once");
    assert_eq!(
        (
            &cut["rows_in"],
            &cut["rows_out"],
            &cut["rows_rejected"],
            &cut["bytes_in"]
        ),
        (
            &whole["rows_in"],
            &whole["rows_out"],
            &whole["rows_rejected"],
            &whole["bytes_in"]
        )
    );
    let key = |out: &Value| out["output_key"].as_str().expect("output key").to_owned();
    assert_eq!(
        data_columns(w.get(&key(&cut)).await.expect("curated")),
        data_columns(w.get(&key(&whole)).await.expect("curated"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_object_is_read_as_parallel_ranges_in_order_and_a_cut_range_resumes() {
    let env = [("READ_PART_MB", "1"), ("READ_CONCURRENCY", "4")];
    let (proxy, mut w) = behind_proxy("csv-ranges", &env).await;
    let bucket = w.bucket.clone();
    let rows = 50_000;
    let csv = big_csv(rows);
    assert!(csv.len() > 4 << 20, "five ranges of 1 MiB or more");
    w.put("raw/big/big.csv", csv.clone()).await;
    // The third GET of the object (a range: one stream would have made one GET) is cut a third of the way in.
    proxy.set(json!([{"method": "GET", "path": "/raw/big/big\\.csv", "skip": 2, "times": 1, "cut_after": 300_000}]));
    let out = w
        .invoke(&notification(&bucket, "raw/big/big.csv"))
        .expect("converted");
    assert_eq!(proxy.hits(), [1], "a range was cut and resumed");
    assert_eq!(out["bytes_in"], csv.len());
    assert_eq!(out["rows_out"], rows);
    // Every row, in the file's order: the ranges were stitched in order, the resumed one whole.
    let batches = parquet_batches(
        w.get(out["output_key"].as_str().expect("key"))
            .await
            .expect("curated"),
    );
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column_by_name("id")
                .expect("id")
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(ids, (0..rows as i64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_on_every_attempt_fails_retryable_and_leaves_no_curated_object_or_upload() {
    let (proxy, mut w) = behind_proxy("csv-cut", &[]).await;
    let bucket = w.bucket.clone();
    w.put("raw/orders/cut.csv", read(DATA)).await;
    proxy
        .set(json!([{"method": "GET", "path": "/raw/orders/cut\\.csv(\\?|$)", "cut_after": 3000}]));
    let err = w
        .invoke(&notification(&bucket, "raw/orders/cut.csv"))
        .expect_err("every resume is cut too");
    assert_eq!(
        err.error_type, "ServiceUnavailable",
        "{}",
        err.error_message
    );
    assert!(
        err.error_message.contains("stopped at byte"),
        "{}",
        err.error_message
    );
    assert_eq!(proxy.hits(), [4], "the first read and three resumes");
    assert!(w.keys("curated/").await.is_empty());
    let uploads =
        w.s3.list_multipart_uploads()
            .bucket(&bucket)
            .send()
            .await
            .expect("list uploads");
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
}

const S3_INTERNAL_ERROR: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>";
const S3_SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";

/// A multipart conversion through a fault proxy with `rules`; the result, the proxy's hits, and the World.
async fn upload_with_faults(
    rules: Value,
) -> (
    Result<Value, tributary_testkit::InvokeError>,
    Vec<u64>,
    World,
) {
    let env = [("UPLOAD_PART_MB", "5"), ("ROW_GROUP_MB", "1")];
    let (proxy, mut w) = behind_proxy("csv-upload", &env).await;
    let bucket = w.bucket.clone();
    w.put("raw/big/big.csv", big_csv(120_000)).await;
    proxy.set(rules);
    let out = w.invoke(&notification(&bucket, "raw/big/big.csv"));
    (out, proxy.hits(), w)
}

/// Rows of the curated object a response names, read back from S3.
async fn curated_rows(w: &World, out: &Value) -> usize {
    let key = out["output_key"].as_str().expect("output key");
    total_rows(&parquet_batches(w.get(key).await.expect("curated")))
}

async fn open_uploads(w: &World) -> usize {
    w.s3.list_multipart_uploads()
        .bucket(&w.bucket)
        .send()
        .await
        .expect("list uploads")
        .uploads()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_upload_parts_and_completion_are_retried_and_the_output_is_whole() {
    let (out, hits, w) = upload_with_faults(json!([
        {"method": "PUT", "path": "partNumber=", "status": 503, "body": S3_SLOW_DOWN, "times": 1},
        {"method": "PUT", "path": "partNumber=", "status": 500, "body": S3_INTERNAL_ERROR, "times": 1},
        {"method": "POST", "path": "uploadId=", "status": 500, "body": S3_INTERNAL_ERROR, "times": 1}
    ]))
    .await;
    let out = out.expect("converted despite two failed part uploads and a failed completion");
    assert_eq!(hits, [1, 1, 1]);
    assert_eq!(out["rows_out"], 120_000);
    assert_eq!(curated_rows(&w, &out).await, 120_000);
    assert_eq!(open_uploads(&w).await, 0);
}

/// An upload whose `rules` fail every time: the SDK retried, the invocation fails retryable, the multipart
/// upload is aborted and no curated object exists.
async fn fails_cleanly(rules: Value) {
    let (out, hits, w) = upload_with_faults(rules).await;
    let err = out.expect_err("the upload cannot succeed");
    assert_eq!(
        err.error_type, "ServiceUnavailable",
        "{}",
        err.error_message
    );
    assert!(hits[0] >= 3, "the SDK retried: {hits:?}");
    assert!(w.keys("curated/").await.is_empty());
    assert_eq!(
        open_uploads(&w).await,
        0,
        "the multipart upload was aborted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_parts_failing_every_time_fail_retryable_with_no_curated_object_or_open_upload() {
    fails_cleanly(json!([
        {"method": "PUT", "path": "partNumber=", "status": 500, "body": S3_INTERNAL_ERROR}
    ]))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_multipart_upload_failing_every_time_leaves_no_curated_object_or_open_upload() {
    fails_cleanly(json!([
        {"method": "POST", "path": "uploadId=", "status": 500, "body": S3_INTERNAL_ERROR}
    ]))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_conversion_leaves_no_curated_object_and_the_next_delivery_converts_fully()
 {
    // One stream, so that the read is well under way when the process dies.
    let env = [
        ("UPLOAD_PART_MB", "5"),
        ("ROW_GROUP_MB", "1"),
        ("READ_CONCURRENCY", "1"),
    ];
    let (proxy, mut w) = behind_proxy("csv-kill", &env).await;
    let bucket = w.bucket.clone();
    w.put("raw/big/big.csv", big_csv(120_000)).await;
    // The source arrives at 2 MB/s, so the conversion is under way when the process dies.
    proxy.set(json!([{"method": "GET", "path": "/raw/big/big\\.csv", "bandwidth": 2_000_000}]));
    let event = notification(&bucket, "raw/big/big.csv");
    let pid = w.function.pid();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(2500));
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("kill")
    });
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.invoke(&event)));
    assert!(killer.join().expect("killer").success());
    assert!(killed.is_err(), "the invocation died with its process");
    assert_eq!(proxy.hits(), [1], "it was reading the source");
    assert!(w.keys("curated/").await.is_empty(), "no partial output");

    // The event is delivered again to a fresh process.
    proxy.set(json!([]));
    w.function = LambdaProcess::start(
        Path::new(env!("CARGO_BIN_EXE_csv-to-parquet")),
        &proxy.endpoint(),
        &env,
    );
    let out = w.invoke(&event).expect("converted");
    assert_eq!(out["rows_out"], 120_000);
    assert_eq!(curated_rows(&w, &out).await, 120_000);
}

#[test]
fn cargo_lambda_deploy_creates_the_function_with_its_runtime_and_environment() {
    tributary_testkit::cargo_lambda_deploy(
        "csv-to-parquet",
        Path::new(env!("CARGO_BIN_EXE_csv-to-parquet")),
        &[
            ("MAX_REJECT_RATIO", "0.05"),
            ("OUTPUT_BUCKET", "tributary-curated"),
        ],
    );
}

/// `make bench`: S3 to S3, a 64 MB CSV whose every GET connection is held to 8 MB/s (one Lambda stream gives
/// roughly 90 MB/s against a converter several times faster; the ratio is what this keeps), read as one stream
/// and as 4 and 8 parallel ranges. Prints a table, appended to `$BENCH_OUT` when set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: make bench runs it in release"]
async fn bench_parallel_ranged_reads() {
    let rows = 600_000;
    let csv = big_csv(rows);
    let bandwidth = 8_000_000;
    let mut lines = vec![
        String::new(),
        format!(
            "## S3 → S3: a {:.0} MB CSV read with parallel ranged GETs, each connection held to {} MB/s (moto behind the fault proxy; one run each)",
            csv.len() as f64 / 1e6,
            bandwidth / 1_000_000
        ),
        String::new(),
        "| ranges in flight | part size | seconds | MB/s | speed-up |".to_owned(),
        "| ---: | ---: | ---: | ---: | ---: |".to_owned(),
    ];
    let mut one = None;
    for concurrency in [1, 4, 8] {
        let c = concurrency.to_string();
        let env = [("READ_PART_MB", "8"), ("READ_CONCURRENCY", c.as_str())];
        let (proxy, mut w) = behind_proxy("csv-bench", &env).await;
        let bucket = w.bucket.clone();
        w.put("raw/big/big.csv", csv.clone()).await;
        proxy.set(json!([{"method": "GET", "path": "/raw/big/big\\.csv", "bandwidth": bandwidth}]));
        let started = std::time::Instant::now();
        let out = w
            .invoke(&notification(&bucket, "raw/big/big.csv"))
            .expect("converted");
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(out["rows_out"], rows);
        let base = *one.get_or_insert(seconds);
        lines.push(format!(
            "| {concurrency} | 8 MiB | {seconds:.2} | {:.1} | {:.1}× |",
            csv.len() as f64 / 1e6 / seconds,
            base / seconds
        ));
    }
    let table = lines.join("\n") + "\n";
    eprintln!("{table}");
    if let Ok(path) = std::env::var("BENCH_OUT") {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .expect("bench report");
        f.write_all(table.as_bytes()).expect("write the report");
    }
}
