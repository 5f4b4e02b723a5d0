//! The encoding stage: Arrow batches in, Parquet out. Columns are encoded in parallel: each of `workers` threads
//! owns a share of the row group's column writers, every batch goes to all of them at once, and the row group's
//! column chunks are appended in column order once it is full. Row groups are cut as `ArrowWriter` cuts them:
//! at the row limit, or by the encoded size the writers estimate, a batch being split at the group's average row
//! size. The workers report after every batch (the encoder waits for all of them), so the file is the same for
//! any number of workers.

use super::*;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, compute_leaves};
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::properties::{
    DEFAULT_STATISTICS_TRUNCATE_LENGTH, EnabledStatistics, WriterPropertiesBuilder,
};
use parquet::file::statistics::{Statistics, ValueStatistics};

pub(super) struct CountingWriter<W> {
    pub(super) inner: W,
    pub(super) count: u64,
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

/// The lineage columns hold one value in every row, so their statistics are known before a row is written. The
/// writers would still compare every value with the chunk's minimum and maximum, two comparisons of the whole
/// object key per row; instead their statistics are off for these columns, and each row group's chunks are given
/// the exact ones when it closes (the same minimum, maximum and null count the writers compute). A value longer
/// than the writers' truncation length keeps the writers' own statistics, which truncate it.
pub(super) struct Constants(Vec<(usize, String, Constant)>);

enum Constant {
    Text(String),
    Micros(i64),
    Null,
}

impl Constants {
    pub(super) fn new(opts: &Options, schema: &SchemaRef) -> Self {
        let first = schema.fields().len() - LINEAGE_COLUMNS.len();
        let short = |s: &str| DEFAULT_STATISTICS_TRUNCATE_LENGTH.is_none_or(|n| s.len() <= n);
        let values = [
            Some(Constant::Text(opts.source_key.clone())).filter(|_| short(&opts.source_key)),
            Some(Constant::Micros(opts.ingested_at.timestamp_micros())),
            match &opts.correlation_id {
                None => Some(Constant::Null),
                Some(id) => Some(Constant::Text(id.clone())).filter(|_| short(id)),
            },
        ];
        Self(
            values
                .into_iter()
                .enumerate()
                .filter_map(|(j, value)| {
                    let i = first + j;
                    Some((i, schema.field(i).name().clone(), value?))
                })
                .collect(),
        )
    }

    /// Turns the writers' statistics off for these columns.
    pub(super) fn configure(
        &self,
        mut builder: WriterPropertiesBuilder,
    ) -> WriterPropertiesBuilder {
        for (_, name, _) in &self.0 {
            builder = builder.set_column_statistics_enabled(
                ColumnPath::from(name.as_str()),
                EnabledStatistics::None,
            );
        }
        builder
    }

    /// Gives a closed chunk of column `i` its statistics, if it is one of these columns.
    fn apply(&self, i: usize, chunk: &mut ArrowColumnChunk) -> Result<(), ParquetError> {
        let Some((_, _, value)) = self.0.iter().find(|(c, _, _)| *c == i) else {
            return Ok(());
        };
        let close = chunk.close_mut();
        // As the writers set it: the deprecated min/max fields too, for a signed sort order (timestamps).
        let signed = close.metadata.column_descr().sort_order().is_signed();
        let statistics = match value {
            Constant::Text(text) => {
                let text = ByteArray::from(text.as_str());
                Statistics::ByteArray(
                    ValueStatistics::new(Some(text.clone()), Some(text), None, Some(0), false)
                        .with_backwards_compatible_min_max(signed),
                )
            }
            Constant::Micros(at) => Statistics::Int64(
                ValueStatistics::new(Some(*at), Some(*at), None, Some(0), false)
                    .with_backwards_compatible_min_max(signed),
            ),
            Constant::Null => Statistics::ByteArray(
                ValueStatistics::new(None, None, None, Some(close.rows_written), false)
                    .with_backwards_compatible_min_max(signed),
            ),
        };
        close.metadata = close
            .metadata
            .clone()
            .into_builder()
            .set_statistics(statistics)
            .build()?;
        Ok(())
    }
}

/// Where row groups are cut.
pub(super) struct RowGroups {
    pub(super) max_rows: usize,
    pub(super) max_bytes: usize,
}

enum Job {
    /// The writers of a new row group's columns (by column index).
    Start(Vec<(usize, ArrowColumnWriter)>),
    Write(RecordBatch),
    Close,
}

enum Done {
    /// A batch is written; the writers' estimated encoded bytes so far.
    Written(usize),
    Closed(Vec<(usize, ArrowColumnChunk)>),
}

/// Writes batches until `Done`, then the footer; returns the bytes written, or `None` when the typing stage gave
/// up (the output is left unfinished, and the caller discards it).
pub(super) fn encode<W: Write + Send>(
    rx: Receiver<Msg>,
    output: &mut W,
    schema: SchemaRef,
    props: WriterProperties,
    groups: RowGroups,
    workers: usize,
    constants: &Constants,
) -> Result<Option<u64>, ConvertError> {
    let mut sink = CountingWriter {
        inner: output,
        count: 0,
    };
    // ArrowWriter writes the header and keeps the Arrow schema for the footer; its lower-level parts encode.
    let (mut file, factory) = ArrowWriter::try_new(&mut sink, Arc::clone(&schema), Some(props))?
        .into_serialized_writer()?;
    let workers = workers.clamp(1, schema.fields().len().max(1));
    let finished = std::thread::scope(|scope| -> Result<bool, ConvertError> {
        let lanes = Lanes(
            (0..workers)
                .map(|_| {
                    let (job_tx, job_rx) = sync_channel::<Job>(1);
                    let (done_tx, done_rx) = sync_channel(1);
                    let schema = Arc::clone(&schema);
                    scope.spawn(move || column_worker(&job_rx, &done_tx, &schema));
                    (job_tx, done_rx)
                })
                .collect(),
        );
        let mut group = 0;
        let mut rows: usize = 0;
        // The row group's encoded size, as the writers last estimated it.
        let mut bytes: usize = 0;
        loop {
            let batch = match rx.recv() {
                Ok(Msg::Batch(batch)) => batch,
                Ok(Msg::Done) => break,
                Err(_) => return Ok(false),
            };
            let mut offset = 0;
            while offset < batch.num_rows() {
                let mut take = (batch.num_rows() - offset).min(groups.max_rows - rows);
                // As ArrowWriter does: only as many rows as should fit at the group's average row size.
                if let Some(average) = bytes.checked_div(rows) {
                    let fit = match average {
                        0 => take,
                        average => groups.max_bytes.saturating_sub(bytes) / average,
                    };
                    if fit == 0 {
                        lanes.close_group(&mut file, constants)?;
                        (group, rows, bytes) = (group + 1, 0, 0);
                        continue;
                    }
                    take = take.min(fit);
                }
                if rows == 0 {
                    let writers = factory.create_column_writers(group)?;
                    // One writer per field: the schema is flat, so a writer's index is its field's.
                    debug_assert_eq!(writers.len(), schema.fields().len());
                    let mut shares: Vec<Vec<(usize, ArrowColumnWriter)>> =
                        (0..workers).map(|_| Vec::new()).collect();
                    for (i, writer) in writers.into_iter().enumerate() {
                        shares[i % workers].push((i, writer));
                    }
                    for ((tx, _), share) in lanes.0.iter().zip(shares) {
                        tx.send(Job::Start(share)).map_err(|_| encoder_gone())?;
                    }
                }
                let part = batch.slice(offset, take);
                offset += take;
                rows += take;
                bytes = lanes
                    .ask(|| Job::Write(part.clone()))?
                    .into_iter()
                    .map(|d| match d {
                        Done::Written(n) => n,
                        Done::Closed(_) => 0,
                    })
                    .sum();
                if rows >= groups.max_rows || bytes >= groups.max_bytes {
                    lanes.close_group(&mut file, constants)?;
                    (group, rows, bytes) = (group + 1, 0, 0);
                }
            }
        }
        if rows > 0 {
            lanes.close_group(&mut file, constants)?;
        }
        Ok(true)
    })?;
    if !finished {
        return Ok(None);
    }
    file.close()?;
    sink.flush().map_err(ConvertError::Write)?;
    Ok(Some(sink.count))
}

/// The encoding workers, each with its job queue and its answers.
struct Lanes(Vec<(SyncSender<Job>, Receiver<Answer>)>);

type Answer = Result<Done, ParquetError>;

impl Lanes {
    /// Gives every worker the job `job` makes, and waits for all their answers.
    fn ask(&self, job: impl Fn() -> Job) -> Result<Vec<Done>, ConvertError> {
        for (tx, _) in &self.0 {
            tx.send(job()).map_err(|_| encoder_gone())?;
        }
        let mut answers = Vec::with_capacity(self.0.len());
        for (_, rx) in &self.0 {
            answers.push(rx.recv().map_err(|_| encoder_gone())??);
        }
        Ok(answers)
    }

    /// Closes every worker's writers and appends the row group's column chunks in column order.
    fn close_group<W: Write + Send>(
        &self,
        file: &mut parquet::file::writer::SerializedFileWriter<W>,
        constants: &Constants,
    ) -> Result<(), ConvertError> {
        let mut chunks: Vec<(usize, ArrowColumnChunk)> = self
            .ask(|| Job::Close)?
            .into_iter()
            .flat_map(|d| match d {
                Done::Closed(chunks) => chunks,
                Done::Written(_) => Vec::new(),
            })
            .collect();
        chunks.sort_by_key(|(i, _)| *i);
        let mut row_group = file.next_row_group()?;
        for (i, mut chunk) in chunks {
            constants.apply(i, &mut chunk)?;
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        Ok(())
    }
}

/// One encoding worker: writes its columns of every batch, and hands back their chunks when the row group closes.
fn column_worker(jobs: &Receiver<Job>, done: &SyncSender<Answer>, schema: &SchemaRef) {
    let mut writers: Vec<(usize, ArrowColumnWriter)> = Vec::new();
    for job in jobs {
        let answer = match job {
            Job::Start(share) => {
                writers = share;
                continue;
            }
            Job::Write(batch) => (|| {
                for (i, writer) in &mut writers {
                    for leaf in compute_leaves(schema.field(*i), batch.column(*i))? {
                        writer.write(&leaf)?;
                    }
                }
                Ok(Done::Written(
                    writers
                        .iter()
                        .map(|(_, w)| w.get_estimated_total_bytes())
                        .sum(),
                ))
            })(),
            Job::Close => std::mem::take(&mut writers)
                .into_iter()
                .map(|(i, w)| Ok((i, w.close()?)))
                .collect::<Result<_, ParquetError>>()
                .map(Done::Closed),
        };
        if done.send(answer).is_err() {
            return;
        }
    }
}
