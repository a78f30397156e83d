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
}

impl CaptureFilter {
    /// Compiles `expr` for `link` now (so a syntax error is reported before any output).
    pub fn new(expr: &str, link: LinkType) -> Result<CaptureFilter, BpfError> {
        let mut f = CaptureFilter {
            expr: expr.to_string(),
            programs: HashMap::new(),
            failed: Vec::new(),
        };
        match compile(expr, link) {
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
        let expr = &self.expr;
        let prog = self
            .programs
            .entry(link)
            .or_insert_with(|| compile(expr, link));
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

fn compile(expr: &str, link: LinkType) -> Result<pcap::BpfProgram, String> {
    let dead =
        pcap::Capture::dead(pcap::Linktype(linktype_to_dlt(link))).map_err(|e| e.to_string())?;
    dead.compile(expr, true).map_err(|e| e.to_string())
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
        let mut f = CaptureFilter::new("greater 1000", LinkType::ETHERNET).unwrap();
        let frame = [0u8; 60];
        assert!(f.matches(LinkType::ETHERNET, &frame, 1500));
        assert!(!f.matches(LinkType::ETHERNET, &frame, 60));
    }

    #[test]
    fn syntax_error_has_libpcap_message() {
        let e = CaptureFilter::new("tcp prot 80", LinkType::ETHERNET)
            .err()
            .unwrap();
        assert!(e.message.contains("syntax error"), "{e}");
    }

    #[test]
    fn tcp_port_on_raw_ip() {
        let mut f = CaptureFilter::new("tcp port 80", LinkType::RAW).unwrap();
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
