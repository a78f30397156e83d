//! Object files written, hashed and listed in the manifest on a thread of their own.
//!
//! An export spends as much time in SHA-256 and in the kernel's copy into the page cache as in
//! parsing (a third of `export http` on the benchmark workload each). Here the parser hands the
//! bytes over and goes on; this thread creates the files, writes them, hashes them and writes
//! `manifest.jsonl`. One queue carries everything in order, so a manifest record sent after
//! an object's file was closed is written once that file's digest is known: the record carries
//! placeholders ([`fact`]) that this thread replaces with the file's final name and SHA-256.
//!
//! Commands travel in batches (one wake-up per megabyte, not per write); names and manifest
//! lines travel as text in the batch's own buffer (serialized here), and batches and emptied
//! buffers come back to be reused, so the two threads do not pass allocations to each other:
//! glibc takes an arena lock for every block freed by a thread other than its allocator's.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{create_unique, hex};

/// A file created through [`Background::create`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId(u64);

/// What a placeholder stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    /// The file's path relative to the output directory (null if it could not be created).
    File,
    /// The lowercase hex SHA-256 of everything written to it.
    Sha256,
}

/// The prefix of placeholder strings; NUL never occurs in a name or digest.
const PLACEHOLDER: &str = "\u{0}wiresift-fact:";

/// A placeholder for a fact about `id`, to put in a manifest record sent with
/// [`Background::record`]; the writer replaces it. A record that references a file which had
/// a write error also gets `{"write_error": ...}` in its `anomalies` array.
pub fn fact(id: FileId, what: Fact) -> Value {
    Value::String(fact_text(id, what))
}

/// [`fact`] as text, for records built from strings.
pub fn fact_text(id: FileId, what: Fact) -> String {
    let w = match what {
        Fact::File => "file",
        Fact::Sha256 => "sha256",
    };
    format!("{PLACEHOLDER}{}:{w}", id.0)
}

/// A finished file, as the writer saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileResult {
    /// Relative to the output directory; `None` if it could not be created.
    pub rel: Option<PathBuf>,
    pub size: u64,
    pub sha256: String,
    /// The first error creating or writing it.
    pub error: Option<String>,
}

/// What the writer did, when it is finished.
#[derive(Clone, Debug, Default)]
pub struct BackgroundReport {
    /// Files that could not be created or written completely.
    pub write_errors: u64,
    pub first_error: Option<String>,
    /// Manifest records written.
    pub records: u64,
}

enum Cmd {
    /// The name hint is `text[hint.0..hint.1]`.
    Create {
        id: u64,
        subdir: Option<PathBuf>,
        hint: (usize, usize),
        /// Hash while writing; otherwise the digest is computed from the file if it is ever
        /// asked for (a side file that is usually removed).
        hash: bool,
    },
    Write {
        id: u64,
        data: Vec<u8>,
    },
    Close {
        id: u64,
    },
    Remove {
        id: u64,
    },
    /// Removes `into`'s file and renames `from`'s to its name; `into` then stands for the
    /// bytes of `from`.
    Replace {
        from: u64,
        into: u64,
    },
    Manifest(File, PathBuf),
    /// A manifest line (JSON, with placeholders): `text[start..end]`.
    Record(usize, usize),
    Discard(Value),
    Query {
        id: u64,
        reply: SyncSender<Option<FileResult>>,
    },
}

/// A batch is sent when it holds this many bytes...
const BATCH_BYTES: usize = 1 << 20;
/// ...or this many commands.
const BATCH_CMDS: usize = 512;
/// Batches in flight.
const QUEUE: usize = 4;
/// Bytes an [`ObjFile`] gathers before handing them over.
const FILE_CHUNK: usize = 64 * 1024;
/// Emptied buffers kept for reuse.
const POOL_MAX: usize = 64;
/// Finished files remembered for placeholders; records reference files closed just before
/// them, so older results can go.
const DONE_MAX: usize = 1 << 16;

struct Inner {
    tx: Option<SyncSender<Batch>>,
    back: Receiver<Batch>,
    handle: Option<JoinHandle<BackgroundReport>>,
    batch: Batch,
    batch_bytes: usize,
    /// Emptied batches to fill again.
    spare: Vec<Batch>,
    pool: Vec<Vec<u8>>,
    next_id: u64,
}

/// The parser's handle on the writer thread (cheap to clone; single-threaded).
#[derive(Clone)]
pub struct Background {
    inner: Rc<RefCell<Inner>>,
}

impl Background {
    /// Starts the writer thread for the output directory `root`.
    pub fn spawn(root: PathBuf) -> Background {
        let (tx, rx) = sync_channel::<Batch>(QUEUE);
        let (back_tx, back) = sync_channel::<Batch>(2 * QUEUE + 2);
        let handle = std::thread::spawn(move || Writer::new(root).run(rx, back_tx));
        Background {
            inner: Rc::new(RefCell::new(Inner {
                tx: Some(tx),
                back,
                handle: Some(handle),
                batch: Batch::default(),
                batch_bytes: 0,
                spare: Vec::new(),
                pool: Vec::new(),
                next_id: 0,
            })),
        }
    }

    fn send(&self, cmd: Cmd, bytes: usize) {
        let mut i = self.inner.borrow_mut();
        i.batch.cmds.push(cmd);
        i.batch_bytes += bytes;
        if i.batch_bytes >= BATCH_BYTES || i.batch.cmds.len() >= BATCH_CMDS {
            i.send_batch();
        }
    }

    /// Creates a file named after `hint` (sanitised; numbered if taken) in `subdir` (or the
    /// root); what is written to it goes through the thread.
    pub fn create(&self, subdir: Option<&Path>, hint: &str) -> ObjFile {
        self.create_with(subdir, hint, true)
    }

    /// [`Background::create`] for a file that will usually be removed (the raw bytes kept
    /// until decoding is known to have worked): not hashed while written; its SHA-256 is
    /// computed from the file only if it replaces another ([`Background::replace`]) or is
    /// queried.
    pub fn create_unhashed(&self, subdir: Option<&Path>, hint: &str) -> ObjFile {
        self.create_with(subdir, hint, false)
    }

    fn create_with(&self, subdir: Option<&Path>, hint: &str, hash: bool) -> ObjFile {
        let id = {
            let mut i = self.inner.borrow_mut();
            i.next_id += 1;
            i.next_id
        };
        let hint = self.inner.borrow_mut().batch.text(hint.as_bytes());
        self.send(
            Cmd::Create {
                id,
                subdir: subdir.map(Path::to_path_buf),
                hint,
                hash,
            },
            0,
        );
        ObjFile {
            bg: self.clone(),
            id,
            buf: Vec::new(),
            size: 0,
            closed: false,
        }
    }

    /// Deletes the (closed) file of `id`.
    pub fn remove(&self, id: FileId) {
        self.send(Cmd::Remove { id: id.0 }, 0);
    }

    /// Replaces the file of `into` by that of `from` (renamed to `into`'s name); placeholders
    /// of `into` then give `from`'s bytes and digest.
    pub fn replace(&self, from: FileId, into: FileId) {
        self.send(
            Cmd::Replace {
                from: from.0,
                into: into.0,
            },
            0,
        );
    }

    /// Makes the thread write `manifest.jsonl` records to `file` (opened by the caller, so
    /// that an error is reported at once).
    pub fn set_manifest(&self, file: File, path: PathBuf) {
        self.send(Cmd::Manifest(file, path), 0);
    }

    /// Appends a record to the manifest, once every file it references is finished.
    pub fn record(&self, rec: &Value) {
        let (start, end) = {
            let mut i = self.inner.borrow_mut();
            let t = &mut i.batch.text;
            let start = t.len();
            if serde_json::to_writer(&mut *t, rec).is_err() {
                t.truncate(start);
                return;
            }
            (start, t.len())
        };
        self.send(Cmd::Record(start, end), end - start);
    }

    /// A record that is not to be listed: the file named by its `"file"` is deleted.
    pub fn discard(&self, rec: Value) {
        self.send(Cmd::Discard(rec), 0);
    }

    /// Waits until everything sent so far is done; the result for the (closed) file `id`.
    pub fn query(&self, id: FileId) -> Option<FileResult> {
        let (reply, rx) = sync_channel(1);
        self.send(Cmd::Query { id: id.0, reply }, 0);
        self.inner.borrow_mut().send_batch();
        rx.recv().ok().flatten()
    }

    /// Sends what is queued, waits for the thread to finish and returns its report.
    pub fn finish(&self) -> BackgroundReport {
        let mut i = self.inner.borrow_mut();
        i.send_batch();
        i.tx = None;
        let r = i.handle.take().map(JoinHandle::join);
        match r {
            Some(Ok(rep)) => rep,
            Some(Err(_)) => BackgroundReport {
                write_errors: 1,
                first_error: Some("the output writer thread panicked".into()),
                records: 0,
            },
            None => BackgroundReport::default(),
        }
    }

    fn buffer(&self) -> Vec<u8> {
        let mut i = self.inner.borrow_mut();
        if i.pool.is_empty() {
            i.take_back();
        }
        i.pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(FILE_CHUNK + FILE_CHUNK / 4))
    }
}

impl Inner {
    fn send_batch(&mut self) {
        if self.batch.cmds.is_empty() {
            return;
        }
        self.take_back();
        let next = self.spare.pop().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        self.batch_bytes = 0;
        // If the thread has gone (it panicked), `finish` reports it.
        if let Some(tx) = self.tx.as_ref() {
            let _ = tx.send(batch);
        }
    }

    /// Takes batches the thread has emptied: their buffers are kept for reuse (up to a
    /// bound), the rest freed on this thread.
    fn take_back(&mut self) {
        while let Ok(mut b) = self.back.try_recv() {
            for buf in b.bufs.drain(..) {
                if self.pool.len() < POOL_MAX && buf.capacity() >= FILE_CHUNK {
                    self.pool.push(buf);
                }
            }
            if self.spare.len() < 2 {
                self.spare.push(b);
            }
        }
    }
}

/// Commands sent together, with the text they reference; it comes back emptied.
#[derive(Default)]
struct Batch {
    cmds: Vec<Cmd>,
    text: Vec<u8>,
    /// On the way back: the data buffers of the writes, emptied.
    bufs: Vec<Vec<u8>>,
}

impl Batch {
    /// Appends `t` to the text; its range.
    fn text(&mut self, t: &[u8]) -> (usize, usize) {
        let start = self.text.len();
        self.text.extend_from_slice(t);
        (start, self.text.len())
    }
}

/// A file being written through the thread. Dropping it closes it.
pub struct ObjFile {
    bg: Background,
    id: u64,
    buf: Vec<u8>,
    /// Bytes written so far.
    pub size: u64,
    closed: bool,
}

impl ObjFile {
    pub fn id(&self) -> FileId {
        FileId(self.id)
    }

    fn hand_over(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let data = std::mem::take(&mut self.buf);
        let n = data.len();
        self.bg.send(Cmd::Write { id: self.id, data }, n);
    }

    /// Closes the file; its facts become available to records sent after this.
    pub fn close(mut self) -> FileId {
        self.close_now();
        FileId(self.id)
    }

    fn close_now(&mut self) {
        if !self.closed {
            self.closed = true;
            self.hand_over();
            self.bg.send(Cmd::Close { id: self.id }, 0);
        }
    }
}

impl Write for ObjFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.buf.capacity() == 0 {
            self.buf = self.bg.buffer();
        }
        self.buf.extend_from_slice(data);
        self.size += data.len() as u64;
        if self.buf.len() >= FILE_CHUNK {
            self.hand_over();
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ObjFile {
    fn drop(&mut self) {
        self.close_now();
    }
}

// ---------------------------------------------------------------------------------------------
// The thread

struct Open {
    file: Option<File>,
    rel: Option<PathBuf>,
    sha: Option<Sha256>,
    size: u64,
    error: Option<String>,
}

struct Writer {
    root: PathBuf,
    open: HashMap<u64, Open>,
    done: HashMap<u64, FileResult>,
    done_order: VecDeque<u64>,
    manifest: Option<(BufWriter<File>, PathBuf)>,
    report: BackgroundReport,
}

impl Writer {
    fn new(root: PathBuf) -> Writer {
        Writer {
            root,
            open: HashMap::new(),
            done: HashMap::new(),
            done_order: VecDeque::new(),
            manifest: None,
            report: BackgroundReport::default(),
        }
    }

    fn run(mut self, rx: Receiver<Batch>, back: SyncSender<Batch>) -> BackgroundReport {
        for mut batch in rx {
            let text = std::mem::take(&mut batch.text);
            for cmd in batch.cmds.drain(..) {
                if let Some(buf) = self.apply(cmd, &text) {
                    batch.bufs.push(buf);
                }
            }
            batch.text = text;
            batch.text.clear();
            // Reused or freed by the parser; if it is behind, freed here.
            let _ = back.try_send(batch);
        }
        // Files the parser never closed (it stopped early): close them now.
        let ids: Vec<u64> = self.open.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        if let Some((mut w, path)) = self.manifest.take()
            && let Err(e) = w.flush()
        {
            self.error(format!("cannot write {}: {e}", path.display()));
        }
        self.report
    }

    fn error(&mut self, e: String) {
        self.report.write_errors += 1;
        self.report.first_error.get_or_insert(e);
    }

    /// Applies one command; returns a buffer that can be reused.
    fn apply(&mut self, cmd: Cmd, text: &[u8]) -> Option<Vec<u8>> {
        match cmd {
            Cmd::Create {
                id,
                subdir,
                hint,
                hash,
            } => {
                let hint = String::from_utf8_lossy(&text[hint.0..hint.1]);
                let o = match create_unique(&self.root, subdir.as_deref(), &hint) {
                    Ok((rel, f)) => Open {
                        file: Some(f),
                        rel: Some(rel),
                        sha: hash.then(Sha256::new),
                        size: 0,
                        error: None,
                    },
                    Err(e) => Open {
                        file: None,
                        rel: None,
                        sha: hash.then(Sha256::new),
                        size: 0,
                        error: Some(e.to_string()),
                    },
                };
                self.open.insert(id, o);
            }
            Cmd::Write { id, mut data } => {
                if let Some(o) = self.open.get_mut(&id) {
                    // Written first, then hashed: the kernel's copy brings the bytes (written
                    // on the parser's core) into this core's cache faster than SHA-256's own
                    // loads would, and the hash then reads them from the cache.
                    o.size += data.len() as u64;
                    if let Some(f) = o.file.as_mut()
                        && o.error.is_none()
                        && let Err(e) = f.write_all(&data)
                    {
                        let path = self.root.join(o.rel.as_deref().unwrap_or(Path::new("")));
                        o.error = Some(format!("cannot write {}: {e}", path.display()));
                    }
                    if let Some(h) = o.sha.as_mut() {
                        h.update(&data);
                    }
                }
                data.clear();
                return Some(data);
            }
            Cmd::Close { id } => self.close(id),
            Cmd::Remove { id } => {
                self.open.remove(&id);
                if let Some(r) = self.done.remove(&id)
                    && let Some(rel) = r.rel
                {
                    let _ = std::fs::remove_file(self.root.join(rel));
                }
            }
            Cmd::Replace { from, into } => {
                self.close(from);
                self.close(into);
                let mut src = self.done.remove(&from)?;
                self.hash_later(&mut src);
                let dst = self.done.get(&into).and_then(|r| r.rel.clone());
                let mut res = src.clone();
                if let (Some(s), Some(d)) = (&src.rel, &dst) {
                    let _ = std::fs::remove_file(self.root.join(d));
                    if std::fs::rename(self.root.join(s), self.root.join(d)).is_ok() {
                        res.rel = Some(d.clone());
                    }
                } else if let Some(d) = &dst {
                    let _ = std::fs::remove_file(self.root.join(d));
                }
                self.remember(into, res);
            }
            Cmd::Manifest(f, path) => self.manifest = Some((BufWriter::new(f), path)),
            Cmd::Record(start, end) => {
                let line = self.resolve_line(&text[start..end]);
                if let Some((w, path)) = self.manifest.as_mut() {
                    match w.write_all(&line).and_then(|()| w.write_all(b"\n")) {
                        Ok(()) => self.report.records += 1,
                        Err(e) => {
                            let msg = format!("cannot write {}: {e}", path.display());
                            self.error(msg);
                        }
                    }
                }
            }
            Cmd::Discard(mut rec) => {
                let mut errors = Vec::new();
                self.resolve(&mut rec, &mut errors);
                if let Some(f) = rec.get("file").and_then(Value::as_str) {
                    // Only ever a path created inside the root (relative, sanitised).
                    let p = Path::new(f);
                    if p.is_relative()
                        && p.components()
                            .all(|c| matches!(c, std::path::Component::Normal(_)))
                    {
                        let _ = std::fs::remove_file(self.root.join(p));
                    }
                }
            }
            Cmd::Query { id, reply } => {
                let mut r = self.done.get(&id).cloned();
                if let Some(r) = r.as_mut() {
                    self.hash_later(r);
                }
                let _ = reply.send(r);
            }
        }
        None
    }

    fn close(&mut self, id: u64) {
        let Some(o) = self.open.remove(&id) else {
            return;
        };
        drop(o.file);
        if let Some(e) = &o.error {
            self.error(e.clone());
        }
        self.remember(
            id,
            FileResult {
                rel: o.rel,
                size: o.size,
                sha256: o.sha.map(|h| hex(&h.finalize())).unwrap_or_default(),
                error: o.error,
            },
        );
    }

    /// The digest of a file created unhashed, read back from the file.
    fn hash_later(&self, r: &mut FileResult) {
        if !r.sha256.is_empty() || r.error.is_some() {
            return;
        }
        let Some(rel) = &r.rel else { return };
        let path = self.root.join(rel);
        let read = || -> io::Result<String> {
            let mut f = File::open(&path)?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; FILE_CHUNK];
            loop {
                match io::Read::read(&mut f, &mut buf)? {
                    0 => return Ok(hex(&h.finalize())),
                    n => h.update(&buf[..n]),
                }
            }
        };
        match read() {
            Ok(d) => r.sha256 = d,
            Err(e) => r.error = Some(format!("cannot read back {}: {e}", path.display())),
        }
    }

    fn remember(&mut self, id: u64, r: FileResult) {
        if self.done.insert(id, r).is_none() {
            self.done_order.push_back(id);
        }
        while self.done_order.len() > DONE_MAX {
            if let Some(old) = self.done_order.pop_front() {
                self.done.remove(&old);
            }
        }
    }

    /// A manifest line with its placeholders replaced. Placeholders appear in the serialized
    /// JSON as `"\u0000wiresift-fact:ID:WHAT"`; a line that references a file with a write
    /// error is parsed and gets the error in its `anomalies`.
    fn resolve_line(&self, line: &[u8]) -> Vec<u8> {
        const TOKEN: &[u8] = b"\"\\u0000wiresift-fact:";
        let mut out = Vec::with_capacity(line.len() + 64);
        let mut rest = line;
        let mut had_error = false;
        while let Some(i) = rest.windows(TOKEN.len()).position(|w| w == TOKEN) {
            out.extend_from_slice(&rest[..i]);
            let after = &rest[i + TOKEN.len()..];
            let Some(close) = after.iter().position(|&b| b == b'"') else {
                out.extend_from_slice(&rest[i..]);
                rest = &[];
                break;
            };
            let inner = String::from_utf8_lossy(&after[..close]);
            let mut v = Value::String(format!("{PLACEHOLDER}{inner}"));
            let mut errors = Vec::new();
            self.resolve(&mut v, &mut errors);
            had_error |= !errors.is_empty();
            let _ = serde_json::to_writer(&mut out, &v);
            rest = &after[close + 1..];
        }
        out.extend_from_slice(rest);
        if had_error {
            // Rare: redo it on the parsed record, to list the errors.
            if let Ok(mut rec) = serde_json::from_slice::<Value>(line) {
                let mut errors = Vec::new();
                self.resolve(&mut rec, &mut errors);
                if let Some(Value::Array(a)) = rec.get_mut("anomalies") {
                    for e in errors {
                        a.push(serde_json::json!({ "write_error": e }));
                    }
                }
                if let Ok(v) = serde_json::to_vec(&rec) {
                    return v;
                }
            }
        }
        out
    }

    /// Replaces placeholders in `v`; collects write errors of the files referenced.
    fn resolve(&self, v: &mut Value, errors: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                let Some(rest) = s.strip_prefix(PLACEHOLDER) else {
                    return;
                };
                let Some((id, what)) = rest.split_once(':') else {
                    return;
                };
                let r = id.parse::<u64>().ok().and_then(|id| self.done.get(&id));
                if let Some(e) = r.and_then(|r| r.error.as_ref())
                    && !errors.contains(e)
                {
                    errors.push(e.clone());
                }
                *v = match (what, r) {
                    ("file", Some(FileResult { rel: Some(p), .. })) => {
                        Value::String(p.to_string_lossy().into_owned())
                    }
                    ("sha256", Some(r)) if r.sha256.is_empty() => {
                        let mut r = r.clone();
                        self.hash_later(&mut r);
                        Value::String(r.sha256)
                    }
                    ("sha256", Some(r)) => Value::String(r.sha256.clone()),
                    _ => Value::Null,
                };
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.resolve(x, errors)),
            Value::Object(m) => m.values_mut().for_each(|x| self.resolve(x, errors)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Manifest, ObjectDir, sha256_hex};

    fn lines(dir: &Path) -> Vec<Value> {
        std::fs::read_to_string(dir.join("manifest.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn records_get_the_final_name_and_digest_of_their_files() {
        let t = tempfile::tempdir().unwrap();
        // A file already there: the writer must pick another name and say so.
        std::fs::write(t.path().join("a.txt"), b"old").unwrap();
        let d = ObjectDir::create(t.path()).unwrap();
        let mut m = Manifest::open(&d).unwrap();
        let bg = d.background().clone();
        let mut f = bg.create(None, "a.txt");
        let big = vec![7u8; 3 * FILE_CHUNK + 5];
        f.write_all(b"hello ").unwrap();
        f.write_all(&big).unwrap();
        let id = f.close();
        m.append(&serde_json::json!({
            "file": fact(id, Fact::File),
            "sha256": fact(id, Fact::Sha256),
            "nested": [{"sha256": fact(id, Fact::Sha256)}],
            "anomalies": [],
        }));
        // Decoding failed: the raw side replaces the decoded file under its name.
        let mut dec = bg.create(None, "b.bin");
        dec.write_all(b"partial").unwrap();
        let dec = dec.close();
        // The raw side is written unhashed: its digest is read back when it replaces.
        let mut raw_bytes = b"raw bytes".to_vec();
        raw_bytes.extend((0..2 * FILE_CHUNK + 3).map(|i| (i % 251) as u8));
        let mut raw = bg.create_unhashed(None, "b.bin.raw");
        raw.write_all(&raw_bytes).unwrap();
        let raw = raw.close();
        // Queried (HAR content) before anything else: the digest is computed for the query.
        let mut q = bg.create_unhashed(None, "q.raw");
        q.write_all(b"queried").unwrap();
        let q = q.close();
        assert_eq!(bg.query(q).unwrap().sha256, sha256_hex(b"queried"));
        bg.remove(q);
        bg.replace(raw, dec);
        m.append(
            &serde_json::json!({"file": fact(dec, Fact::File), "sha256": fact(dec, Fact::Sha256)}),
        );
        // A record the filter rejected: its file goes.
        let mut gone = bg.create(None, "gone.txt");
        gone.write_all(b"x").unwrap();
        let gone = gone.close();
        m.discard(serde_json::json!({"file": fact(gone, Fact::File)}));
        let rep = m.finish();
        assert_eq!(rep.write_errors, 0, "{rep:?}");
        assert_eq!(rep.records, 2);
        let recs = lines(t.path());
        let mut want = b"hello ".to_vec();
        want.extend_from_slice(&big);
        assert_eq!(recs[0]["file"], "a(1).txt");
        assert_eq!(std::fs::read(t.path().join("a(1).txt")).unwrap(), want);
        assert_eq!(std::fs::read(t.path().join("a.txt")).unwrap(), b"old");
        assert_eq!(recs[0]["sha256"], sha256_hex(&want));
        assert_eq!(recs[0]["nested"][0]["sha256"], sha256_hex(&want));
        assert_eq!(recs[1]["file"], "b.bin");
        assert_eq!(recs[1]["sha256"], sha256_hex(&raw_bytes));
        assert_eq!(std::fs::read(t.path().join("b.bin")).unwrap(), raw_bytes);
        assert!(!t.path().join("q.raw").exists());
        assert!(!t.path().join("b.bin.raw").exists());
        assert!(!t.path().join("gone.txt").exists());
    }

    #[test]
    fn a_file_that_cannot_be_created_is_an_anomaly_and_a_write_error() {
        let t = tempfile::tempdir().unwrap();
        let d = ObjectDir::create(t.path()).unwrap();
        let mut m = Manifest::open(&d).unwrap();
        let bg = d.background().clone();
        // A sub-directory that does not exist.
        let mut f = bg.create(Some(Path::new("missing")), "x.txt");
        f.write_all(b"data").unwrap();
        let id = f.close();
        m.append(&serde_json::json!({"file": fact(id, Fact::File), "anomalies": []}));
        let rep = m.finish();
        assert_eq!(rep.write_errors, 1);
        assert!(rep.first_error.unwrap().contains("missing"));
        let recs = lines(t.path());
        assert_eq!(recs[0]["file"], Value::Null);
        assert!(
            recs[0]["anomalies"][0]["write_error"].is_string(),
            "{}",
            recs[0]
        );
    }
}
