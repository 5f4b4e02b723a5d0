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
    let run = tributary(&[
        "convert",
        s(&data),
        s(&out),
        "--schema",
        s(&schema),
        "--quarantine",
        s(&quarantine),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
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
