//! The usual payload normalized in one pass: read and written out cleaned as it is read, with no tree built.
//! Whatever would need a decision (a key that shares its snake_case name with another, which includes a
//! repeated key; a nested value under a name the metadata takes; an object wider than [`WIDEST`] keys; anything
//! the reader does not accept) sends the payload to the tree ([`super::normalize_tree`]), which decides; so this
//! path only ever gives the events that one would. A differential test holds the two to the same results.

use super::{
    ID_KEYS, MAX_NAME_BYTES, METADATA, Names, RecordMeta, TIME_KEYS, TYPE_KEYS, Top, clean_scalar,
    finish, is_snake, snake_case, trim, write_str,
};
use crate::json::Reader;
use smallvec::SmallVec;
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
    let text = simdutf8::basic::from_utf8(payload).ok()?;
    let mut r = Reader::new(text);
    if r.peek()? != b'{' {
        return None;
    }
    let mut json = names.event_buffer(super::event_capacity(payload, meta, ingested));
    json.push(b'{');
    let mut siblings = std::mem::take(&mut names.siblings);
    let mut shapes = std::mem::take(&mut names.shapes);
    // The top-level scalars the metadata is read from or takes, in payload order: on the stack, as a usual
    // payload has a few (the names are distinct, so at most one per name `top_read` gives).
    let mut top: SmallVec<[(Cow<str>, Top); 8]> = SmallVec::new();
    let first = siblings.open();
    let mut at = Cursor::new(Some(shapes.top()));
    let read = r.fields(|r| {
        let (name, child) = key(r, first, &mut at, &mut shapes, &mut siblings, names)?;
        // Written names are quoted.
        let unquoted = name
            .get(1..name.len().saturating_sub(1))
            .unwrap_or_default();
        let read = first_letter_read(unquoted)
            .then(|| top_read().find(|n| unquoted == n.as_bytes()))
            .flatten();
        match (read, r.peek()?) {
            (None, _) => {}
            (Some(n), b'{' | b'[') if METADATA.contains(n) => return None,
            (Some(_), b'{' | b'[') => {}
            (Some(n), _) => {
                let value = clean_scalar(r.value()?);
                if !METADATA.contains(n) {
                    comma(&mut json);
                    json.extend_from_slice(name);
                    json.push(b':');
                    value.write(&mut json);
                }
                top.push((Cow::Borrowed(*n), Top::Tree(value)));
                return Some(());
            }
        }
        comma(&mut json);
        json.extend_from_slice(name);
        json.push(b':');
        write_value(r, child, names, &mut shapes, &mut siblings, &mut json)
    });
    // Kept for the next record, empty (a refused payload may leave names of objects it did not finish).
    siblings.clear();
    names.siblings = siblings;
    names.shapes = shapes;
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

/// Whether `name` starts as one of [`top_read`]'s names does (a test holds the two together): most names do not,
/// and need not be compared with each.
fn first_letter_read(name: &[u8]) -> bool {
    matches!(name.first(), Some(b'e' | b'i' | b't' | b'c' | b'_'))
}

/// A `,` unless the object being written has no member yet.
fn comma(out: &mut Vec<u8>) {
    if !matches!(out.last(), Some(b'{' | b'[')) {
        out.push(b',');
    }
}

/// Reads one value and writes it cleaned: snake_case keys and trimmed strings, all the way down.
/// `shape`: the shape of the objects in the value (see [`Shapes`]).
fn write_value(
    r: &mut Reader<'_>,
    shape: Option<usize>,
    names: &mut Names,
    shapes: &mut Shapes,
    siblings: &mut Siblings,
    out: &mut Vec<u8>,
) -> Option<()> {
    match r.peek()? {
        b'{' => {
            out.push(b'{');
            let first = siblings.open();
            let mut at = Cursor::new(shape);
            r.fields(|r| {
                let (name, child) = key(r, first, &mut at, shapes, siblings, names)?;
                comma(out);
                out.extend_from_slice(name);
                out.push(b':');
                write_value(r, child, names, shapes, siblings, out)
            })?;
            siblings.close(first);
            out.push(b'}');
        }
        b'[' => {
            out.push(b'[');
            r.items(|r| {
                comma(out);
                write_value(r, shape, names, shapes, siblings, out)
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
        // A number or a literal as written, with no value built.
        b'-' | b'0'..=b'9' => out.extend_from_slice(r.number_text()?.as_bytes()),
        b't' | b'f' | b'n' => out.extend_from_slice(r.literal_text()?),
        _ => r.value()?.write(out),
    }
    Some(())
}

/// Reads the key at the reader (its opening quote) and its colon, and gives the name it is written under as
/// the next member of the object opened at `first` (whose cursor is `at`), with the shape of the objects in the
/// member's value. `None` when an earlier member of the object has that name too, or the object is too wide to
/// compare. A key the object's shape has at the cursor takes the shape's name, which needs no comparing (see
/// [`Shapes`]); nor is it copied: the object's members read along its shape are the shape's first members,
/// and only those after it leaves its shape are kept in `siblings`.
fn key<'s>(
    r: &mut Reader<'_>,
    first: usize,
    at: &mut Cursor,
    shapes: &'s mut Shapes,
    siblings: &'s mut Siblings,
    names: &mut Names,
) -> Option<(&'s [u8], Option<usize>)> {
    if shapes.same(at, r) {
        return Some(shapes.taken(at));
    }
    let key = r.key()?;
    let plain = matches!(key, Cow::Borrowed(_));
    let name = siblings.name(first, &key, plain, names, shapes.along(at))?;
    let nested = matches!(r.peek(), Some(b'{' | b'['));
    if shapes.learn(at, plain.then_some(key.as_bytes()), name, nested) {
        // The shape holds the name now, at the member the cursor just passed.
        siblings.drop_last();
        return Some(shapes.taken(at));
    }
    Some((siblings.last(), None))
}

/// The shapes of the objects read so far: for each, its members' keys in order (as the payload wrote them, with
/// no escapes) with the names they were written under, and the shape of the objects in each member's value.
/// Payloads of one stream mostly share their shapes, so each object is read along its shape: a key written as
/// the shape has it at that place takes the recorded name, with no lookup and no comparison with its
/// siblings'. A key written otherwise, or past the shape's members, is looked up and compared with its
/// siblings as usual, and then takes that place in the shape (a key with escapes, or longer than
/// [`MAX_NAME_BYTES`], makes its object leave its shape instead).
///
/// Why the recorded names need no comparing: a shape's names are distinct (a name is recorded only once it is
/// found to differ from the names before it in the payload, which are the shape's names before it; and a
/// later member with the same name leaves the shape, with those after it). An object read along its shape has,
/// before each member, only the shape's members before it, so a name taken from the shape differs from theirs.
#[derive(Debug, Default)]
pub(super) struct Shapes {
    shapes: Vec<Shape>,
    #[cfg(test)]
    same_keys: usize,
}

#[derive(Debug, Default)]
struct Shape {
    members: Vec<Member>,
    /// Each member's key followed by its name; a replaced member's text stays until [`MAX_SHAPE_TEXT`].
    text: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    start: usize,
    key_len: usize,
    name_len: usize,
    /// The shape of the objects in the member's value.
    child: Option<usize>,
}

/// Where an object being read is in its shape.
#[derive(Debug)]
struct Cursor {
    /// `None`: the object has no shape (too many shapes).
    shape: Option<usize>,
    /// Its members so far are the shape's first `at`: the object is read along its shape until it leaves it (at
    /// a key with escapes, or too long), and `at` stays where it left.
    at: usize,
    along: bool,
}

impl Cursor {
    /// The object's shape while it is read along it.
    fn along(&self) -> Option<usize> {
        self.shape.filter(|_| self.along)
    }

    fn new(shape: Option<usize>) -> Self {
        Cursor {
            shape,
            at: 0,
            along: shape.is_some(),
        }
    }
}

/// The most shapes kept: objects past them are read without one (as are objects under members a shape dropped,
/// whose shapes stay counted). A shape holds at most [`WIDEST`] members of keys up to [`MAX_NAME_BYTES`], so
/// with [`MAX_SHAPE_TEXT`] the shapes stay under 5 MB however odd a batch's payloads are.
const MAX_SHAPES: usize = 128;

/// The most text a shape keeps before its replaced members' text is dropped.
const MAX_SHAPE_TEXT: usize = 16 * 1024;

/// Zero bytes after a shape's members' text, so that every key has 32 bytes from its start to compare at once.
const PADDING: usize = 32;

impl Shapes {
    /// The payloads' top-level object's shape.
    fn top(&mut self) -> usize {
        if self.shapes.is_empty() {
            self.shapes.push(Shape::default());
        }
        0
    }

    /// At a key's opening quote: whether the object's shape has this key at the cursor. If so the reader steps
    /// past it and its colon, and the cursor moves on ([`Shapes::taken`] gives the member); a member first seen
    /// with a scalar gets a shape when its value is an object or an array.
    fn same(&mut self, at: &mut Cursor, r: &mut Reader<'_>) -> bool {
        let Some(index) = at.along() else {
            return false;
        };
        let shape = &self.shapes[index];
        let Some(&member) = shape.members.get(at.at) else {
            return false;
        };
        // The shape's text ends in padding, so that a key has 32 bytes from its start.
        let same = match shape.text.get(member.start..member.start + PADDING) {
            Some(block) if member.key_len < PADDING => r.key_is_in(block, member.key_len),
            _ => r.key_is(&shape.text[member.start..member.start + member.key_len]),
        };
        if !same {
            return false;
        }
        if member.child.is_none() && matches!(r.peek(), Some(b'{' | b'[')) {
            let child = self.new_shape();
            self.shapes[index].members[at.at].child = child;
        }
        at.at += 1;
        #[cfg(test)]
        {
            self.same_keys += 1;
        }
        true
    }

    /// The name of the member the cursor passed last, read along its shape, and the shape of its value's objects.
    fn taken(&self, at: &Cursor) -> (&[u8], Option<usize>) {
        let shape = &self.shapes[at.shape.unwrap_or_default()];
        let member = &shape.members[at.at - 1];
        (shape.name(member), member.child)
    }

    /// The names of the object's members read along its shape (the shape's first members), in order.
    fn along<'a>(&'a self, at: &Cursor) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        static NONE: Shape = Shape {
            members: Vec::new(),
            text: Vec::new(),
        };
        let shape = at.shape.and_then(|i| self.shapes.get(i)).unwrap_or(&NONE);
        let members = &shape.members[..at.at.min(shape.members.len())];
        members.iter().map(move |m| shape.name(m))
    }

    fn new_shape(&mut self) -> Option<usize> {
        (self.shapes.len() < MAX_SHAPES).then(|| {
            self.shapes.push(Shape::default());
            self.shapes.len() - 1
        })
    }

    /// A key the shape did not have at the cursor, and the name it was written under, found distinct from its
    /// earlier siblings': the shape takes it there when it has no escapes and is not too long, with a shape for
    /// its value's objects when `nested` says it is an object or an array, and the cursor moves past it (`true`);
    /// else the object leaves its shape, and the member and those after it have none (`false`).
    fn learn(&mut self, at: &mut Cursor, key: Option<&[u8]>, name: &[u8], nested: bool) -> bool {
        let Some(index) = at.along() else {
            return false;
        };
        let Some(key) = key.filter(|k| k.len() <= MAX_NAME_BYTES) else {
            at.along = false;
            return false;
        };
        let replaced = self.shapes[index].members.get(at.at).and_then(|m| m.child);
        let child = match replaced {
            Some(child) => Some(child),
            None if nested => self.new_shape(),
            None => None,
        };
        self.shapes[index].put(at.at, key, name, child);
        at.at += 1;
        true
    }
}

impl Shape {
    fn name(&self, member: &Member) -> &[u8] {
        let start = member.start + member.key_len;
        &self.text[start..start + member.name_len]
    }

    /// Member `at` (at most one past the last) becomes `key` and `name`. A later member with the same name goes,
    /// with those after it, so that the names stay distinct.
    fn put(&mut self, at: usize, key: &[u8], name: &[u8], child: Option<usize>) {
        if self.text.len() > MAX_SHAPE_TEXT {
            self.compact();
        }
        // Before the padding, which goes after.
        self.text.truncate(self.text.len().saturating_sub(PADDING));
        let start = self.text.len();
        self.text.extend_from_slice(key);
        self.text.extend_from_slice(name);
        self.text.extend_from_slice(&[0; PADDING]);
        let member = Member {
            start,
            key_len: key.len(),
            name_len: name.len(),
            child,
        };
        if at < self.members.len() {
            self.members[at] = member;
            let later = &self.members[at + 1..];
            if let Some(same) = later.iter().position(|m| self.name(m) == name) {
                self.members.truncate(at + 1 + same);
            }
        } else {
            self.members.push(member);
        }
    }

    /// Keeps only the members' text.
    fn compact(&mut self) {
        let mut text = Vec::with_capacity(self.text.len() / 2);
        for member in &mut self.members {
            let end = member.start + member.key_len + member.name_len;
            let start = text.len();
            text.extend_from_slice(&self.text[member.start..end]);
            member.start = start;
        }
        text.extend_from_slice(&[0; PADDING]);
        self.text = text;
    }
}

/// The names of the members written so far in each object being written, as written (quoted and escaped, so
/// two are the same name exactly when their text is), but for those read along the object's shape (which the
/// shape holds): one buffer for all the open objects, innermost last.
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
    /// `along`: the names of the object's members read along its shape, which come before those here.
    /// `plain`: the reader borrowed the key from the payload (see [`Names::write`]).
    fn name<'a>(
        &mut self,
        first: usize,
        key: &str,
        plain: bool,
        names: &mut Names,
        along: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> Option<&[u8]> {
        let start = self.text.len();
        if self.starts.len() - first + along.len() >= WIDEST {
            return None;
        }
        names.write(key, plain, &mut self.text);
        let (earlier, name) = self.text.split_at(start);
        // Past the quote, the first byte tells most names apart.
        let same = |other: &[u8]| {
            other.len() == name.len() && other.get(1) == name.get(1) && other == name
        };
        let mut from = start;
        for &s in self.starts[first..].iter().rev() {
            if same(&earlier[s..from]) {
                return None;
            }
            from = s;
        }
        if along.into_iter().any(same) {
            return None;
        }
        self.starts.push(start);
        Some(&self.text[start..])
    }

    /// Forgets the name written last (its object's shape holds it now).
    fn drop_last(&mut self) {
        if let Some(start) = self.starts.pop() {
            self.text.truncate(start);
        }
    }

    /// The name written last.
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

    #[test]
    fn every_name_the_metadata_reads_passes_the_first_letter_filter() {
        for name in top_read() {
            assert!(first_letter_read(name.as_bytes()), "{name}");
        }
        for name in ["user_agent", "session_id", "order_total", ""] {
            assert!(!first_letter_read(name.as_bytes()), "{name}");
        }
    }

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

    /// The tree's result for `payload` (with `tree_names`), once the one pass (with `names`) is found to give the
    /// same event when it takes the payload; and whether it took it.
    fn against_the_tree(
        payload: &[u8],
        names: &mut Names,
        tree_names: &mut Names,
    ) -> (bool, Result<super::super::Event, super::super::Poison>) {
        let (meta, ingested) = (meta(), "2026-11-21T10:00:05.000Z");
        let tree = normalize_tree(payload, &meta, ingested, tree_names);
        let Some(event) = normalize(payload, &meta, ingested, names) else {
            return (false, tree);
        };
        assert_eq!(
            Ok(&event),
            tree.as_ref(),
            "{}",
            String::from_utf8_lossy(payload)
        );
        (true, tree)
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
            let (taken, tree) = against_the_tree(&payload, &mut Names::default(), &mut tree_names);
            if taken {
                direct_count += 1;
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

    #[test]
    fn a_name_from_a_shape_is_never_one_an_earlier_sibling_has() {
        let (meta, ingested) = (meta(), "2026-11-21T10:00:05.000Z");
        // After the first payload, the second, whose object has one name twice, goes to the tree: the same keys
        // in the same order, but held by the objects differently.
        for (first, second) in [
            (r#"{"a":{"b":1},"b":2}"#, r#"{"a":{"b":1,"b":2}}"#),
            (r#"{"a":1,"b":{"a":2}}"#, r#"{"a":1,"b":2,"a":3}"#),
            (r#"{"a":[{"b":1},{"b":2}]}"#, r#"{"a":[{"b":1,"b":2}]}"#),
            // The same shape, a key written otherwise, whose name is a later member's.
            (r#"{"a":1,"b":2,"c":3}"#, r#"{"a":1,"c":2,"c":3}"#),
            (r#"{"a":1,"b":2,"c":3}"#, r#"{"c":1,"b":2,"c":3}"#),
            (r#"{"x":{"a":1,"b":2}}"#, r#"{"x":{"b":1,"b":2}}"#),
            // A key written with an escape, whose name is the next member's.
            (r#"{"a":1,"b":2}"#, r#"{"a":1,"\u0062":2,"b":3}"#),
            // A name met after the object left its shape (at a key with an escape, or too long), that a member
            // read along the shape has: the shape holds that member's name, not the siblings.
            (r#"{"a":1,"b":2}"#, r#"{"a":1,"\u0063":2,"A":3}"#),
            (
                r#"{"x":{"a":1,"b":2}}"#,
                r#"{"x":{"a":1,"b":2,"\u0063":3,"B":4}}"#,
            ),
            (
                r#"{"a":1,"b":2}"#,
                r#"{"a":1,"b":2,"AKeyLongerThanTheSixtyFourBytesThatAShapeKeepsForTheNamesOfItsMembers":3,"B":4}"#,
            ),
            // ... or a member the object's shape learned from this very object.
            (r#"{"a":1,"b":2}"#, r#"{"a":1,"c":2,"C":3}"#),
        ] {
            let mut names = Names::default();
            assert!(normalize(first.as_bytes(), &meta, ingested, &mut names).is_some());
            assert_eq!(
                normalize(second.as_bytes(), &meta, ingested, &mut names),
                None,
                "{second} after {first}"
            );
            assert_eq!(
                normalize_at(second.as_bytes(), &meta, ingested, 1 << 20, &mut names),
                normalize_tree(second.as_bytes(), &meta, ingested, &mut Names::default())
            );
        }
    }

    #[test]
    fn shapes_stay_bounded_and_right_when_members_keep_changing() {
        let (meta, ingested) = (meta(), "2026-11-21T10:00:05.000Z");
        let mut names = Names::default();
        for i in 0..3_000 {
            let payload = match i % 3 {
                // Members that swap places (each swap leaves a dropped member's shape behind) ...
                0 => r#"{"a":1,"b":{"x":1,"Y":[{"z":1}]}}"#.to_owned(),
                1 => r#"{"b":{"x":1,"Y":[{"z":1}]},"a":1}"#.to_owned(),
                // ... and a first key that is new each time, so that replaced text piles up.
                _ => format!(r#"{{"key{i}":{{"k{i}":1}},"b":2,"KEY{i}":3}}"#),
            };
            assert_eq!(
                normalize_at(payload.as_bytes(), &meta, ingested, 1 << 20, &mut names),
                normalize_tree(payload.as_bytes(), &meta, ingested, &mut Names::default()),
                "{payload}"
            );
        }
        // All the shapes taken, and the replaced text dropped.
        let shapes = &names.shapes.shapes;
        assert_eq!(shapes.len(), MAX_SHAPES);
        assert!(
            shapes
                .iter()
                .all(|s| s.text.len() <= MAX_SHAPE_TEXT + 2 * (MAX_NAME_BYTES + 2))
        );
    }

    #[test]
    fn a_member_first_seen_with_a_scalar_gets_a_shape_for_its_objects() {
        let (meta, ingested) = (meta(), "2026-11-21T10:00:05.000Z");
        let mut names = Names::default();
        normalize(br#"{"ctx":null}"#, &meta, ingested, &mut names).expect("one pass");
        normalize(br#"{"ctx":{"k":1}}"#, &meta, ingested, &mut names).expect("one pass");
        let before = names.shapes.same_keys;
        normalize(br#"{"ctx":{"k":1}}"#, &meta, ingested, &mut names).expect("one pass");
        // Both `ctx` and `k` from their shapes.
        assert_eq!(names.shapes.same_keys - before, 2);
    }

    /// Replaces one of the keys written in `text` with a random one.
    fn replace_a_key(rng: &mut fastrand::Rng, text: &mut String) {
        let b = text.as_bytes();
        // A key's closing quote: the next byte past any whitespace is a colon.
        let ends: Vec<usize> = (0..b.len())
            .filter(|&i| {
                b[i] == b'"' && b[i + 1..].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b':')
            })
            .collect();
        let Some(&end) = ends.get(rng.usize(..ends.len().max(1))) else {
            return;
        };
        // Its opening quote: the first one before it that no backslash escapes.
        let Some(start) = (0..end)
            .rev()
            .find(|&i| b[i] == b'"' && (i == 0 || b[i - 1] != b'\\'))
        else {
            return;
        };
        let key = serde_json::to_string(KEYS[rng.usize(..KEYS.len())]).unwrap_or_default();
        text.replace_range(start..=end, &key);
    }

    #[test]
    fn payloads_that_share_their_shapes_give_what_the_tree_gives() {
        let mut rng = fastrand::Rng::with_seed(11);
        let meta = meta();
        let ingested = "2026-11-21T10:00:05.000Z";
        // A few shapes, as a stream's payloads have; each payload one of them, now and then with a key replaced
        // (which may share its name with a sibling's) or damaged, so that shapes are followed, left and
        // rewritten.
        let shapes: Vec<String> = (0..4)
            .map(|i| {
                // Shapes the one pass takes; the first, the usual one, with no `\u` escape (a key written with
                // one makes its object leave its shape).
                let mut text = String::new();
                while text.len() < 250
                    || (i == 0 && text.contains("\"\\u"))
                    || normalize(text.as_bytes(), &meta, ingested, &mut Names::default()).is_none()
                {
                    text.clear();
                    object(&mut rng, 0, &mut text);
                }
                text
            })
            .collect();
        let (mut names, mut tree_names) = (Names::default(), Names::default());
        let (mut direct_count, mut tree_count) = (0, 0);
        for _ in 0..20_000 {
            // Mostly the first shape, now and then another.
            let shape = if rng.u8(..4) == 0 {
                rng.usize(..shapes.len())
            } else {
                0
            };
            let mut text = shapes[shape].clone();
            for _ in 0..rng.usize(..3) {
                replace_a_key(&mut rng, &mut text);
            }
            let mut payload = text.into_bytes();
            if rng.u8(..10) == 0 {
                let at = rng.usize(..payload.len());
                payload.insert(at, b"{}[]\",:\\ x"[rng.usize(..10)]);
            }
            if against_the_tree(&payload, &mut names, &mut tree_names).0 {
                direct_count += 1;
            } else {
                tree_count += 1;
            }
        }
        assert!(direct_count > 8_000, "{direct_count} by the one pass");
        assert!(tree_count > 2_000, "{tree_count} by the tree");
        // Most keys took their names from the shapes.
        assert!(
            names.shapes.same_keys > 3 * direct_count,
            "{} keys from the shapes",
            names.shapes.same_keys
        );
    }
}
