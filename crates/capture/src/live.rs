//! Live capture from network interfaces through libpcap.
//!
//! One [`LiveCapture`] per interface. The handle is nonblocking and we wait with `poll(2)` on
//! its descriptor ourselves: with TPACKET_V3 (libpcap's default when immediate mode is off)
//! libpcap would otherwise block in `poll` forever on a quiet interface, and the caller could
//! never notice a stop request. Packets are copied into a [`Batch`] (one `pcap_dispatch` drains
//! every ring block that is ready), so a caller can hand whole batches to a writer thread.
//!
//! Stopping is exact: [`LiveCapture::begin_stop`] puts a reject-everything filter on the socket
//! (so no packet arrives after the stop, and the kernel stops counting), then
//! [`LiveCapture::drain_step`] empties the ring, including the block the kernel only hands out
//! when its retire timer fires. After that, "received by filter" equals the packets delivered
//! plus those the kernel dropped, as the file must show.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use wiresift_capfile::{LinkType, Nanos};

/// libpcap read timeout, and the ring-block retire timeout with TPACKET_V3: packets reach us at
/// most this late, and a stop request is noticed within it.
pub const READ_TIMEOUT_MS: i32 = 100;

/// How a live handle is opened (tcpdump's options of the same names).
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Bytes kept of each packet; 0 means libpcap's default (262144).
    pub snaplen: u32,
    pub promisc: bool,
    /// Deliver each packet as soon as it arrives (TPACKET_V2) instead of by ring block.
    pub immediate: bool,
    /// Kernel ring size in bytes; `None` keeps libpcap's default (2 MiB).
    pub buffer_bytes: Option<u32>,
    /// Ask for nanosecond timestamps.
    pub nanos: bool,
    /// Capture filter, compiled by libpcap for this handle and attached in the kernel.
    pub filter: Option<String>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            snaplen: 262_144,
            promisc: true,
            immediate: false,
            buffer_bytes: None,
            nanos: false,
            filter: None,
        }
    }
}

/// Why a live capture could not start or went on failing; each variant is something the user
/// can act on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no interface named '{name}'; interfaces: {}", available.join(", "))]
    NoSuchInterface {
        name: String,
        available: Vec<String>,
    },
    /// Opening a packet socket needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode and
    /// ring set-up).
    #[error("{name}: permission denied: {message}")]
    PermissionDenied { name: String, message: String },
    #[error("{message}")]
    Filter {
        name: String,
        expr: String,
        message: String,
    },
    #[error("{name}: {message}")]
    Open { name: String, message: String },
    #[error("{name}: capture failed: {message}")]
    Read { name: String, message: String },
}

/// libpcap's own text, without the `pcap` crate's "libpcap error: " prefix.
pub(crate) fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

fn classify_open_error(name: &str, e: &pcap::Error) -> LiveError {
    let message = pcap_message(e);
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::PermissionDenied {
            name: name.to_string(),
            message,
        }
    } else if lower.contains("no such device") {
        LiveError::NoSuchInterface {
            name: name.to_string(),
            available: crate::ifaces::interface_names(),
        }
    } else {
        LiveError::Open {
            name: name.to_string(),
            message,
        }
    }
}

/// libpcap DLT_* value (what a live handle reports) to the LINKTYPE_* value files store. They
/// differ for a few old types, notably DLT_RAW (12 on Linux) = LINKTYPE_RAW (101), which tun
/// devices use.
pub fn dlt_to_linktype(dlt: i32) -> LinkType {
    let v = match dlt {
        11 => 100, // ATM_RFC1483
        12 | 14 => 101,
        15 => 102,
        16 => 103,
        19 => 106,
        other => other,
    };
    LinkType(u16::try_from(v).unwrap_or(0))
}

/// Checks a filter expression's syntax before any interface is opened (so a typo is reported
/// as such, even without capture permission). Only syntax errors fail here: whether an
/// expression suits a link type is decided when the real handle compiles it.
pub fn check_filter_syntax(expr: &str) -> Result<(), LiveError> {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).map_err(|e| LiveError::Open {
        name: "(filter check)".into(),
        message: pcap_message(&e),
    })?;
    match dead.compile(expr, true) {
        Ok(_) => Ok(()),
        Err(e) => {
            let message = pcap_message(&e);
            if message.contains("syntax error") || message.contains("can't parse") {
                Err(LiveError::Filter {
                    name: String::new(),
                    expr: expr.to_string(),
                    message,
                })
            } else {
                Ok(())
            }
        }
    }
}

#[allow(unsafe_code)]
unsafe extern "C" {
    fn pcap_get_tstamp_precision(p: *mut libc::c_void) -> libc::c_int;
    fn pcap_snapshot(p: *mut libc::c_void) -> libc::c_int;
}

/// Capture counters since the filter was attached, as tcpdump prints them. Kept in 64 bits:
/// libpcap's are 32-bit and wrap on long captures, so we add up differences between readings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets that passed the kernel filter (including those then dropped).
    pub received: u64,
    /// Packets the kernel dropped because the ring was full.
    pub dropped: u64,
    /// Packets the interface or driver dropped.
    pub if_dropped: u64,
}

#[derive(Default)]
struct StatAcc {
    last: (u32, u32, u32),
    total: LiveStats,
}

impl StatAcc {
    fn update(&mut self, s: &pcap::Stat) {
        let (r, d, i) = self.last;
        self.total.received += u64::from(s.received.wrapping_sub(r));
        self.total.dropped += u64::from(s.dropped.wrapping_sub(d));
        self.total.if_dropped += u64::from(s.if_dropped.wrapping_sub(i));
        self.last = (s.received, s.dropped, s.if_dropped);
    }
}

/// Packets copied out of the kernel ring, with their metadata, for one interface.
#[derive(Debug, Default)]
pub struct Batch {
    /// Index of the interface in the caller's list (the pcapng interface id).
    pub iface: u32,
    data: Vec<u8>,
    meta: Vec<(Nanos, u32, usize)>,
}

impl Batch {
    pub fn new(iface: u32) -> Batch {
        Batch {
            iface,
            data: Vec::with_capacity(256 * 1024),
            meta: Vec::with_capacity(1024),
        }
    }

    pub fn len(&self) -> usize {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Empties the batch, keeping its memory for reuse.
    pub fn clear(&mut self) {
        self.data.clear();
        self.meta.clear();
    }

    /// Bytes of packet data held.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    fn push(&mut self, ts: Nanos, orig_len: u32, data: &[u8]) {
        self.data.extend_from_slice(data);
        self.meta.push((ts, orig_len, self.data.len()));
    }

    /// `(timestamp, length on the wire, captured bytes)` of each packet, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (Nanos, u32, &[u8])> + '_ {
        let mut start = 0;
        self.meta.iter().map(move |&(ts, len, end)| {
            let d = &self.data[start..end];
            start = end;
            (ts, len, d)
        })
    }
}

/// An open, filtered, nonblocking capture handle on one interface.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    name: String,
    dlt: pcap::Linktype,
    nanos: bool,
    snaplen: u32,
    filter: Option<String>,
    stats: StatAcc,
    stop_started: Option<Instant>,
}

impl LiveCapture {
    /// Opens `name`, attaches the filter in the kernel and takes the statistics baseline (so
    /// packets that reached the ring before the filter was attached are not counted).
    pub fn open(name: &str, cfg: &LiveConfig) -> Result<LiveCapture, LiveError> {
        if !crate::ifaces::interface_exists(name) {
            return Err(LiveError::NoSuchInterface {
                name: name.to_string(),
                available: crate::ifaces::interface_names(),
            });
        }
        // libpcap refuses promiscuous mode on `any` with a warning the pcap crate turns into
        // an error; tcpdump ends up capturing without it too.
        let promisc = cfg.promisc && name != "any";
        let mut inactive = pcap::Capture::from_device(name)
            .map_err(|e| classify_open_error(name, &e))?
            .snaplen(i32::try_from(cfg.snaplen).unwrap_or(i32::MAX))
            .promisc(promisc)
            .timeout(READ_TIMEOUT_MS)
            .immediate_mode(cfg.immediate)
            .precision(if cfg.nanos {
                pcap::Precision::Nano
            } else {
                pcap::Precision::Micro
            });
        if let Some(b) = cfg.buffer_bytes {
            inactive = inactive.buffer_size(i32::try_from(b).unwrap_or(i32::MAX));
        }
        let mut cap = inactive.open().map_err(|e| classify_open_error(name, &e))?;
        if let Some(expr) = &cfg.filter {
            cap.filter(expr, true).map_err(|e| LiveError::Filter {
                name: name.to_string(),
                expr: expr.clone(),
                message: pcap_message(&e),
            })?;
        }
        let mut cap = cap.setnonblock().map_err(|e| LiveError::Open {
            name: name.to_string(),
            message: pcap_message(&e),
        })?;
        let ptr = cap.as_ptr().cast::<libc::c_void>();
        // SAFETY: `ptr` is the live pcap_t owned by `cap`, which outlives both calls; the
        // functions only read fields of the handle.
        #[allow(unsafe_code)]
        let (precision, snap) = unsafe { (pcap_get_tstamp_precision(ptr), pcap_snapshot(ptr)) };
        let dlt = cap.get_datalink();
        let mut stats = StatAcc::default();
        if let Ok(s) = cap.stats() {
            stats.last = (s.received, s.dropped, s.if_dropped);
        }
        Ok(LiveCapture {
            cap,
            name: name.to_string(),
            dlt,
            nanos: precision == 1,
            snaplen: u32::try_from(snap).unwrap_or(cfg.snaplen),
            filter: cfg.filter.clone(),
            stats,
            stop_started: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The link type as files store it.
    pub fn link(&self) -> LinkType {
        dlt_to_linktype(self.dlt.0)
    }

    /// libpcap's name and description of the link type (`EN10MB`, `Ethernet`).
    pub fn link_names(&self) -> (String, String) {
        (
            self.dlt
                .get_name()
                .unwrap_or_else(|_| format!("DLT {}", self.dlt.0)),
            self.dlt.get_description().unwrap_or_default(),
        )
    }

    /// True if timestamps are in nanoseconds (the device granted `--tstamp-precision nano`).
    pub fn nanos(&self) -> bool {
        self.nanos
    }

    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// Waits up to `wait` for packets and appends every one that is ready to `batch`. Returns
    /// how many were added.
    pub fn poll_batch(&mut self, batch: &mut Batch, wait: Duration) -> Result<usize, LiveError> {
        self.poll_each(wait, |ts, len, data| batch.push(ts, len, data))
    }

    /// Waits up to `wait` for packets and calls `f(timestamp, wire length, bytes)` for every
    /// one that is ready, straight from the kernel ring (no copy): the fast path when one
    /// thread both captures and writes. Returns how many there were.
    pub fn poll_each(
        &mut self,
        wait: Duration,
        mut f: impl FnMut(Nanos, u32, &[u8]),
    ) -> Result<usize, LiveError> {
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&self.cap),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd for the duration of the call. An error (EINTR from a stop
        // signal) just means "look again", which dispatch does below.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::poll(&mut pfd, 1, ms) };
        let nanos = self.nanos;
        // time_t/suseconds_t are i64 on 64-bit Linux but not everywhere.
        #[allow(clippy::useless_conversion)]
        let n = self
            .cap
            .dispatch(None, |p| {
                let frac = i64::from(p.header.ts.tv_usec);
                let ts = i64::from(p.header.ts.tv_sec)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(if nanos { frac } else { frac * 1000 });
                f(ts, p.header.len, p.data);
            })
            .map_err(|e| LiveError::Read {
                name: self.name.clone(),
                message: pcap_message(&e),
            })?;
        Ok(n)
    }

    /// Reads the kernel counters (cheap: one getsockopt) and returns the totals so far.
    pub fn stats(&mut self) -> LiveStats {
        if let Ok(s) = self.cap.stats() {
            self.stats.update(&s);
        }
        self.stats.total
    }

    /// First step of an exact stop: replaces the kernel filter by one that rejects everything,
    /// so nothing more enters the ring or the counters. Packets already in the ring stay there
    /// for [`Self::drain_step`]. We set the socket option directly: `pcap_setfilter` would also
    /// re-filter the ring's pending packets in userland with the new program, losing them.
    pub fn begin_stop(&mut self) {
        if self.stop_started.is_some() {
            return;
        }
        self.stop_started = Some(Instant::now());
        let mut insn = libc::sock_filter {
            code: 0x06, // BPF_RET | BPF_K: accept 0 bytes
            jt: 0,
            jf: 0,
            k: 0,
        };
        let prog = libc::sock_fprog {
            len: 1,
            filter: &mut insn,
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.cap);
        // SAFETY: `prog` points at one valid instruction and both live across the call; the
        // kernel copies the program. On failure (not a packet socket) we simply drain longer.
        #[allow(unsafe_code)]
        let _ = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&prog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
    }

    /// Moves what is left in the ring into `batch`. Returns true once the ring is empty and the
    /// kernel has had time to retire its last partly filled block (two retire timeouts), or
    /// after a hard limit of two seconds.
    pub fn drain_step(&mut self, batch: &mut Batch) -> Result<bool, LiveError> {
        self.drain_each(|ts, len, data| batch.push(ts, len, data))
    }

    /// [`Self::drain_step`] with a callback per packet instead of a batch.
    pub fn drain_each(&mut self, f: impl FnMut(Nanos, u32, &[u8])) -> Result<bool, LiveError> {
        self.begin_stop();
        let since = self.stop_started.map(|t| t.elapsed()).unwrap_or_default();
        let n = self.poll_each(Duration::from_millis(20), f)?;
        let quiet_after = Duration::from_millis(2 * READ_TIMEOUT_MS as u64 + 50);
        Ok((n == 0 && since >= quiet_after) || since >= Duration::from_secs(2))
    }
}

// ---------------------------------------------------------------------------------------------
// Stop signals

static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);
static SIGNAL_COUNT: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    STOP_SIGNAL.store(sig, Ordering::SeqCst);
    // The stop path is bounded (a drain of well under a second), but a writer can hang on a
    // stalled pipe: a third signal ends the process the default way.
    if SIGNAL_COUNT.fetch_add(1, Ordering::SeqCst) >= 2 {
        // SAFETY: signal() and raise() are async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// Installs handlers for SIGINT, SIGTERM and SIGHUP that only record the signal, so the capture
/// can finish its files; [`stop_signal`] tells whether one arrived.
pub fn install_stop_signals() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is valid; the handler only touches atomics and calls
        // async-signal-safe functions; SA_RESTART keeps writes from failing with EINTR.
        #[allow(unsafe_code)]
        let r = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The stop signal received so far, if any.
pub fn stop_signal() -> Option<i32> {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

// ---------------------------------------------------------------------------------------------
// Privileges

/// Why `-Z USER` failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("no user named '{0}'")]
    NoSuchUser(String),
    #[error("cannot switch to user '{user}': {step}: {source}")]
    Switch {
        user: String,
        step: &'static str,
        source: io::Error,
    },
}

/// Switches the process to `user` (its uid, primary gid and supplementary groups), as tcpdump
/// `-Z` does once the capture handles are open: the packet sockets stay usable, but nothing
/// else runs as root. Groups first: after setuid we could no longer change them.
pub fn drop_privileges(user: &str) -> Result<(), PrivilegeError> {
    let cname =
        std::ffi::CString::new(user).map_err(|_| PrivilegeError::NoSuchUser(user.into()))?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let (uid, gid) = loop {
        // SAFETY: zeroed passwd is a valid out-parameter; `buf` outlives the call and we copy
        // the two ids out before it goes away.
        #[allow(unsafe_code)]
        let (rc, found, ids) = unsafe {
            let mut pw: libc::passwd = std::mem::zeroed();
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwnam_r(
                cname.as_ptr(),
                &mut pw,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            );
            (rc, !result.is_null(), (pw.pw_uid, pw.pw_gid))
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || !found {
            return Err(PrivilegeError::NoSuchUser(user.into()));
        }
        break ids;
    };
    let fail = |step| PrivilegeError::Switch {
        user: user.into(),
        step,
        source: io::Error::last_os_error(),
    };
    // SAFETY: plain system calls with valid arguments (`cname` is NUL-terminated).
    #[allow(unsafe_code)]
    unsafe {
        if libc::initgroups(cname.as_ptr(), gid) != 0 {
            return Err(fail("initgroups"));
        }
        if libc::setgid(gid) != 0 {
            return Err(fail("setgid"));
        }
        if libc::setuid(uid) != 0 {
            return Err(fail("setuid"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Ring buffer names

/// The name of ring-buffer file number `n` (from 1), as dumpcap makes it: `out.pcapng` →
/// `out_00001_20261124120000.pcapng` (local time the file was started).
pub fn ring_file_name(base: &Path, n: u32, at: SystemTime) -> PathBuf {
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let t = libc::time_t::try_from(secs).unwrap_or(0);
    // SAFETY: zeroed tm is a valid out-parameter; localtime_r is the thread-safe variant.
    #[allow(unsafe_code)]
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    let name = format!(
        "{stem}_{n:05}_{:04}{:02}{:02}{:02}{:02}{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    );
    let name = match base.extension() {
        Some(e) => format!("{name}.{}", e.to_string_lossy()),
        None => name,
    };
    base.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_names_like_dumpcap() {
        let p = ring_file_name(Path::new("/tmp/x/out.pcapng"), 7, SystemTime::UNIX_EPOCH);
        let s = p.to_string_lossy();
        assert!(s.starts_with("/tmp/x/out_00007_19"), "{s}");
        assert!(s.ends_with(".pcapng"), "{s}");
        assert_eq!(
            p.file_name().unwrap().len(),
            "out_00007_19700101000000.pcapng".len()
        );
    }

    #[test]
    fn dlt_mapping() {
        assert_eq!(dlt_to_linktype(1), LinkType::ETHERNET);
        assert_eq!(dlt_to_linktype(12), LinkType::RAW);
        assert_eq!(dlt_to_linktype(113), LinkType::LINUX_SLL);
    }

    #[test]
    fn batch_round_trip() {
        let mut b = Batch::new(3);
        b.push(5, 100, b"abc");
        b.push(6, 2, b"de");
        let v: Vec<_> = b.iter().collect();
        assert_eq!(v, vec![(5, 100, &b"abc"[..]), (6, 2, &b"de"[..])]);
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn filter_syntax_checked_without_a_device() {
        assert!(check_filter_syntax("udp port 53").is_ok());
        let e = check_filter_syntax("udp prot 53").unwrap_err();
        assert!(e.to_string().contains("syntax error"), "{e}");
    }

    #[test]
    fn stats_accumulate_across_wrap() {
        let mut a = StatAcc {
            last: (u32::MAX - 1, 0, 0),
            ..Default::default()
        };
        a.update(&stat(3, 1, 0));
        assert_eq!(a.total.received, 5);
        assert_eq!(a.total.dropped, 1);
    }

    fn stat(r: u32, d: u32, i: u32) -> pcap::Stat {
        // Stat has no public constructor; build it through its public fields.
        pcap::Stat {
            received: r,
            dropped: d,
            if_dropped: i,
        }
    }
}
