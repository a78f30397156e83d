//! `wiresift follow`: reassembled TCP/UDP streams, printed as `tshark -z follow,...` prints them
//! (`--stream N`, `-Y FILTER`) or written to one file per stream and direction (`--split DIR`).
//!
//! * `--stream N`: one pass; only stream N's events are formatted; the pass ends early when
//!   stream N is closed for good (its addresses and ports were reused by a new connection).
//! * `-Y FILTER`: a stream is followed when any of its frames matches. Pass 1 evaluates the
//!   filter per frame and collects the stream numbers (a set of integers); pass 2 follows
//!   only those streams. Their outputs are printed in stream order, like tshark's blocks: the
//!   lowest unfinished stream is written straight to stdout, the others go to a spool
//!   (memory up to `--spool-memory`, then one unlinked temporary file). Two passes need a
//!   seekable file (not `-`).
//! * `--split DIR`: every stream, both directions, written incrementally to
//!   `<stream>-<client ip.port>-<server ip.port>.c2s|.s2c` (buffers bounded in total, at most
//!   `OPEN_FILES` descriptors, files reopened in append mode), plus `streams.jsonl`.
//!
//! Limits of the flow table are flags; every hit is counted on stderr (and in streams.jsonl),
//! and the exit status is 1 when data was lost to a limit.

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::fastmap::FastMap;
use crate::split_writer::FileWriter;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use wiresift_capfile::CaptureReader;
use wiresift_dissect::FrameMeta;
use wiresift_engine::{Engine, EngineOptions, FrameSource};
use wiresift_flow::{
    Direction, FlowHandler, FlowId, FlowInfo, FlowSummary, FollowFormat, FollowProto, FollowWriter,
    Gap, GapCause, Limits, Nanos, NullHandler, Proto,
};

use crate::Outcome;

/// Flow-table limits, shared by the commands that run the flow engine.
#[derive(Args, Clone, Debug)]
pub struct LimitArgs {
    /// Flows kept in memory; when full the least recently used flow is flushed and closed
    /// (counted; stream numbers diverge from Wireshark's after an eviction)
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_flows)]
    pub max_flows: usize,
    /// Out-of-order bytes buffered per TCP direction; beyond it the oldest data is flushed
    /// after a gap (counted)
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_ooo_bytes)]
    pub max_ooo_bytes: usize,
    /// Out-of-order segments buffered per TCP direction
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_ooo_segments)]
    pub max_ooo_segments: usize,
    /// Out-of-order bytes buffered over all flows
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_total_ooo_bytes)]
    pub max_total_ooo_bytes: usize,
    /// Close flows idle for this many seconds of packet time (default: never, as Wireshark)
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout: Option<f64>,
}

impl LimitArgs {
    pub fn limits(&self) -> Result<Limits, String> {
        let l = Limits {
            max_flows: self.max_flows,
            max_ooo_bytes: self.max_ooo_bytes,
            max_ooo_segments: self.max_ooo_segments,
            max_total_ooo_bytes: self.max_total_ooo_bytes,
            idle_timeout: match self.idle_timeout {
                Some(s) if !(s.is_finite() && s > 0.0) => {
                    return Err("--idle-timeout must be a positive number of seconds".into());
                }
                Some(s) => Some((s * 1e9) as Nanos),
                None => None,
            },
        };
        l.validate().map_err(|e| e.to_string())?;
        Ok(l)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Ascii,
    Hex,
    Raw,
    Yaml,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProtoArg {
    Tcp,
    Udp,
    /// TCP streams carrying TLS, decrypted (--tls-keylog, --tls-key, pcapng DSBs)
    Tls,
}

#[derive(Args)]
pub struct FollowArgs {
    /// Capture file (pcap or pcapng, optionally gzip-compressed); `-` reads standard input
    /// (not with -Y, which reads the file twice)
    pub file: PathBuf,
    /// Follow this stream (tcp.stream / udp.stream number)
    #[arg(long, value_name = "N", conflicts_with = "display_filter")]
    pub stream: Option<u64>,
    /// Follow every stream with at least one frame matching this display filter
    #[arg(short = 'Y', long = "display-filter", value_name = "FILTER")]
    pub display_filter: Option<String>,
    /// Output format, as tshark's -z follow,PROTO,FORMAT,N
    #[arg(long, value_enum, default_value = "ascii")]
    pub format: FormatArg,
    /// Transport protocol of the streams
    #[arg(long, value_enum, default_value = "tcp")]
    pub proto: ProtoArg,
    /// Write every stream (or every stream matching -Y) to DIR: one file per direction and
    /// streams.jsonl
    #[arg(long, value_name = "DIR", conflicts_with = "stream")]
    pub split: Option<PathBuf>,
    /// With -Y: memory for the outputs of streams waiting for their turn, before they go to a
    /// temporary file
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub spool_memory: usize,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub tls: crate::tls_opts::TlsArgs,
}

/// Opens a capture, reporting failures as wiresift does.
pub fn open(path: &Path) -> Option<CaptureReader> {
    match crate::output::open_capture(path) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("wiresift: {}: {e}", path.display());
            None
        }
    }
}

/// Counts of limit hits, printed on stderr; true if output differs because of a limit (data
/// lost, or a stream renumbered).
pub fn report_limits(eng: &Engine, limit_gaps: u64, limit_gap_bytes: u64) -> bool {
    let s = eng.flow_stats();
    let d = eng.defrag_stats();
    let mut parts = Vec::new();
    if s.evicted > 0 {
        parts.push(format!(
            "{} flows evicted (--max-flows), {} of them seen again and numbered as new streams",
            s.evicted, s.reopened_after_eviction
        ));
    }
    if s.ooo_limit_flushes > 0 {
        parts.push(format!(
            "{} out-of-order buffer flushes (--max-ooo-bytes/--max-ooo-segments/--max-total-ooo-bytes)",
            s.ooo_limit_flushes
        ));
    }
    if s.idle_closed > 0 {
        parts.push(format!(
            "{} flows closed idle (--idle-timeout)",
            s.idle_closed
        ));
    }
    if limit_gaps > 0 {
        parts.push(format!(
            "{limit_gaps} gaps ({limit_gap_bytes} bytes) left by limits"
        ));
    }
    if d.evicted + d.too_large + d.too_many_fragments > 0 {
        parts.push(format!(
            "{} unfinished IP datagrams dropped by defragmentation limits",
            d.evicted + d.too_large + d.too_many_fragments
        ));
    }
    if !parts.is_empty() {
        eprintln!("wiresift: limits hit: {}", parts.join("; "));
    }
    // An evicted flow's data was all delivered when it went; only one that comes back (its
    // stream number then differs from Wireshark's) or a gap left by a limit changes output.
    limit_gaps > 0 || s.reopened_after_eviction > 0
}

pub fn run(a: FollowArgs) -> Result<Outcome> {
    let limits = match a.limits.limits() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wiresift: {e}");
            return Ok(Outcome::Failed);
        }
    };
    let proto = match a.proto {
        ProtoArg::Tcp | ProtoArg::Tls => Proto::Tcp,
        ProtoArg::Udp => Proto::Udp,
    };
    // --proto tls: a TLS layer in front of the follow outputs (decrypted bytes only).
    let mut tls = match a.proto {
        ProtoArg::Tls => Some(crate::tls_opts::layer_for_file(&a.tls, &a.file)?),
        _ => None,
    };
    if let Some(t) = tls.as_mut() {
        t.forward_plaintext(false);
    }
    let format = match a.format {
        FormatArg::Ascii => FollowFormat::Ascii,
        FormatArg::Hex => FollowFormat::Hex,
        FormatArg::Raw => FollowFormat::Raw,
        FormatArg::Yaml => FollowFormat::Yaml,
    };
    let Ok(filter) = crate::registry::compile_display_filter(a.display_filter.as_deref()) else {
        return Ok(Outcome::Failed);
    };
    if a.stream.is_none() && filter.is_none() && a.split.is_none() {
        eprintln!("wiresift: follow needs --stream N, -Y FILTER or --split DIR");
        return Ok(Outcome::Failed);
    }
    if filter.is_some() && a.file.as_os_str() == "-" {
        eprintln!("wiresift: follow -Y reads the capture twice: give a file, not `-`");
        return Ok(Outcome::Failed);
    }
    let opts = EngineOptions {
        flow: limits,
        ..Default::default()
    };
    let mut damaged = false;
    // Pass 1 (with -Y): the streams with a matching frame.
    let selected: Option<BTreeSet<u64>> = match &filter {
        Some(f) => {
            let Some(mut reader) = open(&a.file) else {
                return Ok(Outcome::Failed);
            };
            let mut eng = Engine::new(opts.clone());
            let mut set = BTreeSet::new();
            let (mut first, mut prev, mut prev_shown) = (None::<i64>, 0i64, None::<i64>);
            while crate::output::advance_or_report(&mut reader, &a.file, &mut damaged) {
                let Some(frame) = reader.current() else { break };
                let start = *first.get_or_insert(frame.ts);
                let prev_cap = if frame.number == 1 { frame.ts } else { prev };
                let p = match tls.as_mut() {
                    Some(t) => {
                        t.collect_fields(true);
                        eng.process(&frame, &mut t.wrap(&mut NullHandler))
                    }
                    None => eng.process(&frame, &mut NullHandler),
                };
                let stream = match (p.flow, proto) {
                    (Some(wiresift_flow::PacketFlow::Tcp(t)), Proto::Tcp) => Some(t.stream),
                    (Some(wiresift_flow::PacketFlow::Udp { stream, .. }), Proto::Udp) => {
                        Some(stream)
                    }
                    _ => None,
                };
                if let Some(s) = stream
                    && !set.contains(&s)
                {
                    let ifaces = reader.interfaces();
                    let meta = FrameMeta {
                        number: frame.number,
                        ts: frame.ts,
                        first_ts: start,
                        prev_ts: prev_cap,
                        prev_displayed_ts: prev_shown.unwrap_or(frame.ts),
                        orig_len: frame.orig_len,
                        iface: frame.iface,
                        iface_name: ifaces
                            .get(frame.iface as usize)
                            .and_then(|i| i.name.as_deref()),
                        link: frame.link,
                    };
                    let mut src = FrameSource::new(meta, frame.data, &p);
                    let tls_fields = tls.as_ref().map(|t| t.frame_fields(frame.number));
                    if let Some(tf) = &tls_fields {
                        src.extra.push(tf);
                    }
                    if f.matches(&src) {
                        set.insert(s);
                        prev_shown = Some(frame.ts);
                    }
                }
                prev = frame.ts;
            }
            if let Some(t) = tls.as_mut() {
                // Pass 2 starts again with fresh TLS state (same keys).
                *t = crate::tls_opts::layer_for_file(&a.tls, &a.file)?;
                t.forward_plaintext(false);
            }
            Some(set)
        }
        None => None,
    };
    let Some(mut reader) = open(&a.file) else {
        return Ok(Outcome::Failed);
    };
    let mut eng = Engine::new(opts);
    let (limit_gaps, limit_gap_bytes, pass_damaged) = if let Some(dir) = &a.split {
        let mut h = match SplitOut::new(dir, proto, selected) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("wiresift: {}: {e}", dir.display());
                return Ok(Outcome::Failed);
            }
        };
        let d = match tls.as_mut() {
            Some(t) => drive(&mut reader, &mut eng, &mut t.wrap(&mut h), &a.file, |_| {
                false
            }),
            None => drive(&mut reader, &mut eng, &mut h, &a.file, |_| false),
        };
        h.finish_all()
            .with_context(|| format!("writing to {}", dir.display()))?;
        if let Some(e) = h.error.take() {
            return Err(e).with_context(|| format!("writing to {}", dir.display()));
        }
        eprintln!(
            "wiresift: {} streams written to {} ({} bytes client→server, {} bytes server→client)",
            h.streams_written,
            dir.display(),
            h.bytes[0],
            h.bytes[1]
        );
        (h.limit_gaps, h.limit_gap_bytes, d)
    } else {
        let set: BTreeSet<u64> = match (&selected, a.stream) {
            (Some(s), _) => s.clone(),
            (None, Some(n)) => BTreeSet::from([n]),
            (None, None) => BTreeSet::new(),
        };
        let stdout = io::stdout().lock();
        let mut h = FollowOut::new(proto, format, set, Box::new(stdout), a.spool_memory);
        if a.proto == ProtoArg::Tls {
            h.fproto = FollowProto::Tls;
        }
        let single = a.stream.is_some();
        let d = match tls.as_mut() {
            Some(t) => drive(&mut reader, &mut eng, &mut t.wrap(&mut h), &a.file, |_| {
                false
            }),
            None => drive(&mut reader, &mut eng, &mut h, &a.file, |h| {
                single && h.all_done()
            }),
        };
        let counts = (h.limit_gaps, h.limit_gap_bytes, d);
        h.finish_all()?;
        counts
    };
    damaged |= pass_damaged;
    if let Some(t) = &tls {
        crate::tls_opts::print_reports(t, false, true);
    }
    let lost = report_limits(&eng, limit_gaps, limit_gap_bytes);
    Ok(if damaged || lost {
        Outcome::Partial
    } else {
        Outcome::Ok
    })
}

/// Runs every frame through the engine into `h`; `stop` ends the pass early. Returns true if
/// the file was damaged (reported).
fn drive<H: FlowHandler>(
    reader: &mut CaptureReader,
    eng: &mut Engine,
    h: &mut H,
    path: &Path,
    stop: impl Fn(&H) -> bool,
) -> bool {
    let mut damaged = false;
    while crate::output::advance_or_report(reader, path, &mut damaged) {
        let Some(frame) = reader.current() else { break };
        eng.process(&frame, h);
        if stop(h) {
            return damaged;
        }
    }
    eng.finish(h);
    damaged
}

// ---------------------------------------------------------------------------------------------
// Follow output in tshark's formats, grouped by stream.

/// Outputs of followed streams; the lowest unfinished stream goes straight to stdout.
struct Spool {
    out: Box<dyn Write>,
    /// Selected streams, in order; `head` indexes the one written directly.
    order: Vec<u64>,
    head: usize,
    done: BTreeSet<u64>,
    mem: FastMap<u64, Vec<u8>>,
    mem_total: usize,
    mem_cap: usize,
    file: Option<File>,
    file_len: u64,
    extents: FastMap<u64, Vec<(u64, u64)>>,
}

impl Spool {
    fn head_stream(&self) -> Option<u64> {
        self.order.get(self.head).copied()
    }

    fn write(&mut self, stream: u64, data: &[u8]) -> io::Result<()> {
        if self.head_stream() == Some(stream) {
            return self.out.write_all(data);
        }
        self.mem.entry(stream).or_default().extend_from_slice(data);
        self.mem_total += data.len();
        if self.mem_total > self.mem_cap {
            self.spill()?;
        }
        Ok(())
    }

    /// Moves every in-memory output to the temporary file.
    fn spill(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            let dir = std::env::temp_dir();
            let path = dir.join(format!(
                "wiresift-follow-{}-{}.spool",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            ));
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            // Unlinked at once: the space is freed when we exit, whatever happens.
            let _ = std::fs::remove_file(&path);
            self.file = Some(f);
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        f.seek(SeekFrom::End(0))?;
        let mut w = BufWriter::with_capacity(1 << 20, &*f);
        for (s, buf) in self.mem.iter_mut() {
            if buf.is_empty() {
                continue;
            }
            w.write_all(buf)?;
            self.extents
                .entry(*s)
                .or_default()
                .push((self.file_len, buf.len() as u64));
            self.file_len += buf.len() as u64;
            *buf = Vec::new();
        }
        w.flush()?;
        self.mem.retain(|_, b| !b.is_empty());
        self.mem_total = 0;
        Ok(())
    }

    /// Writes what was spooled for `stream` (file extents, then memory) to the output.
    fn drain(&mut self, stream: u64) -> io::Result<()> {
        if let Some(ext) = self.extents.remove(&stream)
            && let Some(f) = self.file.as_mut()
        {
            let mut buf = vec![0u8; 1 << 20];
            for (off, len) in ext {
                f.seek(SeekFrom::Start(off))?;
                let mut left = len;
                while left > 0 {
                    let n = (left as usize).min(buf.len());
                    f.read_exact(&mut buf[..n])?;
                    self.out.write_all(&buf[..n])?;
                    left -= n as u64;
                }
            }
        }
        if let Some(m) = self.mem.remove(&stream) {
            self.mem_total -= m.len();
            self.out.write_all(&m)?;
        }
        Ok(())
    }

    /// Marks `stream` finished and moves the head past every finished stream.
    fn finished(&mut self, stream: u64) -> io::Result<()> {
        self.done.insert(stream);
        while let Some(h) = self.head_stream() {
            if !self.done.contains(&h) {
                break;
            }
            self.head += 1;
            if let Some(next) = self.head_stream() {
                self.drain(next)?;
            }
        }
        Ok(())
    }
}

/// `Write` into a buffer shared with the handler (the flow crate's writer owns its sink).
#[derive(Clone, Default)]
struct SpoolSink {
    buf: Rc<RefCell<Vec<u8>>>,
}

impl Write for SpoolSink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Followed {
    w: FollowWriter<SpoolSink>,
    sink: SpoolSink,
    /// A direction ends at a gap left by a limit or the close (tshark stops there too).
    closed: [bool; 2],
}

struct FollowOut {
    proto: Proto,
    fproto: FollowProto,
    format: FollowFormat,
    wanted: BTreeSet<u64>,
    active: FastMap<u64, Followed>,
    spool: Spool,
    error: Option<io::Error>,
    limit_gaps: u64,
    limit_gap_bytes: u64,
}

impl FollowOut {
    fn new(
        proto: Proto,
        format: FollowFormat,
        wanted: BTreeSet<u64>,
        out: Box<dyn Write>,
        mem_cap: usize,
    ) -> FollowOut {
        let out: Box<dyn Write> = Box::new(BufWriter::with_capacity(256 * 1024, out));
        FollowOut {
            proto,
            fproto: match proto {
                Proto::Tcp => FollowProto::Tcp,
                Proto::Udp => FollowProto::Udp,
            },
            format,
            spool: Spool {
                out,
                order: wanted.iter().copied().collect(),
                head: 0,
                done: BTreeSet::new(),
                mem: FastMap::default(),
                mem_total: 0,
                mem_cap: mem_cap.max(1),
                file: None,
                file_len: 0,
                extents: FastMap::default(),
            },
            wanted,
            active: FastMap::default(),
            error: None,
            limit_gaps: 0,
            limit_gap_bytes: 0,
        }
    }

    fn all_done(&self) -> bool {
        self.spool.head >= self.spool.order.len()
    }

    fn new_writer(&self, stream: u64) -> (FollowWriter<SpoolSink>, SpoolSink) {
        let sink = SpoolSink::default();
        let w = FollowWriter::new(sink.clone(), self.fproto, self.format, stream);
        (w, sink)
    }

    /// Moves what the writer of `stream` produced into the spool.
    fn pump(&mut self, stream: u64) {
        let Some(f) = self.active.get_mut(&stream) else {
            return;
        };
        if f.sink.buf.borrow().len() < 16 * 1024 {
            return;
        }
        let data = std::mem::take(&mut *f.sink.buf.borrow_mut());
        if let Err(e) = self.spool.write(stream, &data) {
            self.error.get_or_insert(e);
        }
    }

    fn close_stream(&mut self, stream: u64) -> io::Result<()> {
        let (w, sink) = match self.active.remove(&stream) {
            Some(f) => (f.w, f.sink),
            None => self.new_writer(stream),
        };
        w.finish()?;
        let data = std::mem::take(&mut *sink.buf.borrow_mut());
        self.spool.write(stream, &data)?;
        self.spool.finished(stream)
    }

    fn finish_all(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let rest: Vec<u64> = self
            .wanted
            .iter()
            .copied()
            .filter(|s| !self.spool.done.contains(s))
            .collect();
        for s in rest {
            self.close_stream(s)?;
        }
        self.spool.out.flush()
    }
}

impl FlowHandler for FollowOut {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        if id.proto != self.proto || !self.wanted.contains(&id.stream) {
            return;
        }
        let (mut w, sink) = self.new_writer(id.stream);
        w.set_flow(info);
        self.active.insert(
            id.stream,
            Followed {
                w,
                sink,
                closed: [false, false],
            },
        );
    }
    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], ts: Nanos, frame: u64) {
        if id.proto != self.proto {
            return;
        }
        let Some(f) = self.active.get_mut(&id.stream) else {
            return;
        };
        if f.closed[dir.index()] {
            return;
        }
        if let Err(e) = f.w.chunk(dir, data, frame, ts) {
            self.error.get_or_insert(e);
        }
        self.pump(id.stream);
    }
    fn on_gap(&mut self, id: FlowId, dir: Direction, gap: &Gap) {
        if id.proto != self.proto {
            return;
        }
        let Some(f) = self.active.get_mut(&id.stream) else {
            return;
        };
        match gap.cause {
            GapCause::NotCaptured => {
                if !f.closed[dir.index()]
                    && let Err(e) = f.w.gap(dir, gap.missing, gap.frame)
                {
                    self.error.get_or_insert(e);
                }
            }
            GapCause::Truncated => {}
            GapCause::Limit => {
                self.limit_gaps += 1;
                self.limit_gap_bytes += gap.missing;
                f.closed[dir.index()] = true;
            }
            GapCause::Close => f.closed[dir.index()] = true,
        }
        self.pump(id.stream);
    }
    fn on_close(&mut self, id: FlowId, _summary: &FlowSummary) {
        if id.proto != self.proto || !self.active.contains_key(&id.stream) {
            return;
        }
        if let Err(e) = self.close_stream(id.stream) {
            self.error.get_or_insert(e);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// --split DIR

/// Most split files open at once (less when the descriptor limit is low); others are closed
/// and reopened in append mode.
const OPEN_FILES: usize = 512;
/// A direction's bytes are written when this much is buffered.
const DIR_BUF: usize = 64 * 1024;
/// All directions' buffers together; beyond it every buffer is written out.
const TOTAL_BUF: usize = 8 << 20;
/// Gaps listed per stream in streams.jsonl (all are counted).
const GAPS_LISTED: usize = 64;

/// A line of streams.jsonl (fields in alphabetical order, as the format has always had them).
#[derive(serde::Serialize)]
struct StreamRecord<'a> {
    c2s: DirRecord,
    client_ip: IpAddr,
    client_port: u16,
    close_reason: Option<&'static str>,
    community_id: &'a str,
    first_frame: u64,
    first_time: String,
    gaps: &'a [serde_json::Value],
    gaps_listed_max: usize,
    ip_proto: u8,
    last_frame: Option<u64>,
    last_time: Option<String>,
    limit_gaps: u64,
    proto: &'static str,
    s2c: DirRecord,
    server_ip: IpAddr,
    server_port: u16,
    stream: u64,
    truncated_bytes: u64,
}

/// One direction in a [`StreamRecord`].
#[derive(serde::Serialize)]
struct DirRecord {
    bytes: u64,
    file: String,
    fin: bool,
    gap_bytes: u64,
    gaps: u64,
    overlap_conflicts: u64,
    packets: u64,
    rst: bool,
    wire_bytes: u64,
}

struct SplitDir {
    buf: Vec<u8>,
    /// Bytes written to the file so far (the offset of the next byte).
    written: u64,
    created: bool,
}

struct SplitStream {
    info: FlowInfo,
    dirs: [SplitDir; 2],
    gaps: Vec<serde_json::Value>,
    limit_gaps: u64,
    truncated_bytes: u64,
}

struct SplitOut {
    proto: Proto,
    wanted: Option<BTreeSet<u64>>,
    streams: FastMap<u64, SplitStream>,
    /// The thread that owns the files and does the writing, so the kernel's copy into the
    /// page cache overlaps with parsing (on two cores this is what makes --split faster than
    /// tcpflow, which does both on one thread).
    writer: Option<FileWriter>,
    total_buf: usize,
    jsonl: BufWriter<File>,
    error: Option<io::Error>,
    streams_written: u64,
    bytes: [u64; 2],
    limit_gaps: u64,
    limit_gap_bytes: u64,
}

fn endpoint_name(a: (IpAddr, u16)) -> String {
    format!("{}.{}", a.0, a.1)
}

/// `<stream>-<client ip.port>-<server ip.port>.c2s|.s2c` (made when needed rather than kept:
/// a stream's entry stays in memory until its flow ends).
fn split_name(i: &FlowInfo, d: usize) -> String {
    format!(
        "{}-{}-{}.{}",
        i.stream,
        endpoint_name(i.client),
        endpoint_name(i.server),
        if d == 0 { "c2s" } else { "s2c" }
    )
}

fn time_str(ts: Nanos) -> String {
    format!(
        "{}.{:09}",
        ts.div_euclid(1_000_000_000),
        ts.rem_euclid(1_000_000_000)
    )
}

/// [`OPEN_FILES`], or a quarter of the soft descriptor limit if that is lower (at least 8).
fn open_files_budget() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    OPEN_FILES.min(soft / 4).max(8)
}

impl SplitOut {
    fn new(dir: &Path, proto: Proto, wanted: Option<BTreeSet<u64>>) -> io::Result<SplitOut> {
        std::fs::create_dir_all(dir)?;
        let jsonl = BufWriter::new(File::create(dir.join("streams.jsonl"))?);
        Ok(SplitOut {
            proto,
            wanted,
            streams: FastMap::default(),
            writer: Some(FileWriter::spawn(dir.to_path_buf(), open_files_budget())),
            total_buf: 0,
            jsonl,
            error: None,
            streams_written: 0,
            bytes: [0, 0],
            limit_gaps: 0,
            limit_gap_bytes: 0,
        })
    }

    /// Hands the buffer of one direction to the writer thread (moved, not copied).
    fn flush_dir(&mut self, stream: u64, d: usize) -> io::Result<()> {
        let Some(s) = self.streams.get_mut(&stream) else {
            return Ok(());
        };
        let sd = &mut s.dirs[d];
        if sd.buf.is_empty() && sd.created {
            return Ok(());
        }
        // Freed, not kept: flows stay in the table until the end of the capture, and
        // thousands of idle 64 KiB buffers would make memory grow with the capture.
        let data = std::mem::take(&mut sd.buf);
        let name = (!sd.created).then(|| split_name(&s.info, d));
        sd.created = true;
        sd.written += data.len() as u64;
        self.total_buf -= data.len();
        match self.writer.as_mut() {
            Some(w) => w.write((stream, d), name, data),
            None => Err(io::Error::other("the file writer has stopped")),
        }
    }

    /// Writes the largest buffers until half of the total budget is free.
    fn flush_largest(&mut self) -> io::Result<()> {
        let mut keys: Vec<(usize, u64, usize)> = Vec::new();
        for (s, st) in &self.streams {
            for d in 0..2 {
                if !st.dirs[d].buf.is_empty() {
                    keys.push((st.dirs[d].buf.len(), *s, d));
                }
            }
        }
        keys.sort_unstable_by(|a, b| b.cmp(a));
        for (_, s, d) in keys {
            if self.total_buf <= TOTAL_BUF / 2 {
                break;
            }
            self.flush_dir(s, d)?;
        }
        Ok(())
    }

    fn close_stream(&mut self, stream: u64, summary: Option<&FlowSummary>) -> io::Result<()> {
        self.flush_dir(stream, 0)?;
        self.flush_dir(stream, 1)?;
        if let Some(w) = self.writer.as_mut() {
            w.close((stream, 0))?;
            w.close((stream, 1))?;
        }
        let Some(s) = self.streams.remove(&stream) else {
            return Ok(());
        };
        self.streams_written += 1;
        let i = &s.info;
        let dir_rec = |d: usize| {
            let sd = &s.dirs[d];
            let sum = summary.map(|x| x.dirs[d]).unwrap_or_default();
            DirRecord {
                bytes: sd.written,
                file: split_name(i, d),
                fin: sum.fin,
                gap_bytes: sum.gap_bytes,
                gaps: sum.gaps,
                overlap_conflicts: sum.overlap_conflicts,
                packets: sum.packets,
                rst: sum.rst,
                wire_bytes: sum.wire_bytes,
            }
        };
        let rec = StreamRecord {
            c2s: dir_rec(0),
            client_ip: i.client.0,
            client_port: i.client.1,
            close_reason: summary.map(|x| x.reason.as_str()),
            community_id: &i.community_id,
            first_frame: i.first_frame,
            first_time: time_str(i.first_ts),
            gaps: &s.gaps,
            gaps_listed_max: GAPS_LISTED,
            ip_proto: i.proto.number(),
            last_frame: summary.map(|x| x.last_frame),
            last_time: summary.map(|x| time_str(x.last_ts)),
            limit_gaps: s.limit_gaps,
            proto: match i.proto {
                Proto::Tcp => "tcp",
                Proto::Udp => "udp",
            },
            s2c: dir_rec(1),
            server_ip: i.server.0,
            server_port: i.server.1,
            stream: i.stream,
            truncated_bytes: s.truncated_bytes,
        };
        serde_json::to_writer(&mut self.jsonl, &rec)?;
        self.jsonl.write_all(b"\n")
    }

    fn finish_all(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut rest: Vec<u64> = self.streams.keys().copied().collect();
        rest.sort_unstable();
        for s in rest {
            self.close_stream(s, None)?;
        }
        if let Some(w) = self.writer.take() {
            w.finish()?;
        }
        self.jsonl.flush()
    }

    fn fail(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}

impl FlowHandler for SplitOut {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        if id.proto != self.proto
            || self
                .wanted
                .as_ref()
                .is_some_and(|w| !w.contains(&id.stream))
        {
            return;
        }
        let mk = || SplitDir {
            buf: Vec::new(),
            written: 0,
            created: false,
        };
        self.streams.insert(
            id.stream,
            SplitStream {
                info: info.clone(),
                dirs: [mk(), mk()],
                gaps: Vec::new(),
                limit_gaps: 0,
                truncated_bytes: 0,
            },
        );
    }
    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], _ts: Nanos, _frame: u64) {
        if id.proto != self.proto {
            return;
        }
        let d = dir.index();
        let Some(s) = self.streams.get_mut(&id.stream) else {
            return;
        };
        let sd = &mut s.dirs[d];
        self.bytes[d] += data.len() as u64;
        // A direction that outgrows a small buffer gets a large one that came back from the
        // writer thread (small flows keep small buffers: they may stay idle for long).
        let want = sd.buf.len() + data.len();
        if want > sd.buf.capacity()
            && want > 16 * 1024
            && sd.buf.capacity() < DIR_BUF
            && let Some(w) = self.writer.as_mut()
        {
            let mut b = w.buffer();
            b.extend_from_slice(&sd.buf);
            sd.buf = b;
        }
        if sd.buf.is_empty() && data.len() >= DIR_BUF && sd.created {
            // Large chunk, nothing buffered: write it through.
            sd.buf.extend_from_slice(data);
            self.total_buf += data.len();
            let r = self.flush_dir(id.stream, d);
            self.fail(r);
            return;
        }
        sd.buf.extend_from_slice(data);
        self.total_buf += data.len();
        if sd.buf.len() >= DIR_BUF {
            let r = self.flush_dir(id.stream, d);
            self.fail(r);
        }
        if self.total_buf > TOTAL_BUF {
            let r = self.flush_largest();
            self.fail(r);
        }
    }
    fn on_gap(&mut self, id: FlowId, dir: Direction, gap: &Gap) {
        if id.proto != self.proto {
            return;
        }
        let Some(s) = self.streams.get_mut(&id.stream) else {
            return;
        };
        let d = dir.index();
        let cause = match gap.cause {
            GapCause::NotCaptured => "not captured",
            GapCause::Truncated => "truncated",
            GapCause::Limit => "limit",
            GapCause::Close => "close",
        };
        match gap.cause {
            GapCause::Limit => {
                s.limit_gaps += 1;
                self.limit_gaps += 1;
                self.limit_gap_bytes += gap.missing;
            }
            GapCause::Truncated => s.truncated_bytes += gap.missing,
            _ => {}
        }
        if s.gaps.len() < GAPS_LISTED {
            let sd = &s.dirs[d];
            s.gaps.push(serde_json::json!({
                "dir": if d == 0 { "c2s" } else { "s2c" },
                "offset": sd.written + sd.buf.len() as u64,
                "missing": gap.missing,
                "cause": cause,
                "frame": gap.frame,
            }));
        }
    }
    fn on_close(&mut self, id: FlowId, summary: &FlowSummary) {
        if id.proto != self.proto || !self.streams.contains_key(&id.stream) {
            return;
        }
        let r = self.close_stream(id.stream, Some(summary));
        self.fail(r);
    }
}
