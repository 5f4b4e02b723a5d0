//! `tributary convert DIR|'GLOB' OUTDIR [--jobs N]`: every CSV a directory holds or a glob names, converted on
//! this machine the way csv-to-parquet converts a backfill, with one summary of them all.

use super::convert::{Args, Converted, GATE_FAILED, convert_file};
use crate::output::error;
use csv_to_parquet::Options;
use serde_json::{Value, json};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The inputs `input` names when it is a directory (its `.csv` and `.csv.gz` files, sorted) or a glob;
/// `None` for one file (or `-`).
pub fn inputs(input: &Path) -> Result<Option<Vec<PathBuf>>, String> {
    let text = input.to_string_lossy();
    let mut found: Vec<PathBuf> = if input.is_dir() {
        std::fs::read_dir(input)
            .map_err(|e| format!("cannot read {}: {e}", input.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect()
    } else if text.contains(['*', '?', '[']) && !input.exists() {
        glob::glob(&text)
            .map_err(|e| format!("{text}: not a valid glob: {e}"))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect()
    } else {
        return Ok(None);
    };
    found.retain(|p| is_csv(p));
    found.sort();
    if found.is_empty() {
        return Err(format!("{text} names no .csv or .csv.gz file"));
    }
    Ok(Some(found))
}

fn is_csv(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".csv") || name.ends_with(".csv.gz")
}

/// `a.csv` and `a.csv.gz` both become `a`.
fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let cut = if lower.ends_with(".csv.gz") { 7 } else { 4 };
    name[..name.len() - cut].to_owned()
}

/// Converts `inputs` into `args.output` (a directory), `args.jobs` at a time, and prints one summary.
pub fn run(args: &Args, base: &Options, inputs: Vec<PathBuf>) -> Result<ExitCode, String> {
    if args.quarantine.is_some() {
        return Err("--quarantine names one file; with several inputs each file's quarantine goes beside its output".into());
    }
    // Two inputs with one name would overwrite each other's output: refused before anything is written.
    let mut seen = std::collections::HashMap::new();
    for input in &inputs {
        if let Some(other) = seen.insert(stem(input), input) {
            return Err(format!(
                "{} and {} would both write {}.parquet",
                other.display(),
                input.display(),
                stem(input)
            ));
        }
    }
    std::fs::create_dir_all(&args.output)
        .map_err(|e| format!("cannot create {}: {e}", args.output.display()))?;

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Value, u8)>> = Mutex::new(Vec::with_capacity(inputs.len()));
    let jobs = usize::from(args.jobs).min(inputs.len());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let (entry, code) = one(args, base, input);
                    results
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((i, entry, code));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _, _)| *i);

    let count = |status: &str| {
        results
            .iter()
            .filter(|(_, e, _)| e["status"] == status)
            .count()
    };
    let total = |field: &str, written_only: bool| -> u64 {
        results
            .iter()
            .filter(|(_, e, _)| !written_only || e["status"] == "converted")
            .filter_map(|(_, e, _)| e[field].as_u64())
            .sum()
    };
    let summary = json!({
        "files": results.len(),
        "converted": count("converted"),
        "gate_failed": count("gate_failed"),
        "incompatible": count("incompatible"),
        "failed": count("failed"),
        "rows_in": total("rows_in", false),
        // Rows written: a file past its failed gate wrote none.
        "rows_out": total("rows_out", true),
        "rows_rejected": total("rows_rejected", false),
        "dataset": args.dataset,
        "results": results.iter().map(|(_, e, _)| e).collect::<Vec<_>>(),
    });
    writeln!(std::io::stdout().lock(), "{summary}")
        .map_err(|e| format!("cannot write summary: {e}"))?;
    // The worst outcome decides: an error, then a refused schema, then a failed gate.
    let codes: Vec<u8> = results.iter().map(|(_, _, c)| *c).collect();
    let worst = [1, crate::commands::schema::INCOMPATIBLE, GATE_FAILED]
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(0);
    Ok(ExitCode::from(worst))
}

/// One input's conversion: its summary entry and its exit code.
fn one(args: &Args, base: &Options, input: &Path) -> (Value, u8) {
    let output = args.output.join(format!("{}.parquet", stem(input)));
    let quarantine = args.output.join(format!("{}.quarantine.csv", stem(input)));
    let mut opts = base.clone();
    opts.source_key = input.to_string_lossy().into_owned();
    let converted = File::open(input)
        .map_err(|e| format!("cannot open {}: {e}", input.display()))
        .and_then(|file| convert_file(file, &output, quarantine, &opts, args.max_reject_ratio));
    let name = input.display().to_string();
    match converted {
        Ok(Converted::Done {
            summary,
            gate,
            quarantine,
        }) => {
            let mut entry = json!({
                "input": name,
                "status": if gate.is_ok() { "converted" } else { "gate_failed" },
                "rows_in": summary.rows_in,
                "rows_out": summary.rows_out,
                "rows_rejected": summary.rows_rejected,
                "output": gate.is_ok().then(|| output.display().to_string()),
                "quarantine": quarantine.map(|q| q.display().to_string()),
                "schema_version": summary.schema_version,
            });
            match gate {
                Ok(()) => (entry, 0),
                Err(e) => {
                    error(&format_args!("{name}: {e}; no output written"));
                    entry["error"] = json!(e.to_string());
                    (entry, GATE_FAILED)
                }
            }
        }
        Ok(Converted::Incompatible(e)) => {
            crate::commands::schema::incompatible(&e);
            let entry = json!({"input": name, "status": "incompatible", "error": e.to_string()});
            (entry, crate::commands::schema::INCOMPATIBLE)
        }
        Err(e) => {
            error(&format_args!("{name}: {e}"));
            (json!({"input": name, "status": "failed", "error": e}), 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_csv_and_csv_gz_in_any_case() {
        assert_eq!(stem(Path::new("raw/a.b.csv")), "a.b");
        assert_eq!(stem(Path::new("raw/A.CSV.GZ")), "A");
        assert!(is_csv(Path::new("x.Csv")) && !is_csv(Path::new("x.json")));
    }
}
