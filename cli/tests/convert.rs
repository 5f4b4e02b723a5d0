//! `tributary convert` end to end: the real binary on real files, its exit codes and what it leaves on disk.

mod common;

use common::*;

use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn summary(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "summary JSON on stdout ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn parquet_rows(path: &Path) -> i64 {
    let file = std::fs::File::open(path).expect("output exists");
    SerializedFileReader::new(file)
        .expect("valid parquet")
        .metadata()
        .file_metadata()
        .num_rows()
}

#[test]
fn converts_with_a_schema_and_writes_the_quarantine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("lines.parquet");
    let quarantine = dir.path().join("bad.csv");
    let data = root().join("events/data/order_lines.csv");
    let schema = root().join("events/data/order_lines.schema.json");
    let run = tributary_ok(&[
        "convert",
        s(&data),
        s(&out),
        "--schema",
        s(&schema),
        "--quarantine",
        s(&quarantine),
    ]);
    let sum = summary(&run);
    assert_eq!(
        (
            sum["rows_in"].as_u64(),
            sum["rows_out"].as_u64(),
            sum["rows_rejected"].as_u64()
        ),
        (Some(209), Some(205), Some(4))
    );
    assert_eq!(parquet_rows(&out), 205);
    let q = std::fs::read_to_string(&quarantine).expect("quarantine written");
    assert_eq!(q.lines().count(), 5, "header and four rejected rows");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        2,
        "no temporary files left behind"
    );
}

#[test]
fn the_quality_gate_exits_2_and_writes_no_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "n\n1\nx\n2\n").expect("write input");
    let schema = dir.path().join("s.json");
    std::fs::write(&schema, r#"{"columns":[{"name":"n","type":"int64"}]}"#).expect("write schema");
    let out = dir.path().join("out.parquet");
    let run = tributary(&[
        "convert",
        s(&input),
        s(&out),
        "--schema",
        s(&schema),
        "--max-reject-ratio",
        "0.1",
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(summary(&run)["rows_rejected"].as_u64(), Some(1));
    assert!(!out.exists(), "no output when the gate fails");
    assert!(
        dir.path().join("out.quarantine.csv").exists(),
        "the default quarantine sits beside the output"
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("quality gate failed"));
}

#[test]
fn errors_exit_1_with_one_line_and_no_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.parquet");
    for (input, expected) in [
        (dir.path().join("missing.csv"), "cannot open"),
        (
            {
                let p = dir.path().join("empty.csv");
                std::fs::write(&p, "").expect("write");
                p
            },
            "empty",
        ),
        (
            {
                let p = dir.path().join("latin1.csv");
                std::fs::write(&p, b"caf\xe9\n1\n").expect("write");
                p
            },
            "UTF-8",
        ),
    ] {
        let run = tributary(&["convert", s(&input), s(&out)]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked"));
        assert!(!out.exists());
    }
}

#[test]
fn reads_gzip_from_stdin() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.parquet");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"a,b\n1,x\n2,y\n").expect("gzip");
    let body = gz.finish().expect("gzip");
    let run = tributary_with_stdin(&["convert", "-", s(&out)], &body);
    assert!(run.status.success());
    assert_eq!(summary(&run)["rows_out"].as_u64(), Some(2));
    assert_eq!(parquet_rows(&out), 2);
}

/// A directory of inputs: two good files (one gzip), one that fails its gate, and a file that is not CSV.
fn inputs_dir() -> tempfile::TempDir {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a.csv"), "id,qty\n1,2\n2,3\n").expect("write");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"id,qty\n3,4\n").expect("gzip");
    std::fs::write(dir.path().join("b.csv.gz"), gz.finish().expect("gzip")).expect("write");
    std::fs::write(dir.path().join("c.csv"), "id,qty\n4,5\n5,x\n6,y,z\n").expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not an input").expect("write");
    dir
}

#[test]
fn a_directory_converts_every_csv_in_it_with_one_summary_and_the_worst_exit_code() {
    let inputs = inputs_dir();
    let out = tempfile::tempdir().expect("temp dir");
    let outdir = out.path().join("converted");
    let run = tributary(&["convert", s(inputs.path()), s(&outdir), "--jobs", "2"]);
    assert_eq!(
        run.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let sum = summary(&run);
    assert_eq!(
        (
            sum["files"].as_u64(),
            sum["converted"].as_u64(),
            sum["gate_failed"].as_u64(),
            sum["failed"].as_u64()
        ),
        (Some(3), Some(2), Some(1), Some(0))
    );
    assert_eq!(
        (
            sum["rows_in"].as_u64(),
            sum["rows_out"].as_u64(),
            sum["rows_rejected"].as_u64()
        ),
        (Some(6), Some(3), Some(1))
    );
    let statuses: Vec<(&str, &str)> = sum["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let input = r["input"].as_str().unwrap_or_default();
            (
                input.rsplit('/').next().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("a.csv", "converted"),
            ("b.csv.gz", "converted"),
            ("c.csv", "gate_failed")
        ]
    );
    assert_eq!(parquet_rows(&outdir.join("a.parquet")), 2);
    assert_eq!(parquet_rows(&outdir.join("b.parquet")), 1);
    assert!(
        !outdir.join("c.parquet").exists(),
        "no output past a failed gate"
    );
    assert!(outdir.join("c.quarantine.csv").exists());
}

#[test]
fn a_glob_names_the_inputs_and_two_files_with_one_name_are_refused_before_anything_is_written() {
    let inputs = inputs_dir();
    let out = tempfile::tempdir().expect("temp dir");
    let pattern = format!("{}/[ab].csv*", inputs.path().display());
    let run = tributary(&["convert", &pattern, s(out.path()), "-j", "2"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(summary(&run)["converted"], 2);

    let nested = tempfile::tempdir().expect("temp dir");
    for sub in ["x", "y"] {
        std::fs::create_dir(nested.path().join(sub)).expect("mkdir");
        std::fs::write(nested.path().join(sub).join("same.csv"), "id\n1\n").expect("write");
    }
    let target = out.path().join("collide");
    let run = tributary(&[
        "convert",
        &format!("{}/*/same.csv", nested.path().display()),
        s(&target),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("would both write same.parquet"));
    assert!(!target.exists());
}

#[test]
fn files_of_one_dataset_converted_at_once_share_its_registry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).expect("mkdir");
    std::fs::write(inputs.join("x.csv"), "id,qty\n1,2\n").expect("write");
    std::fs::write(inputs.join("y.csv"), "id,qty,channel\n2,3,web\n").expect("write");
    let registry = dir.path().join("registry");
    let outdir = dir.path().join("out");
    let run = tributary(&[
        "convert",
        s(&inputs),
        s(&outdir),
        "--jobs",
        "2",
        "--registry",
        s(&registry),
        "--dataset",
        "d",
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let show = tributary(&[
        "schema",
        "show",
        "--registry",
        s(&registry),
        "--dataset",
        "d",
    ]);
    let newest: Value = serde_json::from_slice(&show.stdout).expect("version");
    let names: Vec<&str> = newest["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names.contains(&"channel") && names.contains(&"qty"),
        "{names:?}"
    );
}
