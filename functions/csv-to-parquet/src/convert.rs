//! The streaming converter: CSV (optionally gzip) in, Parquet out, rejected rows to a quarantine CSV.
//!
//! Pure: it reads a `Read` and writes two `Write`s, so it runs the same under Lambda (S3 streams), in the CLI
//! (files) and in tests (byte slices). Work is a three-stage pipeline: the calling thread tokenizes CSV into raw
//! batches, a builder thread types, validates and builds Arrow batches, and an encoder thread writes Parquet.
//! Memory is bounded by the batch size, two batches waiting between each pair of stages and one row group's
//! encoded bytes, whatever the input size.

use crate::infer::Inferred;
use crate::schema::{
    Column, ColumnType, INGESTED_AT_COLUMN, SOURCE_KEY_COLUMN, Schema, SchemaError,
};
use crate::tokenize::{RawBatch, TokenizeError, Tokenizer};
use crate::values::{
    DecimalError, parse_bool, parse_date, parse_decimal, parse_f64, parse_i64, parse_timestamp,
    trim,
};
use arrow_array::builder::{ArrayBuilder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, ScalarBuffer};
use arrow_schema::SchemaRef;
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::Serialize;
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Tuning and lineage for one conversion.
#[derive(Debug, Clone)]
pub struct Options {
    /// Declared schema; `None` infers one from the first `sample_rows` rows.
    pub schema: Option<Schema>,
    /// Written to every row's `_source_key`.
    pub source_key: String,
    /// Written to every row's `_ingested_at`.
    pub ingested_at: DateTime<Utc>,
    /// Rows per Arrow batch handed to the encoder.
    pub batch_rows: usize,
    /// A batch is also handed over once its rows hold this many CSV bytes.
    pub batch_bytes: usize,
    /// A Parquet row group is flushed once its encoded size reaches this.
    pub row_group_bytes: usize,
    /// Rows read before choosing inferred types.
    pub sample_rows: usize,
    /// Extra key/value pairs for the Parquet footer.
    pub metadata: Vec<(String, String)>,
    /// The longest record accepted, in bytes: the tokenizer's buffer grows to hold one record, so this bounds
    /// memory against a file with no line ends or an unclosed quote.
    pub max_record_bytes: usize,
    /// Where to publish the number of rows read so far (converted or quarantined), for a progress display.
    pub rows_read: Option<Arc<AtomicU64>>,
}

impl Options {
    pub fn new(source_key: impl Into<String>, ingested_at: DateTime<Utc>) -> Self {
        Self {
            schema: None,
            source_key: source_key.into(),
            ingested_at,
            batch_rows: 32 * 1024,
            batch_bytes: 8 * 1024 * 1024,
            row_group_bytes: 32 * 1024 * 1024,
            sample_rows: 10_000,
            metadata: Vec::new(),
            max_record_bytes: 64 * 1024 * 1024,
            rows_read: None,
        }
    }
}

/// Where the schema came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaSource {
    Declared,
    Inferred,
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
#[error("quality gate failed: {rejected} of {total} rows rejected ({ratio:.4} > max {max})")]
pub struct QualityGateError {
    pub rejected: u64,
    pub total: u64,
    pub ratio: f64,
    pub max: f64,
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
        opts.max_record_bytes,
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

    // Inference reads its sample first; the sample is then converted as the first raw batch.
    let mut sample = RawBatch::default();
    if opts.schema.is_none() {
        tokenizer
            .read_into(&mut sample, opts.sample_rows, usize::MAX)
            .map_err(ConvertError::from)?;
    }
    let plan = Plan::new(&header, opts.schema.as_ref(), &sample)?;
    let schema = plan.schema.arrow_schema();
    let props = writer_properties(opts);

    // Raw batches are small: they only carry work between threads, and memory should go to the Arrow batches.
    let raw_batch_bytes = opts.batch_bytes.clamp(1, RAW_BATCH_BYTES);
    let raw_batch_rows = opts.batch_rows.clamp(1, RAW_BATCH_ROWS);
    std::thread::scope(|scope| {
        let (raw_tx, raw_rx) = sync_channel::<Raw>(2);
        let (tx, rx) = sync_channel::<Msg>(2);
        let encoder = scope.spawn(|| encode(rx, output, Arc::clone(&schema), props));
        let builder =
            scope.spawn(|| build(raw_rx, tx, RowSink::new(&plan, &header, opts, quarantine)));

        // This thread only tokenizes: CSV records (with their physical line numbers) into flat raw batches.
        let read_result = (|| -> Result<(), ConvertError> {
            let mut raw = sample;
            let send = |raw: &mut RawBatch| {
                let next = RawBatch::with_capacity_like(raw);
                raw_tx
                    .send(Raw::Batch(std::mem::replace(raw, next)))
                    .map_err(|_| encoder_gone())
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
            raw_tx.send(Raw::End).map_err(|_| encoder_gone())
        })();
        drop(raw_tx);
        let built = builder.join().unwrap_or_else(|_| {
            Err(ConvertError::Write(io::Error::other(
                "builder thread panicked",
            )))
        });
        let encoded = encoder.join().unwrap_or_else(|_| {
            Err(ConvertError::Write(io::Error::other(
                "encoder thread panicked",
            )))
        });
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
            }),
        }
    })
}

const RAW_BATCH_BYTES: usize = 1024 * 1024;
const RAW_BATCH_ROWS: usize = 4096;

enum Raw {
    Batch(RawBatch),
    End,
}

/// Rows counted by the builder thread.
struct Counts {
    rows_in: u64,
    rows_out: u64,
}

/// The builder thread: raw batches in, typed Arrow batches out (and rejected rows to the quarantine). Returns
/// `None` when the reader gave up, so the output is left unfinished.
fn build<Q: Write + Send>(
    raw_rx: Receiver<Raw>,
    tx: SyncSender<Msg>,
    mut rows: RowSink<'_, Q>,
) -> Result<Option<Counts>, ConvertError> {
    loop {
        match raw_rx.recv() {
            Ok(Raw::Batch(raw)) => rows.push_batch(&raw, &tx)?,
            Ok(Raw::End) => break,
            Err(_) => return Ok(None),
        }
    }
    rows.flush_batch(&tx)?;
    rows.finish_quarantine()?;
    tx.send(Msg::Done).map_err(|_| encoder_gone())?;
    Ok(Some(Counts {
        rows_in: rows.rows_in,
        rows_out: rows.rows_out,
    }))
}

fn encoder_gone() -> ConvertError {
    ConvertError::Write(io::Error::new(io::ErrorKind::BrokenPipe, "encoder stopped"))
}

fn writer_properties(opts: &Options) -> WriterProperties {
    let mut metadata = vec![KeyValue::new(
        "tributary.source_key".to_owned(),
        opts.source_key.clone(),
    )];
    metadata.extend(
        opts.metadata
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!(
            "tributary csv-to-parquet {}",
            env!("CARGO_PKG_VERSION")
        ))
        .set_max_row_group_bytes(Some(opts.row_group_bytes.max(1)))
        .set_max_row_group_row_count(Some(1 << 20))
        .set_key_value_metadata(Some(metadata))
        .build()
}

// ---------------------------------------------------------------------------------------------------------------
// Input: gzip detection, BOM, byte counting.

struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

const BUF: usize = 256 * 1024;

impl From<TokenizeError> for ConvertError {
    fn from(e: TokenizeError) -> Self {
        match e {
            TokenizeError::Io(e) => Self::Read(e),
            TokenizeError::RecordTooLarge { line, limit } => Self::RecordTooLarge { line, limit },
        }
    }
}

/// Opens the text stream: gunzips when the bytes start with the gzip magic, whatever the name says. (The
/// tokenizer drops a UTF-8 byte-order mark.)
fn open<'a, R: Read + 'a>(
    input: R,
    count: Rc<Cell<u64>>,
) -> Result<Box<dyn Read + 'a>, ConvertError> {
    // A small buffer, only to look at the first bytes: the tokenizer's larger reads then bypass it.
    let mut raw = BufReader::with_capacity(
        8 * 1024,
        Counting {
            inner: input,
            count,
        },
    );
    let head = raw.fill_buf().map_err(ConvertError::Read)?;
    if head.is_empty() {
        return Err(ConvertError::Empty);
    }
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    })
}

/// Header names: trimmed, blanks named `column_N`, duplicates suffixed `_2`, `_3`, ...
fn header_names<'f>(fields: impl Iterator<Item = &'f [u8]>) -> Result<Vec<String>, ConvertError> {
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, field) in fields.enumerate() {
        let text = std::str::from_utf8(field).map_err(|_| ConvertError::HeaderNotUtf8)?;
        let base = match trim(text) {
            "" => format!("column_{}", i + 1),
            t => t.to_owned(),
        };
        let mut name = base.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    Ok(names)
}

// ---------------------------------------------------------------------------------------------------------------
// The plan: which input field feeds which output column.

struct Plan {
    schema: Schema,
    /// For each output column, the input field index (`None`: absent, nullable, all nulls).
    sources: Vec<Option<usize>>,
    ignored: Vec<String>,
    source: SchemaSource,
}

impl Plan {
    fn new(
        header: &[String],
        declared: Option<&Schema>,
        sample: &RawBatch,
    ) -> Result<Self, ConvertError> {
        if let Some(reserved) = header
            .iter()
            .find(|h| *h == SOURCE_KEY_COLUMN || *h == INGESTED_AT_COLUMN)
        {
            return Err(ConvertError::ReservedColumn(reserved.clone()));
        }
        let Some(declared) = declared else {
            let mut inferred = vec![Inferred::default(); header.len()];
            for r in (0..sample.len()).filter(|&r| sample.field_count(r) == header.len()) {
                for (state, field) in inferred.iter_mut().zip(sample.fields(r)) {
                    if let Ok(text) = std::str::from_utf8(field) {
                        state.observe(text);
                    }
                }
            }
            let columns = header
                .iter()
                .zip(&inferred)
                .map(|(name, state)| Column {
                    name: name.clone(),
                    column_type: state.column_type(),
                    nullable: true,
                })
                .collect();
            return Ok(Self {
                schema: Schema { columns },
                sources: (0..header.len()).map(Some).collect(),
                ignored: Vec::new(),
                source: SchemaSource::Inferred,
            });
        };
        let find = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .or_else(|| header.iter().position(|h| h.eq_ignore_ascii_case(name)))
        };
        let mut sources = Vec::with_capacity(declared.columns.len());
        for column in &declared.columns {
            let source = find(&column.name);
            if source.is_none() && !column.nullable {
                return Err(ConvertError::MissingColumn(column.name.clone()));
            }
            sources.push(source);
        }
        let ignored = header
            .iter()
            .enumerate()
            .filter(|(i, _)| !sources.contains(&Some(*i)))
            .map(|(_, h)| h.clone())
            .collect();
        Ok(Self {
            schema: declared.clone(),
            sources,
            ignored,
            source: SchemaSource::Declared,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Column builders that can drop a half-appended row.

#[derive(Debug)]
enum Values {
    /// Strings are appended only once the whole row is known to be good, so they never need truncating.
    Str(StringBuilder),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Bool(BooleanBufferBuilder),
    Date(Vec<i32>),
    Ts(Vec<i64>),
    Dec(Vec<i128>),
}

#[derive(Debug)]
struct ColumnBuilder {
    column_type: ColumnType,
    nullable: bool,
    values: Values,
    valid: BooleanBufferBuilder,
}

/// A value that did not fit its column; the message names the column and the problem.
type FieldError = String;

fn shown(text: &str) -> String {
    let mut s: String = text.chars().take(64).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

impl ColumnBuilder {
    fn new(column: &Column, capacity: usize) -> Self {
        let values = match column.column_type {
            ColumnType::String => {
                Values::Str(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            ColumnType::Int64 => Values::I64(Vec::with_capacity(capacity)),
            ColumnType::Float64 => Values::F64(Vec::with_capacity(capacity)),
            ColumnType::Bool => Values::Bool(BooleanBufferBuilder::new(capacity)),
            ColumnType::Date => Values::Date(Vec::with_capacity(capacity)),
            ColumnType::Timestamp => Values::Ts(Vec::with_capacity(capacity)),
            ColumnType::Decimal { .. } => Values::Dec(Vec::with_capacity(capacity)),
        };
        Self {
            column_type: column.column_type,
            nullable: column.nullable,
            values,
            valid: BooleanBufferBuilder::new(capacity),
        }
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::Str(b) => b.len(),
            _ => self.valid.len(),
        }
    }

    fn is_string(&self) -> bool {
        matches!(self.values, Values::Str(_))
    }

    /// Checks a string field without appending it (see [`ColumnBuilder::push_str`]).
    fn check_str(&self, name: &str, text: &str) -> Result<(), FieldError> {
        if text.is_empty() && !self.nullable {
            return Err(format!(
                "column {name:?}: empty value in a non-nullable column"
            ));
        }
        Ok(())
    }

    /// Appends a checked string field; empty is null.
    fn push_str(&mut self, text: &str) {
        if let Values::Str(b) = &mut self.values {
            if text.is_empty() {
                b.append_null()
            } else {
                b.append_value(text)
            }
        }
    }

    fn push_null(&mut self, name: &str) -> Result<(), FieldError> {
        if !self.nullable {
            return Err(format!(
                "column {name:?}: empty value in a non-nullable column"
            ));
        }
        match &mut self.values {
            Values::Str(b) => {
                b.append_null();
                return Ok(());
            }
            Values::I64(v) | Values::Ts(v) => v.push(0),
            Values::F64(v) => v.push(0.0),
            Values::Bool(v) => v.append(false),
            Values::Date(v) => v.push(0),
            Values::Dec(v) => v.push(0),
        }
        self.valid.append(false);
        Ok(())
    }

    /// Appends one typed (non-string) field.
    fn push(&mut self, name: &str, text: &str) -> Result<(), FieldError> {
        if text.is_empty() {
            return self.push_null(name);
        }
        let bad = |t: ColumnType| format!("column {name:?}: {:?} is not a valid {t}", shown(text));
        let t = trim(text);
        if t.is_empty() {
            return self.push_null(name);
        }
        match &mut self.values {
            Values::Str { .. } => {}
            Values::I64(v) => v.push(parse_i64(t).ok_or_else(|| bad(ColumnType::Int64))?),
            Values::F64(v) => v.push(parse_f64(t).ok_or_else(|| bad(ColumnType::Float64))?),
            Values::Bool(v) => v.append(parse_bool(t).ok_or_else(|| bad(ColumnType::Bool))?),
            Values::Date(v) => v.push(parse_date(t).ok_or_else(|| bad(ColumnType::Date))?),
            Values::Ts(v) => v.push(parse_timestamp(t).ok_or_else(|| bad(ColumnType::Timestamp))?),
            Values::Dec(v) => {
                let ColumnType::Decimal { precision, scale } = self.column_type else {
                    return Err(bad(self.column_type));
                };
                v.push(parse_decimal(t, precision, scale).map_err(|e| match e {
                    DecimalError::NotANumber => bad(self.column_type),
                    DecimalError::TooManyFractionDigits => {
                        format!(
                            "column {name:?}: {:?} has more than {scale} decimal places",
                            shown(text)
                        )
                    }
                    DecimalError::TooManyDigits => {
                        format!(
                            "column {name:?}: {:?} does not fit {}",
                            shown(text),
                            self.column_type
                        )
                    }
                })?);
            }
        }
        self.valid.append(true);
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        if self.len() <= len {
            return;
        }
        self.valid.truncate(len);
        match &mut self.values {
            Values::Str(_) => {}
            Values::I64(v) | Values::Ts(v) => v.truncate(len),
            Values::F64(v) => v.truncate(len),
            Values::Bool(v) => v.truncate(len),
            Values::Date(v) => v.truncate(len),
            Values::Dec(v) => v.truncate(len),
        }
    }

    /// Takes the built array, leaving the builder empty.
    fn finish(&mut self, capacity: usize) -> Result<ArrayRef, ConvertError> {
        let nulls = Some(NullBuffer::new(self.valid.finish())).filter(|n| n.null_count() > 0);
        self.valid = BooleanBufferBuilder::new(capacity);
        Ok(match &mut self.values {
            Values::Str(b) => {
                // finish() leaves the builder with no capacity; start the next batch at this one's size
                // instead of regrowing from nothing.
                let bytes = b.values_slice().len();
                let array = b.finish();
                *b = StringBuilder::with_capacity(capacity, bytes + bytes / 8);
                Arc::new(array)
            }
            Values::I64(v) => Arc::new(Int64Array::new(
                ScalarBuffer::from(take(v, capacity)),
                nulls,
            )),
            Values::F64(v) => Arc::new(Float64Array::new(
                ScalarBuffer::from(take(v, capacity)),
                nulls,
            )),
            Values::Bool(v) => {
                let bits = v.finish();
                *v = BooleanBufferBuilder::new(capacity);
                Arc::new(BooleanArray::new(bits, nulls))
            }
            Values::Date(v) => Arc::new(Date32Array::new(
                ScalarBuffer::from(take(v, capacity)),
                nulls,
            )),
            Values::Ts(v) => Arc::new(
                TimestampMicrosecondArray::new(ScalarBuffer::from(take(v, capacity)), nulls)
                    .with_timezone("UTC"),
            ),
            Values::Dec(v) => {
                let ColumnType::Decimal { precision, scale } = self.column_type else {
                    return Err(arrow_schema::ArrowError::InvalidArgumentError(
                        "decimal builder without decimal type".into(),
                    )
                    .into());
                };
                Arc::new(
                    Decimal128Array::new(ScalarBuffer::from(take(v, capacity)), nulls)
                        .with_precision_and_scale(precision, scale)?,
                )
            }
        })
    }
}

fn take<T>(v: &mut Vec<T>, capacity: usize) -> Vec<T> {
    std::mem::replace(v, Vec::with_capacity(capacity))
}

// ---------------------------------------------------------------------------------------------------------------
// Rows in, batches and quarantine lines out.

enum Msg {
    Batch(RecordBatch),
    Done,
}

struct RowSink<'q, Q: Write> {
    builders: Vec<ColumnBuilder>,
    names: Vec<String>,
    sources: Vec<Option<usize>>,
    width: usize,
    schema: SchemaRef,
    /// The lineage columns are constant: built once at full batch length and sliced per batch.
    source_key: ArrayRef,
    ingested_at: ArrayRef,
    batch_rows: usize,
    batch_bytes: usize,
    pending_bytes: usize,
    rows_in: u64,
    rows_out: u64,
    rows_read: Option<Arc<AtomicU64>>,
    quarantine: Quarantine<'q, Q>,
    reasons: Vec<FieldError>,
}

impl<'q, Q: Write> RowSink<'q, Q> {
    fn new(plan: &Plan, header: &[String], opts: &Options, quarantine: &'q mut Q) -> Self {
        let capacity = opts.batch_rows.max(1);
        Self {
            builders: plan
                .schema
                .columns
                .iter()
                .map(|c| ColumnBuilder::new(c, capacity))
                .collect(),
            names: plan.schema.columns.iter().map(|c| c.name.clone()).collect(),
            sources: plan.sources.clone(),
            width: header.len(),
            schema: plan.schema.arrow_schema(),
            source_key: Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                opts.source_key.as_str(),
                capacity,
            ))),
            ingested_at: Arc::new(
                TimestampMicrosecondArray::from(vec![
                    opts.ingested_at.timestamp_micros();
                    capacity
                ])
                .with_timezone("UTC"),
            ),
            batch_rows: capacity,
            batch_bytes: opts.batch_bytes.max(1),
            pending_bytes: 0,
            rows_in: 0,
            rows_out: 0,
            rows_read: opts.rows_read.clone(),
            quarantine: Quarantine {
                sink: Some(quarantine),
                writer: None,
                header: header.to_vec(),
            },
            reasons: Vec::new(),
        }
    }

    fn rows(&self) -> usize {
        self.builders.first().map_or(0, ColumnBuilder::len)
    }

    /// Takes a raw batch: each record is appended to the Arrow batch being built or sent to the quarantine.
    fn push_batch(&mut self, raw: &RawBatch, tx: &SyncSender<Msg>) -> Result<(), ConvertError> {
        let invalid = raw.invalid_utf8();
        let whole = if invalid.is_empty() {
            std::str::from_utf8(&raw.data).ok()
        } else {
            None
        };
        let mut invalid = invalid.into_iter().peekable();
        for r in 0..raw.len() {
            let line = raw.lines[r];
            let bytes = raw.byte_range(r);
            // The whole-buffer check cannot see a character split across two records (its bytes are valid
            // together), so a record that is not valid text on its own is found here: `get` refuses to cut
            // inside a character. Either way the record goes to the quarantine, never through as empty text.
            let text = match whole.and_then(|w| w.get(bytes.clone())) {
                Some(t) => Ok(t),
                None => std::str::from_utf8(&raw.data[bytes.clone()])
                    .map_err(|e| bytes.start + e.valid_up_to()),
            };
            let bad_utf8 = invalid
                .next_if(|&(bad, _)| bad == r)
                .map(|(_, field)| field)
                .or_else(|| {
                    let at = text.err()?;
                    Some(raw.field_ends_of(r).partition_point(|&end| end <= at))
                });
            let width = raw.field_count(r);
            if width != self.width {
                self.rows_in += 1;
                let reason = format!("expected {} fields, found {width}", self.width);
                self.quarantine.reject(line, &reason, raw.fields(r))?;
                continue;
            }
            let text = match (bad_utf8, text) {
                (None, Ok(text)) => text,
                (field, _) => {
                    let field = field.unwrap_or(0);
                    self.rows_in += 1;
                    let name = self
                        .quarantine
                        .header
                        .get(field)
                        .map_or("?", String::as_str);
                    let reason = format!("column {name:?}: value is not valid UTF-8");
                    self.quarantine.reject(line, &reason, raw.fields(r))?;
                    continue;
                }
            };
            // Fields are cut at ASCII delimiters, so slicing valid UTF-8 at field ends never splits a character.
            let ends = raw.field_ends_of(r);
            let field = |i: usize| {
                let start = if i == 0 { bytes.start } else { ends[i - 1] + 1 } - bytes.start;
                &text[start..ends[i] - bytes.start]
            };
            self.push(
                field,
                bytes.len(),
                |q, reason| q.reject(line, reason, raw.fields(r)),
                tx,
            )?;
        }
        if let Some(published) = &self.rows_read {
            published.store(self.rows_in, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Takes one well-formed record (right width, UTF-8), given as a field accessor.
    fn push<'t>(
        &mut self,
        field: impl Fn(usize) -> &'t str,
        raw_len: usize,
        reject: impl FnOnce(&mut Quarantine<'q, Q>, &str) -> Result<(), ConvertError>,
        tx: &SyncSender<Msg>,
    ) -> Result<(), ConvertError> {
        self.rows_in += 1;
        let committed = self.rows();
        for (j, builder) in self.builders.iter_mut().enumerate() {
            let checked = match self.sources[j] {
                None => builder.push_null(&self.names[j]),
                Some(i) if builder.is_string() => builder.check_str(&self.names[j], field(i)),
                Some(i) => builder.push(&self.names[j], field(i)),
            };
            if let Err(reason) = checked {
                self.reasons.push(reason);
            }
        }
        if !self.reasons.is_empty() {
            for builder in &mut self.builders {
                builder.truncate(committed);
            }
            let reason = self.reasons.join("; ");
            self.reasons.clear();
            return reject(&mut self.quarantine, &reason);
        }
        for (builder, source) in self.builders.iter_mut().zip(&self.sources) {
            if let (true, Some(i)) = (builder.is_string(), source) {
                builder.push_str(field(*i));
            }
        }
        self.pending_bytes += raw_len;
        self.rows_out += 1;
        if self.rows() >= self.batch_rows || self.pending_bytes >= self.batch_bytes {
            self.flush_batch(tx)?;
        }
        Ok(())
    }

    fn flush_batch(&mut self, tx: &SyncSender<Msg>) -> Result<(), ConvertError> {
        let n = self.rows();
        if n == 0 {
            return Ok(());
        }
        let mut columns = Vec::with_capacity(self.builders.len() + 2);
        for builder in &mut self.builders {
            columns.push(builder.finish(self.batch_rows)?);
        }
        columns.push(self.source_key.slice(0, n));
        columns.push(self.ingested_at.slice(0, n));
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        self.pending_bytes = 0;
        tx.send(Msg::Batch(batch)).map_err(|_| encoder_gone())
    }

    fn finish_quarantine(&mut self) -> Result<(), ConvertError> {
        if let Some(writer) = self.quarantine.writer.as_mut() {
            writer.flush().map_err(ConvertError::Write)?;
        }
        Ok(())
    }
}

/// The quarantine CSV: `_line,_reason,<input columns...>`, then each rejected row's original fields.
struct Quarantine<'q, Q: Write> {
    sink: Option<&'q mut Q>,
    writer: Option<csv::Writer<&'q mut Q>>,
    header: Vec<String>,
}

impl<Q: Write> Quarantine<'_, Q> {
    fn reject<'f>(
        &mut self,
        line: u64,
        reason: &str,
        fields: impl Iterator<Item = &'f [u8]>,
    ) -> Result<(), ConvertError> {
        if self.writer.is_none() {
            let Some(sink) = self.sink.take() else {
                return Err(encoder_gone());
            };
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(sink);
            w.write_record(
                ["_line", "_reason"]
                    .into_iter()
                    .chain(self.header.iter().map(String::as_str)),
            )
            .map_err(write_error)?;
            self.writer = Some(w);
        }
        let Some(w) = self.writer.as_mut() else {
            return Err(encoder_gone());
        };
        w.write_field(line.to_string()).map_err(write_error)?;
        w.write_field(reason).map_err(write_error)?;
        for field in fields {
            w.write_field(field).map_err(write_error)?;
        }
        // An empty record ends the one written field by field.
        w.write_record(None::<&[u8]>).map_err(write_error)
    }
}

fn write_error(e: csv::Error) -> ConvertError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ConvertError::Write(io),
        other => ConvertError::Write(io::Error::other(format!("{other:?}"))),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The encoder thread.

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes batches until `Done`, then the footer; returns the bytes written, or `None` when the reader gave up.
fn encode<W: Write + Send>(
    rx: Receiver<Msg>,
    output: &mut W,
    schema: SchemaRef,
    props: WriterProperties,
) -> Result<Option<u64>, ConvertError> {
    let mut sink = CountingWriter {
        inner: output,
        count: 0,
    };
    let mut writer = ArrowWriter::try_new(&mut sink, schema, Some(props))?;
    loop {
        match rx.recv() {
            Ok(Msg::Batch(batch)) => writer.write(&batch)?,
            Ok(Msg::Done) => break,
            // The reader gave up: leave the output unfinished, the caller discards it.
            Err(_) => return Ok(None),
        }
    }
    writer.close()?;
    sink.flush().map_err(ConvertError::Write)?;
    Ok(Some(sink.count))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
