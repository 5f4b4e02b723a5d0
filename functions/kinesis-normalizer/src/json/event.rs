//! A Lambda event's `Records`, found in one pass over the event's text and checked on the way as strictly as
//! serde_json checks a `Value` it builds. In the same pass, the fields the normalizer needs are read from each
//! Kinesis record that `aws_lambda_events`' `KinesisEventRecord` surely reads the same way; any other record is
//! left to that type (and read again by it). So a usual event's text is scanned once, not once to check it, again
//! to find the records and again for each record. A differential test holds the two readings to the same inputs.

use super::reader::{Reader, surely_finite};
use std::borrow::Cow;

/// One record of the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordText<'a> {
    /// The record's JSON text, as `serde_json`'s `RawValue` would give it.
    pub text: &'a str,
    /// What a Kinesis record holds, when it is a usual one; `None` leaves the record to `KinesisEventRecord`.
    pub kinesis: Option<KinesisFields<'a>>,
}

/// A usual Kinesis record's fields: every field `KinesisEventRecord` knows appears at most once, with the type
/// it requires, `encryptionType` is `NONE` or `KMS`, and `approximateArrivalTimestamp` is a plain number of
/// seconds (`1795255200.25`: at most ten digits, at most three after the point) that it reads without error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisFields<'a> {
    pub event_id: Option<Cow<'a, str>>,
    pub sequence_number: Cow<'a, str>,
    pub partition_key: Cow<'a, str>,
    /// The base64 text, not yet decoded.
    pub data: Cow<'a, str>,
    /// `approximateArrivalTimestamp` in milliseconds, as `KinesisEventRecord` reads it (the seconds as an `f64`,
    /// times 1,000, rounded): for a plain number of seconds the two are the same integer ([`plain_millis`]).
    pub arrival_millis: i64,
}

/// The records of a `{"Records": [...]}` event, or `None` when the text is anything else or anything unusual
/// (a repeated `Records`, nesting deeper than the reader goes, a number that may not fit a float, a lone
/// surrogate...): the caller then checks and reads the event the slower way, which decides.
pub fn records(text: &str) -> Option<Vec<RecordText<'_>>> {
    let mut r = Reader::new(text);
    let mut records = None;
    r.members(|r, key| {
        if key != "Records" {
            return r.skip();
        }
        if records.is_some() {
            return None;
        }
        let mut found = Vec::new();
        let mut orders = Orders::default();
        r.items(|r| {
            found.push(record(r, &mut orders)?);
            Some(())
        })?;
        records = Some(found);
        Some(())
    })?;
    if !r.at_end() {
        return None;
    }
    records
}

/// The records of an event written exactly `{"Records": [...]}` (whitespace aside), read a piece of text at a
/// time as [`records`] reads them from the whole text: the same records, the same fields, the same refusals. For
/// a caller that reads a large event from a file in blocks, and so never holds all of it.
///
/// Each [`RecordStream::read`] is given the text not yet consumed (what the previous calls left, and more), and
/// says how much of it is done with; a record is taken only once the `,` or `]` after it is there. `None` leaves
/// the event to [`records`] and its slower path, read whole: the event is shaped otherwise (another top-level
/// member), is not JSON, or has anything [`records`] would not take.
#[derive(Debug, Default)]
pub struct RecordStream {
    orders: Orders,
    at: Place,
}

/// Where a [`RecordStream`] is in the event.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Before `{"Records": [`.
    #[default]
    Start,
    /// After the `[`: a record or the `]`.
    First,
    /// After a record's `,`: a record.
    Record,
    /// After the `]`: the closing `}`.
    Close,
    /// After the `}`: only whitespace to the end.
    Tail,
    /// The whole event read.
    Done,
}

/// Nesting around a record: the event's object and the `Records` array (as [`records`] has it).
const RECORD_DEPTH: usize = 2;

impl RecordStream {
    /// Reads records from `text` (the event's text from where the consumed bytes end) into `out`, at most
    /// `most` (at least one) and stopping where the text stops; `at_end`: nothing follows `text`. The bytes
    /// consumed, which the records in `out` lie within; `None` when the event must be read whole (see above),
    /// which is also the answer when it ends before it is complete.
    pub fn read<'a>(
        &mut self,
        text: &'a str,
        at_end: bool,
        most: usize,
        out: &mut Vec<RecordText<'a>>,
    ) -> Option<usize> {
        let mut r = Reader::within(text, RECORD_DEPTH);
        let mut consumed = 0;
        // The text stopped before what comes next was whole: more is needed, unless there is none.
        let more = |consumed: usize| (!at_end).then_some(consumed);
        loop {
            match self.at {
                Place::Start => {
                    let opened = r.expect(b'{').is_some()
                        && r.peek() == Some(b'"')
                        && r.key_is(b"Records")
                        && r.expect(b'[').is_some();
                    if !opened {
                        // Too little text to tell is read again with more; anything else is shaped otherwise.
                        return (text.len() < 256).then_some(0).and_then(more);
                    }
                    self.at = Place::First;
                }
                Place::First => match r.peek() {
                    None => return more(consumed),
                    Some(b']') => {
                        r.pos += 1;
                        self.at = Place::Close;
                    }
                    Some(_) => self.at = Place::Record,
                },
                Place::Record => {
                    if out.len() >= most.max(1) {
                        return Some(consumed);
                    }
                    let Some(found) = record(&mut r, &mut self.orders) else {
                        return more(consumed);
                    };
                    match r.peek() {
                        None => return more(consumed),
                        Some(b',') => r.pos += 1,
                        Some(b']') => {
                            r.pos += 1;
                            self.at = Place::Close;
                        }
                        Some(_) => return None,
                    }
                    out.push(found);
                }
                Place::Close => match r.peek() {
                    None => return more(consumed),
                    Some(b'}') => {
                        r.pos += 1;
                        self.at = Place::Tail;
                    }
                    Some(_) => return None,
                },
                Place::Tail => {
                    if r.peek().is_some() {
                        return None;
                    }
                    if at_end {
                        self.at = Place::Done;
                    }
                    return Some(r.pos);
                }
                Place::Done => return Some(r.pos),
            }
            consumed = r.pos;
        }
    }

    /// Whether the whole event has been read.
    pub fn done(&self) -> bool {
        self.at == Place::Done
    }
}

/// The fields `KinesisEventRecord` reads; the match arms below name them by position. Strings or null (0–6), and
/// the `kinesis` object (7).
const RECORD_FIELDS: [&str; 8] = [
    "awsRegion",
    "eventID",
    "eventName",
    "eventSource",
    "eventSourceARN",
    "eventVersion",
    "invokeIdentityArn",
    "kinesis",
];

/// The fields its `KinesisRecord` reads: a number (0), strings (1–5), and null for the optional one (5).
const KINESIS_FIELDS: [&str; 6] = [
    "approximateArrivalTimestamp",
    "data",
    "encryptionType",
    "partitionKey",
    "sequenceNumber",
    "kinesisSchemaVersion",
];

/// The order of the keys in the previous record and in its `kinesis` object.
#[derive(Debug, Default)]
struct Orders {
    record: KeyOrder,
    kinesis: KeyOrder,
}

/// The keys of the previous object of one kind, in order, as their places in its field list ([`IGNORED`] for a
/// key the type ignores). The records of a stream write their fields in one order, so a key is first compared
/// with the one at its position in the previous object: a key written there as the field's name (no escapes) is
/// that field, with no unescaping and no search of the list. Any other key is read and looked up as usual.
#[derive(Debug, Default)]
struct KeyOrder(Vec<u8>);

const IGNORED: u8 = u8::MAX;

impl KeyOrder {
    /// At the opening quote of the key at position `at` of its object: which of `fields` it is (`None`: one the
    /// type ignores), the reader past its colon; marked in `seen`, and a field met twice (which the type refuses)
    /// makes the record unusual. The outer `None`: the key is not well formed.
    fn key(
        &mut self,
        r: &mut Reader<'_>,
        fields: &[&str],
        at: usize,
        seen: &mut u8,
        usual: &mut bool,
    ) -> Option<Option<u8>> {
        let expected = self.0.get(at).and_then(|&i| fields.get(usize::from(i)));
        let bit = match expected {
            Some(name) if r.key_is(name.as_bytes()) => self.0[at],
            _ => {
                let key = r.key()?;
                let bit = fields
                    .iter()
                    .position(|f| *f == key)
                    .and_then(|i| u8::try_from(i).ok())
                    .unwrap_or(IGNORED);
                // Positions are learned in order, up to 16 (the lists name at most 8 fields).
                if at < self.0.len() {
                    self.0[at] = bit;
                } else if at == self.0.len() && at < 16 {
                    self.0.push(bit);
                }
                bit
            }
        };
        if bit == IGNORED {
            return Some(None);
        }
        *usual &= *seen & (1 << bit) == 0;
        *seen |= 1 << bit;
        Some(Some(bit))
    }
}

/// One record at the reader, stepped over.
fn record<'a>(r: &mut Reader<'a>, orders: &mut Orders) -> Option<RecordText<'a>> {
    let first = r.peek()?;
    let start = r.pos;
    if first != b'{' {
        r.skip()?;
        return Some(RecordText {
            text: r.since(start),
            kinesis: None,
        });
    }
    let (mut seen, mut usual) = (0_u8, true);
    let (mut event_id, mut kinesis) = (None, None);
    let mut at = 0;
    r.fields(|r| {
        at += 1;
        let known = orders
            .record
            .key(r, &RECORD_FIELDS, at - 1, &mut seen, &mut usual)?;
        let Some(bit) = known else {
            return r.skip();
        };
        match (bit, r.peek()?) {
            (7, b'{') => kinesis = kinesis_fields(r, &mut orders.kinesis)?,
            (0..=6, b'"') => {
                let text = r.string()?;
                if bit == 1 {
                    event_id = Some(text);
                }
            }
            (0..=6, b'n') => r.skip()?,
            _ => {
                usual = false;
                r.skip()?;
            }
        }
        Some(())
    })?;
    Some(RecordText {
        text: r.since(start),
        kinesis: kinesis
            .filter(|_| usual)
            .map(|k| KinesisFields { event_id, ..k }),
    })
}

/// A record's `kinesis` object at the reader, stepped over: its fields when they are usual (`Some(None)` when
/// not; `None` when the object is not well formed).
fn kinesis_fields<'a>(
    r: &mut Reader<'a>,
    order: &mut KeyOrder,
) -> Option<Option<KinesisFields<'a>>> {
    let (mut seen, mut usual) = (0_u8, true);
    let (mut arrival, mut data, mut partition_key, mut sequence_number) = (None, None, None, None);
    let mut at = 0;
    r.fields(|r| {
        at += 1;
        let known = order.key(r, &KINESIS_FIELDS, at - 1, &mut seen, &mut usual)?;
        let Some(bit) = known else {
            return r.skip();
        };
        match (bit, r.peek()?) {
            (0, b'0'..=b'9') => {
                // As `skip` reads a number: one that may not fit a float is refused. A plain number of seconds
                // surely fits.
                let written = r.number_text()?;
                match plain_millis(written) {
                    Some(millis) => arrival = Some(millis),
                    None if surely_finite(written) => usual = false,
                    None => return None,
                }
            }
            (1..=5, b'"') => {
                let text = r.string()?;
                match bit {
                    1 => data = Some(text),
                    2 => usual &= text == "NONE" || text == "KMS",
                    3 => partition_key = Some(text),
                    4 => sequence_number = Some(text),
                    _ => {}
                }
            }
            (5, b'n') => r.skip()?,
            _ => {
                usual = false;
                r.skip()?;
            }
        }
        Some(())
    })?;
    Some(match (usual, arrival, data) {
        (true, Some(arrival_millis), Some(data)) => Some(KinesisFields {
            event_id: None,
            sequence_number: sequence_number.unwrap_or_default(),
            partition_key: partition_key.unwrap_or_default(),
            data,
            arrival_millis,
        }),
        _ => None,
    })
}

/// `1795255200`, `1795255200.25` (up to ten digits, and up to three after a point) in milliseconds; `None` for
/// any other text. The same integer as the seconds read as an `f64`, times 1,000 and rounded: below 10^10 s the
/// float is off by at most 2^-53 of it (1.2e-6 s), and the product by at most another half of its last place
/// (0.001 ms), far from the half a millisecond that would change the rounding. A test compares the two.
pub(crate) fn plain_millis(text: &str) -> Option<i64> {
    // Ten digits, a point and three: anything longer is not plain (and would not fit the integer).
    if text.len() > 14 {
        return None;
    }
    // One pass: the digits as one integer, and where the point is.
    let (mut value, mut point) = (0_i64, None);
    for (i, &c) in text.as_bytes().iter().enumerate() {
        match c {
            b'0'..=b'9' => value = value * 10 + i64::from(c - b'0'),
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    let (whole, places) = match point {
        Some(at) => (at, text.len() - at - 1),
        None => (text.len(), 0),
    };
    let scale = match (whole, places) {
        (1..=10, 0) => 1000,
        (1..=10, 1) => 100,
        (1..=10, 2) => 10,
        (1..=10, 3) => 1,
        _ => return None,
    };
    // `1.` has a point and no decimals: refused, as `1.` is no JSON number.
    (point.is_none() || places > 0).then_some(value * scale)
}

#[cfg(test)]
mod tests {
    use super::plain_millis;

    /// What `KinesisEventRecord`'s reading gives (batch.rs: the seconds as an `f64`, times 1,000, rounded).
    fn through_float(text: &str) -> i64 {
        (text.parse::<f64>().expect("a number") * 1000.0).round() as i64
    }

    #[test]
    fn plain_seconds_give_the_milliseconds_a_float_gives() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut texts: Vec<String> = [
            "0",
            "0.0",
            "0.001",
            "0.999",
            "1795255200",
            "1795255200.25",
            "1795255200.5",
            "1795255200.125",
            "9999999999.999",
            "9999999999.995",
            "0000000001.1",
            "1.05",
            "1.005",
        ]
        .map(str::to_owned)
        .to_vec();
        for _ in 0..100_000 {
            let whole = rng.u64(..10_000_000_000).to_string();
            texts.push(match rng.usize(..4) {
                0 => whole,
                places => format!("{whole}.{:0places$}", rng.u32(..10_u32.pow(places as u32))),
            });
        }
        for text in &texts {
            assert_eq!(plain_millis(text), Some(through_float(text)), "{text}");
        }
        for odd in [
            "",
            ".",
            "1.",
            ".5",
            "1.2345",
            "12345678901",
            "1e3",
            "-1",
            "1.2.3",
            "+1",
            " 1",
            "١",
        ] {
            assert_eq!(plain_millis(odd), None, "{odd:?}");
        }
    }
}
