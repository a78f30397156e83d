//! HTTP/1.x and clear-text HTTP/2 over reassembled TCP streams: transactions, every request and
//! response body exported (decoded, multipart parts split out), HAR, and `http.*`/`http2.*`
//! fields for the frame on which each message completed.
//!
//! [`HttpExtractor`] is a [`wiresift_flow::FlowHandler`] (fed by the engine) and a
//! [`wiresift_export::Extractor`] (driven by `wiresift export` and `wiresift read`).
//!
//! Bounded state per connection: one message head (capped, [`HttpOptions::max_head`]) per
//! direction, the pending pipelined requests ([`HttpOptions::max_pending`]), HTTP/2 streams
//! ([`HttpOptions::max_h2_streams`]) and HPACK tables ([`HttpOptions::hpack_table_max`]). Bodies
//! never stay in memory: they stream through the decoders into their files.
#![forbid(unsafe_code)]

pub mod decode;
pub mod fields;
mod h1;
mod h2;
pub mod har;
pub mod multipart;
pub mod object;
pub mod util;

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Write};
use std::net::IpAddr;
use std::rc::Rc;

use serde_json::Value;
use wiresift_export::{ExportSummary, Extractor, ObjectDir};
use wiresift_field::FieldSource;
use wiresift_flow::{Direction, FlowHandler, FlowId, FlowInfo, FlowSummary, Gap, Nanos, Proto};

use fields::Msg;
pub use fields::{BASE, FIELDS, FrameFields, H2_BASE, H2_FIELDS};
use har::{HarBody, HarEntry, HarRequest, HarResponse, HarWriter};
use object::{Finished, ObjOptions, OutDir};

/// One object's share of the HAR memory pool ([`HttpOptions::har_memory`]): the decoded bytes
/// it keeps for its HAR content, taken from the pool as they arrive and given back when the
/// last holder (the object's HAR entry) drops it.
#[derive(Debug)]
pub(crate) struct HarSlot {
    pool: Rc<Cell<usize>>,
    held: Cell<usize>,
    /// The pool ran dry: the prefix is incomplete and the file is read back instead.
    short: Cell<bool>,
}

impl HarSlot {
    fn new(pool: &Rc<Cell<usize>>) -> Rc<HarSlot> {
        Rc::new(HarSlot {
            pool: pool.clone(),
            held: Cell::new(0),
            short: Cell::new(false),
        })
    }

    /// Takes `n` more bytes from the pool; false (for good) once it has not got them.
    pub(crate) fn grow(&self, n: usize) -> bool {
        if self.short.get() {
            return false;
        }
        match self.pool.get().checked_sub(n) {
            Some(left) => {
                self.pool.set(left);
                self.held.set(self.held.get() + n);
                true
            }
            None => {
                self.short.set(true);
                false
            }
        }
    }

    /// Whether every byte asked for was granted.
    pub(crate) fn complete(&self) -> bool {
        !self.short.get()
    }
}

impl Drop for HarSlot {
    fn drop(&mut self) {
        self.pool.set(self.pool.get() + self.held.get());
    }
}

/// Limits and switches.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Collect per-frame fields (`read -Y`, `export -Y`).
    pub fields: bool,
    /// Keep up to this many bytes of each body for `http.file_data` (0: not collected).
    pub file_data: usize,
    /// Show credentials (Authorization) in fields and HAR instead of redacting them.
    pub show_secrets: bool,
    /// Write bodies as transferred: no content decoding, no multipart split.
    pub raw: bool,
    /// HAR: bodies beyond this many bytes are cut (with a comment).
    pub har_max_body: usize,
    /// HAR with an output directory: decoded bytes kept in memory for the HAR `content` of
    /// the objects in flight, all together. An object that finds no room has its file read
    /// back when its entry is written (which waits for the writer thread).
    pub har_memory: usize,
    /// Longest message head (request/status line plus headers) kept while it arrives.
    pub max_head: usize,
    /// Requests waiting for their responses per connection (pipelining).
    pub max_pending: usize,
    /// Open HTTP/2 streams per connection.
    pub max_h2_streams: usize,
    /// HPACK dynamic table size a peer may ask for.
    pub hpack_table_max: usize,
    /// Headers kept per message (for fields and HAR).
    pub max_headers: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            fields: false,
            file_data: 0,
            show_secrets: false,
            raw: false,
            har_max_body: 1 << 20,
            har_memory: 64 << 20,
            max_head: 64 * 1024,
            max_pending: 64,
            max_h2_streams: 256,
            hpack_table_max: 64 * 1024,
            max_headers: 128,
        }
    }
}

/// Counts of things worth a line on stderr.
#[derive(Clone, Debug, Default)]
struct Counters {
    gaps: u64,
    resyncs: u64,
    heads_too_long: u64,
    pending_dropped: u64,
    h2_streams_dropped: u64,
    hpack_failures: u64,
    tunnels: u64,
    unanswered: u64,
}

/// A parsed message head.
#[derive(Clone, Debug, Default)]
pub(crate) struct Head {
    pub request: bool,
    pub method: String,
    pub uri: String,
    pub version: String,
    pub code: u16,
    pub phrase: String,
    /// Names as sent.
    pub headers: Vec<(String, String)>,
    pub head_size: usize,
    pub frame: u64,
    pub ts: Nanos,
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub codings: Vec<String>,
    pub content_type: String,
    pub disposition: Option<String>,
    pub host: Option<String>,
    pub upgrade: Option<String>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets the derived facts from the header list.
    pub fn derive(&mut self) {
        for (n, v) in &self.headers {
            let n = n.to_ascii_lowercase();
            match n.as_str() {
                "content-length" if self.content_length.is_none() => {
                    self.content_length = v.trim().parse().ok();
                }
                "transfer-encoding" => {
                    let last = v.rsplit(',').next().unwrap_or("").trim();
                    self.chunked = last.eq_ignore_ascii_case("chunked");
                }
                "content-encoding" => {
                    for c in v.split(',') {
                        if let Some(c) = decode::coding(c)
                            && self.codings.len() < 8
                        {
                            self.codings.push(c);
                        }
                    }
                }
                "content-type" => self.content_type = v.trim().to_string(),
                "content-disposition" => self.disposition = util::disposition_filename(v),
                "host" | ":authority" if self.host.is_none() => {
                    self.host = Some(v.trim().to_string());
                }
                "upgrade" => self.upgrade = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }

    /// The request's full URL (Wireshark's `http.request.full_uri`).
    pub fn full_uri(&self, scheme: &str) -> String {
        if self.uri.contains("://") {
            return self.uri.clone();
        }
        let host = self.host.as_deref().unwrap_or("");
        if self.method == "CONNECT" {
            return self.uri.clone();
        }
        format!("{scheme}://{host}{}", self.uri)
    }
}

/// One request/response exchange.
#[derive(Debug, Default)]
pub(crate) struct Txn {
    pub req: Head,
    pub full_uri: String,
    /// Last byte of the request (body included).
    pub req_end: Option<(u64, Nanos)>,
    pub req_body: Option<Finished>,
    pub seq: u64,
}

/// A response for a HAR entry: head, body, last (frame, time), body bytes as transferred.
pub(crate) type RespParts<'a> = (&'a Head, Option<&'a Finished>, (u64, Nanos), i64);

/// Shared state handed to connection code for one callback.
pub(crate) struct Ctx<'a> {
    pub opts: &'a HttpOptions,
    pub out: Option<&'a Rc<OutDir>>,
    pub fields: &'a mut FrameFields,
    pub records: &'a mut Vec<Value>,
    pub sum: &'a mut ExportSummary,
    pub har: Option<&'a mut HarWriter<Box<dyn Write>>>,
    pub har_error: &'a mut Option<String>,
    pub har_pool: &'a Rc<Cell<usize>>,
    pub stats: &'a mut Counters,
    pub frame: u64,
    pub ts: Nanos,
}

impl Ctx<'_> {
    pub fn obj_options(&self) -> ObjOptions {
        let fields = if self.opts.fields {
            self.opts.file_data
        } else {
            0
        };
        let har = if self.har.is_some() {
            self.opts.har_max_body
        } else {
            0
        };
        // With a directory the HAR content could be read back from the file; keeping it in
        // memory (within the pool) spares the wait for the writer thread.
        let har_slot = (har > 0 && self.out.is_some()).then(|| HarSlot::new(self.har_pool));
        ObjOptions {
            raw: self.opts.raw,
            prefix: fields.max(har),
            prefix_free: fields,
            har_slot,
        }
    }

    /// Records a finished object.
    pub fn finished(&mut self, o: object::Obj, truncated: bool) -> Finished {
        let (recs, oc, fin) = o.finish(truncated);
        if self.out.is_some() {
            self.records.extend(recs);
        }
        self.sum.objects += oc.objects;
        self.sum.bytes += oc.bytes;
        self.sum.truncated += oc.truncated;
        self.sum.undecodable += oc.undecodable;
        fin
    }

    /// Whether message fields are collected (and room is left for this frame): building a
    /// [`Msg`] copies every header, so callers check this first.
    pub fn wants_msg(&self) -> bool {
        self.opts.fields && self.fields.msgs.len() < fields::MAX_PER_FRAME
    }

    /// Message fields for this frame.
    pub fn msg(&mut self, m: impl FnOnce() -> Msg) {
        if self.wants_msg() {
            self.fields.msgs.push(m());
        }
    }

    /// Tags the messages pushed since `from` with their flow and direction.
    pub fn tag(&mut self, from: usize, stream: u64, dir: Direction) {
        for m in self.fields.msgs.iter_mut().skip(from) {
            m.stream = stream;
            m.from_server = dir == Direction::ServerToClient;
        }
    }

    fn body_for_har(&self, f: Option<&Finished>, mime: &str) -> HarBody {
        let Some(f) = f else {
            return HarBody {
                mime: mime.to_string(),
                ..HarBody::default()
            };
        };
        let cap = self.opts.har_max_body;
        let mut bytes = Vec::new();
        let in_memory = f.har_slot.as_ref().is_some_and(|s| s.complete()) && f.prefix_is_file;
        if let (true, Some(p)) = (in_memory, &f.prefix) {
            bytes = p[..p.len().min(cap)].to_vec();
        } else if let (Some(out), Some(file)) = (self.out, f.file) {
            // Waits for the writer thread to finish the file (only HAR output pays this).
            if let Some(rel) = out.bg().query(file).and_then(|r| r.rel)
                && let Ok(fh) = std::fs::File::open(out.dir.root().join(rel))
            {
                let _ = fh.take(cap as u64).read_to_end(&mut bytes);
            }
        } else if let Some(p) = &f.prefix {
            bytes = p[..p.len().min(cap)].to_vec();
        }
        HarBody {
            size: f.size,
            mime: mime.to_string(),
            bytes,
            encoded_size: f.decoded.then_some(f.raw_size),
            comment: None,
        }
    }

    fn redact_headers(&self, h: &[(String, String)]) -> Vec<(String, String)> {
        h.iter()
            .map(|(n, v)| {
                if !self.opts.show_secrets
                    && (n.eq_ignore_ascii_case("authorization")
                        || n.eq_ignore_ascii_case("proxy-authorization"))
                {
                    (n.clone(), util::redact(v))
                } else {
                    (n.clone(), v.clone())
                }
            })
            .collect()
    }

    /// Writes the HAR entry of a transaction.
    pub fn har_entry(
        &mut self,
        conn: &ConnInfo,
        txn: &Txn,
        resp: Option<RespParts<'_>>,
        h2_stream: Option<u32>,
    ) {
        if self.har.is_none() {
            return;
        }
        let req_mime = txn.req.content_type.clone();
        let req_body = txn
            .req_body
            .as_ref()
            .map(|f| self.body_for_har(Some(f), &req_mime));
        let request = HarRequest {
            method: txn.req.method.clone(),
            url: txn.full_uri.clone(),
            http_version: txn.req.version.clone(),
            headers: self.redact_headers(&txn.req.headers),
            headers_size: if h2_stream.is_some() {
                -1
            } else {
                txn.req.head_size as i64
            },
            body: req_body,
        };
        let req_end = txn.req_end.map(|(_, t)| t).unwrap_or(txn.req.ts);
        let (response, rs, re) = match resp {
            Some((h, body, end, body_size)) => {
                let mime = if h.content_type.is_empty() {
                    "x-unknown".to_string()
                } else {
                    h.content_type.clone()
                };
                let b = self.body_for_har(body, &mime);
                (
                    Some(HarResponse {
                        status: h.code,
                        status_text: h.phrase.clone(),
                        http_version: h.version.clone(),
                        headers: self.redact_headers(&h.headers),
                        headers_size: if h2_stream.is_some() {
                            -1
                        } else {
                            h.head_size as i64
                        },
                        body: b,
                        body_size,
                    }),
                    Some(h.ts),
                    Some(end.1),
                )
            }
            None => (None, None, None),
        };
        let e = HarEntry {
            started: txn.req.ts,
            request_end: req_end,
            response_start: rs,
            response_end: re,
            server_ip: conn.server.0.to_string(),
            connection: match h2_stream {
                Some(s) => format!("{}:{s}", conn.stream),
                None => conn.stream.to_string(),
            },
            request,
            response,
            comment: None,
        };
        if let Some(h) = self.har.as_mut()
            && let Err(err) = h.entry(&e)
            && self.har_error.is_none()
        {
            *self.har_error = Some(err.to_string());
        }
    }
}

/// What a driver tells [`HttpExtractor::tcp_segment`] about a frame's TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegmentInfo {
    pub stream: u64,
    pub dir: Direction,
    pub rel_seq: u32,
    pub len: u32,
    pub fin: bool,
    pub retransmission: bool,
}

/// Addresses of a connection.
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    pub stream: u64,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Detect,
    H1,
    H2,
    /// CONNECT or Upgrade (WebSocket): the rest is not HTTP.
    Tunnel,
    NotHttp,
}

pub(crate) struct Conn {
    info: ConnInfo,
    mode: Mode,
    h1: h1::H1,
    h2: Option<Box<h2::H2>>,
    /// The flow engine's "client" sent the responses (the capture began mid-connection):
    /// directions are swapped.
    swapped: bool,
}

impl Conn {
    fn data(&mut self, ctx: &mut Ctx<'_>, dir: Direction, data: &[u8]) {
        if self.mode == Mode::Detect
            && self.h1.dirs[0].buf.is_empty()
            && self.h1.dirs[1].buf.is_empty()
        {
            let response_like = data.starts_with(b"HTTP/1.");
            let request_like =
                data.first().is_some_and(u8::is_ascii_uppercase) && !data.starts_with(b"HTTP/");
            if (dir == Direction::ClientToServer && response_like)
                || (dir == Direction::ServerToClient && request_like)
            {
                self.swapped = !self.swapped;
                std::mem::swap(&mut self.info.client, &mut self.info.server);
            }
        }
        let dir = self.dir(dir);
        {
            match self.mode {
                Mode::NotHttp | Mode::Tunnel => (),
                Mode::Detect => match h1::detect(&mut self.h1, dir, data) {
                    h1::Detect::Wait => (),
                    h1::Detect::NotHttp => {
                        self.mode = Mode::NotHttp;
                        self.h1 = h1::H1::default();
                    }
                    h1::Detect::H2Preface => {
                        self.mode = Mode::H2;
                        let buffered = std::mem::take(&mut self.h1.dirs[0].buf);
                        let mut h = Box::new(h2::H2::new(ctx.opts, None));
                        h.feed(ctx, &self.info, dir, &buffered);
                        self.h2 = Some(h);
                    }
                    h1::Detect::H09(path) => {
                        self.mode = Mode::H1;
                        self.h1.start_h09(ctx, &self.info, path);
                    }
                    h1::Detect::H1 => {
                        self.mode = Mode::H1;
                        // The detection buffer holds this data (and earlier): feed it.
                        let b = std::mem::take(&mut self.h1.dirs[dir.index()].buf);
                        self.after_h1(ctx, dir, &b)
                    }
                },
                Mode::H1 => self.after_h1(ctx, dir, data),
                Mode::H2 => {
                    if let Some(h) = self.h2.as_mut() {
                        h.feed(ctx, &self.info, dir, data);
                    }
                }
            }
        }
    }

    fn after_h1(&mut self, ctx: &mut Ctx<'_>, dir: Direction, data: &[u8]) {
        match self.h1.feed(ctx, &self.info, dir, data) {
            h1::Switch::None => {}
            h1::Switch::Tunnel => {
                ctx.stats.tunnels += 1;
                self.mode = Mode::Tunnel;
                self.h1.close(ctx, &self.info);
            }
            h1::Switch::H2c {
                txn,
                rest,
                rest_dir,
            } => {
                self.mode = Mode::H2;
                let mut h = Box::new(h2::H2::new(ctx.opts, Some(txn)));
                // Whatever the client sent after its upgrade request is already HTTP/2.
                let pre = std::mem::take(&mut self.h1.dirs[0].buf);
                if !pre.is_empty() {
                    h.feed(ctx, &self.info, Direction::ClientToServer, &pre);
                }
                h.feed(ctx, &self.info, rest_dir, &rest);
                self.h1.close(ctx, &self.info);
                self.h2 = Some(h);
            }
        }
    }

    /// The direction as this parser sees it.
    fn dir(&self, d: Direction) -> Direction {
        if self.swapped { d.reverse() } else { d }
    }

    fn gap(&mut self, ctx: &mut Ctx<'_>, dir: Direction, n: u64) {
        ctx.stats.gaps += 1;
        let dir = self.dir(dir);
        match self.mode {
            Mode::H1 => self.h1.gap(ctx, &self.info, dir, n),
            Mode::H2 => {
                if let Some(h) = self.h2.as_mut() {
                    h.gap(ctx, &self.info, dir, n);
                }
            }
            Mode::Detect => {
                // Whatever was buffered is not the start of a message any more.
                self.h1.dirs[dir.index()].buf.clear();
            }
            _ => {}
        }
    }

    fn close(&mut self, ctx: &mut Ctx<'_>) {
        match self.mode {
            Mode::H1 | Mode::Tunnel => self.h1.close(ctx, &self.info),
            Mode::H2 => {
                if let Some(h) = self.h2.as_mut() {
                    h.close(ctx, &self.info);
                }
            }
            _ => {}
        }
    }
}

/// Hashes a stream number (a small sequential integer): one multiply, no SipHash.
#[derive(Default)]
struct StreamHasher(u64);

impl Hasher for StreamHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The HTTP extractor: HTTP/1.x and HTTP/2 over every TCP flow.
pub struct HttpExtractor {
    opts: HttpOptions,
    out: Option<Rc<OutDir>>,
    har: Option<HarWriter<Box<dyn Write>>>,
    har_error: Option<String>,
    /// What is left of [`HttpOptions::har_memory`].
    har_pool: Rc<Cell<usize>>,
    /// TCP flows by stream number (boxed: moved in and out of the map per callback).
    conns: HashMap<u64, Box<Conn>, BuildHasherDefault<StreamHasher>>,
    fields: FrameFields,
    records: Vec<Value>,
    summary: ExportSummary,
    stats: Counters,
}

impl HttpExtractor {
    /// An extractor that writes objects into `dir` (none: parse for fields/HAR only).
    pub fn new(opts: HttpOptions, dir: Option<ObjectDir>) -> HttpExtractor {
        let har_pool = Rc::new(Cell::new(opts.har_memory));
        HttpExtractor {
            opts,
            out: dir.map(|d| Rc::new(OutDir::new(d))),
            har: None,
            har_error: None,
            har_pool,
            conns: HashMap::default(),
            fields: FrameFields::default(),
            records: Vec::new(),
            summary: ExportSummary {
                kind: "http",
                ..ExportSummary::default()
            },
            stats: Counters::default(),
        }
    }

    /// Also writes a HAR 1.2 log of every transaction to `w`.
    pub fn with_har(&mut self, w: Box<dyn Write>) -> std::io::Result<()> {
        let mut h = HarWriter::new(w, "wiresift", env!("CARGO_PKG_VERSION"))?;
        h.max_body = self.opts.har_max_body;
        self.har = Some(h);
        Ok(())
    }

    /// Ends the HAR log (call after the engine's `finish`). Returns an error message if any
    /// write to it failed.
    pub fn finish_har(&mut self) -> Result<u64, String> {
        if let Some(e) = self.har_error.take() {
            return Err(e);
        }
        match self.har.take() {
            Some(h) => {
                let n = h.entries();
                h.finish().map(|_| n).map_err(|e| e.to_string())
            }
            None => Ok(0),
        }
    }

    /// Per-segment TCP facts of the frame just processed, from the driver (after the engine
    /// ran): a FIN ends a close-delimited body on this frame (Wireshark shows such a response
    /// on the FIN), and the messages of a retransmitted segment are not shown (as tshark).
    pub fn tcp_segment(&mut self, seg: TcpSegmentInfo, frame: u64, ts: Nanos) {
        let id = FlowId {
            proto: Proto::Tcp,
            stream: seg.stream,
        };
        let Some(mut conn) = self.conns.remove(&id.stream) else {
            return;
        };
        let dir = conn.dir(seg.dir);
        let di = dir.index();
        if seg.fin && conn.mode == Mode::H1 {
            let from = self.fields.msgs.len();
            let mut ctx = self.ctx_parts(frame, ts);
            conn.h1.fin(&mut ctx, &conn.info, dir);
            ctx.tag(from, seg.stream, dir);
        }
        if seg.retransmission && self.opts.fields {
            // As tshark: a retransmitted segment is not handed to the HTTP dissector again.
            let from_server = di == 1;
            self.fields
                .msgs
                .retain(|m| m.stream != seg.stream || m.from_server != from_server);
        }
        self.conns.insert(id.stream, conn);
    }

    /// The fields of the frame just processed (concrete type).
    pub fn fields(&self) -> &FrameFields {
        &self.fields
    }

    fn ctx_parts(&mut self, frame: u64, ts: Nanos) -> Ctx<'_> {
        Ctx {
            opts: &self.opts,
            out: self.out.as_ref(),
            fields: &mut self.fields,
            records: &mut self.records,
            sum: &mut self.summary,
            har: self.har.as_mut(),
            har_error: &mut self.har_error,
            har_pool: &self.har_pool,
            stats: &mut self.stats,
            frame,
            ts,
        }
    }
}

impl FlowHandler for HttpExtractor {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        if id.proto != Proto::Tcp {
            return;
        }
        self.conns.insert(
            id.stream,
            Box::new(Conn {
                info: ConnInfo {
                    stream: info.stream,
                    client: info.client,
                    server: info.server,
                },
                mode: Mode::Detect,
                h1: h1::H1::default(),
                h2: None,
                swapped: false,
            }),
        );
    }

    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], ts: Nanos, frame: u64) {
        if id.proto != Proto::Tcp {
            return;
        }
        let Some(mut conn) = self.conns.remove(&id.stream) else {
            return;
        };
        if !matches!(conn.mode, Mode::NotHttp | Mode::Tunnel) {
            let from = self.fields.msgs.len();
            let mut ctx = self.ctx_parts(frame, ts);
            conn.data(&mut ctx, dir, data);
            let d = conn.dir(dir);
            ctx.tag(from, conn.info.stream, d);
        }
        // Flows that are not (or no longer) HTTP are forgotten: later data is a map miss.
        if !matches!(conn.mode, Mode::NotHttp | Mode::Tunnel) {
            self.conns.insert(id.stream, conn);
        }
    }

    fn on_gap(&mut self, id: FlowId, dir: Direction, gap: &Gap) {
        if id.proto != Proto::Tcp {
            return;
        }
        let Some(mut conn) = self.conns.remove(&id.stream) else {
            return;
        };
        let mut ctx = self.ctx_parts(gap.frame, gap.ts);
        conn.gap(&mut ctx, dir, gap.missing);
        self.conns.insert(id.stream, conn);
    }

    fn on_close(&mut self, id: FlowId, summary: &FlowSummary) {
        if id.proto != Proto::Tcp {
            return;
        }
        let Some(mut conn) = self.conns.remove(&id.stream) else {
            return;
        };
        let mut ctx = self.ctx_parts(summary.last_frame, summary.last_ts);
        conn.close(&mut ctx);
    }
}

impl Extractor for HttpExtractor {
    fn frame_fields(&self) -> &dyn FieldSource {
        &self.fields
    }

    fn end_frame(&mut self) {
        if !self.fields.is_empty() {
            self.fields.clear();
        }
    }

    fn drain_records(&mut self, out: &mut Vec<Value>) {
        out.append(&mut self.records);
    }

    fn summary(&self) -> ExportSummary {
        let mut s = self.summary.clone();
        let c = &self.stats;
        let mut note = |n: u64, what: &str| {
            if n > 0 {
                s.notes.push(format!("{n} {what}"));
            }
        };
        note(c.gaps, "gaps in HTTP streams");
        note(c.resyncs, "resynchronisations after unparsable data");
        note(c.heads_too_long, "message heads over the size limit");
        note(
            c.pending_dropped,
            "pipelined requests over the limit (dropped)",
        );
        note(
            c.h2_streams_dropped,
            "HTTP/2 streams over the limit (ignored)",
        );
        note(
            c.hpack_failures,
            "HTTP/2 header blocks that could not be decoded",
        );
        note(c.tunnels, "tunnels (CONNECT/Upgrade) not parsed further");
        note(c.unanswered, "requests without a response");
        s
    }
}
