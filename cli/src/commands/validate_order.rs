//! `tributary validate-order ORDER.json`: the order-validator core on a local file. Prints the result document
//! the Lambda returns; stores nothing.

use crate::output::error;
use chrono::Utc;
use order_validator::Status;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tributary validate-order events/data/order-valid.json
  tributary validate-order events/data/order-invalid.json

Exit codes: 0 valid, 3 invalid (every error is in the JSON on stdout), 1 error.")]
pub struct Args {
    /// The purchase-order JSON file; `-` reads stdin.
    order: PathBuf,
}

/// Exit code when the order breaks a rule (the result document on stdout lists every violation).
const INVALID: u8 = 3;

pub fn run(args: &Args) -> ExitCode {
    match execute(args) {
        Ok(code) => code,
        Err(message) => {
            error(&message);
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        Ok(bytes)
    } else {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

fn execute(args: &Args) -> Result<ExitCode, String> {
    let bytes = read(&args.order)?;
    let outcome = order_validator::outcome(&bytes, Utc::now());
    let document =
        serde_json::to_string(&outcome).map_err(|e| format!("cannot write the result: {e}"))?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{document}").map_err(|e| format!("cannot write the result: {e}"))?;
    // The pure core only decides valid or invalid; duplicates and conflicts need the store.
    Ok(match outcome.status {
        Status::Valid | Status::Duplicate => ExitCode::SUCCESS,
        Status::Invalid | Status::Conflict => ExitCode::from(INVALID),
    })
}
