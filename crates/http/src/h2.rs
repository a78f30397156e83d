//! Clear-text HTTP/2 (prior knowledge or h2c upgrade): frames, HPACK (loona-hpack, one decoder
//! per direction), streams into the same transactions and objects as HTTP/1.
//!
//! DATA payloads stream straight into their objects; other frames are buffered up to
//! [`MAX_FRAME_BUF`]. A header block that cannot be decoded (the capture began mid-connection,
//! or a block was lost) leaves its stream with unknown headers rather than failing.

use std::collections::HashMap;

use wiresift_flow::Direction;

use crate::fields::{H2Frame, MAX_PER_FRAME};
use crate::object::{Finished, Obj, ObjSpec};
use crate::{ConnInfo, Ctx, Head, HttpOptions, Txn, util};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Non-DATA frame payload kept (bigger ones are skipped; a skipped header block breaks HPACK).
const MAX_FRAME_BUF: usize = 1 << 20;
const MAX_HEADER_BLOCK: usize = 1 << 20;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const PUSH_PROMISE: u8 = 5;
const CONTINUATION: u8 = 9;

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

#[derive(Clone, Copy)]
struct Cur {
    len: u32,
    typ: u8,
    flags: u8,
    sid: u32,
    got: u32,
    /// DATA: padding length once read (PADDED), and data bytes left to deliver.
    pad: Option<u32>,
    data_left: u32,
}

struct Cont {
    sid: u32,
    block: Vec<u8>,
    end_stream: bool,
    promised: Option<u32>,
}

struct H2Dir {
    preface_left: usize,
    hdr: [u8; 9],
    hdr_got: usize,
    cur: Option<Cur>,
    payload: Vec<u8>,
    hpack: loona_hpack::Decoder<'static>,
    hpack_ok: bool,
    cont: Option<Cont>,
    dead: bool,
}

impl H2Dir {
    fn new(opts: &HttpOptions, preface: bool) -> H2Dir {
        let mut hpack = loona_hpack::Decoder::new();
        hpack.set_max_allowed_table_size(opts.hpack_table_max);
        H2Dir {
            preface_left: if preface { PREFACE.len() } else { 0 },
            hdr: [0; 9],
            hdr_got: 0,
            cur: None,
            payload: Vec::new(),
            hpack,
            hpack_ok: true,
            cont: None,
            dead: false,
        }
    }
}

#[derive(Default)]
struct Stream {
    txn: Option<Txn>,
    req_obj: Option<Obj>,
    req_done: bool,
    resp: Option<Head>,
    resp_obj: Option<Obj>,
    resp_bytes: u64,
}

pub(crate) struct H2 {
    dirs: [H2Dir; 2],
    streams: HashMap<u32, Stream>,
}

fn to_string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl H2 {
    /// `upgraded`: the HTTP/1.1 request that asked for h2c (it is stream 1).
    pub fn new(opts: &HttpOptions, upgraded: Option<Box<Txn>>) -> H2 {
        let mut streams = HashMap::new();
        if let Some(t) = upgraded {
            streams.insert(
                1,
                Stream {
                    txn: Some(*t),
                    req_done: true,
                    ..Stream::default()
                },
            );
        }
        H2 {
            dirs: [H2Dir::new(opts, true), H2Dir::new(opts, false)],
            streams,
        }
    }

    pub fn feed(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo, dir: Direction, data: &[u8]) {
        let di = dir.index();
        let mut input = data;
        if self.dirs[di].dead {
            return;
        }
        // The client connection preface.
        if self.dirs[di].preface_left > 0 {
            let d = &mut self.dirs[di];
            let off = PREFACE.len() - d.preface_left;
            let n = d.preface_left.min(input.len());
            if input[..n] != PREFACE[off..off + n] {
                d.dead = true;
                return;
            }
            d.preface_left -= n;
            input = &input[n..];
            if d.preface_left == 0 && ctx.opts.fields {
                ctx.fields.h2_magic = true;
            }
        }
        while !input.is_empty() {
            let d = &mut self.dirs[di];
            let Some(mut c) = d.cur else {
                let n = (9 - d.hdr_got).min(input.len());
                d.hdr[d.hdr_got..d.hdr_got + n].copy_from_slice(&input[..n]);
                d.hdr_got += n;
                input = &input[n..];
                if d.hdr_got == 9 {
                    d.hdr_got = 0;
                    let h = d.hdr;
                    let len = u32::from(h[0]) << 16 | u32::from(h[1]) << 8 | u32::from(h[2]);
                    let sid = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
                    let c = Cur {
                        len,
                        typ: h[3],
                        flags: h[4],
                        sid,
                        got: 0,
                        pad: None,
                        data_left: 0,
                    };
                    d.payload.clear();
                    d.cur = Some(c);
                    if len == 0 {
                        d.cur = None;
                        self.frame_done(ctx, info, dir, c);
                    }
                }
                continue;
            };
            let left = (c.len - c.got) as usize;
            let n = left.min(input.len());
            let chunk = &input[..n];
            input = &input[n..];
            if c.typ == DATA {
                self.data_bytes(ctx, dir, &mut c, chunk);
            } else if d.payload.len() + chunk.len() <= MAX_FRAME_BUF {
                d.payload.extend_from_slice(chunk);
            }
            c.got += n as u32;
            let d = &mut self.dirs[di];
            if c.got == c.len {
                d.cur = None;
                self.frame_done(ctx, info, dir, c);
            } else {
                d.cur = Some(c);
            }
        }
    }

    fn data_bytes(&mut self, ctx: &mut Ctx<'_>, dir: Direction, c: &mut Cur, mut chunk: &[u8]) {
        if c.got == 0 || c.pad.is_none() {
            if c.flags & PADDED != 0 {
                if c.pad.is_none() {
                    if chunk.is_empty() {
                        return;
                    }
                    let p = u32::from(chunk[0]);
                    c.pad = Some(p);
                    c.data_left = c.len.saturating_sub(1 + p);
                    chunk = &chunk[1..];
                }
            } else {
                c.pad = Some(0);
                c.data_left = c.len;
            }
        }
        let n = (c.data_left as usize).min(chunk.len());
        c.data_left -= n as u32;
        if n == 0 {
            return;
        }
        let (frame, ts) = (ctx.frame, ctx.ts);
        if let Some(s) = self.streams.get_mut(&c.sid) {
            let obj = if dir == Direction::ClientToServer {
                &mut s.req_obj
            } else {
                s.resp_bytes += n as u64;
                &mut s.resp_obj
            };
            if let Some(o) = obj.as_mut() {
                o.data(&chunk[..n], frame, ts);
            }
        }
    }

    fn decode_block(
        &mut self,
        ctx: &mut Ctx<'_>,
        dir: Direction,
        block: &[u8],
    ) -> Option<Vec<(String, String)>> {
        let d = &mut self.dirs[dir.index()];
        if !d.hpack_ok {
            return None;
        }
        match d.hpack.decode(block) {
            Ok(list) => Some(
                list.into_iter()
                    .take(ctx.opts.max_headers)
                    .map(|(n, v)| (to_string(&n), to_string(&v)))
                    .collect(),
            ),
            Err(_) => {
                d.hpack_ok = false;
                ctx.stats.hpack_failures += 1;
                None
            }
        }
    }

    fn frame_done(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo, dir: Direction, c: Cur) {
        let di = dir.index();
        let mut field = H2Frame {
            length: c.len,
            typ: c.typ,
            flags: c.flags,
            stream: c.sid,
            ..H2Frame::default()
        };
        match c.typ {
            DATA if c.flags & END_STREAM != 0 => {
                self.end_dir(ctx, info, dir, c.sid, false);
            }
            HEADERS | PUSH_PROMISE => {
                let p = std::mem::take(&mut self.dirs[di].payload);
                let truncated = p.len() < c.len as usize;
                let mut off = 0usize;
                let mut pad = 0usize;
                if c.flags & PADDED != 0 {
                    pad = usize::from(*p.first().unwrap_or(&0));
                    off = 1;
                }
                let mut promised = None;
                if c.typ == HEADERS && c.flags & PRIORITY != 0 {
                    off += 5;
                }
                if c.typ == PUSH_PROMISE {
                    if let Some(b) = p.get(off..off + 4) {
                        promised = Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff);
                    }
                    off += 4;
                }
                let end = p.len().saturating_sub(pad);
                let frag = p.get(off..end).unwrap_or(&[]);
                if truncated {
                    // A skipped block leaves the HPACK table unknown.
                    self.dirs[di].hpack_ok = false;
                }
                let end_stream = c.typ == HEADERS && c.flags & END_STREAM != 0;
                if c.flags & END_HEADERS != 0 {
                    let list = self.decode_block(ctx, dir, frag);
                    if ctx.opts.fields {
                        field.headers = list.clone().unwrap_or_default();
                    }
                    field.full_uri =
                        self.on_headers(ctx, info, dir, c.sid, promised, list, end_stream);
                } else {
                    self.dirs[di].cont = Some(Cont {
                        sid: c.sid,
                        block: frag.to_vec(),
                        end_stream,
                        promised,
                    });
                }
                self.dirs[di].payload = p;
            }
            CONTINUATION => {
                let p = std::mem::take(&mut self.dirs[di].payload);
                if let Some(mut cont) = self.dirs[di].cont.take() {
                    if cont.block.len() + p.len() <= MAX_HEADER_BLOCK && cont.sid == c.sid {
                        cont.block.extend_from_slice(&p);
                        if c.flags & END_HEADERS != 0 {
                            let list = self.decode_block(ctx, dir, &cont.block);
                            if ctx.opts.fields {
                                field.headers = list.clone().unwrap_or_default();
                            }
                            field.full_uri = self.on_headers(
                                ctx,
                                info,
                                dir,
                                cont.sid,
                                cont.promised,
                                list,
                                cont.end_stream,
                            );
                        } else {
                            self.dirs[di].cont = Some(cont);
                        }
                    } else {
                        self.dirs[di].hpack_ok = false;
                    }
                }
                self.dirs[di].payload = p;
            }
            RST_STREAM => {
                if let Some(s) = self.streams.get_mut(&c.sid) {
                    for o in [s.req_obj.as_mut(), s.resp_obj.as_mut()]
                        .into_iter()
                        .flatten()
                    {
                        o.note("stream reset (RST_STREAM)");
                    }
                }
                self.finish_stream(ctx, info, c.sid, true);
            }
            _ => {}
        }
        if ctx.opts.fields && ctx.fields.h2.len() < MAX_PER_FRAME {
            ctx.fields.h2.push(field);
        }
    }

    fn new_obj(ctx: &Ctx<'_>, info: &ConnInfo, h: &Head, txn: Option<&Txn>) -> Obj {
        let name = h
            .disposition
            .clone()
            .unwrap_or_else(|| util::name_from_url(txn.map(|t| t.req.uri.as_str()).unwrap_or("")));
        let spec = ObjSpec {
            stream: info.stream,
            protocol: "h2",
            direction: if h.request { "request" } else { "response" },
            method: txn.map(|t| t.req.method.clone()).unwrap_or_default(),
            url: txn.map(|t| t.full_uri.clone()).unwrap_or_default(),
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

    fn head_from(list: &[(String, String)], request: bool, ctx: &Ctx<'_>) -> Head {
        let mut h = Head {
            request,
            version: "HTTP/2".into(),
            frame: ctx.frame,
            ts: ctx.ts,
            ..Head::default()
        };
        for (n, v) in list {
            match n.as_str() {
                ":method" => h.method = v.clone(),
                ":path" => h.uri = v.clone(),
                ":status" => h.code = v.parse().unwrap_or(0),
                _ => {}
            }
            h.headers.push((n.clone(), v.clone()));
        }
        h.derive();
        h
    }

    /// A complete header block; returns the request's full URI for the frame's field.
    #[allow(clippy::too_many_arguments)]
    fn on_headers(
        &mut self,
        ctx: &mut Ctx<'_>,
        info: &ConnInfo,
        dir: Direction,
        sid: u32,
        promised: Option<u32>,
        list: Option<Vec<(String, String)>>,
        end_stream: bool,
    ) -> Option<String> {
        let list = list.unwrap_or_default();
        // PUSH_PROMISE (from the server) carries the promised stream's request.
        let (sid, request) = match promised {
            Some(p) => (p, true),
            None => (sid, dir == Direction::ClientToServer),
        };
        if !self.streams.contains_key(&sid) {
            if self.streams.len() >= ctx.opts.max_h2_streams {
                ctx.stats.h2_streams_dropped += 1;
                return None;
            }
            self.streams.insert(sid, Stream::default());
        }
        if request {
            let s = self.streams.get_mut(&sid)?;
            if s.txn.is_none() {
                let h = Self::head_from(&list, true, ctx);
                let scheme = h
                    .header(":scheme")
                    .map(str::to_string)
                    .unwrap_or_else(|| "http".into());
                let full = h.full_uri(&scheme);
                let txn = Txn {
                    full_uri: full.clone(),
                    req: h,
                    ..Txn::default()
                };
                if end_stream || promised.is_some() {
                    s.req_done = true;
                    s.txn = Some(txn);
                    if let Some(t) = s.txn.as_mut() {
                        t.req_end = Some((ctx.frame, ctx.ts));
                    }
                } else {
                    let o = Self::new_obj(ctx, info, &txn.req, Some(&txn));
                    s.req_obj = Some(o);
                    s.txn = Some(txn);
                }
                return Some(full);
            }
            if end_stream {
                self.end_dir(ctx, info, dir, sid, false);
            }
            return None;
        }
        let s = self.streams.get_mut(&sid)?;
        if s.resp.is_none() {
            let h = Self::head_from(&list, false, ctx);
            if (100..200).contains(&h.code) {
                return None;
            }
            let is_head = s.txn.as_ref().is_some_and(|t| t.req.method == "HEAD");
            if !end_stream && !is_head && h.code != 204 && h.code != 304 {
                s.resp_obj = Some(Self::new_obj(ctx, info, &h, s.txn.as_ref()));
            }
            s.resp = Some(h);
        }
        if end_stream {
            self.end_dir(ctx, info, dir, sid, false);
        }
        None
    }

    fn end_dir(
        &mut self,
        ctx: &mut Ctx<'_>,
        info: &ConnInfo,
        dir: Direction,
        sid: u32,
        truncated: bool,
    ) {
        let Some(s) = self.streams.get_mut(&sid) else {
            return;
        };
        if dir == Direction::ClientToServer {
            let fin = s.req_obj.take().map(|o| ctx.finished(o, truncated));
            s.req_done = true;
            if let Some(t) = s.txn.as_mut() {
                t.req_end = Some((ctx.frame, ctx.ts));
                if fin.is_some() {
                    t.req_body = fin;
                }
            }
        } else {
            self.finish_stream(ctx, info, sid, truncated);
        }
    }

    /// The response ended (or the stream was reset / the connection closed).
    fn finish_stream(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo, sid: u32, truncated: bool) {
        let Some(mut s) = self.streams.remove(&sid) else {
            return;
        };
        if let Some(o) = s.req_obj.take() {
            let fin = ctx.finished(o, truncated || !s.req_done);
            if let Some(t) = s.txn.as_mut() {
                t.req_body = Some(fin);
            }
        }
        let fin: Option<Finished> = s.resp_obj.take().map(|o| ctx.finished(o, truncated));
        let txn = s.txn.take().unwrap_or_default();
        match &s.resp {
            Some(h) => ctx.har_entry(
                info,
                &txn,
                Some((h, fin.as_ref(), (ctx.frame, ctx.ts), s.resp_bytes as i64)),
                Some(sid),
            ),
            None => {
                if !txn.req.method.is_empty() {
                    ctx.stats.unanswered += 1;
                    ctx.har_entry(info, &txn, None, Some(sid));
                }
            }
        }
    }

    pub fn gap(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo, dir: Direction, _n: u64) {
        // Frame boundaries are lost: stop this direction; its open bodies are truncated.
        let d = &mut self.dirs[dir.index()];
        d.dead = true;
        d.cur = None;
        d.payload = Vec::new();
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for sid in ids {
            if let Some(s) = self.streams.get_mut(&sid) {
                let o = if dir == Direction::ClientToServer {
                    s.req_obj.as_mut()
                } else {
                    s.resp_obj.as_mut()
                };
                if let Some(o) = o {
                    o.note("HTTP/2 framing lost after a gap");
                    o.truncated = true;
                }
            }
            if dir == Direction::ServerToClient {
                self.finish_stream(ctx, info, sid, true);
            }
        }
    }

    pub fn close(&mut self, ctx: &mut Ctx<'_>, info: &ConnInfo) {
        let mut ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        for sid in ids {
            let incomplete = self
                .streams
                .get(&sid)
                .is_some_and(|s| s.resp_obj.is_some() || s.req_obj.is_some());
            self.finish_stream(ctx, info, sid, incomplete);
        }
    }
}
