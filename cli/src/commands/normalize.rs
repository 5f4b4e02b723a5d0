//! `tributary normalize EVENT.json`: the kinesis-normalizer core on a local event file. No AWS involved.

use crate::output::error;
use crate::progress::{self, Unit};
use chrono::Utc;
use kinesis_normalizer::batch::{Plan, dead_letter, read_event, read_event_text};
use serde_json::{Value, json};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tributary normalize events/kinesis-batch.json --out /tmp/events.jsonl --dead-letter /tmp/dead.jsonl
  tributary normalize events/sqs-batch.json

The summary (records in, normalized, duplicates, dead-lettered, key collisions) goes to stderr.")]
pub struct Args {
    /// A Kinesis (or SQS) Lambda event, like events/kinesis-batch.json; `-` reads stdin.
    event: PathBuf,
    /// Where the normalized events go, one JSON object per line [default: stdout].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where poison records go, one JSON object per line, with the reason and the raw data.
    #[arg(long)]
    dead_letter: Option<PathBuf>,
    /// Payloads larger than this many bytes are poison.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_record_bytes: usize,
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

fn sink(path: Option<&PathBuf>) -> Result<Box<dyn Write>, String> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    })
}

fn execute(args: &Args) -> Result<(), String> {
    let name = args.event.display();
    let text = if args.event.as_os_str() == "-" {
        io::read_to_string(io::stdin()).map_err(|e| format!("cannot read stdin: {e}"))?
    } else {
        std::fs::read_to_string(&args.event).map_err(|e| format!("cannot read {name}: {e}"))?
    };
    // Records straight from the text; an event that is not a batch is read whole, for read_event's errors.
    let read = match read_event_text(&text) {
        Some(read) => read,
        None => {
            let event: Value =
                serde_json::from_str(&text).map_err(|e| format!("{name} is not JSON: {e}"))?;
            read_event(&event)
        }
    };
    let (source, inputs) = read.map_err(|e| format!("{name}: {e}"))?;
    let records = Arc::new(AtomicU64::new(inputs.len() as u64));
    let bar = progress::bar("normalizing", Unit::Rows, None, records, args.quiet);
    let plan = Plan::new(source, inputs, Utc::now(), args.max_record_bytes);
    bar.finish_and_clear();

    let mut out = sink(args.out.as_ref())?;
    let mut line = Vec::new();
    for e in &plan.events {
        line.clear();
        e.write_json(&mut line);
        line.push(b'\n');
        out.write_all(&line)
            .map_err(|e| format!("cannot write events: {e}"))?;
    }
    out.flush()
        .map_err(|e| format!("cannot write events: {e}"))?;
    let mut dead_lettered = 0;
    let mut letters: Option<Box<dyn Write>> = args
        .dead_letter
        .as_ref()
        .map(|p| sink(Some(p)))
        .transpose()?;
    for (i, poison) in plan.poisoned() {
        dead_lettered += 1;
        if let Some(w) = letters.as_mut() {
            let (key, doc) = dead_letter(&plan, i, poison, "dead-letter/kinesis/");
            writeln!(w, "{}", json!({"key": key, "record": doc}))
                .map_err(|e| format!("cannot write dead letters: {e}"))?;
        }
    }
    if let Some(w) = letters.as_mut() {
        w.flush()
            .map_err(|e| format!("cannot write dead letters: {e}"))?;
    }
    let summary = json!({
        "records_in": plan.inputs.len(),
        "normalized": plan.events.len(),
        "duplicates": plan.duplicates(),
        "dead_lettered": dead_lettered,
        "key_collisions": plan.collisions().count(),
    });
    eprintln!("{summary}");
    Ok(())
}
