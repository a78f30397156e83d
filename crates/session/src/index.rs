//! The frame index: 32 bytes per frame, built by one pass on a thread of its own while the
//! browser already pages through the frames indexed so far.
//!
//! What a page of rows needs and cannot get from the frame's own bytes is kept here: where the
//! frame is in the file, its time and lengths, its stream, its protocol and colour (which need
//! flow state: `tcp.analysis.*`), and the base tcpdump's relative sequence numbers used for it.
//! Everything else (addresses, flags, the Info text) is made again from the bytes when a page
//! is asked for — Wireshark's model, without its per-frame dissection cost at open.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use wiresift_capfile::Interface;
use wiresift_dissect::{SeqBase, Summarizer};
use wiresift_flow::PacketFlow;

use crate::classify::classify;
use crate::colors::Colorizer;
use crate::pipeline::{Needs, Pipeline, Times};
use crate::stats::Collector;

/// Entries per chunk: chunks never move once allocated, so the index grows without copying.
pub const CHUNK: usize = 1 << 16;

const OFF_BITS: u32 = 48;
const OFF_MASK: u64 = (1 << OFF_BITS) - 1;
/// No stream (not TCP/UDP).
pub const NO_STREAM: u32 = u32::MAX;
/// The top bit of `stream` marks a UDP stream.
pub const UDP_BIT: u32 = 1 << 31;
const BASE_NONE: u32 = (1 << 24) - 1;
/// Flag bits: an IP fragment, the first TCP packet of a connection (absolute numbers, sets
/// the base), extra Info text stored aside, the Bad TCP colouring rule matched.
pub const F_FRAGMENT: u8 = 1;
pub const F_FIRST: u8 = 2;
pub const F_EXTRA: u8 = 4;
pub const F_BAD_TCP: u8 = 8;

/// One frame: 32 bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Entry {
    /// Data offset in the file (48 bits) and interface (16 bits).
    off: u64,
    pub ts: i64,
    /// Captured length (24 bits; the reader caps records at 16 MiB) and protocol code (8).
    len: u32,
    pub orig_len: u32,
    /// `tcp.stream` or `udp.stream` (with [`UDP_BIT`]), or [`NO_STREAM`].
    pub stream: u32,
    /// Sequence base index (24 bits), flags (8).
    aux: u32,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 32);

impl Entry {
    pub fn offset(&self) -> u64 {
        self.off & OFF_MASK
    }
    pub fn iface(&self) -> u32 {
        (self.off >> OFF_BITS) as u32
    }
    pub fn cap_len(&self) -> u32 {
        self.len & 0x00ff_ffff
    }
    pub fn proto(&self) -> u8 {
        (self.len >> 24) as u8
    }
    pub fn flags(&self) -> u8 {
        (self.aux & 0xff) as u8
    }
    fn base_index(&self) -> Option<usize> {
        let b = self.aux >> 8;
        (b != BASE_NONE).then_some(b as usize)
    }
    /// The stream and whether it is UDP.
    pub fn stream_of(&self) -> Option<(bool, u64)> {
        (self.stream != NO_STREAM).then(|| {
            (
                self.stream & UDP_BIT != 0,
                u64::from(self.stream & !UDP_BIT),
            )
        })
    }
}

/// The growing index, shared between the indexing thread and the readers.
#[derive(Default)]
pub struct IndexData {
    chunks: Vec<Vec<Entry>>,
    len: usize,
    /// Relative-sequence bases, referenced by entries.
    bases: Vec<(u32, u32)>,
    /// Extra Info text (`TLS: ...`) by frame number, in frame order.
    extra: Vec<(u64, Box<str>)>,
    pub interfaces: Vec<Interface>,
    /// TLS key log text from the capture's Decryption Secrets Blocks (pcapng), for the passes
    /// that read frames by offset and so never see those blocks (detail, follow).
    pub dsb_keylog: Vec<Vec<u8>>,
}

impl IndexData {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The entry of frame `n` (1-based).
    pub fn get(&self, n: u64) -> Option<&Entry> {
        let i = usize::try_from(n.checked_sub(1)?).ok()?;
        if i >= self.len {
            return None;
        }
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Entry)> {
        self.chunks
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, e)| (i as u64 + 1, e))
    }
    fn push(&mut self, e: Entry) {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push(e);
            self.len += 1;
        }
    }
    /// The sequence base to replay for frame `n`'s summary line.
    pub fn seq_base(&self, e: &Entry) -> SeqBase {
        match e.base_index().and_then(|i| self.bases.get(i)) {
            Some(&(s, a)) if e.flags() & F_FIRST != 0 => SeqBase::First(s, a),
            Some(&(s, a)) => SeqBase::Relative(s, a),
            None => SeqBase::Absolute,
        }
    }
    /// The extra Info text of frame `n`.
    pub fn extra(&self, n: u64) -> Option<&str> {
        let i = self.extra.binary_search_by_key(&n, |(f, _)| *f).ok()?;
        Some(&self.extra[i].1)
    }
    /// Heap bytes held (for the memory figures).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.len() * CHUNK * std::mem::size_of::<Entry>()
            + self.bases.capacity() * 8
            + self.extra.iter().map(|(_, s)| s.len() + 24).sum::<usize>()
    }
}

/// Progress of the indexing pass.
#[derive(Default)]
pub struct Progress {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub done: AtomicBool,
    pub cancel: AtomicBool,
    pub elapsed_ms: AtomicU64,
    pub error: Mutex<Option<String>>,
}

/// Everything the pass produces.
pub struct Indexed {
    pub data: RwLock<IndexData>,
    pub progress: Progress,
    pub stats: Mutex<Collector>,
    pub total_bytes: u64,
}

/// Frames handed to the shared index at a time (one write lock per batch).
const BATCH: usize = 2048;

/// Starts indexing `path` (a plain, seekable capture file) on a new thread.
pub fn spawn(
    path: PathBuf,
    keys: Option<wiresift_tls::KeyStore>,
    total_bytes: u64,
) -> Arc<Indexed> {
    let ix = Arc::new(Indexed {
        data: RwLock::new(IndexData::default()),
        progress: Progress::default(),
        stats: Mutex::new(Collector::default()),
        total_bytes,
    });
    let job = Arc::clone(&ix);
    let spawned = std::thread::Builder::new()
        .name("wiresift-index".into())
        .spawn(move || {
            let started = Instant::now();
            let r = run(&path, keys, &job);
            job.progress
                .elapsed_ms
                .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            if let Err(e) = r
                && let Ok(mut slot) = job.progress.error.lock()
            {
                *slot = Some(e);
            }
            job.progress.done.store(true, Ordering::Release);
        });
    if let Err(e) = spawned {
        if let Ok(mut slot) = ix.progress.error.lock() {
            *slot = Some(format!("cannot start the indexing thread: {e}"));
        }
        ix.progress.done.store(true, Ordering::Release);
    }
    ix
}

fn run(
    path: &std::path::Path,
    keys: Option<wiresift_tls::KeyStore>,
    ix: &Indexed,
) -> Result<(), String> {
    let mut reader = crate::open_reader(path).map_err(|e| e.to_string())?;
    let reg = crate::registry();
    let colorizer = Colorizer::new(reg);
    // With keys, the HTTP parser runs too, so that decrypted HTTP shows as HTTP in the
    // Protocol column, as Wireshark shows it.
    let decrypting = keys.as_ref().is_some_and(|k| !k.is_empty());
    let needs = Needs {
        flows: true,
        http: decrypting,
        ..Needs::default()
    };
    let http_ids = ["http", "http2"].map(|n| reg.lookup(n));
    let mut pipe = Pipeline::new(needs, keys).map_err(|e| e.to_string())?;
    // tcpdump's relative-sequence bases come from a summarizer that sees every frame in
    // order; it runs on a thread of its own over its own reading of the file (a sixth of the
    // pass), handing the bases over in batches.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<SeqBase>>(16);
    let seq_path = path.to_path_buf();
    let seq_thread = std::thread::Builder::new()
        .name("wiresift-seq".into())
        .spawn(move || seq_bases(&seq_path, tx))
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let mut bases_in = Vec::new().into_iter();
    let mut times = Times::default();
    let mut batch: Vec<Entry> = Vec::with_capacity(BATCH);
    let mut new_bases: Vec<(u32, u32)> = Vec::new();
    let mut new_extra: Vec<(u64, Box<str>)> = Vec::new();
    let mut bases_len = 0usize;
    let mut base_ids: foldhash::HashMap<(u32, u32), u32> = foldhash::HashMap::default();
    let mut stats = Collector::default();
    let mut ifaces_seen = 0usize;
    let flush = |batch: &mut Vec<Entry>,
                 bases: &mut Vec<(u32, u32)>,
                 extra: &mut Vec<(u64, Box<str>)>,
                 ifaces: Option<&[Interface]>,
                 frames: u64,
                 bytes: u64| {
        if let Ok(mut d) = ix.data.write() {
            for e in batch.drain(..) {
                d.push(e);
            }
            d.bases.append(bases);
            d.extra.append(extra);
            if let Some(i) = ifaces {
                d.interfaces = i.to_vec();
            }
        }
        ix.progress.frames.store(frames, Ordering::Release);
        ix.progress.bytes.store(bytes, Ordering::Relaxed);
    };
    let mut damage = None;
    loop {
        if ix.progress.cancel.load(Ordering::Relaxed) {
            return Err("indexing cancelled".into());
        }
        match reader.advance() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                damage = Some(format!("damaged after frame {}: {e}", reader.frames_read()));
                break;
            }
        }
        pipe.sync_secrets(reader.secrets());
        let data_off = reader.current_data_offset();
        let Some(frame) = reader.current() else { break };
        let ifaces = reader.interfaces();
        let last_base = match bases_in.next() {
            Some(b) => b,
            None => {
                bases_in = rx.recv().unwrap_or_default().into_iter();
                bases_in.next().unwrap_or_default()
            }
        };
        let (proto, bad, stream, fragment) =
            pipe.process(&frame, ifaces, &mut times, None, |src, p, _| {
                let upper = p.upper.as_ref().map(|u| (u, p.upper_data));
                let mut proto = classify(&p.layers, frame.data, upper, p.hide_transport);
                if decrypting && crate::classify::name(proto).starts_with("TLS") {
                    for (id, name) in http_ids.iter().zip(["HTTP", "HTTP2"]) {
                        let mut present = false;
                        if let Some(id) = id {
                            wiresift_field::FieldSource::visit(src, *id, &mut |_| {
                                present = true;
                                std::ops::ControlFlow::Break(())
                            });
                        }
                        if present {
                            proto = crate::classify::code(name);
                            break;
                        }
                    }
                }
                let bad = matches!(p.flow, Some(PacketFlow::Tcp(t)) if !t.analysis.is_empty())
                    && colorizer.bad_tcp(src);
                let stream = match p.flow {
                    Some(PacketFlow::Tcp(t)) => (t.stream as u32) & !UDP_BIT,
                    Some(PacketFlow::Udp { stream, .. }) => (stream as u32 & !UDP_BIT) | UDP_BIT,
                    None => NO_STREAM,
                };
                stats.add(&frame, src, p, proto);
                let fragment = p.hide_transport || !p.fragments.is_empty();
                (proto, bad, stream, fragment)
            });
        times.prev_displayed = Some(frame.ts);
        let (base, first) = match last_base {
            SeqBase::Absolute => (BASE_NONE, false),
            SeqBase::First(s, a) | SeqBase::Relative(s, a) => {
                let id = *base_ids.entry((s, a)).or_insert_with(|| {
                    new_bases.push((s, a));
                    bases_len += 1;
                    (bases_len - 1) as u32
                });
                (id, matches!(last_base, SeqBase::First(..)))
            }
        };
        let base = if base as usize >= BASE_NONE as usize {
            BASE_NONE
        } else {
            base
        };
        let mut flags = 0u8;
        if fragment {
            flags |= F_FRAGMENT;
        }
        if first {
            flags |= F_FIRST;
        }
        if bad {
            flags |= F_BAD_TCP;
        }
        if let Some(info) = pipe.tls_summary(frame.number) {
            flags |= F_EXTRA;
            new_extra.push((frame.number, info.into_boxed_str()));
        }
        let iface = frame.iface.min(0xffff);
        batch.push(Entry {
            off: (data_off & OFF_MASK) | (u64::from(iface) << OFF_BITS),
            ts: frame.ts,
            len: frame.data.len().min(0x00ff_ffff) as u32 | (u32::from(proto) << 24),
            orig_len: frame.orig_len,
            stream,
            aux: (base << 8) | u32::from(flags),
        });
        if batch.len() == BATCH {
            let ifs = (ifaces.len() != ifaces_seen).then_some(ifaces);
            ifaces_seen = ifaces.len();
            flush(
                &mut batch,
                &mut new_bases,
                &mut new_extra,
                ifs,
                reader.frames_read(),
                reader.offset(),
            );
        }
    }
    pipe.finish();
    drop(rx);
    let _ = seq_thread.join();
    let dsb: Vec<Vec<u8>> = reader
        .secrets()
        .iter()
        .filter(|d| d.secrets_type == wiresift_tls::SECRETS_TYPE_TLS)
        .map(|d| d.data.clone())
        .collect();
    if let Ok(mut d) = ix.data.write() {
        d.dsb_keylog = dsb;
    }
    let ifs = reader.interfaces();
    flush(
        &mut batch,
        &mut new_bases,
        &mut new_extra,
        Some(ifs),
        reader.frames_read(),
        reader.offset(),
    );
    stats.finish(pipe.tls(), &reader, damage.as_deref());
    if let Ok(mut s) = ix.stats.lock() {
        *s = stats;
    }
    match damage {
        Some(d) => Err(d),
        None => Ok(()),
    }
}

/// The summarizer's relative-sequence base of every frame, in batches of [`BATCH`]. It makes
/// each summary line only for the base (the text is made again for each page) and stops when
/// the receiver goes away or the file ends (at damage too: the indexing pass stops there).
fn seq_bases(path: &std::path::Path, tx: std::sync::mpsc::SyncSender<Vec<SeqBase>>) {
    let Ok(mut reader) = crate::open_reader(path) else {
        return;
    };
    let mut summ = Summarizer::new();
    let mut scratch = Vec::with_capacity(512);
    let mut batch = Vec::with_capacity(BATCH);
    while let Ok(true) = reader.advance() {
        let Some(frame) = reader.current() else { break };
        let layers = wiresift_dissect::decode(frame.link, frame.data);
        scratch.clear();
        summ.write(&mut scratch, frame.data, &layers, frame.orig_len);
        batch.push(summ.last_seq_base());
        if batch.len() == BATCH
            && tx
                .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                .is_err()
        {
            return;
        }
    }
    let _ = tx.send(batch);
}
