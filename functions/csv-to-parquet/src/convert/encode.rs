//! The encoder stage: Arrow batches in, Parquet out.

use super::*;

pub(super) struct CountingWriter<W> {
    pub(super) inner: W,
    pub(super) count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes batches until `Done`, then the footer; returns the bytes written, or `None` when the reader gave up.
pub(super) fn encode<W: Write + Send>(
    rx: Receiver<Msg>,
    output: &mut W,
    schema: SchemaRef,
    props: WriterProperties,
) -> Result<Option<u64>, ConvertError> {
    let mut sink = CountingWriter {
        inner: output,
        count: 0,
    };
    let mut writer = ArrowWriter::try_new(&mut sink, schema, Some(props))?;
    loop {
        match rx.recv() {
            Ok(Msg::Batch(batch)) => writer.write(&batch)?,
            Ok(Msg::Done) => break,
            // The reader gave up: leave the output unfinished, the caller discards it.
            Err(_) => return Ok(None),
        }
    }
    writer.close()?;
    sink.flush().map_err(ConvertError::Write)?;
    Ok(Some(sink.count))
}
