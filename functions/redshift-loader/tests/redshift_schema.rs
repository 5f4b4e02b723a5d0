//! The Redshift path follows the dataset's schema, end to end: the real `redshift-loader` binary reads the
//! files' footers from S3 (moto), reads the table's columns and submits its transaction through the Data API, and
//! the emulator runs those statements on a real PostgreSQL database (`tributary_pg_<port>_<db>`, see
//! tests/harness/moto_server.py), COPY from Parquet included, by position as Redshift does.

use chrono::TimeZone;
use redshift_loader::postgres::connect;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tributary_testkit::{Moto, Postgres, Stack, World, unique_database};

/// A Redshift-path loader whose Data API statements run on a fresh PostgreSQL database with an `analytics`
/// schema; returns the world and the database's name.
async fn redshift(prefix: &str) -> (World, String) {
    let pg = Postgres::shared();
    let db = unique_database(prefix);
    pg.create_database(&db);
    pg.psql(&db, "CREATE SCHEMA analytics");
    (loader(&db).await, db)
}

/// A Redshift-path loader (with a bucket of its own) on the PostgreSQL database `db`.
async fn loader(db: &str) -> World {
    let database = format!("tributary_pg_{}_{db}", Postgres::shared().port());
    let env = [
        ("REDSHIFT_DATABASE", database.as_str()),
        ("REDSHIFT_WORKGROUP", "analytics"),
        ("COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/copy"),
        ("POLL_SECONDS", "30"),
    ];
    let binary = Path::new(env!("CARGO_BIN_EXE_redshift-loader"));
    World::start(
        Stack::bucket("rsschema").await,
        binary,
        &Moto::shared().endpoint(),
        &env,
    )
}

/// Converts `csv` with the declared `columns` (the `schemas/<dataset>.json` format) and uploads it.
async fn parquet(w: &World, key: &str, columns: Value, csv: &str) -> String {
    let mut opts = csv_to_parquet::Options::new(
        key,
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
            .single()
            .expect("time"),
    );
    let schema = serde_json::to_vec(&json!({ "columns": columns })).expect("json");
    opts.schema = Some(csv_to_parquet::Schema::from_json(&schema).expect("schema"));
    let mut out = Vec::new();
    csv_to_parquet::convert(csv.as_bytes(), &mut out, &mut Vec::new(), &opts).expect("convert");
    w.put(key, out).await;
    format!("s3://{}/{key}", w.bucket)
}

fn v1() -> Value {
    json!([{"name": "order_id", "type": "string", "nullable": false}, {"name": "qty", "type": "int64"}])
}

fn v2() -> Value {
    json!([{"name": "order_id", "type": "string", "nullable": false}, {"name": "qty", "type": "int64"},
           {"name": "channel", "type": "string"}])
}

const ROWS: &str = "SELECT string_agg(order_id || '=' || qty || '/' || coalesce(channel, '-'), ',' ORDER BY order_id) FROM analytics.orders";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_is_created_by_the_first_load_and_gains_the_column_a_later_version_brings() {
    let (mut w, db) = redshift("rs_evolve").await;
    let pg = Postgres::shared();
    let a = parquet(
        &w,
        "curated/orders/a.parquet",
        v1(),
        "order_id,qty\nPO-1,3\n",
    )
    .await;
    let first = w
        .invoke(&json!({"table": "analytics.orders", "files": [a]}))
        .expect("loaded");
    assert_eq!(first["status"], "loaded", "{first}");
    // Redshift's own account of the batch: its COPY statements, and the rest of the transaction.
    for step in ["copy_ms", "merge_ms"] {
        assert!(first["steps"][step].is_u64(), "{step} in {first}");
    }
    let record = w
        .emf()
        .into_iter()
        .find(|m| m["FilesLoaded"] == 1.0)
        .expect("the load's EMF record");
    assert_eq!(
        record["CopyMs"],
        json!(first["steps"]["copy_ms"].as_u64().map(|v| v as f64))
    );
    assert_eq!(
        first["schema_changes"],
        json!([
            "CREATE TABLE IF NOT EXISTS \"analytics\".\"orders\" (\"order_id\" VARCHAR(65535) NOT NULL, \"qty\" bigint, \
             \"_source_key\" VARCHAR(65535) NOT NULL, \"_ingested_at\" timestamptz NOT NULL, \"_correlation_id\" VARCHAR(65535))"
        ])
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT string_agg(order_id || '=' || qty, ',') FROM analytics.orders"
        ),
        "PO-1=3"
    );

    // One load of a version-2 file and a version-1 file: the column is added, each file is copied in its own
    // shape, and the version-1 rows have no channel.
    let b = parquet(
        &w,
        "curated/orders/b.parquet",
        v2(),
        "order_id,qty,channel\nPO-2,5,web\n",
    )
    .await;
    let c = parquet(
        &w,
        "curated/orders/c.parquet",
        v1(),
        "order_id,qty\nPO-3,7\n",
    )
    .await;
    let task = json!({"table": "analytics.orders", "files": [b, c]});
    let second = w.invoke(&task).expect("loaded");
    assert_eq!(
        (&second["status"], &second["files_loaded"]),
        (&json!("loaded"), &json!(2)),
        "{second}"
    );
    assert_eq!(
        second["schema_changes"],
        json!(["ALTER TABLE \"analytics\".\"orders\" ADD COLUMN \"channel\" VARCHAR(65535)"])
    );
    assert_eq!(second["manifests"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        pg.psql(
            &db,
            "SELECT data_type || '(' || character_maximum_length || ')' FROM information_schema.columns \
             WHERE table_schema = 'analytics' AND table_name = 'orders' AND column_name = 'channel'"
        ),
        "character varying(65535)"
    );
    assert_eq!(pg.psql(&db, ROWS), "PO-1=3/-,PO-2=5/web,PO-3=7/-");

    // Redelivered: nothing is loaded twice, and the table is not changed again.
    let again = w.invoke(&task).expect("redelivered");
    assert_eq!(
        (&again["files_loaded"], &again["files_skipped"]),
        (&json!(0), &json!(2)),
        "{again}"
    );
    assert_eq!(pg.psql(&db, ROWS), "PO-1=3/-,PO-2=5/web,PO-3=7/-");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_redshift_cannot_change_in_place_fails_as_schema_mismatch_before_a_row_is_written() {
    let (mut w, db) = redshift("rs_mismatch").await;
    let pg = Postgres::shared();
    pg.psql(
        &db,
        "CREATE TABLE analytics.orders (order_id varchar(64) NOT NULL, qty integer, note varchar(20))",
    );
    // bigint into an integer column: PostgreSQL would widen it; Redshift cannot.
    let wide = parquet(
        &w,
        "curated/orders/wide.parquet",
        json!([{"name": "order_id", "type": "string", "nullable": false}, {"name": "qty", "type": "int64"},
               {"name": "note", "type": "int64"}]),
        "order_id,qty,note\nPO-1,3,4\n",
    )
    .await;
    let err = w
        .invoke(&json!({"table": "analytics.orders", "files": [wide]}))
        .expect_err("mismatch");
    assert_eq!(err.error_type, "SchemaMismatch", "{}", err.error_message);
    assert_eq!(
        err.error_message,
        "the files do not fit table analytics.orders: column \"qty\": Redshift changes a type in place only to \
         lengthen a VARCHAR; its type in the table is integer, the files have bigint"
    );
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM analytics.orders"), "0");
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'tributary_load_ledger'"
        ),
        "0",
        "nothing was submitted"
    );

    // A string where the table has a number, and a required column the files lack.
    let text = parquet(
        &w,
        "curated/orders/text.parquet",
        json!([{"name": "qty", "type": "string"}]),
        "qty\nmany\n",
    )
    .await;
    let err = w
        .invoke(&json!({"table": "analytics.orders", "files": [text]}))
        .expect_err("mismatch");
    assert_eq!(err.error_type, "SchemaMismatch");
    assert!(
        err.error_message.contains(
            "column \"qty\": its type in the table is integer, the files have text"
        ) && err.error_message.contains(
            "column \"order_id\": required in the table: its type is character varying(64) NOT NULL, the files have no such column"
        ),
        "{}",
        err.error_message
    );
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM analytics.orders"), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_with_other_column_order_and_a_default_is_filled_by_name() {
    let (mut w, db) = redshift("rs_order").await;
    let pg = Postgres::shared();
    pg.psql(
        &db,
        "CREATE TABLE analytics.orders (qty bigint, _ingested_at timestamptz, order_id varchar(64) NOT NULL, \
         region varchar(8) NOT NULL DEFAULT 'eu', channel varchar(16), _source_key varchar(1024), \
         _correlation_id varchar(1024))",
    );
    let a = parquet(
        &w,
        "curated/orders/a.parquet",
        v1(),
        "order_id,qty\nPO-1,3\nPO-2,4\n",
    )
    .await;
    let out = w
        .invoke(&json!({"table": "analytics.orders", "files": [a], "mode": "merge", "merge_keys": ["order_id"]}))
        .expect("loaded");
    assert_eq!(out["schema_changes"], json!([]), "{out}");
    assert_eq!(
        pg.psql(
            &db,
            "SELECT string_agg(order_id || '=' || qty || '/' || region || '/' || coalesce(channel, '-'), ',' ORDER BY order_id) FROM analytics.orders"
        ),
        "PO-1=3/eu/-,PO-2=4/eu/-"
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT DISTINCT _source_key || ' ' || _ingested_at FROM analytics.orders"
        ),
        "curated/orders/a.parquet 2026-11-30 12:00:00+00"
    );
}

/// On the Redshift path too: a ledger from before correlation ids gains the column (Redshift has no `ADD COLUMN IF
/// NOT EXISTS`, so the loader reads the ledger's columns with the table's), and the load records its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_from_before_correlation_ids_gains_the_column_and_records_the_execution() {
    let (mut w, db) = redshift("rs_oldledger").await;
    let pg = Postgres::shared();
    pg.psql(
        &db,
        "CREATE TABLE analytics.tributary_load_ledger (table_name varchar(1024) NOT NULL, \
         file_url varchar(1024) NOT NULL, etag varchar(1024) NOT NULL, load_id varchar(1024) NOT NULL, \
         loaded_at timestamp NOT NULL)",
    );
    let a = parquet(
        &w,
        "curated/orders/a.parquet",
        v1(),
        "order_id,qty\nPO-1,3\n",
    )
    .await;
    let execution = "arn:aws:states:us-east-1:123456789012:execution:tributary-csv:e1";
    let out = w
        .invoke(&json!({"table": "analytics.orders", "files": [a], "correlation_id": execution}))
        .expect("loaded");
    assert_eq!(out["status"], "loaded", "{out}");
    assert_eq!(
        out["schema_changes"][0],
        "ALTER TABLE \"analytics\".\"tributary_load_ledger\" ADD COLUMN correlation_id VARCHAR(1024)"
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT correlation_id FROM analytics.tributary_load_ledger"
        ),
        execution
    );

    // The next load finds the column and changes nothing.
    let b = parquet(
        &w,
        "curated/orders/b.parquet",
        v1(),
        "order_id,qty\nPO-2,4\n",
    )
    .await;
    let next = w
        .invoke(&json!({"table": "analytics.orders", "files": [b], "correlation_id": "e2"}))
        .expect("loaded");
    assert_eq!(next["schema_changes"], json!([]), "{next}");
    assert_eq!(
        pg.psql(
            &db,
            "SELECT string_agg(correlation_id, ',' ORDER BY file_url) FROM analytics.tributary_load_ledger"
        ),
        format!("{execution},e2")
    );
}

/// Invokes two loaders at once while the test holds the ledger's lock (which must exist), so that both read the
/// table and submit their batches before either commits; then releases it.
async fn at_once(
    db: &str,
    (first, task_a): (&mut World, Value),
    (second, task_b): (&mut World, Value),
) -> (
    Result<Value, tributary_testkit::InvokeError>,
    Result<Value, tributary_testkit::InvokeError>,
) {
    let pg = Postgres::shared();
    let mut holder = connect(&pg.database_url(db)).await.expect("connect");
    let held = holder.transaction().await.expect("begin");
    held.batch_execute("LOCK analytics.tributary_load_ledger")
        .await
        .expect("lock");
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            let one = s.spawn(|| first.invoke(&task_a));
            let two = s.spawn(|| second.invoke(&task_b));
            let deadline = Instant::now() + Duration::from_secs(30);
            while pg.psql(db, "SELECT count(*) FROM pg_locks WHERE NOT granted") != "2" {
                assert!(Instant::now() < deadline, "both loads wait on the ledger");
                std::thread::sleep(Duration::from_millis(100));
            }
            handle.block_on(held.commit()).expect("release the lock");
            (one.join().expect("first"), two.join().expect("second"))
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_first_loads_with_columns_in_other_orders_fill_each_column_by_name() {
    let (mut first, db) = redshift("rs_first").await;
    let pg = Postgres::shared();
    let mut second = loader(&db).await;
    // The ledger exists (another table's load); analytics.orders does not.
    let other = parquet(
        &first,
        "curated/other/o.parquet",
        v1(),
        "order_id,qty\nX,1\n",
    )
    .await;
    first
        .invoke(&json!({"table": "analytics.other", "files": [other]}))
        .expect("ledger made");
    let a = parquet(
        &first,
        "curated/orders/a.parquet",
        v1(),
        "order_id,qty\nPO-1,3\n",
    )
    .await;
    // The same columns, declared in another order: both loads plan to create the table, each in its order.
    let reversed = json!([{"name": "qty", "type": "int64"}, {"name": "order_id", "type": "string", "nullable": false}]);
    let b = parquet(
        &second,
        "curated/orders/b.parquet",
        reversed,
        "qty,order_id\n5,PO-2\n",
    )
    .await;
    let (one, two) = at_once(
        &db,
        (
            &mut first,
            json!({"table": "analytics.orders", "files": [a]}),
        ),
        (
            &mut second,
            json!({"table": "analytics.orders", "files": [b]}),
        ),
    )
    .await;
    for out in [one.expect("first load"), two.expect("second load")] {
        assert_eq!(out["status"], "loaded", "{out}");
    }
    assert_eq!(
        pg.psql(
            &db,
            "SELECT string_agg(order_id || '=' || qty, ',' ORDER BY order_id) FROM analytics.orders"
        ),
        "PO-1=3,PO-2=5"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_loads_that_bring_the_same_new_column_at_once_both_commit_and_add_it_once() {
    let (mut first, db) = redshift("rs_race").await;
    let pg = Postgres::shared();
    let mut second = loader(&db).await;
    // The table exists with version 1's columns; both loads read it before either adds `channel`.
    let seed = parquet(
        &first,
        "curated/orders/seed.parquet",
        v1(),
        "order_id,qty\nPO-0,1\n",
    )
    .await;
    first
        .invoke(&json!({"table": "analytics.orders", "files": [seed]}))
        .expect("seeded");
    let a = parquet(
        &first,
        "curated/orders/a.parquet",
        v2(),
        "order_id,qty,channel\nPO-1,3,web\n",
    )
    .await;
    let b = parquet(
        &second,
        "curated/orders/b.parquet",
        v2(),
        "order_id,qty,channel\nPO-2,5,app\n",
    )
    .await;
    let (one, two) = at_once(
        &db,
        (
            &mut first,
            json!({"table": "analytics.orders", "files": [a]}),
        ),
        (
            &mut second,
            json!({"table": "analytics.orders", "files": [b]}),
        ),
    )
    .await;
    for out in [one.expect("first load"), two.expect("second load")] {
        assert_eq!(
            (&out["status"], &out["files_loaded"]),
            (&json!("loaded"), &json!(1)),
            "{out}"
        );
    }
    assert_eq!(pg.psql(&db, ROWS), "PO-0=1/-,PO-1=3/web,PO-2=5/app");
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'channel'"
        ),
        "1"
    );
    // The one that lost found the column already added, and its retry read the table again.
    let logs = first.function.log_text() + &second.function.log_text();
    assert_eq!(
        logs.matches("load lost a race; retrying").count(),
        1,
        "{logs}"
    );
}
