//! Streaming `multipart/*` splitter: each part of a (decoded) body becomes a file of its own,
//! named after its `Content-Disposition` filename (or form field name).
//!
//! Memory: the part headers (capped) and at most one delimiter's length of body bytes.

use std::io::Write;
use std::rc::Rc;

use crate::decode::Terminal;
use crate::object::OutDir;
use crate::util;

const MAX_PART_HEADERS: usize = 16 * 1024;
/// Parts per body; later ones stay inside the parent object only.
const MAX_PARTS: usize = 1000;

enum State {
    Preamble,
    Headers,
    Body,
    Done,
}

/// A finished part.
pub struct Part {
    pub index: usize,
    pub name: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub file: Option<String>,
    pub size: u64,
    pub sha256: String,
    /// The body ended before this part's closing delimiter.
    pub truncated: bool,
}

struct Current {
    t: Terminal,
    name: Option<String>,
    filename: Option<String>,
    content_type: Option<String>,
    file: Option<String>,
}

pub struct Multipart {
    out: Option<Rc<OutDir>>,
    delim: Vec<u8>,
    state: State,
    buf: Vec<u8>,
    cur: Option<Current>,
    pub parts: Vec<Part>,
    /// A structural problem (missing delimiter, oversized headers).
    pub error: Option<String>,
}

impl Multipart {
    pub fn new(boundary: &str, out: Option<Rc<OutDir>>) -> Multipart {
        let mut delim = b"\r\n--".to_vec();
        delim.extend_from_slice(boundary.as_bytes());
        Multipart {
            out,
            delim,
            state: State::Preamble,
            // The first delimiter may start the body: pretend a CRLF came before it.
            buf: b"\r\n".to_vec(),
            cur: None,
            parts: Vec::new(),
            error: None,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        if matches!(self.state, State::Done) {
            return;
        }
        self.buf.extend_from_slice(data);
        self.run();
    }

    fn run(&mut self) {
        loop {
            match self.state {
                State::Done => {
                    self.buf.clear();
                    return;
                }
                State::Preamble | State::Body => {
                    match memchr::memmem::find(&self.buf, &self.delim) {
                        Some(p) => {
                            let after = p + self.delim.len();
                            if self.buf.len() < after + 2 {
                                // Need the two bytes after the delimiter; write what is safe.
                                self.emit(p);
                                return;
                            }
                            self.emit(p);
                            self.finish_part(false);
                            // self.buf now starts with the delimiter.
                            let tail = &self.buf[self.delim.len()..];
                            if tail.starts_with(b"--") {
                                self.state = State::Done;
                                continue;
                            }
                            // Skip transport padding up to the CRLF.
                            match memchr::memmem::find(tail, b"\r\n") {
                                Some(q) => {
                                    self.buf.drain(..self.delim.len() + q + 2);
                                    self.state = State::Headers;
                                }
                                None if tail.len() > 256 => {
                                    self.error = Some("bad multipart delimiter line".into());
                                    self.state = State::Done;
                                }
                                None => return,
                            }
                        }
                        None => {
                            let keep = self.delim.len() - 1;
                            if self.buf.len() > keep {
                                self.emit(self.buf.len() - keep);
                            }
                            return;
                        }
                    }
                }
                State::Headers => {
                    let end = if self.buf.starts_with(b"\r\n") {
                        Some((0, 2))
                    } else {
                        // Headers end with an empty line.
                        memchr::memmem::find(&self.buf, b"\r\n\r\n").map(|p| (p, p + 4))
                    };
                    let Some((hend, body)) = end else {
                        if self.buf.len() > MAX_PART_HEADERS {
                            self.error = Some("multipart part headers too long".into());
                            self.state = State::Done;
                            continue;
                        }
                        return;
                    };
                    let head = String::from_utf8_lossy(&self.buf[..hend]).into_owned();
                    // The CRLF that ends the part's content belongs to the next delimiter.
                    self.buf.drain(..body);
                    self.start_part(&head);
                    self.state = State::Body;
                }
            }
        }
    }

    /// Writes `buf[..n]` to the current part (if in a body) and drops it from the buffer.
    fn emit(&mut self, n: usize) {
        if matches!(self.state, State::Body)
            && let Some(c) = self.cur.as_mut()
        {
            let _ = c.t.write_all(&self.buf[..n]);
        }
        self.buf.drain(..n);
    }

    fn start_part(&mut self, head: &str) {
        let mut name = None;
        let mut filename = None;
        let mut ctype = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-disposition") {
                filename = util::disposition_filename(v);
                name = util::disposition_param(v, "name");
            } else if k.eq_ignore_ascii_case("content-type") {
                ctype = Some(v.trim().to_string());
            }
        }
        let mut out_file = None;
        if self.parts.len() < MAX_PARTS
            && let Some(o) = &self.out
        {
            let hint = filename
                .clone()
                .or_else(|| name.clone())
                .unwrap_or_else(|| "part".into());
            out_file = Some(o.create(&hint));
        }
        let file = out_file.as_ref().map(|f| crate::object::file_fact(f.id()));
        self.cur = Some(Current {
            t: Terminal::new(out_file),
            name,
            filename,
            content_type: ctype,
            file,
        });
    }

    fn finish_part(&mut self, truncated: bool) {
        if let Some(c) = self.cur.take() {
            self.parts.push(Part {
                index: self.parts.len(),
                name: c.name,
                filename: c.filename,
                content_type: c.content_type,
                file: c.file,
                size: c.t.size,
                sha256: c.t.sha256(),
                truncated,
            });
            // Dropping the part's terminal closes its file.
        }
    }

    /// The body ended.
    pub fn end(&mut self) {
        if matches!(self.state, State::Body) {
            let n = self.buf.len();
            self.emit(n);
            self.finish_part(true);
            self.error
                .get_or_insert_with(|| "multipart body ended inside a part".into());
        }
        self.state = State::Done;
        self.buf = Vec::new();
    }
}
