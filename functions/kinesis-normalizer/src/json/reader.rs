//! The one-pass reader behind [`crate::json::Json::parse`]: the payload's text into the tree in a single scan,
//! numbers kept as written. It is stricter than it needs to be and never decides alone that a payload is not JSON:
//! whatever it does not accept (anything unusual, even if valid) goes to serde_json, whose verdict and error
//! message stand. A differential test checks it against that slower path.

use crate::json::Json;
use std::borrow::Cow;
use wide::u8x32;

/// Nesting deeper than this is left to the slower path (which refuses more than [`crate::json::MAX_DEPTH`]).
const MAX_DEPTH: usize = 100;

/// The tree of `text`, or `None` when this reader does not accept it (then serde_json decides).
pub(crate) fn parse(bytes: &[u8]) -> Option<Json<'_>> {
    // UTF-8 checked once, for the whole payload: every byte the reader then looks at is ASCII or inside a string.
    let mut r = Reader::new(std::str::from_utf8(bytes).ok()?);
    let value = r.value()?;
    r.at_end().then_some(value)
}

pub(crate) struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pub(super) pos: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Reader {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    /// A reader of text found within `depth` levels of nesting, which count towards the reader's limit.
    pub(super) fn within(text: &'a str, depth: usize) -> Self {
        Reader {
            depth,
            ..Self::new(text)
        }
    }

    /// Only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos == self.bytes.len()
    }

    /// The text from `start` to where the reader is.
    pub(super) fn since(&self, start: usize) -> &'a str {
        &self.text[start..self.pos]
    }

    fn skip_ws(&mut self) {
        // Mostly there is none: anything above a space is not whitespace.
        while let Some(&c) = self.bytes.get(self.pos) {
            if c > b' ' || !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                return;
            }
            self.pos += 1;
        }
    }

    /// Steps over `byte` (after any whitespace), or `None` when something else is there.
    pub(super) fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// Walks an object's members, `member` reading each value after its key; `None` when the object is not
    /// well formed or `member` refuses.
    pub(crate) fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        self.fields(|r| {
            let key = r.key()?;
            member(r, key)
        })
    }

    /// At a key's opening quote: the key, unescaped, once the reader is past it and its colon.
    pub(crate) fn key(&mut self) -> Option<Cow<'a, str>> {
        let key = self.string()?;
        self.expect(b':')?;
        Some(key)
    }

    /// Walks an object's members as [`Reader::members`] does, but leaves each key to `member`: it is called at
    /// the key's opening quote, and reads the key and its colon ([`Reader::key_is`], [`Reader::key`]), then the
    /// value.
    pub(crate) fn fields(&mut self, mut member: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.peek()? != b'{' {
            return None;
        }
        self.enter()?;
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                member(self)?;
                match self.peek()? {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// At a key's opening quote: steps over the key and its colon when the key is written `"raw"`, with no
    /// escapes (`raw` holds no quote, backslash or control character); otherwise stays where it is.
    pub(crate) fn key_is(&mut self, raw: &[u8]) -> bool {
        let start = self.pos + 1;
        let end = start + raw.len();
        if self.bytes.get(start..end) != Some(raw) || self.bytes.get(end) != Some(&b'"') {
            return false;
        }
        self.step_over_key(start, end)
    }

    /// [`Reader::key_is`] for a key of `len` bytes (under 32) at the start of `block`, 32 bytes: compared 32
    /// bytes at a time with the text, closing quote included, through `wide` (as [`special`] looks for a string's
    /// end), when the text has 32 bytes left.
    pub(crate) fn key_is_in(&mut self, block: &[u8], len: usize) -> bool {
        let start = self.pos + 1;
        let text = self
            .bytes
            .get(start..)
            .and_then(<[u8]>::first_chunk::<BLOCK>);
        let (Some(&text), Some(&key), true) = (text, block.first_chunk::<BLOCK>(), len < BLOCK)
        else {
            return block.get(..len).is_some_and(|raw| self.key_is(raw));
        };
        let same = u8x32::new(text).simd_eq(u8x32::new(key)).to_bitmask();
        let key_bytes = (1_u32 << len) - 1;
        if same & key_bytes != key_bytes || text[len] != b'"' {
            return false;
        }
        self.step_over_key(start, start + len)
    }

    /// Past a key matched from `start` to its closing quote at `end`, and its colon.
    fn step_over_key(&mut self, start: usize, end: usize) -> bool {
        self.pos = end + 1;
        if self.expect(b':').is_none() {
            self.pos = start - 1;
            return false;
        }
        true
    }

    /// Walks an array's items, `item` reading each; `None` when the array is not well formed or `item` refuses.
    pub(crate) fn items(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.peek()? != b'[' {
            return None;
        }
        self.enter()?;
        if self.peek()? == b']' {
            self.pos += 1;
        } else {
            loop {
                item(self)?;
                match self.peek()? {
                    b',' => self.pos += 1,
                    b']' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Steps over one value, checking it as [`Reader::value`] does, with no tree built (a string with escapes is
    /// still unescaped, to check them); `None` also for a number that might not fit a float (serde_json's
    /// `Value` refuses those, so it must decide).
    pub(super) fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.members(|r, _| r.skip()),
            b'[' => self.items(Self::skip),
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => match self.number()? {
                Json::Number(n) if surely_finite(&n) => Some(()),
                _ => None,
            },
            _ => self.value().map(drop),
        }
    }

    /// Steps over one value of text known to be JSON (written by this crate), a container by counting brackets
    /// rather than by recursion, so at any depth; its strings are still read (`"]"` is no bracket).
    pub(super) fn skip_written(&mut self) -> Option<()> {
        if !matches!(self.peek()?, b'{' | b'[') {
            return self.value().map(drop);
        }
        let mut depth = 0_usize;
        loop {
            match *self.bytes.get(self.pos)? {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return Some(());
                    }
                }
                b'"' => {
                    self.string()?;
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    /// At `true`, `false` or `null`: steps over it and gives its text, with no value built.
    pub(crate) fn literal_text(&mut self) -> Option<&'static [u8]> {
        let word: &'static [u8] = match self.peek()? {
            b't' => b"true",
            b'f' => b"false",
            b'n' => b"null",
            _ => return None,
        };
        self.word(word)
    }

    fn literal(&mut self, word: &'static [u8], value: Json<'a>) -> Option<Json<'a>> {
        self.word(word).map(|_| value)
    }

    /// Steps over `word` when the text has it at the reader.
    fn word(&mut self, word: &'static [u8]) -> Option<&'static [u8]> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word).then(|| {
            self.pos = end;
            word
        })
    }

    pub(crate) fn value(&mut self) -> Option<Json<'a>> {
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Json::String),
            b't' => self.literal(b"true", Json::Bool(true)),
            b'f' => self.literal(b"false", Json::Bool(false)),
            b'n' => self.literal(b"null", Json::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.pos += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn object(&mut self) -> Option<Json<'a>> {
        let mut pairs = Vec::new();
        self.members(|r, key| {
            pairs.push((key, r.value()?));
            Some(())
        })?;
        Some(Json::Object(pairs))
    }

    fn array(&mut self) -> Option<Json<'a>> {
        let mut items = Vec::new();
        self.items(|r| {
            items.push(r.value()?);
            Some(())
        })?;
        Some(Json::Array(items))
    }

    /// At a number: its text, the reader past it (as [`Reader::number`] reads it, with no check that it fits a
    /// float: see [`surely_finite`]).
    pub(crate) fn number_text(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let end = self.number_end()?;
        self.pos = end;
        Some(&self.text[start..end])
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as text.
    fn number(&mut self) -> Option<Json<'a>> {
        self.number_text()
            .map(|text| Json::Number(Cow::Borrowed(text)))
    }

    /// Where the number at the reader ends (see [`Reader::number`]).
    fn number_end(&self) -> Option<usize> {
        let start = self.pos;
        let b = self.bytes;
        let digits = |mut i: usize| {
            let from = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            (i > from).then_some(i)
        };
        let mut i = start + usize::from(b[start] == b'-');
        i = match b.get(i)? {
            b'0' => i + 1,
            b'1'..=b'9' => digits(i)?,
            _ => return None,
        };
        if b.get(i) == Some(&b'.') {
            i = digits(i + 1)?;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            i = digits(i)?;
        }
        // A digit straight after (`01`) is not a number's end.
        if b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        Some(i)
    }

    /// A string at `pos` (its opening quote), unescaped: a slice of the text when it has no escapes.
    pub(crate) fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos + 1;
        let b = self.bytes;
        // The common case: no escapes. Control characters are left to serde_json.
        let mut i = start + special(&b[start..])?;
        if b[i] < 0x20 {
            return None;
        }
        if b[i] == b'"' {
            self.pos = i + 1;
            return Some(Cow::Borrowed(&self.text[start..i]));
        }
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(&self.text[start..i]);
        loop {
            let run = i;
            while let Some(&c) = b.get(i) {
                match c {
                    b'"' | b'\\' => break,
                    0..=0x1f => return None,
                    _ => i += 1,
                }
            }
            out.push_str(&self.text[run..i]);
            match b.get(i)? {
                b'"' => {
                    self.pos = i + 1;
                    return Some(Cow::Owned(out));
                }
                _ => {
                    let (c, next) = self.escape(i + 1)?;
                    out.push(c);
                    i = next;
                }
            }
        }
    }

    /// The escape after a backslash at `i - 1`: the character and where the text goes on.
    fn escape(&self, i: usize) -> Option<(char, usize)> {
        let c = match self.bytes.get(i)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4(i + 1)?;
                return match high {
                    0xD800..=0xDBFF => {
                        // A surrogate pair: `\uD83D\uDE00`. A lone half is left to serde_json.
                        if self.bytes.get(i + 5..i + 7)? != b"\\u" {
                            return None;
                        }
                        let low = self.hex4(i + 7)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        Some((char::from_u32(code)?, i + 11))
                    }
                    0xDC00..=0xDFFF => None,
                    _ => Some((char::from_u32(high)?, i + 5)),
                };
            }
            _ => return None,
        };
        Some((c, i + 1))
    }

    fn hex4(&self, i: usize) -> Option<u32> {
        let digits = self.bytes.get(i..i + 4)?;
        digits.iter().try_fold(0_u32, |acc, &d| {
            let v = (d as char).to_digit(16)?;
            Some(acc * 16 + v)
        })
    }
}

/// A number's text whose value is surely a finite float: at most 200 integer digits and an exponent of at most
/// two digits (so under 10^300). Others may still be finite; serde_json decides those.
pub(super) fn surely_finite(number: &str) -> bool {
    let b = number.as_bytes();
    // The integer part (with its sign), and the exponent's digits past its sign and leading zeros.
    let integer = b
        .iter()
        .position(|&c| matches!(c, b'.' | b'e' | b'E'))
        .unwrap_or(b.len());
    let exponent = b
        .iter()
        .position(|&c| matches!(c, b'e' | b'E'))
        .map_or(&b[b.len()..], |e| &b[e + 1..]);
    let exponent = exponent.strip_prefix(b"+").unwrap_or(exponent);
    let exponent = exponent.strip_prefix(b"-").unwrap_or(exponent);
    let significant = exponent.iter().skip_while(|&&c| c == b'0').count();
    integer <= 200 && significant <= 2
}

/// Where the first `"`, `\\` or control character of `bytes` is: 32 bytes at a time (past the string's end too:
/// the text after it is there, and its closing quote comes first), through `wide` (AVX2 on x86_64, NEON on
/// arm64); the text's last few bytes one at a time.
fn special(bytes: &[u8]) -> Option<usize> {
    let (quote, backslash, below_space) =
        (u8x32::splat(b'"'), u8x32::splat(b'\\'), u8x32::splat(0x1f));
    let mut at = 0;
    while let Some(block) = bytes.get(at..at + BLOCK) {
        let v = u8x32::new(block.try_into().ok()?);
        // A byte is a control character when it is at most 0x1f, that is when its minimum with 0x1f is itself.
        let found = v.simd_eq(quote) | v.simd_eq(backslash) | v.min(below_space).simd_eq(v);
        let mask = found.to_bitmask();
        if mask != 0 {
            return Some(at + mask.trailing_zeros() as usize);
        }
        at += BLOCK;
    }
    let is_special = |&c: &u8| c < 0x20 || c == b'"' || c == b'\\';
    bytes.get(at..)?.iter().position(is_special).map(|i| at + i)
}

/// See [`special`].
const BLOCK: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_taken_only_when_written_exactly_so_and_followed_by_its_colon() {
        // (text at the key's opening quote, key, taken, where the reader is after)
        for (text, key, taken, after) in [
            (r#""a":1"#, "a", true, 4),
            (r#""a"  :  1"#, "a", true, 6),
            (r#""ab":1"#, "a", false, 0),
            (r#""a":1"#, "ab", false, 0),
            (r#""a" x"#, "a", false, 0),
            (r#""a""#, "a", false, 0),
            (r#""\u0061":1"#, "a", false, 0),
            (r#""a"#, "a", false, 0),
            (r#""":1"#, "", true, 3),
        ] {
            let mut r = Reader::new(text);
            assert_eq!(r.key_is(key.as_bytes()), taken, "{text}");
            assert_eq!(r.pos, after, "{text}");
        }
    }

    #[test]
    fn a_key_compared_32_bytes_at_once_is_taken_exactly_when_it_would_be_byte_by_byte() {
        let mut rng = fastrand::Rng::with_seed(5);
        let alphabet = b"ab\"\\: ";
        for _ in 0..100_000 {
            // A key of up to 31 bytes, in a 32-byte block with whatever follows it (the rest of a shape's text).
            let len = rng.usize(..32);
            let mut block: Vec<u8> = (0..32).map(|_| alphabet[rng.usize(..2)]).collect();
            // A text at a key's opening quote: the key, or the key with one byte changed, or cut short; then a
            // quote or not, a colon or not, and up to 40 more bytes (so that the text may end within 32 bytes).
            let mut text = vec![b'"'];
            text.extend_from_slice(&block[..len]);
            match rng.u8(..4) {
                0 if len > 0 => text[1 + rng.usize(..len)] = b'c',
                1 => {
                    text.truncate(1 + rng.usize(..=len));
                }
                _ => {}
            }
            if rng.u8(..8) > 0 {
                text.push(b'"');
            }
            if rng.u8(..8) > 0 {
                text.push(b':');
            }
            let more = rng.usize(..40);
            text.extend((0..more).map(|_| alphabet[rng.usize(..alphabet.len())]));
            // The block's bytes past the key may be anything, a quote included.
            if rng.bool() && len < 32 {
                block[len] = b'"';
            }
            let text = String::from_utf8(text).expect("ASCII");
            let (mut a, mut b) = (Reader::new(&text), Reader::new(&text));
            assert_eq!(
                a.key_is_in(&block, len),
                b.key_is(&block[..len]),
                "{text:?} {:?}",
                String::from_utf8_lossy(&block[..len])
            );
            assert_eq!(a.pos, b.pos, "{text:?}");
        }
    }

    #[test]
    fn the_first_byte_that_needs_an_escape_is_found_wherever_it_is() {
        let naive = |b: &[u8]| b.iter().position(|&c| c < 0x20 || c == b'"' || c == b'\\');
        for len in 0..80 {
            for at in 0..len {
                for byte in [
                    0, 0x1f, b'"', b'\\', 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff,
                ] {
                    let mut text = vec![b'x'; len];
                    text[at] = byte;
                    if let Some(later) = (at + 1..len).nth(len % 5) {
                        text[later] = [b'"', 0x01, b'\\'][len % 3];
                    }
                    assert_eq!(special(&text), naive(&text), "{text:?}");
                }
            }
        }
    }

    /// The slower path this reader must agree with: serde_json's verdict, the tree built level by level.
    fn checked(text: &[u8]) -> Option<Json<'_>> {
        Json::parse_checked(text).ok()
    }

    /// A small random JSON document, with the odd corners: escapes, surrogate pairs, exponents, deep nesting,
    /// whitespace everywhere, repeated keys.
    fn document(rng: &mut fastrand::Rng, depth: u32) -> String {
        let ws =
            |rng: &mut fastrand::Rng| [" ", "", "\n", "\t", "\r\n ", ""][rng.usize(..6)].to_owned();
        let string = |rng: &mut fastrand::Rng| {
            let parts = [
                "a",
                "Key",
                "é",
                "😀",
                "\\\"",
                "\\\\",
                "\\/",
                "\\b\\f\\n\\r\\t",
                "\\u00e9",
                "\\ud83d\\ude00",
                "\\u0000",
                " ",
                "snake_case",
                "x\u{7f}y",
            ];
            let mut s = String::from("\"");
            for _ in 0..rng.usize(0..4) {
                s.push_str(parts[rng.usize(..parts.len())]);
            }
            s.push('"');
            s
        };
        match if depth > 3 {
            rng.u32(0..5)
        } else {
            rng.u32(0..7)
        } {
            0 => ["true", "false", "null"][rng.usize(..3)].to_owned(),
            1 | 2 => {
                let numbers = [
                    "0",
                    "-0",
                    "19.990",
                    "1e400",
                    "-12.50E+3",
                    "123456789012345678901234567890",
                    "7",
                    "0.5e-3",
                ];
                numbers[rng.usize(..numbers.len())].to_owned()
            }
            3 | 4 => string(rng),
            5 => {
                let items: Vec<String> = (0..rng.usize(0..4))
                    .map(|_| format!("{}{}{}", ws(rng), document(rng, depth + 1), ws(rng)))
                    .collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let pairs: Vec<String> = (0..rng.usize(0..4))
                    .map(|_| {
                        format!(
                            "{}{}{}:{}{}",
                            ws(rng),
                            string(rng),
                            ws(rng),
                            ws(rng),
                            document(rng, depth + 1)
                        )
                    })
                    .collect();
                format!("{{{}}}", pairs.join(","))
            }
        }
    }

    #[test]
    fn agrees_with_serde_json_on_random_documents_and_their_mutations() {
        let mut rng = fastrand::Rng::with_seed(14);
        let mutations: [&[u8]; 12] = [
            b"", b",", b"\"", b"\\", b"0", b"}", b"]", b"\x01", b"\xff", b"-", b".", b"e",
        ];
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let text = document(&mut rng, 0);
            let tree = parse(text.as_bytes());
            assert!(tree.is_some(), "refused a valid document: {text}");
            assert_eq!(tree, checked(text.as_bytes()), "{text}");
            accepted += 1;
            // The same text with one byte replaced, inserted or cut: whatever this reader accepts, serde_json
            // accepts with the same tree.
            let mut bytes = text.into_bytes();
            let at = rng.usize(..=bytes.len());
            let insert = mutations[rng.usize(..mutations.len())];
            if at < bytes.len() && rng.bool() {
                bytes.remove(at);
            }
            bytes.splice(at..at, insert.iter().copied());
            match parse(&bytes) {
                Some(tree) => assert_eq!(
                    Some(tree),
                    checked(&bytes),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                ),
                None => refused += 1,
            }
        }
        assert!(accepted > 0 && refused > 1000, "{accepted} {refused}");
    }

    #[test]
    fn leaves_what_it_does_not_take_to_serde_json() {
        for text in [
            "",
            " ",
            "{",
            "[1,]",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "nul",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\x\"",
            "\"a\u{1}b\"",
            "{\"a\" 1}",
            "{1:2}",
            "[1] x",
            "\u{feff}{}",
        ] {
            assert_eq!(parse(text.as_bytes()), None, "{text:?}");
        }
        assert_eq!(parse(b"[\"\xff\"]"), None);
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(deep.as_bytes()), None);
        assert!(
            checked(deep.as_bytes()).is_some(),
            "serde_json takes what is too deep for this reader"
        );
    }
}
