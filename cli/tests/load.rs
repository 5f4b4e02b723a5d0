//! `tributary load` end to end: Parquet made by `tributary convert`, loaded by the real binary into a
//! throwaway PostgreSQL started by the test harness, and checked with SQL.

mod common;

use common::*;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use tributary_testkit::{Postgres, unique_database};

const SCHEMA: &str = r#"{"columns": [{"name": "order_id", "type": "string", "nullable": false},
  {"name": "line_no", "type": "int64", "nullable": false}, {"name": "qty", "type": "int64"},
  {"name": "price", "type": "decimal(12,2)"}, {"name": "at", "type": "timestamp"}]}"#;

struct Db {
    name: String,
    url: String,
    dir: tempfile::TempDir,
}

impl Db {
    fn new() -> Self {
        let name = unique_database("load");
        let url = Postgres::shared().create_database(&name);
        Self {
            name,
            url,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Converts CSV rows (`order_id,line_no,qty,price,at`) to a Parquet file with `tributary convert`.
    fn parquet(&self, name: &str, rows: &str) -> PathBuf {
        let csv = self.dir.path().join(format!("{name}.csv"));
        let schema = self.dir.path().join("schema.json");
        std::fs::write(&csv, format!("order_id,line_no,qty,price,at\n{rows}")).expect("write csv");
        std::fs::write(&schema, SCHEMA).expect("write schema");
        let out = self.dir.path().join(format!("{name}.parquet"));
        tributary_ok(&["convert", s(&csv), s(&out), "--schema", s(&schema)]);
        out
    }

    fn load(&self, table: &str, extra: &[&str], files: &[&Path]) -> Output {
        let mut args = vec!["load", "--warehouse", &self.url, "--table", table];
        args.extend_from_slice(extra);
        args.extend(files.iter().map(|p| s(p)));
        tributary(&args)
    }

    /// Starts one `tributary load` per entry of `loads` (its files) at once and waits for them all.
    fn burst(&self, table: &str, extra: &[&str], loads: &[Vec<PathBuf>]) -> Vec<Output> {
        let children: Vec<std::process::Child> = loads
            .iter()
            .map(|files| {
                std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
                    .args(["load", "--warehouse", &self.url, "--table", table])
                    .args(extra)
                    .args(files)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("tributary runs")
            })
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().expect("tributary finishes"))
            .collect()
    }

    /// A file of `n` order lines numbered from 1, for order `PO-<name>`.
    fn lines(&self, name: &str, n: usize) -> PathBuf {
        let rows: String = (1..=n)
            .map(|j| format!("PO-{name},{j},{j},1.00,2026-11-21T10:00:00Z\n"))
            .collect();
        self.parquet(name, &rows)
    }

    fn sql(&self, query: &str) -> String {
        Postgres::shared().psql(&self.name, query)
    }
}

fn summary(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "load failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("summary JSON")
}

#[test]
fn append_loads_every_row_and_a_rerun_is_a_no_op() {
    let db = Db::new();
    let a = db.parquet(
        "a",
        "PO-1,1,3,19.99,2026-11-21T10:00:00Z\nPO-1,2,1,0.10,2026-11-21T10:00:00Z\n",
    );
    let b = db.parquet("b", "PO-2,1,5,7.00,2026-11-21T11:00:00Z\n");
    let first = summary(&db.load("analytics.lines", &[], &[&a, &b]));
    assert_eq!(
        first,
        serde_json::json!({"files_loaded": 2, "files_skipped": 0, "rows_loaded": 3})
    );
    assert_eq!(
        db.sql("SELECT count(*), sum(price), sum(qty) FROM analytics.lines"),
        "3|27.09|9"
    );
    assert_eq!(db.sql("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'analytics.lines'::regclass AND attname = 'price'"), "numeric(12,2)");
    assert_eq!(
        db.sql("SELECT at FROM analytics.lines WHERE order_id = 'PO-2'"),
        "2026-11-21 11:00:00+00"
    );

    let again = summary(&db.load("analytics.lines", &[], &[&a, &b]));
    assert_eq!(
        again,
        serde_json::json!({"files_loaded": 0, "files_skipped": 2, "rows_loaded": 0})
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM analytics.lines"),
        "3",
        "a redelivered load never loads rows twice"
    );
    assert_eq!(db.sql("SELECT count(*) FROM analytics.tributary_load_ledger WHERE table_name = 'analytics.lines'"), "2");
}

#[test]
fn zstd_and_uncompressed_files_load_as_snappy_ones_do() {
    let db = Db::new();
    let rows = "PO-7,1,3,19.99,2026-11-21T10:00:00Z\nPO-7,2,1,0.10,2026-11-21T10:00:00Z\nPO-8,1,5,7.00,2026-11-21T11:00:00Z\n";
    let snappy = db.parquet("snappy", rows);
    let mut loaded = Vec::new();
    for codec in ["zstd", "zstd:9", "none"] {
        let csv = db.dir.path().join("snappy.csv");
        let schema = db.dir.path().join("schema.json");
        let out = db
            .dir
            .path()
            .join(format!("{}.parquet", codec.replace(':', "-")));
        tributary_ok(&[
            "convert",
            s(&csv),
            s(&out),
            "--schema",
            s(&schema),
            "--compression",
            codec,
        ]);
        assert_ne!(
            std::fs::read(&out).expect("parquet"),
            std::fs::read(&snappy).expect("parquet")
        );
        let table = format!("analytics.lines_{}", codec.replace(':', "_"));
        let done = summary(&db.load(&table, &[], &[&out]));
        assert_eq!(done["rows_loaded"], 3, "{codec}");
        loaded.push(db.sql(&format!("SELECT string_agg(order_id || '/' || line_no || '/' || qty || '/' || price || '/' || at, ';' ORDER BY order_id, line_no) FROM {table}")));
    }
    summary(&db.load("analytics.lines_snappy", &[], &[&snappy]));
    let expected = db.sql("SELECT string_agg(order_id || '/' || line_no || '/' || qty || '/' || price || '/' || at, ';' ORDER BY order_id, line_no) FROM analytics.lines_snappy");
    assert!(expected.contains("PO-7/1/3/19.99/"), "{expected}");
    for got in loaded {
        assert_eq!(got, expected);
    }
}

#[test]
fn merge_replaces_updated_rows_and_adds_new_ones() {
    let db = Db::new();
    let base = db.parquet("base", "PO-1,1,3,19.99,2026-11-21T10:00:00Z\nPO-1,2,1,0.10,2026-11-21T10:00:00Z\nPO-2,1,5,7.00,2026-11-21T11:00:00Z\n");
    let change = db.parquet(
        "change",
        "PO-1,2,4,0.10,2026-11-21T12:00:00Z\nPO-3,1,1,1.00,2026-11-21T12:00:00Z\n",
    );
    let keys = [
        "--mode",
        "merge",
        "--merge-key",
        "order_id",
        "--merge-key",
        "line_no",
    ];
    summary(&db.load("lines", &keys, &[&base]));
    let merged = summary(&db.load("lines", &keys, &[&change]));
    assert_eq!(merged["rows_loaded"], 2);
    assert_eq!(db.sql("SELECT string_agg(order_id || ':' || line_no || ':' || qty, ',' ORDER BY order_id, line_no) FROM lines"), "PO-1:1:3,PO-1:2:4,PO-2:1:5,PO-3:1:1");
}

#[test]
fn replace_leaves_only_the_new_rows() {
    let db = Db::new();
    let old = db.parquet(
        "old",
        "PO-1,1,3,19.99,2026-11-21T10:00:00Z\nPO-2,1,5,7.00,2026-11-21T11:00:00Z\n",
    );
    let new = db.parquet("new", "PO-9,1,1,1.00,2026-11-21T12:00:00Z\n");
    summary(&db.load("lines", &[], &[&old]));
    summary(&db.load("lines", &["--mode", "replace"], &[&new]));
    assert_eq!(
        db.sql("SELECT string_agg(order_id, ',') FROM lines"),
        "PO-9"
    );
}

#[test]
fn a_failure_mid_load_leaves_the_target_and_the_ledger_unchanged() {
    let db = Db::new();
    let good = db.parquet("good", "PO-1,1,3,19.99,2026-11-21T10:00:00Z\n");
    summary(&db.load("lines", &[], &[&good]));
    db.sql("ALTER TABLE lines ADD CONSTRAINT qty_small CHECK (qty < 100)");
    let bad = db.parquet(
        "bad",
        "PO-2,1,5,7.00,2026-11-21T11:00:00Z\nPO-3,1,500,1.00,2026-11-21T11:00:00Z\n",
    );
    let run = db.load("lines", &[], &[&bad]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("qty_small"),
        "the server's own error is reported: {stderr}"
    );
    assert_eq!(
        db.sql("SELECT string_agg(order_id, ',') FROM lines"),
        "PO-1",
        "PO-2 was staged but never reached the target"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM tributary_load_ledger"),
        "1",
        "the failed file is not in the ledger, so a retry loads it"
    );
}

#[test]
fn identifier_injection_is_refused_before_touching_the_database() {
    let db = Db::new();
    let file = db.parquet("f", "PO-1,1,3,19.99,2026-11-21T10:00:00Z\n");
    db.sql("CREATE TABLE y (x int)");
    for table in ["x; drop table y", "a.b.c", "\"y\""] {
        let run = db.load(table, &[], &[&file]);
        assert_eq!(run.status.code(), Some(1), "{table}");
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("not a valid identifier")
                || String::from_utf8_lossy(&run.stderr).contains("must be TABLE")
        );
    }
    let key = db.load(
        "lines",
        &["--mode", "merge", "--merge-key", "id; drop table y"],
        &[&file],
    );
    assert_eq!(key.status.code(), Some(1));
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'y'"),
        "1",
        "y still exists"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'y'"),
        "0",
        "nothing was created"
    );
}

#[test]
fn a_burst_of_loads_into_a_new_table_all_succeed_and_load_every_row_once() {
    let db = Db::new();
    let files: Vec<Vec<PathBuf>> = (0..8)
        .map(|i| vec![db.lines(&i.to_string(), 500)])
        .collect();
    for out in db.burst("analytics.burst", &[], &files) {
        assert_eq!(summary(&out)["files_loaded"], 1);
    }
    assert_eq!(
        db.sql("SELECT count(*), count(DISTINCT (order_id, line_no)) FROM analytics.burst"),
        "4000|4000"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM analytics.tributary_load_ledger"),
        "8"
    );
}

#[test]
fn a_burst_into_an_existing_table_and_of_one_file_many_times_loads_each_file_once() {
    let db = Db::new();
    summary(&db.load("lines", &[], &[&db.lines("first", 10)]));
    let same = db.lines("same", 300);
    let mut loads: Vec<Vec<PathBuf>> = (0..4).map(|_| vec![same.clone()]).collect();
    loads.extend((0..4).map(|i| vec![db.lines(&format!("other{i}"), 300)]));
    let outs = db.burst("lines", &[], &loads);
    let loaded: Vec<Value> = outs
        .iter()
        .map(|o| summary(o)["files_loaded"].clone())
        .collect();
    assert_eq!(
        loaded[..4].iter().filter(|n| **n == 1).count(),
        1,
        "exactly one of four loads of one file loads it: {loaded:?}"
    );
    assert!(loaded[4..].iter().all(|n| *n == 1), "{loaded:?}");
    assert_eq!(db.sql("SELECT count(*) FROM lines"), "1510");
    assert_eq!(
        db.sql("SELECT count(*) FROM lines WHERE order_id = 'PO-same'"),
        "300"
    );
}

#[test]
fn a_burst_of_merges_and_of_replaces_into_one_table_all_succeed() {
    let db = Db::new();
    let keys = [
        "--mode",
        "merge",
        "--merge-key",
        "order_id",
        "--merge-key",
        "line_no",
    ];
    // Every merge rewrites lines 1..=100 of one order and adds its own order.
    let loads: Vec<Vec<PathBuf>> = (0..6)
        .map(|i| {
            let rows: String = (1..=100)
                .map(|j| format!("PO-shared,{j},{i},1.00,2026-11-21T10:00:00Z\n"))
                .collect();
            vec![
                db.parquet(&format!("shared{i}"), &rows),
                db.lines(&format!("m{i}"), 50),
            ]
        })
        .collect();
    for out in db.burst("merged", &keys, &loads) {
        assert_eq!(summary(&out)["files_loaded"], 2);
    }
    assert_eq!(
        db.sql("SELECT count(*), count(DISTINCT (order_id, line_no)) FROM merged"),
        "400|400"
    );

    let loads: Vec<Vec<PathBuf>> = (0..6)
        .map(|i| vec![db.lines(&format!("r{i}"), 40)])
        .collect();
    for out in db.burst("replaced", &["--mode", "replace"], &loads) {
        summary(&out);
    }
    assert_eq!(
        db.sql("SELECT count(*), count(DISTINCT order_id) FROM replaced"),
        "40|1",
        "the last replace wins whole"
    );
}

#[test]
fn a_connection_dropped_mid_load_commits_nothing_and_the_retry_loads_exactly_once() {
    let db = Db::new();
    summary(&db.load("lines", &[], &[&db.lines("first", 10)]));
    let big = db.lines("big", 2000);
    // Another session holds a lock that lets the load stage its rows (COPY into its temp table) but not move
    // them into the target: the load waits there, mid-transaction, until its connection is dropped.
    let locker = {
        let name = db.name.clone();
        std::thread::spawn(move || {
            Postgres::shared().psql(
                &name,
                "BEGIN; LOCK TABLE lines IN SHARE MODE; SELECT pg_sleep(4); COMMIT;",
            )
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    let load = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["load", "--warehouse", &db.url, "--table", "lines", s(&big)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tributary runs");
    let waiting = "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO%'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let pid = loop {
        let pid = db.sql(waiting);
        if !pid.is_empty() {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the load never waited on the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    db.sql(&format!("SELECT pg_terminate_backend({pid})"));
    let out = load.wait_with_output().expect("tributary finishes");
    assert!(!out.status.success(), "the dropped load fails");
    locker.join().expect("locker");
    assert_eq!(
        db.sql("SELECT count(*) FROM lines"),
        "10",
        "nothing of it committed"
    );
    assert_eq!(db.sql("SELECT count(*) FROM tributary_load_ledger"), "1");

    assert_eq!(summary(&db.load("lines", &[], &[&big]))["files_loaded"], 1);
    assert_eq!(summary(&db.load("lines", &[], &[&big]))["files_skipped"], 1);
    assert_eq!(
        db.sql("SELECT count(*) FROM lines WHERE order_id = 'PO-big'"),
        "2000"
    );
}
