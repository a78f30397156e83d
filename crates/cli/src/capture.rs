//! `wiresift capture`: live capture to pcapng/pcap files (optionally a ring of them) or to
//! summary lines.
//!
//! Threads: one per interface moves packets out of its kernel ring into batches; one writer
//! thread owns the output (files and/or summary lines) and is the only place packets are
//! counted, so `-c`, `-a` and ring switches happen between two packets, never inside one; the
//! main thread watches signals, timers and the status line. The channel between them is
//! bounded: if the output cannot keep up, the kernel ring fills and the kernel drops (and
//! counts) packets, rather than our memory growing.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use wiresift_capfile::{Interface, LinkType, Nanos, PcapNgWriter, PcapWriter};
use wiresift_capture::{Batch, LiveCapture, LiveConfig, LiveError, LiveStats};
use wiresift_dissect::fmt::push_time;
use wiresift_dissect::{Summarizer, TimeFormat, decode};

use crate::Outcome;
use crate::output::Out;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PrecisionArg {
    Micro,
    Nano,
}

#[derive(Args)]
pub struct CaptureArgs {
    /// Interface to capture on (repeat for several; `any` for all). Default: the first
    /// interface that is up and not a loopback
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// Capture filter (pcap-filter syntax), as tcpdump takes it after its options
    #[arg(value_name = "FILTER")]
    pub filter_words: Vec<String>,
    /// Capture filter (pcap-filter syntax), compiled by libpcap and attached in the kernel
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,
    /// Write packets to this file (`-` = standard output) instead of printing summary lines
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Write classic pcap (also chosen by a `.pcap` file name); the default is pcapng
    #[arg(long, conflicts_with = "pcapng")]
    pub pcap: bool,
    /// Write pcapng (the default, whatever the file name)
    #[arg(long)]
    pub pcapng: bool,
    /// With -w, print the summary lines as well
    #[arg(long)]
    pub print: bool,
    /// Stop after N packets
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Stop condition: duration:SEC, filesize:KB (1 KB = 1000 bytes) or packets:N (repeatable)
    #[arg(short = 'a', long = "autostop", value_name = "COND")]
    pub autostop: Vec<String>,
    /// Ring buffer: switch files at filesize:KB, duration:SEC or packets:N; files:N keeps only
    /// the newest N files (repeatable)
    #[arg(short = 'b', long = "ring-buffer", value_name = "COND")]
    pub ring: Vec<String>,
    /// Bytes kept of each packet
    #[arg(
        short = 's',
        long = "snaplen",
        value_name = "SNAPLEN",
        default_value_t = 262_144
    )]
    pub snaplen: u32,
    /// Do not put the interface into promiscuous mode
    #[arg(short = 'p', long = "no-promiscuous-mode")]
    pub no_promisc: bool,
    /// Deliver each packet as soon as it arrives (more CPU at high rates)
    #[arg(long)]
    pub immediate: bool,
    /// Kernel capture buffer size in KiB (default: libpcap's, 2 MiB)
    #[arg(short = 'B', long = "buffer-size", value_name = "KiB")]
    pub buffer_kib: Option<u32>,
    /// Timestamp precision to ask the kernel for and to write
    #[arg(long = "tstamp-precision", value_enum, default_value = "micro")]
    pub precision: PrecisionArg,
    /// Quiet: no "listening on" line and no live status line
    #[arg(short = 'q')]
    pub quiet: bool,
    /// After opening the interfaces, switch to this user (and its groups) before creating files
    #[arg(short = 'Z', long = "relinquish-privileges", value_name = "USER")]
    pub user: Option<String>,
    /// Accepted for tcpdump compatibility: addresses and ports are always numeric
    #[arg(short = 'n', action = clap::ArgAction::Count)]
    pub numeric: u8,
}

impl CaptureArgs {
    fn filter_expr(&self) -> Option<String> {
        let words = self.filter_words.join(" ");
        match (&self.filter, words.trim().is_empty()) {
            (Some(f), true) => Some(f.clone()),
            (Some(f), false) => Some(format!("({f}) and ({words})")),
            (None, false) => Some(words),
            (None, true) => None,
        }
    }
}

/// When to stop or switch files; every field is optional.
#[derive(Clone, Copy, Debug, Default)]
struct Limits {
    duration: Option<Duration>,
    bytes: Option<u64>,
    packets: Option<u64>,
}

impl Limits {
    fn any(&self) -> bool {
        self.duration.is_some() || self.bytes.is_some() || self.packets.is_some()
    }
}

/// Parses `duration:SEC`, `filesize:KB`, `packets:N` (and `files:N` when `files` is given).
fn parse_conditions(
    opt: &str,
    conds: &[String],
    mut files: Option<&mut Option<u32>>,
) -> Result<Limits> {
    let mut l = Limits::default();
    for c in conds {
        let Some((key, value)) = c.split_once(':') else {
            bail!("{opt} {c}: expected KEY:VALUE (duration:SEC, filesize:KB, packets:N)");
        };
        let bad = || anyhow::anyhow!("{opt} {c}: '{value}' is not a valid number");
        match key {
            "duration" => {
                let s: f64 = value.parse().map_err(|_| bad())?;
                if !(s.is_finite() && s > 0.0) {
                    return Err(bad());
                }
                l.duration = Some(Duration::from_secs_f64(s));
            }
            "filesize" => {
                let kb: u64 = value.parse().map_err(|_| bad())?;
                l.bytes = Some(kb.saturating_mul(1000).max(1));
            }
            "packets" => l.packets = Some(value.parse::<u64>().map_err(|_| bad())?.max(1)),
            "files" if files.is_some() => {
                let n: u32 = value.parse().map_err(|_| bad())?;
                if n == 0 {
                    return Err(bad());
                }
                if let Some(f) = files.as_deref_mut() {
                    *f = Some(n);
                }
            }
            _ => bail!("{opt} {c}: unknown condition '{key}'"),
        }
    }
    Ok(l)
}

/// Per-interface counters published by the capture threads (for the status line, the ISBs at
/// each file switch and the final report).
#[derive(Default)]
struct SharedStats {
    received: AtomicU64,
    dropped: AtomicU64,
    if_dropped: AtomicU64,
}

impl SharedStats {
    fn publish(&self, s: LiveStats) {
        self.received.store(s.received, Ordering::Relaxed);
        self.dropped.store(s.dropped, Ordering::Relaxed);
        self.if_dropped.store(s.if_dropped, Ordering::Relaxed);
    }

    fn get(&self) -> LiveStats {
        LiveStats {
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            if_dropped: self.if_dropped.load(Ordering::Relaxed),
        }
    }
}

struct Shared {
    stop: AtomicBool,
    packets: AtomicU64,
    bytes: AtomicU64,
    ifaces: Vec<SharedStats>,
    /// Emptied batches, reused by the capture threads.
    pool: Mutex<Vec<Batch>>,
}

impl Shared {
    fn take_batch(&self, iface: u32) -> Batch {
        let b = self.pool.lock().ok().and_then(|mut p| p.pop());
        match b {
            Some(mut b) => {
                b.iface = iface;
                b
            }
            None => Batch::new(iface),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output files

enum Dest {
    File(File),
    Stdout(io::Stdout),
}

impl Write for Dest {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Dest::File(f) => f.write(b),
            Dest::Stdout(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Dest::File(f) => f.flush(),
            Dest::Stdout(s) => s.flush(),
        }
    }
}

/// Counts the bytes written, for `filesize` conditions.
struct Counted {
    w: BufWriter<Dest>,
    n: u64,
}

impl Write for Counted {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.w.write(b)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

enum Sink {
    Ng(PcapNgWriter<Counted>),
    Pcap(PcapWriter<Counted>),
}

impl Sink {
    fn counted(&mut self) -> &mut Counted {
        match self {
            Sink::Ng(w) => w.get_mut(),
            Sink::Pcap(w) => w.get_mut(),
        }
    }
}

enum Target {
    Stdout,
    File(PathBuf),
    Ring {
        base: PathBuf,
        n: u32,
        keep: Option<u32>,
        files: VecDeque<PathBuf>,
    },
}

struct Output {
    target: Target,
    pcapng: bool,
    ifaces: Vec<Interface>,
    sink: Option<Sink>,
    opened: Instant,
    file_packets: u64,
    switch: Limits,
    /// Every file written, in order (for the final message).
    written: Vec<PathBuf>,
}

fn now_nanos() -> Nanos {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `shb_hardware`: the CPU model, as dumpcap writes it.
fn hardware() -> Option<String> {
    let s = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    s.lines().find_map(|l| {
        l.strip_prefix("model name")?
            .split_once(':')
            .map(|(_, v)| v.trim().to_string())
    })
}

/// `shb_os` / `if_os`: kernel name and release.
fn os_description() -> String {
    match std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        Ok(r) => format!("Linux {}", r.trim()),
        Err(_) => std::env::consts::OS.to_string(),
    }
}

impl Output {
    /// Creates the next file (or the stdout stream) with its headers.
    fn open_next(&mut self) -> Result<()> {
        let (dest, path) = match &mut self.target {
            Target::Stdout => (Dest::Stdout(io::stdout()), None),
            Target::File(p) => (
                Dest::File(
                    File::create(&*p).with_context(|| format!("cannot create {}", p.display()))?,
                ),
                Some(p.clone()),
            ),
            Target::Ring {
                base,
                n,
                keep,
                files,
            } => {
                *n += 1;
                let p = wiresift_capture::ring_file_name(base, *n, SystemTime::now());
                let f =
                    File::create(&p).with_context(|| format!("cannot create {}", p.display()))?;
                files.push_back(p.clone());
                if let Some(k) = *keep {
                    while files.len() > k as usize {
                        if let Some(old) = files.pop_front() {
                            std::fs::remove_file(&old).with_context(|| {
                                format!("cannot remove old ring file {}", old.display())
                            })?;
                            self.written.retain(|w| *w != old);
                        }
                    }
                }
                (Dest::File(f), Some(p))
            }
        };
        let counted = Counted {
            w: BufWriter::with_capacity(1 << 20, dest),
            n: 0,
        };
        let sink = if self.pcapng {
            let hw = hardware();
            let mut w = PcapNgWriter::new(
                counted,
                hw.as_deref(),
                Some(&os_description()),
                Some(concat!("wiresift ", env!("CARGO_PKG_VERSION"))),
            )?;
            for i in &self.ifaces {
                w.add_interface(i)?;
            }
            Sink::Ng(w)
        } else {
            let first = &self.ifaces[0];
            Sink::Pcap(PcapWriter::new(
                counted,
                first.link,
                first.snaplen,
                first.tsresol == 9,
            )?)
        };
        self.sink = Some(sink);
        self.opened = Instant::now();
        self.file_packets = 0;
        if let Some(p) = path {
            self.written.push(p);
        }
        Ok(())
    }

    /// Ends the current file: statistics blocks (pcapng), flush, fsync.
    fn close(&mut self, stats: &[LiveStats]) -> Result<()> {
        let Some(mut sink) = self.sink.take() else {
            return Ok(());
        };
        if let Sink::Ng(w) = &mut sink {
            let ts = now_nanos();
            for (i, s) in stats.iter().enumerate() {
                w.write_stats(i as u32, ts, Some(s.received), Some(s.dropped))?;
            }
        }
        let c = sink.counted();
        c.w.flush()?;
        if let Dest::File(f) = c.w.get_ref() {
            f.sync_all().context("fsync of the capture file")?;
        }
        Ok(())
    }

    fn bytes(&mut self) -> u64 {
        self.sink.as_mut().map(|s| s.counted().n).unwrap_or(0)
    }

    /// True if a ring switching condition is met (checked between packets).
    fn should_switch(&mut self) -> bool {
        if !matches!(self.target, Target::Ring { .. }) {
            return false;
        }
        let sw = self.switch;
        sw.packets.is_some_and(|n| self.file_packets >= n)
            || sw.duration.is_some_and(|d| self.opened.elapsed() >= d)
            || sw.bytes.is_some_and(|b| self.bytes() >= b)
    }

    fn write(&mut self, iface: u32, ts: Nanos, orig_len: u32, data: &[u8]) -> io::Result<()> {
        self.file_packets += 1;
        match &mut self.sink {
            Some(Sink::Ng(w)) => w.write_packet(iface, ts, orig_len, data, None),
            Some(Sink::Pcap(w)) => w.write(ts, orig_len, data),
            None => Err(io::Error::other("no output file open")),
        }
    }
}

fn current_stats(shared: &Shared) -> Vec<LiveStats> {
    shared.ifaces.iter().map(SharedStats::get).collect()
}

// ---------------------------------------------------------------------------------------------
// Threads

fn capture_thread(
    mut cap: LiveCapture,
    iface: u32,
    tx: SyncSender<Batch>,
    shared: Arc<Shared>,
) -> Result<(), LiveError> {
    let mut batch = shared.take_batch(iface);
    let mut last_stats = Instant::now();
    let stats = &shared.ifaces[iface as usize];
    let r = loop {
        let finished = if shared.stop.load(Ordering::Relaxed) {
            match cap.drain_step(&mut batch) {
                Ok(done) => done,
                Err(e) => break Err(e),
            }
        } else {
            if let Err(e) = cap.poll_batch(&mut batch, Duration::from_millis(100)) {
                break Err(e);
            }
            false
        };
        if !batch.is_empty() {
            if tx.send(batch).is_err() {
                // The writer is gone (output error or finished): nothing more to do.
                break Ok(());
            }
            batch = shared.take_batch(iface);
        }
        if finished || last_stats.elapsed() >= Duration::from_secs(1) {
            stats.publish(cap.stats());
            last_stats = Instant::now();
        }
        if finished {
            break Ok(());
        }
    };
    stats.publish(cap.stats());
    if r.is_err() {
        shared.stop.store(true, Ordering::Relaxed);
    }
    r
}

struct Printer {
    out: Out,
    summ: Summarizer,
    digits: Vec<u8>,
    first: Option<Nanos>,
    prev: Nanos,
}

impl Printer {
    fn print(
        &mut self,
        iface: u32,
        link: LinkType,
        ts: Nanos,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let digits = self.digits.get(iface as usize).copied().unwrap_or(6);
        let start = *self.first.get_or_insert(ts);
        push_time(
            &mut self.out.buf,
            TimeFormat::Absolute,
            ts,
            start,
            self.prev,
            digits,
        );
        self.prev = ts;
        self.out.buf.push(b' ');
        let layers = decode(link, data);
        self.summ.write(&mut self.out.buf, data, &layers, orig_len);
        self.out.buf.push(b'\n');
        self.out.maybe_flush()
    }
}

struct WriterReport {
    captured: u64,
    files: Vec<PathBuf>,
}

/// Everything that happens to a packet after capture: file(s), summary lines, counting and
/// the stop conditions that depend on them. Used by the writer thread (several interfaces) or
/// directly by the capture thread (one interface: no copy, no hand-off between cores).
struct Writer {
    output: Option<Output>,
    printer: Option<Printer>,
    links: Vec<LinkType>,
    stop_at: Limits,
    captured: u64,
    bytes: u64,
    done: bool,
    shared: Arc<Shared>,
}

impl Writer {
    fn new(
        output: Option<Output>,
        print: bool,
        links: Vec<LinkType>,
        digits: Vec<u8>,
        stop_at: Limits,
        shared: Arc<Shared>,
    ) -> Writer {
        let printer = print.then(|| {
            let mut summ = Summarizer::new();
            summ.ifnames = local_ifnames();
            Printer {
                out: Out::stdout(),
                summ,
                digits,
                first: None,
                prev: 0,
            }
        });
        Writer {
            output,
            printer,
            links,
            stop_at,
            captured: 0,
            bytes: 0,
            done: false,
            shared,
        }
    }

    /// One packet. After a stop condition is met, later packets are ignored.
    fn packet(&mut self, iface: u32, ts: Nanos, orig_len: u32, data: &[u8]) -> Result<()> {
        if self.done {
            return Ok(());
        }
        if let Some(o) = self.output.as_mut() {
            if o.should_switch() {
                o.close(&current_stats(&self.shared))?;
                o.open_next()?;
            }
            o.write(iface, ts, orig_len, data)
                .context("writing the capture file")?;
        }
        if let Some(p) = self.printer.as_mut() {
            let link = self
                .links
                .get(iface as usize)
                .copied()
                .unwrap_or(LinkType::ETHERNET);
            p.print(iface, link, ts, orig_len, data)?;
        }
        self.captured += 1;
        self.bytes += data.len() as u64;
        let full = self
            .stop_at
            .bytes
            .is_some_and(|b| self.output.as_mut().is_some_and(|o| o.bytes() >= b));
        if self.stop_at.packets.is_some_and(|n| self.captured >= n) || full {
            self.done = true;
            self.shared.stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// After each batch: publish the counters, show printed lines now, and switch ring files
    /// on time even when no packet comes.
    fn tick(&mut self) -> Result<()> {
        self.shared.packets.store(self.captured, Ordering::Relaxed);
        self.shared.bytes.store(self.bytes, Ordering::Relaxed);
        if let Some(p) = self.printer.as_mut()
            && !p.out.buf.is_empty()
        {
            p.out.flush()?;
        }
        if let Some(o) = self.output.as_mut()
            && !self.done
            && o.should_switch()
        {
            o.close(&current_stats(&self.shared))?;
            o.open_next()?;
        }
        Ok(())
    }

    /// Ends the file properly with what it holds, whatever happened before.
    fn finish(mut self, earlier: Result<()>) -> Result<WriterReport> {
        self.shared.packets.store(self.captured, Ordering::Relaxed);
        let closed = match self.output.as_mut() {
            Some(o) => o.close(&current_stats(&self.shared)),
            None => Ok(()),
        };
        let flushed = match self.printer.as_mut() {
            Some(p) => p.out.flush().map_err(anyhow::Error::from),
            None => Ok(()),
        };
        earlier?;
        closed?;
        flushed?;
        Ok(WriterReport {
            captured: self.captured,
            files: self.output.map(|o| o.written).unwrap_or_default(),
        })
    }
}

fn writer_thread(rx: Receiver<Batch>, mut w: Writer) -> Result<WriterReport> {
    let r: Result<()> = (|| {
        loop {
            let batch = match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(b) => b,
                Err(RecvTimeoutError::Timeout) => {
                    w.tick()?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            for (ts, orig_len, data) in batch.iter() {
                w.packet(batch.iface, ts, orig_len, data)?;
            }
            w.tick()?;
            let mut b = batch;
            b.clear();
            if let Ok(mut pool) = w.shared.pool.lock()
                && pool.len() < 64
            {
                pool.push(b);
            }
        }
        Ok(())
    })();
    w.finish(r)
}

/// One interface: capture and write in the same thread, packets written straight from the
/// kernel ring (tcpdump's own model, and its CPU cost).
fn single_thread(
    mut cap: LiveCapture,
    mut w: Writer,
) -> (Result<(), LiveError>, Result<WriterReport>) {
    let shared = Arc::clone(&w.shared);
    let stats = &shared.ifaces[0];
    let mut last_stats = Instant::now();
    let mut werr: Result<()> = Ok(());
    let r = loop {
        let mut f = |ts, len, data: &[u8]| {
            if werr.is_ok() {
                werr = w.packet(0, ts, len, data);
            }
        };
        let finished = if shared.stop.load(Ordering::Relaxed) {
            match cap.drain_each(&mut f) {
                Ok(done) => done,
                Err(e) => break Err(e),
            }
        } else {
            if let Err(e) = cap.poll_each(Duration::from_millis(100), &mut f) {
                break Err(e);
            }
            false
        };
        if werr.is_ok() {
            werr = w.tick();
        }
        if werr.is_err() {
            shared.stop.store(true, Ordering::Relaxed);
            break Ok(());
        }
        if finished || last_stats.elapsed() >= Duration::from_secs(1) {
            stats.publish(cap.stats());
            last_stats = Instant::now();
        }
        if finished {
            break Ok(());
        }
    };
    stats.publish(cap.stats());
    if r.is_err() {
        shared.stop.store(true, Ordering::Relaxed);
    }
    (r, w.finish(werr))
}

/// Names of this machine's interfaces by index, for Linux SLL2 headers (as tcpdump shows them).
fn local_ifnames() -> std::collections::HashMap<u32, String> {
    let mut m = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(s) = std::fs::read_to_string(e.path().join("ifindex"))
                && let Ok(i) = s.trim().parse()
            {
                m.insert(i, name);
            }
        }
    }
    m
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Explains a failure to open an interface the way a user can act on it.
fn report_open_error(e: &LiveError) {
    match e {
        LiveError::PermissionDenied { .. } => {
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "wiresift".into());
            eprintln!("wiresift: {e}");
            eprintln!(
                "wiresift: capturing needs the CAP_NET_RAW and CAP_NET_ADMIN capabilities (or root)."
            );
            eprintln!("wiresift: to let this binary capture without root, run:");
            eprintln!("    sudo setcap cap_net_raw,cap_net_admin=eip {exe}");
        }
        LiveError::NoSuchInterface { .. } => {
            eprintln!("wiresift: {e}");
            eprintln!("wiresift: `wiresift interfaces` lists them with their addresses");
        }
        LiveError::Filter {
            name,
            expr,
            message,
        } => {
            if name.is_empty() {
                eprintln!("wiresift: {message}");
            } else {
                eprintln!("wiresift: {name}: {message}");
            }
            eprintln!("  in capture filter: {expr}");
        }
        other => eprintln!("wiresift: {other}"),
    }
}

fn default_interface() -> Result<String> {
    let list = wiresift_capture::list_interfaces(false).context("listing interfaces")?;
    list.iter()
        .find(|i| i.up && i.running && !i.loopback && i.name != "any")
        .or_else(|| list.first())
        .map(|i| i.name.clone())
        .ok_or_else(|| anyhow::anyhow!("no interface to capture on (see `wiresift interfaces`)"))
}

pub fn run(a: CaptureArgs) -> Result<Outcome> {
    let mut ring_keep = None;
    let switch = parse_conditions("-b", &a.ring, Some(&mut ring_keep))?;
    let mut stop_at = parse_conditions("-a", &a.autostop, None)?;
    if let Some(c) = a.count {
        stop_at.packets = Some(stop_at.packets.map_or(c, |p| p.min(c)));
    }
    if stop_at.packets == Some(0) {
        bail!("-c 0: nothing to capture");
    }
    let to_stdout = a.write.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if !a.ring.is_empty() {
        if !switch.any() {
            bail!(
                "-b: a ring buffer needs a switching condition (filesize:KB, duration:SEC or packets:N)"
            );
        }
        if a.write.is_none() || to_stdout {
            bail!("-b: a ring buffer needs -w FILE (a file name, not -)");
        }
    }
    if to_stdout && a.print {
        bail!("--print cannot go with -w - (both would go to standard output)");
    }
    if stop_at.bytes.is_some() && a.write.is_none() {
        bail!("-a filesize: needs -w FILE");
    }
    let pcapng = match (&a.write, a.pcap, a.pcapng) {
        (_, true, _) => false,
        (_, _, true) => true,
        (Some(p), _, _) => !p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pcap")),
        (None, _, _) => true,
    };
    let filter = a.filter_expr();
    if let Some(expr) = &filter
        && let Err(e) = wiresift_capture::live::check_filter_syntax(expr)
    {
        report_open_error(&e);
        return Ok(Outcome::Failed);
    }
    let names = if a.interfaces.is_empty() {
        vec![default_interface()?]
    } else {
        a.interfaces.clone()
    };
    let cfg = LiveConfig {
        snaplen: a.snaplen,
        promisc: !a.no_promisc,
        immediate: a.immediate,
        buffer_bytes: a.buffer_kib.map(|k| k.saturating_mul(1024)),
        nanos: matches!(a.precision, PrecisionArg::Nano),
        filter: filter.clone(),
    };
    let mut caps: Vec<LiveCapture> = Vec::new();
    for n in &names {
        match LiveCapture::open(n, &cfg) {
            Ok(c) => caps.push(c),
            Err(e) => {
                report_open_error(&e);
                return Ok(Outcome::Failed);
            }
        }
    }
    if !pcapng {
        let first = caps[0].link();
        if let Some(c) = caps.iter().find(|c| c.link() != first) {
            bail!(
                "classic pcap holds one link type, but {} is {} and {} is {}: write pcapng instead (drop --pcap or use a .pcapng name)",
                caps[0].name(),
                first,
                c.name(),
                c.link()
            );
        }
    }
    // As tcpdump -Z: the handles are open, everything after (files included) runs as USER.
    if let Some(user) = &a.user {
        wiresift_capture::drop_privileges(user)?;
    }
    let descriptions: Vec<(String, Option<String>)> = wiresift_capture::list_interfaces(false)
        .map(|v| v.into_iter().map(|i| (i.name, i.description)).collect())
        .unwrap_or_default();
    let os = os_description();
    let ifaces: Vec<Interface> = caps
        .iter()
        .map(|c| {
            let mut i = Interface::new(c.link(), c.snaplen());
            i.name = Some(c.name().to_string());
            i.description = descriptions
                .iter()
                .find(|(n, _)| n == c.name())
                .and_then(|(_, d)| d.clone());
            i.filter = c.filter().map(str::to_string);
            i.os = Some(os.clone());
            i.tsresol = if c.nanos() { 9 } else { 6 };
            i
        })
        .collect();
    let mut output = match &a.write {
        None => None,
        Some(p) => Some(Output {
            target: if to_stdout {
                Target::Stdout
            } else if !a.ring.is_empty() {
                Target::Ring {
                    base: p.clone(),
                    n: 0,
                    keep: ring_keep,
                    files: VecDeque::new(),
                }
            } else {
                Target::File(p.clone())
            },
            pcapng,
            ifaces: ifaces.clone(),
            sink: None,
            opened: Instant::now(),
            file_packets: 0,
            switch,
            written: Vec::new(),
        }),
    };
    if let Some(o) = output.as_mut() {
        o.open_next()?;
    }
    wiresift_capture::install_stop_signals().context("installing signal handlers")?;
    if !a.quiet {
        for c in &caps {
            let (name, desc) = c.link_names();
            eprintln!(
                "wiresift: listening on {}, link-type {name} ({desc}), snapshot length {} bytes",
                c.name(),
                c.snaplen()
            );
        }
    }
    let print = a.write.is_none() || a.print;
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        packets: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        ifaces: caps.iter().map(|_| SharedStats::default()).collect(),
        pool: Mutex::new(Vec::new()),
    });
    let links: Vec<LinkType> = caps.iter().map(LiveCapture::link).collect();
    let digits: Vec<u8> = caps.iter().map(|c| if c.nanos() { 9 } else { 6 }).collect();
    // The writer is made inside its thread: standard output's lock cannot move between threads.
    let wshared = Arc::clone(&shared);
    let make_writer = move || Writer::new(output, print, links, digits, stop_at, wshared);
    let mut threads: Vec<(String, JoinHandle<Result<(), LiveError>>)> = Vec::new();
    let writer: JoinHandle<Result<WriterReport>> = if caps.len() == 1 {
        let Some(cap) = caps.pop() else {
            bail!("no interface opened");
        };
        let name = cap.name().to_string();
        let (rtx, rrx) = sync_channel(1);
        let h = std::thread::Builder::new()
            .name(format!("capture {name}"))
            .spawn(move || {
                let (r, report) = single_thread(cap, make_writer());
                let _ = rtx.send(report);
                r
            })
            .context("starting the capture thread")?;
        threads.push((name, h));
        std::thread::Builder::new()
            .name("report".into())
            .spawn(move || {
                rrx.recv()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the capture thread panicked")))
            })
            .context("starting a thread")?
    } else {
        let (tx, rx) = sync_channel::<Batch>(64);
        let h = std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || writer_thread(rx, make_writer()))
            .context("starting the writer thread")?;
        for (i, cap) in caps.into_iter().enumerate() {
            let name = cap.name().to_string();
            let tx = tx.clone();
            let shared = Arc::clone(&shared);
            let h = std::thread::Builder::new()
                .name(format!("capture {name}"))
                .spawn(move || capture_thread(cap, i as u32, tx, shared))
                .context("starting a capture thread")?;
            threads.push((name, h));
        }
        h
    };

    let status = !a.quiet && io::stderr().is_terminal() && !(print && io::stdout().is_terminal());
    let started = Instant::now();
    let mut last_status = Instant::now();
    let mut status_shown = false;
    loop {
        if wiresift_capture::stop_signal().is_some()
            || stop_at.duration.is_some_and(|d| started.elapsed() >= d)
            || shared.stop.load(Ordering::Relaxed)
            || threads.iter().all(|(_, h)| h.is_finished())
            || writer.is_finished()
        {
            shared.stop.store(true, Ordering::Relaxed);
            break;
        }
        if status && last_status.elapsed() >= Duration::from_secs(1) {
            let drops: u64 = shared.ifaces.iter().map(|s| s.get().dropped).sum();
            eprint!(
                "\rPackets: {}  Bytes: {}  Dropped: {}  ",
                shared.packets.load(Ordering::Relaxed),
                shared.bytes.load(Ordering::Relaxed),
                drops
            );
            status_shown = true;
            last_status = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut failed = false;
    for (name, h) in threads {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("wiresift: {e}");
                failed = true;
            }
            Err(_) => {
                eprintln!("wiresift: the capture thread for {name} panicked");
                failed = true;
            }
        }
    }
    let report = match writer.join() {
        Ok(r) => r,
        Err(_) => bail!("the writer thread panicked"),
    };
    if status_shown {
        eprint!("\r{:60}\r", "");
    }
    let report = match report {
        Ok(r) => r,
        Err(e) if crate::output::is_broken_pipe(&e) => WriterReport {
            captured: shared.packets.load(Ordering::Relaxed),
            files: Vec::new(),
        },
        Err(e) => return Err(e),
    };
    let stats = current_stats(&shared);
    let total = stats.iter().fold(LiveStats::default(), |t, s| LiveStats {
        received: t.received + s.received,
        dropped: t.dropped + s.dropped,
        if_dropped: t.if_dropped + s.if_dropped,
    });
    let c = report.captured;
    eprintln!("{c} packet{} captured", plural(c));
    eprintln!(
        "{} packet{} received by filter",
        total.received,
        plural(total.received)
    );
    eprintln!(
        "{} packet{} dropped by kernel",
        total.dropped,
        plural(total.dropped)
    );
    eprintln!(
        "{} packet{} dropped by interface",
        total.if_dropped,
        plural(total.if_dropped)
    );
    if names.len() > 1 {
        for (n, s) in names.iter().zip(&stats) {
            eprintln!(
                "  {n}: {} received by filter, {} dropped by kernel, {} dropped by interface",
                s.received, s.dropped, s.if_dropped
            );
        }
    }
    if report.files.len() > 1 && !a.quiet {
        eprintln!(
            "{} files written, the newest {}",
            report.files.len(),
            report
                .files
                .last()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    Ok(if failed {
        Outcome::Partial
    } else {
        Outcome::Ok
    })
}
