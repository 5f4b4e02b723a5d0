//! A batch, planned without I/O: records read from a Kinesis or SQS event, normalized and deduplicated, grouped
//! into the S3 objects they belong in, reduced to the newest event per entity for the latest-state table, and,
//! once the writes are done, turned into the partial-batch response.

use crate::json::{KinesisFields, RecordText};
use crate::normalize::{Collision, Event, Names, Poison, RecordMeta, format_time, normalize_at};
use aws_lambda_events::kinesis::KinesisEventRecord;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use aws_lambda_events::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use compact_str::CompactString;
use hashbrown::HashTable;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Write;
use tributary_shared::partition::{hour_path, join};

/// Which service delivered the batch; it decides how failures are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Kinesis,
    Sqs,
}

/// One record as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub meta: RecordMeta,
    pub data: Data,
}

impl Input {
    /// What the partial-batch response names: the Kinesis sequence number or the SQS message id, which is the
    /// record's `meta.sequence_number` for both.
    pub fn item_id(&self) -> &str {
        &self.meta.sequence_number
    }
}

/// A record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// Kinesis data decoded from base64, or an SQS body.
    Bytes(Vec<u8>),
    /// Kinesis data that is not base64, as delivered: the record is poison, the batch is not.
    NotBase64(String),
}

/// Why an event could not be read as a batch at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("event is neither a Kinesis nor an SQS batch (no Records[] with kinesis or body)")]
    UnknownShape,
    #[error("record {index} is missing {field}")]
    MissingField { index: usize, field: &'static str },
    #[error("record {index} is not a valid {service:?} record: {reason}")]
    BadRecord {
        index: usize,
        service: Source,
        reason: String,
    },
}

impl tributary_shared::Classify for BatchError {
    fn kind(&self) -> tributary_shared::ErrorKind {
        tributary_shared::ErrorKind::InvalidEvent
    }
}

/// Reads a Kinesis or SQS Lambda event, each record as `aws_lambda_events`' [`KinesisEventRecord`] or
/// [`SqsMessage`]. On top of those types: which service sent the batch (from its first record), and a record whose
/// Kinesis data is not base64 kept as poison rather than failing the whole batch.
pub fn read_event(event: &Value) -> Result<(Source, Vec<Input>), BatchError> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or(BatchError::UnknownShape)?;
    let source = match records.first() {
        None => return Ok((Source::Kinesis, Vec::new())),
        Some(r) => source_of(r)?,
    };
    let inputs = records
        .iter()
        .enumerate()
        .map(|(index, r)| match source {
            Source::Kinesis => kinesis_input(index, r),
            Source::Sqs => sqs_input(index, r),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((source, inputs))
}

/// Which service sent a batch, from its first record.
fn source_of(first: &Value) -> Result<Source, BatchError> {
    match first {
        r if r.get("kinesis").is_some() => Ok(Source::Kinesis),
        r if r.get("body").is_some() => Ok(Source::Sqs),
        _ => Err(BatchError::UnknownShape),
    }
}

/// [`read_event`] from the event's text, for a caller that holds the text, with no `Value` built for the whole
/// event: a usual Kinesis record is read in one pass over the event ([`crate::json::records`]), another Kinesis
/// record typed from its own text, and an SQS record (or a record the typed read refuses) as a `Value`. (The CLI
/// takes the same two steps a part at a time: [`read_records`], [`inputs_of`].) `None` when the text is not a
/// `{"Records": [...]}` object, or not one a `Value` could be built from (read it as a `Value`, and report that);
/// a record the typed read refuses is read as [`read_event`] reads it. Either way the inputs and errors are
/// [`read_event`]'s.
pub fn read_event_text(text: &str) -> Option<Result<(Source, Vec<Input>), BatchError>> {
    Some(read_records(text)?.and_then(|(source, records)| {
        Ok((
            source,
            inputs_of(source, &records, 0, &mut Names::default())?,
        ))
    }))
}

/// [`read_event_text`] in two steps, for a caller that reads a large batch a part at a time: the batch's records
/// as text and the service that sent them (here), then each part's inputs ([`inputs_of`]).
pub fn read_records(text: &str) -> Option<Result<(Source, Vec<RecordText<'_>>), BatchError>> {
    let records = match crate::json::records(text) {
        Some(records) => records,
        None => records_checked(text)?,
    };
    let source = match records.first() {
        None => Source::Kinesis,
        Some(r) => match record_source(r)? {
            Ok(source) => source,
            Err(e) => return Some(Err(e)),
        },
    };
    Some(Ok((source, records)))
}

/// The service that sent a batch, from its first record as [`read_records`] reads it: `None` when the record is
/// not JSON a `Value` can hold (the event is then read whole, for its error).
pub fn record_source(first: &RecordText) -> Option<Result<Source, BatchError>> {
    Some(source_of(&serde_json::from_str::<Value>(first.text).ok()?))
}

/// The inputs of `records`, the batch's records from index `first` on, each read as [`read_event`] reads it.
/// `names`: the batch's (its spare buffers take the decoded data, see `Names::recycle_data`).
pub fn inputs_of(
    source: Source,
    records: &[RecordText],
    first: usize,
    names: &mut Names,
) -> Result<Vec<Input>, BatchError> {
    let as_value = |index: usize, r: &str| {
        serde_json::from_str::<Value>(r).map_err(|e| BatchError::BadRecord {
            index,
            service: source,
            reason: e.to_string(),
        })
    };
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let index = first + i;
            match source {
                Source::Kinesis => match kinesis_typed(index, r, names) {
                    Some(input) => input,
                    None => kinesis_input(index, &as_value(index, r.text)?),
                },
                Source::Sqs => sqs_input(index, &as_value(index, r.text)?),
            }
        })
        .collect()
}

/// The records of an event [`crate::json::records`] does not take, found by serde_json: `None` when the event is
/// not one a `Value` could be built from, or not a `{"Records": [...]}` object.
fn records_checked(text: &str) -> Option<Vec<RecordText<'_>>> {
    #[derive(Deserialize)]
    struct Records<'a> {
        #[serde(rename = "Records", borrow)]
        records: Vec<&'a RawValue>,
    }
    // Checked first as building a `Value` checks it (numbers in range, no lone surrogates, at most 128 levels):
    // reading `RawValue`s checks only the grammar, and an event the `Value` path refuses must be refused here too.
    serde_json::from_str::<Strict>(text).ok()?;
    let Records { records } = serde_json::from_str(text).ok()?;
    Some(
        records
            .into_iter()
            .map(|r| RecordText {
                text: r.get(),
                kinesis: None,
            })
            .collect(),
    )
}

/// A JSON document checked the way serde_json checks a value it builds, with nothing built.
struct Strict;

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Strict)
    }
}

impl<'de> serde::de::Visitor<'de> for Strict {
    type Value = Strict;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        while map.next_entry::<Strict, Strict>()?.is_some() {}
        Ok(Strict)
    }
}

/// A Kinesis record read from its text: from the fields the one pass read, when it read them and they decode;
/// else typed; `None` when the typed read refuses it.
fn kinesis_typed(
    index: usize,
    record: &RecordText,
    names: &mut Names,
) -> Option<Result<Input, BatchError>> {
    #[derive(Deserialize)]
    struct Arrival<'a> {
        #[serde(borrow)]
        kinesis: ArrivalField<'a>,
    }
    #[derive(Deserialize)]
    struct ArrivalField<'a> {
        #[serde(rename = "approximateArrivalTimestamp", borrow)]
        seconds: Option<&'a RawValue>,
    }
    if let Some(read) = record
        .kinesis
        .as_ref()
        .and_then(|k| kinesis_read(index, k, names))
    {
        return Some(read);
    }
    let mut parsed: KinesisEventRecord = serde_json::from_str(record.text).ok()?;
    let seconds = serde_json::from_str::<Arrival>(record.text)
        .ok()
        .and_then(|a| a.kinesis.seconds)
        .and_then(|s| serde_json::from_str::<f64>(s.get()).ok());
    let bytes = std::mem::take(&mut parsed.kinesis.data.0);
    Some(kinesis_record(index, parsed, Data::Bytes(bytes), seconds))
}

/// The input from a usual record's fields, as the typed read would give it; `None` when its data is not base64
/// or its arrival time is out of range (the typed read then decides). The data is decoded into one of `names`'
/// spare buffers.
fn kinesis_read(
    index: usize,
    k: &KinesisFields,
    names: &mut Names,
) -> Option<Result<Input, BatchError>> {
    // SIMD, with `base64`'s STANDARD rules (padding required, no stray bits), which `aws_lambda_events` decodes
    // with: a test holds the two together, and data it refuses goes to the typed read.
    let mut bytes = names.data_buffer();
    base64_simd::STANDARD
        .decode_append(k.data.as_bytes(), &mut bytes)
        .ok()?;
    let arrival = Utc.timestamp_millis_opt(k.arrival_millis).single()?;
    Some(record_input(
        index,
        k.event_id.as_deref(),
        k.sequence_number.to_string(),
        CompactString::from(&*k.partition_key),
        arrival,
        Data::Bytes(bytes),
    ))
}

fn kinesis_input(index: usize, record: &Value) -> Result<Input, BatchError> {
    let bad = |e: serde_json::Error| BatchError::BadRecord {
        index,
        service: Source::Kinesis,
        reason: e.to_string(),
    };
    let (parsed, data) = match KinesisEventRecord::deserialize(record) {
        Ok(mut r) => {
            let bytes = std::mem::take(&mut r.kinesis.data.0);
            (r, Data::Bytes(bytes))
        }
        Err(e) => {
            // Data that is not base64 fails the typed parse; the rest of the record is read with empty data.
            let delivered = record["kinesis"]["data"].as_str();
            match delivered {
                Some(text)
                    if base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .is_err() =>
                {
                    let mut rest = record.clone();
                    rest["kinesis"]["data"] = Value::String(String::new());
                    let r = KinesisEventRecord::deserialize(&rest).map_err(bad)?;
                    (r, Data::NotBase64(text.to_owned()))
                }
                _ => return Err(bad(e)),
            }
        }
    };
    let seconds = record["kinesis"]["approximateArrivalTimestamp"].as_f64();
    kinesis_record(index, parsed, data, seconds)
}

/// The input of a Kinesis record read typed; `seconds` is its `approximateArrivalTimestamp` as written.
fn kinesis_record(
    index: usize,
    parsed: KinesisEventRecord,
    data: Data,
    seconds: Option<f64>,
) -> Result<Input, BatchError> {
    let k = parsed.kinesis;
    record_input(
        index,
        parsed.event_id.as_deref(),
        k.sequence_number,
        k.partition_key.into(),
        arrival(seconds).unwrap_or(k.approximate_arrival_timestamp.0),
        data,
    )
}

/// A Kinesis record's input: its shard is the part of `eventID` before the colon.
fn record_input(
    index: usize,
    event_id: Option<&str>,
    sequence_number: String,
    partition_key: CompactString,
    arrival: DateTime<Utc>,
    data: Data,
) -> Result<Input, BatchError> {
    if sequence_number.is_empty() {
        return Err(BatchError::MissingField {
            index,
            field: "kinesis.sequenceNumber",
        });
    }
    let shard = event_id
        .and_then(|id| id.split(':').next())
        .unwrap_or("shardId-unknown");
    Ok(Input {
        meta: RecordMeta {
            shard_id: shard.into(),
            sequence_number,
            partition_key,
            arrival,
        },
        data,
    })
}

/// `kinesis.approximateArrivalTimestamp`, seconds with a fraction, read here: `aws_lambda_events` 1.2 reads the
/// fraction's digits as a count of milliseconds, so `…200.25` (as printed without its trailing zero) became 25 ms.
fn arrival(seconds: Option<f64>) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt((seconds? * 1000.0).round() as i64)
        .single()
}

fn sqs_input(index: usize, record: &Value) -> Result<Input, BatchError> {
    let m = SqsMessage::deserialize(record).map_err(|e| BatchError::BadRecord {
        index,
        service: Source::Sqs,
        reason: e.to_string(),
    })?;
    let missing = |field| BatchError::MissingField { index, field };
    let id = m.message_id.ok_or_else(|| missing("messageId"))?;
    let body = m.body.ok_or_else(|| missing("body"))?;
    let queue = m
        .event_source_arn
        .as_deref()
        .and_then(|a| a.rsplit(':').next())
        .unwrap_or("sqs");
    let sent = m
        .attributes
        .get("SentTimestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    Ok(Input {
        meta: RecordMeta {
            shard_id: queue.into(),
            sequence_number: id,
            partition_key: CompactString::default(),
            arrival: sent.unwrap_or_else(Utc::now),
        },
        data: Data::Bytes(body.into_bytes()),
    })
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Normalized into `events[i]`.
    Event(usize),
    /// Same `event_id` as an earlier record of the batch, normalized into `events[i]`; stored once.
    Duplicate(usize),
    /// Cannot become an event: goes to the dead-letter path.
    Poison(Poison),
    /// Its `event_id` was claimed by a record of another batch within the dedup window: dropped, and done.
    Seen,
}

/// The normalized batch.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    /// The records; one that became an event (or a duplicate of one) no longer holds its data (empty bytes):
    /// only a poison record needs its data again, for its dead letter.
    pub inputs: Vec<Input>,
    pub fates: Vec<Fate>,
    /// Unique events, in batch order; `owners[i]` is the record index that produced `events[i]`.
    pub events: Vec<Event>,
    pub owners: Vec<usize>,
}

impl Plan {
    /// Decodes and normalizes every record, keeping the first of each `event_id`.
    pub fn new(
        source: Source,
        inputs: Vec<Input>,
        ingested_at: DateTime<Utc>,
        max_bytes: usize,
    ) -> Self {
        Self::continuing(
            source,
            inputs,
            ingested_at,
            max_bytes,
            &mut Names::default(),
        )
    }

    /// [`Plan::new`] for one part of a batch read a part at a time: `names` is what the earlier parts learned
    /// (key names and object shapes), so that each part does not learn them again. The events are the same.
    pub fn continuing(
        source: Source,
        mut inputs: Vec<Input>,
        ingested_at: DateTime<Utc>,
        max_bytes: usize,
        names: &mut Names,
    ) -> Self {
        let mut fates = Vec::with_capacity(inputs.len());
        let mut events: Vec<Event> = Vec::with_capacity(inputs.len());
        let mut owners = Vec::with_capacity(inputs.len());
        // The events by id, as their indexes: the ids are not copied.
        let hasher = foldhash::fast::RandomState::default();
        let hash = |id: &str| hasher.hash_one(id);
        let mut seen: HashTable<usize> = HashTable::with_capacity(inputs.len());
        let ingested = format_time(ingested_at);
        for (i, input) in inputs.iter_mut().enumerate() {
            let normalized = match &input.data {
                Data::Bytes(bytes) => normalize_at(bytes, &input.meta, &ingested, max_bytes, names),
                Data::NotBase64(_) => Err(Poison::BadBase64),
            };
            if normalized.is_ok() {
                // Handed back now, its buffer can take a later record's data or event.
                if let Data::Bytes(data) =
                    std::mem::replace(&mut input.data, Data::Bytes(Vec::new()))
                {
                    names.recycle_data(data);
                }
            }
            let fate = match normalized {
                Err(poison) => Fate::Poison(poison),
                Ok(event) => {
                    let h = hash(&event.event_id);
                    match seen.find(h, |&e| events[e].event_id == event.event_id) {
                        Some(&first) => Fate::Duplicate(first),
                        None => {
                            seen.insert_unique(h, events.len(), |&e| hash(&events[e].event_id));
                            events.push(event);
                            owners.push(i);
                            Fate::Event(events.len() - 1)
                        }
                    }
                }
            };
            fates.push(fate);
        }
        Self {
            source,
            inputs,
            fates,
            events,
            owners,
        }
    }

    /// Records whose event is a duplicate of one earlier in the batch.
    pub fn duplicates(&self) -> usize {
        self.fates
            .iter()
            .filter(|f| matches!(f, Fate::Duplicate(_)))
            .count()
    }

    /// Records dropped because another batch's record claimed their `event_id` within the dedup window.
    pub fn seen_before(&self) -> usize {
        self.fates.iter().filter(|f| **f == Fate::Seen).count()
    }

    /// The record that produced `events[event]`, as a claim names it: `<shard or queue>/<sequence or message id>`.
    /// The same on every delivery of the record.
    pub fn origin(&self, event: usize) -> String {
        let meta = &self.inputs[self.owners[event]].meta;
        format!("{}/{}", meta.shard_id, meta.sequence_number)
    }

    /// Drops the events marked in `seen` (by index into [`Plan::events`]): their records, and the records that
    /// duplicate them in this batch, become [`Fate::Seen`], and the remaining events are renumbered.
    /// `seen` has one mark per event.
    pub fn drop_seen(&mut self, seen: &[bool]) {
        debug_assert_eq!(seen.len(), self.events.len(), "one mark per event");
        if !seen.contains(&true) {
            return;
        }
        let mut renumbered = Vec::with_capacity(self.events.len());
        let mut kept = 0;
        for &dropped in seen {
            renumbered.push((!dropped).then(|| {
                kept += 1;
                kept - 1
            }));
        }
        // In place: the events are not moved to a new list.
        let mut marks = seen.iter();
        self.events.retain(|_| marks.next() == Some(&false));
        let mut marks = seen.iter();
        self.owners.retain(|_| marks.next() == Some(&false));
        for fate in &mut self.fates {
            let renumber = match &*fate {
                Fate::Event(e) => Some(renumbered[*e].map_or(Fate::Seen, Fate::Event)),
                Fate::Duplicate(e) => Some(renumbered[*e].map_or(Fate::Seen, Fate::Duplicate)),
                Fate::Poison(_) | Fate::Seen => None,
            };
            if let Some(renumbered) = renumber {
                *fate = renumbered;
            }
        }
    }

    /// Keys that kept their own spelling, per record that has any (duplicates are not counted again).
    pub fn collisions(&self) -> impl Iterator<Item = (usize, &Collision)> {
        self.events
            .iter()
            .zip(&self.owners)
            .flat_map(|(e, &record)| e.collisions.iter().map(move |c| (record, c)))
    }

    pub fn poisoned(&self) -> impl Iterator<Item = (usize, &Poison)> {
        self.fates.iter().enumerate().filter_map(|(i, f)| match f {
            Fate::Poison(p) => Some((i, p)),
            _ => None,
        })
    }
}

/// One S3 object of the batch: every event of one type and hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPlan {
    pub key: String,
    /// Indexes into [`Plan::events`].
    pub events: Vec<usize>,
    pub body: Vec<u8>,
}

/// Groups the events that `include` lets through by type and hour into newline-delimited JSON objects at
/// `<prefix><type>/year=/month=/day=/hour=/<shard>-<first seq>-<last seq>.jsonl[.gz]`. The key depends only on
/// the batch, so a retried batch overwrites its own objects.
pub fn objects(
    plan: &Plan,
    prefix: &str,
    gzip: bool,
    include: impl Fn(usize) -> bool,
) -> std::io::Result<Vec<ObjectPlan>> {
    groups(plan, include)
        .into_iter()
        .map(|((event_type, hour), members)| {
            let first = &plan.inputs[plan.owners[members[0]]].meta;
            let last = &plan.inputs[plan.owners[members[members.len() - 1]]].meta;
            let name = format!(
                "{}{}.jsonl{}",
                object_stem(first),
                last.sequence_number,
                if gzip { ".gz" } else { "" }
            );
            let mut ndjson = Vec::new();
            for &i in &members {
                plan.events[i].write_json(&mut ndjson);
                ndjson.push(b'\n');
            }
            let body = if gzip {
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(&ndjson)?;
                gz.finish()?
            } else {
                ndjson
            };
            Ok(ObjectPlan {
                key: join(&[prefix, &event_type, &hour, &name]),
                events: members,
                body,
            })
        })
        .collect()
}

/// The events `include` lets through, grouped by type and hour (the objects they go in), in batch order.
fn groups(
    plan: &Plan,
    include: impl Fn(usize) -> bool,
) -> Vec<((CompactString, String), Vec<usize>)> {
    let mut groups: Vec<((CompactString, String), Vec<usize>)> = Vec::new();
    for (i, e) in plan.events.iter().enumerate().filter(|(i, _)| include(*i)) {
        let group = (e.event_type.clone(), hour_path(e.event_time));
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, members)) => members.push(i),
            None => groups.push((group, vec![i])),
        }
    }
    groups
}

/// An event object's name up to its last sequence number: `<shard>-<first seq>-`.
fn object_stem(first: &RecordMeta) -> String {
    format!("{}-{}-", first.shard_id, first.sequence_number)
}

/// A redrive's view of what earlier deliveries of the same records stored (the mapping's attempts, an earlier
/// redrive that stopped part-way): one per group of events (type and hour), the key prefix under which any object
/// of that group from the records' shard is (`<prefix><type>/<hour>/<shard>-`), and the group's events.
pub fn earlier_objects(
    plan: &Plan,
    prefix: &str,
    include: impl Fn(usize) -> bool,
) -> Vec<(String, Vec<usize>)> {
    groups(plan, include)
        .into_iter()
        .map(|((event_type, hour), members)| {
            let shard = &plan.inputs[plan.owners[members[0]]].meta.shard_id;
            let folder = join(&[prefix, &event_type, &hour, &format!("{shard}-")]);
            (folder, members)
        })
        .collect()
}

/// The events an earlier delivery stored, from the keys found under each group's prefix ([`earlier_objects`]).
/// An object `<shard>-<first>-<last>` that a delivery kept holds every event of its group from the records between
/// its first and last: a Kinesis batch is a contiguous run of its shard, an event of such a record that is not in
/// the object was a duplicate, and an object holding a record that failed, or any after it, is removed before the
/// batch is retried. So an event is stored when its record falls inside one of those ranges.
pub fn stored_earlier(
    plan: &Plan,
    groups: &[(String, Vec<usize>)],
    found: &[Vec<String>],
) -> Vec<bool> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut stored = vec![false; plan.events.len()];
    for ((folder, members), keys) in groups.iter().zip(found) {
        let ranges: Vec<(String, String)> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(folder.as_str()))
            .filter_map(|rest| {
                rest.strip_suffix(".jsonl.gz")
                    .or_else(|| rest.strip_suffix(".jsonl"))
            })
            .filter_map(|name| name.split_once('-'))
            .filter(|(first, last)| digits(first) && digits(last))
            .map(|(first, last)| (sortable_sequence(first), sortable_sequence(last)))
            .collect();
        for &e in members {
            let seq = sortable_sequence(&plan.inputs[plan.owners[e]].meta.sequence_number);
            stored[e] = ranges
                .iter()
                .any(|(first, last)| *first <= seq && seq <= *last);
        }
    }
    stored
}

/// Sortable form of a sequence number: left-padded with zeros, so longer (later) numbers sort after shorter ones.
pub fn sortable_sequence(seq: &str) -> String {
    format!("{seq:0>64}")
}

/// One latest-state write: the newest event of the batch for an entity, and every event it answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityWrite {
    pub entity: String,
    /// The newest event (by event time, then sequence number).
    pub event: usize,
    /// All events of this entity in the batch; if the write fails, their records have failed.
    pub covers: Vec<usize>,
}

/// Reduces the batch to one write per entity (the entity is the value of `entity_key` in each event; events
/// without it fall back to their `event_id`).
pub fn entity_writes(plan: &Plan, entity_key: &str) -> Vec<EntityWrite> {
    let mut writes: Vec<EntityWrite> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, e) in plan.events.iter().enumerate() {
        let entity = e
            .field_text(entity_key)
            .unwrap_or_else(|| e.event_id.to_string());
        match index.get(&entity) {
            Some(&w) => {
                let write = &mut writes[w];
                write.covers.push(i);
                if order_key(plan, i) > order_key(plan, write.event) {
                    write.event = i;
                }
            }
            None => {
                index.insert(entity.clone(), writes.len());
                writes.push(EntityWrite {
                    entity,
                    event: i,
                    covers: vec![i],
                });
            }
        }
    }
    writes
}

fn order_key(plan: &Plan, event: usize) -> (String, String) {
    let e = &plan.events[event];
    (
        format_time(e.event_time),
        sortable_sequence(&plan.inputs[plan.owners[event]].meta.sequence_number),
    )
}

/// The dead-letter copy of a poison record.
pub fn dead_letter(plan: &Plan, record: usize, poison: &Poison, prefix: &str) -> (String, Value) {
    let input = &plan.inputs[record];
    let m = &input.meta;
    let key = join(&[
        prefix,
        &m.arrival.format("%Y-%m-%d").to_string(),
        &format!("{}-{}.json", m.shard_id, m.sequence_number),
    ]);
    let doc = json!({
        "reason": poison.to_string(),
        "source": plan.source,
        "shard_id": m.shard_id,
        "sequence_number": m.sequence_number,
        "partition_key": m.partition_key,
        "approximate_arrival": format_time(m.arrival),
        "data": delivered(plan.source, &input.data),
    });
    (key, doc)
}

/// A record's data as it was delivered: base64 for Kinesis, the body for SQS.
fn delivered(source: Source, data: &Data) -> String {
    match (source, data) {
        (_, Data::NotBase64(text)) => text.clone(),
        (Source::Kinesis, Data::Bytes(bytes)) => {
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
        (Source::Sqs, Data::Bytes(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The partial-batch response, in `aws_lambda_events`' types, for the event source that sent the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum BatchResponse {
    Kinesis(KinesisEventResponse),
    Sqs(SqsBatchResponse),
}

/// The partial-batch response for per-record outcomes (`true` = stored). Kinesis reports only the first
/// failed record, because it retries from there and everything after it counts as not done; SQS reports each
/// failed message. `None` when every record failed: the invocation itself should fail.
pub fn response(plan: &Plan, stored: &[bool]) -> Option<BatchResponse> {
    let failed: Vec<&str> = plan
        .inputs
        .iter()
        .zip(stored)
        .filter(|(_, ok)| !**ok)
        .map(|(i, _)| i.item_id())
        .collect();
    if !plan.inputs.is_empty() && failed.len() == plan.inputs.len() {
        return None;
    }
    Some(match plan.source {
        Source::Kinesis => {
            let mut response = KinesisEventResponse::default();
            response.batch_item_failures = failed
                .into_iter()
                .take(1)
                .map(|id| {
                    let mut failure = KinesisBatchItemFailure::default();
                    failure.item_identifier = Some(id.to_owned());
                    failure
                })
                .collect();
            BatchResponse::Kinesis(response)
        }
        Source::Sqs => {
            let mut response = SqsBatchResponse::default();
            response.batch_item_failures = failed
                .into_iter()
                .map(|id| {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id.to_owned();
                    failure
                })
                .collect();
            BatchResponse::Sqs(response)
        }
    })
}

/// The records the event source will deliver again, given which events are done so far (`event_ok`), which
/// dead letters were written (`poison_ok`, by record) and the events of each object already written
/// (`written`). For SQS that is the failed records. Kinesis retries from the first failed record on, so it is every record from there; and since an object already written that holds
/// an event of such a record must be taken back whole, its earlier records come again too. Events of these
/// records must not stay in S3 from this invocation, or their redelivery would store them twice.
pub fn redelivered(
    plan: &Plan,
    event_ok: &[bool],
    poison_ok: &HashMap<usize, bool>,
    written: &[&[usize]],
) -> Vec<bool> {
    let failed = record_outcomes(plan, event_ok, poison_ok)
        .into_iter()
        .map(|ok| !ok)
        .collect::<Vec<_>>();
    if plan.source == Source::Sqs {
        return failed;
    }
    let Some(mut first) = failed.iter().position(|f| *f) else {
        return failed;
    };
    // The last record each event answers for (its duplicates come after its own record).
    let mut last = plan.owners.clone();
    for (r, fate) in plan.fates.iter().enumerate() {
        if let Fate::Duplicate(e) = fate {
            last[*e] = last[*e].max(r);
        }
    }
    loop {
        let earliest = written
            .iter()
            .filter(|events| events.iter().any(|&e| last[e] >= first))
            .flat_map(|events| events.iter().map(|&e| plan.owners[e]))
            .min()
            .unwrap_or(first);
        if earliest >= first {
            return (0..failed.len()).map(|r| r >= first).collect();
        }
        first = earliest;
    }
}

/// For each event, whether any record it answers for (its own, or a duplicate's) is in `records`.
pub fn events_of(plan: &Plan, records: &[bool]) -> Vec<bool> {
    let mut out = vec![false; plan.events.len()];
    for (fate, _) in plan.fates.iter().zip(records).filter(|(_, r)| **r) {
        if let Fate::Event(e) | Fate::Duplicate(e) = fate {
            out[*e] = true;
        }
    }
    out
}

/// Per-record outcome from per-event and per-poison outcomes: a duplicate shares its original's fate.
pub fn record_outcomes(
    plan: &Plan,
    event_ok: &[bool],
    poison_ok: &HashMap<usize, bool>,
) -> Vec<bool> {
    plan.fates
        .iter()
        .enumerate()
        .map(|(i, fate)| match fate {
            Fate::Event(e) | Fate::Duplicate(e) => event_ok[*e],
            Fate::Poison(_) => poison_ok.get(&i).copied().unwrap_or(false),
            Fate::Seen => true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinesis_event(payloads: &[&str]) -> Value {
        let records: Vec<Value> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({"eventID": format!("shardId-000000000003:{}", 100 + i), "eventSource": "aws:kinesis",
                    "kinesis": {"sequenceNumber": format!("{}", 100 + i), "partitionKey": "pk",
                        "approximateArrivalTimestamp": 1_795_255_200.25,
                        "data": base64::engine::general_purpose::STANDARD.encode(p)}})
            })
            .collect();
        json!({ "Records": records })
    }

    fn plan(payloads: &[&str]) -> Plan {
        let (source, inputs) = read_event(&kinesis_event(payloads)).expect("kinesis event");
        Plan::new(source, inputs, Utc::now(), 1024)
    }

    #[test]
    fn reading_from_text_gives_what_reading_the_value_gives() {
        let mut events = vec![
            kinesis_event(&["{}", "{\"id\": 7}", "not json"]),
            kinesis_event(&[]),
            json!({"hello": 1}),
            json!({"Records": [{"hello": 1}]}),
            json!({"Records": [{"messageId": "m-1", "body": "{}", "attributes": {"SentTimestamp": "1795255200000"}}]}),
            json!({"Records": [{"messageId": "m-1"}]}),
        ];
        // Not base64; no sequence number; an arrival written as text; a record that is no object.
        for edit in [
            json!({"data": "%%%"}),
            json!({"sequenceNumber": ""}),
            json!({"approximateArrivalTimestamp": "soon"}),
        ] {
            let mut event = kinesis_event(&["{}", "{}"]);
            for (k, v) in edit.as_object().into_iter().flatten() {
                event["Records"][1]["kinesis"][k] = v.clone();
            }
            events.push(event);
        }
        let mut event = kinesis_event(&["{}"]);
        if let Some(records) = event["Records"].as_array_mut() {
            records.push(json!(3));
        }
        events.push(event);
        for event in events {
            let text = event.to_string();
            let expected = read_event(&event);
            match read_event_text(&text) {
                Some(read) => assert_eq!(read, expected, "{text}"),
                None => assert_eq!(expected, Err(BatchError::UnknownShape), "{text}"),
            }
        }
        assert!(read_event_text(&kinesis_event(&["{}"]).to_string()).is_some());
        // What building a Value refuses (and the CLI reports as not JSON), reading by text refuses too.
        let records = kinesis_event(&["{}", "{}"])["Records"].to_string();
        for bad in [
            format!(r#"{{"Records": {records}, "note": "\ud800"}}"#),
            format!(r#"{{"Records": {records}, "n": 1e400}}"#),
            format!(
                r#"{{"Records": {records}, "deep": {}{}}}"#,
                "[".repeat(200),
                "]".repeat(200)
            ),
        ] {
            assert!(serde_json::from_str::<Value>(&bad).is_err(), "{bad}");
            assert_eq!(read_event_text(&bad), None, "{bad}");
        }
    }

    /// A Kinesis event's text with the odd corners a `Value` cannot hold or refuses and `KinesisEventRecord`
    /// reads its own way: repeated keys, fields of the wrong type or null, arrival times of every kind, data that
    /// is not base64 or is escaped, a `kinesis` that is no object, numbers too large for a float, lone surrogates.
    fn odd_event(rng: &mut fastrand::Rng) -> String {
        // Mostly the first (usual) option, so that many records are usual and many are not.
        let pick = |rng: &mut fastrand::Rng, options: &[&str]| {
            let at = if rng.usize(0..10) < 8 {
                0
            } else {
                rng.usize(..options.len())
            };
            options[at].to_owned()
        };
        let record = |rng: &mut fastrand::Rng, i: usize| {
            let mut kinesis = vec![
                pick(
                    rng,
                    &[
                        r#""sequenceNumber":"1""#,
                        r#""sequenceNumber":"""#,
                        r#""sequenceNumber":null"#,
                        r#""sequenceNumber":7"#,
                    ],
                ),
                pick(
                    rng,
                    &[
                        r#""partitionKey":"pk""#,
                        r#""partitionKey":"p\u006b""#,
                        r#""partitionKey":null"#,
                    ],
                ),
                pick(
                    rng,
                    &[
                        r#""data":"e30=""#,
                        r#""data":"eyJpZCI6IDd9""#,
                        r#""data":"%%%""#,
                        r#""data":"e30""#,
                        r#""data":"e\u0033\u0030=""#,
                        r#""data":null"#,
                        r#""data":"""#,
                    ],
                ),
            ];
            let optional = [
                r#""encryptionType":"NONE""#,
                r#""encryptionType":"KMS""#,
                r#""encryptionType":"kms""#,
                r#""encryptionType":null"#,
                r#""kinesisSchemaVersion":"1.0""#,
                r#""kinesisSchemaVersion":null"#,
                r#""kinesisSchemaVersion":1"#,
                r#""other":{"a":[1,2]}"#,
                r#""sequenceNumber":"2""#,
                r#""data":"e30=""#,
                r#""d\u0061ta":"e30=""#,
                r#""p\u0061rtitionKey":"pk""#,
            ];
            for _ in 0..rng.usize(0..2) {
                kinesis.push(pick(rng, &optional));
            }
            for _ in 0..[1, 1, 1, 1, 0, 2][rng.usize(0..6)] {
                let arrival = [
                    "1795255200.25",
                    "1795255200",
                    "0",
                    "1795255200.1234",
                    "12345678901",
                    "1795255200.000",
                    "null",
                    r#""soon""#,
                    r#""1795255200.5""#,
                    "1e400",
                    "1.7e9",
                    "17952552001234567890123",
                    "-0",
                    "-5",
                    "{}",
                    "[1]",
                ];
                kinesis.push(format!(
                    r#""approximateArrivalTimestamp":{}"#,
                    pick(rng, &arrival)
                ));
            }
            rng.shuffle(&mut kinesis);
            let body = format!("{{{}}}", kinesis.join(","));
            let mut members = vec![
                pick(
                    rng,
                    &[
                        &format!(r#""eventID":"shardId-000000000003:{}""#, 100 + i),
                        r#""eventID":null"#,
                        r#""eventID":"no-colon""#,
                        r#""eventID":3"#,
                        r#""eventID":"shardId-\u0030:1""#,
                    ],
                ),
                r#""eventSource":"aws:kinesis""#.to_owned(),
            ];
            let optional = [
                r#""awsRegion":"us-east-1""#,
                r#""awsRegion":null"#,
                r#""awsRegion":1"#,
                r#""eventName":"x""#,
                r#""eventSourceARN":"arn""#,
                r#""eventVersion":"1.0""#,
                r#""invokeIdentityArn":true"#,
                r#""eventSource":"again""#,
                r#""extra":[{"eventID":1}]"#,
                r#""event\u0049D":"shardId-000000000003:9""#,
                r#""\u0065ventSource":"aws:kinesis""#,
            ];
            for _ in 0..rng.usize(0..2) {
                members.push(pick(rng, &optional));
            }
            match rng.usize(0..10) {
                0 => members.push(r#""kinesis":"not an object""#.to_owned()),
                1 => members.extend([
                    format!(r#""kinesis":{body}"#),
                    format!(r#""kinesis":{body}"#),
                ]),
                2 => {}
                _ => members.push(format!(r#""kinesis":{body}"#)),
            }
            rng.shuffle(&mut members);
            match rng.usize(0..12) {
                0 => "3".to_owned(),
                _ => format!("{{ {} }}", members.join(" , ")),
            }
        };
        let records: Vec<String> = (0..rng.usize(0..4)).map(|i| record(rng, i)).collect();
        let mut top = vec![format!(r#""Records":[{}]"#, records.join(","))];
        for _ in 0..rng.usize(0..3) {
            let extra = [
                r#""note":"\ud800""#,
                r#""n":1e400"#,
                r#""n":1e99"#,
                r#""big":1234567890123456789012345"#,
                r#""Records":[]"#,
                r#""s":"caf\u00e9""#,
                r#""deep":[[[[{"a":[null,true,false]}]]]]"#,
            ];
            top.push(pick(rng, &extra));
        }
        rng.shuffle(&mut top);
        format!("{{{}}}", top.join(","))
    }

    #[test]
    fn the_simd_base64_accepts_and_decodes_what_base64_does() {
        let mut rng = fastrand::Rng::with_seed(5);
        let standard = base64::engine::general_purpose::STANDARD;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.";
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..50_000 {
            let mut text =
                standard.encode((0..rng.usize(..80)).map(|_| rng.u8(..)).collect::<Vec<_>>());
            // Damage some: a byte changed, dropped or added (a stray bit in the last character, a pad moved).
            if rng.bool() && !text.is_empty() {
                let mut bytes = text.into_bytes();
                let at = rng.usize(..bytes.len());
                match rng.u8(..3) {
                    0 => bytes[at] = alphabet[rng.usize(..alphabet.len())],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, alphabet[rng.usize(..alphabet.len())]),
                }
                text = String::from_utf8(bytes).expect("ASCII");
            }
            let expected = standard.decode(&text).ok();
            if expected.is_some() {
                valid += 1;
            } else {
                invalid += 1;
            }
            assert_eq!(
                base64_simd::STANDARD.decode_to_vec(&text).ok(),
                expected,
                "{text:?}"
            );
        }
        assert!(
            valid > 20_000 && invalid > 10_000,
            "{valid} valid, {invalid} not"
        );
    }

    /// An [`odd_event`], a third of the time damaged at a random place (a byte taken out, one of a few put in);
    /// `None` when that leaves it no UTF-8.
    fn damaged_odd_event(rng: &mut fastrand::Rng) -> Option<String> {
        let mutations: [&[u8]; 9] = [b"", b",", b"\"", b"\\", b"0", b"}", b"]", b"e", b"-"];
        let mut bytes = odd_event(rng).into_bytes();
        if rng.usize(0..3) == 0 {
            let at = rng.usize(..=bytes.len());
            if at < bytes.len() && rng.bool() {
                bytes.remove(at);
            }
            let insert = mutations[rng.usize(..mutations.len())];
            bytes.splice(at..at, insert.iter().copied());
        }
        String::from_utf8(bytes).ok()
    }

    #[test]
    fn the_one_pass_over_the_event_agrees_with_serde_json() {
        let mut rng = fastrand::Rng::with_seed(21);
        let (mut taken, mut left, mut read_in_the_pass, mut left_to_the_type) = (0, 0, 0, 0);
        let mut names = Names::default();
        for _ in 0..20_000 {
            let Some(text) = damaged_odd_event(&mut rng) else {
                continue;
            };
            let Some(found) = crate::json::records(&text) else {
                left += 1;
                continue;
            };
            taken += 1;
            let checked =
                records_checked(&text).unwrap_or_else(|| panic!("serde_json refuses {text}"));
            let texts = |r: &[RecordText]| r.iter().map(|r| r.text.to_owned()).collect::<Vec<_>>();
            assert_eq!(texts(&found), texts(&checked), "{text}");
            for (i, r) in found.iter().enumerate() {
                let typed = RecordText {
                    text: r.text,
                    kinesis: None,
                };
                assert_eq!(
                    kinesis_typed(i, r, &mut names),
                    kinesis_typed(i, &typed, &mut names),
                    "{}",
                    r.text
                );
                match r
                    .kinesis
                    .as_ref()
                    .and_then(|k| kinesis_read(i, k, &mut names))
                {
                    Some(_) => read_in_the_pass += 1,
                    None => left_to_the_type += 1,
                }
            }
        }
        assert!(
            taken > 5000 && left > 5000 && read_in_the_pass > 2000 && left_to_the_type > 2000,
            "{taken} {left} {read_in_the_pass} {left_to_the_type}"
        );
    }

    /// `text` read by a [`crate::json::RecordStream`] as a caller reading a file would: pieces of random sizes,
    /// at most `most` records a call; each record as its `Debug` text. `None` when the stream leaves the event
    /// to be read whole.
    fn streamed(text: &str, most: usize, rng: &mut fastrand::Rng) -> Option<Vec<String>> {
        let mut stream = crate::json::RecordStream::default();
        let (mut found, mut from, mut to) = (Vec::new(), 0, 0);
        while !stream.done() {
            to = (to + rng.usize(1..48)).min(text.len());
            while !text.is_char_boundary(to) {
                to += 1;
            }
            let mut records = Vec::new();
            let consumed = stream.read(&text[from..to], to == text.len(), most, &mut records)?;
            assert!(records.len() <= most);
            found.extend(records.iter().map(|r| format!("{r:?}")));
            from += consumed;
            assert!(
                !(to == text.len() && consumed == 0 && records.is_empty() && !stream.done()),
                "no progress at the end of {text}"
            );
        }
        Some(found)
    }

    #[test]
    fn the_event_read_in_pieces_gives_the_records_the_whole_text_gives() {
        let mut rng = fastrand::Rng::with_seed(23);
        let (mut streamed_whole, mut left_whole) = (0, 0);
        for _ in 0..10_000 {
            let Some(mut text) = damaged_odd_event(&mut rng) else {
                continue;
            };
            if rng.bool() {
                // Whitespace where a file might have it.
                text = text.replace(",", ", ").replace("[", "[\n  ") + "\n";
            }
            let whole = crate::json::records(&text)
                .map(|r| r.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>());
            let most = rng.usize(1..4);
            match streamed(&text, most, &mut rng) {
                Some(found) => {
                    assert_eq!(Some(found), whole, "{text}");
                    streamed_whole += 1;
                }
                None => {
                    // Read whole, an event written just as `{"Records": [...]}` that `records` takes is one the
                    // stream should have taken.
                    let only_records = serde_json::from_str::<Value>(&text)
                        .is_ok_and(|v| v.as_object().is_some_and(|o| o.len() == 1))
                        && text.matches("\"Records\"").count() == 1;
                    assert!(!(whole.is_some() && only_records), "{text}");
                    left_whole += 1;
                }
            }
        }
        assert!(
            streamed_whole > 2000 && left_whole > 2000,
            "{streamed_whole} {left_whole}"
        );
    }

    #[test]
    fn a_batch_planned_part_by_part_with_its_names_carried_gives_the_same_events() {
        // Shapes that come, change and come back across parts: keys renamed, nested, colliding, repeated; and ids
        // of many lengths, so that the buffers handed back are of many sizes.
        let payloads: Vec<String> = (0..300)
            .map(|i| {
                let e = format!("e{i}-{}", "x".repeat(i * 37 % 700));
                match i % 5 {
                    0 => format!(r#"{{"eventId": "{e}", "userId": "u{i}", "Cart": {{"itemCount": {i}}}}}"#),
                    1 => format!(
                        r#"{{"eventId": "{e}", "Cart": {{"itemCount": 1, "Items": [{{"skuId": "s"}}]}}}}"#
                    ),
                    2 => format!(r#"{{"eventId": "{e}", "userId": "a", "user_id": "b"}}"#),
                    3 => format!(r#"{{"eventId": "{e}", "a": 1, "a": 2}}"#),
                    _ => format!(r#"{{"Cart": {{"itemCount": {i}}}, "eventId": "{e}", "userID": "u"}}"#),
                }
            })
            .collect();
        let texts: Vec<&str> = payloads.iter().map(String::as_str).collect();
        let event = kinesis_event(&texts);
        let (source, inputs) = read_event(&event).expect("event");
        let now = Utc::now();
        let whole = Plan::new(source, inputs, now, 1024);
        // As the CLI plans a batch: each part's records read from the text, and each event's buffer handed back
        // once it is written.
        let text = event.to_string();
        let (source, records) = read_records(&text).expect("records").expect("batch");
        let mut names = Names::default();
        let (mut events, mut fates) = (Vec::new(), Vec::new());
        for (k, part) in records.chunks(7).enumerate() {
            let inputs = inputs_of(source, part, 7 * k, &mut names).expect("inputs");
            let plan = Plan::continuing(source, inputs, now, 1024, &mut names);
            fates.extend(plan.fates.iter().map(|f| matches!(f, Fate::Poison(_))));
            for e in plan.events {
                events.push(e.json.clone());
                names.recycle(e.json);
            }
        }
        let json: Vec<Vec<u8>> = whole.events.iter().map(|e| e.json.clone()).collect();
        assert_eq!(events, json);
        let poison: Vec<bool> = whole
            .fates
            .iter()
            .map(|f| matches!(f, Fate::Poison(_)))
            .collect();
        assert_eq!(fates, poison);
        assert_eq!(
            poison.iter().filter(|p| **p).count(),
            60,
            "the repeated keys"
        );
    }

    #[test]
    fn reads_kinesis_records_with_shard_and_arrival() {
        let (source, inputs) = read_event(&kinesis_event(&["{}"])).expect("event");
        assert_eq!(source, Source::Kinesis);
        assert_eq!(inputs[0].meta.shard_id, "shardId-000000000003");
        assert_eq!(inputs[0].item_id(), "100");
        assert_eq!(
            format_time(inputs[0].meta.arrival),
            "2026-11-21T10:00:00.250Z"
        );
    }

    #[test]
    fn reads_sqs_messages() {
        let event = json!({"Records": [{"messageId": "m-1", "body": "{\"id\": 1}", "eventSourceARN": "arn:aws:sqs:us-east-1:1:events-queue",
            "attributes": {"SentTimestamp": "1795255200000"}}]});
        let (source, inputs) = read_event(&event).expect("event");
        assert_eq!(
            (
                source,
                inputs[0].item_id(),
                inputs[0].meta.shard_id.as_str()
            ),
            (Source::Sqs, "m-1", "events-queue")
        );
        let plan = Plan::new(source, inputs, Utc::now(), 1024);
        assert_eq!(plan.events[0].event_id, "1");
    }

    #[test]
    fn rejects_other_shapes_and_names_missing_fields() {
        assert_eq!(
            read_event(&json!({"hello": 1})),
            Err(BatchError::UnknownShape)
        );
        let mut event = kinesis_event(&["{}"]);
        event["Records"][0]["kinesis"]
            .as_object_mut()
            .map(|k| k.remove("sequenceNumber"));
        assert_eq!(
            read_event(&event),
            Err(BatchError::MissingField {
                index: 0,
                field: "kinesis.sequenceNumber"
            })
        );
        match read_event(&json!({"Records": [{"kinesis": {"data": "e30="}}]})) {
            Err(BatchError::BadRecord {
                index: 0,
                service: Source::Kinesis,
                reason,
            }) => {
                assert!(reason.contains("approximateArrivalTimestamp"), "{reason}");
            }
            other => panic!("expected BadRecord, got {other:?}"),
        }
    }

    #[test]
    fn events_seen_in_another_batch_are_dropped_with_their_duplicates_and_count_as_done() {
        let mut p = plan(&[
            r#"{"id": "1"}"#,
            r#"{"id": "2"}"#,
            r#"{"id": "1"}"#,
            r#"{"id": "3"}"#,
        ]);
        assert_eq!(p.origin(1), "shardId-000000000003/101");
        p.drop_seen(&[true, false, false]);
        assert_eq!(
            p.fates,
            [Fate::Seen, Fate::Event(0), Fate::Seen, Fate::Event(1)]
        );
        let ids: Vec<&str> = p.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["2", "3"]);
        assert_eq!(p.owners, [1, 3]);
        assert_eq!((p.seen_before(), p.duplicates()), (2, 0));
        // Dropped records are done: only a failed event's record comes again.
        assert_eq!(
            record_outcomes(&p, &[true, false], &HashMap::new()),
            [true, true, true, false]
        );
    }

    #[test]
    fn duplicates_within_a_batch_are_kept_once() {
        let p = plan(&[r#"{"id": "a"}"#, r#"{"id": "b"}"#, r#"{"id": "a", "x": 2}"#]);
        assert_eq!(p.events.len(), 2);
        assert_eq!(p.fates[2], Fate::Duplicate(0));
        assert_eq!(p.duplicates(), 1);
    }

    #[test]
    fn poison_records_are_set_aside() {
        let mut event = kinesis_event(&["{}", "[1]"]);
        event["Records"][0]["kinesis"]["data"] = json!("%%% not base64");
        let (source, inputs) = read_event(&event).expect("event");
        let p = Plan::new(source, inputs, Utc::now(), 1024);
        let poison: Vec<_> = p.poisoned().map(|(i, p)| (i, p.clone())).collect();
        assert_eq!(poison, [(0, Poison::BadBase64), (1, Poison::NotObject)]);
        let (key, doc) = dead_letter(&p, 0, &Poison::BadBase64, "dead-letter/kinesis/");
        assert_eq!(
            key,
            "dead-letter/kinesis/2026-11-21/shardId-000000000003-100.json"
        );
        assert_eq!(doc["data"], "%%% not base64");
        assert_eq!(doc["reason"], "data is not valid base64");
    }

    #[test]
    fn objects_group_by_type_and_hour_with_deterministic_keys() {
        let p = plan(&[
            r#"{"id": "1", "type": "click", "ts": "2026-11-21T10:05:00Z"}"#,
            r#"{"id": "2", "type": "view", "ts": "2026-11-21T10:06:00Z"}"#,
            r#"{"id": "3", "type": "click", "ts": "2026-11-21T10:59:59Z"}"#,
            r#"{"id": "4", "type": "click", "ts": "2026-11-21T11:00:00Z"}"#,
        ]);
        let objs = objects(&p, "events/", false, |_| true).expect("objects");
        let keys: Vec<&str> = objs.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "events/click/year=2026/month=11/day=21/hour=10/shardId-000000000003-100-102.jsonl",
                "events/view/year=2026/month=11/day=21/hour=10/shardId-000000000003-101-101.jsonl",
                "events/click/year=2026/month=11/day=21/hour=11/shardId-000000000003-103-103.jsonl",
            ]
        );
        let lines: Vec<Value> = objs[0]
            .body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["event_id"], "3");
        let again = objects(
            &plan(&[r#"{"id": "1", "type": "click", "ts": "2026-11-21T10:05:00Z"}"#]),
            "events/",
            true,
            |_| true,
        )
        .expect("gzip");
        assert!(again[0].key.ends_with(".jsonl.gz"));
        assert_eq!(&again[0].body[..2], &[0x1f, 0x8b]);
    }

    /// A redrive of 100..=103 finds, for each group, the objects earlier deliveries wrote, and stores only what
    /// they do not hold.
    #[test]
    fn a_redrive_finds_what_earlier_deliveries_stored_in_each_group() {
        let payloads = [
            r#"{"id": "1", "type": "click", "ts": "2026-11-21T10:05:00Z"}"#,
            r#"{"id": "2", "type": "view", "ts": "2026-11-21T10:06:00Z"}"#,
            r#"{"id": "3", "type": "click", "ts": "2026-11-21T10:07:00Z"}"#,
            r#"{"id": "4", "type": "view", "ts": "2026-11-21T10:08:00Z"}"#,
        ];
        let keys =
            |objects: Vec<ObjectPlan>| objects.into_iter().map(|o| o.key).collect::<Vec<_>>();
        let p = plan(&payloads);
        let groups = earlier_objects(&p, "events/", |_| true);
        let folder = "events/{}/year=2026/month=11/day=21/hour=10/shardId-000000000003-";
        assert_eq!(
            groups,
            [
                (folder.replace("{}", "click"), vec![0, 2]),
                (folder.replace("{}", "view"), vec![1, 3]),
            ]
        );
        // What a listing of each folder returns, from the objects written so far, plus keys that are not event
        // objects of a range.
        let listed = |written: &[String]| -> Vec<Vec<String>> {
            groups
                .iter()
                .map(|(folder, _)| {
                    let mut found: Vec<String> = written
                        .iter()
                        .filter(|k| k.starts_with(folder.as_str()))
                        .cloned()
                        .collect();
                    found.push(format!("{folder}x-y.jsonl"));
                    found
                })
                .collect()
        };
        // The mapping's last attempt stored records 100 and 101 (its first failure was 102).
        let attempt =
            keys(objects(&plan(&payloads[..2]), "events/", true, |_| true).expect("objects"));
        assert_eq!(
            stored_earlier(&p, &groups, &listed(&attempt)),
            [true, true, false, false]
        );
        assert_eq!(stored_earlier(&p, &groups, &[vec![], vec![]]), [false; 4]);
        // A redrive that stopped after storing the rest of one group: its own object is found too.
        let mut partial = attempt.clone();
        partial.extend(keys(
            objects(&p, "events/", false, |e| e == 2).expect("objects"),
        ));
        assert_eq!(
            stored_earlier(&p, &groups, &listed(&partial)),
            [true, true, true, false]
        );
        // An object of another range of the shard (records 90 to 99) says nothing about these.
        let other = vec![format!("{}090-099.jsonl", folder.replace("{}", "click"))];
        assert_eq!(stored_earlier(&p, &groups, &listed(&other)), [false; 4]);
        // Everything stored: nothing again.
        let all = keys(objects(&p, "events/", false, |_| true).expect("objects"));
        assert_eq!(stored_earlier(&p, &groups, &listed(&all)), [true; 4]);
    }

    #[test]
    fn kinesis_redelivers_from_the_first_failed_record_and_sqs_only_the_failed_ones() {
        let p = plan(&[
            r#"{"id": "1"}"#,
            r#"{"id": "2"}"#,
            r#"{"id": "1"}"#,
            "not json",
            r#"{"id": "3"}"#,
        ]);
        let letters = HashMap::from([(3, true)]);
        // Event 1 ("2") failed: Kinesis retries from record 1 on, poison and all.
        assert_eq!(
            redelivered(&p, &[true, false, true], &letters, &[]),
            [false, true, true, true, true]
        );
        // Event 0 ("1") failed: its duplicate (record 2) fails with it.
        let mut sqs = p.clone();
        sqs.source = Source::Sqs;
        assert_eq!(
            redelivered(&sqs, &[false, true, true], &letters, &[]),
            [true, false, true, false, false]
        );
        assert_eq!(
            events_of(&p, &[false, false, true, false, false]),
            [true, false, false]
        );
        assert_eq!(
            events_of(&p, &[true, false, true, true, true]),
            [true, false, true]
        );
        assert_eq!(
            redelivered(&p, &[true, true, true], &letters, &[]),
            [false; 5]
        );
        // A dead letter that was not written fails its record: Kinesis comes back from there.
        let unwritten = HashMap::from([(3, false)]);
        assert_eq!(
            redelivered(&p, &[true, true, true], &unwritten, &[]),
            [false, false, false, true, true]
        );
    }

    #[test]
    fn an_object_already_written_with_a_redelivered_record_brings_its_earlier_records_back() {
        let p = plan(&[
            r#"{"id": "a"}"#,
            r#"{"id": "b"}"#,
            r#"{"id": "c"}"#,
            r#"{"id": "d"}"#,
        ]);
        // Event "c" failed; an object with "a" and "d" was written: "d" comes again, so must "a", and all after.
        assert_eq!(
            redelivered(
                &p,
                &[true, true, false, true],
                &HashMap::new(),
                &[&[0, 3], &[1]]
            ),
            [true; 4]
        );
        // Objects wholly before the failure stay.
        assert_eq!(
            redelivered(
                &p,
                &[true, true, false, true],
                &HashMap::new(),
                &[&[0, 1], &[3]]
            ),
            [false, false, true, true]
        );
    }

    #[test]
    fn the_newest_event_per_entity_is_written_once() {
        let p = plan(&[
            r#"{"id": "1", "customerId": "c1", "ts": "2026-11-21T10:05:00Z"}"#,
            r#"{"id": "2", "customerId": "c2", "ts": "2026-11-21T10:06:00Z"}"#,
            r#"{"id": "3", "customerId": "c1", "ts": "2026-11-21T10:04:00Z"}"#,
            r#"{"id": "4", "customerId": "c1", "ts": "2026-11-21T10:05:00Z"}"#,
        ]);
        let writes = entity_writes(&p, "customer_id");
        assert_eq!(writes.len(), 2);
        assert_eq!(
            (
                writes[0].entity.as_str(),
                writes[0].event,
                writes[0].covers.clone()
            ),
            ("c1", 3, vec![0, 2, 3]),
            "same time: the later sequence wins"
        );
        assert_eq!(entity_writes(&p, "event_id").len(), 4);
    }

    #[test]
    fn longer_sequence_numbers_sort_later() {
        assert!(sortable_sequence("99") < sortable_sequence("100"));
    }

    #[test]
    fn kinesis_reports_the_first_failure_and_sqs_every_one() {
        let response = |p: &Plan, stored: &[bool]| {
            response(p, stored).map(|r| serde_json::to_value(r).expect("serializes"))
        };
        let p = plan(&[r#"{"id": "1"}"#, r#"{"id": "2"}"#, r#"{"id": "3"}"#]);
        assert_eq!(
            response(&p, &[true, false, false]),
            Some(json!({"batchItemFailures": [{"itemIdentifier": "101"}]}))
        );
        assert_eq!(
            response(&p, &[true, true, true]),
            Some(json!({"batchItemFailures": []}))
        );
        assert_eq!(
            response(&p, &[false, false, false]),
            None,
            "all failed: fail the invocation"
        );
        let mut sqs = p.clone();
        sqs.source = Source::Sqs;
        assert_eq!(
            response(&sqs, &[false, true, false]),
            Some(
                json!({"batchItemFailures": [{"itemIdentifier": "100"}, {"itemIdentifier": "102"}]})
            )
        );
    }

    #[test]
    fn duplicates_share_their_originals_outcome() {
        let p = plan(&[r#"{"id": "a"}"#, "[]", r#"{"id": "a"}"#]);
        let outcomes = record_outcomes(&p, &[false], &HashMap::from([(1, true)]));
        assert_eq!(outcomes, [false, true, false]);
    }
}
