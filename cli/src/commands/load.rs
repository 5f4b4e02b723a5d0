//! `tributary load --warehouse postgres://… --table SCHEMA.TABLE FILE.parquet…`: the redshift-loader's
//! PostgreSQL backend on local files.

use crate::output::error;
use redshift_loader::postgres::{ParquetData, SourceFile, connect, load};
use redshift_loader::sql::{Mode, TableName};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
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
    let mut hasher = Sha256::new();
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
    let etag: String = hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let file = std::fs::File::open(&absolute)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok(SourceFile {
        url: format!("file://{}", absolute.display()),
        etag,
        data: ParquetData::File(file),
    })
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
    let loaded = runtime.block_on(async {
        let mut client = connect(&args.warehouse).await?;
        load(&mut client, &table, &mode, &files, &load_id).await
    });
    let loaded = loaded.map_err(|e| format!("load into {} failed: {e}", args.table))?;
    let summary = json!({"files_loaded": loaded.files_loaded, "files_skipped": loaded.files_skipped, "rows_loaded": loaded.rows_loaded});
    writeln!(io::stdout().lock(), "{summary}").map_err(|e| format!("cannot write summary: {e}"))
}
