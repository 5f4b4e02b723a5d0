//! Reading JSON without losing number text: a value one level deep, numbers as their literal text.

use super::*;

/// A JSON value one level deep: numbers keep their literal text, containers their members unparsed.
pub(super) enum Json<'a> {
    Null,
    Bool,
    Number(&'a str),
    String(String),
    Array(Vec<&'a RawValue>),
    Object(Object<'a>),
}

impl Json<'_> {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }
}

/// An object's members in document order, duplicates kept (a `Map` would silently keep the last).
pub(super) struct Object<'a> {
    pub(super) entries: Vec<(String, &'a RawValue)>,
}

impl<'a> Object<'a> {
    pub(super) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .find_map(|(k, v)| (k == key).then_some(*v))
    }

    /// Each key that appears more than once, once, in order of first appearance.
    pub(super) fn duplicate_keys(&self) -> Vec<&str> {
        let mut dups: Vec<&str> = Vec::new();
        for (i, (key, _)) in self.entries.iter().enumerate() {
            if self.entries[..i].iter().any(|(k, _)| k == key) && !dups.contains(&key.as_str()) {
                dups.push(key);
            }
        }
        dups
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Object<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<String>()? {
                    entries.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Object { entries })
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// Classifies a raw value by its first byte and decodes one level. `raw` is valid JSON already; decoding can
/// still fail on a string with a lone surrogate escape (`"\ud800"`), which the syntax check lets through.
pub(super) fn read(raw: &RawValue) -> Result<Json<'_>, serde_json::Error> {
    let text = raw.get().trim();
    Ok(match text.as_bytes().first() {
        Some(b'"') => Json::String(serde_json::from_str(text)?),
        Some(b'{') => Json::Object(serde_json::from_str(text)?),
        Some(b'[') => Json::Array(serde_json::from_str(text)?),
        Some(b't' | b'f') => Json::Bool,
        Some(b'n') => Json::Null,
        _ => Json::Number(text),
    })
}

/// The document's top-level object, or the one rejection that stops everything else.
pub(super) fn parse_document(bytes: &[u8]) -> Result<Object<'_>, Rejection> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = position(bytes, e.valid_up_to());
        Rejection::new(
            "$",
            format!("malformed JSON: invalid UTF-8 at line {line} column {column}"),
        )
    })?;
    let raw: &RawValue = serde_json::from_str(text)
        .map_err(|e| Rejection::new("$", format!("malformed JSON: {e}")))?;
    match read(raw) {
        Ok(Json::Object(object)) => Ok(object),
        Ok(other) => Err(Rejection::new(
            "$",
            format!("an order must be a JSON object, got {}", other.kind()),
        )),
        Err(e) => Err(Rejection::new("$", format!("malformed JSON: {e}"))),
    }
}

/// 1-based line and column (in bytes, as serde_json counts) of a byte offset.
pub(super) fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}
