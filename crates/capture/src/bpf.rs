//! Capture filters (pcap-filter language) for file input, one compiled program per link type.

use std::collections::HashMap;

use wiresift_capfile::LinkType;

/// A filter expression that libpcap refused.
#[derive(Debug, thiserror::Error)]
#[error("bad capture filter '{expr}' for link type {link}: {message}")]
pub struct BpfError {
    pub expr: String,
    pub link: LinkType,
    /// libpcap's own message.
    pub message: String,
}

#[repr(C)]
struct RawProgram {
    bf_len: libc::c_uint,
    bf_insns: *mut libc::c_void,
}

#[repr(C)]
struct RawHeader {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

#[allow(unsafe_code)]
unsafe extern "C" {
    fn pcap_offline_filter(
        prog: *const RawProgram,
        h: *const RawHeader,
        pkt: *const u8,
    ) -> libc::c_int;
}

/// A capture filter compiled lazily for each link type it meets (a pcapng file may mix them).
pub struct CaptureFilter {
    expr: String,
    programs: HashMap<LinkType, Result<pcap::BpfProgram, String>>,
    /// Link types whose compilation failed: their frames never match.
    pub failed: Vec<BpfError>,
    big_endian: bool,
}

impl CaptureFilter {
    /// Compiles `expr` for `link` now (so a syntax error is reported before any output).
    /// `big_endian`: byte order of the file the frames come from (libpcap byte-swaps DLT_NULL
    /// address families for files written on the other kind of machine).
    pub fn new(expr: &str, link: LinkType, big_endian: bool) -> Result<CaptureFilter, BpfError> {
        let mut f = CaptureFilter {
            expr: expr.to_string(),
            programs: HashMap::new(),
            failed: Vec::new(),
            big_endian,
        };
        match compile(expr, link, big_endian) {
            Ok(p) => {
                f.programs.insert(link, Ok(p));
                Ok(f)
            }
            Err(message) => Err(BpfError {
                expr: expr.to_string(),
                link,
                message,
            }),
        }
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// True if the frame passes. `orig_len` is the length on the wire (for `greater`/`less`).
    pub fn matches(&mut self, link: LinkType, data: &[u8], orig_len: u32) -> bool {
        let (expr, be) = (&self.expr, self.big_endian);
        let prog = self
            .programs
            .entry(link)
            .or_insert_with(|| compile(expr, link, be));
        match prog {
            Ok(p) => run(p, data, orig_len),
            Err(message) => {
                if !self.failed.iter().any(|e| e.link == link) {
                    self.failed.push(BpfError {
                        expr: self.expr.clone(),
                        link,
                        message: message.clone(),
                    });
                }
                false
            }
        }
    }
}

/// LINKTYPE_* (file) value to the DLT_* value libpcap compiles for (they differ below 104).
fn linktype_to_dlt(link: LinkType) -> i32 {
    match link.0 {
        100 => 11, // ATM_RFC1483
        101 => 12, // RAW
        102 => 15, // SLIP_BSDOS
        103 => 16, // PPP_BSDOS
        106 => 19, // ATM_CLIP
        other => i32::from(other),
    }
}

/// Compiles for a *savefile* handle of that link type: libpcap generates different code for
/// files than for live or dead handles (e.g. `ip6` on DLT_NULL must accept every BSD AF_INET6
/// value, not this host's), so we open an empty pcap file of the same link type and byte order.
fn compile(expr: &str, link: LinkType, big_endian: bool) -> Result<pcap::BpfProgram, String> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("wiresift-bpf-{}-{n}.pcap", std::process::id()));
    let mut h = Vec::with_capacity(24);
    let put16 = |h: &mut Vec<u8>, v: u16| {
        h.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let put32 = |h: &mut Vec<u8>, v: u32| {
        h.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    put32(&mut h, 0xa1b2_c3d4);
    put16(&mut h, 2);
    put16(&mut h, 4);
    put32(&mut h, 0);
    put32(&mut h, 0);
    put32(&mut h, 262_144);
    put32(&mut h, u32::from(link.0));
    let r = std::fs::write(&path, &h)
        .map_err(|e| format!("cannot create a temporary file for the filter compiler: {e}"))
        .and_then(|()| pcap::Capture::from_file(&path).map_err(|e| e.to_string()))
        .and_then(|cap| cap.compile(expr, true).map_err(|e| e.to_string()));
    let _ = std::fs::remove_file(&path);
    match r {
        Err(e) if e.contains("unknown") || e.contains("link") => {
            let dead = pcap::Capture::dead(pcap::Linktype(linktype_to_dlt(link)))
                .map_err(|e| e.to_string())?;
            dead.compile(expr, true).map_err(|e| e.to_string())
        }
        r => r,
    }
}

fn run(p: &pcap::BpfProgram, data: &[u8], orig_len: u32) -> bool {
    let h = RawHeader {
        ts: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        caplen: data.len() as u32,
        len: orig_len.max(data.len() as u32),
    };
    // SAFETY: `BpfProgram` is `#[repr(transparent)]` over libpcap's `struct bpf_program`, whose
    // layout `RawProgram` repeats; the program stays alive for the call; `h` and `data` are
    // valid for `caplen` bytes, and libpcap's interpreter checks every load against `caplen`.
    #[allow(unsafe_code)]
    let r = unsafe {
        pcap_offline_filter(
            (p as *const pcap::BpfProgram).cast::<RawProgram>(),
            &h,
            data.as_ptr(),
        )
    };
    r != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greater_uses_wire_length() {
        let mut f = CaptureFilter::new("greater 1000", LinkType::ETHERNET, false).unwrap();
        let frame = [0u8; 60];
        assert!(f.matches(LinkType::ETHERNET, &frame, 1500));
        assert!(!f.matches(LinkType::ETHERNET, &frame, 60));
    }

    #[test]
    fn syntax_error_has_libpcap_message() {
        let e = CaptureFilter::new("tcp prot 80", LinkType::ETHERNET, false)
            .err()
            .unwrap();
        assert!(e.message.contains("syntax error"), "{e}");
    }

    #[test]
    fn tcp_port_on_raw_ip() {
        let mut f = CaptureFilter::new("tcp port 80", LinkType::RAW, false).unwrap();
        let mut pkt = vec![
            0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        pkt.extend_from_slice(&[
            0, 80, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 2, 0, 0, 0, 0, 0, 0,
        ]);
        assert!(f.matches(LinkType::RAW, &pkt, 40));
        pkt[21] = 81;
        assert!(!f.matches(LinkType::RAW, &pkt, 40));
    }
}
