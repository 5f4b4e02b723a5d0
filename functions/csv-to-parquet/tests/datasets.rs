//! The schema registry in the Glue Data Catalog: the real `csv-to-parquet` binary with `GLUE_DATABASE` set,
//! against S3 and Glue in moto_server. Tables are read back with the Glue API: their columns, partition projection,
//! parameters and version history; concurrent first files and concurrent evolutions run as separate processes.

use aws_sdk_glue::types::DatabaseInput;
use bytes::Bytes;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::{Value, json};
use std::path::Path;
use tributary_testkit::{LambdaProcess, Moto, Stack, World, sdk_config, unique_bucket};

/// A bucket and a Glue database of its own.
async fn catalog(prefix: &str) -> (Stack, aws_sdk_glue::Client, String) {
    let bucket = unique_bucket(prefix);
    let stack = Stack::named(&bucket).await;
    let glue = aws_sdk_glue::Client::new(&sdk_config().await);
    let database = bucket.replace('-', "_");
    glue.create_database()
        .database_input(
            DatabaseInput::builder()
                .name(&database)
                .build()
                .expect("input"),
        )
        .send()
        .await
        .expect("create database");
    (stack, glue, database)
}

fn converter(database: &str, extra: &[(&str, &str)]) -> LambdaProcess {
    let mut env = vec![("GLUE_DATABASE", database), ("MAX_REJECT_RATIO", "0.5")];
    env.extend_from_slice(extra);
    LambdaProcess::start(
        Path::new(env!("CARGO_BIN_EXE_csv-to-parquet")),
        &Moto::shared().endpoint(),
        &env,
    )
}

fn task(bucket: &str, key: &str) -> Value {
    json!({"bucket": bucket, "key": key})
}

async fn table(
    glue: &aws_sdk_glue::Client,
    database: &str,
    name: &str,
) -> aws_sdk_glue::types::Table {
    glue.get_table()
        .database_name(database)
        .name(name)
        .send()
        .await
        .expect("get table")
        .table
        .expect("table")
}

fn columns(t: &aws_sdk_glue::types::Table) -> Vec<(String, String)> {
    t.storage_descriptor()
        .map(|s| {
            s.columns()
                .iter()
                .map(|c| {
                    (
                        c.name().to_owned(),
                        c.r#type().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn param<'a>(t: &'a aws_sdk_glue::types::Table, key: &str) -> Option<&'a str> {
    t.parameters().and_then(|p| p.get(key)).map(String::as_str)
}

fn schema_version_in_footer(parquet: Vec<u8>) -> Option<String> {
    let reader = SerializedFileReader::new(Bytes::from(parquet)).expect("parquet");
    reader
        .metadata()
        .file_metadata()
        .key_value_metadata()?
        .iter()
        .find(|kv| kv.key == "tributary.schema_version")
        .and_then(|kv| kv.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_file_creates_the_athena_table_and_a_new_column_updates_it() {
    let (stack, glue, database) = catalog("glue").await;
    let mut w = World {
        stack,
        function: converter(&database, &[]),
    };
    w.put(
        "raw/order-lines/a.csv",
        b"order_id,qty,discount\n1,2,0\n2,1,3\n".to_vec(),
    )
    .await;
    let first = w
        .invoke(&task(&w.bucket, "raw/order-lines/a.csv"))
        .expect("converted");
    assert_eq!(
        (first["dataset"].as_str(), first["schema_version"].as_u64()),
        (Some("order-lines"), Some(1))
    );

    // One table per dataset (Athena's name: `_` for `-`), its columns the version's plus lineage, partitions
    // projected over the curated layout.
    let t = table(&glue, &database, "order_lines").await;
    assert_eq!(
        columns(&t),
        [
            ("order_id", "bigint"),
            ("qty", "bigint"),
            ("discount", "bigint"),
            ("_source_key", "string"),
            ("_ingested_at", "timestamp"),
            ("_correlation_id", "string")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let keys: Vec<&str> = t.partition_keys().iter().map(|c| c.name()).collect();
    assert_eq!(keys, ["year", "month", "day"]);
    assert_eq!(param(&t, "projection.enabled"), Some("true"));
    assert_eq!(
        param(&t, "storage.location.template"),
        Some(
            format!(
                "s3://{}/curated/order-lines/year=${{year}}/month=${{month}}/day=${{day}}/",
                w.bucket
            )
            .as_str()
        )
    );
    assert_eq!(param(&t, "tributary.schema_version"), Some("1"));
    assert_eq!(param(&t, "tributary.compatibility"), Some("BACKWARD"));
    let location = t
        .storage_descriptor()
        .and_then(|s| s.location())
        .unwrap_or_default();
    assert_eq!(location, format!("s3://{}/curated/order-lines/", w.bucket));
    let output = first["output_key"].as_str().expect("output");
    assert!(output.starts_with("curated/order-lines/year="), "{output}");
    let parquet = w.get(output).await.expect("curated");
    assert_eq!(schema_version_in_footer(parquet).as_deref(), Some("1"));

    // A file with a new column: version 2, the table updated, the first version kept in Glue's history.
    w.put(
        "raw/order-lines/b.csv",
        b"order_id,qty,discount,channel\n3,1,0,web\n".to_vec(),
    )
    .await;
    let second = w
        .invoke(&task(&w.bucket, "raw/order-lines/b.csv"))
        .expect("converted");
    assert_eq!(second["schema_version"], 2);
    let t = table(&glue, &database, "order_lines").await;
    assert!(columns(&t).contains(&("channel".to_owned(), "string".to_owned())));
    assert_eq!(param(&t, "tributary.schema_version"), Some("2"));
    let history = glue
        .get_table_versions()
        .database_name(&database)
        .table_name("order_lines")
        .send()
        .await
        .expect("versions");
    let mut registered: Vec<String> = history
        .table_versions()
        .iter()
        .filter_map(|v| {
            v.table()
                .and_then(|t| param(t, "tributary.schema_version"))
                .map(str::to_owned)
        })
        .collect();
    registered.sort();
    assert_eq!(registered, ["1", "2"]);

    // A value that does not fit the registered type is the row's problem: quarantined, named, typed.
    w.put(
        "raw/order-lines/c.csv",
        b"order_id,qty,discount,channel\n4,x1,0,web\n5,2,1,app\n".to_vec(),
    )
    .await;
    let third = w
        .invoke(&task(&w.bucket, "raw/order-lines/c.csv"))
        .expect("converted");
    assert_eq!(
        (
            third["schema_version"].as_u64(),
            third["rows_rejected"].as_u64()
        ),
        (Some(2), Some(1))
    );
    // Versions 1 and 2 were registered by the first two files; the third was typed by version 2. The answers and
    // the SchemaVersionsRegistered metric say so.
    assert_eq!(
        (
            &first["schema_registered"],
            &second["schema_registered"],
            &third.get("schema_registered")
        ),
        (&json!(true), &json!(true), &None)
    );
    let registered: Vec<f64> = w
        .emf()
        .iter()
        .filter(|m| m["FilesConverted"] == 1.0)
        .filter_map(|m| m["SchemaVersionsRegistered"].as_f64())
        .collect();
    assert_eq!(registered, [1.0, 1.0, 0.0]);
    let quarantine = w
        .get(third["quarantine_key"].as_str().expect("quarantine"))
        .await
        .expect("quarantine object");
    let text = String::from_utf8(quarantine).expect("utf-8");
    assert!(
        text.contains(r#"column ""qty"": ""x1"" is not a valid int64"#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_fails_with_schema_incompatible_and_writes_nothing() {
    let (stack, glue, database) = catalog("glue-refuse").await;
    let mut w = World {
        stack,
        function: converter(&database, &[("SCHEMA_EVOLUTION", "none")]),
    };
    w.put("raw/d/a.csv", b"id,qty\n1,2\n".to_vec()).await;
    w.invoke(&task(&w.bucket, "raw/d/a.csv"))
        .expect("converted");
    w.put("raw/d/b.csv", b"id,qty,channel\n2,1,web\n".to_vec())
        .await;
    let err = w
        .invoke(&task(&w.bucket, "raw/d/b.csv"))
        .expect_err("refused");
    assert_eq!(
        err.error_type, "SchemaIncompatible",
        "{}",
        err.error_message
    );
    assert!(
        err.error_message.contains("channel"),
        "{}",
        err.error_message
    );
    assert!(
        w.keys("curated/d/").await.len() == 1,
        "only the first file's output"
    );
    // A declared schema that narrows a column is refused with every reason.
    w.put(
        "schemas/d.json",
        br#"{"columns": [{"name": "id", "type": "string"}, {"name": "qty", "type": "int64", "nullable": false}]}"#
            .to_vec(),
    )
    .await;
    w.put("raw/d/c.csv", b"id,qty\n3,4\n".to_vec()).await;
    let err = w
        .invoke(&task(&w.bucket, "raw/d/c.csv"))
        .expect_err("refused");
    assert_eq!(err.error_type, "SchemaIncompatible");
    assert!(
        err.error_message
            .contains(r#"column "id": type int64 cannot become string"#),
        "{}",
        err.error_message
    );
    assert!(
        err.error_message
            .contains(r#"column "qty": nullable column made required"#),
        "{}",
        err.error_message
    );
    let t = table(&glue, &database, "d").await;
    assert_eq!(param(&t, "tributary.schema_version"), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_files_agree_on_version_1_and_concurrent_evolutions_lose_no_column() {
    let (stack, glue, database) = catalog("glue-race").await;
    let writers = 4;
    for i in 0..writers {
        let csv = format!("id,c{i}\n{i},{i}\n");
        stack
            .put(&format!("raw/race/f{i}.csv"), csv.into_bytes())
            .await;
    }
    let bucket = stack.bucket.clone();
    // One converter process per file, all invoked at once.
    let mut processes: Vec<LambdaProcess> =
        (0..writers).map(|_| converter(&database, &[])).collect();
    let outcomes: Vec<Value> = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = processes
                .iter_mut()
                .enumerate()
                .map(|(i, p)| {
                    let event = task(&bucket, &format!("raw/race/f{i}.csv"));
                    scope.spawn(move || p.invoke(&event))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread").expect("converted"))
                .collect()
        })
    });
    let t = table(&glue, &database, "race").await;
    let names: Vec<String> = columns(&t).into_iter().map(|(n, _)| n).collect();
    for i in 0..writers {
        assert!(names.contains(&format!("c{i}")), "c{i} in {names:?}");
    }
    assert_eq!(
        param(&t, "tributary.schema_version"),
        Some(writers.to_string().as_str())
    );
    let mut versions: Vec<u64> = outcomes
        .iter()
        .filter_map(|o| o["schema_version"].as_u64())
        .collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=writers as u64).collect::<Vec<_>>(),
        "each file registered one version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_event_lands_rows_that_now_fit_and_replaying_again_changes_nothing() {
    let (stack, _glue, database) = catalog("glue-replay").await;
    let mut w = World {
        stack,
        function: converter(&database, &[("MAX_REJECT_RATIO", "1")]),
    };
    w.put(
        "schemas/p.json",
        br#"{"columns": [{"name": "id", "type": "int64", "nullable": false}, {"name": "price", "type": "decimal(5,2)"}]}"#
            .to_vec(),
    )
    .await;
    w.put(
        "raw/p/a.csv",
        b"id,price\n1,1.00\n2,1234.56\n,3.00\n4,abc\n".to_vec(),
    )
    .await;
    let first = w
        .invoke(&task(&w.bucket, "raw/p/a.csv"))
        .expect("converted");
    assert_eq!(first["rows_rejected"], 3);
    let quarantine = first["quarantine_key"]
        .as_str()
        .expect("quarantine")
        .to_owned();

    // The declaration widens the decimal and makes id nullable: version 2.
    w.put(
        "schemas/p.json",
        br#"{"columns": [{"name": "id", "type": "int64"}, {"name": "price", "type": "decimal(8,2)"}]}"#.to_vec(),
    )
    .await;
    let event = json!({"replay": format!("s3://{}/{quarantine}", w.bucket)});
    let replayed = w.invoke(&event).expect("replayed");
    assert_eq!(
        (
            replayed["status"].as_str(),
            replayed["rows_out"].as_u64(),
            replayed["rows_rejected"].as_u64(),
            replayed["schema_version"].as_u64()
        ),
        (Some("converted"), Some(2), Some(1), Some(2))
    );
    let output = replayed["output_key"].as_str().expect("output");
    assert_eq!(
        output,
        quarantine
            .replacen("quarantine/", "curated/", 1)
            .replace(".csv", ".replay.parquet")
    );
    // Lineage names the raw object the rows came from, not the quarantine.
    let parquet = w.get(output).await.expect("replayed object");
    let batches: Vec<arrow_array::RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(Bytes::from(
            parquet,
        ))
        .expect("parquet")
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("batches");
    for b in &batches {
        let keys = b
            .column_by_name("_source_key")
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
            .expect("lineage column");
        assert!(keys.iter().all(|k| k == Some("raw/p/a.csv")), "{keys:?}");
    }
    let still_bad = w
        .get(replayed["quarantine_key"].as_str().expect("still bad"))
        .await
        .expect("still-bad object");
    let text = String::from_utf8(still_bad).expect("utf-8");
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("5,") && l.ends_with(",4,abc")),
        "{text}"
    );

    let again = w.invoke(&event).expect("replayed again");
    assert_eq!(again["status"], "skipped");
    assert_eq!(again["output_key"], output);
    // Not a quarantine object: refused, nothing written.
    let err = w
        .invoke(&json!({"replay": format!("s3://{}/raw/p/a.csv", w.bucket)}))
        .expect_err("refused");
    assert_eq!(err.error_type, "InvalidEvent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_that_cannot_store_its_still_bad_rows_fails_and_runs_again_rather_than_losing_them()
 {
    let (stack, _glue, database) = catalog("glue-replay-fault").await;
    let proxy = tributary_testkit::FaultProxy::start(&Moto::shared().endpoint());
    let function = LambdaProcess::start(
        Path::new(env!("CARGO_BIN_EXE_csv-to-parquet")),
        &proxy.endpoint(),
        &[
            ("GLUE_DATABASE", database.as_str()),
            ("MAX_REJECT_RATIO", "1"),
        ],
    );
    let mut w = World { stack, function };
    w.put(
        "schemas/q.json",
        br#"{"columns": [{"name": "id", "type": "int64"}, {"name": "price", "type": "decimal(5,2)"}]}"#.to_vec(),
    )
    .await;
    w.put("raw/q/a.csv", b"id,price\n1,1.00\n2,x\n".to_vec())
        .await;
    let first = w
        .invoke(&task(&w.bucket, "raw/q/a.csv"))
        .expect("converted");
    let quarantine = first["quarantine_key"]
        .as_str()
        .expect("quarantine")
        .to_owned();
    let event = json!({"replay": format!("s3://{}/{quarantine}", w.bucket)});

    // Every write of the still-bad rows fails: the replay fails, and no curated object marks it done.
    proxy.set(json!([{"method": "PUT", "path": "\\.replay\\.csv", "status": 503, "times": 100}]));
    let err = w
        .invoke(&event)
        .expect_err("the still-bad rows could not be stored");
    assert_eq!(
        err.error_type, "ServiceUnavailable",
        "{}",
        err.error_message
    );
    let replay_output = quarantine
        .replacen("quarantine/", "curated/", 1)
        .replace(".csv", ".replay.parquet");
    assert!(w.get(&replay_output).await.is_none(), "not marked done");

    proxy.set(json!([]));
    let again = w.invoke(&event).expect("replayed");
    assert_eq!(
        (again["status"].as_str(), again["rows_rejected"].as_u64()),
        (Some("converted"), Some(1))
    );
    assert!(
        w.get(again["quarantine_key"].as_str().expect("still bad"))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glue_refuses_an_update_from_a_stale_version_and_a_second_create() {
    use csv_to_parquet::registry::glue::GlueStore;
    use csv_to_parquet::registry::{Store, Version};
    use csv_to_parquet::schema::{Column, ColumnType};
    let (stack, glue, database) = catalog("glue-stale").await;
    let store = GlueStore::new(
        glue,
        &database,
        &stack.bucket,
        "curated/",
        tokio::runtime::Handle::current(),
    );
    let version = |n: u32, names: &[&str]| Version {
        version: n,
        compatibility: Default::default(),
        columns: names
            .iter()
            .map(|name| Column {
                name: (*name).into(),
                column_type: ColumnType::Int64,
                nullable: true,
            })
            .collect(),
        token: None,
    };
    tokio::task::block_in_place(|| {
        assert!(
            store
                .create("d", None, &version(1, &["a"]))
                .expect("create")
        );
        assert!(
            !store
                .create("d", None, &version(1, &["b"]))
                .expect("second create"),
            "AlreadyExists: lost"
        );
        let base = store.current("d").expect("read").expect("v1");
        assert!(base.token.is_some(), "GetTable's VersionId is kept");
        assert!(
            store
                .create("d", Some(&base), &version(2, &["a", "x"]))
                .expect("update")
        );
        // The same stale base again: the table moved on, the update is refused and changes nothing.
        assert!(
            !store
                .create("d", Some(&base), &version(2, &["a", "y"]))
                .expect("stale update")
        );
        let current = store.current("d").expect("read").expect("v2");
        let names: Vec<&str> = current.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!((current.version, names), (2, vec!["a", "x"]));
        assert_eq!(
            store.get("d", 1).expect("history").map(|v| v.columns.len()),
            Some(1)
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_datasets_that_would_share_one_glue_table_are_told_apart() {
    let (stack, _glue, database) = catalog("glue-twins").await;
    let mut w = World {
        stack,
        function: converter(&database, &[]),
    };
    w.put("raw/a-b/x.csv", b"id\n1\n".to_vec()).await;
    w.invoke(&task(&w.bucket, "raw/a-b/x.csv"))
        .expect("converted");
    w.put("raw/a_b/y.csv", b"id\n2\n".to_vec()).await;
    let err = w
        .invoke(&task(&w.bucket, "raw/a_b/y.csv"))
        .expect_err("refused");
    assert_eq!(err.error_type, "InvalidInput");
    assert!(
        err.error_message.contains("belongs to dataset \"a-b\""),
        "{}",
        err.error_message
    );
    assert!(w.keys("curated/a_b/").await.is_empty());
}
