//! The streaming converter: CSV (optionally gzip) in, Parquet out, rejected rows to a quarantine CSV.
//!
//! Pure: it reads a `Read` and writes two `Write`s, so it runs the same under Lambda (S3 streams), in the CLI
//! (files) and in tests (byte slices). Work is data-parallel, in order: the calling thread tokenizes CSV into
//! numbered raw batches; `threads` typing workers type, validate and build Arrow batches from them, in whatever
//! order they finish, and hand the raw batches back to be filled again (on more than one CPU the calling thread
//! types a batch too when every worker is busy); a sequencer puts the typed batches back in
//! the input's order, writes the quarantine and hands them on; and the encoder writes Parquet in lanes (its own
//! thread and workers, [`Options::lanes`]) sharing each row group's columns. The output is the same bytes for any
//! number of threads. Memory is bounded whatever the input size: raw batches are read only with one of
//! `2 × threads + 2` credits, six more where the calling thread types too (which also bounds the batches waiting
//! for a slower one before them), one typed batch waits for the encoder and its lanes hold two more at most, and
//! one row group's encoded bytes are held (with, while a thread of its own appends it, a quarter of the next).
//!
//! This module holds the options, the summary, the errors and the pipeline that runs the stages; the stages'
//! parts are its children, which share its imports: `input` (gzip by the bytes, counting, header names),
//! `plan` (input fields to output columns, and their encoding), `column` (typed builders that can drop a
//! half-appended row), `rows` (the typing workers and the sequencer) and `encode` (the Parquet stage).

mod column;
mod encode;
mod input;
mod plan;
mod rle;
mod rows;
mod string_chunk;

use column::*;
use encode::*;
use input::*;
use plan::*;
use rows::*;

use crate::codec::{Codec, Compressor};
use crate::infer::Inferred;
use crate::registry::{Proposal, Registration, RegistryError, settle_reporting};
use crate::schema::{Column, ColumnType, LINEAGE_COLUMNS, Schema, SchemaError};
use crate::tokenize::{RawBatch, TokenizeError, Tokenizer, field_span, text_field};
use crate::values::{
    DecimalError, LastDate, parse_bool, parse_date, parse_date_after, parse_decimal, parse_f64,
    parse_i64, parse_timestamp, parse_timestamp_after, trim,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array,
    Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use arrow_buffer::{
    BooleanBufferBuilder, Buffer, NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer,
};
use arrow_schema::SchemaRef;
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde::Serialize;
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// Tuning and lineage for one conversion.
#[derive(Debug, Clone)]
pub struct Options {
    /// Declared schema; `None` infers one from the first `sample_rows` rows.
    pub schema: Option<Schema>,
    /// Written to every row's `_source_key`.
    pub source_key: String,
    /// Written to every row's `_ingested_at`.
    pub ingested_at: DateTime<Utc>,
    /// Written to every row's `_correlation_id` (null when `None`).
    pub correlation_id: Option<String>,
    /// The most rows in one batch (raw, typed and handed to the encoder); at most 32,768.
    pub batch_rows: usize,
    /// A batch also ends once its rows came from this many CSV bytes; at most 1 MiB.
    pub batch_bytes: usize,
    /// A Parquet row group is flushed once its encoded size reaches this.
    pub row_group_bytes: usize,
    /// Rows read before choosing inferred types.
    pub sample_rows: usize,
    /// Extra key/value pairs for the Parquet footer.
    pub metadata: Vec<(String, String)>,
    /// The longest record accepted, in bytes (at most just under 1 GiB): the tokenizer's buffer grows to hold one
    /// record, so this bounds memory against a file with no line ends or an unclosed quote.
    pub max_record_bytes: usize,
    /// Where to publish the number of rows read so far (converted or quarantined), for a progress display.
    pub rows_read: Option<Arc<AtomicU64>>,
    /// The dataset's schema registry: the file is typed by the dataset's registered version (registering the
    /// first, an evolution, or a changed declared `schema`) instead of by its own inference.
    pub registration: Option<Registration>,
    /// Typing workers; 0 is one per two CPUs this process may run on (see [`Options::threads`]).
    pub threads: usize,
    /// Encoding lanes; 0 follows from the typing workers and the CPUs (see [`Options::lanes`]).
    pub lanes: usize,
    /// How the columns are compressed (a numeric column the codec would not shrink is left uncompressed).
    pub compression: Codec,
}

impl Options {
    pub fn new(source_key: impl Into<String>, ingested_at: DateTime<Utc>) -> Self {
        Self {
            schema: None,
            source_key: source_key.into(),
            ingested_at,
            correlation_id: None,
            batch_rows: 32 * 1024,
            batch_bytes: RAW_BATCH_BYTES,
            row_group_bytes: 32 * 1024 * 1024,
            sample_rows: 10_000,
            metadata: Vec::new(),
            max_record_bytes: 64 * 1024 * 1024,
            rows_read: None,
            registration: None,
            threads: 0,
            lanes: 0,
            compression: Codec::default(),
        }
    }

    /// [`Options::threads`], resolved. By default, half the CPUs, rounded up: typing is about a third of the work,
    /// beside the reading thread and the encoding lanes. A typing worker per CPU oversubscribes them: on 2 CPUs two
    /// took as long as one on every shape but telemetry (10 % less), for 12–13 MiB more memory.
    pub fn threads(&self) -> usize {
        match self.threads {
            0 => cpus().div_ceil(2),
            n => n,
        }
    }

    /// [`Options::lanes`], resolved. By default, one more than [`Options::threads`] where this process may run on
    /// more than one CPU, else one. The encoding thread is a lane itself, so on one CPU it encodes alone, with no handoff; on more,
    /// encoding (about half the work) is shared out so that no thread holds more than its CPU's share. On 2 CPUs
    /// (1 GB files, four interleaved rounds) two lanes took 5–9 % less wall time than one on narrow rows and
    /// order lines, and as long on notes and telemetry.
    pub fn lanes(&self) -> usize {
        match (self.lanes, cpus()) {
            (0, 1) => 1,
            (0, _) => self.threads() + 1,
            (n, _) => n,
        }
    }
}

/// The CPUs this process may run on.
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where the schema came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaSource {
    Declared,
    Inferred,
    /// The dataset's registered version.
    Registered,
}

/// What a conversion read and wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Data rows read (the header is not a row).
    pub rows_in: u64,
    /// Rows written to Parquet.
    pub rows_out: u64,
    /// Rows written to the quarantine instead.
    pub rows_rejected: u64,
    /// Bytes read from the input as stored (compressed, for gzip).
    pub bytes_in: u64,
    /// Bytes of Parquet written.
    pub bytes_out: u64,
    pub schema_source: SchemaSource,
    pub columns: Vec<Column>,
    /// Input columns the declared schema does not name; they are not in the output.
    pub ignored_columns: Vec<String>,
    /// The dataset's schema version the file was typed by (with a registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// This conversion registered that version (the dataset's first, an evolution, a changed declaration).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub schema_registered: bool,
    /// For each column with rejected values, how many rows it rejected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected_by_column: Vec<(String, u64)>,
}

impl Summary {
    /// Rejected rows over all rows (0 for an empty file).
    pub fn reject_ratio(&self) -> f64 {
        if self.rows_in == 0 {
            0.0
        } else {
            self.rows_rejected as f64 / self.rows_in as f64
        }
    }
}

/// The quality gate: too large a share of the rows was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "quality gate failed: {rejected} of {total} rows rejected ({ratio:.4} > max {max}){}",
    responsible(columns)
)]
pub struct QualityGateError {
    pub rejected: u64,
    pub total: u64,
    pub ratio: f64,
    pub max: f64,
    /// The columns whose values were rejected, most rejections first.
    pub columns: Vec<(String, u64)>,
}

fn responsible(columns: &[(String, u64)]) -> String {
    if columns.is_empty() {
        return String::new();
    }
    let named: Vec<String> = columns
        .iter()
        .map(|(name, n)| format!("{name:?} ({n})"))
        .collect();
    format!("; rejected values by column: {}", named.join(", "))
}

/// Applies the quality gate to a finished conversion.
pub fn quality_gate(summary: &Summary, max_reject_ratio: f64) -> Result<(), QualityGateError> {
    let ratio = summary.reject_ratio();
    if ratio > max_reject_ratio {
        Err(QualityGateError {
            rejected: summary.rows_rejected,
            total: summary.rows_in,
            ratio,
            max: max_reject_ratio,
            columns: summary.rejected_by_column.clone(),
        })
    } else {
        Ok(())
    }
}

/// Why a conversion stopped. Row-level problems are never errors: those rows go to the quarantine.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("the input is empty (no header row)")]
    Empty,
    #[error("the header row is not valid UTF-8: the file must be UTF-8 encoded")]
    HeaderNotUtf8,
    #[error("invalid schema: {0}")]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Registry(Box<RegistryError>),
    #[error("the input has no column {0:?}, which the schema declares non-nullable")]
    MissingColumn(String),
    #[error("the input has a column named {0:?}, which is reserved for lineage")]
    ReservedColumn(String),
    #[error("reading the input failed: {0}")]
    Read(#[source] io::Error),
    #[error(
        "the record starting on line {line} is longer than {limit} bytes, the limit (a missing line end or an unclosed quote?)"
    )]
    RecordTooLarge { line: u64, limit: usize },
    #[error("writing the output failed: {0}")]
    Write(#[source] io::Error),
    #[error("encoding Parquet failed: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("building Arrow arrays failed: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

impl From<RegistryError> for ConvertError {
    fn from(e: RegistryError) -> Self {
        Self::Registry(Box::new(e))
    }
}

impl ConvertError {
    /// Whether the input itself is at fault (as opposed to the environment).
    pub fn is_input_error(&self) -> bool {
        match self {
            Self::Empty
            | Self::HeaderNotUtf8
            | Self::Schema(_)
            | Self::MissingColumn(_)
            | Self::ReservedColumn(_)
            | Self::RecordTooLarge { .. } => true,
            Self::Registry(e) => {
                e.is_incompatible()
                    || matches!(
                        **e,
                        RegistryError::BadDataset(_) | RegistryError::Clash { .. }
                    )
            }
            // A corrupt or truncated gzip stream is the input's fault; other read errors are transport trouble.
            Self::Read(e) => matches!(
                e.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
            ),
            Self::Write(_) | Self::Parquet(_) | Self::Arrow(_) => false,
        }
    }
}

/// Converts `input` to Parquet on `output`, writing rejected rows as CSV to `quarantine` (nothing is written
/// there when every row is good). The caller applies [`quality_gate`] and decides whether to keep the output.
pub fn convert<R, W, Q>(
    input: R,
    output: &mut W,
    quarantine: &mut Q,
    opts: &Options,
) -> Result<Summary, ConvertError>
where
    R: Read,
    W: Write + Send,
    Q: Write + Send,
{
    let bytes_in = Rc::new(Cell::new(0_u64));
    let mut tokenizer = Tokenizer::new(
        open(input, Rc::clone(&bytes_in))?,
        BUF,
        opts.max_record_bytes.min(MAX_RECORD_BYTES),
    );

    let mut head = RawBatch::default();
    if tokenizer
        .read_into(&mut head, 1, usize::MAX)
        .map_err(ConvertError::from)?
        == 0
    {
        return Err(ConvertError::Empty);
    }
    let header = header_names(head.fields(0))?;

    // Raw batches are small: they only carry work between threads, and memory should go to the Arrow batches.
    let raw_batch_bytes = opts.batch_bytes.clamp(1, RAW_BATCH_BYTES);
    let raw_batch_rows = opts.batch_rows.clamp(1, RAW_BATCH_ROWS);

    // Inference reads its sample first; the sample is then converted as the first raw batch.
    let mut sample = RawBatch::default();
    if opts.schema.is_none() {
        tokenizer
            .read_into(&mut sample, opts.sample_rows, usize::MAX)
            .map_err(ConvertError::from)?;
    }
    let mut schema_registered = false;
    let (plan, version) = match &opts.registration {
        None => (Plan::new(&header, opts.schema.as_ref(), &sample)?, None),
        Some(registration) => {
            // The file proposes its declared schema, else its own columns as inferred; it is then typed by
            // whatever version the registry settles on.
            let observed;
            let proposal = match &opts.schema {
                Some(declared) => Proposal::Declared(declared),
                None => {
                    observed = Plan::new(&header, None, &sample)?.schema;
                    Proposal::Observed(&observed)
                }
            };
            let (version, registered) = settle_reporting(
                &*registration.store,
                &registration.dataset,
                proposal,
                registration.policy,
            )?;
            schema_registered = registered;
            let mut plan = Plan::new(&header, Some(&version.schema()), &sample)?;
            plan.source = SchemaSource::Registered;
            (plan, Some(version.version))
        }
    };
    // A declared schema still samples the first rows (one raw batch at most), for each column's encoding.
    if opts.schema.is_some() {
        tokenizer
            .read_into(&mut sample, raw_batch_rows, raw_batch_bytes)
            .map_err(ConvertError::from)?;
    }
    let schema = plan.schema.arrow_schema();
    let dictionary = plan.dictionary(&sample, header.len());
    let compressed = plan.compressed(&sample, header.len(), &dictionary, opts.compression);
    let constants = Constants::new(opts, &schema);
    let props = writer_properties(
        opts,
        version,
        &plan.schema,
        (&dictionary, &compressed),
        &constants,
    );
    let threads = opts.threads();
    let lanes = opts.lanes();

    let typed_batch_rows = typed_batch_rows(opts, raw_batch_rows);
    let shape = Shape {
        plan: &plan,
        header: &header,
        schema: typed_schema(&schema),
        lineage: Lineage::new(opts, typed_batch_rows),
    };
    let groups = RowGroups {
        max_rows: MAX_ROW_GROUP_ROWS,
        max_bytes: opts.row_group_bytes.max(1),
    };
    std::thread::scope(|scope| {
        // The typing workers share the raw batches' queue; once they have all stopped, sending fails.
        let (raw_tx, raw_rx) = sync_channel::<Raw>(threads + 1);
        let raw_rx = Arc::new(Mutex::new(raw_rx));
        let (typed_tx, typed_rx) = sync_channel::<Step>(threads + 1);
        // On more than one CPU the reading thread also types (see below).
        let helps = cpus() > 1;
        // A raw batch is read only with a credit, which the sequencer gives back once the batch is handed on: the
        // batches waiting for a slower one before them are never more than the window. The batches the reading
        // thread types itself are a worker's later ones, and wait for it: with them, a window of `2 × threads + 2`
        // stalled the reading thread (telemetry, 1 GB on 2 CPUs, five interleaved rounds: 2.91 s wall, against
        // 2.59 s with six more credits; +2 credits and +10 were no better; the other shapes were unchanged).
        let window = 2 * threads + 2 + if helps { HELPER_CREDITS } else { 0 };
        let (credit_tx, credit_rx) = sync_channel::<()>(window);
        for _ in 0..window {
            credit_tx.send(()).map_err(|_| encoder_gone())?;
        }
        // Raw batches, once typed, come back to be filled again: allocated anew, each would be fresh pages to
        // fault in (on 2 CPUs, 70 % of the page faults of 1 GB of narrow rows were the reading thread's).
        let (spent_tx, spent_rx) = sync_channel::<RawBatch>(window);
        let (tx, rx) = sync_channel::<Msg>(1);
        let encoder = scope.spawn(|| {
            encode(
                rx,
                output,
                Arc::clone(&schema),
                props,
                groups,
                lanes,
                &constants,
            )
        });
        let typers: Vec<_> = (0..threads)
            .map(|_| {
                let (raw_rx, typed_tx, spent_tx, shape) = (
                    Arc::clone(&raw_rx),
                    typed_tx.clone(),
                    spent_tx.clone(),
                    &shape,
                );
                scope.spawn(move || {
                    let typer = Typer::new(shape, typed_batch_rows);
                    type_worker(&raw_rx, &typed_tx, &spent_tx, typer)
                })
            })
            .collect();
        drop((raw_rx, spent_tx));
        let sequencer = Sequencer::new(&plan, &header, opts, quarantine);
        let sequencer = scope.spawn(move || sequence(&typed_rx, &tx, &credit_tx, sequencer));

        // This thread tokenizes: CSV records (with their physical line numbers) into flat raw batches, numbered
        // so that the sequencer can put the typed batches back in order. When every typing worker is busy and
        // their queue is full, it types the batch itself rather than wait: where typing is most of the work
        // (numeric files), it is then shared by two threads without a second worker's memory. Not on one CPU,
        // where no thread would run beside it (pinned, it took 4 % more CPU time on telemetry).
        let read_result = (|| -> Result<(), ConvertError> {
            let mut raw = sample;
            let mut batches = 0_u64;
            let mut own: Option<Typer<'_, '_>> = None;
            let mut spare: Option<RawBatch> = None;
            let mut send = |raw: &mut RawBatch| {
                credit_rx.recv().map_err(|_| encoder_gone())?;
                let next = match spare.take().map_or_else(|| spent_rx.try_recv().ok(), Some) {
                    Some(mut spent) => {
                        spent.clear();
                        spent
                    }
                    None => RawBatch::with_capacity_like(raw),
                };
                batches += 1;
                let batch = Raw::Batch(batches - 1, std::mem::replace(raw, next));
                if !helps {
                    return raw_tx.send(batch).map_err(|_| encoder_gone());
                }
                match raw_tx.try_send(batch) {
                    Ok(()) => Ok(()),
                    Err(TrySendError::Full(Raw::Batch(n, full))) => {
                        #[cfg(test)]
                        tests::READER_TYPED.fetch_add(1, Ordering::Relaxed);
                        let typer = own.get_or_insert_with(|| Typer::new(&shape, typed_batch_rows));
                        let typed = type_caught(typer, &full);
                        spare = Some(full);
                        typed_tx
                            .send(Step::Typed(n, typed))
                            .map_err(|_| encoder_gone())
                    }
                    Err(TrySendError::Full(end)) => raw_tx.send(end).map_err(|_| encoder_gone()),
                    Err(TrySendError::Disconnected(_)) => Err(encoder_gone()),
                }
            };
            loop {
                if raw.len() >= raw_batch_rows || raw.data.len() >= raw_batch_bytes {
                    send(&mut raw)?;
                }
                let want = raw_batch_rows.saturating_sub(raw.len()).max(1);
                let read = tokenizer
                    .read_into(&mut raw, want, raw_batch_bytes)
                    .map_err(ConvertError::from)?;
                if read == 0 {
                    break;
                }
            }
            if raw.len() > 0 {
                send(&mut raw)?;
            }
            raw_tx.send(Raw::End(batches)).map_err(|_| encoder_gone())
        })();
        drop(typed_tx);
        drop(raw_tx);
        let panicked =
            |stage: &str| ConvertError::Write(io::Error::other(format!("{stage} thread panicked")));
        // Every worker is joined before any is judged (a second panicked one would panic the scope).
        let joined: Vec<_> = typers.into_iter().map(|t| t.join()).collect();
        let typed = match joined.iter().any(Result::is_err) {
            true => Err(panicked("typing")),
            false => Ok(()),
        };
        let built = sequencer
            .join()
            .unwrap_or_else(|_| Err(panicked("sequencer")))
            .and_then(|counts| typed.map(|_| counts));
        let encoded = encoder.join().unwrap_or_else(|_| Err(panicked("encoder")));
        // A later stage's own failure explains an earlier stage that could not hand it work.
        match (read_result, built, encoded) {
            (_, _, Err(enc)) => Err(enc),
            (_, Err(build), Ok(_)) => Err(build),
            (Err(read), Ok(_), Ok(_)) => Err(read),
            (Ok(()), Ok(None), _) | (Ok(()), _, Ok(None)) => Err(encoder_gone()),
            (Ok(()), Ok(Some(counts)), Ok(Some(bytes_out))) => Ok(Summary {
                rows_in: counts.rows_in,
                rows_out: counts.rows_out,
                rows_rejected: counts.rows_in - counts.rows_out,
                bytes_in: bytes_in.get(),
                bytes_out,
                schema_source: plan.source,
                columns: plan.schema.columns.clone(),
                ignored_columns: plan.ignored.clone(),
                schema_version: version,
                schema_registered,
                rejected_by_column: counts.rejected_by_column,
            }),
        }
    })
}

/// The credits added to the window when the reading thread types batches too.
const HELPER_CREDITS: usize = 6;

/// The longest record any setting of [`Options::max_record_bytes`] allows: below 1 GiB, so that a string column's
/// offsets (`i32`, its batch ending at [`STRING_BATCH_BYTES`]) cannot pass 2 GiB.
const MAX_RECORD_BYTES: usize = (1 << 30) - 1;

/// A raw batch ends at 1 MiB of CSV, or at 32,768 rows: a narrow file's raw batch then becomes one batch for the
/// encoder as it is, with no join (at 4,096 rows it took eight raw batches, eight handoffs and a join).
const RAW_BATCH_BYTES: usize = 1024 * 1024;
const RAW_BATCH_ROWS: usize = 32 * 1024;

/// The most bytes the constant lineage columns may take: they are built once, as long as the longest typed batch,
/// and sliced for each.
const LINEAGE_BYTES: usize = 2 * 1024 * 1024;

/// The rows a typing worker puts in one batch: a raw batch's, or fewer when the lineage columns would pass
/// [`LINEAGE_BYTES`] at that length. An object key can be a kilobyte long: 32,768 copies of it, and of the
/// correlation id, would be 36 MB.
fn typed_batch_rows(opts: &Options, raw_batch_rows: usize) -> usize {
    let row = opts.source_key.len() + opts.correlation_id.as_ref().map_or(0, String::len);
    raw_batch_rows.min(LINEAGE_BYTES / row.max(1)).max(1)
}
const MAX_ROW_GROUP_ROWS: usize = 1 << 20;

/// Work for the typing workers: raw batch `n`, or the end after `n` batches.
enum Raw {
    Batch(u64, RawBatch),
    End(u64),
}

/// What the typing workers hand the sequencer.
enum Step {
    Typed(u64, Result<Typed, ConvertError>),
    End(u64),
}

/// A typing worker: takes raw batches from the shared queue, in whatever order the workers get to them.
fn type_worker(
    raw_rx: &Mutex<Receiver<Raw>>,
    out: &SyncSender<Step>,
    spent: &SyncSender<RawBatch>,
    mut typer: Typer<'_, '_>,
) {
    loop {
        let next = match raw_rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let step = match next {
            Ok(Raw::Batch(n, raw)) => {
                let typed = type_caught(&mut typer, &raw);
                // The reader takes it back when it next needs one; when enough wait, or it has stopped, it is
                // freed. So is one that grew far past a raw batch's size (the inference sample, or a very long
                // record): kept, it would hold that memory to the end.
                if raw.data.capacity() <= 4 * RAW_BATCH_BYTES {
                    let _ = spent.try_send(raw);
                }
                Step::Typed(n, typed)
            }
            Ok(Raw::End(n)) => Step::End(n),
            Err(_) => return,
        };
        if out.send(step).is_err() {
            return;
        }
    }
}

/// Types one raw batch. A panic is the batch's error, so the sequencer stops at it instead of waiting for it.
fn type_caught(typer: &mut Typer<'_, '_>, raw: &RawBatch) -> Result<Typed, ConvertError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| typer.type_batch(raw))).unwrap_or_else(
        |_| {
            Err(ConvertError::Write(io::Error::other(
                "typing thread panicked",
            )))
        },
    )
}

/// The sequencer: typed batches back in input order, to the encoder and the quarantine. Returns `None` when the
/// reader gave up, so the output is left unfinished.
fn sequence<Q: Write + Send>(
    typed_rx: &Receiver<Step>,
    tx: &SyncSender<Msg>,
    credits: &SyncSender<()>,
    mut batches: Sequencer<'_, Q>,
) -> Result<Option<Counts>, ConvertError> {
    let mut end = None;
    while end != Some(batches.done()) {
        match typed_rx.recv() {
            Ok(Step::Typed(n, typed)) => {
                for _ in 0..batches.take(n, typed?, tx)? {
                    // The reader may have finished (and dropped its end): nothing waits for the credit then.
                    let _ = credits.try_send(());
                }
            }
            Ok(Step::End(n)) => end = Some(n),
            Err(_) => return Ok(None),
        }
    }
    let counts = batches.finish()?;
    tx.send(Msg::Done).map_err(|_| encoder_gone())?;
    Ok(Some(counts))
}

fn encoder_gone() -> ConvertError {
    ConvertError::Write(io::Error::new(io::ErrorKind::BrokenPipe, "encoder stopped"))
}

/// The footer key naming the dataset's schema version the file was typed by.
pub const SCHEMA_VERSION_KEY: &str = "tributary.schema_version";

/// The writer's settings: the footer's lineage; dictionary encoding off for the columns `dictionary` says would
/// not repeat enough for one (`Plan::dictionary`), and compression off for those `compressed` says it would not
/// shrink (both by column, from the sample);
/// and statistics off for the lineage columns whose statistics are set whole ([`Constants`]).
fn writer_properties(
    opts: &Options,
    version: Option<u32>,
    schema: &Schema,
    (dictionary, compressed): (&[bool], &[bool]),
    constants: &Constants,
) -> WriterProperties {
    let mut metadata = vec![KeyValue::new(
        "tributary.source_key".to_owned(),
        opts.source_key.clone(),
    )];
    if let Some(id) = &opts.correlation_id {
        metadata.push(KeyValue::new(
            "tributary.correlation_id".to_owned(),
            id.clone(),
        ));
    }
    if let (Some(registration), Some(version)) = (&opts.registration, version) {
        metadata.push(KeyValue::new(
            "tributary.dataset".to_owned(),
            registration.dataset.clone(),
        ));
        metadata.push(KeyValue::new(
            SCHEMA_VERSION_KEY.to_owned(),
            version.to_string(),
        ));
    }
    metadata.extend(
        opts.metadata
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    let mut builder = constants.configure(WriterProperties::builder());
    for ((column, &dictionary), &compressed) in
        schema.columns.iter().zip(dictionary).zip(compressed)
    {
        let path = || ColumnPath::from(column.name.as_str());
        if !dictionary {
            builder = builder.set_column_dictionary_enabled(path(), false);
        }
        if !compressed {
            builder = builder.set_column_compression(path(), Compression::UNCOMPRESSED);
        }
    }
    builder
        .set_compression(opts.compression.parquet())
        .set_created_by(format!(
            "tributary csv-to-parquet {}",
            env!("CARGO_PKG_VERSION")
        ))
        .set_max_row_group_bytes(Some(opts.row_group_bytes.max(1)))
        .set_max_row_group_row_count(Some(1 << 20))
        .set_key_value_metadata(Some(metadata))
        .build()
}

#[cfg(test)]
mod tests;
