//! Capture files mapped into memory instead of read.
//!
//! Reading copies every byte of the file out of the page cache (on the benchmark, a fifth of
//! all the CPU time of an export on two cores). A shared read-only mapping lets the parser look
//! at the page cache directly. Two things keep it honest:
//!
//! * **Memory.** Pages of a mapping count as the process's resident memory once touched, so
//!   the pages behind the parser are let go (`MADV_DONTNEED`, which on a shared read-only
//!   mapping only drops our page-table entries; the page cache keeps the data) every few MiB:
//!   resident memory stays flat, whatever the file size.
//! * **Safety.** The mapping is read-only and shared, never written through. The one hazard
//!   of mapping a file is another process truncating it while it is mapped (the kernel then
//!   raises SIGBUS on access); so only regular files are mapped, and a file that shrinks between
//!   `open` and mapping is read normally. Growth after mapping is simply not seen (as if the
//!   file had been read to its length at start).

use std::fs::File;
use std::io;
use std::path::Path;

use memmap2::{Advice, Mmap, MmapOptions, UncheckedAdvice};
use wiresift_capfile::ByteSource;

/// Files smaller than this are read: mapping has a fixed cost and saves nothing there.
const MIN_LEN: u64 = 8 << 20;
/// Pages behind the parser are released in steps of this many bytes.
const RELEASE_STEP: usize = 8 << 20;
const PAGE: usize = 4096;

/// A capture file mapped read-only.
pub struct MappedFile {
    map: Mmap,
    released: usize,
}

impl MappedFile {
    /// Maps `path` if it is a regular file of at least 8 MiB; `None` otherwise (read it).
    pub fn open(path: &Path) -> io::Result<Option<MappedFile>> {
        let f = File::open(path)?;
        let md = f.metadata()?;
        if !md.is_file() || md.len() < MIN_LEN {
            return Ok(None);
        }
        let len = usize::try_from(md.len()).map_err(io::Error::other)?;
        // SAFETY: a read-only shared mapping of a regular file, never written through; the
        // only hazard (truncation by another process while mapped) is documented above. The
        // length is the size just read, so no page beyond the file is mapped.
        #[allow(unsafe_code)]
        let map = unsafe { MmapOptions::new().len(len).map(&f)? };
        if f.metadata()?.len() < md.len() {
            return Ok(None); // shrinking under us: read it instead
        }
        let _ = map.advise(Advice::Sequential);
        Ok(Some(MappedFile { map, released: 0 }))
    }
}

impl ByteSource for MappedFile {
    fn bytes(&self) -> &[u8] {
        &self.map
    }

    fn release_before(&mut self, offset: usize) {
        let end = offset.min(self.map.len()) / PAGE * PAGE;
        if end >= self.released + RELEASE_STEP {
            // SAFETY: MADV_DONTNEED on a shared, read-only file mapping drops only our page
            // table entries; later accesses fault the same file data back in from the page
            // cache. No reference into this range is alive: the reader only asks for ranges
            // before the record it is about to return.
            #[allow(unsafe_code)]
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    UncheckedAdvice::DontNeed,
                    self.released,
                    end - self.released,
                )
            };
            self.released = end;
        }
    }
}
