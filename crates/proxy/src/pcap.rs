//! `--pcap out.pcapng`: the decrypted HTTP of both legs as synthesized TCP conversations
//! (Ethernet/IP/TCP with handshake, data and FIN, checksums set), and the TLS secrets of both
//! legs as Decryption Secrets Blocks of the same file.
//!
//! HTTP/2 messages are written in HTTP/1.1 form, each exchange on its own conversation (a
//! single TCP stream cannot interleave them); an HTTP/1.x client connection keeps its real
//! address and port, one conversation per exchange (tshark numbers a reused port as a new
//! stream after the FIN).

use std::fs::File;
use std::io::{self, BufWriter};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use wiresift_capfile::{Interface, LinkType, PcapNgWriter};

use crate::ProxyError;
use crate::tls::SecretSink;

/// TCP payload per synthesized segment.
const SEG: usize = 16 * 1024;

pub struct PcapSink {
    w: Mutex<PcapNgWriter<BufWriter<File>>>,
    iface: u32,
    next_port: AtomicU32,
    buf: Mutex<Vec<u8>>,
}

/// One synthesized TCP conversation (client = `a`).
#[derive(Debug, Clone)]
pub struct Conv {
    pub a: SocketAddr,
    pub b: SocketAddr,
    seq_a: u32,
    seq_b: u32,
    opened: bool,
    closed: bool,
}

impl Conv {
    pub fn new(a: SocketAddr, b: SocketAddr) -> Conv {
        // Same address family on both ends.
        let b = match (a.ip(), b.ip()) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(IpAddr::V4(v4), b.port()),
                None => SocketAddr::new(IpAddr::V4([127, 0, 0, 2].into()), b.port()),
            },
            (IpAddr::V6(_), IpAddr::V4(v4)) => {
                SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), b.port())
            }
            _ => b,
        };
        let s = a.port() as u32 * 7919 + b.port() as u32;
        Conv {
            a,
            b,
            seq_a: 0x1000_0000 ^ s,
            seq_b: 0x5000_0000 ^ s.rotate_left(13),
            opened: false,
            closed: false,
        }
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

impl PcapSink {
    pub fn create(path: &Path) -> Result<PcapSink, ProxyError> {
        let f =
            File::create(path).map_err(|e| ProxyError::Io(format!("{}: {e}", path.display())))?;
        let mut w = PcapNgWriter::new(
            BufWriter::with_capacity(256 * 1024, f),
            None,
            Some(std::env::consts::OS),
            Some(concat!("wiresift proxy ", env!("CARGO_PKG_VERSION"))),
        )
        .map_err(|e| ProxyError::Io(format!("{}: {e}", path.display())))?;
        let mut i = Interface::new(LinkType(1), 262_144);
        i.name = Some("wiresift-proxy".into());
        i.description = Some("decrypted proxy traffic (synthesized TCP)".into());
        i.tsresol = 9;
        let iface = w
            .add_interface(&i)
            .map_err(|e| ProxyError::Io(format!("{}: {e}", path.display())))?;
        Ok(PcapSink {
            w: Mutex::new(w),
            iface,
            next_port: AtomicU32::new(0),
            buf: Mutex::new(Vec::with_capacity(SEG + 128)),
        })
    }

    /// A synthetic source port for conversations whose real port cannot be used.
    pub fn synthetic_port(&self) -> u16 {
        40000 + (self.next_port.fetch_add(1, Ordering::Relaxed) % 20000) as u16
    }

    fn seg(
        &self,
        w: &mut PcapNgWriter<BufWriter<File>>,
        c: &mut Conv,
        from_a: bool,
        flags: u8,
        data: &[u8],
    ) -> io::Result<()> {
        let (src, dst) = if from_a { (c.a, c.b) } else { (c.b, c.a) };
        let (seq, ack) = if from_a {
            (c.seq_a, c.seq_b)
        } else {
            (c.seq_b, c.seq_a)
        };
        let mut guard = self.buf.lock().map_err(|_| io::Error::other("poisoned"))?;
        let p = &mut *guard;
        p.clear();
        // Ethernet.
        p.extend_from_slice(if from_a {
            &[2, 0, 0, 0, 0, 2]
        } else {
            &[2, 0, 0, 0, 0, 1]
        });
        p.extend_from_slice(if from_a {
            &[2, 0, 0, 0, 0, 1]
        } else {
            &[2, 0, 0, 0, 0, 2]
        });
        let tcp_len = 20 + data.len();
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                p.extend_from_slice(&[0x08, 0x00]);
                let ip_start = p.len();
                let total = (20 + tcp_len) as u16;
                p.extend_from_slice(&[0x45, 0]);
                p.extend_from_slice(&total.to_be_bytes());
                p.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
                let ck = checksum(0, &p[ip_start..ip_start + 20]);
                p[ip_start + 10..ip_start + 12].copy_from_slice(&ck.to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                p.extend_from_slice(&[0x86, 0xdd]);
                p.extend_from_slice(&[0x60, 0, 0, 0]);
                p.extend_from_slice(&(tcp_len as u16).to_be_bytes());
                p.extend_from_slice(&[6, 64]);
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
            }
            _ => return Ok(()),
        }
        let tcp_start = p.len();
        p.extend_from_slice(&src.port().to_be_bytes());
        p.extend_from_slice(&dst.port().to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(if flags & ACK != 0 { ack } else { 0 }).to_be_bytes());
        p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(data);
        // Pseudo-header sum.
        let mut sum: u32 = 0;
        let add = |sum: &mut u32, b: &[u8]| {
            for ch in b.chunks(2) {
                *sum += u16::from_be_bytes([ch[0], *ch.get(1).unwrap_or(&0)]) as u32;
            }
        };
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                add(&mut sum, &s.octets());
                add(&mut sum, &d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                add(&mut sum, &s.octets());
                add(&mut sum, &d.octets());
            }
            _ => {}
        }
        sum += 6 + tcp_len as u32;
        let ck = checksum(sum, &p[tcp_start..]);
        p[tcp_start + 16..tcp_start + 18].copy_from_slice(&ck.to_be_bytes());
        let adv = data.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if from_a {
            c.seq_a = c.seq_a.wrapping_add(adv);
        } else {
            c.seq_b = c.seq_b.wrapping_add(adv);
        }
        w.write_packet(self.iface, now_ns(), p.len() as u32, p, None)
    }

    /// Writes `data` sent by the client (`from_a`) or the server, opening the conversation first.
    pub fn data(&self, c: &mut Conv, from_a: bool, data: &[u8]) {
        if c.closed {
            return;
        }
        let Ok(mut w) = self.w.lock() else { return };
        if !c.opened {
            c.opened = true;
            let _ = self.seg(&mut w, c, true, SYN, &[]);
            let _ = self.seg(&mut w, c, false, SYN | ACK, &[]);
            let _ = self.seg(&mut w, c, true, ACK, &[]);
        }
        for chunk in data.chunks(SEG) {
            let _ = self.seg(&mut w, c, from_a, PSH | ACK, chunk);
        }
    }

    /// FIN both ways.
    pub fn close(&self, c: &mut Conv) {
        if !c.opened || c.closed {
            return;
        }
        c.closed = true;
        let Ok(mut w) = self.w.lock() else { return };
        let _ = self.seg(&mut w, c, true, FIN | ACK, &[]);
        let _ = self.seg(&mut w, c, false, FIN | ACK, &[]);
        let _ = self.seg(&mut w, c, true, ACK, &[]);
    }

    pub fn flush(&self) {
        if let Ok(mut w) = self.w.lock() {
            let _ = w.flush();
        }
    }
}

impl SecretSink for PcapSink {
    fn secret(&self, line: &str) {
        if let Ok(mut w) = self.w.lock() {
            let _ = w.write_secrets(0x544c_534b, line.as_bytes());
        }
    }
}

fn checksum(mut sum: u32, b: &[u8]) -> u16 {
    for ch in b.chunks(2) {
        sum += u16::from_be_bytes([ch[0], *ch.get(1).unwrap_or(&0)]) as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ip_checksum() {
        // RFC 1071 example header.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(super::checksum(0, &h), 0xb861);
    }
}
