//! Rows in, Arrow batches and quarantine lines out: the builder stage.

use super::*;

pub(super) enum Msg {
    Batch(RecordBatch),
    Done,
}

pub(super) struct RowSink<'q, Q: Write> {
    pub(super) builders: Vec<ColumnBuilder>,
    pub(super) names: Vec<String>,
    pub(super) sources: Vec<Option<usize>>,
    pub(super) width: usize,
    pub(super) schema: SchemaRef,
    /// The lineage columns are constant: built once at full batch length and sliced per batch.
    pub(super) source_key: ArrayRef,
    pub(super) ingested_at: ArrayRef,
    pub(super) correlation_id: ArrayRef,
    pub(super) batch_rows: usize,
    pub(super) batch_bytes: usize,
    pub(super) pending_bytes: usize,
    pub(super) rows_in: u64,
    pub(super) rows_out: u64,
    pub(super) rows_read: Option<Arc<AtomicU64>>,
    pub(super) quarantine: Quarantine<'q, Q>,
    pub(super) reasons: Vec<FieldError>,
    /// Rows rejected for each output column's value (a row with two bad values counts in both).
    pub(super) rejected_by_column: Vec<u64>,
}

impl<'q, Q: Write> RowSink<'q, Q> {
    pub(super) fn new(
        plan: &Plan,
        header: &[String],
        opts: &Options,
        quarantine: &'q mut Q,
    ) -> Self {
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
            correlation_id: Arc::new(StringArray::from(vec![
                opts.correlation_id.as_deref();
                capacity
            ])),
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
            rejected_by_column: vec![0; plan.schema.columns.len()],
        }
    }

    pub(super) fn rows(&self) -> usize {
        self.builders.first().map_or(0, ColumnBuilder::len)
    }

    /// Takes a raw batch: each record is appended to the Arrow batch being built or sent to the quarantine.
    pub(super) fn push_batch(
        &mut self,
        raw: &RawBatch,
        tx: &SyncSender<Msg>,
    ) -> Result<(), ConvertError> {
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
    pub(super) fn push<'t>(
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
                // Strings are appended only once the whole row passed (a string builder cannot drop a value).
                None if builder.is_string() => builder.check_str(&self.names[j], ""),
                None => builder.push_null(&self.names[j]),
                Some(i) if builder.is_string() => builder.check_str(&self.names[j], field(i)),
                Some(i) => builder.push(&self.names[j], field(i)),
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
            return reject(&mut self.quarantine, &reason);
        }
        for (builder, source) in self.builders.iter_mut().zip(&self.sources) {
            if builder.is_string() {
                // A column the file lacks is null ("" is null for a string).
                builder.push_str(source.map_or("", |i| field(i)));
            }
        }
        self.pending_bytes += raw_len;
        self.rows_out += 1;
        if self.rows() >= self.batch_rows || self.pending_bytes >= self.batch_bytes {
            self.flush_batch(tx)?;
        }
        Ok(())
    }

    pub(super) fn flush_batch(&mut self, tx: &SyncSender<Msg>) -> Result<(), ConvertError> {
        let n = self.rows();
        if n == 0 {
            return Ok(());
        }
        let mut columns = Vec::with_capacity(self.builders.len() + LINEAGE_COLUMNS.len());
        for builder in &mut self.builders {
            columns.push(builder.finish(self.batch_rows)?);
        }
        columns.push(self.source_key.slice(0, n));
        columns.push(self.ingested_at.slice(0, n));
        columns.push(self.correlation_id.slice(0, n));
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        self.pending_bytes = 0;
        tx.send(Msg::Batch(batch)).map_err(|_| encoder_gone())
    }

    pub(super) fn finish_quarantine(&mut self) -> Result<(), ConvertError> {
        if let Some(writer) = self.quarantine.writer.as_mut() {
            writer.flush().map_err(ConvertError::Write)?;
        }
        Ok(())
    }
}

/// The quarantine CSV: `_line,_reason,<input columns...>`, then each rejected row's original fields.
pub(super) struct Quarantine<'q, Q: Write> {
    pub(super) sink: Option<&'q mut Q>,
    pub(super) writer: Option<csv::Writer<&'q mut Q>>,
    pub(super) header: Vec<String>,
}

impl<Q: Write> Quarantine<'_, Q> {
    pub(super) fn reject<'f>(
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

pub(super) fn write_error(e: csv::Error) -> ConvertError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ConvertError::Write(io),
        other => ConvertError::Write(io::Error::other(format!("{other:?}"))),
    }
}
