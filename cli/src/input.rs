//! Whole files read into memory: a large one into memory that can take transparent huge pages.

use memmap2::{MmapMut, MmapOptions};
use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::Path;

/// From this size on (two huge pages), a file is read into an anonymous mapping advised to take transparent
/// huge pages. Read into a `Vec`'s 4 KiB pages, a 10 MB Kinesis event takes 2,600 page faults, each a page
/// allocated, zeroed and mapped: that read took 7.5 ms of CPU here, and 4.2 ms into the mapping. A kernel whose
/// `transparent_hugepage/enabled` is `madvise` or `always` (the usual settings) gives them; one set to `never`
/// gives none, and the mapping then costs what the `Vec` does.
const MAPPED_FROM: u64 = 4 << 20;

/// The size of a huge page (x86_64, and arm64 with 4 KiB pages, as Lambda's are).
const HUGE_PAGE: usize = 2 << 20;

/// A file's bytes.
pub enum Whole {
    Heap(Vec<u8>),
    /// `map[start..start + len]`: `start` is where the mapping's first whole huge page begins.
    Mapped {
        map: MmapMut,
        start: usize,
        len: usize,
    },
}

impl Deref for Whole {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Whole::Heap(bytes) => bytes,
            Whole::Mapped { map, start, len } => &map[*start..start + len],
        }
    }
}

/// The whole file at `path`. A file that grows while it is read is read to its end all the same.
pub fn read(path: &Path) -> io::Result<Whole> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    read_sized(file, size)
}

/// The rest of `file`, which was `size` bytes long when last looked at.
fn read_sized(mut file: File, size: u64) -> io::Result<Whole> {
    if size < MAPPED_FROM {
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        return Ok(Whole::Heap(bytes));
    }
    // One byte more than the size, to see a file that grew; in whole huge pages from a huge page's start, so
    // that none of it is left to small pages (the mapping itself starts on a small page's boundary).
    let room = usize::try_from(size)
        .ok()
        .and_then(|s| s.checked_add(1))
        .ok_or_else(|| io::Error::other("the file is larger than memory can address"))?;
    let span = room.div_ceil(HUGE_PAGE) * HUGE_PAGE;
    let mut map = MmapOptions::new().len(span + HUGE_PAGE).map_anon()?;
    let start = map.as_ptr().addr().next_multiple_of(HUGE_PAGE) - map.as_ptr().addr();
    // Advice only: a kernel without transparent huge pages refuses it, and the read goes on in small pages.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    let mut len = 0;
    while len < room {
        match file.read(&mut map[start + len..start + room]) {
            Ok(0) => return Ok(Whole::Mapped { map, start, len }),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // It grew past its size: the rest goes on the heap.
    let mut bytes = map[start..start + len].to_vec();
    file.read_to_end(&mut bytes)?;
    Ok(Whole::Heap(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(&bytes).expect("write");
        (f, bytes)
    }

    #[test]
    fn small_and_large_files_read_whole() {
        for len in [
            0,
            1,
            4096,
            MAPPED_FROM as usize - 1,
            MAPPED_FROM as usize,
            9_999_991,
        ] {
            let (f, bytes) = file_of(len);
            let read = read(f.path()).expect("read");
            assert_eq!(
                matches!(read, Whole::Mapped { .. }),
                len as u64 >= MAPPED_FROM,
                "{len} bytes"
            );
            assert!(*read == *bytes, "{len} bytes read back differently");
        }
    }

    #[test]
    fn a_file_that_grew_since_its_size_was_taken_is_read_to_its_end() {
        let (f, bytes) = file_of(MAPPED_FROM as usize + 5000);
        let file = File::open(f.path()).expect("open");
        let read = read_sized(file, MAPPED_FROM).expect("read");
        assert!(matches!(read, Whole::Heap(_)));
        assert!(*read == *bytes);
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let e = read(&dir.path().join("absent.json")).err().expect("error");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
