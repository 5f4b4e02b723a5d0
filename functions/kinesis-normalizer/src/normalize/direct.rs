//! The usual payload normalized in one pass: read and written out cleaned as it is read, with no tree built.
//! Whatever would need a decision (a key that shares its snake_case name with another, which includes a
//! repeated key; a nested value under a name the metadata takes; an object wider than [`WIDEST`] keys; anything
//! the reader does not accept) sends the payload to the tree ([`super::normalize_tree`]), which decides; so this
//! path only ever gives the events that one would. A differential test holds the two to the same results.

use super::{
    ID_KEYS, METADATA, Names, RecordMeta, TIME_KEYS, TYPE_KEYS, Top, clean_scalar, finish,
    is_snake, snake_case, trim, write_str,
};
use crate::json::Reader;
use std::borrow::Cow;

/// Objects wider than this go to the tree, which finds shared names by sorting; up to this width the names
/// written so far are compared pair by pair.
const WIDEST: usize = 64;

/// The event of `payload`, or `None` when the tree must decide (see the module's note).
pub(super) fn normalize(
    payload: &[u8],
    meta: &RecordMeta,
    ingested: &str,
    names: &mut Names,
) -> Option<super::Event> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut r = Reader::new(text);
    if r.peek()? != b'{' {
        return None;
    }
    let mut json = Vec::with_capacity(super::event_capacity(payload, meta, ingested));
    json.push(b'{');
    let mut siblings = std::mem::take(&mut names.siblings);
    // The top-level scalars the metadata is read from or takes, in payload order.
    let mut top: Vec<(Cow<str>, Top)> = Vec::with_capacity(8);
    let first = siblings.open();
    let read = r.members(|r, key| {
        let name = siblings.name(first, &key, matches!(key, Cow::Borrowed(_)), names)?;
        // Written names are quoted.
        let unquoted = name
            .get(1..name.len().saturating_sub(1))
            .unwrap_or_default();
        let read = top_read().find(|n| unquoted == n.as_bytes());
        match (read, r.peek()?) {
            (None, _) => {}
            (Some(n), b'{' | b'[') if METADATA.contains(n) => return None,
            (Some(_), b'{' | b'[') => {}
            (Some(n), _) => {
                let value = clean_scalar(r.value()?);
                if !METADATA.contains(n) {
                    comma(&mut json);
                    json.extend_from_slice(siblings.last());
                    json.push(b':');
                    value.write(&mut json);
                }
                top.push((Cow::Borrowed(*n), Top::Tree(value)));
                return Some(());
            }
        }
        comma(&mut json);
        json.extend_from_slice(siblings.last());
        json.push(b':');
        write_value(r, names, &mut siblings, &mut json)
    });
    // Kept for the next record, empty (a refused payload may leave names of objects it did not finish).
    siblings.clear();
    names.siblings = siblings;
    read?;
    if !r.at_end() {
        return None;
    }
    Some(finish(json, &top, &[], meta, ingested, Vec::new()))
}

/// The top-level names the metadata is read from (`event_id`, `id`, ...) or takes ([`METADATA`]). None needs
/// escaping, so a name written with an escape is none of them.
fn top_read() -> impl Iterator<Item = &'static &'static str> {
    ID_KEYS
        .iter()
        .chain(&TYPE_KEYS)
        .chain(&TIME_KEYS)
        .chain(&METADATA)
}

/// A `,` unless the object being written has no member yet.
fn comma(out: &mut Vec<u8>) {
    if !matches!(out.last(), Some(b'{' | b'[')) {
        out.push(b',');
    }
}

/// Reads one value and writes it cleaned: snake_case keys and trimmed strings, all the way down.
fn write_value(
    r: &mut Reader<'_>,
    names: &mut Names,
    siblings: &mut Siblings,
    out: &mut Vec<u8>,
) -> Option<()> {
    match r.peek()? {
        b'{' => {
            out.push(b'{');
            let first = siblings.open();
            r.members(|r, key| {
                siblings.name(first, &key, matches!(key, Cow::Borrowed(_)), names)?;
                comma(out);
                out.extend_from_slice(siblings.last());
                out.push(b':');
                write_value(r, names, siblings, out)
            })?;
            siblings.close(first);
            out.push(b'}');
        }
        b'[' => {
            out.push(b'[');
            r.items(|r| {
                comma(out);
                write_value(r, names, siblings, out)
            })?;
            out.push(b']');
        }
        b'"' => match r.string()? {
            // The reader borrows only a string with no escapes and no control characters: nothing to escape.
            Cow::Borrowed(s) => {
                let s = trim(s);
                out.reserve(s.len() + 2);
                out.push(b'"');
                out.extend_from_slice(s.as_bytes());
                out.push(b'"');
            }
            Cow::Owned(s) => write_str(trim(&s), out),
        },
        _ => r.value()?.write(out),
    }
    Some(())
}

/// The names of the members written so far in each object being written, as written (quoted and escaped, so
/// two are the same name exactly when their text is): one buffer for all the open objects, innermost last.
#[derive(Debug, Default)]
pub(super) struct Siblings {
    text: Vec<u8>,
    /// Where each name starts in `text`; a name ends where the next starts (the last, at the end of `text`).
    starts: Vec<usize>,
}

impl Siblings {
    /// Opens an object; the value returned is what [`Siblings::name`] and [`Siblings::close`] take.
    fn open(&self) -> usize {
        self.starts.len()
    }

    fn clear(&mut self) {
        self.text.clear();
        self.starts.clear();
    }

    fn close(&mut self, first: usize) {
        if let Some(&start) = self.starts.get(first) {
            self.text.truncate(start);
        }
        self.starts.truncate(first);
    }

    /// Writes `key`'s snake_case name as the next member's of the object opened at `first`, and returns it;
    /// `None` when an earlier member of the object has that name too, or the object is too wide to compare.
    /// `plain`: the reader borrowed the key from the payload (see [`Names::write`]).
    fn name(&mut self, first: usize, key: &str, plain: bool, names: &mut Names) -> Option<&[u8]> {
        let start = self.text.len();
        if self.starts.len() - first >= WIDEST {
            return None;
        }
        names.write(key, plain, &mut self.text);
        let (earlier, name) = self.text.split_at(start);
        let mut from = start;
        for &s in self.starts[first..].iter().rev() {
            let other = &earlier[s..from];
            // Past the quote, the first byte tells most names apart.
            if other.len() == name.len() && other.get(1) == name.get(1) && other == name {
                return None;
            }
            from = s;
        }
        self.starts.push(start);
        Some(&self.text[start..])
    }

    /// The name [`Siblings::name`] wrote last.
    fn last(&self) -> &[u8] {
        &self.text[self.starts.last().copied().unwrap_or(0)..]
    }
}

impl Names {
    /// Writes `key`'s snake_case name (quoted and escaped), learning it if it is new. `plain`: the key's text in
    /// the payload had no escapes (so it holds no quote, backslash or control character).
    fn write(&mut self, key: &str, plain: bool, out: &mut Vec<u8>) {
        if is_snake(key) {
            if plain {
                out.push(b'"');
                out.extend_from_slice(key.as_bytes());
                out.push(b'"');
            } else {
                write_str(key, out);
            }
            return;
        }
        if let Some(name) = self.written.get(key) {
            return out.extend_from_slice(name.as_bytes());
        }
        let name = snake_case(key);
        write_str(&name, out);
        if self.has_room(key) {
            self.keep(key, &name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{normalize_at, normalize_tree};
    use super::*;
    use chrono::{TimeZone, Utc};

    const KEYS: &[&str] = &[
        "customerId",
        "customer_id",
        "CustomerID",
        "id",
        "Id",
        "type",
        "eventType",
        "event_type",
        "event_time",
        "eventTime",
        "timestamp",
        "ts",
        "created_at",
        "createdAt",
        "_kinesis",
        "_original",
        "ingested_at",
        "event_time_source",
        "zip-code",
        "zip code",
        " padded ",
        "HTTPStatus",
        "a.b",
        "Größe",
        "größe",
        "",
        "x",
        "a\"b",
        "tab\tkey",
        "back\\slash",
        "événement",
        "AVeryLongKeyNameThatGoesOnAndOnPastTheSixtyFourBytesTheNamesMapKeeps",
    ];

    const SCALARS: &[&str] = &[
        "0",
        "-0",
        "7",
        "19.990",
        "1e5",
        "1.5E+3",
        "123456789012345678901234567890",
        "1795260266",
        "1795260266123",
        "-5",
        "true",
        "false",
        "null",
        "\"\"",
        "\"   \"",
        "\"  s-bd9cad3c2d6d \"",
        "\"Page View\"",
        "\"2026-11-21T10:03:24.759Z\"",
        "\" 2026-11-21T10:03:24+02:00 \"",
        "\"1795260266\"",
        "\"not a time\"",
        "\"line\\nbreak \"",
        "\"quote \\\" and \\\\ \"",
        "\"\\u00e9t\\u00e9\"",
        "\"\\ud83d\\ude00 \"",
        "\"7\"",
        "\"evt-1\"",
        "\"unknown\"",
    ];

    /// A key as a payload would write it: sometimes with an escape where none is needed.
    fn write_key(rng: &mut fastrand::Rng, key: &str, out: &mut String) {
        if rng.u8(..10) == 0 && key.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let mut chars = key.chars();
            let first = chars.next().unwrap_or('a');
            out.push_str(&format!("\"\\u{:04x}", first as u32));
            let rest: String = chars.collect();
            out.push_str(&serde_json::to_string(&rest).unwrap_or_default()[1..]);
        } else {
            out.push_str(&serde_json::to_string(key).unwrap_or_default());
        }
    }

    fn space(rng: &mut fastrand::Rng, out: &mut String) {
        if rng.u8(..6) == 0 {
            out.push_str([" ", "\n", "\t ", "\r\n"][rng.usize(..4)]);
        }
    }

    fn value(rng: &mut fastrand::Rng, depth: usize, out: &mut String) {
        match rng.u8(..10) {
            0 | 1 if depth < 4 => object(rng, depth + 1, out),
            2 if depth < 4 => {
                out.push('[');
                for i in 0..rng.usize(..4) {
                    if i > 0 {
                        out.push(',');
                    }
                    space(rng, out);
                    value(rng, depth + 1, out);
                }
                out.push(']');
            }
            _ => out.push_str(SCALARS[rng.usize(..SCALARS.len())]),
        }
    }

    fn object(rng: &mut fastrand::Rng, depth: usize, out: &mut String) {
        out.push('{');
        // Mostly distinct keys, so that most payloads take the one pass; now and then a shared name.
        let mut keys: Vec<&str> = Vec::new();
        for _ in 0..rng.usize(..8) {
            let key = KEYS[rng.usize(..KEYS.len())];
            if keys.contains(&key) && rng.u8(..8) != 0 {
                continue;
            }
            keys.push(key);
        }
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            space(rng, out);
            write_key(rng, key, out);
            space(rng, out);
            out.push(':');
            space(rng, out);
            value(rng, depth, out);
        }
        out.push('}');
    }

    /// A payload: usually an object, sometimes damaged, cut short or wider than the pairwise comparison.
    fn payload(rng: &mut fastrand::Rng) -> Vec<u8> {
        let mut text = String::new();
        match rng.u8(..40) {
            0 => value(rng, 1, &mut text),
            1 => {
                text.push('{');
                for i in 0..WIDEST + rng.usize(..3) {
                    text.push_str(&format!("{}\"k{i}\":{i}", if i > 0 { "," } else { "" }));
                }
                text.push('}');
            }
            _ => object(rng, 0, &mut text),
        }
        let mut bytes = text.into_bytes();
        if rng.u8(..8) == 0 && !bytes.is_empty() {
            let at = rng.usize(..bytes.len());
            match rng.u8(..3) {
                0 => bytes.truncate(at),
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b"{}[]\",:\\ x\x01\xff"[rng.usize(..12)]),
            }
        }
        bytes
    }

    fn meta() -> RecordMeta {
        RecordMeta {
            shard_id: "shardId-000000000001".into(),
            sequence_number: "4959033827149025660855969253836157109".into(),
            partition_key: "customer-42".into(),
            arrival: Utc
                .with_ymd_and_hms(2026, 11, 21, 9, 59, 59)
                .single()
                .expect("time"),
        }
    }

    #[test]
    fn the_one_pass_gives_what_the_tree_gives() {
        let mut rng = fastrand::Rng::with_seed(7);
        let meta = meta();
        let ingested = "2026-11-21T10:00:05.000Z";
        // Names kept across records, as a batch keeps them, on both sides.
        let (mut both, mut tree_names) = (Names::default(), Names::default());
        let (mut direct_count, mut tree_count) = (0, 0);
        for _ in 0..20_000 {
            let payload = payload(&mut rng);
            let tree = normalize_tree(&payload, &meta, ingested, &mut tree_names);
            if let Some(event) = normalize(&payload, &meta, ingested, &mut Names::default()) {
                direct_count += 1;
                assert_eq!(
                    Ok(&event),
                    tree.as_ref(),
                    "{}",
                    String::from_utf8_lossy(&payload)
                );
            } else {
                tree_count += 1;
            }
            let at = normalize_at(&payload, &meta, ingested, 1 << 20, &mut both);
            assert_eq!(at, tree, "{}", String::from_utf8_lossy(&payload));
        }
        // Both paths are taken often, so both are compared.
        assert!(direct_count > 8_000, "{direct_count} by the one pass");
        assert!(tree_count > 3_000, "{tree_count} by the tree");
    }
}
