//! A Lambda event's `Records`, found in one pass over the event's text and checked on the way as strictly as
//! serde_json checks a `Value` it builds. The caller reads each record typed from its own text; this pass only
//! says where the records are (and where a Kinesis record's `approximateArrivalTimestamp` is), so the event's
//! text is not scanned once to check it, again to find the records and again for each record's arrival time.

use super::reader::Reader;

/// One record of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordText<'a> {
    /// The record's JSON text, as `serde_json`'s `RawValue` would give it.
    pub text: &'a str,
    /// The text of `kinesis.approximateArrivalTimestamp`: `Some(None)` when the record's `kinesis` object has
    /// none; `None` when the record has no `kinesis` object, so the caller reads it its own way.
    pub arrival: Option<Option<&'a str>>,
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
        r.items(|r| {
            found.push(record(r)?);
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

/// One record at the reader, stepped over.
fn record<'a>(r: &mut Reader<'a>) -> Option<RecordText<'a>> {
    let first = r.peek()?;
    let start = r.pos;
    if first != b'{' {
        r.skip()?;
        return Some(RecordText {
            text: r.since(start),
            arrival: None,
        });
    }
    // A repeated `kinesis` or `approximateArrivalTimestamp` makes the typed read refuse the record (serde refuses
    // repeated fields), so which of them is found here does not matter.
    let mut arrival = None;
    r.members(|r, key| {
        if key != "kinesis" {
            return r.skip();
        }
        if r.peek()? != b'{' {
            arrival = None;
            return r.skip();
        }
        let mut found = None;
        r.members(|r, key| {
            if key != "approximateArrivalTimestamp" {
                return r.skip();
            }
            r.peek()?;
            let at = r.pos;
            r.skip()?;
            found = Some(r.since(at));
            Some(())
        })?;
        arrival = Some(found);
        Some(())
    })?;
    Some(RecordText {
        text: r.since(start),
        arrival,
    })
}
