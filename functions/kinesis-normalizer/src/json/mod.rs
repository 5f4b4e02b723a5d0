//! A JSON tree that keeps what normalization must not change: every number's text exactly as the payload wrote
//! it, and every key of an object in payload order, repeated keys included. A one-pass reader (`reader`) builds
//! the tree; whatever it does not take goes to serde_json, which validates the payload (through `RawValue`, so
//! numbers are never read as floats) and decides. The tree writes itself back out.
//!
//! The tree borrows from the payload: a number, and a string or key with no escapes, is a slice of the payload's
//! text, so reading a payload allocates little more than the tree's own vectors.

mod event;
mod reader;

pub use event::{KinesisFields, RecordStream, RecordText, records};
pub(crate) use reader::Reader;

/// The text of a top-level `key` of a JSON object this crate wrote, read as [`Json::scalar_text`] reads it
/// (`None` for anything but a non-empty string or a number); the other members are stepped over at any depth,
/// with no tree built.
pub fn top_level_text(written: &str, key: &str) -> Option<String> {
    let mut r = reader::Reader::new(written);
    let (mut seen, mut found) = (false, None);
    r.members(|r, k| {
        let first = k == key && !seen;
        seen |= first;
        if first && matches!(r.peek()?, b'"' | b'-' | b'0'..=b'9') {
            found = r.value()?.scalar_text().map(str::to_owned);
            Some(())
        } else {
            r.skip_written()
        }
    })?;
    found
}

use serde::Deserializer as _;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The deepest nesting a payload may have (serde_json's own limit when it builds a value).
pub const MAX_DEPTH: usize = 128;

/// One JSON value, borrowing from the text it was read from where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    /// The number's text as written: `19.990` stays `19.990`, `123456789012345678901234567890` stays whole.
    Number(Cow<'a, str>),
    /// The string, unescaped.
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Keys (unescaped) in payload order. A repeated key appears twice; [`crate::normalize`] refuses such payloads.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses one JSON document; the error is serde_json's, with its line and column.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        match reader::parse(bytes) {
            Some(tree) => Ok(tree),
            None => Self::parse_checked(bytes),
        }
    }

    /// The slower path, and the judge of what is JSON: serde_json validates, and the tree is built level by level.
    fn parse_checked(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: &RawValue = serde_json::from_slice(bytes)?;
        Self::from_raw(raw, 0)
    }

    /// Builds the tree from a value serde_json has already validated. Each level re-reads its own text, so the
    /// cost is the payload's size times its depth. serde_json does not limit the depth of a `RawValue`, so this
    /// does: a payload nested deeper than [`MAX_DEPTH`] is refused, never allowed to exhaust the stack.
    fn from_raw(raw: &RawValue, depth: usize) -> Result<Self, serde_json::Error> {
        let text = raw.get();
        if depth >= MAX_DEPTH && matches!(text.as_bytes().first(), Some(b'{' | b'[')) {
            return Err(serde::de::Error::custom(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(match text.as_bytes().first() {
            Some(b'{') => {
                let pairs =
                    serde_json::Deserializer::from_str(text).deserialize_map(PairsVisitor)?;
                Json::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| Ok((Cow::Owned(k), Self::from_raw(v, depth + 1)?)))
                        .collect::<Result<_, serde_json::Error>>()?,
                )
            }
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text)?;
                Json::Array(
                    items
                        .into_iter()
                        .map(|v| Self::from_raw(v, depth + 1))
                        .collect::<Result<_, _>>()?,
                )
            }
            Some(b'"') => Json::String(Cow::Owned(serde_json::from_str(text)?)),
            Some(b't') => Json::Bool(true),
            Some(b'f') => Json::Bool(false),
            Some(b'n') => Json::Null,
            _ => Json::Number(Cow::Owned(text.to_owned())),
        })
    }

    /// The value of `key` in an object (the first, if repeated); `None` for other values.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A string, or a number's text: what an id or an entity key reads as. `None` for empty strings and
    /// everything else.
    pub fn scalar_text(&self) -> Option<&str> {
        match self {
            Json::String(s) if !s.is_empty() => Some(s),
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    /// Whether `text` is what [`Json::write`] writes for this value, found without writing it when that is
    /// plain (a string with nothing to escape, a number, a literal).
    pub fn is_written_as(&self, text: &[u8]) -> bool {
        match self {
            Json::String(s) if !needs_escape(s.as_bytes()) => {
                text.len() == s.len() + 2
                    && text.first() == Some(&b'"')
                    && text.last() == Some(&b'"')
                    && text[1..text.len() - 1] == *s.as_bytes()
            }
            Json::Number(n) => text == n.as_bytes(),
            Json::Null => text == b"null",
            Json::Bool(true) => text == b"true",
            Json::Bool(false) => text == b"false",
            other => {
                let mut own = Vec::new();
                other.write(&mut own);
                own == text
            }
        }
    }

    /// Appends the compact JSON text of this value.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(true) => out.extend_from_slice(b"true"),
            Json::Bool(false) => out.extend_from_slice(b"false"),
            Json::Number(n) => out.extend_from_slice(n.as_bytes()),
            Json::String(s) => write_str(s, out),
            Json::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Json::Object(pairs) => {
                out.push(b'{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(k, out);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
        }
    }

    /// The compact JSON text of this value.
    #[cfg(test)]
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        self.write(&mut out);
        // Written from `String`s and validated number text only.
        String::from_utf8(out).unwrap_or_default()
    }
}

impl<'a> From<&'a str> for Json<'a> {
    fn from(s: &'a str) -> Self {
        Json::String(Cow::Borrowed(s))
    }
}

impl From<String> for Json<'_> {
    fn from(s: String) -> Self {
        Json::String(Cow::Owned(s))
    }
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it (`"`, `\\` and control characters only).
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    if needs_escape(s.as_bytes()) {
        // Writing a `str` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether any byte is `"`, `\\` or a control character, eight bytes at a time (most strings written are short,
/// too short for a vectorized loop to start).
pub(crate) fn needs_escape(bytes: &[u8]) -> bool {
    let (words, rest) = bytes.as_chunks::<8>();
    let found = words.iter().fold(0, |found, word| {
        found | escape_bits(u64::from_le_bytes(*word))
    });
    found != 0 || rest.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

/// `s` without the whitespace around it, as `str::trim` has it; a string that starts and ends with an ASCII
/// character other than a space or a control (as most do) is not looked at further, since every other
/// whitespace character is one of those or outside ASCII.
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&z)) if (0x21..0x80).contains(&a) && (0x21..0x80).contains(&z) => s,
        _ => s.trim(),
    }
}

/// The bytes of `word` (little-endian) that are `"`, `\\` or a control character: the high bit of each is set,
/// and no byte before the first of them is flagged (a flag may spill into the bytes after it).
fn escape_bits(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // Flags the bytes below `n` (n at most 0x80).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    below(word, 0x20) | below(word ^ (ONES * 0x22), 1) | below(word ^ (ONES * 0x5c), 1)
}

/// An object's entries in order, each value still as its text; repeated keys are kept.
struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
            pairs.push(entry);
        }
        Ok(pairs)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(serde::de::Error::custom("expected a JSON object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        Json::parse(text.as_bytes()).expect("parses").to_text()
    }

    #[test]
    fn the_escape_check_finds_every_byte_that_needs_one_wherever_it_is() {
        let naive = |b: &[u8]| b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
        for len in 0..20 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut text = vec![b'x'; len];
                    text[at] = byte;
                    assert_eq!(needs_escape(&text), naive(&text), "{text:?}");
                }
            }
        }
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..10_000 {
            let text: Vec<u8> = (0..rng.usize(..40)).map(|_| rng.u8(0x1c..0x7f)).collect();
            assert_eq!(needs_escape(&text), naive(&text), "{text:?}");
        }
    }

    #[test]
    fn a_value_is_written_as_exactly_its_own_text() {
        let values = [
            Json::Null,
            Json::Bool(true),
            Json::Bool(false),
            Json::Number("7".into()),
            Json::Number("7.0".into()),
            Json::String("7".into()),
            Json::String("".into()),
            Json::String("a\"b".into()),
            Json::String("line\n".into()),
            Json::String("null".into()),
            Json::Array(vec![Json::Null]),
        ];
        let texts: Vec<Vec<u8>> = values
            .iter()
            .map(|v| {
                let mut text = Vec::new();
                v.write(&mut text);
                text
            })
            .chain([b"\"7".to_vec(), b"7\"".to_vec(), b"\"".to_vec(), Vec::new()])
            .collect();
        for v in &values {
            let mut own = Vec::new();
            v.write(&mut own);
            for text in &texts {
                assert_eq!(v.is_written_as(text), own == *text, "{v:?} {text:?}");
            }
        }
    }

    #[test]
    fn trimming_agrees_with_the_standard_trim() {
        let ends = [
            "", " ", "\t", "\n", "\u{b}", "\u{c}", "\r", "\u{1}", "\u{1f}", "!", "~", "\u{7f}",
            "a", "\u{85}", "\u{a0}", "\u{2028}", "\u{3000}", "é", "\u{feff}",
        ];
        for a in ends {
            for z in ends {
                for middle in ["", "x", " y ", "\u{a0}"] {
                    let s = format!("{a}{middle}{z}");
                    assert_eq!(trim(&s), s.trim(), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn numbers_keep_their_text() {
        for n in [
            "19.990",
            "123456789012345678901234567890",
            "0.30000000000000004441",
            "-0",
            "1e400",
            "1E-7",
            "-12.50e+3",
        ] {
            assert_eq!(round_trip(n), n);
            assert_eq!(
                round_trip(&format!("{{\"a\": [ {n} , {{\"b\":{n}}}]}}")),
                format!("{{\"a\":[{n},{{\"b\":{n}}}]}}")
            );
        }
    }

    #[test]
    fn objects_keep_key_order_and_repeated_keys() {
        assert_eq!(
            round_trip(r#"{"z": 1, "a": 2, "z": 3}"#),
            r#"{"z":1,"a":2,"z":3}"#
        );
    }

    #[test]
    fn strings_are_unescaped_and_escaped_again() {
        let v = Json::parse(br#"{"s": "tab\there \"q\" \u00e9 \ud83d\ude00"}"#).expect("parses");
        assert_eq!(v.get("s"), Some(&Json::from("tab\there \"q\" é 😀")));
        assert_eq!(
            Json::parse(v.to_text().as_bytes()).expect("parses again"),
            v
        );
    }

    #[test]
    fn literals_and_nesting() {
        assert_eq!(
            round_trip(" [true, false, null, {}, [], \"\"] "),
            r#"[true,false,null,{},[],""]"#
        );
    }

    #[test]
    fn invalid_json_is_refused() {
        for bad in ["", "{", r#"{"a" 1}"#, "[1,]", "01", "nul", r#""\ud800""#] {
            assert!(Json::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
