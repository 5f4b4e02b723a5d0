//! `tributary replay QUARANTINE.csv OUT.parquet --registry DIR --dataset NAME`: quarantined rows typed again by
//! their dataset's current schema version; the csv-to-parquet core's replay on local files.

use crate::output::{AtomicFile, error};
use chrono::Utc;
use csv_to_parquet::registry::local::LocalStore;
use csv_to_parquet::registry::{Policy, Registration};
use csv_to_parquet::replay::unwrap;
use csv_to_parquet::{Codec, ConvertError, Options, convert};
use serde_json::json;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tributary replay /tmp/order_lines.quarantine.csv /tmp/order_lines.replayed.parquet --registry /tmp/tributary-registry --dataset order_lines

Rows that now fit go to OUT; rows that still do not go to OUT with `.quarantine.csv` instead of its extension, with
fresh reasons and their original line numbers. Replaying the same file again writes the same output.
Exit codes: 0 replayed, 1 error, 4 the dataset's schema refuses the rows' columns.")]
pub struct Args {
    /// A quarantine CSV written by `tributary convert` or csv-to-parquet (`_line,_reason,<columns…>`).
    input: PathBuf,
    /// Output Parquet file (written atomically).
    output: PathBuf,
    /// The schema registry directory.
    #[arg(long)]
    registry: PathBuf,
    /// The dataset the rows belong to.
    #[arg(long)]
    dataset: String,
    /// How the columns are compressed, as for `tributary convert`: snappy, zstd (level 1), zstd:<1-22> or none.
    #[arg(long, default_value_t = Codec::default())]
    compression: Codec,
}

pub fn run(args: &Args) -> ExitCode {
    match execute(args) {
        Ok(code) => code,
        Err(message) => {
            error(&message);
            ExitCode::FAILURE
        }
    }
}

fn execute(args: &Args) -> Result<ExitCode, String> {
    let quarantine = args.output.with_extension("quarantine.csv");
    let same = |a: &std::path::Path, b: &std::path::Path| {
        a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    };
    if same(&args.output, &args.input) || same(&quarantine, &args.input) {
        return Err(format!(
            "{} would overwrite the quarantine being replayed; choose another OUT",
            args.output.display()
        ));
    }
    let file = File::open(&args.input)
        .map_err(|e| format!("cannot open {}: {e}", args.input.display()))?;
    let unwrapped = unwrap(file).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let mut opts = Options::new(args.input.to_string_lossy(), Utc::now());
    opts.registration = Some(Registration {
        dataset: args.dataset.clone(),
        store: Arc::new(LocalStore::new(&args.registry)),
        policy: Policy::default(),
    });
    opts.compression = args.compression;
    let mut output = AtomicFile::create(&args.output)
        .map_err(|e| format!("cannot create {}: {e}", args.output.display()))?;
    let mut still_bad = Vec::new();
    let summary = match convert(unwrapped.csv.as_slice(), &mut output, &mut still_bad, &opts) {
        Ok(summary) => summary,
        Err(ConvertError::Registry(e)) if e.is_incompatible() => {
            crate::commands::schema::incompatible(&e);
            return Ok(ExitCode::from(crate::commands::schema::INCOMPATIBLE));
        }
        Err(e) => return Err(format!("{}: {e}", args.input.display())),
    };
    if still_bad.is_empty() {
        let _ = std::fs::remove_file(&quarantine);
    } else {
        let restored = unwrapped
            .restore_lines(&still_bad)
            .map_err(|e| format!("{}: {e}", args.input.display()))?;
        std::fs::write(&quarantine, restored)
            .map_err(|e| format!("cannot write {}: {e}", quarantine.display()))?;
    }
    output
        .commit()
        .map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    let report = json!({
        "rows_in": summary.rows_in,
        "rows_out": summary.rows_out,
        "rows_rejected": summary.rows_rejected,
        "output": args.output.display().to_string(),
        "quarantine": (!still_bad.is_empty()).then(|| quarantine.display().to_string()),
        "dataset": args.dataset,
        "schema_version": summary.schema_version,
    });
    writeln!(std::io::stdout().lock(), "{report}")
        .map_err(|e| format!("cannot write summary: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
