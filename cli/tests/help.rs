//! `--help` teaches: the top-level help says which function each subcommand mirrors, and every subcommand's
//! help ends with examples that run as written (from the workspace root).

mod common;

use common::*;
use std::process::Command;
use tributary_testkit::{Postgres, unique_database};

/// The example command lines of `tributary COMMAND --help`, as argument lists after `tributary`.
fn examples(command: &str) -> Vec<Vec<String>> {
    let mut argv: Vec<&str> = command.split_whitespace().collect();
    argv.push("--help");
    let out = tributary(&argv);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let (_, after) = text
        .split_once("Examples:\n")
        .unwrap_or_else(|| panic!("{command} --help has no examples:\n{text}"));
    let lines: Vec<Vec<String>> = after
        .lines()
        .take_while(|l| l.starts_with("  tributary "))
        .map(|l| l.split_whitespace().skip(1).map(str::to_owned).collect())
        .collect();
    assert!(!lines.is_empty(), "{command}: no example lines");
    lines
}

fn run(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("tributary runs")
}

#[test]
fn the_top_level_help_names_the_function_behind_each_subcommand() {
    let out = tributary(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for (command, function) in [
        ("convert", "csv-to-parquet"),
        ("validate-order", "order-validator"),
        ("normalize", "kinesis-normalizer"),
        ("load", "redshift-loader"),
        ("schema", "schema registry"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(command) && l.contains(function)),
            "{command} -> {function} in:\n{text}"
        );
    }
}

#[test]
fn every_offline_example_runs_as_written() {
    // replay takes the quarantine and the registry the convert examples leave behind.
    for command in ["convert", "replay", "normalize", "validate-order"] {
        for args in examples(command) {
            let out = run(&args);
            let invalid_order = args.iter().any(|a| a.ends_with("order-invalid.json"));
            assert_eq!(
                out.status.code(),
                Some(if invalid_order { 3 } else { 0 }),
                "tributary {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn the_schema_examples_run_as_written() {
    // Registered first, then checked against and shown.
    for sub in ["push", "check", "show"] {
        for args in examples(&format!("schema {sub}")) {
            let out = run(&args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "tributary {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn the_load_examples_run_against_a_warehouse() {
    let url = Postgres::shared().create_database(&unique_database("help"));
    // The file the load examples name is the convert example's output.
    let convert = examples("convert").remove(0);
    assert!(run(&convert).status.success());
    for mut args in examples("load") {
        for a in &mut args {
            if a.starts_with("postgres://") {
                a.clone_from(&url);
            }
        }
        let out = run(&args);
        assert!(
            out.status.success(),
            "tributary {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
