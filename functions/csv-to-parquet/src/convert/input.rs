//! Input: gzip detection by the bytes, byte counting, and header names.

use super::*;

pub(super) struct Counting<R> {
    pub(super) inner: R,
    pub(super) count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

pub(super) const BUF: usize = 256 * 1024;

impl From<TokenizeError> for ConvertError {
    fn from(e: TokenizeError) -> Self {
        match e {
            TokenizeError::Io(e) => Self::Read(e),
            TokenizeError::RecordTooLarge { line, limit } => Self::RecordTooLarge { line, limit },
        }
    }
}

/// Opens the text stream: gunzips when the bytes start with the gzip magic, whatever the name says. (The
/// tokenizer drops a UTF-8 byte-order mark.)
pub(super) fn open<'a, R: Read + 'a>(
    input: R,
    count: Rc<Cell<u64>>,
) -> Result<Box<dyn Read + 'a>, ConvertError> {
    // A small buffer, only to look at the first bytes: the tokenizer's larger reads then bypass it.
    let mut raw = BufReader::with_capacity(
        8 * 1024,
        Counting {
            inner: input,
            count,
        },
    );
    let head = raw.fill_buf().map_err(ConvertError::Read)?;
    if head.is_empty() {
        return Err(ConvertError::Empty);
    }
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    })
}

/// Header names: trimmed, blanks named `column_N`, duplicates suffixed `_2`, `_3`, ...
pub(super) fn header_names<'f>(
    fields: impl Iterator<Item = &'f [u8]>,
) -> Result<Vec<String>, ConvertError> {
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, field) in fields.enumerate() {
        let text = std::str::from_utf8(field).map_err(|_| ConvertError::HeaderNotUtf8)?;
        let base = match trim(text) {
            "" => format!("column_{}", i + 1),
            t => t.to_owned(),
        };
        let mut name = base.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    Ok(names)
}
