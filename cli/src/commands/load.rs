//! `tributary load --warehouse postgres://… --table SCHEMA.TABLE FILE.parquet…`: the redshift-loader's
//! PostgreSQL backend on local files.

use crate::output::error;
use crate::progress::{self, Unit};
use redshift_loader::postgres::{ParquetData, SourceFile, connect, load};
use redshift_loader::sql::{Mode, TableName};
use serde_json::json;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tributary_shared::hash::Hasher;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tributary load --warehouse postgres://postgres@127.0.0.1:5432/postgres --table analytics.order_lines /tmp/order_lines.parquet
  tributary load --warehouse postgres://postgres@127.0.0.1:5432/postgres --table analytics.order_lines --mode merge --merge-key order_id --merge-key line_no /tmp/order_lines.parquet

Loading a file again is a no-op: the ledger (tributary_load_ledger beside the table) knows it by path and content.")]
pub struct Args {
    /// PostgreSQL connection URL, e.g. postgres://user@127.0.0.1:5432/db.
    #[arg(long)]
    warehouse: String,
    /// Target table, TABLE or SCHEMA.TABLE; created from the Parquet schema when it does not exist.
    #[arg(long)]
    table: String,
    /// append (default), merge (needs --merge-key) or replace.
    #[arg(long, default_value = "append")]
    mode: String,
    /// A column identifying a row for merge; repeat for composite keys.
    #[arg(long = "merge-key")]
    merge_keys: Vec<String>,
    /// Parquet files. Each is recorded in the ledger by path and content hash: loading it again is a no-op.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// No progress display (it is shown on stderr only when stderr is a terminal).
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: &Args) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error(&message);
            ExitCode::FAILURE
        }
    }
}

/// The file's identity in the ledger: its absolute path and a hash of its content (the local ETag).
fn source(path: &PathBuf) -> Result<SourceFile, String> {
    let absolute =
        std::fs::canonicalize(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut file = std::fs::File::open(&absolute)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut hasher = Hasher::default();
    let mut buf = vec![0_u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let etag = hasher.finish_hex(16);
    let file = std::fs::File::open(&absolute)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok(SourceFile {
        url: format!("file://{}", absolute.display()),
        etag,
        data: ParquetData::File(file),
    })
}

/// The rows a Parquet file holds, from its footer.
fn rows_of(file: &SourceFile) -> Option<u64> {
    let ParquetData::File(f) = &file.data else {
        return None;
    };
    let reader =
        parquet::file::serialized_reader::SerializedFileReader::new(f.try_clone().ok()?).ok()?;
    u64::try_from(
        parquet::file::reader::FileReader::metadata(&reader)
            .file_metadata()
            .num_rows(),
    )
    .ok()
}

fn execute(args: &Args) -> Result<(), String> {
    let table = TableName::parse(&args.table).map_err(|e| e.to_string())?;
    let mode = Mode::parse(Some(&args.mode), &args.merge_keys).map_err(|e| e.to_string())?;
    let files = args
        .files
        .iter()
        .map(source)
        .collect::<Result<Vec<_>, _>>()?;
    let load_id = format!("cli{}", chrono::Utc::now().format("%Y%m%d%H%M%S%f"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    // The bar's total is every row of the files; rows of files already in the ledger are never sent.
    let total: u64 = files.iter().filter_map(rows_of).sum();
    let sent = Arc::new(AtomicU64::new(0));
    let bar = progress::bar(
        "loading",
        Unit::Rows,
        Some(total),
        Arc::clone(&sent),
        args.quiet,
    );
    progress::follow(&bar, Arc::clone(&sent));
    let loaded = runtime.block_on(async {
        let mut client = connect(&args.warehouse).await?;
        load(&mut client, &table, &mode, &files, &load_id, Some(&sent)).await
    });
    bar.finish_and_clear();
    let loaded = loaded.map_err(|e| format!("load into {} failed: {e}", args.table))?;
    let summary = json!({"files_loaded": loaded.files_loaded, "files_skipped": loaded.files_skipped, "rows_loaded": loaded.rows_loaded});
    writeln!(io::stdout().lock(), "{summary}").map_err(|e| format!("cannot write summary: {e}"))
}
