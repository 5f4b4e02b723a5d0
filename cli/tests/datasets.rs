//! Datasets, not files: the three files of the issue that started the schema registry, converted with
//! `tributary convert --registry --dataset` and loaded with `tributary load`; the registry's versions, the
//! quarantine's reasons, the Parquet footers, DuckDB reading every version at once, and the warehouse following
//! the schema. Then `tributary schema show | check | push` and the refusals (exit 4).

mod common;

use common::*;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tributary_testkit::{Postgres, python, unique_database};

struct Dataset {
    dir: tempfile::TempDir,
}

impl Dataset {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn registry(&self) -> PathBuf {
        self.path("registry")
    }

    /// Writes `csv` as NAME.csv and converts it into NAME.parquet in dataset `orders`.
    fn convert(&self, name: &str, csv: &str, extra: &[&str]) -> Output {
        let input = self.path(&format!("{name}.csv"));
        std::fs::write(&input, csv).expect("write csv");
        let output = self.path(&format!("{name}.parquet"));
        let registry = self.registry();
        let mut args = vec![
            "convert",
            s(&input),
            s(&output),
            "--registry",
            s(&registry),
            "--dataset",
            "orders",
        ];
        args.extend_from_slice(extra);
        tributary(&args)
    }

    /// Converts and expects success; these files are tiny, so one rejected row must not fail the quality gate.
    fn converted(&self, name: &str, csv: &str) -> Value {
        let out = self.convert(name, csv, &["--max-reject-ratio", "0.5"]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("summary JSON")
    }

    fn schema(&self, args: &[&str]) -> Output {
        let registry = self.registry();
        let mut all = vec![args[0], "--registry", s(&registry), "--dataset", "orders"];
        all.extend_from_slice(&args[1..]);
        let mut argv = vec!["schema"];
        argv.extend(all);
        tributary(&argv)
    }
}

/// The Parquet footer's key/value metadata and its column names and types.
fn footer(path: &Path) -> (Vec<(String, String)>, Vec<String>) {
    let reader =
        SerializedFileReader::new(std::fs::File::open(path).expect("parquet")).expect("reader");
    let meta = reader.metadata().file_metadata();
    let kv = meta
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let columns = meta
        .schema_descr()
        .columns()
        .iter()
        .map(|c| {
            format!(
                "{}:{:?}:{:?}",
                c.name(),
                c.physical_type(),
                c.self_type().get_basic_info().repetition()
            )
        })
        .collect();
    (kv, columns)
}

fn meta<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn three_files_of_one_dataset_share_its_versions_and_load_into_one_table() {
    let d = Dataset::new();
    // f1: whole numbers. Version 1: qty and discount are int64.
    let f1 = d.converted("f1", "order_id,qty,discount\n1,2,0\n2,1,3\n");
    assert_eq!(
        (f1["schema_source"].as_str(), f1["schema_version"].as_u64()),
        (Some("registered"), Some(1))
    );
    // f2: a new column, and 5.5 where version 1 says int64: the value is quarantined, the column added as version 2.
    let f2 = d.converted(
        "f2",
        "order_id,qty,discount,channel\n3,1,0,web\n4,2,5.5,shop\n",
    );
    assert_eq!(f2["schema_version"], 2);
    assert_eq!(
        (f2["rows_out"].as_u64(), f2["rows_rejected"].as_u64()),
        (Some(1), Some(1))
    );
    let quarantine = std::fs::read_to_string(d.path("f2.quarantine.csv")).expect("quarantine");
    assert!(
        quarantine.contains(r#"column ""discount"": ""5.5"" is not a valid int64"#),
        "{quarantine}"
    );
    // f3: one bad value in qty is that row's problem, not the column's type.
    let f3 = d.converted(
        "f3",
        "order_id,qty,discount,channel\n5,x1,1,web\n6,4,2,app\n7,5,0,web\n",
    );
    assert_eq!(f3["schema_version"], 2);
    assert_eq!(f3["rows_rejected"], 1);
    let quarantine = std::fs::read_to_string(d.path("f3.quarantine.csv")).expect("quarantine");
    assert!(
        quarantine.contains(r#"column ""qty"": ""x1"" is not a valid int64"#),
        "{quarantine}"
    );
    assert_eq!(f3["rejected_by_column"], serde_json::json!([["qty", 1]]));

    // The registry: version 2 is version 1 plus a nullable channel.
    let v2: Value = serde_json::from_slice(&d.schema(&["show"]).stdout).expect("show JSON");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["compatibility"], "BACKWARD");
    assert_eq!(
        v2["columns"],
        serde_json::json!([
            {"name": "order_id", "type": "int64", "nullable": true},
            {"name": "qty", "type": "int64", "nullable": true},
            {"name": "discount", "type": "int64", "nullable": true},
            {"name": "channel", "type": "string", "nullable": true}
        ])
    );
    let v1: Value =
        serde_json::from_slice(&d.schema(&["show", "--version", "1"]).stdout).expect("v1");
    assert_eq!(v1["columns"].as_array().map(Vec::len), Some(3));

    // Footers: the version each file was typed by; files of one version have one Parquet schema.
    let (kv1, cols1) = footer(&d.path("f1.parquet"));
    let (kv2, cols2) = footer(&d.path("f2.parquet"));
    let (kv3, cols3) = footer(&d.path("f3.parquet"));
    assert_eq!(meta(&kv1, "tributary.schema_version"), Some("1"));
    assert_eq!(meta(&kv2, "tributary.schema_version"), Some("2"));
    assert_eq!(meta(&kv3, "tributary.dataset"), Some("orders"));
    assert_eq!(cols2, cols3);
    assert_ne!(cols1, cols2);

    // Any reader takes every version at once, by column name (DuckDB here, as Athena does through the catalog).
    let files = ["f1", "f2", "f3"].map(|n| d.path(&format!("{n}.parquet")).display().to_string());
    let query = "import duckdb, json, sys
rel = duckdb.read_parquet(json.loads(sys.argv[1]), union_by_name=True)
print(json.dumps(rel.project('order_id, qty, discount, channel').order('order_id').fetchall()))";
    let out = Command::new(python())
        .args(["-c", query, &serde_json::to_string(&files).expect("json")])
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).expect("rows");
    assert_eq!(
        rows,
        serde_json::json!([
            [1, 2, 0, null],
            [2, 1, 3, null],
            [3, 1, 0, "web"],
            [6, 4, 2, "app"],
            [7, 5, 0, "web"]
        ])
    );

    // The warehouse follows: version 1 creates the table, version 2's files add channel.
    let url = Postgres::shared().create_database(&unique_database("datasets"));
    let load = |files: &[&str]| {
        let paths: Vec<PathBuf> = files
            .iter()
            .map(|f| d.path(&format!("{f}.parquet")))
            .collect();
        let mut args = vec![
            "load",
            "--warehouse",
            url.as_str(),
            "--table",
            "analytics.orders",
        ];
        args.extend(paths.iter().map(|p| s(p)));
        let out = tributary(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    load(&["f1"]);
    load(&["f2", "f3"]);
    let pg = Postgres::shared();
    assert_eq!(
        pg.psql(&url, "SELECT order_id, qty, discount, coalesce(channel, '-') FROM analytics.orders ORDER BY order_id"),
        "1|2|0|-\n2|1|3|-\n3|1|0|web\n6|4|2|app\n7|5|0|web"
    );
}

#[test]
fn a_change_the_dataset_refuses_exits_4_with_every_reason_and_writes_nothing() {
    let d = Dataset::new();
    d.converted("f1", "order_id,qty\n1,2\n");
    let narrowed = d.path("narrowed.json");
    std::fs::write(
        &narrowed,
        r#"{"columns": [{"name": "order_id", "type": "string"}, {"name": "qty", "type": "bool"}]}"#,
    )
    .expect("write");
    for command in ["check", "push"] {
        let out = d.schema(&[command, s(&narrowed)]);
        assert_eq!(out.status.code(), Some(4), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(r#"column "order_id": type int64 cannot become string"#),
            "{err}"
        );
        assert!(
            err.contains(r#"column "qty": type int64 cannot become bool"#),
            "{err}"
        );
    }
    // Nothing was registered by the refused push.
    let current: Value = serde_json::from_slice(&d.schema(&["show"]).stdout).expect("show");
    assert_eq!(current["version"], 1);

    // Without evolution, a new column is refused, and no output appears.
    let out = d.convert(
        "f2",
        "order_id,qty,channel\n2,1,web\n",
        &["--schema-evolution", "none"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("channel"), "{}", stderr(&out));
    assert!(!d.path("f2.parquet").exists());

    // A compatible declaration registers the next version; check says so first.
    let relaxed = d.path("relaxed.json");
    std::fs::write(
        &relaxed,
        r#"{"columns": [{"name": "order_id", "type": "int64"}, {"name": "qty", "type": "int64"},
            {"name": "note", "type": "string", "nullable": true}]}"#,
    )
    .expect("write");
    assert_eq!(d.schema(&["check", s(&relaxed)]).status.code(), Some(0));
    let pushed: Value =
        serde_json::from_slice(&d.schema(&["push", s(&relaxed)]).stdout).expect("push");
    assert_eq!(pushed["version"], 2);
}

#[test]
fn a_failed_quality_gate_names_the_columns_responsible() {
    let d = Dataset::new();
    d.converted("f1", "order_id,qty,price\n1,2,3\n");
    let out = d.convert("f2", "order_id,qty,price\n2,a,1\n3,b,c\n4,5,6\n", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(r#"rejected values by column: "qty" (2), "price" (1)"#),
        "{}",
        stderr(&out)
    );
}

#[test]
fn quarantined_rows_are_replayed_after_the_schema_changes_and_a_second_replay_changes_nothing() {
    let d = Dataset::new();
    let v1 = d.path("v1.json");
    std::fs::write(
        &v1,
        r#"{"columns": [{"name": "id", "type": "int64", "nullable": false}, {"name": "price", "type": "decimal(5,2)"}]}"#,
    )
    .expect("write");
    assert_eq!(d.schema(&["push", s(&v1)]).status.code(), Some(0));
    // Too many digits for decimal(5,2), an empty required id, and a price that is no number at all.
    let out = d.convert(
        "f",
        "id,price\n1,1.00\n2,1234.56\n,3.00\n4,abc\n",
        &["--max-reject-ratio", "1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let quarantine = d.path("f.quarantine.csv");

    // Version 2 widens the decimal and makes id nullable: two of the three rows now fit.
    let v2 = d.path("v2.json");
    std::fs::write(
        &v2,
        r#"{"columns": [{"name": "id", "type": "int64"}, {"name": "price", "type": "decimal(8,2)"}]}"#,
    )
    .expect("write");
    assert_eq!(d.schema(&["push", s(&v2)]).status.code(), Some(0));
    let replayed = d.path("replayed.parquet");
    let registry = d.registry();
    let replay = || {
        let out = tributary(&[
            "replay",
            s(&quarantine),
            s(&replayed),
            "--registry",
            s(&registry),
            "--dataset",
            "orders",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).expect("summary")
    };
    let first = replay();
    assert_eq!(
        (
            first["rows_in"].as_u64(),
            first["rows_out"].as_u64(),
            first["rows_rejected"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(first["schema_version"], 2);
    // The row that still does not fit keeps its line in the original file (5) and gets a fresh reason.
    let still_bad = std::fs::read_to_string(d.path("replayed.quarantine.csv")).expect("still bad");
    let mut lines = still_bad.lines();
    assert_eq!(lines.next(), Some("_line,_reason,id,price"));
    let row = lines.next().expect("one row");
    assert!(
        row.starts_with("5,") && row.contains("decimal(8,2)") && row.ends_with(",4,abc"),
        "{row}"
    );
    assert_eq!(lines.next(), None);
    let bytes = std::fs::read(&replayed).expect("replayed");
    let second = replay();
    assert_eq!(second["rows_out"], first["rows_out"]);
    assert_eq!(
        std::fs::read(&replayed).expect("replayed").len(),
        bytes.len()
    );
}
