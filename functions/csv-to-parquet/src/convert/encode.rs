//! The encoding stage: Arrow batches in, Parquet out. Columns are encoded in parallel, in `workers` lanes: the
//! encoding thread itself is one (with one lane it encodes alone, handing no parts on), and each other lane is a
//! worker thread. Each lane owns a share of the row group's column writers, every batch goes to all of them, and
//! the row group's column chunks are appended in column order once it is full, by a thread of its own while the
//! lanes go on with the next group ([`append_groups`]). The shares are dealt anew for each
//! row group by the time each column has taken so far, so that the lanes take about as long (a string column can
//! take ten times an integer one); the first row group, dealt before any column was timed, is dealt again after a
//! few parts ([`REDEAL_AFTER`]). Row groups are cut much as `ArrowWriter` cuts them: at the row limit, or by the
//! encoded size the writers estimate, a batch being split at the group's average row size; but the size is the
//! one known a part earlier ([`LAG`]), so that the lanes need not finish each part together. The cut depends only
//! on the parts, so the file is the same for any number of lanes and any dealing.

use super::string_chunk::{Parts, StringChunk};
use super::*;
use arrow_array::cast::AsArray;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, compute_leaves};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::properties::{
    DEFAULT_STATISTICS_TRUNCATE_LENGTH, EnabledStatistics, WriterPropertiesBuilder,
};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::ColumnDescPtr;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

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
    fn apply(&self, i: usize, close: &mut ColumnCloseResult) -> Result<(), ParquetError> {
        let Some((_, _, value)) = self.0.iter().find(|(c, _, _)| *c == i) else {
            return Ok(());
        };
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

/// A column chunk's writer: Parquet's, or this crate's for strings ([`StringChunk`]).
enum Writer {
    Arrow(Box<ArrowColumnWriter>),
    Own(Box<StringChunk>),
}

/// A closed column chunk.
enum Chunk {
    Arrow(ArrowColumnChunk),
    Own(Parts, ColumnCloseResult),
}

impl Writer {
    fn write(
        &mut self,
        field: &arrow_schema::Field,
        column: &ArrayRef,
    ) -> Result<(), ParquetError> {
        match self {
            Writer::Arrow(writer) => {
                for leaf in compute_leaves(field, column)? {
                    writer.write(&leaf)?;
                }
                Ok(())
            }
            // The typed batches' text is binary ([`typed_schema`]); a string array is written as its bytes.
            Writer::Own(writer) => match column.as_binary_opt::<i32>() {
                Some(values) => writer.write(values),
                None => writer.write(&BinaryArray::from(column.as_string::<i32>().clone())),
            },
        }
    }

    fn estimated_total_bytes(&self) -> usize {
        match self {
            Writer::Arrow(writer) => writer.get_estimated_total_bytes(),
            Writer::Own(writer) => writer.estimated_total_bytes(),
        }
    }

    fn close(self) -> Result<Chunk, ParquetError> {
        Ok(match self {
            Writer::Arrow(writer) => Chunk::Arrow(writer.close()?),
            Writer::Own(writer) => {
                let (bytes, close) = writer.close()?;
                Chunk::Own(bytes, close)
            }
        })
    }
}

impl Chunk {
    fn close_mut(&mut self) -> &mut ColumnCloseResult {
        match self {
            Chunk::Arrow(chunk) => chunk.close_mut(),
            Chunk::Own(_, close) => close,
        }
    }

    fn append_to<W: Write + Send>(
        self,
        row_group: &mut SerializedRowGroupWriter<'_, W>,
    ) -> Result<(), ParquetError> {
        match self {
            Chunk::Arrow(chunk) => chunk.append_to_row_group(row_group),
            Chunk::Own(bytes, close) => row_group.append_column(&bytes, close),
        }
    }
}

enum Job {
    /// The writers of a new row group's columns (by column index), or of the same group's dealt again.
    Start(Vec<(usize, Writer)>),
    Write(RecordBatch),
    Close,
    /// Hand the writers back, to be dealt again.
    Return,
}

enum Done {
    /// A batch is written; the writers' estimated encoded bytes so far.
    Written(usize),
    /// The row group's chunks, with the time each column's writer took since it was dealt.
    Closed(Vec<(usize, Chunk, Duration)>),
    /// The writers, open, with the time each took since it was dealt.
    Returned(Vec<(usize, Writer, Duration)>),
}

/// One share of a row group's column writers, with the time each has taken so far.
#[derive(Default)]
struct Share(Vec<(usize, Writer, Duration)>);

impl Share {
    fn new(writers: Vec<(usize, Writer)>) -> Self {
        Self(
            writers
                .into_iter()
                .map(|(i, w)| (i, w, Duration::ZERO))
                .collect(),
        )
    }

    /// Writes this share's columns of `batch`; returns their estimated encoded bytes so far.
    fn write(&mut self, schema: &SchemaRef, batch: &RecordBatch) -> Result<usize, ParquetError> {
        for (i, writer, took) in &mut self.0 {
            let started = Instant::now();
            writer.write(schema.field(*i), batch.column(*i))?;
            *took += started.elapsed();
        }
        Ok(self
            .0
            .iter()
            .map(|(_, w, _)| w.estimated_total_bytes())
            .sum())
    }

    fn close(&mut self) -> Result<Vec<(usize, Chunk, Duration)>, ParquetError> {
        self.take()
            .into_iter()
            .map(|(i, w, took)| Ok((i, w.close()?, took)))
            .collect()
    }

    fn take(&mut self) -> Vec<(usize, Writer, Duration)> {
        std::mem::take(&mut self.0)
    }
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
    // ArrowWriter writes the header and keeps the Arrow schema for the footer; its lower-level parts encode, but
    // for the strings, whose chunks this crate writes (their writers from the factory go unused).
    let (file, factory) =
        ArrowWriter::try_new(&mut sink, Arc::clone(&schema), Some(props.clone()))?
            .into_serialized_writer()?;
    let own: Vec<Option<ColumnDescPtr>> = (0..schema.fields().len())
        .map(|i| {
            let descr = file.schema_descr().column(i);
            let utf8 = schema.field(i).data_type() == &arrow_schema::DataType::Utf8;
            StringChunk::eligible(&descr, &props, utf8).then_some(descr)
        })
        .collect();
    let workers = workers.clamp(1, schema.fields().len().max(1));
    let lineage = schema.fields().len() - LINEAGE_COLUMNS.len();
    let (finished, file) = std::thread::scope(|scope| {
        let (tx, to_append) = sync_channel::<Vec<Chunk>>(1);
        let (appended_tx, appended) = sync_channel::<()>(1);
        let appender = scope.spawn(move || append_groups(file, &to_append, &appended_tx));
        let mut append = Appender {
            tx,
            appended,
            pending: false,
            overlap: groups.max_bytes / OVERLAP_SHARE,
        };
        let encoded = (|| -> Result<bool, ConvertError> {
            let mut lanes = Lanes {
                own: Share::default(),
                schema: &schema,
                cost: vec![Duration::ZERO; schema.fields().len()],
                remote: (1..workers)
                    .map(|_| {
                        let (job_tx, job_rx) = sync_channel::<Job>(LAG);
                        let (done_tx, done_rx) = sync_channel(LAG);
                        let schema = Arc::clone(&schema);
                        scope.spawn(move || column_worker(&job_rx, &done_tx, &schema));
                        (job_tx, done_rx)
                    })
                    .collect(),
                written: VecDeque::new(),
                known: (0, 0),
                parts: 0,
            };
            let mut group = 0;
            let mut rows: usize = 0;
            loop {
                let batch = match rx.recv() {
                    Ok(Msg::Batch(batch)) => batch,
                    Ok(Msg::Done) => break,
                    Err(_) => return Ok(false),
                };
                let mut offset = 0;
                while offset < batch.num_rows() {
                    let mut take = (batch.num_rows() - offset).min(groups.max_rows - rows);
                    // As ArrowWriter does, only as many rows as should fit at the group's average row size; but by
                    // the size known `LAG - 1` parts back, with the rows since counted at that average.
                    let (known_rows, known_bytes) = lanes.settle(LAG - 1)?;
                    append.bound(known_bytes)?;
                    if let Some(average) = known_bytes.checked_div(known_rows) {
                        let fit = match average {
                            0 => take,
                            average => {
                                let size = known_bytes + (rows - known_rows) * average;
                                groups.max_bytes.saturating_sub(size) / average
                            }
                        };
                        if fit == 0 {
                            lanes.close_group(&mut append, constants)?;
                            (group, rows) = (group + 1, 0);
                            continue;
                        }
                        take = take.min(fit);
                    }
                    if rows == 0 {
                        let writers = factory.create_column_writers(group)?;
                        // One writer per field: the schema is flat, so a writer's index is its field's.
                        debug_assert_eq!(writers.len(), schema.fields().len());
                        let writers = writers
                            .into_iter()
                            .zip(&own)
                            .enumerate()
                            .map(|(i, (writer, own))| match own {
                                // The lineage columns hold one value in every row.
                                Some(descr) if i >= lineage => Writer::Own(Box::new(
                                    StringChunk::new(descr.clone(), &props).constant(),
                                )),
                                Some(descr) => {
                                    Writer::Own(Box::new(StringChunk::new(descr.clone(), &props)))
                                }
                                None => Writer::Arrow(Box::new(writer)),
                            })
                            .collect();
                        lanes.start(writers)?;
                    }
                    let part = batch.slice(offset, take);
                    offset += take;
                    rows += take;
                    lanes.write(&part, rows)?;
                    if rows >= groups.max_rows {
                        lanes.close_group(&mut append, constants)?;
                        (group, rows) = (group + 1, 0);
                    }
                }
            }
            if rows > 0 {
                lanes.close_group(&mut append, constants)?;
            }
            Ok(true)
        })();
        drop(append);
        // The appender's error first: without it, the lanes stop with a plainer one.
        let file = appender.join().unwrap_or_else(|_| {
            Err(ConvertError::Write(io::Error::other(
                "the appending thread panicked",
            )))
        })?;
        Ok::<_, ConvertError>((encoded?, file))
    })?;
    if !finished {
        return Ok(None);
    }
    file.close()?;
    sink.flush().map_err(ConvertError::Write)?;
    Ok(Some(sink.count))
}

/// Appends each closed row group's chunks, in column order, as the encoding thread hands them over (the time this
/// takes, most of it copying into the output's buffers, had been the encoding thread's: 7–38 ms a group, with the
/// other lanes idle meanwhile); the file back once it stops handing them.
fn append_groups<W: Write + Send>(
    mut file: SerializedFileWriter<W>,
    groups: &Receiver<Vec<Chunk>>,
    appended: &SyncSender<()>,
) -> Result<SerializedFileWriter<W>, ConvertError> {
    for chunks in groups {
        let mut row_group = file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to(&mut row_group)?;
        }
        row_group.close()?;
        // The encoding thread may have stopped waiting; the next group is what matters.
        let _ = appended.try_send(());
    }
    Ok(file)
}

/// The encoding thread's side of the appending thread: hands it each closed group, and bounds how far the next
/// group may fill before the one handed over is appended.
struct Appender {
    tx: SyncSender<Vec<Chunk>>,
    /// One message per group appended.
    appended: Receiver<()>,
    /// A group handed over and not yet known to be appended.
    pending: bool,
    /// The next group's estimated bytes up to which it fills while the one before is appended.
    overlap: usize,
}

/// The next group fills up to this share (one part) of `ROW_GROUP_MB` while the one before is appended: appending
/// normally takes far less than filling a group (7–38 ms against about 130 ms on telemetry), but an output slower
/// than the encoding (an upload) would otherwise hold two whole groups.
const OVERLAP_SHARE: usize = 4;

impl Appender {
    /// Waits for the group handed over to be appended once the next one has `bytes` (estimated).
    fn bound(&mut self, bytes: usize) -> Result<(), ConvertError> {
        if self.pending && self.appended.try_recv().is_ok() {
            self.pending = false;
        }
        if bytes >= self.overlap {
            self.wait()?;
        }
        Ok(())
    }

    fn wait(&mut self) -> Result<(), ConvertError> {
        if std::mem::take(&mut self.pending) {
            self.appended.recv().map_err(|_| encoder_gone())?;
        }
        Ok(())
    }

    /// Hands `group` over, once the one before it is appended.
    fn hand(&mut self, group: Vec<Chunk>) -> Result<(), ConvertError> {
        self.wait()?;
        self.tx.send(group).map_err(|_| encoder_gone())?;
        self.pending = true;
        Ok(())
    }
}

/// The encoding lanes: this thread's own share of the columns, and the other workers', each with its job queue
/// and its answers.
struct Lanes<'s> {
    own: Share,
    schema: &'s SchemaRef,
    remote: Vec<(SyncSender<Job>, Receiver<Answer>)>,
    /// The time each column's writer has taken, over the row groups closed so far.
    cost: Vec<Duration>,
    /// The parts written to the row group not yet settled, in order.
    written: VecDeque<Part>,
    /// The group's rows and estimated encoded bytes after the last part settled.
    known: (usize, usize),
    /// Parts written to the row group since it was dealt.
    parts: usize,
}

/// A part written to the row group: the group's rows after it, the estimated encoded bytes after it that are in
/// (this thread's lane's at first), and whether the other lanes' are in too.
struct Part {
    rows: usize,
    bytes: usize,
    answered: bool,
}

/// A row group dealt before any column was timed (the first) is dealt again after this many parts, by the time
/// each column took in them. Dealt round-robin, the first group of long notes gave this thread's lane three times
/// the other's work (the notes column is 40 % of the encoding), and a 100 MB file is one row group.
const REDEAL_AFTER: usize = 8;

/// How far the lanes may run apart, in parts: the row group's size is judged by what the lanes had written
/// `LAG - 1` parts before, so that this thread's lane goes on to the next part without waiting for the others
/// to finish the last one. The cut depends only on the parts, never on timing: the file is the same for any
/// number of lanes.
const LAG: usize = 2;

type Answer = Result<Done, ParquetError>;

impl Lanes<'_> {
    /// Deals a new row group's writers to the lanes, the costliest columns so far first, each to the lane with
    /// the least work yet (by the time each column took in the groups before; the first group's are dealt
    /// round-robin). Which lane writes a column does not change its bytes.
    fn start(&mut self, writers: Vec<Writer>) -> Result<(), ConvertError> {
        self.parts = 0;
        self.deal_out(writers)
    }

    /// Deals `writers` (all of the row group's, in column order) to the lanes.
    fn deal_out(&mut self, writers: Vec<Writer>) -> Result<(), ConvertError> {
        let lanes = self.remote.len() + 1;
        let lane_of = deal(&self.cost, lanes);
        let mut shares: Vec<Vec<(usize, Writer)>> = (0..lanes).map(|_| Vec::new()).collect();
        for (i, writer) in writers.into_iter().enumerate() {
            shares[lane_of[i]].push((i, writer));
        }
        let mut shares = shares.into_iter();
        self.own = Share::new(shares.next().unwrap_or_default());
        for ((tx, _), share) in self.remote.iter().zip(shares) {
            tx.send(Job::Start(share)).map_err(|_| encoder_gone())?;
        }
        Ok(())
    }

    /// Writes a part of a batch in every lane; `rows` is the row group's rows after it.
    fn write(&mut self, part: &RecordBatch, rows: usize) -> Result<(), ConvertError> {
        for (tx, _) in &self.remote {
            tx.send(Job::Write(part.clone()))
                .map_err(|_| encoder_gone())?;
        }
        let own = self.own.write(self.schema, part)?;
        self.written.push_back(Part {
            rows,
            bytes: own,
            answered: self.remote.is_empty(),
        });
        self.parts += 1;
        // No column timed yet: this is the first row group, dealt round-robin.
        let blind = self.cost.iter().all(Duration::is_zero);
        if self.parts == REDEAL_AFTER && blind && !self.remote.is_empty() {
            self.redeal()?;
        }
        Ok(())
    }

    /// Takes the row group's writers back from every lane and deals them again, by the time each column has
    /// taken so far. The parts already written are answered first; which parts are settled, and so where the group
    /// is cut, does not change.
    fn redeal(&mut self) -> Result<(), ConvertError> {
        for part in &mut self.written {
            answer(part, &self.remote)?;
        }
        for (tx, _) in &self.remote {
            tx.send(Job::Return).map_err(|_| encoder_gone())?;
        }
        let mut writers = self.own.take();
        for (_, rx) in &self.remote {
            if let Done::Returned(theirs) = rx.recv().map_err(|_| encoder_gone())?? {
                writers.extend(theirs);
            }
        }
        writers.sort_by_key(|(i, _, _)| *i);
        for (i, _, took) in &writers {
            self.cost[*i] += *took;
        }
        #[cfg(test)]
        super::tests::REDEALT.fetch_add(1, Ordering::Relaxed);
        self.deal_out(writers.into_iter().map(|(_, w, _)| w).collect())
    }

    /// Takes the other lanes' answers until at most `pending` parts wait for them; returns the row group's rows
    /// and estimated encoded bytes as of the last part whose answers are all in.
    fn settle(&mut self, pending: usize) -> Result<(usize, usize), ConvertError> {
        while self.written.len() > pending {
            let Some(mut part) = self.written.pop_front() else {
                break;
            };
            answer(&mut part, &self.remote)?;
            self.known = (part.rows, part.bytes);
        }
        Ok(self.known)
    }

    /// Closes every lane's writers and hands the row group's column chunks, in column order, to be appended.
    fn close_group(
        &mut self,
        append: &mut Appender,
        constants: &Constants,
    ) -> Result<(), ConvertError> {
        self.settle(0)?;
        self.known = (0, 0);
        for (tx, _) in &self.remote {
            tx.send(Job::Close).map_err(|_| encoder_gone())?;
        }
        let mut chunks = self.own.close()?;
        for (_, rx) in &self.remote {
            if let Done::Closed(theirs) = rx.recv().map_err(|_| encoder_gone())?? {
                chunks.extend(theirs);
            }
        }
        chunks.sort_by_key(|(i, _, _)| *i);
        let mut group = Vec::with_capacity(chunks.len());
        for (i, mut chunk, took) in chunks {
            self.cost[i] += took;
            constants.apply(i, chunk.close_mut())?;
            group.push(chunk);
        }
        append.hand(group)
    }
}

/// Adds the other lanes' estimated bytes after `part` to its own, unless they are in already.
fn answer(
    part: &mut Part,
    remote: &[(SyncSender<Job>, Receiver<Answer>)],
) -> Result<(), ConvertError> {
    if !part.answered {
        for (_, rx) in remote {
            if let Done::Written(n) = rx.recv().map_err(|_| encoder_gone())?? {
                part.bytes += n;
            }
        }
        part.answered = true;
    }
    Ok(())
}

/// The lane of each column: the costliest first, each to the lane with the least cost dealt so far (the longest
/// processing time rule); columns with no cost measured yet are dealt round-robin.
fn deal(cost: &[Duration], lanes: usize) -> Vec<usize> {
    let lanes = lanes.max(1);
    let mut order: Vec<usize> = (0..cost.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cost[i]));
    let mut load = vec![Duration::ZERO; lanes];
    let mut lane_of = vec![0; cost.len()];
    for (k, &i) in order.iter().enumerate() {
        let lane = match cost[i].is_zero() {
            true => k % lanes,
            false => (0..lanes).min_by_key(|&l| load[l]).unwrap_or(0),
        };
        load[lane] += cost[i];
        lane_of[i] = lane;
    }
    lane_of
}

/// One encoding worker: writes its columns of every batch, and hands back their chunks when the row group closes.
fn column_worker(jobs: &Receiver<Job>, done: &SyncSender<Answer>, schema: &SchemaRef) {
    let mut share = Share::default();
    for job in jobs {
        let answer = match job {
            Job::Start(writers) => {
                share = Share::new(writers);
                continue;
            }
            Job::Write(batch) => share.write(schema, &batch).map(Done::Written),
            Job::Close => share.close().map(Done::Closed),
            Job::Return => Ok(Done::Returned(share.take())),
        };
        if done.send(answer).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(costs: &[u64]) -> Vec<Duration> {
        costs.iter().map(|&c| Duration::from_millis(c)).collect()
    }

    #[test]
    fn columns_are_dealt_costliest_first_to_the_least_loaded_lane() {
        // 9 | 5 + 2 + 1 | 4 + 3 + 1: each next costliest to the lane with the least so far.
        let lanes = deal(&ms(&[1, 9, 3, 5, 2, 4, 1]), 3);
        let mut load = [0_u64; 3];
        for (i, &lane) in lanes.iter().enumerate() {
            load[lane] += [1, 9, 3, 5, 2, 4, 1][i];
        }
        assert_eq!(lanes[1], 0, "the costliest column takes the first lane");
        assert_eq!(load, [9, 8, 8]);
        // With no costs yet (the first row group), round-robin in column order.
        assert_eq!(deal(&ms(&[0; 5]), 2), vec![0, 1, 0, 1, 0]);
        // One lane takes everything; no columns deal nothing.
        assert_eq!(deal(&ms(&[3, 1]), 1), vec![0, 0]);
        assert_eq!(deal(&[], 4), Vec::<usize>::new());
    }
}
