//! `tributary convert IN.csv[.gz] OUT.parquet`: the csv-to-parquet core on local files.

use crate::output::{AtomicFile, LazyFile, error};
use crate::progress::{self, Unit};
use chrono::Utc;
use csv_to_parquet::registry::compat::Compatibility;
use csv_to_parquet::registry::local::LocalStore;
use csv_to_parquet::registry::{Evolution, Policy, Registration};
use csv_to_parquet::{ConvertError, Options, Schema, convert, quality_gate};
use serde_json::json;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tributary convert events/data/order_lines.csv /tmp/order_lines.parquet --schema events/data/order_lines.schema.json
  tributary convert events/data/order_lines.csv /tmp/inferred.parquet --quarantine /tmp/rejected.csv --max-reject-ratio 0.05
  tributary convert events/data/order_lines.csv /tmp/order_lines.v.parquet --registry /tmp/tributary-registry --dataset order_lines

Exit codes: 0 converted, 1 error, 2 quality gate failed (no output; the rejected rows are in the quarantine),
4 the file's schema is a change the dataset's compatibility refuses (nothing written).")]
pub struct Args {
    /// Input CSV, plain or gzip (detected from the bytes); `-` reads stdin.
    input: PathBuf,
    /// Output Parquet file (written atomically: it appears only when the conversion succeeds).
    output: PathBuf,
    /// Schema file: {"columns": [{"name", "type", "nullable"}]}. Without it, types are inferred.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Where rejected rows go [default: OUT with `.quarantine.csv` instead of its extension]. Created only when
    /// a row is rejected.
    #[arg(long)]
    quarantine: Option<PathBuf>,
    /// Fail (exit 2, no output) when rejected / total rows exceeds this.
    #[arg(long, default_value_t = 0.02, value_parser = parse_ratio)]
    max_reject_ratio: f64,
    /// Rows sampled for type inference.
    #[arg(long, default_value_t = 10_000)]
    sample_rows: usize,
    /// No progress display (it is shown on stderr only when stderr is a terminal).
    #[arg(long, short)]
    quiet: bool,
    /// A schema registry directory: the file is typed by its dataset's registered schema version (the first file
    /// registers version 1; new columns register the next version). Needs --dataset.
    #[arg(long, requires = "dataset")]
    registry: Option<PathBuf>,
    /// The dataset the file belongs to, in --registry.
    #[arg(long, requires = "registry")]
    dataset: Option<String>,
    /// What a file with columns the registered version lacks does: add-columns (as nullable) or none (exit 4).
    #[arg(long, default_value = "add-columns", requires = "registry")]
    schema_evolution: Evolution,
    /// The compatibility mode a new dataset is registered with (BACKWARD, FULL or NONE).
    #[arg(long, default_value = "BACKWARD", requires = "registry")]
    compatibility: Compatibility,
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err("must be between 0 and 1".into())
    }
}

/// Exit code when the quality gate fails.
const GATE_FAILED: u8 = 2;

pub fn run(args: &Args) -> ExitCode {
    match execute(args) {
        Ok(code) => code,
        Err(message) => {
            error(&message);
            ExitCode::FAILURE
        }
    }
}

fn default_quarantine(output: &Path) -> PathBuf {
    output.with_extension("quarantine.csv")
}

fn execute(args: &Args) -> Result<ExitCode, String> {
    let mut opts = Options::new(args.input.to_string_lossy(), Utc::now());
    opts.sample_rows = args.sample_rows;
    if let Some(path) = &args.schema {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read schema {}: {e}", path.display()))?;
        opts.schema =
            Some(Schema::from_json(&bytes).map_err(|e| format!("schema {}: {e}", path.display()))?);
    }
    let (input, size): (Box<dyn Read>, Option<u64>) = if args.input.as_os_str() == "-" {
        (Box::new(io::stdin().lock()), None)
    } else {
        let file = File::open(&args.input)
            .map_err(|e| format!("cannot open {}: {e}", args.input.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    if let (Some(registry), Some(dataset)) = (&args.registry, &args.dataset) {
        opts.registration = Some(Registration {
            dataset: dataset.clone(),
            store: Arc::new(LocalStore::new(registry)),
            policy: Policy {
                compatibility: args.compatibility,
                evolution: args.schema_evolution,
            },
        });
    }
    let rows = Arc::new(AtomicU64::new(0));
    opts.rows_read = Some(Arc::clone(&rows));
    let bar = progress::bar("converting", Unit::Bytes, size, rows, args.quiet);
    let input = bar.wrap_read(input);
    let mut output = AtomicFile::create(&args.output)
        .map_err(|e| format!("cannot create {}: {e}", args.output.display()))?;
    let mut quarantine = LazyFile::new(
        args.quarantine
            .clone()
            .unwrap_or_else(|| default_quarantine(&args.output)),
    );

    let summary = convert(input, &mut output, &mut quarantine, &opts);
    bar.finish_and_clear();
    let summary = match summary {
        Ok(summary) => summary,
        Err(ConvertError::Registry(e)) if e.is_incompatible() => {
            crate::commands::schema::incompatible(&e);
            return Ok(ExitCode::from(crate::commands::schema::INCOMPATIBLE));
        }
        Err(e) => return Err(format!("{}: {e}", args.input.display())),
    };
    quarantine
        .flush()
        .map_err(|e| format!("cannot write {}: {e}", quarantine.path().display()))?;
    let gate = quality_gate(&summary, args.max_reject_ratio);
    if gate.is_ok() {
        output
            .commit()
            .map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    }
    let report = json!({
        "rows_in": summary.rows_in,
        "rows_out": summary.rows_out,
        "rows_rejected": summary.rows_rejected,
        "bytes_in": summary.bytes_in,
        "bytes_out": if gate.is_ok() { summary.bytes_out } else { 0 },
        "output": gate.is_ok().then(|| args.output.display().to_string()),
        "quarantine": quarantine.created().then(|| quarantine.path().display().to_string()),
        "schema_source": summary.schema_source,
        "columns": summary.columns,
        "ignored_columns": summary.ignored_columns,
        "dataset": args.dataset,
        "schema_version": summary.schema_version,
        "rejected_by_column": summary.rejected_by_column,
    });
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{report}").map_err(|e| format!("cannot write summary: {e}"))?;
    match gate {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            error(&format_args!(
                "{e}; no output written; rejected rows are in {}",
                quarantine.path().display()
            ));
            Ok(ExitCode::from(GATE_FAILED))
        }
    }
}
