//! An opened capture for interactive use (the browser UI): a frame index built on a thread of
//! its own, pages of packet-list rows made again from the file, display filters as frame sets
//! (cached), the detail tree with byte ranges, follow, and statistics.
//!
//! Memory is the index (32 bytes a frame, [`index::Entry`]), the cached frame sets and bounded
//! buffers; frames are read from the file when a page, a detail or a follow needs them. Every
//! field, filter and stream comes from the same crates as the command line ([`pipeline`]).
#![forbid(unsafe_code)]

pub mod classify;
pub mod colors;
pub mod detail;
pub mod follow;
pub mod index;
pub mod info;
pub mod objects;
pub mod pipeline;
mod registry;
pub mod rows;
pub mod save;
pub mod stats;
pub mod tree;
pub mod view;

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use wiresift_capfile::{Frame, LinkType};

pub use registry::registry;
pub use rows::{Row, Rows, TimeDisplay};
pub use view::FilterOutcome;

use index::{Entry, Indexed};

/// What went wrong, and whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The user's display filter does not compile.
    #[error("bad display filter: {message}")]
    BadFilter {
        /// 0-based character column of the error.
        column: usize,
        message: String,
        /// The expression with a caret under the column, as the CLI prints it.
        rendered: String,
    },
    #[error("no frame {0} in this capture")]
    NoSuchFrame(u64),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The capture file itself (not a readable capture, damaged).
    #[error("{0}")]
    Capture(String),
    /// Keys the user gave that cannot be used.
    #[error("{0}")]
    BadKeys(String),
    /// A request the session cannot answer as asked (e.g. a stream that does not exist).
    #[error("{0}")]
    Invalid(String),
}

impl SessionError {
    fn io(what: impl Into<String>, source: std::io::Error) -> SessionError {
        SessionError::Io {
            what: what.into(),
            source,
        }
    }
    /// True when the caller (the user's request) is at fault, not the server.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, SessionError::Io { .. })
    }
}

/// TLS secrets given to a session, kept as text so every pass builds its own key store.
#[derive(Clone, Default)]
pub struct KeyMaterial {
    pub keylogs: Vec<Vec<u8>>,
    /// RSA private keys: PEM text, origin name, and the server they apply to (or all).
    pub rsa: Vec<(String, String, Option<std::net::SocketAddr>)>,
}

impl KeyMaterial {
    pub fn is_empty(&self) -> bool {
        self.keylogs.is_empty() && self.rsa.is_empty()
    }
    /// A key store for one pass (None when there are no keys).
    pub fn store(&self) -> Result<Option<wiresift_tls::KeyStore>, SessionError> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut k = wiresift_tls::KeyStore::new();
        for t in &self.keylogs {
            k.keylog.add_text(t);
        }
        for (pem, origin, scope) in &self.rsa {
            k.rsa.push(
                wiresift_tls::RsaKey::from_pem(pem, origin, *scope)
                    .map_err(|e| SessionError::BadKeys(e.to_string()))?,
            );
        }
        Ok(Some(k))
    }
}

/// Indexing progress, as the status bar shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub frames: u64,
    pub bytes: u64,
    pub total_bytes: u64,
    pub done: bool,
    pub error: Option<String>,
    pub elapsed_ms: u64,
    pub keylogs: usize,
    pub rsa_keys: usize,
    pub marked: u64,
}

/// One opened capture.
pub struct Session {
    /// What the user opened (shown in tabs and titles).
    pub name: String,
    /// The file read: the capture itself, or its decompressed copy in the spool.
    path: PathBuf,
    file: File,
    spooled: Option<PathBuf>,
    keys: Mutex<KeyMaterial>,
    indexed: RwLock<Arc<Indexed>>,
    views: view::Cache,
    marks: Mutex<Vec<u64>>,
    ifnames: std::collections::HashMap<u32, String>,
    colorizer: colors::Colorizer,
}

impl Drop for Session {
    fn drop(&mut self) {
        objects::release(self);
        self.current()
            .progress
            .cancel
            .store(true, Ordering::Relaxed);
        if let Some(p) = &self.spooled {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Session {
    /// Opens `path` and starts indexing it. A gzip-compressed capture is first decompressed
    /// into `spool_dir` (frames are read again at random places, which gzip cannot do).
    pub fn open(path: &Path, name: &str, spool_dir: &Path) -> Result<Session, SessionError> {
        let mut f =
            File::open(path).map_err(|e| SessionError::io(path.display().to_string(), e))?;
        let mut magic = [0u8; 2];
        let n = f.read(&mut magic).unwrap_or(0);
        let (path, file, spooled) = if n == 2 && magic == [0x1f, 0x8b] {
            let out = spool_file(spool_dir, name)?;
            let mut dec = flate2::read::MultiGzDecoder::new(
                File::open(path).map_err(|e| SessionError::io(path.display().to_string(), e))?,
            );
            let mut w =
                File::create(&out).map_err(|e| SessionError::io(out.display().to_string(), e))?;
            std::io::copy(&mut dec, &mut w).map_err(|e| {
                let _ = std::fs::remove_file(&out);
                SessionError::Capture(format!("{}: cannot decompress: {e}", path.display()))
            })?;
            let file =
                File::open(&out).map_err(|e| SessionError::io(out.display().to_string(), e))?;
            (out.clone(), file, Some(out))
        } else {
            (path.to_path_buf(), f, None)
        };
        // Fail early, with the reader's own words, on something that is not a capture.
        wiresift_capfile::CaptureReader::open(&path)
            .map_err(|e| SessionError::Capture(format!("{name}: {e}")))?;
        let total = file.metadata().map(|m| m.len()).unwrap_or(0);
        let indexed = index::spawn(path.clone(), None, total);
        Ok(Session {
            name: name.to_string(),
            path,
            file,
            spooled,
            keys: Mutex::new(KeyMaterial::default()),
            indexed: RwLock::new(indexed),
            views: view::Cache::default(),
            marks: Mutex::new(Vec::new()),
            ifnames: rows::local_ifnames(),
            colorizer: colors::Colorizer::new(registry()),
        })
    }

    /// The file frames are read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current index (replaced when keys are added).
    pub fn current(&self) -> Arc<Indexed> {
        match self.indexed.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    pub fn keys(&self) -> KeyMaterial {
        self.keys.lock().map(|k| k.clone()).unwrap_or_default()
    }

    /// Whether any TLS secret is known: keys given, or Decryption Secrets Blocks in the file.
    pub fn has_tls_keys(&self) -> bool {
        !self.keys().is_empty()
            || self
                .current()
                .data
                .read()
                .is_ok_and(|d| !d.dsb_keylog.is_empty())
    }

    /// The keys given plus the capture's own Decryption Secrets Blocks: for passes that read
    /// frames by offset (detail, follow) and so never meet those blocks in the file.
    pub(crate) fn keys_with_dsb(&self) -> Result<Option<wiresift_tls::KeyStore>, SessionError> {
        let mut k = self.keys();
        if let Ok(d) = self.current().data.read() {
            k.keylogs.extend(d.dsb_keylog.iter().cloned());
        }
        k.store()
    }

    /// Adds TLS secrets and indexes again with them: decrypted data then reaches the rows,
    /// the filters, the detail, follow and the objects.
    pub fn add_keys(&self, add: KeyMaterial) -> Result<(), SessionError> {
        let mut all = self.keys();
        all.keylogs.extend(add.keylogs);
        all.rsa.extend(add.rsa);
        let store = all.store()?;
        if let Ok(mut k) = self.keys.lock() {
            *k = all;
        }
        let total = self.current().total_bytes;
        let fresh = index::spawn(self.path.clone(), store, total);
        let old = match self.indexed.write() {
            Ok(mut g) => std::mem::replace(&mut *g, fresh),
            Err(p) => std::mem::replace(&mut *p.into_inner(), fresh),
        };
        old.progress.cancel.store(true, Ordering::Relaxed);
        self.views.clear();
        Ok(())
    }

    pub fn status(&self) -> Status {
        let ix = self.current();
        let p = &ix.progress;
        let keys = self.keys();
        Status {
            frames: p.frames.load(Ordering::Acquire),
            bytes: p.bytes.load(Ordering::Relaxed),
            total_bytes: ix.total_bytes,
            done: p.done.load(Ordering::Acquire),
            error: p.error.lock().ok().and_then(|e| e.clone()),
            elapsed_ms: p.elapsed_ms.load(Ordering::Relaxed),
            keylogs: keys.keylogs.len(),
            rsa_keys: keys.rsa.len(),
            marked: self.marked_count(),
        }
    }

    /// Blocks until the index is complete (tests, benchmarks and whole-capture statistics).
    pub fn wait_indexed(&self) {
        let ix = self.current();
        while !ix.progress.done.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Reads frame `n` from the file: its index entry, link type and bytes.
    pub fn read_frame(&self, n: u64) -> Result<(Entry, LinkType, Vec<u8>), SessionError> {
        let ix = self.current();
        let d = ix
            .data
            .read()
            .map_err(|_| SessionError::Invalid("index poisoned".into()))?;
        let e = *d.get(n).ok_or(SessionError::NoSuchFrame(n))?;
        let link = d
            .interfaces
            .get(e.iface() as usize)
            .map(|i| i.link)
            .unwrap_or(LinkType::ETHERNET);
        drop(d);
        let mut buf = vec![0u8; e.cap_len() as usize];
        self.file
            .read_exact_at(&mut buf, e.offset())
            .map_err(|err| {
                SessionError::io(
                    format!("reading frame {n} at byte offset {}", e.offset()),
                    err,
                )
            })?;
        Ok((e, link, buf))
    }

    /// Reads frame `n` and hands it to `f` as a [`Frame`] with its index entry.
    pub(crate) fn with_frame<R>(
        &self,
        n: u64,
        f: impl FnOnce(&Frame<'_>, &Entry) -> R,
    ) -> Result<R, SessionError> {
        let (e, link, data) = self.read_frame(n)?;
        let frame = Frame {
            number: n,
            ts: e.ts,
            link,
            iface: e.iface(),
            orig_len: e.orig_len,
            data: &data,
        };
        Ok(f(&frame, &e))
    }

    /// Reads several frames (in the order given) and hands each to `f` as a [`Frame`].
    pub(crate) fn for_frames(
        &self,
        frames: &[u64],
        mut f: impl FnMut(&Frame<'_>, &Entry),
    ) -> Result<(), SessionError> {
        for &n in frames {
            self.with_frame(n, &mut f)?;
        }
        Ok(())
    }

    /// Marks or unmarks frames (Wireshark's Ctrl+M); returns the number marked.
    pub fn set_marks(&self, frames: &[u64], marked: bool) -> u64 {
        if let Ok(mut m) = self.marks.lock() {
            for &n in frames {
                let (w, b) = ((n / 64) as usize, n % 64);
                if w >= m.len() {
                    if !marked || n > self.status_frames() {
                        continue;
                    }
                    m.resize(w + 1, 0);
                }
                if marked {
                    m[w] |= 1 << b;
                } else {
                    m[w] &= !(1 << b);
                }
            }
        }
        self.marked_count()
    }

    pub fn clear_marks(&self) {
        if let Ok(mut m) = self.marks.lock() {
            m.clear();
        }
    }

    pub fn is_marked(&self, n: u64) -> bool {
        self.marks
            .lock()
            .ok()
            .and_then(|m| m.get((n / 64) as usize).map(|w| w & (1 << (n % 64)) != 0))
            .unwrap_or(false)
    }

    pub fn marked_frames(&self) -> Vec<u64> {
        let Ok(m) = self.marks.lock() else {
            return Vec::new();
        };
        let mut v = Vec::new();
        for (i, w) in m.iter().enumerate() {
            let mut w = *w;
            while w != 0 {
                let b = w.trailing_zeros();
                v.push(i as u64 * 64 + u64::from(b));
                w &= w - 1;
            }
        }
        v
    }

    fn marked_count(&self) -> u64 {
        self.marks
            .lock()
            .map(|m| m.iter().map(|w| u64::from(w.count_ones())).sum())
            .unwrap_or(0)
    }

    fn status_frames(&self) -> u64 {
        self.current().progress.frames.load(Ordering::Acquire)
    }
}

/// Opens a capture for one front-to-back pass: mapped (no copy through the kernel or the
/// reader's buffer, pages released behind the parser) when it is a large regular file, as
/// the CLI's exports read, else by the reader's own thread.
pub fn open_reader(
    path: &Path,
) -> Result<wiresift_capfile::CaptureReader, wiresift_capfile::ReadError> {
    use wiresift_capfile::{ByteSource, CaptureReader};
    if std::env::var_os("WIRESIFT_NO_MMAP").is_none()
        && let Ok(Some(m)) = wiresift_capture::mapped::MappedFile::open(path)
        && !m.bytes().starts_with(&[0x1f, 0x8b])
    {
        return CaptureReader::from_bytes(Box::new(m));
    }
    CaptureReader::open(path)
}

/// A fresh spool file name for `name` in `dir`.
pub fn spool_file(dir: &Path, name: &str) -> Result<PathBuf, SessionError> {
    std::fs::create_dir_all(dir).map_err(|e| SessionError::io(dir.display().to_string(), e))?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    for i in 0..10_000u32 {
        let p = dir.join(format!("{}-{i}-{safe}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SessionError::io(p.display().to_string(), e)),
        }
    }
    Err(SessionError::Invalid("no free spool file name".into()))
}
