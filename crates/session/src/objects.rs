//! File > Export Objects (HTTP, HTTP/2, decrypted HTTPS, SMTP/POP3/IMAP mail): the wiresift
//! binary itself runs `export all` on the capture as a child process, into a spool directory
//! of its own. Its writer threads, object directory and `manifest.jsonl` are exactly the
//! command line's, and it runs on the other core while the UI keeps answering.
//!
//! One export runs per session and key set: runs are kept here by the session's current index
//! ([`crate::index::Indexed`], replaced when keys are added). A run whose index is gone (keys
//! added, session closed) is ended — child killed, directory and key files removed — the next
//! time any run is looked at, and at once by [`release`] (called when a session is dropped).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde::Serialize;
use serde_json::Value;

use crate::index::Indexed;
use crate::stats::{ExpertItem, Severity};
use crate::{Session, SessionError};

/// The name of the manifest in an objects directory.
pub const MANIFEST: &str = "manifest.jsonl";
/// Bytes of the child's standard error kept (the last ones).
const STDERR_KEEP: usize = 64 << 10;

static RUNS: Mutex<Vec<Run>> = Mutex::new(Vec::new());
static NEXT_DIR: AtomicU64 = AtomicU64::new(1);

/// One `wiresift export all` run.
struct Run {
    /// The index (key set) it belongs to.
    ix: Weak<Indexed>,
    dir: PathBuf,
    key_files: Vec<PathBuf>,
    child: Option<Child>,
    status: Option<ExitStatus>,
    spawn_error: Option<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Manifest records read so far, and the manifest bytes they came from.
    records: Vec<Value>,
    consumed: u64,
}

impl Run {
    fn belongs_to(&self, ix: &Arc<Indexed>) -> bool {
        std::ptr::eq(self.ix.as_ptr(), Arc::as_ptr(ix))
    }

    /// Notices the child's end and reads the manifest lines written since the last call.
    fn refresh(&mut self) {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(st)) = c.try_wait()
        {
            self.status = Some(st);
            self.child = None;
            remove_files(&mut self.key_files);
        }
        let Ok(mut f) = File::open(self.dir.join(MANIFEST)) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.consumed)).is_err() {
            return;
        }
        let mut r = BufReader::new(f);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // A line still being written: read it again next time.
            if line.last() != Some(&b'\n') {
                break;
            }
            self.consumed += line.len() as u64;
            let id = self.records.len() as u64 + 1;
            let mut v = serde_json::from_slice::<Value>(&line).unwrap_or_else(
                |e| serde_json::json!({"manifest_error": format!("unreadable manifest line: {e}")}),
            );
            if let Value::Object(m) = &mut v {
                m.insert("id".into(), Value::from(id));
            }
            self.records.push(v);
        }
    }

    fn done(&self) -> bool {
        self.status.is_some() || self.spawn_error.is_some()
    }

    fn error(&self) -> Option<String> {
        if let Some(e) = &self.spawn_error {
            return Some(e.clone());
        }
        let st = self.status?;
        // 0: done; 1: done, some objects truncated or undecodable (in the manifest).
        if matches!(st.code(), Some(0 | 1)) {
            return None;
        }
        let log = self.log();
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string();
        Some(match st.code() {
            Some(c) => format!("the export failed (exit status {c}): {last}"),
            None => format!("the export was stopped ({st}): {last}"),
        })
    }

    fn log(&self) -> String {
        self.stderr
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        remove_files(&mut self.key_files);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn remove_files(files: &mut Vec<PathBuf>) {
    for f in files.drain(..) {
        let _ = std::fs::remove_file(f);
    }
}

/// Takes the runs whose index is gone out of the list (dropped, i.e. ended, by the caller
/// after the lock is released).
fn take_dead(runs: &mut Vec<Run>) -> Vec<Run> {
    let mut dead = Vec::new();
    let mut i = 0;
    while i < runs.len() {
        if runs[i].ix.strong_count() == 0 {
            dead.push(runs.swap_remove(i));
        } else {
            i += 1;
        }
    }
    dead
}

/// Ends the export of `session`'s current key set (child killed, directory removed) and any
/// whose session or key set is gone. Call from `Drop for Session`.
pub fn release(session: &Session) {
    let ix = session.current();
    let ended: Vec<Run> = match RUNS.lock() {
        Ok(mut runs) => {
            let mut ended = take_dead(&mut runs);
            if let Some(i) = runs.iter().position(|r| r.belongs_to(&ix)) {
                ended.push(runs.swap_remove(i));
            }
            ended
        }
        Err(_) => Vec::new(),
    };
    drop(ended);
}

/// Where the export of the current key set stands.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ObjectsState {
    /// The export was started (for these keys).
    pub started: bool,
    pub done: bool,
    /// Why the export failed (it may still have written some objects).
    pub error: Option<String>,
    /// The manifest records so far, each with `"id"` (its line number, from 1).
    pub objects: Vec<Value>,
    /// What the export said on its standard error (its summary; the last 64 KiB).
    pub log: String,
}

/// Creates `<spool>/objects-N` (mode 0700), N unused so far.
fn fresh_dir(spool: &Path) -> Result<PathBuf, SessionError> {
    std::fs::create_dir_all(spool).map_err(|e| SessionError::io(spool.display().to_string(), e))?;
    for _ in 0..10_000 {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let p = spool.join(format!("objects-{n}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SessionError::io(p.display().to_string(), e)),
        }
    }
    Err(SessionError::Invalid(
        "no free objects directory name".into(),
    ))
}

/// Writes `data` to a new file readable by the owner only.
fn private_file(path: &Path, data: &[u8]) -> Result<(), SessionError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| SessionError::io(path.display().to_string(), e))?;
    f.write_all(data)
        .map_err(|e| SessionError::io(path.display().to_string(), e))
}

/// Keeps the last [`STDERR_KEEP`] bytes a child writes on `r`.
fn drain_stderr(mut r: impl Read + Send + 'static, keep: Arc<Mutex<Vec<u8>>>) {
    let log = Arc::clone(&keep);
    let spawned = std::thread::Builder::new()
        .name("wiresift-objects-log".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if let Ok(mut k) = keep.lock() {
                            k.extend_from_slice(&buf[..n]);
                            if k.len() > STDERR_KEEP {
                                let cut = k.len() - STDERR_KEEP;
                                k.drain(..cut);
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
    // Without the thread the pipe would fill and stall the child: say so in its log.
    if let Err(e) = spawned
        && let Ok(mut k) = log.lock()
    {
        k.extend_from_slice(format!("cannot read the export's messages: {e}\n").as_bytes());
    }
}

/// A record's file, inside `dir` (no absolute path, no `..`, no symbolic link leading out).
fn file_in(dir: &Path, rec: &Value) -> Result<PathBuf, SessionError> {
    let rel = rec
        .get("file")
        .and_then(Value::as_str)
        .ok_or_else(|| SessionError::Invalid("this object has no file".into()))?;
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(SessionError::Invalid(format!(
            "object file {rel:?} is not inside the objects directory"
        )));
    }
    let root = dir
        .canonicalize()
        .map_err(|e| SessionError::io(dir.display().to_string(), e))?;
    let p = root
        .join(rel_path)
        .canonicalize()
        .map_err(|e| SessionError::io(format!("object file {rel}"), e))?;
    if !p.starts_with(&root) || !p.is_file() {
        return Err(SessionError::Invalid(format!(
            "object file {rel:?} is not a file inside the objects directory"
        )));
    }
    Ok(p)
}

/// Writes the files of `records` (each once, named by its path in `dir`) and the first
/// `manifest_len` bytes of the manifest as a zip (deflate) to a non-seekable `out`.
fn zip_dir(
    dir: &Path,
    records: &[Value],
    manifest_len: u64,
    out: &mut dyn Write,
) -> Result<(), SessionError> {
    use zip::CompressionMethod;
    use zip::write::SimpleFileOptions;
    let zerr = |e: zip::result::ZipError| match e {
        zip::result::ZipError::Io(e) => SessionError::io("writing the zip", e),
        other => SessionError::Invalid(format!("zip: {other}")),
    };
    let io = |what: String| move |e: std::io::Error| SessionError::io(what.clone(), e);
    let mut z = zip::ZipWriter::new_stream(std::io::BufWriter::with_capacity(1 << 16, out));
    let opts = |size: u64| {
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(0o644)
            .large_file(size >= u64::from(u32::MAX))
    };
    let mut seen = std::collections::HashSet::new();
    for rec in records {
        let Some(name) = rec.get("file").and_then(Value::as_str) else {
            continue;
        };
        if !seen.insert(name.to_string()) {
            continue;
        }
        // A file that is gone or outside the directory is left out, not fatal.
        let Ok(p) = file_in(dir, rec) else { continue };
        let mut f = File::open(&p).map_err(io(p.display().to_string()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        z.start_file(name, opts(size)).map_err(zerr)?;
        std::io::copy(&mut f, &mut z).map_err(io(p.display().to_string()))?;
    }
    let mp = dir.join(MANIFEST);
    if let Ok(f) = File::open(&mp) {
        z.start_file(MANIFEST, opts(manifest_len)).map_err(zerr)?;
        std::io::copy(&mut f.take(manifest_len), &mut z).map_err(io(mp.display().to_string()))?;
    }
    let mut w = z.finish().map_err(zerr)?.into_inner();
    w.flush().map_err(io("writing the zip".into()))
}

impl Session {
    /// Runs `exe export all <capture> -o <spool_dir>/objects-N` with the session's keys
    /// (written to 0600 files beside it), unless it runs or ran for these keys already (a run
    /// that failed is started again). `exe` is the wiresift binary (`std::env::current_exe()`).
    pub fn start_objects(&self, exe: &Path, spool_dir: &Path) -> Result<(), SessionError> {
        let ix = self.current();
        let dead;
        {
            let mut runs = RUNS
                .lock()
                .map_err(|_| SessionError::Invalid("objects state poisoned".into()))?;
            dead = take_dead(&mut runs);
            if let Some(i) = runs.iter().position(|r| r.belongs_to(&ix)) {
                runs[i].refresh();
                if !(runs[i].done() && runs[i].error().is_some()) {
                    return Ok(());
                }
                // Failed: start again (the old run's directory goes).
                let old = runs.swap_remove(i);
                drop(runs);
                drop(old);
            }
        }
        drop(dead);
        let dir = fresh_dir(spool_dir)?;
        let mut run = Run {
            ix: Arc::downgrade(&ix),
            dir: dir.clone(),
            key_files: Vec::new(),
            child: None,
            status: None,
            spawn_error: None,
            stderr: Arc::new(Mutex::new(Vec::new())),
            records: Vec::new(),
            consumed: 0,
        };
        let mut cmd = Command::new(exe);
        cmd.arg("export")
            .arg("all")
            .arg(self.path())
            .arg("-o")
            .arg(&dir);
        let keys = self.keys();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !keys.keylogs.is_empty() {
            let p = spool_dir.join(format!("{name}.keylog"));
            let mut all = Vec::new();
            for k in &keys.keylogs {
                all.extend_from_slice(k);
                if !all.ends_with(b"\n") {
                    all.push(b'\n');
                }
            }
            private_file(&p, &all)?;
            run.key_files.push(p.clone());
            cmd.arg("--tls-keylog").arg(&p);
        }
        for (i, (pem, _origin, scope)) in keys.rsa.iter().enumerate() {
            let p = spool_dir.join(format!("{name}.key{i}.pem"));
            if let Err(e) = private_file(&p, pem.as_bytes()) {
                drop(run);
                return Err(e);
            }
            run.key_files.push(p.clone());
            // Always with a scope (0.0.0.0:0 is every server), so an `=` in the spool path
            // cannot be taken for one.
            let scope = scope.unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
            let mut spec = std::ffi::OsString::from(format!("{scope}="));
            spec.push(&p);
            cmd.arg("--tls-key").arg(spec);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match cmd.spawn() {
            Ok(mut c) => {
                if let Some(e) = c.stderr.take() {
                    drain_stderr(e, Arc::clone(&run.stderr));
                }
                run.child = Some(c);
            }
            Err(e) => {
                run.spawn_error = Some(format!("cannot run {}: {e}", exe.display()));
                remove_files(&mut run.key_files);
            }
        }
        let dead = {
            let mut runs = RUNS
                .lock()
                .map_err(|_| SessionError::Invalid("objects state poisoned".into()))?;
            // Another request may have started one meanwhile: keep the first.
            if runs.iter().any(|r| r.belongs_to(&ix)) {
                Some(run)
            } else {
                runs.push(run);
                None
            }
        };
        drop(dead);
        Ok(())
    }

    /// Runs `f` on this key set's run (refreshed), if there is one.
    fn with_run<R>(&self, f: impl FnOnce(&Run) -> R) -> Option<R> {
        let ix = self.current();
        let mut runs = RUNS.lock().ok()?;
        let dead = take_dead(&mut runs);
        let r = runs.iter_mut().find(|r| r.belongs_to(&ix)).map(|r| {
            r.refresh();
            f(r)
        });
        drop(runs);
        drop(dead);
        r
    }

    /// The export's state and the manifest records written so far.
    pub fn objects(&self) -> ObjectsState {
        self.with_run(|r| ObjectsState {
            started: true,
            done: r.done(),
            error: r.error(),
            objects: r.records.clone(),
            log: r.log(),
        })
        .unwrap_or_default()
    }

    /// The manifest record `id` (from 1).
    pub fn object_record(&self, id: u64) -> Result<Value, SessionError> {
        self.with_run(|r| {
            usize::try_from(id)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| r.records.get(i))
                .cloned()
        })
        .ok_or_else(|| SessionError::Invalid("the objects were not exported".into()))?
        .ok_or_else(|| SessionError::Invalid(format!("no object {id}")))
    }

    /// The file of object `id`: always a file inside the objects directory.
    pub fn object_path(&self, id: u64) -> Result<PathBuf, SessionError> {
        let rec = self.object_record(id)?;
        let dir = self
            .with_run(|r| r.dir.clone())
            .ok_or_else(|| SessionError::Invalid("the objects were not exported".into()))?;
        file_in(&dir, &rec)
    }

    /// Every object file listed so far and `manifest.jsonl` (the lines of those records) as a
    /// zip, written to `out` as it is made (no seeking).
    pub fn write_zip(&self, out: &mut dyn Write) -> Result<(), SessionError> {
        let (dir, records, len) = self
            .with_run(|r| (r.dir.clone(), r.records.clone(), r.consumed))
            .ok_or_else(|| SessionError::Invalid("the objects were not exported".into()))?;
        zip_dir(&dir, &records, len, out)
    }
}

/// Expert items of the objects with anomalies (truncated, undecodable, ...), when the export
/// of the session's current keys has run or runs: at most `max`, then one that counts the rest.
pub(crate) fn expert_items(session: &Session, max: usize) -> Vec<ExpertItem> {
    let records = session
        .with_run(|r| {
            r.records
                .iter()
                .filter(|v| {
                    v.get("anomalies")
                        .and_then(Value::as_array)
                        .is_some_and(|a| !a.is_empty())
                })
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut more = 0u64;
    for rec in &records {
        if out.len() >= max {
            more += 1;
            continue;
        }
        out.push(object_item(rec));
    }
    if more > 0 {
        out.push(ExpertItem {
            severity: Severity::Warning,
            group: "Reassemble",
            protocol: "Objects",
            summary: format!("{more} more exported objects with anomalies (not listed)"),
            filter: None,
            count: more,
            frames: Vec::new(),
        });
    }
    out
}

fn object_item(rec: &Value) -> ExpertItem {
    let kinds: Vec<String> = rec["anomalies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_object()?.keys().next().cloned())
                .collect()
        })
        .unwrap_or_default();
    let has = |k: &str| kinds.iter().any(|x| x == k);
    let (severity, group) = if has("write_error") {
        (Severity::Error, "Protocol")
    } else if has("truncated") || has("gap") {
        (Severity::Warning, "Reassemble")
    } else if has("undecodable") {
        (Severity::Warning, "Undecoded")
    } else {
        (Severity::Note, "Protocol")
    };
    let http = rec
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.starts_with("http"));
    let what = rec
        .get("file")
        .and_then(Value::as_str)
        .or_else(|| rec.get("url").and_then(Value::as_str))
        .unwrap_or("(no file)");
    let id = rec.get("id").and_then(Value::as_u64).unwrap_or(0);
    let mut kinds_text = kinds.clone();
    kinds_text.dedup();
    let first = rec
        .get("frames")
        .and_then(|f| f.get(0))
        .and_then(Value::as_u64)
        .or_else(|| rec.get("first_frame").and_then(Value::as_u64));
    ExpertItem {
        severity,
        group,
        protocol: if http { "HTTP" } else { "IMF" },
        summary: format!(
            "Exported object {id} {what}: {}",
            kinds_text.join(", ").replace('_', " ")
        ),
        filter: rec
            .get("stream")
            .and_then(Value::as_u64)
            .map(|s| format!("tcp.stream eq {s}")),
        count: 1,
        frames: first.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn files_outside_the_directory_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("objects");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), b"a").unwrap();
        std::fs::write(t.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(t.path().join("secret"), dir.join("link")).unwrap();
        let rec = |f: &str| serde_json::json!({ "file": f });
        assert!(file_in(&dir, &rec("a.txt")).is_ok());
        for bad in ["../secret", "/etc/passwd", "link", "", "missing"] {
            assert!(file_in(&dir, &rec(bad)).is_err(), "{bad}");
        }
        assert!(file_in(&dir, &serde_json::json!({ "file": null })).is_err());
    }

    #[test]
    fn zip_holds_each_file_once_and_the_manifest_lines_read() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        std::fs::create_dir(dir.join("mail")).unwrap();
        std::fs::write(dir.join("index.html"), b"<html>hello</html>").unwrap();
        std::fs::write(dir.join("mail/att.txt"), vec![b'x'; 100_000]).unwrap();
        let lines =
            "{\"file\":\"index.html\"}\n{\"file\":\"mail/att.txt\"}\n{\"file\":\"index.html\"}\n";
        std::fs::write(dir.join(MANIFEST), format!("{lines}{{\"file\":\"late")).unwrap();
        let records: Vec<Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut out = Vec::new();
        zip_dir(dir, &records, lines.len() as u64, &mut out).unwrap();
        let mut z = zip::ZipArchive::new(Cursor::new(out)).unwrap();
        let mut names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["index.html", "mail/att.txt", "manifest.jsonl"]);
        let mut read = |n: &str| {
            let mut s = Vec::new();
            z.by_name(n).unwrap().read_to_end(&mut s).unwrap();
            s
        };
        assert_eq!(read("index.html"), b"<html>hello</html>");
        assert_eq!(read("mail/att.txt"), vec![b'x'; 100_000]);
        assert_eq!(read("manifest.jsonl"), lines.as_bytes());
    }

    #[test]
    fn records_with_anomalies_become_expert_items() {
        let rec = serde_json::json!({
            "kind": "http", "id": 4, "stream": 2, "frames": [7, 9], "file": "a.bin",
            "anomalies": [{"truncated": {"missing": [[0, 10]]}}]
        });
        let i = object_item(&rec);
        assert_eq!(i.severity, Severity::Warning);
        assert_eq!(i.group, "Reassemble");
        assert_eq!(i.frames, [7]);
        assert_eq!(i.filter.as_deref(), Some("tcp.stream eq 2"));
        assert_eq!(i.summary, "Exported object 4 a.bin: truncated");
        let mail = serde_json::json!({
            "protocol": "smtp", "id": 1, "stream": 0, "first_frame": 3, "file": "m.eml",
            "anomalies": [{"write_error": "disk full"}]
        });
        let i = object_item(&mail);
        assert_eq!(
            (i.severity, i.protocol, i.frames.clone()),
            (Severity::Error, "IMF", vec![3])
        );
    }
}
