//! `wiresift replay`: the frames of a capture put onto an interface, as tcpreplay does.
//!
//! Pacing: the capture's own timing scaled by `speed`, a fixed packet rate, a bit rate, or as
//! fast as the socket takes them. Waiting sleeps until about [`SPIN`] before each deadline and
//! spins the rest (a margin that grows when the machine is busy, see [`Pacer`]), so gaps are kept to a few microseconds without burning a core between
//! widely spaced frames. Deadlines are absolute (from the start of each loop), so sleep error
//! does not add up over a long replay.
//!
//! Frames are read one at a time from the streaming reader (memory does not grow with the
//! file); each loop of `--loop N` reads the file again. Frames of Ethernet captures are sent as
//! they are; raw IP, Linux cooked (SLL/SLL2) and BSD NULL/LOOP frames get an Ethernet header
//! (source: `--src-mac` or the interface's address; destination: `--dst-mac` or broadcast).

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use wiresift_capfile::{CaptureReader, Frame, LinkType};
use wiresift_capture::CaptureFilter;
use wiresift_capture::inject::{InjectError, Injector, open_injector};

use crate::rewrite::Rewrite;

/// Sleep until this long before a deadline, then spin.
pub const SPIN: Duration = Duration::from_micros(200);
/// How often a frame the kernel had no buffer for is tried again before it counts as failed.
const RETRIES: u32 = 1000;

/// How fast.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// Recorded timing divided by `speed` (2.0 = twice as fast).
    Original {
        speed: f64,
    },
    Pps(f64),
    Mbps(f64),
    Topspeed,
}

#[derive(Clone, Debug)]
pub struct PacketReplayOptions {
    pub iface: String,
    pub rate: Rate,
    /// Times to play the file (at least 1).
    pub loops: u64,
    /// pcap-filter expression choosing frames (compiled for the file's link type).
    pub capture_filter: Option<String>,
    pub rewrite: Rewrite,
    /// Stop after this many frames sent (counting all loops).
    pub limit: Option<u64>,
    /// For paced rates, ask for real-time scheduling (best effort, see
    /// [`wiresift_capture::inject::realtime_thread`]).
    pub realtime: bool,
}

/// Final statistics (printed as tcpreplay prints them).
#[derive(Clone, Debug, Default)]
pub struct PacketStats {
    pub frames: u64,
    pub bytes: u64,
    pub failed: u64,
    /// Frames cut by the snap length (sent as captured).
    pub truncated: u64,
    /// Frames not chosen by the filters.
    pub skipped: u64,
    /// Frames of a link type that cannot be put on an Ethernet interface.
    pub unsupported: u64,
    pub retried_enobufs: u64,
    pub retried_eagain: u64,
    pub rewritten: u64,
    pub elapsed: Duration,
    /// The first send error, for the report.
    pub first_error: Option<String>,
}

impl PacketStats {
    pub fn pps(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.frames as f64 / s } else { 0.0 }
    }
    pub fn bytes_per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.bytes as f64 / s } else { 0.0 }
    }

    /// tcpreplay's closing report (the benchmark scripts parse it).
    pub fn report(&self, iface: &str) -> String {
        let bps = self.bytes_per_sec();
        format!(
            "Actual: {} packets ({} bytes) sent in {:.6} seconds\n\
             Rated: {:.1} Bps, {:.2} Mbps, {:.2} pps\n\
             Statistics for network device: {iface}\n\
             \tSuccessful packets:        {}\n\
             \tFailed packets:            {}\n\
             \tTruncated packets:         {}\n\
             \tRetried packets (ENOBUFS): {}\n\
             \tRetried packets (EAGAIN):  {}\n\
             \tSkipped (filters):         {}\n\
             \tUnsupported link type:     {}\n\
             \tRewritten:                 {}",
            self.frames,
            self.bytes,
            self.elapsed.as_secs_f64(),
            bps,
            bps * 8.0 / 1e6,
            self.pps(),
            self.frames,
            self.failed,
            self.truncated,
            self.retried_enobufs,
            self.retried_eagain,
            self.skipped,
            self.unsupported,
            self.rewritten,
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PacketReplayError {
    #[error("{}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: wiresift_capfile::ReadError,
    },
    #[error(transparent)]
    Inject(#[from] InjectError),
    #[error("capture filter: {0}")]
    Filter(String),
    #[error("{0}")]
    Usage(String),
}

/// Waits for deadlines: sleeps until a margin before each, then spins. The margin starts at
/// [`SPIN`] and grows (up to [`MAX_SPIN`]) when the scheduler wakes us later than planned, as it
/// does on a busy machine, so one late wake-up does not make a gap late.
#[derive(Debug)]
pub struct Pacer {
    margin: Duration,
}

/// Largest margin [`Pacer`] spins for.
pub const MAX_SPIN: Duration = Duration::from_millis(2);

impl Default for Pacer {
    fn default() -> Self {
        Pacer { margin: SPIN }
    }
}

impl Pacer {
    pub fn wait_until(&mut self, deadline: Instant) {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            let left = deadline - now;
            if left > self.margin {
                let planned = deadline - self.margin;
                std::thread::sleep(left - self.margin);
                let woke = Instant::now();
                if woke > planned {
                    let over = woke - planned;
                    if over * 2 > self.margin {
                        self.margin = (over * 2).min(MAX_SPIN);
                    }
                }
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// Waits until `deadline` with a fresh [`Pacer`].
pub fn wait_until(deadline: Instant) {
    Pacer::default().wait_until(deadline);
}

/// Puts a link-layer header the interface understands in front of the network layer, or
/// returns `None` when the frame can go as it is (`Some(Err)` when it cannot go at all).
fn to_ethernet(
    link: LinkType,
    data: &[u8],
    src: [u8; 6],
    dst: [u8; 6],
    out: &mut Vec<u8>,
) -> Option<Result<(), ()>> {
    let (etype, payload): (u16, &[u8]) = match link {
        LinkType::ETHERNET => return None,
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => match data.first().map(|b| b >> 4) {
            Some(4) => (0x0800, data),
            Some(6) => (0x86dd, data),
            _ => return Some(Err(())),
        },
        LinkType::NULL | LinkType::LOOP => {
            let Some(h) = data.get(..4) else {
                return Some(Err(()));
            };
            let fam_le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let fam_be = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
            let fam = if fam_le < 256 { fam_le } else { fam_be };
            match fam {
                2 => (0x0800, &data[4..]),
                10 | 24 | 28 | 30 => (0x86dd, &data[4..]),
                _ => return Some(Err(())),
            }
        }
        LinkType::LINUX_SLL => match (data.get(14..16), data.get(16..)) {
            (Some(p), Some(rest)) => (u16::from_be_bytes([p[0], p[1]]), rest),
            _ => return Some(Err(())),
        },
        LinkType::LINUX_SLL2 => match (data.get(0..2), data.get(20..)) {
            (Some(p), Some(rest)) => (u16::from_be_bytes([p[0], p[1]]), rest),
            _ => return Some(Err(())),
        },
        _ => return Some(Err(())),
    };
    out.clear();
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    out.extend_from_slice(&etype.to_be_bytes());
    out.extend_from_slice(payload);
    Some(Ok(()))
}

/// Frames per `sendmmsg` at top speed, and the most bytes gathered for one.
const BATCH: usize = 64;
const BATCH_BYTES: usize = 1 << 20;

/// Frames gathered for one `sendmmsg` (top speed only: paced frames go one by one).
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    fn push(&mut self, frame: &[u8]) {
        self.data.extend_from_slice(frame);
        self.ends.push(self.data.len());
    }
    fn full(&self) -> bool {
        self.ends.len() >= BATCH || self.data.len() >= BATCH_BYTES
    }
    fn flush(&mut self, inj: &Injector, st: &mut PacketStats) {
        let mut frames: Vec<&[u8]> = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for &e in &self.ends {
            frames.push(&self.data[start..e]);
            start = e;
        }
        let mut rest = &frames[..];
        while !rest.is_empty() {
            let (n, err) = inj.send_batch(rest);
            for f in &rest[..n] {
                st.frames += 1;
                st.bytes += f.len() as u64;
            }
            rest = &rest[n..];
            if err.is_some() {
                // The first frame not sent: retried (or counted as failed) one by one.
                send_one(inj, rest[0], st);
                rest = &rest[1..];
            }
        }
        self.data.clear();
        self.ends.clear();
    }
}

fn send_one(inj: &Injector, frame: &[u8], st: &mut PacketStats) {
    let mut tries = 0;
    loop {
        match inj.send(frame) {
            Ok(()) => {
                st.frames += 1;
                st.bytes += frame.len() as u64;
                return;
            }
            Err(e) => {
                let errno = e.raw_os_error();
                let retry = match errno {
                    Some(ENOBUFS) => {
                        st.retried_enobufs += 1;
                        true
                    }
                    Some(EAGAIN) => {
                        st.retried_eagain += 1;
                        true
                    }
                    _ => e.kind() == io::ErrorKind::Interrupted,
                };
                tries += 1;
                if retry && tries < RETRIES {
                    if tries > 10 {
                        std::thread::sleep(Duration::from_micros(50));
                    } else {
                        std::thread::yield_now();
                    }
                    continue;
                }
                st.failed += 1;
                if st.first_error.is_none() {
                    let hint = if errno == Some(EMSGSIZE) {
                        format!(
                            " ({} bytes is more than the interface's MTU allows)",
                            frame.len()
                        )
                    } else {
                        String::new()
                    };
                    st.first_error = Some(format!("{}: {e}{hint}", inj.name()));
                }
                return;
            }
        }
    }
}

// errno values (Linux), so this crate needs no libc of its own.
const EAGAIN: i32 = 11;
const ENOBUFS: i32 = 105;
const EMSGSIZE: i32 = 90;

/// Replays `path` onto the interface. `select` (the display filter, if any) is asked about
/// every frame the capture filter let through; `stop` is polled between frames.
pub fn run(
    path: &Path,
    o: &PacketReplayOptions,
    mut select: Option<&mut dyn FnMut(&Frame<'_>) -> bool>,
    stop: &dyn Fn() -> bool,
) -> Result<PacketStats, PacketReplayError> {
    if o.loops == 0 {
        return Err(PacketReplayError::Usage("--loop must be at least 1".into()));
    }
    if o.loops > 1 && path.as_os_str() == "-" {
        return Err(PacketReplayError::Usage(
            "--loop needs a file: standard input cannot be read twice".into(),
        ));
    }
    match o.rate {
        Rate::Original { speed } if !(speed > 0.0 && speed.is_finite()) => {
            return Err(PacketReplayError::Usage(
                "--speed must be a positive number".into(),
            ));
        }
        Rate::Pps(r) | Rate::Mbps(r) if !(r > 0.0 && r.is_finite()) => {
            return Err(PacketReplayError::Usage(
                "the rate must be a positive number".into(),
            ));
        }
        _ => {}
    }
    let inj = open_injector(&o.iface)?;
    let src_mac = o.rewrite.src_mac.or_else(|| inj.mac()).unwrap_or([0; 6]);
    let dst_mac = o.rewrite.dst_mac.unwrap_or([0xff; 6]);
    let mut st = PacketStats::default();
    let mut scratch: Vec<u8> = Vec::with_capacity(65_536 + 64);
    let limit = o.limit.unwrap_or(u64::MAX);
    if o.realtime && o.rate != Rate::Topspeed {
        // Without the privilege the replay still runs, only less exactly on a busy machine.
        let _ = wiresift_capture::inject::realtime_thread();
    }
    let mut pacer = Pacer::default();
    let mut batch = Batch::default();
    let start = Instant::now();
    'loops: for _ in 0..o.loops {
        let mut reader = open(path)?;
        let link0 = reader
            .interfaces()
            .first()
            .map(|i| i.link)
            .unwrap_or(LinkType::ETHERNET);
        let mut filter = match &o.capture_filter {
            Some(expr) => Some(
                CaptureFilter::new(expr, link0, reader.big_endian())
                    .map_err(|e| PacketReplayError::Filter(format!("{}: {}", e.expr, e.message)))?,
            ),
            None => None,
        };
        let loop_start = Instant::now();
        let mut first_ts: Option<i64> = None;
        let mut n_in_loop: u64 = 0;
        let mut bits_in_loop: f64 = 0.0;
        loop {
            if st.frames + st.failed + batch.ends.len() as u64 >= limit || stop() {
                break 'loops;
            }
            match reader.advance() {
                Ok(true) => {}
                Ok(false) => break,
                Err(source) => {
                    batch.flush(&inj, &mut st);
                    return Err(PacketReplayError::Read {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
            let Some(frame) = reader.current() else { break };
            if let Some(f) = filter.as_mut()
                && !f.matches(frame.link, frame.data, frame.orig_len)
            {
                st.skipped += 1;
                continue;
            }
            if let Some(sel) = select.as_mut()
                && !sel(&frame)
            {
                st.skipped += 1;
                continue;
            }
            // The wire bytes: as captured, or in a new Ethernet header, then rewritten.
            let mut link = frame.link;
            let mut owned = false;
            match to_ethernet(frame.link, frame.data, src_mac, dst_mac, &mut scratch) {
                None => {}
                Some(Ok(())) => {
                    owned = true;
                    link = LinkType::ETHERNET;
                }
                Some(Err(())) => {
                    st.unsupported += 1;
                    continue;
                }
            }
            if !o.rewrite.is_empty() {
                if !owned {
                    scratch.clear();
                    scratch.extend_from_slice(frame.data);
                    owned = true;
                }
                if o.rewrite.apply(link, &mut scratch).changed {
                    st.rewritten += 1;
                }
            }
            let wire: &[u8] = if owned { &scratch } else { frame.data };
            if frame.data.len() < frame.orig_len as usize {
                st.truncated += 1;
            }
            // Pacing: an absolute deadline from this loop's start.
            let deadline = match o.rate {
                Rate::Topspeed => None,
                Rate::Original { speed } => {
                    let t0 = *first_ts.get_or_insert(frame.ts);
                    let dt = frame.ts.saturating_sub(t0).max(0) as f64 / speed;
                    Some(loop_start + Duration::from_nanos(dt as u64))
                }
                Rate::Pps(pps) => {
                    Some(loop_start + Duration::from_secs_f64(n_in_loop as f64 / pps))
                }
                Rate::Mbps(mbps) => {
                    Some(loop_start + Duration::from_secs_f64(bits_in_loop / (mbps * 1e6)))
                }
            };
            match deadline {
                Some(d) => {
                    pacer.wait_until(d);
                    send_one(&inj, wire, &mut st);
                }
                None => {
                    batch.push(wire);
                    if batch.full() {
                        batch.flush(&inj, &mut st);
                    }
                }
            }
            n_in_loop += 1;
            bits_in_loop += (wire.len() * 8) as f64;
        }
    }
    batch.flush(&inj, &mut st);
    st.elapsed = start.elapsed();
    Ok(st)
}

fn open(path: &Path) -> Result<CaptureReader, PacketReplayError> {
    let r = if path.as_os_str() == "-" {
        CaptureReader::new(Box::new(io::stdin()))
    } else {
        CaptureReader::open(path)
    };
    r.map_err(|source| PacketReplayError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ip_gets_an_ethernet_header() {
        let ip = [
            0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        let mut out = Vec::new();
        assert_eq!(
            to_ethernet(LinkType::RAW, &ip, [1; 6], [2; 6], &mut out),
            Some(Ok(()))
        );
        assert_eq!(&out[..6], &[2; 6]);
        assert_eq!(&out[12..14], &[0x08, 0x00]);
        assert_eq!(&out[14..], &ip);
        assert_eq!(
            to_ethernet(LinkType::ETHERNET, &ip, [1; 6], [2; 6], &mut out),
            None
        );
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        assert_eq!(
            to_ethernet(LinkType::NULL, &null, [1; 6], [2; 6], &mut out),
            Some(Ok(()))
        );
        assert_eq!(&out[14..], &ip);
    }

    #[test]
    fn wait_until_is_close() {
        let t = Instant::now() + Duration::from_millis(3);
        wait_until(t);
        let late = Instant::now() - t;
        assert!(late < Duration::from_millis(2), "{late:?}");
    }
}
