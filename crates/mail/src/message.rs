//! One message as it streams to disk: a temporary file written as the bytes arrive (bounded
//! memory), the header block kept in memory (capped) for names and fields, then on completion
//! a rename to its final name and the attachments decoded beside it.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};
use serde_json::{Value, json};
use wiresift_export::{Fact, HashingWriter, ObjectDir, fact, sha256_hex};
use wiresift_flow::Nanos;

use crate::Ctx;
use crate::fields::*;

/// Bytes of the header block kept in memory (beyond it, fields and names use what was kept).
pub const MAX_HEAD: usize = 64 * 1024;
/// Attachments nested deeper than this (message/rfc822 inside message/rfc822 ...) are not
/// extracted.
const MAX_DEPTH: usize = 8;

/// A message being received.
pub struct Msg {
    pub proto: &'static str,
    pub stream: u64,
    pub index: u64,
    /// IMAP: the FETCH item (`BODY[]`, `RFC822`, `BODY[HEADER.FIELDS (...)]`).
    pub section: Option<String>,
    file: Option<(PathBuf, HashingWriter<BufWriter<File>>)>,
    head: Vec<u8>,
    head_done: bool,
    /// Last bytes seen, to find the end of the header block across segments.
    tail: [u8; 3],
    pub size: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    pub frames: u64,
    pub first_ts: Nanos,
    pub last_ts: Nanos,
    pub anomalies: Vec<Value>,
    pub gap_bytes: u64,
    truncated: bool,
    write_error: Option<String>,
}

/// What a finished message left: its file, digest, headers, attachments.
pub struct Finished {
    pub record: serde_json::Map<String, Value>,
}

impl Msg {
    pub fn begin(
        ctx: &mut Ctx,
        proto: &'static str,
        stream: u64,
        index: u64,
        frame: u64,
        ts: Nanos,
    ) -> Msg {
        let mut m = Msg {
            proto,
            stream,
            index,
            section: None,
            file: None,
            head: Vec::new(),
            head_done: false,
            tail: [0; 3],
            size: 0,
            first_frame: frame,
            last_frame: frame,
            frames: 1,
            first_ts: ts,
            last_ts: ts,
            anomalies: Vec::new(),
            gap_bytes: 0,
            truncated: false,
            write_error: None,
        };
        if let Some(dir) = &ctx.dir {
            match dir.create_file(None, &format!("{stream}-{index}.eml.part")) {
                Ok((rel, f)) => {
                    m.file = Some((
                        rel,
                        HashingWriter::new(BufWriter::with_capacity(64 * 1024, f)),
                    ))
                }
                Err(e) => m.write_error = Some(e.to_string()),
            }
        }
        m
    }

    /// Notes that bytes of this message came in `frame`.
    pub fn touch(&mut self, frame: u64, ts: Nanos) {
        if frame != self.last_frame {
            self.frames += 1;
            self.last_frame = frame;
        }
        self.last_ts = ts;
    }

    pub fn write(&mut self, ctx: &Ctx, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if !self.head_done {
            self.scan_head(data);
        }
        let room = ctx.opts.max_message_size.saturating_sub(self.size);
        let n = (data.len() as u64).min(room) as usize;
        if n < data.len() && !self.truncated {
            self.truncated = true;
            self.anomalies.push(json!({
                "truncated": format!("cut at --max-message-size {}", ctx.opts.max_message_size)
            }));
        }
        self.size += n as u64;
        if let Some((_, w)) = &mut self.file
            && self.write_error.is_none()
            && let Err(e) = w.write_all(&data[..n])
        {
            self.write_error = Some(e.to_string());
        }
    }

    fn scan_head(&mut self, data: &[u8]) {
        // The header block ends at the first empty line.
        let mut prev = self.tail;
        let mut end = None;
        for (i, &b) in data.iter().enumerate() {
            if b == b'\n' && (prev[2] == b'\n' || (prev[2] == b'\r' && prev[1] == b'\n')) {
                end = Some(i + 1);
                break;
            }
            prev = [prev[1], prev[2], b];
        }
        self.tail = prev;
        let take = end.unwrap_or(data.len());
        let room = MAX_HEAD - self.head.len();
        self.head.extend_from_slice(&data[..take.min(room)]);
        if end.is_some() || self.head.len() >= MAX_HEAD {
            self.head_done = true;
        }
    }

    pub fn gap(&mut self, missing: u64) {
        self.gap_bytes += missing;
    }

    /// Closes the file, names it, decodes attachments; fills the frame's `imf` fields.
    pub fn finish(mut self, ctx: &mut Ctx, complete: bool) -> Finished {
        if !complete {
            self.anomalies
                .push(json!({"truncated": "the message did not end in the capture"}));
        }
        if self.gap_bytes > 0 {
            self.anomalies
                .push(json!({"gap": {"missing_bytes": self.gap_bytes}}));
        }
        let hdr = Headers::parse(&self.head);
        if ctx.opts.fields {
            ctx.frame.proto(IMF);
            for (id, v) in [
                (IMF_FROM, &hdr.from),
                (IMF_TO, &hdr.to),
                (IMF_CC, &hdr.cc),
                (IMF_SUBJECT, &hdr.subject_raw),
                (IMF_DATE, &hdr.date),
                (IMF_MESSAGE_ID, &hdr.message_id),
                (IMF_CONTENT_TYPE, &hdr.content_type),
            ] {
                if let Some(v) = v {
                    ctx.frame.string(id, v.clone());
                }
            }
        }
        let mut rec = serde_json::Map::new();
        rec.insert("protocol".into(), json!(self.proto));
        rec.insert("stream".into(), json!(self.stream));
        rec.insert("message".into(), json!(self.index));
        if let Some(s) = &self.section {
            rec.insert("imap_section".into(), json!(s));
        }
        rec.insert("first_frame".into(), json!(self.first_frame));
        rec.insert("last_frame".into(), json!(self.last_frame));
        rec.insert("frames".into(), json!(self.frames));
        rec.insert("first_time".into(), json!(epoch(self.first_ts)));
        rec.insert("last_time".into(), json!(epoch(self.last_ts)));
        for (k, v) in [
            ("from", &hdr.from),
            ("to", &hdr.to),
            ("cc", &hdr.cc),
            ("subject", &hdr.subject),
            ("date", &hdr.date),
            ("message_id", &hdr.message_id),
            ("content_type", &hdr.content_type),
        ] {
            rec.insert(k.into(), v.as_ref().map_or(Value::Null, |s| json!(s)));
        }
        rec.insert("size".into(), json!(self.size));
        if self.gap_bytes > 0 {
            rec.insert("gap_bytes".into(), json!(self.gap_bytes));
        }
        ctx.summary.objects += 1;
        ctx.summary.bytes += self.size;
        if self.truncated || !complete || self.gap_bytes > 0 {
            ctx.summary.truncated += 1;
        }
        let Some((tmp, w)) = self.file.take() else {
            if let Some(e) = self.write_error.take() {
                self.anomalies.push(json!({"write_error": e}));
            }
            rec.insert("anomalies".into(), json!(self.anomalies));
            return Finished { record: rec };
        };
        let Some(dir) = &ctx.dir else {
            return Finished { record: rec };
        };
        let sha = match w.finish() {
            Ok((_, sha)) => Some(sha),
            Err(e) => {
                self.write_error.get_or_insert(e.to_string());
                None
            }
        };
        if let Some(e) = &self.write_error {
            self.anomalies.push(json!({"write_error": e}));
        }
        let label = hdr
            .subject
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .or(hdr.message_id.as_deref())
            .map(|s| s.trim().trim_matches(['<', '>']).to_string());
        let hint = match &label {
            Some(l) => format!("{}-{}-{}.eml", self.stream, self.index, clip(l, 120)),
            None => format!("{}-{}.eml", self.stream, self.index),
        };
        let file = match dir.create_file(None, &hint) {
            Ok((rel, _)) => match fs::rename(dir.root().join(&tmp), dir.root().join(&rel)) {
                Ok(()) => rel,
                Err(_) => tmp,
            },
            Err(_) => tmp,
        };
        rec.insert("file".into(), json!(file.to_string_lossy()));
        rec.insert("sha256".into(), sha.map_or(Value::Null, |s| json!(s)));
        // Attachments, from the finished file.
        let mut atts = Vec::new();
        if ctx.opts.attachments && self.write_error.is_none() {
            if self.size > ctx.opts.max_parse_size {
                self.anomalies.push(json!({"not_extracted": format!(
                    "attachments not extracted: message larger than --max-parse-size {}",
                    ctx.opts.max_parse_size
                )}));
            } else if let Ok(raw) = fs::read(dir.root().join(&file)) {
                let stem = file
                    .file_name()
                    .map(|n| n.to_string_lossy().trim_end_matches(".eml").to_string())
                    .unwrap_or_default();
                extract(
                    dir,
                    ctx.background,
                    &raw,
                    &stem,
                    &mut atts,
                    &mut self.anomalies,
                );
            }
        }
        rec.insert("attachments".into(), Value::Array(atts));
        rec.insert("anomalies".into(), json!(self.anomalies));
        Finished { record: rec }
    }
}

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut k = max;
    while !s.is_char_boundary(k) {
        k -= 1;
    }
    &s[..k]
}

/// Seconds since the epoch with nanoseconds, as tshark's `frame.time_epoch`.
pub fn epoch(ns: Nanos) -> String {
    let s = ns.div_euclid(1_000_000_000);
    let n = ns.rem_euclid(1_000_000_000);
    format!("{s}.{n:09}")
}

/// Header values of a message: raw (unfolded line ends kept as tshark shows them) for fields,
/// and the decoded subject (RFC 2047) for names and the manifest.
#[derive(Default, Debug)]
pub struct Headers {
    pub from: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub subject_raw: Option<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub message_id: Option<String>,
    pub content_type: Option<String>,
}

impl Headers {
    pub fn parse(head: &[u8]) -> Headers {
        let mut h = Headers::default();
        for (name, value) in raw_headers(head) {
            let slot = if name.eq_ignore_ascii_case(b"from") {
                &mut h.from
            } else if name.eq_ignore_ascii_case(b"to") {
                &mut h.to
            } else if name.eq_ignore_ascii_case(b"cc") {
                &mut h.cc
            } else if name.eq_ignore_ascii_case(b"subject") {
                &mut h.subject_raw
            } else if name.eq_ignore_ascii_case(b"date") {
                &mut h.date
            } else if name.eq_ignore_ascii_case(b"message-id") {
                &mut h.message_id
            } else if name.eq_ignore_ascii_case(b"content-type") {
                &mut h.content_type
            } else {
                continue;
            };
            if slot.is_none() {
                *slot = Some(String::from_utf8_lossy(value).into_owned());
            }
        }
        if h.subject_raw.is_some() {
            h.subject = MessageParser::default()
                .parse_headers(head)
                .and_then(|m| m.subject().map(str::to_string))
                .or_else(|| h.subject_raw.clone());
        }
        h
    }
}

/// `(name, value)` of each header field; the value is trimmed of leading blanks and of the
/// final line end, continuation lines kept.
pub fn raw_headers(head: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < head.len() {
        let line_end = |from: usize| memchr::memchr(b'\n', &head[from..]).map(|p| from + p + 1);
        let Some(mut end) = line_end(i) else { break };
        let line = &head[i..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        // Continuations.
        while end < head.len() && matches!(head[end], b' ' | b'\t') {
            match line_end(end) {
                Some(e) => end = e,
                None => {
                    end = head.len();
                    break;
                }
            }
        }
        let field = &head[i..end];
        if let Some(colon) = memchr::memchr(b':', field) {
            let name = trim(&field[..colon]);
            let mut v = &field[colon + 1..];
            while let [b' ' | b'\t', rest @ ..] = v {
                v = rest;
            }
            let v = v
                .strip_suffix(b"\n")
                .map(|x| x.strip_suffix(b"\r").unwrap_or(x))
                .unwrap_or(v);
            if !name.is_empty() {
                out.push((name, v));
            }
        }
        i = end;
    }
    out
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |p| p + 1);
    &b[s..e.max(s)]
}

/// Writes every attachment of `raw` into a folder named after the message; nested messages
/// are written as `.eml` and their own attachments extracted too.
fn extract(
    dir: &ObjectDir,
    background: bool,
    raw: &[u8],
    stem: &str,
    out: &mut Vec<Value>,
    anomalies: &mut Vec<Value>,
) {
    let Some(msg) = MessageParser::default().parse(raw) else {
        anomalies.push(json!({"undecodable": "not a MIME message"}));
        return;
    };
    let mut sub = None;
    walk(dir, background, &msg, stem, &mut sub, out, anomalies, 0);
}

/// Writes the attachments of `msg` (and of messages nested in it). With `background`, the
/// directory's writer thread writes and hashes them, and the record carries placeholders for
/// the final name and digest (filled in when the manifest line is written).
#[allow(clippy::too_many_arguments)]
fn walk(
    dir: &ObjectDir,
    background: bool,
    msg: &mail_parser::Message<'_>,
    stem: &str,
    sub: &mut Option<PathBuf>,
    out: &mut Vec<Value>,
    anomalies: &mut Vec<Value>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        anomalies.push(json!({"not_extracted": "attachments nested too deep"}));
        return;
    }
    for (k, part) in msg.attachments().enumerate() {
        let (data, nested): (&[u8], Option<&mail_parser::Message<'_>>) = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => (b, None),
            PartType::Text(t) | PartType::Html(t) => (t.as_bytes(), None),
            PartType::Message(m) => (m.raw_message(), Some(m)),
            PartType::Multipart(_) => continue,
        };
        let ctype = content_type(part);
        let name = part
            .attachment_name()
            .map(str::to_string)
            .or_else(|| nested.and_then(|m| m.subject().map(|s| format!("{s}.eml"))))
            .unwrap_or_else(|| format!("part{}{}", k + 1, default_ext(&ctype, nested.is_some())));
        if sub.is_none() {
            match dir.create_subdir(stem) {
                Ok(p) => *sub = Some(p),
                Err(e) => {
                    anomalies.push(json!({"write_error": e.to_string()}));
                    return;
                }
            }
        }
        if background {
            let mut f = dir.background().create(sub.as_deref(), &name);
            let _ = f.write_all(data);
            let id = f.close();
            out.push(json!({
                "name": name,
                "file": fact(id, Fact::File),
                "content_type": ctype,
                "size": data.len(),
                "sha256": fact(id, Fact::Sha256),
                "encoding": part.content_transfer_encoding(),
            }));
        } else {
            match dir.write_object(sub.as_deref(), &name, data) {
                Ok((rel, size, sha)) => {
                    debug_assert_eq!(sha, sha256_hex(data));
                    out.push(json!({
                        "name": name,
                        "file": rel.to_string_lossy(),
                        "content_type": ctype,
                        "size": size,
                        "sha256": sha,
                        "encoding": part.content_transfer_encoding(),
                    }));
                }
                Err(e) => anomalies.push(json!({"write_error": e.to_string()})),
            }
        }
        if let Some(m) = nested {
            walk(dir, background, m, stem, sub, out, anomalies, depth + 1);
        }
    }
}

fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match &ct.c_subtype {
            Some(s) => format!("{}/{}", ct.c_type, s).to_ascii_lowercase(),
            None => ct.c_type.to_ascii_lowercase(),
        },
        None => "text/plain".into(),
    }
}

fn default_ext(ctype: &str, message: bool) -> &'static str {
    if message {
        return ".eml";
    }
    match ctype {
        "text/plain" => ".txt",
        "text/html" => ".html",
        "application/pdf" => ".pdf",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "application/zip" => ".zip",
        _ => ".bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_raw_and_decoded() {
        let h = Headers::parse(
            b"From: A <a@x>\r\nTo: b@x,\r\n c@x\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbody",
        );
        assert_eq!(h.from.as_deref(), Some("A <a@x>"));
        assert_eq!(h.to.as_deref(), Some("b@x,\r\n c@x"));
        assert_eq!(h.subject.as_deref(), Some("café"));
        assert_eq!(h.subject_raw.as_deref(), Some("=?utf-8?q?caf=C3=A9?="));
    }
}
