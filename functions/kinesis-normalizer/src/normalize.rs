//! Normalizing one record's payload into a clean event: snake_case keys, trimmed strings, and a resolved
//! `event_id`, `event_type` and UTC `event_time`. Nothing else changes: numbers keep their text, and no value is
//! dropped (colliding keys keep their own spelling, overwritten metadata fields keep their payload value under
//! `_original`). Pure: bytes and metadata in, an event or a poison reason out (a batch also keeps the key names
//! it met, [`Names`], as a cache).

use crate::json::{Json, trim, write_str};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use compact_str::CompactString;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::collections::HashMap;

mod direct;

/// Where a record came from, as its event source reports it. A string of up to 24 bytes (a shard id, most
/// partition keys) is held inline, with no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// Kinesis shard id (`shardId-000000000000`), or the SQS queue name.
    pub shard_id: CompactString,
    /// Kinesis sequence number, or the SQS message id.
    pub sequence_number: String,
    /// Kinesis partition key (empty for SQS).
    pub partition_key: CompactString,
    /// When the record reached the stream or queue.
    pub arrival: DateTime<Utc>,
}

/// Why a record cannot become an event. Poison records go to the dead-letter path and never fail the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Poison {
    #[error("data is not valid base64")]
    BadBase64,
    #[error("payload is not JSON: {0}")]
    NotJson(String),
    #[error("payload is JSON but not an object")]
    NotObject,
    #[error("payload is {size} bytes, over the {limit} byte limit")]
    TooLarge { size: usize, limit: usize },
    /// JSON allows a repeated key, but readers keep one of the values: which one is up to the reader.
    #[error("payload repeats the key {key:?} in {path}")]
    RepeatedKey { key: String, path: String },
    /// Kept as a safety net; the collision rule leaves no two keys with one name.
    #[error("keys {keys:?} in {path} cannot all keep a distinct name")]
    KeyCollision { keys: Vec<String>, path: String },
}

/// Two or more keys of one object whose snake_case form is the same name. The key already spelled that way
/// (or, when none is, the first in payload order) takes the name; the others keep their own spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// Where the object is: `$` for the payload, `$.shipping_address`, `$.items[2]`.
    pub path: String,
    /// The shared snake_case name.
    pub name: String,
    /// Every colliding key as the payload spelled it, in payload order.
    pub keys: Vec<String>,
}

impl std::fmt::Display for Collision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} -> {}",
            self.path,
            self.keys.join(", "),
            self.name
        )
    }
}

/// A normalized event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Up to 24 bytes, it is held inline.
    pub event_id: CompactString,
    /// Safe as one S3 key segment. Up to 24 bytes, as most are, it is held inline.
    pub event_type: CompactString,
    pub event_time: DateTime<Utc>,
    /// The whole event as written, one line of compact JSON, an object: the normalized payload in payload order,
    /// then `event_id`, `event_type`, `event_time`, `event_time_source`, `_kinesis`, `ingested_at`, and
    /// `_original` when the payload held any of those names with another value. UTF-8: it is written from `str`s
    /// and checked number text only, and kept as bytes, as it is written out, with no second check.
    pub json: Vec<u8>,
    /// Keys that kept their own spelling because another key took their snake_case name.
    pub collisions: Vec<Collision>,
}

impl Event {
    /// The event as one line of compact JSON, without the newline.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.json);
    }

    /// The event's text as a string.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.json)
    }

    #[cfg(test)]
    pub fn to_json(&self) -> String {
        self.text().into_owned()
    }

    /// A top-level field of the event as an id reads it (a non-empty string, or a number's text).
    pub fn field_text(&self, key: &str) -> Option<String> {
        crate::json::top_level_text(&self.text(), key)
    }
}

/// The payload's top-level keys an event's id is read from, the first that holds one.
const ID_KEYS: [&str; 2] = ["event_id", "id"];

/// ... and its type.
const TYPE_KEYS: [&str; 2] = ["event_type", "type"];

/// ... and its time.
const TIME_KEYS: [&str; 4] = ["event_time", "timestamp", "ts", "created_at"];

/// The fields the normalizer sets on every event; a payload value under one of these names that differs from
/// what is set is kept under `_original`.
const METADATA: [&str; 7] = [
    "event_id",
    "event_type",
    "event_time",
    "event_time_source",
    "_kinesis",
    "ingested_at",
    "_original",
];

/// RFC 3339, UTC, milliseconds: `2026-11-21T10:00:00.000Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    let mut text = Vec::with_capacity(24);
    write_time(t, &mut text);
    // ASCII digits and separators, or chrono's text.
    String::from_utf8(text).unwrap_or_default()
}

/// Appends [`format_time`]'s text: digit by digit for the years 0 to 9999, as chrono writes it for the others
/// and for a leap second (a test holds the two to the same text). The date is worked out from the day number
/// ([`civil`]): chrono's month and day took most of this function's time.
fn write_time(t: DateTime<Utc>, out: &mut Vec<u8>) {
    let millis = t.timestamp_subsec_millis();
    let seconds = t.timestamp();
    let (year, month, day) = civil(seconds.div_euclid(86_400));
    let (Ok(year @ 0..=9999), 0..=999) = (u32::try_from(year), millis) else {
        return out.extend_from_slice(chrono_time(t).as_bytes());
    };
    // Below 86,400: fits.
    let second = seconds.rem_euclid(86_400) as u32;
    let mut text = *b"0000-00-00T00:00:00.000Z";
    // Two digits at a time, from a table of 00 to 99.
    let mut two = |at: usize, value: u32| {
        let at_pair = 2 * (value as usize % 100);
        text[at..at + 2].copy_from_slice(&PAIRS[at_pair..at_pair + 2]);
    };
    two(0, year / 100);
    two(2, year);
    two(5, month);
    two(8, day);
    two(11, second / 3600);
    two(14, second / 60 % 60);
    two(17, second % 60);
    two(21, millis);
    text[20] = b'0' + (millis / 100) as u8;
    out.extend_from_slice(&text);
}

/// `00` to `99`.
const PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
    5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// The proleptic Gregorian year, month and day of a day counted from 1970-01-01 (`days_from_civil`'s inverse,
/// as Howard Hinnant's "chrono-Compatible Low-Level Date Algorithms" give it): years of 400 from 0000-03-01.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let of_era = z - era * 146_097;
    let year_of_era = (of_era - of_era / 1460 + of_era / 36_524 - of_era / 146_096) / 365;
    let of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // From March: the month's index and its first day.
    let march_based = (5 * of_year + 2) / 153;
    let day = of_year - (153 * march_based + 2) / 5 + 1;
    let month = if march_based < 10 {
        march_based + 3
    } else {
        march_based - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // 1..=12 and 1..=31.
    (year, month as u32, day as u32)
}

/// chrono's RFC 3339 text of `t`, to milliseconds.
fn chrono_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Normalizes one decoded payload.
pub fn normalize(
    payload: &[u8],
    meta: &RecordMeta,
    ingested_at: DateTime<Utc>,
    max_bytes: usize,
) -> Result<Event, Poison> {
    normalize_at(
        payload,
        meta,
        &format_time(ingested_at),
        max_bytes,
        &mut Names::default(),
    )
}

/// [`normalize`], with the ingestion time already written by [`format_time`] and the key names met so far (both
/// kept for a whole batch).
pub fn normalize_at(
    payload: &[u8],
    meta: &RecordMeta,
    ingested: &str,
    max_bytes: usize,
    learned: &mut Names,
) -> Result<Event, Poison> {
    if payload.len() > max_bytes {
        return Err(Poison::TooLarge {
            size: payload.len(),
            limit: max_bytes,
        });
    }
    match direct::normalize(payload, meta, ingested, learned) {
        Some(event) => Ok(event),
        None => normalize_tree(payload, meta, ingested, learned),
    }
}

/// [`normalize_at`] through a tree of the payload: the judge of every payload, and the path of any the one pass
/// ([`direct`]) leaves to it.
fn normalize_tree(
    payload: &[u8],
    meta: &RecordMeta,
    ingested: &str,
    learned: &mut Names,
) -> Result<Event, Poison> {
    let value = Json::parse(payload).map_err(|e| Poison::NotJson(e.to_string()))?;
    let Json::Object(pairs) = value else {
        return Err(Poison::NotObject);
    };
    learned.learn_keys(&pairs);
    let mut json = learned.event_buffer(event_capacity(payload, meta, ingested));
    let known = &*learned;
    let mut collisions = Vec::new();
    // The payload's own keys, cleaned: a scalar as a tree (the metadata is read from those), a nested value
    // cleaned straight into `written`.
    let names = object_names(&pairs, known, &Path::Root, &mut collisions)?;
    let mut written = Vec::with_capacity(payload.len());
    let mut cleaned = Vec::with_capacity(pairs.len());
    for ((_, v), name) in pairs.into_iter().zip(names) {
        let value = match v {
            Json::Object(_) | Json::Array(_) => {
                let start = written.len();
                write_clean(
                    &v,
                    known,
                    &Path::Key(&Path::Root, &name),
                    &mut collisions,
                    &mut written,
                )?;
                Top::Written(start..written.len())
            }
            scalar => Top::Tree(clean_scalar(scalar)),
        };
        cleaned.push((name, value));
    }
    json.push(b'{');
    for (name, value) in &cleaned {
        if !METADATA.contains(&name.as_ref()) {
            member(name, &mut json);
            value.write(&written, &mut json);
        }
    }
    Ok(finish(json, &cleaned, &written, meta, ingested, collisions))
}

/// Room for an event's text, so that it is usually written without growing: the payload, cleaned (about its size), and
/// the fields set on it, with room to spare for an `_original` or two.
fn event_capacity(payload: &[u8], meta: &RecordMeta, ingested: &str) -> usize {
    let m = meta;
    payload.len()
        + 512
        + m.partition_key.len()
        + m.sequence_number.len()
        + m.shard_id.len()
        + ingested.len()
}

/// Starts the next member of the object being written into `json` (which holds at least its `{`).
fn member(key: &str, json: &mut Vec<u8>) {
    if json.len() > 1 {
        json.push(b',');
    }
    write_str(key, json);
    json.push(b':');
}

/// The event, once `json` holds `{` and every top-level member of the cleaned payload but those the metadata
/// takes (in payload order). `top` holds the payload's top-level members the metadata is read from or takes, in
/// payload order (it may hold others too): a scalar as a tree, a nested value as its range of `written`.
fn finish(
    mut json: Vec<u8>,
    top: &[(Cow<'_, str>, Top<'_>)],
    written: &[u8],
    meta: &RecordMeta,
    ingested: &str,
    collisions: Vec<Collision>,
) -> Event {
    let get = |key: &str| match top.iter().find(|(k, _)| k == key) {
        Some((_, Top::Tree(v))) => Some(v),
        _ => None,
    };

    let event_id = ID_KEYS
        .iter()
        .find_map(|k| get(k).and_then(Json::scalar_text))
        .map_or_else(
            || format!("{}-{}", meta.shard_id, meta.sequence_number).into(),
            CompactString::from,
        );
    let event_type = TYPE_KEYS
        .iter()
        .find_map(|k| get(k).and_then(Json::scalar_text))
        .map_or_else(|| CompactString::const_new("unknown"), sanitize_type);
    let from_payload = TIME_KEYS.iter().find_map(|k| get(k).and_then(parse_time));
    let (event_time, source) = match from_payload {
        Some(t) => (t, "payload"),
        None => (meta.arrival, "arrival"),
    };

    // The fields set, after the payload's own, each value's text noted for the comparison below.
    let field = |key: &[u8], json: &mut Vec<u8>| {
        if json.len() > 1 {
            json.push(b',');
        }
        json.extend_from_slice(key);
        json.len()
    };
    let at = field(b"\"event_id\":", &mut json);
    write_str(&event_id, &mut json);
    let id = at..json.len();
    // A string known to need no escape: the sanitized type (`[a-z0-9_.-]`), the time's source.
    let plain = |text: &str, json: &mut Vec<u8>| {
        json.push(b'"');
        json.extend_from_slice(text.as_bytes());
        json.push(b'"');
    };
    let at = field(b"\"event_type\":", &mut json);
    plain(&event_type, &mut json);
    let kind = at..json.len();
    let at = field(b"\"event_time\":", &mut json);
    json.push(b'"');
    write_time(event_time, &mut json);
    json.push(b'"');
    let time = at..json.len();
    let at = field(b"\"event_time_source\":", &mut json);
    plain(source, &mut json);
    let time_source = at..json.len();
    let at = field(b"\"_kinesis\":", &mut json);
    json.extend_from_slice(b"{\"partition_key\":");
    write_str(&meta.partition_key, &mut json);
    json.extend_from_slice(b",\"sequence_number\":");
    write_str(&meta.sequence_number, &mut json);
    json.extend_from_slice(b",\"shard_id\":");
    write_str(&meta.shard_id, &mut json);
    json.extend_from_slice(b",\"approximate_arrival\":\"");
    write_time(meta.arrival, &mut json);
    json.extend_from_slice(b"\"}");
    let kinesis = at..json.len();
    let at = field(b"\"ingested_at\":", &mut json);
    // As `format_time` writes it (digits and `-:.TZ+`): nothing to escape.
    debug_assert!(
        !crate::json::needs_escape(ingested.as_bytes()),
        "{ingested}"
    );
    plain(ingested, &mut json);
    let set = [
        ("event_id", id),
        ("event_type", kind),
        ("event_time", time),
        ("event_time_source", time_source),
        ("_kinesis", kinesis),
        ("ingested_at", at..json.len()),
    ];

    // A payload value the metadata replaces is kept unless it is the very same value (a number id of 7 is
    // kept: the event's `event_id` is the string "7"). Two values are the same exactly when their text is.
    let mut original: SmallVec<[_; 4]> = SmallVec::new();
    for (name, value) in top {
        if !METADATA.contains(&name.as_ref()) {
            continue;
        }
        let same = set.iter().any(|(k, range)| {
            let now = &json[range.clone()];
            k == name
                && match value {
                    Top::Tree(v) => v.is_written_as(now),
                    Top::Written(range) => written[range.clone()] == *now,
                }
        });
        if !same {
            original.push((name, value));
        }
    }
    if !original.is_empty() {
        field(b"\"_original\":{", &mut json);
        for (i, (name, value)) in original.into_iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            write_str(name, &mut json);
            json.push(b':');
            value.write(written, &mut json);
        }
        json.push(b'}');
    }
    json.push(b'}');
    Event {
        event_id,
        event_type,
        event_time,
        json,
        collisions,
    }
}

/// A payload key's cleaned value: a scalar as a tree, a nested value already written into a buffer.
enum Top<'a> {
    Tree(Json<'a>),
    Written(std::ops::Range<usize>),
}

impl Top<'_> {
    /// Appends the value's text; a written value is in `written`.
    fn write(&self, written: &[u8], out: &mut Vec<u8>) {
        match self {
            Top::Tree(v) => v.write(out),
            Top::Written(range) => out.extend_from_slice(&written[range.clone()]),
        }
    }
}

/// Writes `value` cleaned: snake_case keys (see [`Collision`] for keys that share a name) and trimmed strings,
/// all the way down.
fn write_clean(
    value: &Json<'_>,
    known: &Names,
    path: &Path,
    collisions: &mut Vec<Collision>,
    out: &mut Vec<u8>,
) -> Result<(), Poison> {
    match value {
        Json::Object(pairs) => {
            let names = object_names(pairs, known, path, collisions)?;
            out.push(b'{');
            for (i, ((_, v), name)) in pairs.iter().zip(&names).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(name, out);
                out.push(b':');
                write_clean(v, known, &Path::Key(path, name), collisions, out)?;
            }
            out.push(b'}');
        }
        Json::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_clean(v, known, &Path::Index(path, i), collisions, out)?;
            }
            out.push(b']');
        }
        Json::String(s) => write_str(trim(s), out),
        scalar => scalar.write(out),
    }
    Ok(())
}

/// Where a value is in the payload, built as the walk goes down and written out only when a collision or a
/// repeated key names it: `$`, `$.shipping_address`, `$.items[2]`.
#[derive(Clone, Copy)]
enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => f.write_str("$"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// A string trimmed; other scalars as they are.
fn clean_scalar(value: Json<'_>) -> Json<'_> {
    match value {
        Json::String(Cow::Borrowed(s)) => Json::String(Cow::Borrowed(trim(s))),
        Json::String(Cow::Owned(s)) => {
            let t = trim(&s);
            if t.len() == s.len() {
                Json::String(Cow::Owned(s))
            } else {
                Json::String(Cow::Owned(t.to_owned()))
            }
        }
        other => other,
    }
}

/// Objects up to this many keys are checked for repeated keys and shared names pair by pair, with nothing
/// allocated; wider ones are sorted (n log n).
const PAIRWISE_KEYS: usize = 16;

/// An object's keys in snake_case, in order: a repeated key is poison, and keys that share a name are recorded
/// in `collisions` and all but one keep their own spelling.
fn object_names<'a>(
    pairs: &[(Cow<'a, str>, Json<'a>)],
    known: &'a Names,
    path: &Path,
    collisions: &mut Vec<Collision>,
) -> Result<Vec<Cow<'a, str>>, Poison> {
    if let Some(key) = repeated_key(pairs) {
        return Err(Poison::RepeatedKey {
            key: key.to_owned(),
            path: path.to_string(),
        });
    }
    let mut names: Vec<Cow<'a, str>> = pairs.iter().map(|(k, _)| known.of(k)).collect();
    let shared = if names.len() <= PAIRWISE_KEYS {
        (1..names.len()).any(|j| names[..j].iter().any(|n| same(n, &names[j])))
    } else {
        true
    };
    if shared {
        rename_collisions(pairs, &mut names, path, collisions)?;
    }
    Ok(names)
}

/// `a == b`, looking at the length and the first byte before comparing the rest.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// The first, in sorted order, of the keys an object repeats.
fn repeated_key<'k>(pairs: &'k [(Cow<'_, str>, Json<'_>)]) -> Option<&'k str> {
    if pairs.len() <= PAIRWISE_KEYS {
        (1..pairs.len())
            .filter(|&j| pairs[..j].iter().any(|(k, _)| same(k, &pairs[j].0)))
            .map(|j| pairs[j].0.as_ref())
            .min()
    } else {
        let mut by_key: Vec<&str> = pairs.iter().map(|(k, _)| k.as_ref()).collect();
        by_key.sort_unstable();
        by_key.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

/// Keys that share a snake_case name: the key already spelled so (or, when none is, the first in payload order)
/// takes the name; the others keep their own spelling, and each group is recorded. Sorting, not pairwise
/// comparison, finds the groups, so a wide object costs n log n.
fn rename_collisions<'a>(
    pairs: &[(Cow<'a, str>, Json<'a>)],
    names: &mut [Cow<'a, str>],
    path: &Path,
    collisions: &mut Vec<Collision>,
) -> Result<(), Poison> {
    let snake = &*names;
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by(|&a, &b| snake[a].cmp(&snake[b]).then(a.cmp(&b)));
    let mut found = Vec::new();
    let mut renamed = Vec::new();
    for group in order.chunk_by(|&a, &b| snake[a] == snake[b]) {
        if group.len() < 2 {
            continue;
        }
        let name = &snake[group[0]];
        // The key already spelled so takes the name, else the first in payload order (groups are in index order).
        let owner = group
            .iter()
            .copied()
            .find(|&j| pairs[j].0 == *name)
            .unwrap_or(group[0]);
        renamed.extend(group.iter().copied().filter(|&j| j != owner));
        found.push(Collision {
            path: path.to_string(),
            name: name.to_string(),
            keys: group.iter().map(|&j| pairs[j].0.to_string()).collect(),
        });
    }
    if found.is_empty() {
        return Ok(());
    }
    for j in renamed {
        names[j].clone_from(&pairs[j].0);
    }
    let mut sorted: Vec<&Cow<str>> = names.iter().collect();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        let clash = w[0].clone();
        return Err(Poison::KeyCollision {
            keys: (0..names.len())
                .filter(|&j| names[j] == clash)
                .map(|j| pairs[j].0.to_string())
                .collect(),
            path: path.to_string(),
        });
    }
    found.sort_by_key(|c| {
        c.keys
            .first()
            .and_then(|k| pairs.iter().position(|(p, _)| p == k))
    });
    collisions.extend(found);
    Ok(())
}

/// What a batch keeps from record to record: the snake_case names of keys met before, so that a key that comes
/// again record after record (as a stream's keys do) is converted once per batch, not once per record, and the
/// buffer the one pass compares an object's names in, and the shapes of the objects it read (see
/// [`direct::Shapes`]). At most [`MAX_NAMES`] keys are kept; a key met after that is converted each time. And
/// the buffers of events already written ([`Names::recycle`]) and of records' data already normalized
/// (`Names::recycle_data`), for the next ones.
#[derive(Debug, Default)]
pub struct Names {
    /// A key's name as written: quoted, and escaped as [`write_str`] escapes.
    written: HashMap<Box<str>, Box<str>, foldhash::fast::RandomState>,
    siblings: direct::Siblings,
    shapes: direct::Shapes,
    /// Two kinds, kept apart: an event's text is about twice its data, and a data buffer would have to grow.
    spare_events: Spare,
    spare_data: Spare,
}

/// Empty buffers, to be written into again.
#[derive(Debug, Default)]
struct Spare(Vec<Vec<u8>>);

impl Spare {
    /// At most two parts' worth (as the CLI plans a batch), of up to 64 KiB each: 16 MiB at most.
    const MOST: usize = 256;
    const LARGEST: usize = 64 * 1024;

    fn keep(&mut self, mut buffer: Vec<u8>) {
        if self.0.len() < Self::MOST && buffer.capacity() <= Self::LARGEST {
            buffer.clear();
            self.0.push(buffer);
        }
    }

    /// An empty buffer of at least `capacity` bytes: a spare one when there is one.
    fn take(&mut self, capacity: usize) -> Vec<u8> {
        match self.0.pop() {
            Some(mut buffer) => {
                buffer.reserve(capacity);
                buffer
            }
            None => Vec::with_capacity(capacity),
        }
    }
}

/// How many keys [`Names`] keeps.
pub const MAX_NAMES: usize = 4096;

/// The longest key [`Names`] keeps, in bytes: the map stays under a megabyte however long a batch's keys are.
const MAX_NAME_BYTES: usize = 64;

impl Names {
    /// Hands back the text of an event that was written and is no longer needed, so that a later event's text is
    /// written into its buffer instead of a new one.
    pub fn recycle(&mut self, json: Vec<u8>) {
        self.spare_events.keep(json);
    }

    /// An empty buffer for an event's text, of at least `capacity` bytes.
    fn event_buffer(&mut self, capacity: usize) -> Vec<u8> {
        self.spare_events.take(capacity)
    }

    /// [`Names::recycle`] for a record's data, once it became an event.
    pub(crate) fn recycle_data(&mut self, data: Vec<u8>) {
        self.spare_data.keep(data);
    }

    /// An empty buffer for a record's decoded data.
    pub(crate) fn data_buffer(&mut self) -> Vec<u8> {
        self.spare_data.take(0)
    }

    /// Learns the keys of an object's members, and of every object inside them, that are not their own
    /// snake_case name.
    fn learn_keys(&mut self, pairs: &[(Cow<'_, str>, Json<'_>)]) {
        for (key, value) in pairs {
            if self.has_room(key) && !is_snake(key) && !self.written.contains_key(key.as_ref()) {
                self.keep(key, &snake_case(key));
            }
            self.learn(value);
        }
    }

    /// Whether `key` would be kept: the map is not full, and the key not too long.
    fn has_room(&self, key: &str) -> bool {
        key.len() <= MAX_NAME_BYTES && self.written.len() < MAX_NAMES
    }

    /// Keeps `key`'s `name`.
    fn keep(&mut self, key: &str, name: &str) {
        let mut written = Vec::with_capacity(name.len() + 2);
        write_str(name, &mut written);
        // Always UTF-8: the name's own text, quotes and ASCII escapes.
        if let Ok(written) = String::from_utf8(written) {
            self.written.insert(key.into(), written.into());
        }
    }

    fn learn(&mut self, value: &Json<'_>) {
        match value {
            Json::Object(pairs) => self.learn_keys(pairs),
            Json::Array(items) => items.iter().for_each(|v| self.learn(v)),
            _ => {}
        }
    }

    /// A key's snake_case name: the key itself when it is already that name (the common case), else the name
    /// learned for it, else converted now.
    fn of<'a>(&'a self, key: &Cow<'a, str>) -> Cow<'a, str> {
        if is_snake(key) {
            return key.clone();
        }
        match self.written.get(key.as_ref()) {
            // Quoted, and with no escape: the name itself.
            Some(name) if !name.contains('\\') => name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .map_or_else(|| Cow::Owned(snake_case(key)), Cow::Borrowed),
            _ => Cow::Owned(snake_case(key)),
        }
    }
}

/// Whether `key` is its own snake_case name: lower case ASCII with no separators and no surrounding space.
fn is_snake(key: &str) -> bool {
    key.bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase() && !matches!(b, b'-' | b' ' | b'.'))
        && trim(key).len() == key.len()
}

/// `customerId` → `customer_id`, `HTTPStatus` → `http_status`, `Order-Total` → `order_total`.
pub fn snake_case(key: &str) -> String {
    let key = key.trim();
    if key.is_ascii() {
        return snake_case_ascii(key.as_bytes());
    }
    let chars: Vec<char> = key.chars().collect();
    snake_case_of(chars.len(), |i| chars[i])
}

/// [`snake_case_of`] over ASCII, a byte at a time (checked against it by a test).
fn snake_case_ascii(key: &[u8]) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut last = None;
    for (i, &c) in key.iter().enumerate() {
        if matches!(c, b'-' | b' ' | b'.') {
            if last.is_some_and(|l| l != b'_') {
                out.push('_');
                last = Some(b'_');
            }
            continue;
        }
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| key[p]);
            let boundary = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && key.get(i + 1).is_some_and(u8::is_ascii_lowercase));
            if boundary && last != Some(b'_') {
                out.push('_');
            }
            let lower = c.to_ascii_lowercase();
            out.push(char::from(lower));
            last = Some(lower);
        } else {
            out.push(char::from(c));
            last = Some(c);
        }
    }
    out
}

/// The snake_case rule over `n` characters, the `i`th given by `at`.
fn snake_case_of(n: usize, at: impl Fn(usize) -> char) -> String {
    let mut out = String::with_capacity(n + 4);
    for i in 0..n {
        let c = at(i);
        if c == '-' || c == ' ' || c == '.' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(&at);
            let next = (i + 1 < n).then(|| at(i + 1));
            let boundary = prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(char::is_uppercase) && next.is_some_and(char::is_lowercase));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Lower case, `[a-z0-9_.-]` only (anything else becomes `_`), at most 100 characters; never empty, `.` or `..`.
pub fn sanitize_type(raw: &str) -> CompactString {
    // One ASCII byte per character, the first 100: made on the stack, then held inline when it fits.
    let mut cleaned = [0_u8; 100];
    let mut len = 0;
    for (slot, c) in cleaned.iter_mut().zip(trim(raw).chars()) {
        *slot = TYPE_CHARS.get(c as usize).copied().unwrap_or(b'_');
        len += 1;
    }
    let cleaned = &cleaned[..len];
    match std::str::from_utf8(cleaned) {
        Ok(text) if !cleaned.iter().all(|&b| b == b'.') => CompactString::new(text),
        _ => CompactString::const_new("unknown"),
    }
}

/// What [`sanitize_type`] makes of each ASCII character (any other becomes `_`).
const TYPE_CHARS: [u8; 128] = {
    let mut table = [b'_'; 128];
    let mut b = 0;
    while b < 128 {
        let c = (b as u8).to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.') {
            table[b] = c;
        }
        b += 1;
    }
    table
};

/// Epoch numbers above this are milliseconds (10^11 seconds is the year 5138).
const MILLIS_THRESHOLD: f64 = 1e11;

/// RFC 3339 with any offset, epoch seconds or epoch milliseconds (as a number or a numeric string). The only
/// place a payload number is read as a number.
pub fn parse_time(value: &Json) -> Option<DateTime<Utc>> {
    let epoch = |n: f64| -> Option<DateTime<Utc>> {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        let millis = if n > MILLIS_THRESHOLD { n } else { n * 1000.0 };
        Utc.timestamp_millis_opt(millis.round() as i64).single()
    };
    match value {
        Json::Number(n) => epoch(n.parse().ok()?),
        Json::String(s) => {
            let s = s.trim();
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(epoch))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;
    use serde_json::{Value, json};

    fn meta() -> RecordMeta {
        RecordMeta {
            shard_id: "shardId-000000000001".into(),
            sequence_number: "49590338271490256608559692538361571095921575989136588898".into(),
            partition_key: "customer-42".into(),
            arrival: Utc
                .with_ymd_and_hms(2026, 11, 21, 9, 59, 59)
                .single()
                .expect("time"),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 5)
            .single()
            .expect("time")
    }

    fn event(payload: Value) -> Event {
        from_text(&payload.to_string())
    }

    fn from_text(payload: &str) -> Event {
        normalize(payload.as_bytes(), &meta(), now(), 1 << 20).expect("normalizes")
    }

    /// The event as written, read back by serde_json.
    fn json(e: &Event) -> Value {
        serde_json::from_str(&e.to_json()).expect("valid JSON")
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let mut rng = fastrand::Rng::with_seed(3);
        let edges = [
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(-1, 12, 31, 23, 59, 59).single(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(2016, 12, 31, 23, 59, 59)
                .single()
                .and_then(|t| t.with_nanosecond(1_500_000_000)),
        ];
        let random = (0..200_000).map(|_| {
            let millis = rng.i64(-70_000_000_000_000..400_000_000_000_000);
            Utc.timestamp_millis_opt(millis)
                .single()
                .and_then(|t| t.with_nanosecond(t.nanosecond() + rng.u32(..1_000_000)))
        });
        // Every day from 1900 to 2100, and every 37th from before year 0 to past 9999, at a random time of day.
        let first = Utc
            .with_ymd_and_hms(-2, 1, 1, 0, 0, 0)
            .single()
            .map(|t| t.timestamp() / 86_400);
        let days = (-25_567..=47_482).chain((first.unwrap_or_default()..2_933_700).step_by(37));
        let mut other = fastrand::Rng::with_seed(4);
        let daily = days.map(|day| {
            Utc.timestamp_millis_opt(day * 86_400_000 + other.i64(..86_400_000))
                .single()
        });
        for t in edges.into_iter().chain(random).chain(daily).flatten() {
            assert_eq!(format_time(t), chrono_time(t), "{t:?}");
        }
    }

    #[test]
    fn keys_become_snake_case_recursively() {
        let e = event(
            json!({"customerId": 1, "shippingAddress": {"zipCode": "1", "HTTPStatus": 200}, "lineItems": [{"unitPrice": 2}]}),
        );
        assert_eq!(json(&e)["customer_id"], 1);
        assert_eq!(json(&e)["shipping_address"]["zip_code"], "1");
        assert_eq!(json(&e)["shipping_address"]["http_status"], 200);
        assert_eq!(json(&e)["line_items"][0]["unit_price"], 2);
    }

    #[test]
    fn snake_case_handles_acronyms_digits_and_separators() {
        assert_eq!(snake_case("customerId"), "customer_id");
        assert_eq!(snake_case("HTTPStatusCode"), "http_status_code");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("Order-Total"), "order_total");
        assert_eq!(snake_case("address2Line"), "address2_line");
        assert_eq!(snake_case("ID"), "id");
    }

    #[test]
    fn the_ascii_snake_case_agrees_with_the_rule_over_characters() {
        let mut rng = fastrand::Rng::with_seed(7);
        const PARTS: [&str; 12] = [
            "a", "B", "cD", "_", "-", " ", ".", "Id", "HTTP", "9", "x1Y", "ZZz",
        ];
        for _ in 0..20_000 {
            let key: String = (0..rng.usize(0..6))
                .map(|_| PARTS[rng.usize(..PARTS.len())])
                .collect();
            let chars: Vec<char> = key.chars().collect();
            assert_eq!(
                snake_case_ascii(key.as_bytes()),
                snake_case_of(chars.len(), |i| chars[i]),
                "{key:?}"
            );
        }
    }

    #[test]
    fn names_past_the_kept_ones_are_still_converted() {
        let keys: Vec<String> = (0..MAX_NAMES + 100).map(|i| format!("keyNo{i}")).collect();
        let pairs: Vec<(Cow<str>, Json)> = keys
            .iter()
            .map(|k| (k.as_str().into(), Json::Null))
            .collect();
        let mut names = Names::default();
        names.learn_keys(&pairs);
        assert_eq!(names.written.len(), MAX_NAMES);
        for (k, _) in &pairs {
            assert_eq!(names.of(k), snake_case(k), "{k}");
        }
        assert_eq!(names.of(&Cow::Borrowed("already_snake")), "already_snake");
        let long = format!("a{}", "B".repeat(MAX_NAME_BYTES));
        let mut names = Names::default();
        names.learn_keys(&[(long.as_str().into(), Json::Null)]);
        assert!(names.written.is_empty());
        assert_eq!(names.of(&long.as_str().into()), snake_case(&long));
    }

    #[test]
    fn names_learned_from_earlier_records_give_the_same_events() {
        let payloads = [
            r#"{"customerId": "c1", "lineItems": [{"unitPrice": 1, "SKU-Code": "a"}], "shipTo": {"zipCode": "1"}}"#,
            r#"{"shipTo": {"zipCode": "2", "ZipCode": "3"}, "customerId": "c2", "lineItems": []}"#,
            r#"{"customer_id": "c3", "customerId": "c4", "HTTPStatus": 200}"#,
        ];
        let mut learned = Names::default();
        let ingested = format_time(now());
        for payload in payloads {
            let alone = from_text(payload);
            let batch = normalize_at(
                payload.as_bytes(),
                &meta(),
                &ingested,
                1 << 20,
                &mut learned,
            )
            .expect("normalizes");
            assert_eq!(batch, alone, "{payload}");
        }
        assert!(learned.written.len() >= 5, "{:?}", learned.written);
    }

    #[test]
    fn a_nested_metadata_value_equal_to_the_one_set_is_not_kept_again() {
        let kinesis = r#"{"partition_key": "customer-42", "sequence_number": "49590338271490256608559692538361571095921575989136588898", "shard_id": "shardId-000000000001", "approximate_arrival": "2026-11-21T09:59:59.000Z"}"#;
        let e = json(&from_text(&format!(r#"{{"x": 1, "_kinesis": {kinesis}}}"#)));
        assert!(e.get("_original").is_none(), "{e}");
        let other = kinesis.replace("customer-42", "customer-43");
        let e = json(&from_text(&format!(r#"{{"x": 1, "_kinesis": {other}}}"#)));
        assert_eq!(e["_original"]["_kinesis"]["partition_key"], "customer-43");
        assert_eq!(e["_kinesis"]["partition_key"], "customer-42");
    }

    #[test]
    fn a_field_is_read_past_brackets_inside_strings() {
        let e = from_text(r#"{"a": ["]", "}\"[", {"b": "{"}], "customer_id": "c", "z": "]}"}"#);
        assert_eq!(e.field_text("customer_id").as_deref(), Some("c"));
        assert_eq!(e.field_text("z").as_deref(), Some("]}"));
    }

    #[test]
    fn string_values_are_trimmed_everywhere() {
        let e = event(json!({"name": "  Ada ", "tags": [" a ", "b"], "nested": {"x": " y"}}));
        assert_eq!(
            (
                json(&e)["name"].as_str(),
                json(&e)["tags"][0].as_str(),
                json(&e)["nested"]["x"].as_str()
            ),
            (Some("Ada"), Some("a"), Some("y"))
        );
    }

    #[test]
    fn event_id_comes_from_the_payload_or_the_record() {
        assert_eq!(event(json!({"eventId": "e-1"})).event_id, "e-1");
        assert_eq!(event(json!({"id": 77})).event_id, "77");
        assert_eq!(
            event(json!({"x": 1})).event_id,
            format!("shardId-000000000001-{}", meta().sequence_number)
        );
    }

    #[test]
    fn event_type_is_sanitized_for_s3_paths() {
        assert_eq!(
            event(json!({"type": "Order Placed/v2"})).event_type,
            "order_placed_v2"
        );
        assert_eq!(
            event(json!({"eventType": "page.view"})).event_type,
            "page.view"
        );
        assert_eq!(event(json!({"event_type": ".."})).event_type, "unknown");
        assert_eq!(event(json!({"x": 1})).event_type, "unknown");
        // One byte per character, the first 100 of the trimmed text; past 24 bytes it is held on the heap.
        assert_eq!(sanitize_type("  Größe\tÉté 😀 "), "gr__e__t___");
        let long = format!("{}Z", "Ab".repeat(60));
        assert_eq!(sanitize_type(&long), "ab".repeat(50));
        assert_eq!(sanitize_type(&format!("{}x", ".".repeat(100))), "unknown");
        assert_eq!(sanitize_type(" "), "unknown");
    }

    #[test]
    fn event_time_accepts_rfc3339_epoch_seconds_and_millis() {
        let ten = Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("time");
        assert_eq!(
            event(json!({"eventTime": "2026-11-21T11:00:00+01:00"})).event_time,
            ten
        );
        assert_eq!(event(json!({"timestamp": ten.timestamp()})).event_time, ten);
        assert_eq!(event(json!({"ts": ten.timestamp_millis()})).event_time, ten);
        assert_eq!(
            event(json!({"createdAt": ten.timestamp().to_string()})).event_time,
            ten
        );
        let e = event(json!({"ts": 1_795_255_200.5}));
        assert_eq!(json(&e)["event_time"], "2026-11-21T10:00:00.500Z");
        assert_eq!(json(&e)["event_time_source"], "payload");
    }

    #[test]
    fn the_first_time_field_in_priority_order_wins() {
        let e = event(
            json!({"created_at": "2020-01-01T00:00:00Z", "event_time": "2026-11-21T10:00:00Z"}),
        );
        assert_eq!(json(&e)["event_time"], "2026-11-21T10:00:00.000Z");
    }

    #[test]
    fn a_missing_or_unparseable_time_falls_back_to_arrival() {
        for payload in [
            json!({"x": 1}),
            json!({"event_time": "yesterday"}),
            json!({"ts": -5}),
        ] {
            let e = event(payload);
            assert_eq!(e.event_time, meta().arrival);
            assert_eq!(json(&e)["event_time_source"], "arrival");
            assert_eq!(json(&e)["event_time"], "2026-11-21T09:59:59.000Z");
        }
    }

    #[test]
    fn adds_kinesis_metadata_and_ingestion_time() {
        let e = event(json!({"x": 1}));
        assert_eq!(json(&e)["_kinesis"]["partition_key"], "customer-42");
        assert_eq!(json(&e)["_kinesis"]["shard_id"], "shardId-000000000001");
        assert_eq!(
            json(&e)["_kinesis"]["approximate_arrival"],
            "2026-11-21T09:59:59.000Z"
        );
        assert_eq!(json(&e)["ingested_at"], "2026-11-21T10:00:05.000Z");
    }

    #[test]
    fn poison_payloads_are_named() {
        let m = meta();
        assert!(matches!(
            normalize(b"not json", &m, now(), 100),
            Err(Poison::NotJson(_))
        ));
        assert_eq!(normalize(b"[1,2]", &m, now(), 100), Err(Poison::NotObject));
        assert_eq!(normalize(b"\"s\"", &m, now(), 100), Err(Poison::NotObject));
        assert_eq!(
            normalize(&[b' '; 101], &m, now(), 100),
            Err(Poison::TooLarge {
                size: 101,
                limit: 100
            })
        );
    }

    #[test]
    fn numbers_are_written_as_the_payload_wrote_them() {
        let e = from_text(
            r#"{"account": 123456789012345678901234567890, "price": 19.990, "x": 0.30000000000000004441, "n": [1E2, -0]}"#,
        );
        let text = e.to_json();
        for n in [
            r#""account":123456789012345678901234567890"#,
            r#""price":19.990"#,
            r#""x":0.30000000000000004441"#,
            r#""n":[1E2,-0]"#,
        ] {
            assert!(text.contains(n), "{n} in {text}");
        }
    }

    #[test]
    fn a_number_id_keeps_its_text_as_the_event_id() {
        assert_eq!(from_text(r#"{"id": 1.50}"#).event_id, "1.50");
        assert_eq!(
            from_text(r#"{"id": 123456789012345678901234567890}"#).event_id,
            "123456789012345678901234567890"
        );
    }

    #[test]
    fn colliding_keys_keep_every_value_and_the_snake_case_key_keeps_the_name() {
        let e =
            from_text(r#"{"id": "c1", "userId": "camel", "user_id": "snake", "UserID": "upper"}"#);
        let b = json(&e);
        assert_eq!(
            (&b["user_id"], &b["userId"], &b["UserID"]),
            (&json!("snake"), &json!("camel"), &json!("upper"))
        );
        assert_eq!(
            e.collisions,
            [Collision {
                path: "$".into(),
                name: "user_id".into(),
                keys: vec!["userId".into(), "user_id".into(), "UserID".into()],
            }]
        );
    }

    #[test]
    fn without_a_snake_case_key_the_first_colliding_key_takes_the_name() {
        let e = from_text(r#"{"shipTo": {"countryCode": "DE", "CountryCode": "FR"}}"#);
        let b = json(&e);
        assert_eq!(b["ship_to"]["country_code"], "DE");
        assert_eq!(b["ship_to"]["CountryCode"], "FR");
        assert_eq!(e.collisions[0].path, "$.ship_to");
        assert_eq!(
            e.collisions[0].to_string(),
            "$.ship_to: countryCode, CountryCode -> country_code"
        );
    }

    #[test]
    fn collisions_inside_arrays_name_the_element() {
        let e = from_text(r#"{"items": [{"a": 1}, {"skuId": 1, "sku_id": 2}]}"#);
        assert_eq!(e.collisions[0].path, "$.items[1]");
        assert_eq!(json(&e)["items"][1]["skuId"], 1);
    }

    #[test]
    fn a_repeated_key_is_poison_naming_the_key() {
        let err = normalize(br#"{"a": {"b": 1, "b": 2}}"#, &meta(), now(), 1 << 20)
            .expect_err("repeated key");
        assert_eq!(
            err,
            Poison::RepeatedKey {
                key: "b".into(),
                path: "$.a".into()
            }
        );
        assert_eq!(err.to_string(), r#"payload repeats the key "b" in $.a"#);
    }

    #[test]
    fn metadata_fields_the_normalizer_replaces_keep_their_payload_value() {
        let e = from_text(
            r#"{"type": "Order Placed/v2", "event_type": "Order Placed/v2", "event_time": "yesterday", "ingested_at": 5, "_kinesis": "mine"}"#,
        );
        let b = json(&e);
        assert_eq!(b["event_type"], "order_placed_v2");
        assert_eq!(
            b["_original"],
            json!({"event_type": "Order Placed/v2", "event_time": "yesterday", "ingested_at": 5, "_kinesis": "mine"})
        );
        assert_eq!(b["type"], "Order Placed/v2");
    }

    #[test]
    fn metadata_fields_with_the_same_value_are_not_repeated() {
        let b = json(&from_text(
            r#"{"event_id": "e-7", "event_type": "click", "event_time": "2026-11-21T10:00:00.000Z"}"#,
        ));
        assert_eq!(b["event_id"], "e-7");
        assert!(b.get("_original").is_none(), "{b}");
        let b = json(&from_text(r#"{"event_id": 7}"#));
        assert_eq!(
            (&b["event_id"], &b["_original"]),
            (&json!("7"), &json!({"event_id": 7}))
        );
    }

    #[test]
    fn a_field_is_read_from_an_event_nested_deeper_than_the_readers_go() {
        // 127 levels under `event_time`, which moves under `_original`: 129 in the event.
        let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
        let e = from_text(&format!(
            r#"{{"customer_id": " c1 ", "n": 7, "event_time": {deep}}}"#
        ));
        assert!(
            e.to_json()
                .contains(&format!(r#""_original":{{"event_time":{deep}}}"#))
        );
        assert_eq!(e.field_text("customer_id").as_deref(), Some("c1"));
        assert_eq!(e.field_text("n").as_deref(), Some("7"));
        assert_eq!(e.field_text("_original"), None);
        assert_eq!(e.field_text("missing"), None);
    }

    #[test]
    fn payload_keys_keep_their_order_and_metadata_follows() {
        let text = from_text(r#"{"zeta": 1, "alpha": 2}"#).to_json();
        assert!(
            text.starts_with(r#"{"zeta":1,"alpha":2,"event_id":"#),
            "{text}"
        );
    }

    /// Every leaf of the payload (strings trimmed, numbers as text), with its count.
    fn leaves(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::Object(pairs) => pairs.iter().for_each(|(_, v)| leaves(v, out)),
            Json::Array(items) => items.iter().for_each(|v| leaves(v, out)),
            Json::String(s) => out.push(format!("s:{}", s.trim())),
            Json::Number(n) => out.push(format!("n:{n}")),
            Json::Bool(b) => out.push(format!("b:{b}")),
            Json::Null => out.push("null".into()),
        }
    }

    fn random_key(rng: &mut impl FnMut() -> u64) -> String {
        const STEMS: [&str; 6] = ["userId", "user_id", "UserID", "user-id", "ts", "eventType"];
        const PARTS: [&str; 8] = ["a", "B", "cD", "_", "-", " ", "Id", "é"];
        if rng().is_multiple_of(2) {
            STEMS[(rng() % 6) as usize].to_owned()
        } else {
            (0..1 + rng() % 4)
                .map(|_| PARTS[(rng() % 8) as usize])
                .collect()
        }
    }

    fn random_value(rng: &mut impl FnMut() -> u64, depth: u32) -> String {
        const NUMBERS: [&str; 10] = [
            "0",
            "-0",
            "19.990",
            "1e400",
            "123456789012345678901234567890",
            "0.30000000000000004441",
            "-1.5E-7",
            "1795255200",
            "1795255200123",
            "7",
        ];
        const STRINGS: [&str; 7] = [
            r#""""#,
            r#"" padded ""#,
            r#""\t tab\n""#,
            r#""\u00e9t\u00e9""#,
            r#""2026-11-21T10:00:00Z""#,
            r#""Order Placed/v2""#,
            r#""q\"uote""#,
        ];
        match (rng() % if depth > 3 { 4 } else { 6 }, rng()) {
            (0, r) => NUMBERS[(r % 10) as usize].to_owned(),
            (1, r) => STRINGS[(r % 7) as usize].to_owned(),
            (2, r) => ["true", "false", "null"][(r % 3) as usize].to_owned(),
            (3, r) => format!("\"{}\"", r % 1000),
            (4, _) => random_object(rng, depth + 1),
            _ => format!(
                "[{}]",
                (0..rng() % 4)
                    .map(|_| random_value(rng, depth + 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn random_object(rng: &mut impl FnMut() -> u64, depth: u32) -> String {
        let fields: Vec<String> = (0..rng() % 7)
            .map(|_| {
                let key = serde_json::to_string(&random_key(rng)).expect("key");
                format!("{key}: {}", random_value(rng, depth))
            })
            .collect();
        format!("{{{}}}", fields.join(", "))
    }

    #[test]
    fn every_leaf_of_a_random_payload_is_in_its_event_or_the_record_is_poison() {
        let mut rng = tributary_testkit::seeded_rng(0x9e37_79b9_7f4a_7c15);
        let (mut normalized, mut poisoned, mut collided) = (0, 0, 0);
        for case in 0..3000 {
            let payload = random_object(&mut rng, 0);
            let input = Json::parse(payload.as_bytes()).expect("generated JSON is valid");
            match normalize(payload.as_bytes(), &meta(), now(), 1 << 20) {
                Ok(e) => {
                    normalized += 1;
                    collided += usize::from(!e.collisions.is_empty());
                    let text = e.to_json();
                    let written = Json::parse(text.as_bytes()).expect("output is JSON");
                    // A field is read from the written event as the tree reads it.
                    if let Json::Object(pairs) = &written {
                        for (k, v) in pairs {
                            assert_eq!(
                                e.field_text(k).as_deref(),
                                v.scalar_text(),
                                "{k} in {text}"
                            );
                        }
                    }
                    let (mut want, mut got) = (Vec::new(), Vec::new());
                    leaves(&input, &mut want);
                    leaves(&written, &mut got);
                    for leaf in want {
                        let at = got.iter().position(|g| *g == leaf).unwrap_or_else(|| {
                            panic!("case {case}: {leaf} of {payload} is not in {}", e.to_json())
                        });
                        got.swap_remove(at);
                    }
                }
                Err(Poison::RepeatedKey { key, path }) => {
                    poisoned += 1;
                    assert!(
                        payload.contains(&serde_json::to_string(&key).expect("key")),
                        "{path}"
                    );
                }
                Err(other) => panic!("case {case}: {payload} is poison: {other}"),
            }
        }
        // The generator reaches every branch.
        assert!(
            normalized > 1000 && poisoned > 100 && collided > 100,
            "{normalized} {poisoned} {collided}"
        );
    }
}
