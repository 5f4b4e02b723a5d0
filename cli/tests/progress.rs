//! Progress is for people at a terminal: under a pseudo-terminal `convert` shows it on stderr and clears it;
//! piped, and with `--quiet`, nothing but the JSON summary is printed, byte for byte as before.

mod common;

use common::*;
use std::process::Command;

/// A CSV large enough to take a moment, in a temporary directory.
fn input(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("big.csv");
    let mut csv = String::from("id,name,amount\n");
    for i in 0..200_000 {
        csv.push_str(&format!("{i},customer-{i},{}.{:02}\n", i % 997, i % 100));
    }
    std::fs::write(&path, csv).expect("write");
    path
}

/// Runs `tributary ARGS` under `script`, which gives it a terminal; returns all it printed there.
fn at_a_terminal(args: &[&str]) -> String {
    let command = std::iter::once(env!("CARGO_BIN_EXE_tributary"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("COLUMNS", "160")
        .output()
        .expect("script runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn piped_output_is_the_json_summary_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = input(dir.path());
    let out = tributary(&["convert", s(&csv), s(&dir.path().join("piped.parquet"))]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(stdout.lines().count(), 1);
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON line");
    assert_eq!(summary["rows_out"], 200_000);
}

#[test]
fn a_terminal_sees_progress_and_quiet_turns_it_off() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = input(dir.path());
    let shown = at_a_terminal(&["convert", s(&csv), s(&dir.path().join("a.parquet"))]);
    assert!(shown.contains("converting"), "{shown}");
    assert!(shown.contains("rows"), "{shown}");
    assert!(
        shown.contains("\"rows_out\":200000"),
        "the summary follows: {shown}"
    );

    let quiet = at_a_terminal(&[
        "convert",
        "--quiet",
        s(&csv),
        s(&dir.path().join("b.parquet")),
    ]);
    assert!(!quiet.contains("converting"), "{quiet}");
    assert!(quiet.contains("\"rows_out\":200000"), "{quiet}");
}
