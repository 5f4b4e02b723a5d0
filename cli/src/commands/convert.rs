//! `tributary convert IN.csv[.gz] OUT.parquet`: the csv-to-parquet core on local files.

use crate::output::{AtomicFile, LazyFile, error};
use crate::progress::{self, Unit};
use chrono::Utc;
use csv_to_parquet::registry::compat::Compatibility;
use csv_to_parquet::registry::local::LocalStore;
use csv_to_parquet::registry::{Evolution, Policy, Registration, RegistryError};
use csv_to_parquet::{
    Codec, ConvertError, Options, QualityGateError, Schema, Summary, convert, quality_gate,
};
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
  tributary convert events/data/order_lines.csv /tmp/order_lines.zstd.parquet --compression zstd
  tributary convert events/data/order_lines.csv /tmp/order_lines.v.parquet --registry /tmp/tributary-registry --dataset order_lines
  tributary convert events/data /tmp/tributary-converted --jobs 2 --max-reject-ratio 0.05

Exit codes: 0 converted, 1 error, 2 quality gate failed (no output; the rejected rows are in the quarantine),
4 the file's schema is a change the dataset's compatibility refuses (nothing written). With several inputs the
worst of the files' outcomes (1, then 4, then 2), and one summary of them all.")]
pub struct Args {
    /// Input CSV, plain or gzip (detected from the bytes); `-` reads stdin. A directory (its .csv and .csv.gz
    /// files) or a quoted glob (`'raw/**/*.csv'`) converts every file it names, OUT then being a directory.
    pub(crate) input: PathBuf,
    /// Output Parquet file (written atomically: it appears only when the conversion succeeds), or the output
    /// directory for several inputs.
    pub(crate) output: PathBuf,
    /// Schema file: {"columns": [{"name", "type", "nullable"}]}. Without it, types are inferred.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Where rejected rows go [default: OUT with `.quarantine.csv` instead of its extension]. Created only when
    /// a row is rejected. Not with several inputs: each file's goes beside its output.
    #[arg(long)]
    pub(crate) quarantine: Option<PathBuf>,
    /// Fail (exit 2, no output) when rejected / total rows exceeds this.
    #[arg(long, default_value_t = 0.02, value_parser = parse_ratio)]
    pub(crate) max_reject_ratio: f64,
    /// With several inputs: how many files convert at once (the CPUs are shared among them).
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) jobs: u16,
    /// Typing threads per file; encoding takes one lane more on a machine with more than one CPU (as many with
    /// --jobs above 1) [default: one per two CPUs, shared among --jobs].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Rows sampled for type inference.
    #[arg(long, default_value_t = 10_000)]
    sample_rows: usize,
    /// How the columns are compressed: snappy, zstd (level 1), zstd:<1-22> (smaller, slower) or none. A numeric
    /// column the codec would not shrink (random measurements) is left uncompressed either way.
    #[arg(long, default_value_t = Codec::default())]
    compression: Codec,
    /// No progress display (it is shown on stderr only when stderr is a terminal).
    #[arg(long, short)]
    quiet: bool,
    /// A schema registry directory: the file is typed by its dataset's registered schema version (the first file
    /// registers version 1; new columns register the next version). Needs --dataset.
    #[arg(long, requires = "dataset")]
    registry: Option<PathBuf>,
    /// The dataset the file belongs to, in --registry.
    #[arg(long, requires = "registry")]
    pub(crate) dataset: Option<String>,
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
pub(crate) const GATE_FAILED: u8 = 2;

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

/// The options every input shares: schema, registry, sampling.
fn base_options(args: &Args) -> Result<Options, String> {
    let mut opts = Options::new(args.input.to_string_lossy(), Utc::now());
    opts.sample_rows = args.sample_rows;
    opts.compression = args.compression;
    opts.threads = match args.threads {
        Some(n) => usize::from(n),
        None => (opts.threads() / usize::from(args.jobs)).max(1),
    };
    // Files converted side by side share the CPUs: each encodes in as many lanes as it has typing workers (its
    // encoding thread being one), not one more.
    if args.jobs > 1 {
        opts.lanes = opts.threads;
    }
    if let Some(path) = &args.schema {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read schema {}: {e}", path.display()))?;
        opts.schema =
            Some(Schema::from_json(&bytes).map_err(|e| format!("schema {}: {e}", path.display()))?);
    }
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
    Ok(opts)
}

/// What one file's conversion came to.
pub(crate) enum Converted {
    /// Converted; the output exists unless the gate failed. `quarantine` is set when a row was rejected.
    Done {
        summary: Summary,
        gate: Result<(), QualityGateError>,
        quarantine: Option<PathBuf>,
    },
    /// The file's schema is a change its dataset refuses; nothing was written.
    Incompatible(Box<RegistryError>),
}

/// Converts one input into `output` (appearing only when the conversion and the gate pass) and `quarantine`
/// (created only when a row is rejected).
pub(crate) fn convert_file(
    input: impl Read,
    output: &Path,
    quarantine: PathBuf,
    opts: &Options,
    max_reject_ratio: f64,
) -> Result<Converted, String> {
    let mut out = AtomicFile::create(output)
        .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let mut quarantine = LazyFile::new(quarantine);
    let summary = match convert(input, &mut out, &mut quarantine, opts) {
        Ok(summary) => summary,
        Err(ConvertError::Registry(e)) if e.is_incompatible() => {
            return Ok(Converted::Incompatible(e));
        }
        Err(e) => return Err(e.to_string()),
    };
    quarantine
        .flush()
        .map_err(|e| format!("cannot write {}: {e}", quarantine.path().display()))?;
    let gate = quality_gate(&summary, max_reject_ratio);
    if gate.is_ok() {
        out.commit()
            .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    }
    Ok(Converted::Done {
        summary,
        gate,
        quarantine: quarantine
            .created()
            .then(|| quarantine.path().to_path_buf()),
    })
}

fn execute(args: &Args) -> Result<ExitCode, String> {
    if let Some(inputs) = super::convert_many::inputs(&args.input)? {
        let opts = base_options(args)?;
        return super::convert_many::run(args, &opts, inputs);
    }
    let mut opts = base_options(args)?;
    let (input, size): (Box<dyn Read>, Option<u64>) = if args.input.as_os_str() == "-" {
        (Box::new(io::stdin().lock()), None)
    } else {
        let file = File::open(&args.input)
            .map_err(|e| format!("cannot open {}: {e}", args.input.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let rows = Arc::new(AtomicU64::new(0));
    opts.rows_read = Some(Arc::clone(&rows));
    let bar = progress::bar("converting", Unit::Bytes, size, rows, args.quiet);
    let quarantine_path = args
        .quarantine
        .clone()
        .unwrap_or_else(|| default_quarantine(&args.output));
    let converted = convert_file(
        bar.wrap_read(input),
        &args.output,
        quarantine_path.clone(),
        &opts,
        args.max_reject_ratio,
    );
    bar.finish_and_clear();
    let (summary, gate, quarantine) =
        match converted.map_err(|e| format!("{}: {e}", args.input.display()))? {
            Converted::Done {
                summary,
                gate,
                quarantine,
            } => (summary, gate, quarantine),
            Converted::Incompatible(e) => {
                crate::commands::schema::incompatible(&e);
                return Ok(ExitCode::from(crate::commands::schema::INCOMPATIBLE));
            }
        };
    let report = json!({
        "rows_in": summary.rows_in,
        "rows_out": summary.rows_out,
        "rows_rejected": summary.rows_rejected,
        "bytes_in": summary.bytes_in,
        "bytes_out": if gate.is_ok() { summary.bytes_out } else { 0 },
        "output": gate.is_ok().then(|| args.output.display().to_string()),
        "quarantine": quarantine.map(|q| q.display().to_string()),
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
                quarantine_path.display()
            ));
            Ok(ExitCode::from(GATE_FAILED))
        }
    }
}
