//! Raw batches in, typed Arrow batches and quarantine records out: the typing stage. Each typing worker owns a
//! [`Typer`] and types whole raw batches; [`Sequencer`] puts their results back in the input's order.

use super::*;

pub(super) enum Msg {
    Batch(RecordBatch),
    Done,
}

/// One raw batch, typed: its good rows as Arrow batches (of at most the typed batch size), its rejected rows as
/// quarantine CSV records.
pub(super) struct Typed {
    pub(super) batches: Vec<RecordBatch>,
    /// Quarantine records (no header), in input order.
    pub(super) rejected: Vec<u8>,
    pub(super) rows_in: u64,
    pub(super) rows_out: u64,
    /// Rows rejected for each output column's value (a row with two bad values counts in both).
    pub(super) rejected_by_column: Vec<u64>,
}

/// The lineage columns are constant: built once, at the longest batch's length, and sliced per batch. Their
/// text is binary in the typed batches, as every string column's is ([`typed_schema`]).
pub(super) struct Lineage {
    source_key: ArrayRef,
    ingested_at: ArrayRef,
    correlation_id: ArrayRef,
}

impl Lineage {
    pub(super) fn new(opts: &Options, rows: usize) -> Self {
        Self {
            source_key: Arc::new(BinaryArray::from_iter_values(std::iter::repeat_n(
                opts.source_key.as_bytes(),
                rows,
            ))),
            ingested_at: Arc::new(
                TimestampMicrosecondArray::from(vec![opts.ingested_at.timestamp_micros(); rows])
                    .with_timezone("UTC"),
            ),
            correlation_id: Arc::new(BinaryArray::from(vec![
                opts.correlation_id
                    .as_deref()
                    .map(str::as_bytes);
                rows
            ])),
        }
    }
}

/// What every typer shares: the plan's columns, the input's header and the lineage columns.
pub(super) struct Shape<'p> {
    pub(super) plan: &'p Plan,
    pub(super) header: &'p [String],
    /// The typed batches' schema ([`typed_schema`]).
    pub(super) schema: SchemaRef,
    pub(super) lineage: Lineage,
}

/// The rows the builders first have room for; later batches start at the size of the one before.
const FIRST_BATCH_ROWS: usize = 4096;

/// Types raw batches: each record is appended to the batch being built or written as a quarantine record.
pub(super) struct Typer<'s, 'p> {
    shape: &'s Shape<'p>,
    builders: Vec<ColumnBuilder>,
    capacity: usize,
    /// The batch's quarantine records, written once one is rejected.
    rejected: Option<csv::Writer<Vec<u8>>>,
    reasons: Vec<FieldError>,
    rows_in: u64,
    rows_out: u64,
    rejected_by_column: Vec<u64>,
}

impl<'s, 'p> Typer<'s, 'p> {
    pub(super) fn new(shape: &'s Shape<'p>, capacity: usize) -> Self {
        let columns = &shape.plan.schema.columns;
        Self {
            shape,
            builders: columns
                .iter()
                .map(|c| ColumnBuilder::new(c, capacity.min(FIRST_BATCH_ROWS)))
                .collect(),
            capacity,
            rejected: None,
            reasons: Vec::new(),
            rows_in: 0,
            rows_out: 0,
            rejected_by_column: vec![0; columns.len()],
        }
    }

    fn rows(&self) -> usize {
        self.builders.first().map_or(0, ColumnBuilder::len)
    }

    fn rejected(&mut self) -> &mut csv::Writer<Vec<u8>> {
        self.rejected
            .get_or_insert_with(|| quarantine_writer(Vec::new()))
    }

    /// Types one raw batch.
    pub(super) fn type_batch(&mut self, raw: &RawBatch) -> Result<Typed, ConvertError> {
        let mut batches = Vec::new();
        let width = self.shape.header.len();
        // Nearly always the whole batch is valid: one SIMD check gives its text (std's check ran twice here, and
        // took five times the instructions).
        let whole = simdutf8::basic::from_utf8(&raw.data).ok();
        let invalid = match whole {
            Some(_) => Vec::new(),
            None => raw.invalid_utf8(),
        };
        let mut invalid = invalid.into_iter().peekable();
        // A string column's bytes are at most the raw batch's: only a batch this large can fill one.
        let may_fill = raw.data.len() >= STRING_BATCH_BYTES;
        for (r, (line, bytes, ends)) in raw.records().enumerate() {
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
                    Some(ends.partition_point(|&end| end <= at))
                });
            let found = ends.len();
            if found != width {
                self.rows_in += 1;
                let reason = format!("expected {width} fields, found {found}");
                reject(self.rejected(), line, &reason, raw.fields(r))?;
                continue;
            }
            let text = match (bad_utf8, text) {
                (None, Ok(text)) => text,
                (field, _) => {
                    let field = field.unwrap_or(0);
                    self.rows_in += 1;
                    let name = self.shape.header.get(field).map_or("?", String::as_str);
                    let reason = format!("column {name:?}: value is not valid UTF-8");
                    reject(self.rejected(), line, &reason, raw.fields(r))?;
                    continue;
                }
            };
            let field = |i: usize| text_field(text, bytes.start, ends, i);
            // A text column's field is taken as the bytes of this checked text, where it lies in the batch's data.
            let span = |i: usize| field_span(bytes.start, ends, i);
            let data: &[u8] = &raw.data;
            self.push(
                field,
                |i| (data, span(i)),
                |w, reason| reject(w, line, reason, raw.fields(r)),
            )?;
            if self.rows() >= self.capacity
                || (may_fill && self.builders.iter().any(ColumnBuilder::full))
            {
                batches.extend(self.batch()?);
            }
        }
        batches.extend(self.batch()?);
        self.finish(batches)
    }

    /// Takes one well-formed record (right width, UTF-8), given as field accessors (a field's text; and for text
    /// columns, where that text lies in the batch's data): typed, or written to the quarantine.
    fn push<'t>(
        &mut self,
        field: impl Fn(usize) -> &'t str,
        field_in: impl Fn(usize) -> (&'t [u8], std::ops::Range<usize>),
        reject: impl FnOnce(&mut csv::Writer<Vec<u8>>, &str) -> Result<(), ConvertError>,
    ) -> Result<(), ConvertError> {
        self.rows_in += 1;
        let plan = self.shape.plan;
        let committed = self.rows();
        let columns = self.builders.iter_mut().zip(&plan.sources);
        for (j, ((builder, source), column)) in columns.zip(&plan.schema.columns).enumerate() {
            let name = &column.name;
            let checked = match *source {
                // A column the file lacks is null.
                None => builder.push_null(name),
                Some(i) if builder.is_text() => {
                    let (data, span) = field_in(i);
                    builder.push_text(name, data, span)
                }
                Some(i) => builder.push(name, field(i)),
            };
            if let Err(reason) = checked {
                self.reasons.push(reason);
                self.rejected_by_column[j] += 1;
            }
        }
        if !self.reasons.is_empty() {
            for builder in &mut self.builders {
                builder.truncate(committed);
            }
            let reason = self.reasons.join("; ");
            self.reasons.clear();
            return reject(self.rejected(), &reason);
        }
        self.rows_out += 1;
        Ok(())
    }

    /// The rows typed so far as a batch, if there are any.
    fn batch(&mut self) -> Result<Option<RecordBatch>, ConvertError> {
        let n = self.rows();
        if n == 0 {
            return Ok(None);
        }
        let mut columns = Vec::with_capacity(self.builders.len() + LINEAGE_COLUMNS.len());
        for builder in &mut self.builders {
            // The next batch's buffers start at this one's size: room for as many rows as the batch limit
            // allows would hold wide rows' buffers mostly empty, and memory is what limits the raw batches.
            columns.push(builder.finish((n + n / 8).min(self.capacity))?);
        }
        let lineage = &self.shape.lineage;
        columns.push(lineage.source_key.slice(0, n));
        columns.push(lineage.ingested_at.slice(0, n));
        columns.push(lineage.correlation_id.slice(0, n));
        let batch = RecordBatch::try_new(Arc::clone(&self.shape.schema), columns)?;
        Ok(Some(batch))
    }

    /// The raw batch's result, with the counts since the last one.
    fn finish(&mut self, batches: Vec<RecordBatch>) -> Result<Typed, ConvertError> {
        let rejected = match self.rejected.take() {
            Some(w) => written(w)?,
            None => Vec::new(),
        };
        let width = self.rejected_by_column.len();
        Ok(Typed {
            batches,
            rejected,
            rows_in: std::mem::take(&mut self.rows_in),
            rows_out: std::mem::take(&mut self.rows_out),
            rejected_by_column: std::mem::replace(&mut self.rejected_by_column, vec![0; width]),
        })
    }
}

/// The quarantine CSV's writer settings, one place for the header and the records.
fn quarantine_writer<W: Write>(sink: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().flexible(true).from_writer(sink)
}

/// The CSV a writer into memory holds.
fn written(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, ConvertError> {
    w.into_inner()
        .map_err(|e| ConvertError::Write(io::Error::other(e.to_string())))
}

/// One quarantine record: `_line,_reason,<the row's original fields...>`.
fn reject<'f, W: Write>(
    w: &mut csv::Writer<W>,
    line: u64,
    reason: &str,
    fields: impl Iterator<Item = &'f [u8]>,
) -> Result<(), ConvertError> {
    w.write_field(line.to_string()).map_err(write_error)?;
    w.write_field(reason).map_err(write_error)?;
    for field in fields {
        w.write_field(field).map_err(write_error)?;
    }
    // An empty record ends the one written field by field.
    w.write_record(None::<&[u8]>).map_err(write_error)
}

/// Rows counted over the whole input.
pub(super) struct Counts {
    pub(super) rows_in: u64,
    pub(super) rows_out: u64,
    /// `(column, rows)` for each column with rejected values, most first.
    pub(super) rejected_by_column: Vec<(String, u64)>,
}

/// Puts typed batches back in input order: their rows go to the encoder, their rejected records to the quarantine
/// (`_line,_reason,<input columns...>` first, written only once a row is rejected). The encoder gets the typing
/// workers' batches as they are (up to a raw batch each, 1 MiB of CSV): joining them up to a larger size cost a
/// copy of every value (2.5–3 % of the instructions on order lines and long notes) and saved the encoder nothing
/// measurable.
pub(super) struct Sequencer<'q, Q: Write> {
    next: u64,
    waiting: std::collections::BTreeMap<u64, Typed>,
    quarantine: &'q mut Q,
    /// The quarantine's header, until it is written (before the first rejected record).
    header: Option<Vec<String>>,
    names: Vec<String>,
    rows_in: u64,
    rows_out: u64,
    rejected_by_column: Vec<u64>,
    rows_read: Option<Arc<AtomicU64>>,
}

impl<'q, Q: Write> Sequencer<'q, Q> {
    pub(super) fn new(
        plan: &Plan,
        header: &[String],
        opts: &Options,
        quarantine: &'q mut Q,
    ) -> Self {
        Self {
            next: 0,
            waiting: Default::default(),
            quarantine,
            header: Some(header.to_vec()),
            names: plan.schema.columns.iter().map(|c| c.name.clone()).collect(),
            rows_in: 0,
            rows_out: 0,
            rejected_by_column: vec![0; plan.schema.columns.len()],
            rows_read: opts.rows_read.clone(),
        }
    }

    /// Batches handed on so far.
    pub(super) fn done(&self) -> u64 {
        self.next
    }

    /// Takes raw batch `seq`'s result; hands on every result now in order, and says how many that was.
    pub(super) fn take(
        &mut self,
        seq: u64,
        typed: Typed,
        tx: &SyncSender<Msg>,
    ) -> Result<usize, ConvertError> {
        self.waiting.insert(seq, typed);
        let mut handed = 0;
        while let Some(typed) = self.waiting.remove(&self.next) {
            self.next += 1;
            handed += 1;
            self.rows_in += typed.rows_in;
            self.rows_out += typed.rows_out;
            for (total, n) in self
                .rejected_by_column
                .iter_mut()
                .zip(&typed.rejected_by_column)
            {
                *total += n;
            }
            if !typed.rejected.is_empty() {
                if let Some(header) = self.header.take() {
                    let mut w = quarantine_writer(Vec::new());
                    w.write_record(
                        ["_line", "_reason"]
                            .into_iter()
                            .chain(header.iter().map(String::as_str)),
                    )
                    .map_err(write_error)?;
                    let header = written(w)?;
                    self.quarantine
                        .write_all(&header)
                        .map_err(ConvertError::Write)?;
                }
                self.quarantine
                    .write_all(&typed.rejected)
                    .map_err(ConvertError::Write)?;
            }
            if let Some(published) = &self.rows_read {
                published.store(self.rows_in, Ordering::Relaxed);
            }
            for batch in typed.batches {
                tx.send(Msg::Batch(batch)).map_err(|_| encoder_gone())?;
            }
        }
        Ok(handed)
    }

    /// The counts, once every batch is in; flushes the quarantine.
    pub(super) fn finish(self) -> Result<Counts, ConvertError> {
        if self.header.is_none() {
            self.quarantine.flush().map_err(ConvertError::Write)?;
        }
        let mut rejected_by_column: Vec<(String, u64)> = self
            .names
            .into_iter()
            .zip(self.rejected_by_column)
            .filter(|(_, n)| *n > 0)
            .collect();
        rejected_by_column.sort_by_key(|c| std::cmp::Reverse(c.1));
        Ok(Counts {
            rows_in: self.rows_in,
            rows_out: self.rows_out,
            rejected_by_column,
        })
    }
}

pub(super) fn write_error(e: csv::Error) -> ConvertError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ConvertError::Write(io),
        other => ConvertError::Write(io::Error::other(format!("{other:?}"))),
    }
}
