//! The Redshift path's statements, exactly as the loader sends them to the Data API, run by two sessions at
//! once on PostgreSQL (which runs `LOCK`, the guard and the rest the same way; only the COPY from S3 becomes an
//! INSERT of the same rows, and `GETDATE()` is `now()`): two concurrent deliveries of one load commit the rows
//! once, and the one that lost is a conflict, which the loader retries (its retry then finds the file loaded).

use redshift_loader::handler::redshift_conflict;
use redshift_loader::postgres::connect;
use redshift_loader::sql::{
    CopySet, LedgerEntry, Mode, RedshiftLoad, TableName, redshift_load, stage_name,
};
use std::time::Duration;
use tributary_testkit::{Postgres, unique_database};

/// The statements of one load of `s3://b/a.parquet`, with the COPY replaced by an INSERT of its rows.
fn statements(load_id: &str) -> Vec<String> {
    let table = TableName::parse("analytics.lines").expect("table");
    let entries = [LedgerEntry {
        url: "s3://b/a.parquet".into(),
        etag: "e1".into(),
    }];
    let stage = stage_name(load_id);
    redshift_load(&RedshiftLoad {
        target: &table,
        ddl: Vec::new(),
        sets: vec![CopySet {
            manifest_url: "s3://b/manifests/analytics.lines/x.json".into(),
            columns: Vec::new(),
        }],
        columns: Vec::new(),
        mode: &Mode::Append,
        iam_role: "arn:aws:iam::1:role/copy",
        entries: &entries,
        load_id,
        correlation_id: Some("arn:aws:states:r:1:execution:m:e1"),
    })
    .into_iter()
    .map(|s| {
        if s.starts_with("COPY ") {
            format!("INSERT INTO {stage} VALUES ('PO-1', 1), ('PO-1', 2), ('PO-2', 1)")
        } else {
            s.replace("GETDATE()", "now()")
        }
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_deliveries_of_one_redshift_load_commit_its_rows_once() {
    let name = unique_database("redshift_statements");
    let url = Postgres::shared().create_database(&name);
    let setup = connect(&url).await.expect("connect");
    setup
        .batch_execute(
            "CREATE SCHEMA analytics; CREATE TABLE analytics.lines (order_id text, line_no bigint)",
        )
        .await
        .expect("target");
    let ledger = &statements("first")[0];
    setup.batch_execute(ledger).await.expect("ledger");

    // Both deliveries checked the ledger before either committed: both send the whole load.
    let mut a = connect(&url).await.expect("connect");
    let mut b = connect(&url).await.expect("connect");
    let first = statements("first");
    let tx_a = a.transaction().await.expect("begin");
    // A runs up to and past the guard, holding the ledger's lock.
    for s in &first[..3] {
        tx_a.batch_execute(s).await.expect("A: lock and guard");
    }
    let second = tokio::spawn(async move {
        let tx_b = b.transaction().await.expect("begin");
        for s in statements("second") {
            if let Err(e) = tx_b.batch_execute(&s).await {
                let message = e
                    .as_db_error()
                    .map(|d| d.message().to_owned())
                    .unwrap_or_default();
                return Err((s, message));
            }
        }
        tx_b.commit()
            .await
            .map_err(|e| (String::new(), e.to_string()))
    });
    // B is now waiting on the LOCK; A finishes and commits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second delivery waits for the lock"
    );
    for s in &first[3..] {
        tx_a.batch_execute(s)
            .await
            .expect("A: stage, apply, record");
    }
    tx_a.commit().await.expect("A commits");

    let (statement, error) = second
        .await
        .expect("B ran")
        .expect_err("B stops at the guard");
    assert!(
        statement.contains("stop if another load recorded"),
        "{statement}"
    );
    assert_eq!(error, "division by zero");
    assert!(redshift_conflict(&error, Some(&statement)));
    let count = |sql: &'static str| {
        let setup = &setup;
        async move {
            setup
                .query_one(sql, &[])
                .await
                .expect("count")
                .get::<_, i64>(0)
        }
    };
    assert_eq!(count("SELECT count(*) FROM analytics.lines").await, 3);
    assert_eq!(
        count("SELECT count(*) FROM analytics.tributary_load_ledger").await,
        1
    );
}
