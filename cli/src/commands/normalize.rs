//! `tributary normalize EVENT.json`: the kinesis-normalizer core on a local event file. No AWS involved.

use crate::input::{self, Whole};
use crate::output::{AtomicFile, error};
use crate::progress::{self, Unit};
use chrono::{DateTime, Utc};
use compact_str::CompactString;
use indicatif::ProgressBar;
use kinesis_normalizer::batch::{
    Input, Plan, Source, dead_letter, inputs_of, read_event, read_records, record_source,
};
use kinesis_normalizer::json::RecordStream;
use kinesis_normalizer::normalize::Names;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tributary normalize events/kinesis-batch.json --out /tmp/events.jsonl --dead-letter /tmp/dead.jsonl
  tributary normalize events/sqs-batch.json

The summary (records in, normalized, duplicates, dead-lettered, key collisions) goes to stderr. The batch is
normalized 128 records at a time; when the events go to a file (and the dead letters to a file or nowhere), the
event file is read 1 MiB at a time too, not whole. A regular file given to --out or --dead-letter (or reached
through a link) appears only once the whole batch is written; stdout, a pipe or a device gets a failing batch's
earlier events before the error (exit 1).")]
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

/// Records normalized at a time: the batch's text stays in memory, but only this many records' data and events.
/// Small, so that a part's payloads and events stay in the CPU's caches and its memory is reused part after part;
/// the key names and object shapes learned go on from part to part. Against 1,024, 128 took 9 % less CPU time on
/// the bench's 10,000 small events and 7 % less on its clickstream events (64 was no better).
const PART: usize = 128;

/// Where lines go: a regular file written atomically (renamed into place once all is written), anything else
/// that can be opened for writing (`/dev/null`, a pipe), or stdout.
enum Sink {
    Atomic(AtomicFile),
    Other(BufWriter<Box<dyn Write>>),
}

impl Sink {
    fn new(path: Option<&PathBuf>) -> Result<Self, String> {
        let cannot = |p: &PathBuf, e: io::Error| format!("cannot create {}: {e}", p.display());
        let Some(p) = path else {
            return Ok(Sink::Other(BufWriter::with_capacity(
                1 << 20,
                Box::new(io::stdout().lock()),
            )));
        };
        Ok(match atomic_target(p) {
            Some(dest) => Sink::Atomic(AtomicFile::create(&dest).map_err(|e| cannot(p, e))?),
            None => Sink::Other(BufWriter::with_capacity(
                1 << 20,
                Box::new(File::create(p).map_err(|e| cannot(p, e))?),
            )),
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Atomic(f) => f,
            Sink::Other(w) => w,
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Atomic(f) => f.commit(),
            Sink::Other(mut w) => w.flush(),
        }
    }
}

/// The file an output path is written to atomically: the path when nothing is there yet or a regular file is,
/// the file a link leads to when that is a regular file (the link stays); `None` for anything else (a device, a
/// pipe), which is written in place.
fn atomic_target(path: &Path) -> Option<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Some(path.to_owned()),
        Ok(m) if m.file_type().is_file() => Some(path.to_owned()),
        Ok(m) if m.file_type().is_symlink() => std::fs::metadata(path)
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|_| std::fs::canonicalize(path).ok()),
        Ok(_) => None,
    }
}

/// Where an atomically written output ends up, however the path spells it (`a`, `./a`, a link to it).
fn resolved(path: &Path) -> Option<PathBuf> {
    let target = atomic_target(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(target.file_name()?))
}

/// The events' sink and the dead letters', created once the event is known to be a batch.
fn sinks(args: &Args) -> Result<(Sink, Option<Sink>), String> {
    if let (Some(out), Some(letters)) = (&args.out, &args.dead_letter)
        && resolved(out).is_some_and(|out| resolved(letters) == Some(out))
    {
        return Err("--out and --dead-letter name the same file".to_owned());
    }
    let letters = args.dead_letter.as_ref().map(|p| Sink::new(Some(p)));
    Ok((Sink::new(args.out.as_ref())?, letters.transpose()?))
}

/// What the summary counts, over all parts.
#[derive(Default)]
struct Counts {
    records_in: usize,
    normalized: usize,
    duplicates: usize,
    dead_lettered: usize,
    key_collisions: usize,
}

fn execute(args: &Args) -> Result<(), String> {
    if let Some(streamed) = stream(args, BLOCK) {
        return streamed;
    }
    let name = args.event.display();
    let bytes = if args.event.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        Whole::Heap(bytes)
    } else {
        input::read(&args.event).map_err(|e| format!("cannot read {name}: {e}"))?
    };
    // Checked with SIMD: a batch is megabytes.
    let text = simdutf8::basic::from_utf8(&bytes)
        .map_err(|_| format!("cannot read {name}: it is not UTF-8"))?;
    let mut part = Part::new(args);
    // Records straight from the text, a part at a time; an event that is not a batch is read whole, for
    // read_event's errors.
    let (out, letters) = match read_records(text) {
        Some(read) => {
            let (source, records) = read.map_err(|e| format!("{name}: {e}"))?;
            part.seen.reserve(records.len());
            let (mut out, mut letters) = sinks(args)?;
            let done = Arc::new(AtomicU64::new(0));
            let bar = progress::bar(
                "normalizing",
                Unit::Rows,
                Some(records.len() as u64),
                done.clone(),
                args.quiet,
            );
            for (n, chunk) in records.chunks(PART).enumerate() {
                let inputs = inputs_of(source, chunk, n * PART, &mut part.names)
                    .map_err(|e| format!("{name}: {e}"))?;
                part.normalize(source, inputs, &mut out, letters.as_mut())?;
                done.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                bar.set_position(done.load(Ordering::Relaxed));
            }
            bar.finish_and_clear();
            (out, letters)
        }
        None => {
            let event: Value =
                serde_json::from_str(text).map_err(|e| format!("{name} is not JSON: {e}"))?;
            let (source, inputs) = read_event(&event).map_err(|e| format!("{name}: {e}"))?;
            let (mut out, mut letters) = sinks(args)?;
            part.normalize(source, inputs, &mut out, letters.as_mut())?;
            (out, letters)
        }
    };
    finish(out, letters, &part.counts)
}

/// The event file is read this much at a time when it is streamed ([`stream`]).
const BLOCK: usize = 1 << 20;

/// The most text a streamed event holds while a record is not yet whole: a record longer than about this (or
/// one the stream refuses, which it cannot tell from one cut short) makes the event one to read whole.
const MOST_HELD: usize = 16 << 20;

/// Whether the event is read from its file a block at a time rather than whole: when it is a file, and every
/// output is a file written atomically, which a batch that has to be read whole after all (see [`stream`]) can
/// start again.
fn streams(args: &Args) -> bool {
    let atomic =
        |path: &Option<PathBuf>| path.as_deref().is_none_or(|p| atomic_target(p).is_some());
    args.event.as_os_str() != "-"
        && args.out.is_some()
        && atomic(&args.out)
        && atomic(&args.dead_letter)
}

/// Normalizes the event read from its file `block` bytes at a time, a part at a time ([`RecordStream`]), so that
/// the whole event is never held: the same events, dead letters and summary as when it is read whole, with less
/// memory and CPU time (read whole, the file takes as many fresh pages, each zeroed before the file is copied
/// in). `None`: the event is to be read whole, and nothing was written (the outputs written so far are dropped
/// uncommitted). So it is for an event shaped otherwise or with anything unusual, which may show only at its end,
/// and for any error: read whole, the event gives its error as it always has, whichever comes first in the file.
/// Once every part is written, the outputs' commit is the result, as it is when the event is read whole. Also
/// `None`, with nothing read, when the event or an output is not a file ([`streams`]).
fn stream(args: &Args, block: usize) -> Option<Result<(), String>> {
    if !streams(args) {
        return None;
    }
    let file = File::open(&args.event).ok()?;
    let meta = file.metadata().ok()?;
    // A pipe or a device can be read once only: read whole, as it always was.
    if !meta.is_file() {
        return None;
    }
    let size = meta.len();
    let rows = Arc::new(AtomicU64::new(0));
    let bar = progress::bar(
        "normalizing",
        Unit::Bytes,
        Some(size),
        rows.clone(),
        args.quiet,
    );
    let streamed = stream_parts(args, block, file, size, &bar, &rows);
    // Cleared either way: read whole, the event shows its own.
    bar.finish_and_clear();
    let (out, letters, counts) = streamed?;
    // Once all is written, an error committing is the run's error: the event is not read again.
    Some(finish(out, letters, &counts))
}

/// [`stream`]'s reading and writing, up to the outputs to commit.
fn stream_parts(
    args: &Args,
    block: usize,
    mut file: File,
    size: u64,
    bar: &ProgressBar,
    rows: &AtomicU64,
) -> Option<(Sink, Option<Sink>, Counts)> {
    let mut part = Part::new(args);
    // About a record per KiB of event; the set grows past that if it must.
    part.seen
        .reserve(usize::try_from(size / 1024).unwrap_or(0).min(1 << 20));
    let mut read = RecordStream::default();
    let (mut source, mut outputs, mut done) = (None, None, 0_u64);
    // The text read and not yet consumed, and how much to read next: a block, or more when a record is longer.
    let mut text: Vec<u8> = Vec::with_capacity(block);
    let (mut want, mut at_end) = (block, false);
    while !read.done() {
        if at_end {
            // Nothing more to read, and the stream neither finished nor refused: not expected; read whole.
            return None;
        }
        let wanted = u64::try_from(want).unwrap_or(u64::MAX);
        let got = (&mut file).take(wanted).read_to_end(&mut text).ok()?;
        at_end = (got as u64) < wanted;
        // Checked as the whole file would be, once per block; a character cut at the text's end waits for the
        // next block.
        let held = match simdutf8::compat::from_utf8(&text) {
            Ok(held) => held,
            Err(e) if e.error_len().is_none() && !at_end => {
                simdutf8::basic::from_utf8(&text[..e.valid_up_to()]).ok()?
            }
            Err(_) => return None,
        };
        // The text held, a part at a time, until a part stops short of its records for want of text.
        let mut from = 0;
        loop {
            let mut records = Vec::with_capacity(PART);
            from += read.read(&held[from..], at_end, PART, &mut records)?;
            if let Some(first) = records.first() {
                let source = match source {
                    Some(source) => source,
                    None => *source.insert(record_source(first)?.ok()?),
                };
                let (out, letters) = match &mut outputs {
                    Some(outputs) => outputs,
                    None => outputs.insert(sinks(args).ok()?),
                };
                let first = usize::try_from(rows.load(Ordering::Relaxed)).ok()?;
                let inputs = inputs_of(source, &records, first, &mut part.names).ok()?;
                part.normalize(source, inputs, out, letters.as_mut()).ok()?;
                rows.fetch_add(records.len() as u64, Ordering::Relaxed);
            }
            if records.len() < PART || read.done() {
                break;
            }
        }
        text.drain(..from);
        done += from as u64;
        bar.set_position(done);
        // Nothing taken from all the text held: a record longer than it, or one the stream refuses, which it
        // cannot tell from one cut short. Read as much again, up to a bound past which the event is read whole.
        want = if from > 0 {
            block
        } else {
            want.saturating_mul(2)
        };
        if from == 0 && text.len() + want > MOST_HELD {
            return None;
        }
    }
    // An empty batch still writes its (empty) outputs.
    let (out, letters) = match outputs {
        Some(outputs) => outputs,
        None => sinks(args).ok()?,
    };
    Some((out, letters, part.counts))
}

/// Commits the outputs and prints the summary.
fn finish(out: Sink, letters: Option<Sink>, c: &Counts) -> Result<(), String> {
    out.finish()
        .map_err(|e| format!("cannot write events: {e}"))?;
    if let Some(letters) = letters {
        letters
            .finish()
            .map_err(|e| format!("cannot write dead letters: {e}"))?;
    }
    let summary = json!({
        "records_in": c.records_in,
        "normalized": c.normalized,
        "duplicates": c.duplicates,
        "dead_lettered": c.dead_lettered,
        "key_collisions": c.key_collisions,
    });
    eprintln!("{summary}");
    Ok(())
}

/// The batch a part at a time: one ingestion time for all, and an event seen in an earlier part is a duplicate,
/// as it would be in one plan of the whole batch (the plan's own rule for events another batch claimed).
struct Part {
    ingested_at: DateTime<Utc>,
    max_bytes: usize,
    seen: HashSet<CompactString, foldhash::fast::RandomState>,
    /// The key names and object shapes the earlier parts learned.
    names: Names,
    counts: Counts,
}

impl Part {
    /// Before the batch's first part: the ingestion time is now.
    fn new(args: &Args) -> Self {
        Part {
            ingested_at: Utc::now(),
            max_bytes: args.max_record_bytes,
            seen: HashSet::default(),
            names: Names::default(),
            counts: Counts::default(),
        }
    }

    /// Normalizes the next part's inputs and writes what they give.
    fn normalize(
        &mut self,
        source: Source,
        inputs: Vec<Input>,
        out: &mut Sink,
        letters: Option<&mut Sink>,
    ) -> Result<(), String> {
        let plan = Plan::continuing(
            source,
            inputs,
            self.ingested_at,
            self.max_bytes,
            &mut self.names,
        );
        self.write(plan, out, letters)
    }

    fn write(
        &mut self,
        mut plan: Plan,
        out: &mut Sink,
        letters: Option<&mut Sink>,
    ) -> Result<(), String> {
        let earlier: Vec<bool> = plan
            .events
            .iter()
            .map(|e| self.seen.contains(&e.event_id))
            .collect();
        plan.drop_seen(&earlier);
        let c = &mut self.counts;
        c.records_in += plan.inputs.len();
        c.normalized += plan.events.len();
        c.duplicates += plan.duplicates() + plan.seen_before();
        c.key_collisions += plan.collisions().count();
        let w = out.writer();
        for e in &mut plan.events {
            w.write_all(&e.json)
                .and_then(|()| w.write_all(b"\n"))
                .map_err(|e| format!("cannot write events: {e}"))?;
            // Written, the event needs its id no more (the next parts do), nor its text's buffer.
            self.seen.insert(std::mem::take(&mut e.event_id));
            self.names.recycle(std::mem::take(&mut e.json));
        }
        let mut letters = letters.map(Sink::writer);
        for (i, poison) in plan.poisoned() {
            c.dead_lettered += 1;
            if let Some(w) = letters.as_mut() {
                let (key, doc) = dead_letter(&plan, i, poison, "dead-letter/kinesis/");
                writeln!(w, "{}", json!({"key": key, "record": doc}))
                    .map_err(|e| format!("cannot write dead letters: {e}"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Seek;

    fn args(dir: &Path, event: &Path) -> Args {
        Args {
            event: event.to_owned(),
            out: Some(dir.join("events.jsonl")),
            dead_letter: Some(dir.join("dead.jsonl")),
            max_record_bytes: 1 << 20,
            quiet: true,
        }
    }

    /// A Kinesis batch of `n` records, each with its own event id, and `after` added after `Records`.
    fn event(n: usize, after: &str) -> String {
        use base64::Engine;
        let records: Vec<String> = (0..n)
            .map(|i| {
                let data = base64::engine::general_purpose::STANDARD
                    .encode(format!(r#"{{"eventId": "e-{i}", "note": "{}"}}"#, "n".repeat(i % 300)));
                format!(
                    r#"{{"kinesis": {{"partitionKey": "pk", "sequenceNumber": "{i}", "data": "{data}", "approximateArrivalTimestamp": 1795262400.5}}, "eventSource": "aws:kinesis", "eventID": "shardId-000000000003:{i}"}}"#
                )
            })
            .collect();
        format!(r#"{{"Records": [{}]{after}}}"#, records.join(", "))
    }

    #[test]
    fn a_usual_event_file_is_streamed_and_one_with_more_is_left_to_the_whole_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("event.json");
        std::fs::write(&path, event(2_000, "")).expect("event");
        // Blocks of 4 KiB: records across every block's end.
        let streamed = stream(&args(dir.path(), &path), 4096);
        assert_eq!(streamed, Some(Ok(())));
        let events = std::fs::read_to_string(dir.path().join("events.jsonl")).expect("events");
        assert_eq!(events.lines().count(), 2_000);

        std::fs::write(&path, event(2_000, r#", "note": 1"#)).expect("event");
        std::fs::remove_file(dir.path().join("events.jsonl")).expect("remove");
        assert_eq!(stream(&args(dir.path(), &path), 4096), None);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            left.len(),
            2,
            "the event and the earlier dead letters only: {left:?}"
        );
    }

    #[test]
    fn a_record_refused_early_does_not_make_the_stream_hold_the_whole_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("event.json");
        // A lone surrogate in the third record: refused by the stream, as by the one-pass reader; 40 MB after it.
        let text = event(90_000, "").replacen(
            r#""eventID": "shardId-000000000003:2""#,
            r#""eventID": "\ud800""#,
            1,
        );
        assert!(text.len() > 2 * MOST_HELD, "{}", text.len());
        std::fs::write(&path, text).expect("event");
        let mut file = File::open(&path).expect("event");
        let (bar, rows) = (ProgressBar::hidden(), AtomicU64::new(0));
        let size = file.metadata().expect("meta").len();
        assert!(
            stream_parts(
                &args(dir.path(), &path),
                BLOCK,
                file.try_clone().expect("file"),
                size,
                &bar,
                &rows
            )
            .is_none()
        );
        // Given up after reading a bound's worth past the record, not the whole file.
        let read = file.stream_position().expect("position");
        assert!(
            read as usize <= MOST_HELD && read < size / 2,
            "{read} of {size} bytes read"
        );
    }
}
