//! One exported body: streamed to its file through the decoding chain as it arrives, with the
//! raw (still encoded) bytes kept in a side file until decoding is known to have worked.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

use serde_json::{Value, json};
use wiresift_export::{
    Background, Fact, FileId, MAX_NAME, ObjFile, ObjectDir, fact_text, sanitize,
};

use crate::decode::{self, Sink, Terminal};
use crate::multipart::Multipart;
use crate::util;

/// The output directory plus the next free number per name, so that the 1000th `index.html`
/// does not probe 999 taken names first.
pub struct OutDir {
    pub dir: ObjectDir,
    names: RefCell<HashMap<String, u64>>,
}

/// Remembered base names; beyond this the directory's own probing still keeps names unique.
const MAX_NAMES: usize = 100_000;

impl OutDir {
    pub fn new(dir: ObjectDir) -> OutDir {
        OutDir {
            dir,
            names: RefCell::new(HashMap::new()),
        }
    }

    /// Creates a new file named after `hint` (sanitised, unique), written by the directory's
    /// background thread.
    pub fn create(&self, hint: &str) -> ObjFile {
        self.dir.background().create(None, &self.unique(hint))
    }

    /// A name for `hint` not handed out before (sanitised, numbered).
    fn unique(&self, hint: &str) -> String {
        let mut base = sanitize(hint);
        if base.len() > MAX_NAME - 20 {
            // Room for "(n)" without the directory cutting the number off again.
            let mut cut = MAX_NAME - 20;
            while !base.is_char_boundary(cut) {
                cut -= 1;
            }
            base = sanitize(&base[..cut]);
        }
        let mut names = self.names.borrow_mut();
        if names.len() >= MAX_NAMES {
            names.clear();
        }
        let n = names.entry(base.clone()).or_insert(0);
        let name = if *n == 0 {
            base.clone()
        } else {
            match base.rfind('.') {
                Some(i) if i > 0 => format!("{}({n}){}", &base[..i], &base[i..]),
                _ => format!("{base}({n})"),
            }
        };
        *n += 1;
        name
    }

    /// [`OutDir::create`] for the raw side file of an encoded body: usually removed once
    /// decoding worked, so it is hashed only if it is kept.
    pub fn create_raw(&self, hint: &str) -> ObjFile {
        self.dir
            .background()
            .create_unhashed(None, &self.unique(hint))
    }

    pub fn bg(&self) -> &Background {
        self.dir.background()
    }
}

/// The manifest's placeholder for the file name of `id` (filled in by the writer thread).
pub fn file_fact(id: FileId) -> String {
    fact_text(id, Fact::File)
}

/// The manifest's placeholder for the SHA-256 of `id`.
pub fn sha_fact(id: FileId) -> String {
    fact_text(id, Fact::Sha256)
}

/// What is known about a body when it starts.
#[derive(Clone, Debug, Default)]
pub struct ObjSpec {
    pub stream: u64,
    pub protocol: &'static str,
    /// `request` or `response`.
    pub direction: &'static str,
    pub method: String,
    pub url: String,
    pub status: Option<u16>,
    pub content_type: String,
    pub codings: Vec<String>,
    pub name: String,
    pub frame: u64,
    pub ts: i64,
    pub boundary: Option<String>,
}

/// How an object ended, for the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    pub objects: u64,
    pub bytes: u64,
    pub truncated: u64,
    pub undecodable: u64,
}

/// Facts a HAR entry needs about a finished body.
#[derive(Clone, Debug, Default)]
pub struct Finished {
    /// The body's file (its final name and bytes: [`Background::query`]).
    pub file: Option<FileId>,
    pub size: u64,
    pub raw_size: u64,
    pub decoded: bool,
    pub prefix: Option<Vec<u8>>,
    /// `prefix` is the beginning of the object's file as written (not a partly decoded body
    /// whose file was replaced by the raw bytes).
    pub prefix_is_file: bool,
    /// Room in the HAR memory pool held for `prefix` until the HAR entry is written.
    pub(crate) har_slot: Option<Rc<crate::HarSlot>>,
}

/// The body as transferred (still encoded), kept until decoding is known to have worked:
/// in memory while small (most are: creating and deleting a side file for each would cost
/// more than the object), in a side file beyond [`RAW_IN_MEMORY`].
struct RawSide {
    hint: String,
    mem: Vec<u8>,
    f: Option<ObjFile>,
}

/// Encoded bytes kept in memory per object before they go to a side file.
const RAW_IN_MEMORY: usize = 32 * 1024;

impl RawSide {
    fn push(&mut self, out: &OutDir, d: &[u8]) {
        if self.f.is_none() && self.mem.len() + d.len() > RAW_IN_MEMORY {
            let mut f = out.create_raw(&self.hint);
            let _ = f.write_all(&self.mem);
            self.mem = Vec::new();
            self.f = Some(f);
        }
        match self.f.as_mut() {
            Some(f) => {
                let _ = f.write_all(d);
            }
            None => self.mem.extend_from_slice(d),
        }
    }

    /// The side file, written out now if the bytes were still in memory.
    fn into_file(self, out: &OutDir) -> FileId {
        match self.f {
            Some(f) => f.close(),
            None => {
                let mut f = out.create_raw(&self.hint);
                let _ = f.write_all(&self.mem);
                f.close()
            }
        }
    }
}

pub struct Obj {
    pub spec: ObjSpec,
    out: Option<Rc<OutDir>>,
    pub last_frame: u64,
    pub last_ts: i64,
    pub raw_size: u64,
    chain: Option<Box<dyn Sink>>,
    file: Option<FileId>,
    raw: Option<RawSide>,
    steps: Vec<String>,
    decode_err: Option<String>,
    /// Decoding stopped because bytes were missing (counted as truncated, not undecodable).
    decode_stopped_by_gap: bool,
    missing: Vec<(u64, u64)>,
    missing_more: u64,
    pub truncated: bool,
    notes: Vec<String>,
    har_slot: Option<Rc<crate::HarSlot>>,
}

/// Missing ranges listed per object; more are counted.
const MAX_RANGES: usize = 64;

/// Options for new objects.
#[derive(Clone, Debug, Default)]
pub struct ObjOptions {
    /// Write bodies as transferred (no content decoding).
    pub raw: bool,
    /// Keep this many bytes of the decoded body in memory (`http.file_data`, HAR); 0 for
    /// none.
    pub prefix: usize,
    /// Of `prefix`, the bytes that are not taken from the HAR memory pool (`http.file_data`).
    pub prefix_free: usize,
    /// The HAR memory pool share for this object's prefix (HAR with a directory).
    pub(crate) har_slot: Option<Rc<crate::HarSlot>>,
}

impl Obj {
    pub fn new(spec: ObjSpec, out: Option<Rc<OutDir>>, o: ObjOptions) -> Obj {
        let mut decode_err = None;
        let codings = if o.raw {
            Vec::new()
        } else if let Some(why) = decode::unsupported(&spec.codings) {
            decode_err = Some(why);
            Vec::new()
        } else {
            spec.codings.clone()
        };
        let mut file = None;
        let mut f_out = None;
        let mut raw = None;
        let wants_chain = out.is_some() || o.prefix > 0;
        if let Some(d) = &out {
            let hint = if spec.name.is_empty() {
                "object"
            } else {
                &spec.name
            };
            // Undecodable (or not to be decoded): the raw bytes are the object.
            let f = d.create(hint);
            file = Some(f.id());
            f_out = Some(f);
            if decode_err.is_none() && !o.raw && !codings.is_empty() {
                raw = Some(RawSide {
                    hint: format!("{hint}.raw"),
                    mem: Vec::new(),
                    f: None,
                });
            }
        }
        let chain = wants_chain.then(|| {
            let mut t = Terminal::new(f_out);
            if o.prefix > 0 {
                t.prefix = Some(Vec::new());
                t.prefix_cap = o.prefix;
                t.prefix_free = o.prefix_free;
                t.har = o.har_slot.clone();
            }
            if !o.raw
                && decode_err.is_none()
                && let Some(b) = &spec.boundary
            {
                t.multipart = Some(Box::new(Multipart::new(b, out.clone())));
            }
            decode::chain(&codings, t)
        });
        Obj {
            last_frame: spec.frame,
            last_ts: spec.ts,
            spec,
            out,
            raw_size: 0,
            chain,
            file,
            raw,
            steps: codings,
            decode_err,
            decode_stopped_by_gap: false,
            missing: Vec::new(),
            missing_more: 0,
            truncated: false,
            notes: Vec::new(),
            har_slot: o.har_slot,
        }
    }

    pub fn data(&mut self, d: &[u8], frame: u64, ts: i64) {
        self.last_frame = frame;
        self.last_ts = ts;
        self.raw_size += d.len() as u64;
        if let (Some(r), Some(out)) = (self.raw.as_mut(), self.out.as_ref()) {
            r.push(out, d);
        }
        if let Some(c) = self.chain.as_mut()
            && let Err(e) = c.write_all(d)
        {
            self.fail(format!("{}: {e}", self.steps.join(",")));
        }
    }

    fn fail(&mut self, why: String) {
        if self.decode_err.is_none() {
            self.decode_err = Some(why);
        }
        // The decoded output is useless now; keep the terminal for its prefix only if there is
        // no raw side to fall back on.
        if self.raw.is_some() || self.out.is_none() {
            self.chain = None;
        }
    }

    /// `n` bytes of the body will never arrive.
    pub fn gap(&mut self, n: u64) {
        self.truncated = true;
        if self.missing.len() < MAX_RANGES {
            self.missing.push((self.raw_size, self.raw_size + n));
        } else {
            self.missing_more += 1;
        }
        self.raw_size += n;
        if !self.steps.is_empty() && self.decode_err.is_none() {
            self.decode_stopped_by_gap = true;
            self.fail("not decoded: bytes missing from the encoded body".into());
        }
    }

    pub fn note(&mut self, s: &str) {
        if self.notes.len() < 8 {
            self.notes.push(s.to_string());
        }
    }

    /// Ends the object; returns its manifest records (the object, then its multipart parts),
    /// the counts, and what a HAR entry needs.
    pub fn finish(mut self, truncated: bool) -> (Vec<Value>, Outcome, Finished) {
        if truncated {
            self.truncated = true;
        }
        let mut t_size = 0;
        let mut t_sha = String::new();
        let mut prefix = None;
        let mut parts = Vec::new();
        let mut mp_error = None;
        if let Some(mut c) = self.chain.take() {
            if let Err(e) = c.end() {
                if self.truncated && !self.steps.is_empty() {
                    self.decode_stopped_by_gap = true;
                }
                self.fail(format!("{}: {e}", self.steps.join(",")));
                if let Some(mut c2) = self.chain.take() {
                    prefix = c2.terminal().prefix.take();
                }
            } else {
                let t = c.terminal();
                t_size = t.size;
                t_sha = t.sha256();
                prefix = t.prefix.take();
                if let Some(m) = t.multipart.as_mut() {
                    parts = std::mem::take(&mut m.parts);
                    mp_error = m.error.take();
                }
            }
            // Dropping the chain closes its file (before the record that names it is sent).
        }
        let decoded = self.decode_err.is_none() && !self.steps.is_empty();
        let file = self.file;
        let (mut size, mut sha) = (t_size, t_sha);
        if let Some(r) = self.raw.take() {
            if let Some(out) = &self.out {
                match file {
                    Some(f) if self.decode_err.is_some() => {
                        // Keep the raw bytes under the object's own name.
                        let raw_id = r.into_file(out);
                        out.bg().replace(raw_id, f);
                        size = self.raw_size - self.missing_total();
                        sha = sha_fact(f);
                    }
                    _ => {
                        if let Some(side) = r.f {
                            let raw_id = side.close();
                            out.bg().remove(raw_id);
                        }
                    }
                }
            }
        } else if self.decode_err.is_some() && self.chain.is_none() && self.out.is_none() {
            size = 0;
        }
        if !decoded && self.steps.is_empty() && size == 0 {
            size = t_size;
        }
        let mut anomalies = Vec::new();
        if self.truncated {
            let mut ranges: Vec<Value> = self.missing.iter().map(|&(a, b)| json!([a, b])).collect();
            if self.missing_more > 0 {
                ranges.push(json!(format!("{} more", self.missing_more)));
            }
            anomalies.push(json!({"truncated": {"missing": ranges}}));
        }
        let undecodable = self.decode_err.is_some() && !self.decode_stopped_by_gap;
        if let Some(why) = &self.decode_err {
            if undecodable {
                anomalies.push(json!({"undecodable": why}));
            } else {
                anomalies.push(json!({"not_decoded": why}));
            }
        }
        if let Some(e) = &mp_error {
            anomalies.push(json!({"multipart": e}));
        }
        for n in &self.notes {
            anomalies.push(json!({"note": n}));
        }
        let s = &self.spec;
        let mut rec = json!({
            "kind": "http",
            "stream": s.stream,
            "frames": [s.frame, self.last_frame],
            "first_ts": util::iso8601(s.ts, 6),
            "last_ts": util::iso8601(self.last_ts, 6),
            "protocol": s.protocol,
            "direction": s.direction,
            "method": s.method,
            "url": s.url,
            "status": s.status,
            "content_type": s.content_type,
            "raw_size": self.raw_size,
            "size": size,
            "sha256": sha,
            "file": file.map(file_fact),
            "decode": if decoded { self.steps.clone() } else { Vec::new() },
            "anomalies": anomalies,
        });
        if self.out.is_none() {
            rec["file"] = Value::Null;
        }
        let mut out = Outcome {
            objects: 1,
            bytes: size,
            truncated: u64::from(self.truncated),
            undecodable: u64::from(undecodable),
        };
        let mut recs = vec![rec];
        for p in parts {
            let mut an = Vec::new();
            if p.truncated {
                an.push(json!({"truncated": {"missing": []}}));
            }
            out.objects += 1;
            out.bytes += p.size;
            out.truncated += u64::from(p.truncated);
            recs.push(json!({
                "kind": "http-part",
                "stream": s.stream,
                "frames": [s.frame, self.last_frame],
                "first_ts": util::iso8601(s.ts, 6),
                "last_ts": util::iso8601(self.last_ts, 6),
                "protocol": s.protocol,
                "direction": s.direction,
                "method": s.method,
                "url": s.url,
                "part_of": file.map(file_fact),
                "part": p.index,
                "field": p.name,
                "filename": p.filename,
                "content_type": p.content_type,
                "size": p.size,
                "sha256": p.sha256,
                "file": p.file,
                "anomalies": an,
            }));
        }
        let fin = Finished {
            file,
            size,
            raw_size: self.raw_size,
            decoded,
            prefix,
            prefix_is_file: self.decode_err.is_none(),
            har_slot: self.har_slot.take(),
        };
        (recs, out, fin)
    }

    fn missing_total(&self) -> u64 {
        self.missing.iter().map(|&(a, b)| b - a).sum()
    }
}
