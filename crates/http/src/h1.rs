//! HTTP/1.0 and 1.1 over one TCP connection: message heads (httparse), body framing
//! (Content-Length, chunked with trailers, close-delimited, none), pipelining, CONNECT and
//! Upgrade, gaps and resynchronisation.

use std::collections::VecDeque;

use wiresift_flow::Direction;

use crate::fields::Msg;
use crate::object::{Obj, ObjSpec};
use crate::{ConnInfo, Ctx, Head, Txn, util};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Bytes kept while looking for the next message start after unparsable data.
const RESYNC_TAIL: usize = 8 * 1024;
/// Longest chunk-size or trailer line.
const MAX_LINE: usize = 16 * 1024;

pub(crate) enum Detect {
    Wait,
    NotHttp,
    H2Preface,
    H1,
    /// `GET /path` without a version (HTTP/0.9): the response is everything the server sends.
    H09(String),
}

/// What the connection becomes after a message.
pub(crate) enum Switch {
    None,
    /// CONNECT 2xx or 101 to something other than h2c: not HTTP any more.
    Tunnel,
    /// 101 to h2c: the rest of `rest_dir`'s bytes are HTTP/2.
    H2c {
        txn: Box<Txn>,
        rest: Vec<u8>,
        rest_dir: Direction,
    },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum St {
    #[default]
    Head,
    Body,
    Resync,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Body {
    #[default]
    None,
    Len(u64),
    Chunk(Ck),
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ck {
    Size,
    Data(u64),
    DataCr,
    DataLf,
    Trailers,
}

#[derive(Default)]
pub(crate) struct Dir {
    /// Detection bytes, a partial head, a partial line, or the resync tail.
    pub buf: Vec<u8>,
    st: St,
    body: Body,
    obj: Option<Obj>,
    /// The response head whose body is in progress.
    head: Option<Head>,
    /// The request (by sequence number) whose body is in progress.
    req_seq: Option<u64>,
}

#[derive(Default)]
pub(crate) struct H1 {
    pub dirs: [Dir; 2],
    pending: VecDeque<Txn>,
    resp_txn: Option<Txn>,
    seq: u64,
}

enum Step {
    Consumed(usize),
    /// Input went into the direction's buffer; go on with these bytes.
    Leftover(Vec<u8>),
    Switch(Switch, usize),
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Decides whether a flow is HTTP from its first bytes (kept in the direction's buffer).
pub(crate) fn detect(h: &mut H1, dir: Direction, data: &[u8]) -> Detect {
    let other_empty = h.dirs[dir.reverse().index()].buf.is_empty();
    let d = &mut h.dirs[dir.index()];
    if d.buf.len() < 16 * 1024 {
        d.buf.extend_from_slice(&data[..data.len().min(16 * 1024)]);
    }
    let b = &d.buf;
    if b.is_empty() {
        return Detect::Wait;
    }
    match dir {
        Direction::ClientToServer => {
            if b.len() < PREFACE.len() && PREFACE.starts_with(b) {
                return Detect::Wait;
            }
            if b.starts_with(PREFACE) {
                return Detect::H2Preface;
            }
            if !b[0].is_ascii_uppercase() {
                return Detect::NotHttp;
            }
            let sp = b.iter().position(|&c| c == b' ');
            let tok_end = sp.unwrap_or(b.len());
            if tok_end > 32 || !b[..tok_end].iter().all(|&c| is_tchar(c)) {
                return Detect::NotHttp;
            }
            match memchr::memchr(b'\n', b) {
                None if b.len() >= 8 * 1024 => Detect::NotHttp,
                None => Detect::Wait,
                Some(p) => {
                    let line = b[..p].strip_suffix(b"\r").unwrap_or(&b[..p]);
                    let ok = line.len() > 9
                        && line[line.len() - 9..].starts_with(b" HTTP/1.")
                        && line[line.len() - 1].is_ascii_digit();
                    if ok {
                        return Detect::H1;
                    }
                    // HTTP/0.9: exactly `GET <path>`.
                    if let Some(path) = line.strip_prefix(b"GET ")
                        && path.starts_with(b"/")
                        && !path.contains(&b' ')
                        && path.iter().all(|c| c.is_ascii_graphic())
                    {
                        return Detect::H09(String::from_utf8_lossy(path).into_owned());
                    }
                    Detect::NotHttp
                }
            }
        }
        Direction::ServerToClient => {
            if b.len() < 7 && b"HTTP/1.".starts_with(b) {
                Detect::Wait
            } else if b.starts_with(b"HTTP/1.") {
                Detect::H1
            } else if other_empty && b.len() < 16 * 1024 {
                // The server spoke first: wait for the client (HTTP/0.9 answers have no head).
                Detect::Wait
            } else {
                Detect::NotHttp
            }
        }
    }
}

enum Parsed {
    Complete(usize, Box<Head>),
    Partial,
    Invalid,
}

fn parse_head(b: &[u8], request: bool, max_headers: usize) -> Parsed {
    let mut hdrs = [httparse::EMPTY_HEADER; 128];
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .ignore_invalid_headers_in_responses(true)
        .ignore_invalid_headers_in_requests(true);
    let mut h = Head {
        request,
        ..Head::default()
    };
    let (n, headers): (usize, &[httparse::Header<'_>]) = if request {
        let mut r = httparse::Request::new(&mut hdrs);
        match cfg.parse_request(&mut r, b) {
            Ok(httparse::Status::Complete(n)) => {
                h.method = r.method.unwrap_or("").to_string();
                h.uri = r.path.unwrap_or("").to_string();
                h.version = format!("HTTP/1.{}", r.version.unwrap_or(1));
                let k = r.headers.len();
                (n, &hdrs[..k])
            }
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(httparse::Error::TooManyHeaders) => return Parsed::Invalid,
            Err(_) => return Parsed::Invalid,
        }
    } else {
        let mut r = httparse::Response::new(&mut hdrs);
        match cfg.parse_response(&mut r, b) {
            Ok(httparse::Status::Complete(n)) => {
                h.code = r.code.unwrap_or(0);
                h.phrase = r.reason.unwrap_or("").to_string();
                h.version = format!("HTTP/1.{}", r.version.unwrap_or(1));
                let k = r.headers.len();
                (n, &hdrs[..k])
            }
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(_) => return Parsed::Invalid,
        }
    };
    for x in headers.iter().take(max_headers) {
        if x.name.is_empty() {
            continue;
        }
        h.headers.push((
            x.name.to_string(),
            String::from_utf8_lossy(x.value).into_owned(),
        ));
    }
    h.head_size = n;
    h.derive();
    Parsed::Complete(n, Box::new(h))
}

/// A line ending in LF from `buf` + `input`: (line without CR LF, bytes of `input` used), or
/// `None` when more input is needed (then all of `input` is in `buf`). `Err` if too long.
fn take_line(buf: &mut Vec<u8>, input: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ()> {
    match memchr::memchr(b'\n', input) {
        Some(p) => {
            buf.extend_from_slice(&input[..p]);
            let mut line = std::mem::take(buf);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Ok(Some((line, p + 1)))
        }
        None => {
            if buf.len() + input.len() > MAX_LINE {
                buf.clear();
                return Err(());
            }
            buf.extend_from_slice(input);
            Ok(None)
        }
    }
}

fn chunk_size(line: &[u8]) -> Option<u64> {
    let s = line
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(line.len());
    let hex: Vec<u8> = line[s..]
        .iter()
        .copied()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()
}

/// Where a message plausibly starts in `b` (after unparsable data or a gap).
fn find_start(dir: Direction, b: &[u8]) -> Option<usize> {
    match dir {
        Direction::ServerToClient => {
            memchr::memmem::find_iter(b, b"HTTP/1.").find(|&p| p == 0 || b[p - 1] == b'\n')
        }
        Direction::ClientToServer => {
            for q in memchr::memmem::find_iter(b, b" HTTP/1.") {
                let ls = memchr::memrchr(b'\n', &b[..q]).map(|i| i + 1).unwrap_or(0);
                let line = &b[ls..q];
                if line.first().is_some_and(u8::is_ascii_uppercase)
                    && line.iter().filter(|&&c| c == b' ').count() == 1
                {
                    return Some(ls);
                }
            }
            None
        }
    }
}

pub(crate) fn msg_from(h: &Head, ctx: &Ctx<'_>) -> Msg {
    let headers = h
        .headers
        .iter()
        .map(|(n, v)| {
            let n = n.to_ascii_lowercase();
            let v =
                if !ctx.opts.show_secrets && (n == "authorization" || n == "proxy-authorization") {
                    util::redact(v)
                } else {
                    v.clone()
                };
            (n, v)
        })
        .collect();
    Msg {
        request: h.request,
        method: h.method.clone(),
        uri: h.uri.clone(),
        full_uri: if h.request {
            h.full_uri("http")
        } else {
            String::new()
        },
        version: h.version.clone(),
        code: h.code,
        phrase: h.phrase.clone(),
        headers,
        content_length: h.content_length,
        ..Msg::default()
    }
}

fn file_data(f: Option<&crate::object::Finished>, ctx: &Ctx<'_>) -> Option<String> {
    if ctx.opts.file_data == 0 {
        return None;
    }
    let p = f?.prefix.as_ref()?;
    if p.is_empty() {
        return None;
    }
    Some(String::from_utf8_lossy(p).into_owned())
}

impl H1 {
    pub fn feed(
        &mut self,
        ctx: &mut Ctx<'_>,
        info: &ConnInfo,
        dir: Direction,
        data: &[u8],
    ) -> Switch {
        let mut owned: Vec<u8>;
        let mut cur: &[u8] = data;
        while !cur.is_empty() {
            match self.step(ctx, info, dir, cur) {
                Step::Consumed(n) => cur = &cur[n.min(cur.len())..],
                Step::Leftover(v) => {
                    owned = v;
                    cur = &owned;
                }
                Step::Switch(sw, n) => {
                    return match sw {
                        Switch::H2c {
                            txn,
                            mut rest,
                            rest_dir,
                        } => {
                            rest.extend_from_slice(&cur[n.min(cur.len())..]);
                            Switch::H2c {
                                txn,
                                rest,
                                rest_dir,
                            }
                        }
                        other => other,
                    };
                }
            }
        }
        Switch::None
    }

    fn step(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo, dir: Direction, input: &[u8]) -> Step {
        let di = dir.index();
        let request = dir == Direction::ClientToServer;
        match self.dirs[di].st {
            St::Head => {
                let max = ctx.opts.max_head;
                let d = &mut self.dirs[di];
                if !d.buf.is_empty() {
                    d.buf.extend_from_slice(input);
                    let b = std::mem::take(&mut d.buf);
                    return match parse_head(&b, request, ctx.opts.max_headers) {
                        Parsed::Complete(n, h) => {
                            let rest = b[n..].to_vec();
                            match self.on_head(ctx, info, dir, *h) {
                                Some(sw) => {
                                    // Re-feed the rest through the switch.
                                    let sw = match sw {
                                        Switch::H2c { txn, rest_dir, .. } => Switch::H2c {
                                            txn,
                                            rest,
                                            rest_dir,
                                        },
                                        o => o,
                                    };
                                    Step::Switch(sw, input.len())
                                }
                                None => Step::Leftover(rest),
                            }
                        }
                        Parsed::Partial => {
                            if b.len() > max {
                                ctx.stats.heads_too_long += 1;
                                self.resync(ctx, dir);
                                Step::Leftover(b[1..].to_vec())
                            } else {
                                self.dirs[di].buf = b;
                                Step::Consumed(input.len())
                            }
                        }
                        Parsed::Invalid => {
                            self.resync(ctx, dir);
                            Step::Leftover(b[1..].to_vec())
                        }
                    };
                }
                // Stray CR LF between messages.
                let k = input
                    .iter()
                    .position(|&c| c != b'\r' && c != b'\n')
                    .unwrap_or(input.len());
                if k == input.len() {
                    return Step::Consumed(k);
                }
                match parse_head(&input[k..], request, ctx.opts.max_headers) {
                    Parsed::Complete(n, h) => match self.on_head(ctx, info, dir, *h) {
                        Some(sw) => Step::Switch(sw, k + n),
                        None => Step::Consumed(k + n),
                    },
                    Parsed::Partial => {
                        if input.len() - k > max {
                            ctx.stats.heads_too_long += 1;
                            self.resync(ctx, dir);
                            Step::Consumed(k + 1)
                        } else {
                            self.dirs[di].buf.extend_from_slice(&input[k..]);
                            Step::Consumed(input.len())
                        }
                    }
                    Parsed::Invalid => {
                        self.resync(ctx, dir);
                        Step::Consumed(k + 1)
                    }
                }
            }
            St::Resync => {
                let d = &mut self.dirs[di];
                if !d.buf.is_empty() {
                    d.buf.extend_from_slice(input);
                    let b = std::mem::take(&mut d.buf);
                    if let Some(ls) = find_start(dir, &b) {
                        d.st = St::Head;
                        return Step::Leftover(b[ls..].to_vec());
                    }
                    let keep = b.len().min(RESYNC_TAIL);
                    d.buf = b[b.len() - keep..].to_vec();
                    return Step::Consumed(input.len());
                }
                if let Some(ls) = find_start(dir, input) {
                    d.st = St::Head;
                    return Step::Consumed(ls);
                }
                let keep = input.len().min(RESYNC_TAIL);
                d.buf.extend_from_slice(&input[input.len() - keep..]);
                Step::Consumed(input.len())
            }
            St::Body => self.body_step(ctx, info, dir, input),
        }
    }

    fn resync(&mut self, ctx: &mut Ctx<'_>, dir: Direction) {
        ctx.stats.resyncs += 1;
        let d = &mut self.dirs[dir.index()];
        d.st = St::Resync;
        d.buf.clear();
    }

    fn body_step(
        &mut self,
        ctx: &mut Ctx<'_>,
        info: &ConnInfo,
        dir: Direction,
        input: &[u8],
    ) -> Step {
        let di = dir.index();
        let (frame, ts) = (ctx.frame, ctx.ts);
        let d = &mut self.dirs[di];
        match d.body {
            Body::None => {
                d.st = St::Head;
                Step::Consumed(0)
            }
            Body::Close => {
                if let Some(o) = d.obj.as_mut() {
                    o.data(input, frame, ts);
                }
                Step::Consumed(input.len())
            }
            Body::Len(rem) => {
                let n = (rem.min(input.len() as u64)) as usize;
                if let Some(o) = d.obj.as_mut() {
                    o.data(&input[..n], frame, ts);
                }
                let left = rem - n as u64;
                d.body = Body::Len(left);
                if left == 0 {
                    self.complete(ctx, info, dir, false);
                }
                Step::Consumed(n)
            }
            Body::Chunk(Ck::Data(rem)) => {
                let n = (rem.min(input.len() as u64)) as usize;
                if let Some(o) = d.obj.as_mut() {
                    o.data(&input[..n], frame, ts);
                }
                let left = rem - n as u64;
                d.body = Body::Chunk(if left == 0 {
                    Ck::DataCr
                } else {
                    Ck::Data(left)
                });
                Step::Consumed(n)
            }
            Body::Chunk(Ck::DataCr) => {
                d.body = Body::Chunk(Ck::DataLf);
                Step::Consumed(usize::from(input[0] == b'\r'))
            }
            Body::Chunk(Ck::DataLf) => {
                d.body = Body::Chunk(Ck::Size);
                Step::Consumed(usize::from(input[0] == b'\n'))
            }
            Body::Chunk(Ck::Size) => match take_line(&mut d.buf, input) {
                Ok(None) => Step::Consumed(input.len()),
                Ok(Some((line, used))) => {
                    if line.is_empty() {
                        // Tolerate an extra empty line.
                        return Step::Consumed(used);
                    }
                    match chunk_size(&line) {
                        Some(0) => d.body = Body::Chunk(Ck::Trailers),
                        Some(n) => d.body = Body::Chunk(Ck::Data(n)),
                        None => {
                            if let Some(o) = d.obj.as_mut() {
                                o.note("bad chunk size line");
                            }
                            self.complete(ctx, info, dir, true);
                            self.resync(ctx, dir);
                            return Step::Consumed(used);
                        }
                    }
                    Step::Consumed(used)
                }
                Err(()) => {
                    self.complete(ctx, info, dir, true);
                    self.resync(ctx, dir);
                    Step::Consumed(input.len())
                }
            },
            Body::Chunk(Ck::Trailers) => match take_line(&mut d.buf, input) {
                Ok(None) => Step::Consumed(input.len()),
                Ok(Some((line, used))) => {
                    if line.is_empty() {
                        self.complete(ctx, info, dir, false);
                    } else if let Some(h) = d.head.as_mut()
                        && h.headers.len() < ctx.opts.max_headers
                        && let Some((n, v)) = std::str::from_utf8(&line)
                            .ok()
                            .and_then(|l| l.split_once(':'))
                    {
                        h.headers.push((n.trim().to_string(), v.trim().to_string()));
                    }
                    Step::Consumed(used)
                }
                Err(()) => {
                    self.complete(ctx, info, dir, true);
                    self.resync(ctx, dir);
                    Step::Consumed(input.len())
                }
            },
        }
    }

    fn new_obj(&self, ctx: &Ctx<'_>, info: &ConnInfo, h: &Head, txn: Option<&Txn>) -> Obj {
        let (method, url) = match txn {
            Some(t) => (t.req.method.clone(), t.full_uri.clone()),
            None => (String::new(), String::new()),
        };
        let name = h
            .disposition
            .clone()
            .unwrap_or_else(|| util::name_from_url(txn.map(|t| t.req.uri.as_str()).unwrap_or("")));
        let spec = ObjSpec {
            stream: info.stream,
            protocol: if h.version == "HTTP/1.0" {
                "http/1.0"
            } else {
                "http/1.1"
            },
            direction: if h.request { "request" } else { "response" },
            method,
            url,
            status: (!h.request).then_some(h.code),
            content_type: h.content_type.clone(),
            codings: h.codings.clone(),
            name,
            frame: ctx.frame,
            ts: ctx.ts,
            boundary: if h.request {
                util::multipart_boundary(&h.content_type)
            } else {
                None
            },
        };
        Obj::new(spec, ctx.out.cloned(), ctx.obj_options())
    }

    fn on_head(
        &mut self,
        ctx: &mut Ctx<'_>,
        info: &ConnInfo,
        dir: Direction,
        mut h: Head,
    ) -> Option<Switch> {
        h.frame = ctx.frame;
        h.ts = ctx.ts;
        let di = dir.index();
        if h.request {
            let body = if h.chunked {
                Body::Chunk(Ck::Size)
            } else {
                match h.content_length {
                    Some(n) if n > 0 => Body::Len(n),
                    _ => Body::None,
                }
            };
            let seq = self.seq;
            self.seq += 1;
            let txn = Txn {
                full_uri: h.full_uri("http"),
                req: h,
                req_end: None,
                req_body: None,
                seq,
            };
            if body != Body::None {
                let o = self.new_obj(ctx, info, &txn.req, Some(&txn));
                self.dirs[di].obj = Some(o);
            }
            if self.pending.len() >= ctx.opts.max_pending {
                ctx.stats.pending_dropped += 1;
                self.pending.pop_front();
            }
            self.pending.push_back(txn);
            let d = &mut self.dirs[di];
            d.req_seq = Some(seq);
            d.body = body;
            d.st = St::Body;
            if body == Body::None {
                self.complete(ctx, info, dir, false);
            }
            return None;
        }
        // A response.
        if (100..200).contains(&h.code) && h.code != 101 {
            if !ctx.wants_msg() {
                return None;
            }
            let m = msg_from(&h, ctx);
            let txn = self.pending.front();
            let (for_uri, req_in, t) = match txn {
                Some(t) => (
                    Some(t.full_uri.clone()),
                    Some(t.req_end.map_or(t.req.frame, |e| e.0)),
                    Some(ctx.ts - t.req_end.map(|e| e.1).unwrap_or(t.req.ts)),
                ),
                None => (None, None, None),
            };
            ctx.msg(|| Msg {
                for_uri,
                request_in: req_in,
                time: t,
                ..m
            });
            return None;
        }
        let txn = self.pending.pop_front();
        let method = txn.as_ref().map(|t| t.req.method.as_str()).unwrap_or("");
        let is_head = method == "HEAD";
        let connect = method == "CONNECT";
        if h.code == 101 {
            let h2c = txn.as_ref().is_some_and(|t| {
                t.req
                    .upgrade
                    .as_deref()
                    .is_some_and(|u| u.to_ascii_lowercase().contains("h2c"))
            }) && h
                .upgrade
                .as_deref()
                .is_some_and(|u| u.to_ascii_lowercase().contains("h2c"));
            self.dirs[di].head = Some(h);
            self.resp_txn = txn;
            if h2c {
                // The response to the upgraded request comes on HTTP/2 stream 1; say 101 here.
                let h = self.dirs[di].head.take();
                let t = self.resp_txn.take();
                if let Some(h) = &h
                    && ctx.wants_msg()
                {
                    let m = msg_from(h, ctx);
                    ctx.msg(|| Msg {
                        for_uri: t.as_ref().map(|t| t.full_uri.clone()),
                        request_in: t.as_ref().map(|t| t.req_end.map_or(t.req.frame, |e| e.0)),
                        ..m
                    });
                }
                return Some(Switch::H2c {
                    txn: Box::new(t.unwrap_or_default()),
                    rest: Vec::new(),
                    rest_dir: dir,
                });
            }
            self.complete_response(ctx, info, dir, false);
            return Some(Switch::Tunnel);
        }
        if connect && (200..300).contains(&h.code) {
            self.dirs[di].head = Some(h);
            self.resp_txn = txn;
            self.complete_response(ctx, info, dir, false);
            return Some(Switch::Tunnel);
        }
        let body = if is_head || h.code == 204 || h.code == 304 {
            Body::None
        } else if h.chunked {
            Body::Chunk(Ck::Size)
        } else {
            match h.content_length {
                Some(0) => Body::None,
                Some(n) => Body::Len(n),
                None => Body::Close,
            }
        };
        if body != Body::None {
            let o = self.new_obj(ctx, info, &h, txn.as_ref());
            self.dirs[di].obj = Some(o);
        }
        self.resp_txn = txn;
        let d = &mut self.dirs[di];
        d.head = Some(h);
        d.body = body;
        d.st = St::Body;
        if body == Body::None {
            self.complete(ctx, info, dir, false);
        }
        None
    }

    /// The message in progress in `dir` ended.
    fn complete(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo, dir: Direction, truncated: bool) {
        if dir == Direction::ClientToServer {
            self.complete_request(ctx, truncated);
        } else {
            self.complete_response(ctx, info, dir, truncated);
        }
        let d = &mut self.dirs[dir.index()];
        d.st = St::Head;
        d.body = Body::None;
    }

    fn complete_request(&mut self, ctx: &mut Ctx<'_>, truncated: bool) {
        let d = &mut self.dirs[0];
        let fin = d.obj.take().map(|o| ctx.finished(o, truncated));
        let Some(seq) = d.req_seq.take() else {
            return;
        };
        let txn = match self.pending.iter_mut().find(|t| t.seq == seq) {
            Some(t) => Some(t),
            None => self.resp_txn.as_mut().filter(|t| t.seq == seq),
        };
        if let Some(t) = txn {
            t.req_end = Some((ctx.frame, ctx.ts));
            if ctx.wants_msg() {
                let fd = file_data(fin.as_ref(), ctx);
                let m = msg_from(&t.req, ctx);
                ctx.msg(|| Msg { file_data: fd, ..m });
            }
            t.req_body = fin;
        }
    }

    fn complete_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        info: &ConnInfo,
        dir: Direction,
        truncated: bool,
    ) {
        let d = &mut self.dirs[dir.index()];
        let fin = d.obj.take().map(|o| ctx.finished(o, truncated));
        let Some(h) = d.head.take() else {
            return;
        };
        let txn = self.resp_txn.take();
        if h.version == "HTTP/0.9" {
            let txn = txn.unwrap_or_default();
            let body_size = fin.as_ref().map(|f| f.raw_size as i64).unwrap_or(0);
            ctx.har_entry(
                info,
                &txn,
                Some((&h, fin.as_ref(), (ctx.frame, ctx.ts), body_size)),
                None,
            );
            return;
        }
        if ctx.wants_msg() {
            let m = msg_from(&h, ctx);
            let fd = file_data(fin.as_ref(), ctx);
            let now = ctx.ts;
            ctx.msg(|| Msg {
                for_uri: txn.as_ref().map(|t| t.full_uri.clone()),
                request_in: txn.as_ref().map(|t| t.req_end.map_or(t.req.frame, |e| e.0)),
                time: txn
                    .as_ref()
                    .map(|t| now - t.req_end.map(|e| e.1).unwrap_or(t.req.ts)),
                file_data: fd,
                ..m
            });
        }
        let txn = txn.unwrap_or_default();
        let body_size = fin.as_ref().map(|f| f.raw_size as i64).unwrap_or(0);
        ctx.har_entry(
            info,
            &txn,
            Some((&h, fin.as_ref(), (ctx.frame, ctx.ts), body_size)),
            None,
        );
    }

    pub fn gap(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo, dir: Direction, n: u64) {
        let di = dir.index();
        let d = &mut self.dirs[di];
        match d.st {
            St::Head => {
                d.buf.clear();
                self.resync(ctx, dir);
            }
            St::Resync => d.buf.clear(),
            St::Body => match d.body {
                Body::Len(rem) if n < rem => {
                    if let Some(o) = d.obj.as_mut() {
                        o.gap(n);
                    }
                    d.body = Body::Len(rem - n);
                }
                Body::Len(rem) => {
                    if let Some(o) = d.obj.as_mut() {
                        o.gap(rem);
                    }
                    self.complete(ctx, info, dir, true);
                    if n > rem {
                        self.resync(ctx, dir);
                    }
                }
                Body::Chunk(Ck::Data(rem)) if n < rem => {
                    if let Some(o) = d.obj.as_mut() {
                        o.gap(n);
                    }
                    d.body = Body::Chunk(Ck::Data(rem - n));
                }
                Body::Close => {
                    if let Some(o) = d.obj.as_mut() {
                        o.gap(n);
                    }
                }
                _ => {
                    if let Some(o) = d.obj.as_mut() {
                        o.gap(n);
                    }
                    d.buf.clear();
                    self.complete(ctx, info, dir, true);
                    self.resync(ctx, dir);
                }
            },
        }
    }

    /// An HTTP/0.9 request (`GET path`): the server's bytes so far and from now on, up to the
    /// end of the connection, are the response body. No fields (tshark shows none either).
    pub fn start_h09(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo, path: String) {
        let req = Head {
            request: true,
            method: "GET".into(),
            uri: path,
            version: "HTTP/0.9".into(),
            frame: ctx.frame,
            ts: ctx.ts,
            ..Head::default()
        };
        let txn = Txn {
            full_uri: req.full_uri("http"),
            req,
            req_end: Some((ctx.frame, ctx.ts)),
            seq: self.seq,
            ..Txn::default()
        };
        self.seq += 1;
        let resp = Head {
            version: "HTTP/0.9".into(),
            frame: ctx.frame,
            ts: ctx.ts,
            ..Head::default()
        };
        let mut o = self.new_obj(ctx, info, &resp, Some(&txn));
        let early = std::mem::take(&mut self.dirs[1].buf);
        if !early.is_empty() {
            o.data(&early, ctx.frame, ctx.ts);
        }
        self.resp_txn = Some(txn);
        let d = &mut self.dirs[1];
        d.obj = Some(o);
        d.head = Some(resp);
        d.body = Body::Close;
        d.st = St::Body;
        // Nothing more is expected from the client.
        self.dirs[0].buf.clear();
        self.dirs[0].st = St::Resync;
    }

    /// A FIN in `dir`: a close-delimited body ends here.
    pub fn fin(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo, dir: Direction) {
        let d = &self.dirs[dir.index()];
        if d.st == St::Body && d.body == Body::Close {
            self.complete(ctx, info, dir, false);
        }
    }

    /// The connection ended (or became a tunnel): finish what is in progress.
    pub fn close(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo) {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let d = &mut self.dirs[dir.index()];
            if d.st == St::Body {
                match d.body {
                    Body::Close => self.complete(ctx, info, dir, false),
                    Body::Len(rem) => {
                        if let Some(o) = d.obj.as_mut() {
                            o.gap(rem);
                        }
                        self.complete(ctx, info, dir, true);
                    }
                    Body::None => {}
                    Body::Chunk(_) => self.complete(ctx, info, dir, true),
                }
            }
            let d = &mut self.dirs[dir.index()];
            d.buf = Vec::new();
            d.st = St::Head;
        }
        // Requests that never got a response still make HAR entries.
        while let Some(t) = self.pending.pop_front() {
            ctx.stats.unanswered += 1;
            ctx.har_entry(info, &t, None, None);
        }
    }
}
