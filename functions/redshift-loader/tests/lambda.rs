//! Integration tests: the real `redshift-loader` binary through the Lambda Runtime API emulator. The
//! PostgreSQL path loads Parquet from S3 (moto) into a throwaway PostgreSQL; the Redshift path is checked for
//! the statements and parameters it sends to the Data API (moto records them; its answers are canned). The
//! Redshift path's statements run on a real database in `redshift_schema.rs`.

use chrono::TimeZone;
use serde_json::{Value, json};
use std::path::Path;
use tributary_testkit::{
    FaultProxy, LambdaProcess, Moto, Postgres, Stack, World, sdk_config, unique_database,
};

/// The loader with a fresh bucket, reaching AWS at `endpoint` (the emulator, or a fault proxy).
async fn world_at(endpoint: &str, env: &[(&str, &str)]) -> World {
    let binary = Path::new(env!("CARGO_BIN_EXE_redshift-loader"));
    World::start(Stack::bucket("loader").await, binary, endpoint, env)
}

async fn world(env: &[(&str, &str)]) -> World {
    world_at(&Moto::shared().endpoint(), env).await
}

/// Converts CSV rows to Parquet with the csv-to-parquet core and uploads it; returns its s3:// URL.
async fn parquet(w: &World, key: &str, csv: &str) -> String {
    let mut opts = csv_to_parquet::Options::new(
        key,
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
            .single()
            .expect("time"),
    );
    opts.schema = Some(csv_to_parquet::Schema::from_json(br#"{"columns": [{"name": "order_id", "type": "string", "nullable": false}, {"name": "qty", "type": "int64"}]}"#).expect("schema"));
    let mut out = Vec::new();
    csv_to_parquet::convert(csv.as_bytes(), &mut out, &mut Vec::new(), &opts).expect("convert");
    w.put(key, out).await;
    format!("s3://{}/{key}", w.bucket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_backend_loads_curated_parquet_from_s3_and_skips_known_files() {
    let pg = Postgres::shared();
    let db = unique_database("lambda");
    let url = pg.create_database(&db);
    let mut w = world(&[
        ("WAREHOUSE_URL", &url),
        ("TARGET_TABLE", "analytics.{dataset}"),
        ("LOAD_MODE", "merge"),
        ("MERGE_KEYS", "order_id"),
    ])
    .await;
    parquet(
        &w,
        "curated/orders/year=2026/month=11/day=21/a.parquet",
        "order_id,qty\nPO-1,3\nPO-2,5\n",
    )
    .await;
    // The csv-to-parquet summary, as that function serializes it, passed straight through by the state machine.
    let mut summary = converted(
        &w.bucket,
        "curated/orders/year=2026/month=11/day=21/a.parquet",
    );
    summary.correlation_id = Some(EXECUTION.to_owned());
    let summary = serde_json::to_value(summary).expect("summary");
    let out = w.invoke(&summary).expect("loaded");
    assert_eq!(
        (
            out["status"].as_str(),
            out["table"].as_str(),
            out["rows_loaded"].as_u64()
        ),
        (Some("loaded"), Some("analytics.orders"), Some(2))
    );
    // Where the load's time went: the files' download, their COPY, the merge; the same in its EMF record.
    let steps = &out["steps"];
    let record = w
        .emf()
        .into_iter()
        .find(|m| m["FilesLoaded"] == 1.0)
        .expect("the load's EMF record");
    for (field, metric) in [
        ("s3_read_ms", "S3ReadMs"),
        ("copy_ms", "CopyMs"),
        ("merge_ms", "MergeMs"),
    ] {
        let value = steps[field]
            .as_u64()
            .unwrap_or_else(|| panic!("{field} in {out}"));
        assert_eq!(record[metric], json!(value as f64), "{metric}");
    }
    assert_eq!(
        pg.psql(
            &db,
            "SELECT string_agg(order_id || '=' || qty, ',' ORDER BY order_id) FROM analytics.orders"
        ),
        "PO-1=3,PO-2=5"
    );
    // The ledger names the execution that loaded the file.
    assert_eq!(
        pg.psql(
            &db,
            "SELECT file_url || ' ' || correlation_id FROM analytics.tributary_load_ledger"
        ),
        format!(
            "s3://{}/curated/orders/year=2026/month=11/day=21/a.parquet {EXECUTION}",
            w.bucket
        )
    );

    let again = w.invoke(&summary).expect("redelivered");
    assert_eq!(
        (
            again["files_loaded"].as_u64(),
            again["files_skipped"].as_u64()
        ),
        (Some(0), Some(1))
    );

    parquet(
        &w,
        "curated/orders/year=2026/month=11/day=21/b.parquet",
        "order_id,qty\nPO-2,9\nPO-3,1\n",
    )
    .await;
    let prefix = w
        .invoke(&json!({"prefix": format!("s3://{}/curated/orders/year=2026/", w.bucket)}))
        .expect("prefix load");
    assert_eq!(
        (
            prefix["files_loaded"].as_u64(),
            prefix["files_skipped"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT string_agg(order_id || '=' || qty, ',' ORDER BY order_id) FROM analytics.orders"
        ),
        "PO-1=3,PO-2=9,PO-3=1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_table_name_is_refused_with_a_clear_error() {
    let mut w = world(&[("WAREHOUSE_URL", "postgres://postgres@127.0.0.1:1/none")]).await;
    let err = w
        .invoke(&json!({"table": "x; drop table y", "files": ["s3://b/k.parquet"]}))
        .expect_err("refused");
    assert_eq!(err.error_type, "InvalidEvent");
    assert!(
        err.error_message.contains("not a valid identifier"),
        "{}",
        err.error_message
    );
}

/// csv-to-parquet's own response for a converted object (its real type, so a change there shows here).
const EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:tributary-csv:7c1f";

/// A ledger made before the ledger recorded correlation ids gains the column, and the load fills it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_from_before_correlation_ids_gains_the_column() {
    let pg = Postgres::shared();
    let db = unique_database("oldledger");
    let url = pg.create_database(&db);
    pg.psql(
        &db,
        "CREATE SCHEMA analytics; CREATE TABLE analytics.tributary_load_ledger (table_name text NOT NULL, \
         file_url text NOT NULL, etag text NOT NULL, load_id text NOT NULL, loaded_at timestamptz NOT NULL)",
    );
    let mut w = world(&[
        ("WAREHOUSE_URL", &url),
        ("TARGET_TABLE", "analytics.{dataset}"),
    ])
    .await;
    let key = "curated/orders/year=2026/month=11/day=21/a.parquet";
    parquet(&w, key, "order_id,qty\nPO-1,3\n").await;
    let mut summary = converted(&w.bucket, key);
    summary.correlation_id = Some(EXECUTION.to_owned());
    let out = w
        .invoke(&serde_json::to_value(summary).expect("summary"))
        .expect("loaded");
    assert_eq!(out["status"], "loaded", "{out}");
    assert_eq!(
        pg.psql(
            &db,
            "SELECT correlation_id FROM analytics.tributary_load_ledger"
        ),
        EXECUTION
    );
}

fn converted(bucket: &str, output_key: &str) -> csv_to_parquet::outcome::Outcome {
    use csv_to_parquet::outcome::{Outcome, Status};
    Outcome {
        rows_in: 2,
        rows_out: 2,
        output_key: Some(output_key.to_owned()),
        ..Outcome::new(Status::Converted, bucket, "raw/orders/a.csv", None, bucket)
    }
}

async fn statement(
    id: &str,
) -> aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput {
    let client = aws_sdk_redshiftdata::Client::new(&sdk_config().await);
    client
        .describe_statement()
        .id(id)
        .send()
        .await
        .expect("describe")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redshift_path_sends_one_transaction_of_ledger_stage_copy_merge_and_a_manifest() {
    let env = [
        ("REDSHIFT_DATABASE", "tributary_finished"),
        ("REDSHIFT_WORKGROUP", "analytics"),
        ("COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/copy"),
    ];
    let mut w = world(&env).await;
    let a = parquet(
        &w,
        "curated/orders/year=2026/month=11/day=21/a.parquet",
        "order_id,qty\nPO-1,3\n",
    )
    .await;
    let out = w.invoke(&json!({"table": "analytics.order_lines", "files": [a], "mode": "merge", "merge_keys": ["order_id"]})).expect("loaded");
    assert_eq!(out["status"], "loaded");
    assert_eq!(out["files_loaded"], 1);

    let manifest_url = out["manifest"].as_str().expect("manifest url");
    let manifest_key = manifest_url
        .strip_prefix(&format!("s3://{}/", w.bucket))
        .expect("in the bucket");
    assert!(manifest_key.starts_with("manifests/analytics.order_lines/"));
    let manifest: Value = serde_json::from_slice(
        &w.s3
            .get_object()
            .bucket(&w.bucket)
            .key(manifest_key)
            .send()
            .await
            .expect("manifest")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes(),
    )
    .expect("json");
    let head =
        w.s3.head_object()
            .bucket(&w.bucket)
            .key("curated/orders/year=2026/month=11/day=21/a.parquet")
            .send()
            .await
            .expect("head");
    assert_eq!(manifest["entries"][0]["url"], json!(a));
    assert_eq!(manifest["entries"][0]["mandatory"], true);
    assert_eq!(
        manifest["entries"][0]["meta"]["content_length"].as_i64(),
        head.content_length()
    );

    let batch = statement(out["statement_id"].as_str().expect("statement id")).await;
    let sent: Vec<&str> = batch
        .sub_statements()
        .iter()
        .filter_map(|s| s.query_string())
        .collect();
    let stage = format!(
        "\"tributary_stage_{}\"",
        out["load_id"].as_str().expect("load id")
    );
    assert!(
        sent[0].starts_with("CREATE TABLE IF NOT EXISTS \"analytics\".\"tributary_load_ledger\"")
    );
    assert_eq!(sent[1], "LOCK \"analytics\".\"tributary_load_ledger\"");
    assert!(
        sent[2].contains("stop if another load recorded these files")
            && sent[2].contains(&format!("file_url = '{a}'")),
        "the ledger is checked again under the lock: {}",
        sent[2]
    );
    let sent = [&sent[..2], &sent[3..]].concat();
    // The emulator's canned answer says the table has no columns: the load creates it from the files' footers.
    let columns = "\"order_id\", \"qty\", \"_source_key\", \"_ingested_at\", \"_correlation_id\"";
    assert_eq!(
        sent[2],
        "CREATE TABLE IF NOT EXISTS \"analytics\".\"order_lines\" (\"order_id\" VARCHAR(65535) NOT NULL, \
         \"qty\" bigint, \"_source_key\" VARCHAR(65535) NOT NULL, \"_ingested_at\" timestamptz NOT NULL, \
         \"_correlation_id\" VARCHAR(65535))"
    );
    assert_eq!(out["schema_changes"], json!([sent[2]]));
    assert_eq!(
        sent[3],
        format!(
            "CREATE TEMP TABLE {stage} (LIKE \"analytics\".\"order_lines\" INCLUDING DEFAULTS)"
        )
    );
    // The file's columns, by name: a stage of the file's shape, copied by position, moved in by name.
    let shaped = format!("{}_1\"", stage.trim_end_matches('"'));
    assert_eq!(
        sent[4],
        format!("CREATE TEMP TABLE {shaped} AS SELECT {columns} FROM {stage} WHERE 1 = 0")
    );
    assert_eq!(
        sent[5],
        format!(
            "COPY {shaped} FROM '{manifest_url}' IAM_ROLE 'arn:aws:iam::123456789012:role/copy' FORMAT AS PARQUET MANIFEST"
        )
    );
    assert_eq!(
        sent[6],
        format!("INSERT INTO {stage} ({columns}) SELECT {columns} FROM {shaped}")
    );
    assert_eq!(sent[7], format!("DROP TABLE {shaped}"));
    let sent = [&sent[..4], &sent[8..]].concat();
    assert_eq!(
        sent[4],
        format!(
            "DELETE FROM \"analytics\".\"order_lines\" USING {stage} WHERE \"analytics\".\"order_lines\".\"order_id\" = {stage}.\"order_id\""
        )
    );
    assert_eq!(
        sent[5],
        format!(
            "INSERT INTO \"analytics\".\"order_lines\" ({columns}) SELECT {columns} FROM {stage}"
        )
    );
    let etag = head
        .e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    assert!(
        sent[6].contains(&format!("'{a}', '{etag}'")),
        "the ledger records the file and its ETag: {}",
        sent[6]
    );
    assert_eq!(sent[7], format!("DROP TABLE {stage}"));
    assert_eq!(batch.database(), Some("tributary_finished"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_that_does_not_finish_in_time_returns_running_with_what_the_next_poll_needs() {
    let env = [
        ("REDSHIFT_DATABASE", "dev"),
        ("REDSHIFT_CLUSTER_ID", "analytics"),
        (
            "REDSHIFT_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:redshift",
        ),
        ("COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/copy"),
        ("POLL_SECONDS", "1"),
    ];
    let mut w = world(&env).await;
    let a = parquet(&w, "curated/orders/a.parquet", "order_id,qty\nPO-1,3\n").await;
    let started = std::time::Instant::now();
    let out = w
        .invoke(&json!({"table": "analytics.order_lines", "files": [a]}))
        .expect("running is a result");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "polling is bounded"
    );
    assert_eq!(out["status"], "running");
    assert_eq!(out["phase"], "ledger");
    assert_eq!(
        out["files"],
        json!([a]),
        "the request travels with the poll"
    );

    // The ledger check went out with the table name as a parameter, not pasted into the SQL.
    let check = statement(out["statement_id"].as_str().expect("id")).await;
    assert_eq!(
        check.query_string(),
        Some(
            "SELECT file_url, etag FROM \"analytics\".\"tributary_load_ledger\" WHERE table_name = :table_name"
        )
    );
    let params: Vec<(&str, &str)> = check
        .query_parameters()
        .iter()
        .map(|p| (p.name(), p.value()))
        .collect();
    assert_eq!(params, [("table_name", "analytics.order_lines")]);
    assert_eq!(
        (check.cluster_identifier(), check.secret_arn()),
        (
            Some("analytics"),
            Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:redshift")
        )
    );

    let again = w.invoke(&out).expect("polled again");
    assert_eq!(
        (again["status"].as_str(), again["statement_id"].as_str()),
        (Some("running"), out["statement_id"].as_str()),
        "the same statement is polled, not resubmitted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_copy_is_load_failed_with_redshifts_error_and_the_rejected_rows() {
    let env = [
        ("REDSHIFT_DATABASE", "tributary_failed"),
        ("REDSHIFT_WORKGROUP", "analytics"),
        ("COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/copy"),
    ];
    let mut w = world(&env).await;
    let a = parquet(&w, "curated/orders/a.parquet", "order_id,qty\nPO-1,3\n").await;
    let err = w
        .invoke(&json!({"table": "analytics.order_lines", "files": [a]}))
        .expect_err("the load fails");
    assert_eq!(err.error_type, "LoadFailed");
    assert!(
        err.error_message.contains("Check 'sys_load_error_detail'"),
        "Redshift's error: {}",
        err.error_message
    );
    assert!(
        err.error_message.contains("in statement: COPY "),
        "the failed statement: {}",
        err.error_message
    );
    assert!(
        err.error_message.contains("Invalid digit, Value 'x'"),
        "the rejected rows: {}",
        err.error_message
    );
}

/// A Redshift-path loader whose first `k` batches the emulator fails with error 1023, and a file for it.
async fn conflicting(k: u32) -> (World, String) {
    redshift_on(&format!("tributary_conflict_{k}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redshift_load_that_loses_a_race_is_retried_until_it_commits() {
    // The emulator fails the first two batches with Redshift's 1023 (serializable isolation violation).
    let (mut w, a) = conflicting(2).await;
    let out = w
        .invoke(&json!({"table": "analytics.order_lines", "files": [a]}))
        .expect("loaded after two conflicts");
    assert_eq!(
        (&out["status"], &out["files_loaded"]),
        (&json!("loaded"), &json!(1))
    );
    let batch = statement(out["statement_id"].as_str().expect("statement id")).await;
    assert_eq!(batch.status().map(|s| s.as_str()), Some("FINISHED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redshift_load_that_keeps_losing_races_fails_as_conflict_for_the_state_machine_to_retry()
{
    let (mut w, a) = conflicting(9).await;
    let err = w
        .invoke(&json!({"table": "analytics.order_lines", "files": [a]}))
        .expect_err("still conflicting");
    assert_eq!(err.error_type, "Conflict");
    assert!(
        err.error_message.contains("4 time(s)")
            && err
                .error_message
                .contains("Serializable isolation violation"),
        "{}",
        err.error_message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_configuration_fails_every_invocation_as_invalid_config() {
    // Neither WAREHOUSE_URL nor a Redshift target.
    let mut f = LambdaProcess::start(
        Path::new(env!("CARGO_BIN_EXE_redshift-loader")),
        &Moto::shared().endpoint(),
        &[],
    );
    let err = tokio::task::block_in_place(|| f.invoke(&json!({"table": "t", "files": []})))
        .expect_err("no warehouse");
    assert_eq!(err.error_type, "InvalidConfig", "{}", err.error_message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_gone_between_listing_and_reading_is_not_found_and_a_cut_read_resumes() {
    let url = Postgres::shared().create_database(&unique_database("lambda"));
    let proxy = FaultProxy::start(&Moto::shared().endpoint());
    let mut w = world_at(&proxy.endpoint(), &[("WAREHOUSE_URL", &url)]).await;
    let a = parquet(
        &w,
        "curated/orders/a.parquet",
        "order_id,qty\nPO-1,3\nPO-2,5\n",
    )
    .await;
    // HEAD finds the object; the GET that follows does not.
    proxy.set(json!([{"method": "GET", "path": "/curated/orders/a\\.parquet", "status": 404,
        "body": "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"}]));
    let err = w
        .invoke(&json!({"table": "orders", "files": [a]}))
        .expect_err("the file vanished");
    assert_eq!(err.error_type, "NotFound", "{}", err.error_message);

    // A GET cut after 100 bytes is resumed, and the rows load whole.
    proxy.set(json!([{"method": "GET", "path": "/curated/orders/a\\.parquet", "cut_after": 100, "times": 1}]));
    let out = w
        .invoke(&json!({"table": "orders", "files": [a]}))
        .expect("loaded");
    assert_eq!(out["rows_loaded"], 2);
    assert_eq!(proxy.hits(), [1]);
}

#[test]
fn cargo_lambda_deploy_creates_the_function_with_its_runtime_and_environment() {
    tributary_testkit::cargo_lambda_deploy(
        "redshift-loader",
        Path::new(env!("CARGO_BIN_EXE_redshift-loader")),
        &[
            (
                "WAREHOUSE_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            ("TARGET_TABLE", "analytics.{dataset}"),
        ],
    );
}

/// A Redshift-path loader on a database the emulator names `<prefix>_…`, and a file for it.
async fn redshift_on(prefix: &str) -> (World, String) {
    let database = unique_database(prefix);
    let env = [
        ("REDSHIFT_DATABASE", database.as_str()),
        ("REDSHIFT_WORKGROUP", "analytics"),
        ("COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/copy"),
    ];
    let w = world(&env).await;
    let a = parquet(&w, "curated/orders/a.parquet", "order_id,qty\nPO-1,3\n").await;
    (w, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ledger_means_a_first_load_and_every_other_ledger_error_fails_the_load() {
    // The table's first load: no ledger yet, so every file is new.
    let (mut w, a) = redshift_on("tributary_noledger").await;
    let out = w
        .invoke(&json!({"table": "analytics.order_lines", "files": [a]}))
        .expect("loaded");
    assert_eq!(
        (&out["status"], &out["files_loaded"]),
        (&json!("loaded"), &json!(1))
    );

    // Any other failure of the ledger query is not taken for "nothing loaded yet".
    let (mut w, a) = redshift_on("tributary_denied").await;
    let err = w
        .invoke(&json!({"table": "analytics.order_lines", "files": [a]}))
        .expect_err("the ledger cannot be read");
    assert_eq!(err.error_type, "LoadFailed");
    assert!(
        err.error_message.contains("reading the load ledger")
            && err.error_message.contains("permission denied"),
        "{}",
        err.error_message
    );
}
