//! Output helpers: atomic file writes, lazily created files, one-line errors.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Prints `tributary: error: <message>` on stderr.
pub fn error(message: &dyn std::fmt::Display) {
    eprintln!("tributary: error: {message}");
}

/// A file written under a temporary name and renamed into place only on [`AtomicFile::commit`], so a failed
/// run never leaves a half-written file where a complete one is expected.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> io::Result<Self> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp)?;
        Ok(Self {
            tmp,
            dest: dest.to_owned(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take();
        let done = file.map_or(Ok(()), |mut f| {
            f.flush()?;
            f.get_ref().sync_all()
        });
        let done = done.and_then(|()| std::fs::rename(&self.tmp, &self.dest));
        if done.is_err() {
            // Nothing is left behind under the temporary name either.
            let _ = std::fs::remove_file(&self.tmp);
        }
        done
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().map_or_else(
            || Err(io::Error::other("file already committed")),
            |f| f.write(buf),
        )
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A file created on first write: no rejected rows, no quarantine file.
#[derive(Debug)]
pub struct LazyFile {
    path: PathBuf,
    file: Option<BufWriter<File>>,
}

impl LazyFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path, file: None }
    }

    pub fn created(&self) -> bool {
        self.file.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.file.is_none() {
            self.file = Some(BufWriter::new(File::create(&self.path)?));
        }
        self.file
            .as_mut()
            .map_or_else(|| Err(io::Error::other("unreachable")), |f| f.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}
