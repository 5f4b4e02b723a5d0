//! `tributary`: the functions' cores on local files, offline; and `redrive`, which works on the deployed stream.
//! `main` only maps a command's result to an exit code.

mod commands;
mod input;
mod output;
mod progress;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// With the `mimalloc` feature, mimalloc rather than the C library's allocator. When it was measured, `tributary
/// normalize` made about ten allocations per record (about one now: it reuses its buffers), and glibc's cost
/// about 150 instructions each (buffers over 1 KiB miss its per-thread cache); mimalloc also backs its memory with
/// transparent huge pages, so the batch's read took a tenth of the page faults. It keeps freed memory longer, so
/// the converter's peak memory grows: off by default.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "tributary",
    version,
    about = "Tributary data-pipeline tools: the functions' cores offline, and the stream's redrive",
    after_help = "Each subcommand runs one Lambda function's core on local files, with the same rules and output:
  convert         csv-to-parquet
  validate-order  order-validator
  normalize       kinesis-normalizer
  load            redshift-loader (its PostgreSQL path)
  schema          the datasets' schema registry (a directory; Glue under Lambda)
  replay          csv-to-parquet's replay of quarantined rows
  redrive         kinesis-normalizer's redrive of failed stream ranges (talks to AWS)

`tributary <command> --help` shows each one's options and examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert a CSV (or gzip CSV) file to typed Parquet, quarantining bad rows.
    Convert(commands::convert::Args),
    /// Validate a purchase-order JSON file; print the result (exit 0 valid, 3 invalid).
    ValidateOrder(commands::validate_order::Args),
    /// Normalize a Kinesis (or SQS) event file to NDJSON events, setting poison records aside.
    Normalize(commands::normalize::Args),
    /// Load Parquet files into PostgreSQL (append, merge or replace), idempotently.
    Load(commands::load::Args),
    /// Replay quarantined rows through their dataset's current schema version.
    Replay(commands::replay::Args),
    /// Redrive the stream's failed ranges from its on-failure queue into S3 and DynamoDB (talks to AWS).
    Redrive(commands::redrive::Args),
    /// Show, check or register a dataset's schema versions in a registry directory.
    #[command(subcommand)]
    Schema(commands::schema::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Convert(args) => commands::convert::run(&args),
        Command::ValidateOrder(args) => commands::validate_order::run(&args),
        Command::Normalize(args) => commands::normalize::run(&args),
        Command::Load(args) => commands::load::run(&args),
        Command::Schema(command) => commands::schema::run(&command),
        Command::Replay(args) => commands::replay::run(&args),
        Command::Redrive(args) => commands::redrive::run(&args),
    }
}
