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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use memmap2::{Advice, Mmap, MmapOptions, UncheckedAdvice};
use wiresift_capfile::ByteSource;

/// Files smaller than this are read: mapping has a fixed cost and saves nothing there.
const MIN_LEN: u64 = 8 << 20;
/// Pages behind the parser are released in steps of this many bytes.
const RELEASE_STEP: usize = 4 << 20;
const PAGE: usize = 4096;

/// How far ahead of the parser the page tables are filled.
const AHEAD: usize = 12 << 20;
/// Pages are filled in steps of this many bytes.
const POPULATE_STEP: usize = 2 << 20;

/// Lets go of the pages before `offset` (from `*released` on) once a step's worth has
/// accumulated, so that resident memory stays flat.
fn release(map: &Mmap, released: &mut usize, offset: usize) {
    let end = offset.min(map.len()) / PAGE * PAGE;
    if end >= *released + RELEASE_STEP {
        // SAFETY: MADV_DONTNEED on a shared, read-only file mapping drops only our page table
        // entries; later accesses fault the same file data back in from the page cache. No
        // reference into this range is alive: the reader only reports offsets before the
        // record it is about to return.
        #[allow(unsafe_code)]
        let _ = unsafe {
            map.unchecked_advise_range(UncheckedAdvice::DontNeed, *released, end - *released)
        };
        *released = end;
    }
}

/// A capture file mapped read-only.
pub struct MappedFile {
    map: Arc<Mmap>,
    released: usize,
    ahead: Option<Ahead>,
    /// Bytes up to here have been prefetched into this core's cache.
    prefetched: usize,
}

/// How far ahead of the frame being parsed its cache lines are requested: the hardware
/// prefetchers stop at every 4 KiB page of a mapping (its pages are not contiguous), and each
/// of the parser's first touches was then a miss to memory.
const PREFETCH_AHEAD: usize = 8 << 10;

/// Asks the CPU to bring `b` into its caches (a hint: no fault, no effect on results).
fn prefetch(b: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = b.as_ptr();
        let mut i = 0;
        while i < b.len() {
            // SAFETY: `_mm_prefetch` only hints the cache; it never faults and reads nothing
            // into the program. The pointer is inside `b`. SSE is part of x86_64.
            #[allow(unsafe_code)]
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    p.wrapping_add(i).cast(),
                );
            }
            i += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = b;
}

/// The thread that fills the page tables ahead of the parser (`MADV_POPULATE_READ`, Linux
/// 5.14+), so that the parser does not take a page fault every 64 KiB itself, and releases the
/// pages behind it: the page-table work happens on the other core, as the copies did when the
/// file was read on a thread.
struct Ahead {
    pos: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: std::thread::Thread,
    woken_at: usize,
}

impl Ahead {
    fn spawn(map: Arc<Mmap>) -> Option<Ahead> {
        let pos = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, st) = (pos.clone(), stop.clone());
        let h = std::thread::Builder::new()
            .name("populate".into())
            .spawn(move || {
                let len = map.len();
                let (mut done, mut released) = (0usize, 0usize);
                let mut populate = true;
                while !st.load(Ordering::Relaxed) {
                    let at = p.load(Ordering::Relaxed);
                    release(&map, &mut released, at);
                    done = done.max(at);
                    let end = (at + AHEAD).min(len);
                    if !populate || done >= end {
                        std::thread::park();
                        continue;
                    }
                    let n = (end - done).min(POPULATE_STEP);
                    if map.advise_range(Advice::PopulateRead, done, n).is_err() {
                        // An older kernel: the parser takes the faults itself; this thread
                        // still releases.
                        populate = false;
                        continue;
                    }
                    done += n;
                }
            })
            .ok()?;
        Some(Ahead {
            pos,
            stop,
            thread: h.thread().clone(),
            woken_at: 0,
        })
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        if let Some(a) = &self.ahead {
            a.stop.store(true, Ordering::Relaxed);
            a.thread.unpark();
        }
    }
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
        let map = Arc::new(map);
        let ahead = Ahead::spawn(map.clone());
        Ok(Some(MappedFile {
            map,
            released: 0,
            ahead,
            prefetched: 0,
        }))
    }
}

impl ByteSource for MappedFile {
    fn bytes(&self) -> &[u8] {
        &self.map
    }

    fn release_before(&mut self, offset: usize) {
        let want = (offset + PREFETCH_AHEAD).min(self.map.len());
        let from = self.prefetched.max(offset);
        if want > from {
            prefetch(&self.map[from..want]);
            self.prefetched = want;
        }
        if let Some(a) = self.ahead.as_mut() {
            if offset >= a.woken_at + POPULATE_STEP {
                a.pos.store(offset, Ordering::Relaxed);
                a.woken_at = offset;
                a.thread.unpark();
            }
            return;
        }
        release(&self.map, &mut self.released, offset);
    }
}
