//! CSV tokenizing straight into flat raw batches: the converter's first stage.
//!
//! RFC 4180 as the `csv` crate reads it with its defaults: `,` between fields,
//! `"` quoting with `""` for a quote, `\n`, `\r\n` or a lone `\r` ending a record, blank lines skipped, a quote
//! inside an unquoted field kept as data, bytes after a closing quote kept, an unterminated quoted field ending at
//! the end of the input, any number of fields per record. It also knows each record's physical line (1 + the
//! `\n`s before its first byte), which the quarantine reports.
//!
//! Most lines hold no quote: for them the line end is found with `memchr`, the line is copied once and its commas,
//! found 32 bytes at a time, become field ends. Other lines go through a state machine that finds each quote and
//! each field's end with `memchr`. Tested against the `csv` crate on tricky and generated input, read in every
//! chunk size.

use memchr::{memchr, memchr2, memchr3};
use std::io::{self, Read};
use wide::u8x32;

/// Field `i` of a record, cut from the record's text: `text`, which starts at byte `start` of its batch's data,
/// and the batch's field ends for the record. Fields are cut at ASCII delimiters, so slicing valid UTF-8 at field
/// ends never splits a character.
#[inline]
pub(crate) fn text_field<'a>(text: &'a str, start: usize, ends: &[usize], i: usize) -> &'a str {
    let span = field_span(start, ends, i);
    &text[span.start - start..span.end - start]
}

/// Where field `i` of a record that starts at byte `start` of its batch's data lies in that data. Cut from text,
/// a field is text (see [`text_field`]).
#[inline]
pub(crate) fn field_span(start: usize, ends: &[usize], i: usize) -> std::ops::Range<usize> {
    (if i == 0 { start } else { ends[i - 1] + 1 })..ends[i]
}

/// Records, tokenized but untyped, in one flat buffer: what the reading thread hands the typing workers.
///
/// Within a record, fields are stored unescaped and separated by one byte (`,`), so a line without quotes is
/// copied as it is; records follow each other with no separator.
#[derive(Debug, Default)]
pub(crate) struct RawBatch {
    pub(crate) data: Vec<u8>,
    /// End offset in `data` of every field of every record.
    field_ends: Vec<usize>,
    /// For each record, the index in `field_ends` one past its last field.
    record_ends: Vec<usize>,
    /// For each record, the physical line it starts on.
    pub(crate) lines: Vec<u64>,
}

impl RawBatch {
    /// An empty batch with room for as much as `previous` held, so filling it does not regrow its buffers.
    pub(crate) fn with_capacity_like(previous: &RawBatch) -> Self {
        Self {
            data: Vec::with_capacity(previous.data.len() + previous.data.len() / 8),
            field_ends: Vec::with_capacity(previous.field_ends.len()),
            record_ends: Vec::with_capacity(previous.record_ends.len()),
            lines: Vec::with_capacity(previous.lines.len()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.record_ends.len()
    }

    /// Empties the batch, keeping its buffers for the next records.
    pub(crate) fn clear(&mut self) {
        self.truncate(0, 0, 0);
    }

    /// Each record's physical line, byte range in `data` and field ends, in order.
    pub(crate) fn records(&self) -> impl Iterator<Item = (u64, std::ops::Range<usize>, &[usize])> {
        let (mut first, mut start) = (0, 0);
        self.record_ends
            .iter()
            .zip(&self.lines)
            .map(move |(&last, &line)| {
                let ends = &self.field_ends[first..last];
                let end = ends.last().copied().unwrap_or(start);
                let record = (line, start..end, ends);
                (first, start) = (last, end);
                record
            })
    }

    /// Field-end indexes of record `r`.
    fn field_range(&self, r: usize) -> std::ops::Range<usize> {
        let first = if r == 0 { 0 } else { self.record_ends[r - 1] };
        first..self.record_ends[r]
    }

    /// Byte range of record `r` in `data`.
    pub(crate) fn byte_range(&self, r: usize) -> std::ops::Range<usize> {
        let fields = self.field_range(r);
        let start = self.record_start(r);
        let end = if fields.is_empty() {
            start
        } else {
            self.field_ends[fields.end - 1]
        };
        start..end
    }

    fn record_start(&self, r: usize) -> usize {
        let first = if r == 0 { 0 } else { self.record_ends[r - 1] };
        if first == 0 {
            0
        } else {
            self.field_ends[first - 1]
        }
    }

    /// The raw fields of record `r`.
    pub(crate) fn fields(&self, r: usize) -> impl Iterator<Item = &[u8]> {
        let range = self.field_range(r);
        let mut start = self.record_start(r);
        self.field_ends[range].iter().map(move |&end| {
            let field = &self.data[start..end];
            start = end + 1;
            field
        })
    }

    /// Records whose bytes are not UTF-8, with the index of the first bad field. The whole buffer is checked
    /// at once, which is nearly always all there is to do.
    pub(crate) fn invalid_utf8(&self) -> Vec<(usize, usize)> {
        let mut bad = Vec::new();
        let mut pos = 0;
        while let Err(e) = std::str::from_utf8(&self.data[pos..]) {
            let at = pos + e.valid_up_to();
            let r = self
                .record_ends
                .partition_point(|&end| end == 0 || self.field_ends[end - 1] <= at);
            if r >= self.len() {
                break;
            }
            let fields = self.field_range(r);
            let field = self.field_ends[fields.clone()].partition_point(|&end| end <= at);
            bad.push((r, field));
            pos = self.byte_range(r).end;
        }
        bad
    }

    /// Drops everything from byte `data_len`, field `fields` and record `records` on: a record read halfway.
    fn truncate(&mut self, data_len: usize, fields: usize, records: usize) {
        self.data.truncate(data_len);
        self.field_ends.truncate(fields);
        self.record_ends.truncate(records);
        self.lines.truncate(records);
    }

    fn end_record(&mut self, line: u64) {
        self.record_ends.push(self.field_ends.len());
        self.lines.push(line);
    }
}

/// Why reading stopped.
#[derive(Debug)]
pub(crate) enum TokenizeError {
    Io(io::Error),
    /// One record would not fit in `limit` bytes.
    RecordTooLarge {
        line: u64,
        limit: usize,
    },
}

impl From<io::Error> for TokenizeError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Reads records from a byte stream into [`RawBatch`]es.
pub(crate) struct Tokenizer<R> {
    input: R,
    buf: Vec<u8>,
    /// The buffer never grows past this: the longest record accepted.
    max_record: usize,
    /// Next unread byte in `buf`.
    pos: usize,
    /// End of the bytes read into `buf`.
    filled: usize,
    eof: bool,
    /// The physical line `pos` is on.
    line: u64,
    started: bool,
}

/// What the state machine made of the bytes from `pos`.
enum Slow {
    /// One record (possibly none: only blank-line terminators), `consumed` bytes and `newlines` `\n`s.
    Done { consumed: usize, newlines: u64 },
    /// The record does not end within the buffer: read more and start it again.
    NeedMore,
}

impl<R: Read> Tokenizer<R> {
    pub(crate) fn new(input: R, capacity: usize, max_record: usize) -> Self {
        let capacity = capacity.max(4);
        Self {
            input,
            max_record: max_record.max(capacity),
            buf: vec![0; capacity],
            pos: 0,
            filled: 0,
            eof: false,
            line: 1,
            started: false,
        }
    }

    /// Reads more input, keeping the bytes from `pos`; grows the buffer when they fill it. Returns false at the
    /// end of the input.
    fn refill(&mut self) -> Result<bool, TokenizeError> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.filled == self.buf.len() {
            // One record fills the buffer.
            if self.buf.len() >= self.max_record {
                return Err(TokenizeError::RecordTooLarge {
                    line: self.line,
                    limit: self.max_record,
                });
            }
            let grown = (self.buf.len() * 2).min(self.max_record);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.filled += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Drops a UTF-8 byte-order mark at the very start of the input.
    fn skip_bom(&mut self) -> Result<(), TokenizeError> {
        self.started = true;
        while self.filled - self.pos < 3 && !self.eof {
            self.refill()?;
        }
        if self.buf[self.pos..self.filled].starts_with(b"\xEF\xBB\xBF") {
            self.pos += 3;
        }
        Ok(())
    }

    /// Appends up to `max_records` records to `batch`, stopping early once its data reaches `max_bytes`. Returns
    /// the number of records appended: 0 only at the end of the input.
    pub(crate) fn read_into(
        &mut self,
        batch: &mut RawBatch,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<usize, TokenizeError> {
        if !self.started {
            self.skip_bom()?;
        }
        let first = batch.len();
        while batch.len() - first < max_records && batch.data.len() < max_bytes {
            if !self.next_record(batch)? {
                break;
            }
        }
        Ok(batch.len() - first)
    }

    /// Appends the next record to `batch`; false at the end of the input.
    fn next_record(&mut self, batch: &mut RawBatch) -> Result<bool, TokenizeError> {
        loop {
            if self.pos == self.filled && (self.eof || !self.refill()?) {
                return Ok(false);
            }
            let rest = &self.buf[self.pos..self.filled];
            let (line, terminated) = match memchr(b'\n', rest) {
                Some(n) => (&rest[..n], true),
                None if !self.eof => {
                    self.refill()?;
                    continue;
                }
                None => (rest, false),
            };
            let body = line.strip_suffix(b"\r").unwrap_or(line);
            let fields_before = batch.field_ends.len();
            if split_plain(rest, body.len(), batch.data.len(), &mut batch.field_ends) {
                // The fast path: a line without quotes. A blank one is skipped.
                self.pos += line.len() + usize::from(terminated);
                self.line += u64::from(terminated);
                if body.is_empty() {
                    batch.field_ends.truncate(fields_before);
                    continue;
                }
                crate::block::extend_from::<64>(&mut batch.data, rest, 0..body.len());
                batch.field_ends.push(batch.data.len());
                batch.end_record(self.line - u64::from(terminated));
                return Ok(true);
            }
            batch.field_ends.truncate(fields_before);
            let (data_len, fields, records) =
                (batch.data.len(), batch.field_ends.len(), batch.len());
            match self.slow_record(batch) {
                Slow::Done { consumed, newlines } => {
                    let had_record = batch.len() > records;
                    self.pos += consumed;
                    self.line += newlines;
                    if had_record {
                        return Ok(true);
                    }
                }
                Slow::NeedMore => {
                    batch.truncate(data_len, fields, records);
                    self.refill()?;
                }
            }
        }
    }

    /// The general case, for a record with quotes or a lone `\r`: from `pos`, one record into `batch` (none when
    /// only a terminator comes first: a blank line).
    fn slow_record(&self, batch: &mut RawBatch) -> Slow {
        let bytes = &self.buf[self.pos..self.filled];
        let n = bytes.len();
        let eof = self.eof;
        let mut newlines = 0_u64;
        // Whether the record has begun: a terminator before that is a blank line.
        let mut begun = false;
        let mut i = 0;
        loop {
            // At the start of a field.
            if bytes.get(i) == Some(&b'"') {
                begun = true;
                i += 1;
                loop {
                    // One pass finds the closing quote and counts the line ends before it.
                    let run = memchr2(b'"', b'\n', &bytes[i..]).unwrap_or(n - i);
                    batch.data.extend_from_slice(&bytes[i..i + run]);
                    i += run;
                    if bytes.get(i) == Some(&b'\n') {
                        newlines += 1;
                        batch.data.push(b'\n');
                        i += 1;
                        continue;
                    }
                    match bytes.get(i + 1) {
                        // The input ends inside the quotes: the field ends there.
                        _ if i == n && !eof => return Slow::NeedMore,
                        _ if i == n => break,
                        Some(b'"') => {
                            batch.data.push(b'"');
                            i += 2;
                        }
                        // A closing quote, unless the next read brings a second one.
                        None if !eof => return Slow::NeedMore,
                        _ => {
                            i += 1;
                            break;
                        }
                    }
                }
            }
            // Unquoted bytes: the whole field, or what follows a closing quote.
            let start = i;
            i += memchr3(b',', b'\n', b'\r', &bytes[i..]).unwrap_or(n - i);
            if i > start {
                begun = true;
                batch.data.extend_from_slice(&bytes[start..i]);
            }
            match bytes.get(i) {
                None if !eof => return Slow::NeedMore,
                None => {
                    if begun {
                        batch.field_ends.push(batch.data.len());
                        batch.end_record(self.line);
                    }
                    return Slow::Done {
                        consumed: n,
                        newlines,
                    };
                }
                Some(b',') => {
                    begun = true;
                    batch.field_ends.push(batch.data.len());
                    batch.data.push(b',');
                    i += 1;
                }
                Some(&terminator) => {
                    let mut consumed = i + 1;
                    if terminator == b'\r' {
                        match bytes.get(i + 1) {
                            Some(b'\n') => consumed += 1,
                            None if !eof => return Slow::NeedMore,
                            _ => {}
                        }
                    }
                    newlines += u64::from(bytes[consumed - 1] == b'\n');
                    if begun {
                        batch.field_ends.push(batch.data.len());
                        batch.end_record(self.line);
                    }
                    return Slow::Done { consumed, newlines };
                }
            }
        }
    }
}

/// For the line `window[..len]`, which holds no `"` and no `\r`, pushes `base +` the offset of every `,` to `ends`
/// and returns true; otherwise returns false (and may have pushed some). 32 bytes at a time (AVX2 on x86_64, two
/// NEON registers on arm64, plain code elsewhere, through `wide`): the bytes after the line in `window` are read
/// too and ignored, so that a short line is one block read straight from the buffer.
fn split_plain(window: &[u8], len: usize, base: usize, ends: &mut Vec<usize>) -> bool {
    let mut at = 0;
    while at < len {
        // The bits of this block's bytes that are still in the line.
        let in_line = match len - at {
            n if n >= BLOCK => u32::MAX,
            n => (1 << n) - 1,
        };
        let block = match window.get(at..at + BLOCK) {
            Some(block) => u8x32::new(block.try_into().expect("a block")),
            None => {
                let mut padded = [0_u8; BLOCK];
                padded[..window.len() - at].copy_from_slice(&window[at..]);
                u8x32::new(padded)
            }
        };
        let special = block.simd_eq(u8x32::splat(b'"')) | block.simd_eq(u8x32::splat(b'\r'));
        if special.to_bitmask() & in_line != 0 {
            return false;
        }
        let mut commas = block.simd_eq(u8x32::splat(b',')).to_bitmask() & in_line;
        while commas != 0 {
            ends.push(base + at + commas.trailing_zeros() as usize);
            commas &= commas - 1;
        }
        at += BLOCK;
    }
    true
}

const BLOCK: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `chunk` bytes per read.
    struct Chunked<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn tokenize(input: &[u8], chunk: usize, capacity: usize) -> (Vec<Vec<Vec<u8>>>, Vec<u64>) {
        tokenize_in_batches(input, chunk, capacity, 3, 64)
    }

    /// Records and their lines, read `chunk` bytes at a time into a `capacity` buffer, in batches of at most
    /// `max_records` records or `max_bytes` bytes.
    fn tokenize_in_batches(
        input: &[u8],
        chunk: usize,
        capacity: usize,
        max_records: usize,
        max_bytes: usize,
    ) -> (Vec<Vec<Vec<u8>>>, Vec<u64>) {
        let mut t = Tokenizer::new(Chunked { data: input, chunk }, capacity, 1 << 20);
        let mut records = Vec::new();
        let mut lines = Vec::new();
        loop {
            let mut batch = RawBatch::default();
            let n = t
                .read_into(&mut batch, max_records, max_bytes)
                .expect("read");
            if n == 0 {
                break;
            }
            for r in 0..batch.len() {
                records.push(batch.fields(r).map(<[u8]>::to_vec).collect());
            }
            lines.extend_from_slice(&batch.lines);
        }
        (records, lines)
    }

    /// What the `csv` crate makes of the input with the settings the converter used to read with.
    fn reference(input: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        reader
            .byte_records()
            .map(|r| r.expect("csv").iter().map(<[u8]>::to_vec).collect())
            .collect()
    }

    fn check(input: &[u8]) {
        let expected = reference(input);
        for chunk in [1, 2, 3, 5, 8, 64, 1 << 20] {
            for capacity in [4, 7, 16, 1 << 16] {
                let (got, _) = tokenize(input, chunk, capacity);
                assert_eq!(
                    got,
                    expected,
                    "input {:?}, chunk {chunk}, capacity {capacity}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    /// Each record's first physical line, with line ends inside quoted fields: several in one field, after a
    /// doubled quote, as `\r\n`, at a read's edge. (The `csv` crate's positions put the fifth record on line 8; it
    /// starts on line 9.)
    #[test]
    fn line_numbers_count_the_line_ends_inside_quoted_fields() {
        let input = b"h1,h2\n\"a\nb\",1\n\"\n\n\",2\n\"x\"\"\ny\"\"\",3\r\n\"p\r\nq\",4\nplain,5\n\"\"\"\n\",6\n";
        for chunk in [1, 2, 3, 5, 8, 64, 1 << 20] {
            for capacity in [4, 7, 16, 1 << 16] {
                let (_, lines) = tokenize(input, chunk, capacity);
                assert_eq!(
                    lines,
                    [1, 2, 4, 7, 9, 11, 12],
                    "chunk {chunk}, capacity {capacity}"
                );
            }
        }
    }

    #[test]
    fn records_agree_with_the_accessors_of_each_record() {
        let input = b"a,b\n\"q,1\",2\r\nlonger line,with more\n\n3\n,,\n";
        let mut t = Tokenizer::new(
            Chunked {
                data: input,
                chunk: 5,
            },
            16,
            1 << 20,
        );
        let mut batch = RawBatch::default();
        while t.read_into(&mut batch, 100, 1 << 20).expect("read") > 0 {}
        assert_eq!(batch.len(), 5);
        let records: Vec<_> = batch.records().collect();
        assert_eq!(records.len(), batch.len());
        for (r, (line, bytes, ends)) in records.into_iter().enumerate() {
            assert_eq!(line, batch.lines[r]);
            assert_eq!(bytes, batch.byte_range(r));
            let mut start = bytes.start;
            let fields: Vec<&[u8]> = ends
                .iter()
                .map(|&end| {
                    let field = &batch.data[start..end];
                    start = end + 1;
                    field
                })
                .collect();
            assert_eq!(fields, batch.fields(r).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_cleared_batch_is_filled_as_a_new_one() {
        let input = b"a,b\n\"q,1\",2\r\nlonger line,with more\n\n3,4\nx\n".repeat(5);
        let (expected, expected_lines) = tokenize_in_batches(&input, 7, 16, 3, 64);
        let mut t = Tokenizer::new(
            Chunked {
                data: &input,
                chunk: 7,
            },
            16,
            1 << 20,
        );
        let (mut records, mut lines) = (Vec::new(), Vec::new());
        let mut batch = RawBatch::default();
        while t.read_into(&mut batch, 3, 64).expect("read") > 0 {
            for r in 0..batch.len() {
                records.push(batch.fields(r).map(<[u8]>::to_vec).collect::<Vec<_>>());
            }
            lines.extend_from_slice(&batch.lines);
            batch.clear();
            assert_eq!((batch.len(), batch.data.len()), (0, 0));
        }
        assert_eq!(records, expected);
        assert_eq!(lines, expected_lines);
        assert_eq!(records.len(), 25);
    }

    #[test]
    fn matches_the_csv_crate_on_tricky_input() {
        let cases: &[&[u8]] = &[
            b"",
            b"a",
            b"a,b,c\n1,2,3\n",
            b"a,b\r\n1,2\r\n",
            b"a,b\r1,2\r",
            b"a,b\n\n\n1,2\n\r\n3,4",
            b",\n,,\n",
            b"\"a,b\",\"c\"\"d\"\n",
            b"\"multi\nline\",x\n\"more\r\nlines\"\n",
            b"\"\"\n\"\",\"\"\n",
            b"ab\"c,d\"\"e\n",
            b"\"abc\"def,g\n",
            b"\"unterminated,a\nb",
            b"x,\"y\"\r",
            b"x,\"y\"\r\n\r\nz",
            b"\xEF\xBB\xBFh1,h2\n1,2\n",
            b"\xEF\xBB\xBF",
            b"a,\"\",b\n",
            b"\"a\"\"\",b\n",
            b"trailing,comma,\n",
            b"\r\n\r\na\r\n",
            b"caf\xC3\xA9,\"na\xC3\xAFve\"\n\xFF\xFE,x\n",
            b"\"q\"\n\"\"\"\"\n",
        ];
        for case in cases {
            check(case);
        }
    }

    #[test]
    fn matches_the_csv_crate_on_generated_input() {
        let mut next = tributary_testkit::seeded_rng(0x2545_f491_4f6c_dd1d_u64);
        let alphabet: &[u8] = b"ab,\"\n\r \"\"x,\n";
        for _ in 0..400 {
            let len = (next() % 40) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            check(&input);
        }
    }

    /// Long inputs of mostly plain lines, read in large batches and small buffers: many lines per batch and per
    /// buffer, which the short inputs above never reach. Records match the `csv` crate's, and each record's line is
    /// the physical line it is on (no quoted field holds a line end here).
    #[test]
    fn long_plain_runs_match_the_csv_crate_and_keep_their_lines() {
        let mut next = tributary_testkit::seeded_rng(0x9e37_79b9_7f4a_7c15_u64);
        for _ in 0..60 {
            let mut input = Vec::new();
            for _ in 0..1 + next() % 400 {
                match next() % 20 {
                    0 => {}
                    1 => input.extend_from_slice(b"\"q,1\",x"),
                    _ => {
                        for field in 0..1 + next() % 6 {
                            if field > 0 {
                                input.push(b',');
                            }
                            for _ in 0..next() % 9 {
                                input.push(b'a' + (next() % 26) as u8);
                            }
                        }
                    }
                }
                if next().is_multiple_of(10) {
                    input.push(b'\r');
                }
                input.push(b'\n');
            }
            let expected = reference(&input);
            let expected_lines: Vec<u64> = (1..)
                .zip(input.split(|&b| b == b'\n'))
                .filter(|(_, line)| !line.strip_suffix(b"\r").unwrap_or(line).is_empty())
                .map(|(n, _)| n)
                .collect();
            for (chunk, capacity, max_records, max_bytes) in [
                (1 << 20, 1 << 16, 10_000, 1 << 20),
                (4096, 1 << 16, 100, 4096),
                (1 << 20, 256, 10_000, 1 << 20),
                (7, 16, 10_000, 1 << 20),
                (1 << 20, 1 << 16, 3, 64),
            ] {
                let (got, lines) =
                    tokenize_in_batches(&input, chunk, capacity, max_records, max_bytes);
                let at = format!("chunk {chunk}, capacity {capacity}, batches of {max_records}");
                assert_eq!(got, expected, "{at}");
                assert_eq!(lines, expected_lines, "{at}");
            }
        }
    }

    #[test]
    fn plain_lines_split_at_every_comma_in_any_block() {
        let line = b"a,bb,,ccc,dddddddd,e";
        let mut ends = Vec::new();
        assert!(split_plain(line, line.len(), 10, &mut ends));
        assert_eq!(ends, [11, 14, 15, 19, 28]);
        // What follows the line in the buffer is not read as part of it, in a short window or a long one.
        let window = b"a,b\"c,\r".repeat(20);
        for len in [0, 1, 2, 3] {
            let mut ends = Vec::new();
            assert!(split_plain(&window, len, 0, &mut ends), "{len}");
            assert_eq!(ends, if len > 1 { vec![1] } else { vec![] });
            assert!(split_plain(&window[..len.max(3)], len, 0, &mut Vec::new()));
        }
        assert!(!split_plain(&window, 4, 0, &mut Vec::new()));
        // Every length and position across two blocks, against the byte-by-byte answer.
        for len in 0..80 {
            for special in [None, Some(b'"'), Some(b'\r')] {
                for at in [0, 7, 31, 32, 33, 63, 64, 79] {
                    let mut line: Vec<u8> = (0..len)
                        .map(|i| if i % 3 == 1 { b',' } else { b'x' })
                        .collect();
                    if let (Some(byte), true) = (special, at < len) {
                        line[at] = byte;
                    }
                    let mut window = line.clone();
                    window.extend_from_slice(b"\",\r,");
                    let plain = !line.iter().any(|b| matches!(b, b'"' | b'\r'));
                    let commas: Vec<usize> = (0..len)
                        .filter(|&i| line[i] == b',')
                        .map(|i| i + 5)
                        .collect();
                    for w in [&line[..], &window[..]] {
                        let mut ends = Vec::new();
                        assert_eq!(split_plain(w, len, 5, &mut ends), plain, "{len} {at}");
                        if plain {
                            assert_eq!(ends, commas, "{len} {at}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn lines_are_physical_lines_where_records_start() {
        let input = b"h1,h2\r\n\r\n\"a\nb\",1\n\nc,2\r\"d\",3\n";
        let (records, lines) = tokenize(input, 3, 8);
        assert_eq!(records.len(), 4);
        // Lines 2 and 5 are blank; the quoted newline makes line 4 part of the second record; the lone \r ends a
        // record without starting a line.
        assert_eq!(lines, [1, 3, 6, 6]);
    }

    #[test]
    fn batches_stop_at_the_record_or_byte_limit() {
        let input = b"aaaa\nbbbb\ncccc\ndddd\n";
        let mut t = Tokenizer::new(&input[..], 1024, 1 << 20);
        let mut batch = RawBatch::default();
        assert_eq!(t.read_into(&mut batch, 2, 1000).expect("read"), 2);
        assert_eq!(
            t.read_into(&mut batch, 10, 9).expect("read"),
            1,
            "9 bytes: one more record"
        );
        assert_eq!(t.read_into(&mut batch, 10, 1000).expect("read"), 1);
        assert_eq!(t.read_into(&mut batch, 10, 1000).expect("read"), 0);
        let fields: Vec<&[u8]> = (0..batch.len()).flat_map(|r| batch.fields(r)).collect();
        assert_eq!(fields, [b"aaaa", b"bbbb", b"cccc", b"dddd"]);
    }

    #[test]
    fn a_record_over_the_limit_is_an_error_naming_its_line() {
        let mut input = b"h\nshort\n\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.extend_from_slice(b"\"\nafter\n");
        let mut t = Tokenizer::new(&input[..], 8, 64);
        let mut batch = RawBatch::default();
        match t.read_into(&mut batch, 10, 1000) {
            Err(TokenizeError::RecordTooLarge { line, limit }) => {
                assert_eq!((line, limit), (3, 64))
            }
            other => panic!("expected RecordTooLarge, got {other:?}"),
        }
        // Up to the limit is fine, however small the buffer starts.
        let mut t = Tokenizer::new(&input[..], 8, 128);
        let mut batch = RawBatch::default();
        assert_eq!(t.read_into(&mut batch, 10, 10_000).expect("fits"), 4);
    }

    #[test]
    fn invalid_utf8_names_the_record_and_field() {
        let input = b"ok,fine\nx,\xFF\n\xC3,y\n";
        let mut t = Tokenizer::new(&input[..], 1024, 1 << 20);
        let mut batch = RawBatch::default();
        t.read_into(&mut batch, 10, 1000).expect("read");
        assert_eq!(batch.invalid_utf8(), [(1, 1), (2, 0)]);
        assert_eq!(batch.fields(1).count(), 2);
        assert_eq!(&batch.data[batch.byte_range(1)], b"x,\xFF");
    }
}
