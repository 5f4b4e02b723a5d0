//! Output helpers: atomic file writes, lazily created files, one-line errors.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// Prints `tributary: error: <message>` on stderr.
pub fn error(message: &dyn std::fmt::Display) {
    eprintln!("tributary: error: {message}");
}

/// A file written under a temporary name and renamed into place only on [`AtomicFile::commit`], so a failed
/// run never leaves a half-written file where a complete one is expected. Writes fill a buffer of [`BUF`] bytes.
/// The first [`THREAD_AFTER`] bytes are written as each buffer fills; after them, a thread of its own writes each
/// full buffer while the caller goes on (appending the row groups of a 540 MB Parquet file, most of it in these
/// writes, took the encoding thread 0.37 s; a small file, such as a batch's normalized events, is not worth a
/// thread and more buffers to fault in). That thread also has what is written synced after every [`SYNC_EVERY`]
/// bytes, at the first pause in the writes, by a third thread while writing goes on, so that the commit waits for
/// the last part only (a 540 MB Parquet file's one sync at the end took 0.17 s, 6 % of its conversion's wall
/// time). The commit then syncs the file to disk before the rename.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    /// The bytes not yet written, or handed to the writing thread.
    buf: Vec<u8>,
    /// `None` once committed, or once the thread has stopped on an error.
    sink: Option<Sink>,
    sync_every: u64,
    thread_after: u64,
    /// Background syncs asked for so far.
    syncs: Arc<AtomicU64>,
    /// Set by the commit, which renames or removes the file itself.
    committing: bool,
}

/// Where full buffers go: to the file, for its first bytes; then to the writing thread.
#[derive(Debug)]
enum Sink {
    Direct { file: File, written: u64 },
    Thread(Writer),
}

/// Bytes written, or handed to the writing thread, at once.
const BUF: usize = 1 << 20;

/// Bytes written directly before the writing thread starts.
const THREAD_AFTER: u64 = 16 << 20;

/// Full buffers waiting for the writing thread. A buffer is allocated only when no emptied one is back, so at most
/// five exist: the one being filled, one waiting to be queued, the queued ones and the one being written.
const QUEUE: usize = 2;

/// Bytes written between two background syncs: asked for at the first pause in the writes after them ([`PAUSE`]),
/// or after twice as many with no pause.
const SYNC_EVERY: u64 = 64 << 20;

/// No buffer to write for this long is a pause in the writes. A write that meets a running sync waits for it
/// (about 20 ms, at 64 MiB, on this machine's ext4), and a Parquet file is written in bursts, a row group at a
/// time: synced in the pause after a burst, the next one does not wait, and neither does the last, which nothing
/// else overlaps (on 1 GB of notes its writes had waited 19 ms of the 55 after the input's end).
const PAUSE: Duration = Duration::from_millis(2);

/// The thread that writes the file: full buffers in, in order; emptied ones back, to be filled again.
#[derive(Debug)]
struct Writer {
    full: SyncSender<Vec<u8>>,
    empty: Receiver<Vec<u8>>,
    done: JoinHandle<io::Result<File>>,
}

impl Writer {
    /// Starts writing to `file`, `unsynced` bytes already written to it.
    fn start(mut file: File, sync_every: u64, mut unsynced: u64, syncs: Arc<AtomicU64>) -> Self {
        let (full, to_write) = sync_channel::<Vec<u8>>(QUEUE);
        let (emptied, empty) = sync_channel(QUEUE + 1);
        let done = std::thread::spawn(move || {
            let mut syncer: Option<Syncer> = None;
            let mut ask_sync = |file: &File| {
                if syncer.is_none() {
                    // Without a thread (the handle could not be cloned) nothing is lost: the commit syncs it.
                    syncer = Syncer::start(file).ok();
                }
                // A sync still running is asked again only once; the commit's own sync covers the rest.
                if let Some(syncer) = &syncer
                    && syncer.ask.try_send(()).is_ok()
                {
                    syncs.fetch_add(1, Ordering::Relaxed);
                }
            };
            let written = (|| {
                loop {
                    let mut buf = match to_write.recv_timeout(PAUSE) {
                        Ok(buf) => buf,
                        // A pause in the writes (a Parquet row group appended): the time to sync what is written.
                        Err(RecvTimeoutError::Timeout) => {
                            if unsynced >= sync_every {
                                unsynced = 0;
                                ask_sync(&file);
                            }
                            match to_write.recv() {
                                Ok(buf) => buf,
                                Err(_) => break,
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    file.write_all(&buf)?;
                    unsynced += buf.len() as u64;
                    // Writes with no pause are synced too, only later.
                    if unsynced >= 2 * sync_every {
                        unsynced = 0;
                        ask_sync(&file);
                    }
                    buf.clear();
                    let _ = emptied.try_send(buf);
                }
                Ok(())
            })();
            // The background sync is waited for whatever happened, and its error counts.
            let synced = syncer.map_or(Ok(()), Syncer::finish);
            written.and(synced).map(|()| file)
        });
        Self { full, empty, done }
    }

    /// Waits for every buffer handed over to be written (and for the background sync); the file, or the first error.
    fn finish(self) -> io::Result<File> {
        drop(self.full);
        self.done
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the file's writing thread panicked")))
    }
}

/// A thread that syncs a file's data whenever asked, until the asking side is dropped.
#[derive(Debug)]
struct Syncer {
    ask: SyncSender<()>,
    done: JoinHandle<io::Result<()>>,
}

impl Syncer {
    fn start(file: &File) -> io::Result<Self> {
        let file = file.try_clone()?;
        let (ask, asked) = sync_channel::<()>(1);
        let done = std::thread::spawn(move || {
            for () in asked {
                file.sync_data()?;
            }
            Ok(())
        });
        Ok(Self { ask, done })
    }

    /// Waits for the sync under way, if any; the first sync's error.
    fn finish(self) -> io::Result<()> {
        drop(self.ask);
        self.done
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the file's sync thread panicked")))
    }
}

impl AtomicFile {
    pub fn create(dest: &Path) -> io::Result<Self> {
        Self::syncing_every(dest, SYNC_EVERY, THREAD_AFTER)
    }

    fn syncing_every(dest: &Path, sync_every: u64, thread_after: u64) -> io::Result<Self> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp)?;
        Ok(Self::over(
            file,
            tmp,
            dest.to_owned(),
            sync_every,
            thread_after,
        ))
    }

    /// Writes `file`; with `thread_after` 0, through the writing thread from the first byte.
    fn over(file: File, tmp: PathBuf, dest: PathBuf, sync_every: u64, thread_after: u64) -> Self {
        let syncs = Arc::new(AtomicU64::new(0));
        let sink = match thread_after {
            0 => Sink::Thread(Writer::start(file, sync_every, 0, Arc::clone(&syncs))),
            _ => Sink::Direct { file, written: 0 },
        };
        Self {
            tmp,
            dest,
            buf: Vec::with_capacity(BUF),
            sink: Some(sink),
            sync_every,
            thread_after,
            syncs,
            committing: false,
        }
    }

    pub fn commit(mut self) -> io::Result<()> {
        self.committing = true;
        let done = self
            .flush()
            .and_then(|()| match self.sink.take() {
                Some(Sink::Direct { file, .. }) => Ok(file),
                Some(Sink::Thread(writer)) => writer.finish(),
                None => Err(stopped()),
            })
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::rename(&self.tmp, &self.dest));
        if done.is_err() {
            // Nothing is left behind under the temporary name either.
            let _ = std::fs::remove_file(&self.tmp);
        }
        done
    }

    /// Writes the buffer, or hands it to the writing thread and takes an empty one; the thread's error if it has
    /// stopped.
    fn hand(&mut self) -> io::Result<()> {
        let writer = match &mut self.sink {
            None => return Err(stopped()),
            Some(Sink::Thread(writer)) => writer,
            Some(Sink::Direct { file, written }) => {
                if let Err(e) = file.write_all(&self.buf) {
                    // As when the thread stops: every later write, and the commit, fail too (the buffer, partly
                    // written, is never written again).
                    self.sink = None;
                    return Err(e);
                }
                *written += self.buf.len() as u64;
                self.buf.clear();
                if *written >= self.thread_after
                    && let Some(Sink::Direct { file, written }) = self.sink.take()
                {
                    let syncs = Arc::clone(&self.syncs);
                    let writer = Writer::start(file, self.sync_every, written, syncs);
                    self.sink = Some(Sink::Thread(writer));
                }
                return Ok(());
            }
        };
        let next = writer
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUF));
        let full = std::mem::replace(&mut self.buf, next);
        if writer.full.send(full).is_ok() {
            return Ok(());
        }
        // The thread stopped on an error, which is this write's.
        match self.sink.take() {
            Some(Sink::Thread(writer)) => writer.finish().and(Err(stopped())),
            _ => Err(stopped()),
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("the file's writing thread has stopped")
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.sink.is_none() {
            return Err(stopped());
        }
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= BUF {
            self.hand()?;
        }
        Ok(buf.len())
    }

    /// Writes what is buffered, or hands it to the writing thread without waiting for it: only
    /// [`AtomicFile::commit`] says that the file is written (and synced).
    fn flush(&mut self) -> io::Result<()> {
        match self.buf.is_empty() {
            true => Ok(()),
            false => self.hand(),
        }
    }
}

impl Drop for AtomicFile {
    /// Uncommitted, the file goes (once its thread is done with it). A commit leaves nothing to do: the file was
    /// renamed, or removed when the commit failed.
    fn drop(&mut self) {
        if let Some(Sink::Thread(writer)) = self.sink.take() {
            let _ = writer.finish();
        }
        if !self.committing {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Written well past several background syncs, the file lands whole under its name and nothing is left
    /// under the temporary one; dropped uncommitted, it leaves nothing at all.
    #[test]
    fn an_atomic_file_synced_as_it_goes_lands_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dest = dir.path().join("out.bin");
        let data: Vec<u8> = (0..3_000_003_u32).map(|i| (i % 251) as u8).collect();
        // The thread takes over after the first 1 MiB.
        let mut file = AtomicFile::syncing_every(&dest, 256 * 1024, 1 << 20).expect("create");
        for part in data.chunks(70_001) {
            file.write_all(part).expect("write");
        }
        let syncs = Arc::clone(&file.syncs);
        file.commit().expect("commit");
        assert!(syncs.load(Ordering::Relaxed) > 0, "a background sync ran");
        assert_eq!(std::fs::read(&dest).expect("read"), data);
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(names.len(), 1);

        let other = dir.path().join("dropped.bin");
        let mut file = AtomicFile::syncing_every(&other, 1024, 0).expect("create");
        file.write_all(&data[..100_000]).expect("write");
        drop(file);
        assert!(!other.exists());
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    /// A write that fails, directly or on the writing thread, fails that write, a later one or the commit, then
    /// every later write and the commit, and leaves no file behind.
    #[test]
    fn a_failed_write_fails_the_file_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cases = [
            (8 * BUF, false, 0),
            (10, true, 0),
            (8 * BUF, false, THREAD_AFTER),
            (10, true, THREAD_AFTER),
        ];
        for (written, commit, thread_after) in cases {
            let dest = dir.path().join("out.bin");
            let tmp = dir.path().join(".out.bin.tmp");
            std::fs::write(&tmp, b"").expect("create");
            // Opened for reading only: every write the thread makes fails.
            let read_only = File::open(&tmp).expect("open");
            let mut file = AtomicFile::over(
                read_only,
                tmp.clone(),
                dest.clone(),
                SYNC_EVERY,
                thread_after,
            );
            let wrote = vec![7; written]
                .chunks(1000)
                .try_for_each(|part| file.write_all(part));
            let failed = match (wrote, commit) {
                (Ok(()), true) => file.commit(),
                (Err(e), _) => {
                    assert!(file.write_all(b"x").is_err(), "a failed file takes no more");
                    assert!(file.commit().is_err(), "nor commits");
                    Err(e)
                }
                (Ok(()), false) => Ok(()),
            };
            assert!(
                failed.is_err(),
                "the error is the caller's ({written} bytes, commit {commit}, thread after {thread_after}): {failed:?}"
            );
            assert!(!dest.exists() && !tmp.exists(), "nothing left behind");
        }
    }
}
