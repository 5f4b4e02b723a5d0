//! Replaying quarantined rows after their dataset's schema changed: the quarantine CSV (`_line,_reason,<input
//! columns…>`, then each rejected row's original fields) becomes the CSV its rows came from, so the converter
//! types it by the dataset's current version; rows that still do not fit are quarantined again with fresh reasons
//! and their original line numbers.
//!
//! Quarantine objects are small by construction (at most `MAX_REJECT_RATIO` of a file that passed its quality
//! gate), so a replay holds one in memory, up to [`MAX_REPLAY_BYTES`].

use std::io::{self, Read};

/// The largest quarantine object a replay reads.
pub const MAX_REPLAY_BYTES: u64 = 256 * 1024 * 1024;

/// Why a quarantine file cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("not a quarantine file: its header does not start with _line,_reason")]
    NotQuarantine,
    #[error("the quarantine file is larger than {MAX_REPLAY_BYTES} bytes")]
    TooLarge,
    #[error("reading the quarantine file: {0}")]
    Read(#[from] io::Error),
    #[error("the quarantine file is not valid CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// A quarantine file turned back into its rows' CSV.
#[derive(Debug)]
pub struct Unwrapped {
    /// The original header and the rows' original fields.
    pub csv: Vec<u8>,
    /// For each physical line a record of `csv` starts on, the line it had in the original file.
    lines: Vec<(u64, String)>,
}

/// Reads a quarantine file (at most [`MAX_REPLAY_BYTES`]).
pub fn unwrap(input: impl Read) -> Result<Unwrapped, ReplayError> {
    let mut bytes = Vec::new();
    input.take(MAX_REPLAY_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_REPLAY_BYTES {
        return Err(ReplayError::TooLarge);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let mut records = reader.byte_records();
    let header = records.next().ok_or(ReplayError::NotQuarantine)??;
    if header.get(0) != Some(b"_line") || header.get(1) != Some(b"_reason") {
        return Err(ReplayError::NotQuarantine);
    }
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(bytes.len()));
    writer.write_record(header.iter().skip(2))?;
    writer.flush()?;
    let mut line = 2_u64;
    let mut lines = Vec::new();
    for record in records {
        let record = record?;
        let original = String::from_utf8_lossy(record.get(0).unwrap_or_default()).into_owned();
        lines.push((line, original));
        let before = writer.get_ref().len();
        writer.write_record(record.iter().skip(2))?;
        writer.flush()?;
        line += memchr::memchr_iter(b'\n', &writer.get_ref()[before..]).count() as u64;
    }
    let csv = writer
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Unwrapped { csv, lines })
}

impl Unwrapped {
    /// The original line of the record that starts on `line` of [`Unwrapped::csv`].
    pub fn original_line(&self, line: u64) -> Option<&str> {
        self.lines
            .binary_search_by_key(&line, |(l, _)| *l)
            .ok()
            .map(|i| self.lines[i].1.as_str())
    }

    /// A replay's quarantine (lines of [`Unwrapped::csv`]) with each row's `_line` put back to its original line.
    pub fn restore_lines(&self, quarantine: &[u8]) -> Result<Vec<u8>, ReplayError> {
        if quarantine.is_empty() {
            return Ok(Vec::new());
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(quarantine);
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::with_capacity(quarantine.len()));
        for (i, record) in reader.byte_records().enumerate() {
            let record = record?;
            let line = std::str::from_utf8(record.get(0).unwrap_or_default())
                .ok()
                .and_then(|l| l.parse().ok());
            match (i, line.and_then(|l| self.original_line(l))) {
                (0, _) | (_, None) => writer.write_byte_record(&record)?,
                (_, Some(original)) => {
                    writer.write_field(original)?;
                    for field in record.iter().skip(1) {
                        writer.write_field(field)?;
                    }
                    writer.write_record(None::<&[u8]>)?;
                }
            }
        }
        writer
            .into_inner()
            .map_err(|e| ReplayError::Read(io::Error::other(e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUARANTINE: &str = "_line,_reason,order_id,qty,note\n\
        3,\"column \"\"qty\"\": \"\"x1\"\" is not a valid int64\",7,x1,plain\n\
        9,\"column \"\"qty\"\": \"\"2.5\"\" is not a valid int64\",8,2.5,\"two\nlines\"\n\
        12,\"expected 3 fields, found 2\",9,1\n\
        15,\"column \"\"qty\"\": \"\"y\"\" is not a valid int64\",10,y,last\n";

    #[test]
    fn the_rows_come_back_as_their_original_csv() {
        let u = unwrap(QUARANTINE.as_bytes()).expect("quarantine");
        assert_eq!(
            String::from_utf8(u.csv.clone()).expect("utf-8"),
            "order_id,qty,note\n7,x1,plain\n8,2.5,\"two\nlines\"\n9,1\n10,y,last\n"
        );
        // Records start on lines 2, 3, 5 (the quoted newline takes a line) and 6.
        assert_eq!(u.original_line(2), Some("3"));
        assert_eq!(u.original_line(3), Some("9"));
        assert_eq!(u.original_line(5), Some("12"));
        assert_eq!(u.original_line(6), Some("15"));
        assert_eq!(u.original_line(4), None);
    }

    #[test]
    fn rows_quarantined_again_keep_their_original_lines() {
        let u = unwrap(QUARANTINE.as_bytes()).expect("quarantine");
        let again = "_line,_reason,order_id,qty,note\n5,expected 3 fields,9,1\n6,bad,10,y,last\n";
        let restored = u.restore_lines(again.as_bytes()).expect("restored");
        assert_eq!(
            String::from_utf8(restored).expect("utf-8"),
            "_line,_reason,order_id,qty,note\n12,expected 3 fields,9,1\n15,bad,10,y,last\n"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(matches!(
            unwrap("order_id,qty\n1,2\n".as_bytes()),
            Err(ReplayError::NotQuarantine)
        ));
        assert!(matches!(unwrap(&b""[..]), Err(ReplayError::NotQuarantine)));
    }
}
