//! The thread that owns `follow --split`'s files.
//!
//! Parsing and reassembly run on the caller's thread; the kernel's copy into the page cache
//! (about as much CPU as the parsing, on tmpfs) runs here, so the two overlap on two cores.
//! Commands travel in batches, and emptied buffers travel back to be reused: one message per
//! batch instead of per write keeps the threads from waking each other tens of thousands of
//! times, and reusing the buffers keeps the allocator from passing memory between threads
//! (glibc takes an arena lock for every cross-thread free).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::fastmap::FastMap;

/// A file of the split output: (stream, direction).
pub type FileKey = (u64, usize);

/// A command for the writer thread.
enum WriteCmd {
    /// Append `data` to the file of `key`; `name` on the first write creates it.
    Write {
        key: FileKey,
        name: Option<String>,
        data: Vec<u8>,
    },
    /// That direction is finished: close its file.
    Close(FileKey),
}

/// A batch is sent when it holds this many bytes...
const BATCH_BYTES: usize = 1 << 20;
/// ...or this many commands.
const BATCH_CMDS: usize = 1024;
/// Batches in flight: with [`BATCH_BYTES`], at most a few MiB queued.
const QUEUE: usize = 4;
/// Emptied buffers kept for reuse (those of at least [`POOL_BUF_MIN`] bytes and at most
/// [`POOL_BUF_MAX`]); the others are freed on the parser's thread.
const POOL_MAX: usize = 16;
const POOL_BUF_MIN: usize = 32 * 1024;
const POOL_BUF_MAX: usize = 256 * 1024;

/// The writer thread, its queue and the pool of returned buffers.
pub struct FileWriter {
    tx: Option<SyncSender<Vec<WriteCmd>>>,
    back: Receiver<Vec<Vec<u8>>>,
    handle: Option<std::thread::JoinHandle<io::Result<()>>>,
    batch: Vec<WriteCmd>,
    batch_bytes: usize,
    pool: Vec<Vec<u8>>,
}

impl FileWriter {
    /// Starts the thread; files are created in `dir`, at most `max_open` open at once (the
    /// least recently used half is closed when full and reopened in append mode later).
    pub fn spawn(dir: PathBuf, max_open: usize) -> FileWriter {
        let (tx, rx) = sync_channel::<Vec<WriteCmd>>(QUEUE);
        let (back_tx, back) = sync_channel::<Vec<Vec<u8>>>(2 * QUEUE + 2);
        let handle = std::thread::spawn(move || {
            let mut files = Files {
                dir,
                max_open,
                open: FastMap::default(),
                names: FastMap::default(),
                tick: 0,
            };
            let mut first_error: Option<io::Error> = None;
            for batch in rx {
                let mut emptied = Vec::with_capacity(batch.len());
                for cmd in batch {
                    if first_error.is_some() {
                        continue; // keep draining so the parser never blocks on a dead writer
                    }
                    let r = match cmd {
                        WriteCmd::Close(key) => {
                            files.open.remove(&key);
                            files.names.remove(&key);
                            Ok(())
                        }
                        WriteCmd::Write {
                            key,
                            name,
                            mut data,
                        } => {
                            let r = files.write(key, name, &data);
                            data.clear();
                            emptied.push(data);
                            r
                        }
                    };
                    if let Err(e) = r {
                        first_error = Some(e);
                    }
                }
                // Freed or reused by the parser; if it is gone or behind, freed here.
                let _ = back_tx.try_send(emptied);
            }
            first_error.map_or(Ok(()), Err)
        });
        FileWriter {
            tx: Some(tx),
            back,
            handle: Some(handle),
            batch: Vec::with_capacity(BATCH_CMDS),
            batch_bytes: 0,
            pool: Vec::new(),
        }
    }

    /// An empty buffer of at least [`POOL_BUF_MIN`] bytes, reused if one came back from the
    /// thread.
    pub fn buffer(&mut self) -> Vec<u8> {
        if self.pool.is_empty() {
            self.take_back();
        }
        self.pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(POOL_BUF_MIN * 2))
    }

    /// Takes the buffers the thread has emptied: some are kept, the rest freed here.
    fn take_back(&mut self) {
        while let Ok(bufs) = self.back.try_recv() {
            for b in bufs {
                if self.pool.len() < POOL_MAX
                    && (POOL_BUF_MIN..=POOL_BUF_MAX).contains(&b.capacity())
                {
                    self.pool.push(b);
                }
            }
        }
    }

    /// Queues `data` for the file of `key` (`name` creates it).
    pub fn write(&mut self, key: FileKey, name: Option<String>, data: Vec<u8>) -> io::Result<()> {
        self.batch_bytes += data.len();
        self.batch.push(WriteCmd::Write { key, name, data });
        self.maybe_send()
    }

    /// Queues the closing of the file of `key`.
    pub fn close(&mut self, key: FileKey) -> io::Result<()> {
        self.batch.push(WriteCmd::Close(key));
        self.maybe_send()
    }

    fn maybe_send(&mut self) -> io::Result<()> {
        if self.batch_bytes >= BATCH_BYTES || self.batch.len() >= BATCH_CMDS {
            self.send_batch()
        } else {
            Ok(())
        }
    }

    fn send_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_CMDS));
        self.batch_bytes = 0;
        self.take_back();
        match self.tx.as_ref().map(|tx| tx.send(batch)) {
            Some(Ok(())) => Ok(()),
            _ => Err(io::Error::other("the file writer has stopped")),
        }
    }

    /// Sends what is queued and waits for every write; returns the first write error.
    pub fn finish(mut self) -> io::Result<()> {
        self.send_batch()?;
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the file writer panicked")),
            None => Ok(()),
        }
    }
}

/// The writer thread's open files.
struct Files {
    dir: PathBuf,
    max_open: usize,
    /// Open files and their last use.
    open: FastMap<FileKey, (File, u64)>,
    /// Names of the files created and not yet closed for good.
    names: FastMap<FileKey, String>,
    tick: u64,
}

impl Files {
    fn write(&mut self, key: FileKey, name: Option<String>, data: &[u8]) -> io::Result<()> {
        self.tick += 1;
        let create = name.is_some();
        if let Some(n) = name {
            self.names.insert(key, n);
        }
        if !self.open.contains_key(&key) {
            if self.open.len() >= self.max_open {
                // Close the least recently used half at once.
                let mut uses: Vec<(u64, FileKey)> =
                    self.open.iter().map(|(k, (_, t))| (*t, *k)).collect();
                uses.sort_unstable();
                for (_, k) in uses.iter().take(self.max_open / 2) {
                    self.open.remove(k);
                }
            }
            let Some(n) = self.names.get(&key) else {
                return Err(io::Error::other("split writer: unknown file"));
            };
            let path = self.dir.join(n);
            let f = if create {
                File::create(&path)?
            } else {
                OpenOptions::new().append(true).open(&path)?
            };
            self.open.insert(key, (f, self.tick));
        }
        if let Some((f, t)) = self.open.get_mut(&key) {
            *t = self.tick;
            f.write_all(data)?;
        }
        Ok(())
    }
}
