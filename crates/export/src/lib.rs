//! Export sinks shared by every extractor (HTTP objects, e-mails, attachments, follow --split).
//!
//! Names come from hostile traffic (URLs, Content-Disposition, attachment names), so every name
//! goes through [`sanitize`], files are created with `create_new` (never overwriting), and a
//! repeated name gets `name(1).ext`, `name(2).ext`, ... without limit — unlike tshark, which
//! stops creating names after 1000 duplicates and silently overwrites the last one.
#![forbid(unsafe_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

mod background;
pub use background::{
    Background, BackgroundReport, Fact, FileId, FileResult, ObjFile, fact, fact_text,
};

/// Counts an extractor reports at the end (printed on stderr, and the exit status: 1 when
/// anything was truncated or undecodable).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub kind: &'static str,
    pub objects: u64,
    pub bytes: u64,
    pub truncated: u64,
    pub undecodable: u64,
    /// Other anomalies worth a line (gaps, rejected messages, limits hit), already counted.
    pub notes: Vec<String>,
}

/// An application-layer extractor run by `wiresift export` (and by `read` for its fields): it
/// receives reassembled stream data as a [`wiresift_flow::FlowHandler`], writes objects into
/// the [`ObjectDir`] as they stream by (bounded memory), and hands manifest records to the
/// driver, which owns the one `manifest.jsonl`.
pub trait Extractor: wiresift_flow::FlowHandler {
    /// Fields of the application PDUs completed on the frame just processed (ids in the
    /// extractor's own block), for `-Y` and structured output.
    fn frame_fields(&self) -> &dyn wiresift_field::FieldSource;
    /// Called by the driver after each frame (and its field use) to reset per-frame state.
    fn end_frame(&mut self);
    /// Moves manifest records of objects completed since the last call into `out`.
    fn drain_records(&mut self, out: &mut Vec<serde_json::Value>);
    /// Totals so far.
    fn summary(&self) -> ExportSummary;
}

/// Longest file name we create, in bytes (most file systems allow 255).
pub const MAX_NAME: usize = 180;

/// An export failure; the local file system is at fault, not the capture.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot create output directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot create {path}: {source}")]
    CreateFile { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Turns a name taken from traffic into a safe single path component: no separators, no
/// `.`/`..`, no control characters or NUL, no Windows-reserved names or characters, at most
/// [`MAX_NAME`] bytes, never empty.
pub fn sanitize(hint: &str) -> String {
    // Only the last path segment of whatever was given (URLs, `C:\dir\file`, `../../x`).
    let last = hint
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let mut out = String::with_capacity(last.len());
    for c in last.chars() {
        let bad = c.is_control()
            || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\u{0}')
            || c == '\u{FEFF}';
        out.push(if bad { '_' } else { c });
    }
    let trimmed = out.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let mut name = if trimmed.is_empty() {
        "object".to_string()
    } else {
        trimmed.to_string()
    };
    let stem_upper = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem_upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem_upper.starts_with("COM") || stem_upper.starts_with("LPT"))
            && stem_upper.len() == 4
            && stem_upper.as_bytes()[3].is_ascii_digit());
    if reserved {
        name.insert(0, '_');
    }
    truncate_keeping_extension(&name, MAX_NAME)
}

fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if name.len() - i <= 16 && i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let mut keep = max.saturating_sub(ext.len());
    while keep > 0 && !stem.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{}", &stem[..keep], ext)
}

/// `name(n).ext` for the n-th duplicate.
fn numbered(name: &str, n: u64) -> String {
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{}({n}){}", &name[..i], &name[i..]),
        _ => format!("{name}({n})"),
    }
}

/// A directory that receives exported objects. Clones share one [`Background`] writer.
#[derive(Clone)]
pub struct ObjectDir {
    root: PathBuf,
    bg: std::rc::Rc<std::cell::OnceCell<Background>>,
}

/// Creates a new file named after `hint` (sanitized, made unique by numbering) inside
/// `root`/`subdir`; returns its path relative to `root` and the open file.
pub(crate) fn create_unique(
    root: &Path,
    subdir: Option<&Path>,
    hint: &str,
) -> Result<(PathBuf, File), ExportError> {
    let base = sanitize(hint);
    let dir = match subdir {
        Some(s) => root.join(s),
        None => root.to_path_buf(),
    };
    let mut n = 0u64;
    loop {
        let name = if n == 0 {
            base.clone()
        } else {
            numbered(&base, n)
        };
        let path = dir.join(&name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => {
                let rel = match subdir {
                    Some(s) => s.join(&name),
                    None => PathBuf::from(&name),
                };
                return Ok((rel, f));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
            Err(source) => return Err(ExportError::CreateFile { path, source }),
        }
    }
}

impl ObjectDir {
    /// Uses (and creates if needed) `root`.
    pub fn create(root: &Path) -> Result<ObjectDir, ExportError> {
        fs::create_dir_all(root).map_err(|source| ExportError::CreateDir {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(ObjectDir {
            root: root.to_path_buf(),
            bg: Default::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The writer thread of this directory (started on first use).
    pub fn background(&self) -> &Background {
        self.bg.get_or_init(|| Background::spawn(self.root.clone()))
    }

    /// Creates a new file named after `hint` (sanitized, made unique) inside `subdir` (a path
    /// returned by [`Self::create_subdir`], or none for the root). Returns the path relative to
    /// the root and the open file.
    pub fn create_file(
        &self,
        subdir: Option<&Path>,
        hint: &str,
    ) -> Result<(PathBuf, File), ExportError> {
        create_unique(&self.root, subdir, hint)
    }

    /// Creates a new sub-directory named after `hint` (sanitized, unique); returns its path
    /// relative to the root.
    pub fn create_subdir(&self, hint: &str) -> Result<PathBuf, ExportError> {
        let base = sanitize(hint);
        let mut n = 0u64;
        loop {
            let name = if n == 0 {
                base.clone()
            } else {
                numbered(&base, n)
            };
            let path = self.root.join(&name);
            match fs::create_dir(&path) {
                Ok(()) => return Ok(PathBuf::from(name)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(source) => return Err(ExportError::CreateDir { path, source }),
            }
        }
    }

    /// Writes a whole object at once; returns its relative path, size and sha256.
    pub fn write_object(
        &self,
        subdir: Option<&Path>,
        hint: &str,
        data: &[u8],
    ) -> Result<(PathBuf, u64, String), ExportError> {
        let (rel, f) = self.create_file(subdir, hint)?;
        let mut w = HashingWriter::new(BufWriter::new(f));
        w.write_all(data).map_err(|source| ExportError::Write {
            path: self.root.join(&rel),
            source,
        })?;
        let (size, sha) = w.finish().map_err(|source| ExportError::Write {
            path: self.root.join(&rel),
            source,
        })?;
        Ok((rel, size, sha))
    }
}

/// A writer that counts and hashes (SHA-256) what passes through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hash: Sha256::new(),
            size: 0,
        }
    }

    /// Flushes; returns the byte count and the lowercase hex SHA-256.
    pub fn finish(mut self) -> io::Result<(u64, String)> {
        self.inner.flush()?;
        Ok((self.size, hex(&self.hash.finalize())))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(H[usize::from(x >> 4)] as char);
        s.push(H[usize::from(x & 15)] as char);
    }
    s
}

/// SHA-256 of a byte slice, as lowercase hex.
pub fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

/// `manifest.jsonl`: one JSON object per line, appended as records complete. The lines are
/// written by the directory's [`Background`] thread, after the files written through it that
/// they reference (whose placeholders it fills in).
pub struct Manifest {
    bg: Background,
    pub records: u64,
}

impl Manifest {
    /// Creates (or appends to) `manifest.jsonl` in `dir`.
    pub fn open(dir: &ObjectDir) -> Result<Manifest, ExportError> {
        let path = dir.root().join("manifest.jsonl");
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| ExportError::CreateFile {
                path: path.clone(),
                source,
            })?;
        let bg = dir.background().clone();
        bg.set_manifest(f, path);
        Ok(Manifest { bg, records: 0 })
    }

    pub fn append(&mut self, record: &serde_json::Value) {
        self.bg.record(record);
        self.records += 1;
    }

    /// A record that is not to be listed: its file (`"file"`) is deleted instead.
    pub fn discard(&mut self, record: serde_json::Value) {
        self.bg.discard(record);
    }

    /// Waits until every file and record is written; the writer's report (write errors).
    pub fn finish(self) -> BackgroundReport {
        self.bg.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_inside() {
        for (hint, want) in [
            ("../../etc/passwd", "passwd"),
            ("/etc/shadow", "shadow"),
            ("C:\\Windows\\system32\\cmd.exe", "cmd.exe"),
            ("..", "object"),
            ("", "object"),
            ("a\u{0}b", "a_b"),
            ("CON", "_CON"),
            ("lpt1.txt", "_lpt1.txt"),
            ("what?.html", "what_.html"),
            ("dir/", "dir"),
        ] {
            assert_eq!(sanitize(hint), want, "{hint:?}");
        }
        let long = "é".repeat(300) + ".tar.gz";
        let s = sanitize(&long);
        assert!(s.len() <= MAX_NAME && s.ends_with(".gz"), "{s}");
    }

    #[test]
    fn duplicates_are_numbered_never_overwritten() {
        let t = tempfile::tempdir().unwrap();
        let d = ObjectDir::create(t.path()).unwrap();
        let mut names = Vec::new();
        for i in 0..1205u32 {
            let (rel, _, _) = d
                .write_object(None, "index.html", &i.to_le_bytes())
                .unwrap();
            names.push(rel);
        }
        assert_eq!(names[0], PathBuf::from("index.html"));
        assert_eq!(names[1], PathBuf::from("index(1).html"));
        assert_eq!(names[1204], PathBuf::from("index(1204).html"));
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1205);
        let sub = d.create_subdir("../x").unwrap();
        assert_eq!(sub, PathBuf::from("x"));
        let (rel, _, sha) = d.write_object(Some(&sub), "a.txt", b"abc").unwrap();
        assert_eq!(rel, PathBuf::from("x/a.txt"));
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
