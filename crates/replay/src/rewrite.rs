//! Rewriting frames before they are replayed: MAC addresses, IP addresses by CIDR
//! (`--ip-map 10.0.0.0/8=192.168.0.0/8`, host bits kept; also the addresses inside ARP), TCP/UDP
//! ports (`--port-map 80=8080`, source and destination), with the IPv4 header checksum and the
//! TCP/UDP checksum made right afterwards.
//!
//! The transport checksum is recomputed from scratch when the whole datagram was captured
//! (which also repairs checksums a sending host left to offload); for a frame cut by the snap
//! length, or an IP fragment, it is adjusted incrementally (RFC 1624) for the words that changed,
//! which is exact without the missing bytes. A UDP-over-IPv4 checksum of 0 (none) stays 0.

use std::net::IpAddr;

use wiresift_capfile::LinkType;
use wiresift_dissect::decode::{self, Link, Net, Transport};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RewriteError {
    #[error("bad MAC address {0:?} (expected six hex bytes, e.g. 02:00:00:00:00:01)")]
    Mac(String),
    #[error(
        "bad --ip-map {arg:?}: {why} (expected OLD=NEW, e.g. 10.0.0.0/8=192.168.0.0/8 or 10.1.2.3=10.9.9.9)"
    )]
    IpMap { arg: String, why: String },
    #[error("bad --port-map {0:?} (expected A=B with ports 0-65535, e.g. 80=8080)")]
    PortMap(String),
}

pub fn parse_mac(s: &str) -> Result<[u8; 6], RewriteError> {
    let mut m = [0u8; 6];
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(RewriteError::Mac(s.to_string()));
    }
    for (b, p) in m.iter_mut().zip(parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(RewriteError::Mac(s.to_string()));
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| RewriteError::Mac(s.to_string()))?;
    }
    Ok(m)
}

/// An address prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

fn parse_cidr(s: &str) -> Result<(IpAddr, Option<u8>), String> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a
        .parse()
        .map_err(|_| format!("{a:?} is not an IP address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l {
        Some(l) => {
            let n: u8 = l.parse().map_err(|_| format!("bad prefix length {l:?}"))?;
            if n > max {
                return Err(format!("prefix length {n} is more than {max}"));
            }
            Some(n)
        }
        None => None,
    };
    Ok((addr, len))
}

/// `OLD=NEW`: addresses in OLD are moved into NEW, host bits kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpMap {
    pub old: Cidr,
    pub new: IpAddr,
}

pub fn parse_ip_map(s: &str) -> Result<IpMap, RewriteError> {
    let err = |why: String| RewriteError::IpMap {
        arg: s.to_string(),
        why,
    };
    let (o, n) = s.split_once('=').ok_or_else(|| err("no '='".into()))?;
    let (oa, ol) = parse_cidr(o.trim()).map_err(err)?;
    let (na, nl) = parse_cidr(n.trim()).map_err(err)?;
    if oa.is_ipv4() != na.is_ipv4() {
        return Err(err("OLD and NEW are of different address families".into()));
    }
    let max = if oa.is_ipv4() { 32 } else { 128 };
    let len = ol.unwrap_or(max);
    if let Some(nl) = nl
        && nl != len
    {
        return Err(err(format!("prefix lengths differ (/{len} and /{nl})")));
    }
    Ok(IpMap {
        old: Cidr { addr: oa, len },
        new: na,
    })
}

pub fn parse_port_map(s: &str) -> Result<(u16, u16), RewriteError> {
    let bad = || RewriteError::PortMap(s.to_string());
    let (a, b) = s.split_once('=').ok_or_else(bad)?;
    Ok((
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    ))
}

fn mask_bytes<const N: usize>(len: u8) -> [u8; N] {
    let mut m = [0u8; N];
    for (i, b) in m.iter_mut().enumerate() {
        let bits = (len as usize).saturating_sub(i * 8).min(8);
        *b = if bits == 0 { 0 } else { 0xffu8 << (8 - bits) };
    }
    m
}

impl IpMap {
    /// The new address for `a` (same length: 4 or 16 bytes), if OLD contains it.
    fn map(&self, a: &[u8]) -> Option<Vec<u8>> {
        let (old, new): (Vec<u8>, Vec<u8>) = match (self.old.addr, self.new) {
            (IpAddr::V4(o), IpAddr::V4(n)) if a.len() == 4 => {
                (o.octets().to_vec(), n.octets().to_vec())
            }
            (IpAddr::V6(o), IpAddr::V6(n)) if a.len() == 16 => {
                (o.octets().to_vec(), n.octets().to_vec())
            }
            _ => return None,
        };
        let mask: Vec<u8> = if a.len() == 4 {
            mask_bytes::<4>(self.old.len).to_vec()
        } else {
            mask_bytes::<16>(self.old.len).to_vec()
        };
        let inside = a
            .iter()
            .zip(&old)
            .zip(&mask)
            .all(|((x, o), m)| x & m == o & m);
        inside.then(|| {
            a.iter()
                .zip(&new)
                .zip(&mask)
                .map(|((x, n), m)| (n & m) | (x & !m))
                .collect()
        })
    }
}

/// All the rewriting asked for.
#[derive(Clone, Debug, Default)]
pub struct Rewrite {
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub ip_map: Vec<IpMap>,
    pub port_map: Vec<(u16, u16)>,
}

/// The ones' complement sum of `data` as 16-bit big-endian words (odd tail padded).
fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut it = data.chunks_exact(2);
    for w in &mut it {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([w[0], w[1]])));
    }
    if let [b] = it.remainder() {
        acc = acc.wrapping_add(u32::from(*b) << 8);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), over equal-length old/new byte runs.
fn adjust(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut acc = u32::from(!csum);
    for w in old.chunks(2) {
        let v = u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]);
        acc += u32::from(!v);
    }
    acc = sum16(new, acc);
    !fold(acc)
}

fn put16(d: &mut [u8], off: usize, v: u16) {
    d[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

/// What a rewrite did to one frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rewritten {
    pub changed: bool,
    /// The transport checksum had to be adjusted rather than recomputed (frame cut short or a
    /// fragment).
    pub incremental: bool,
}

impl Rewrite {
    pub fn is_empty(&self) -> bool {
        self.src_mac.is_none()
            && self.dst_mac.is_none()
            && self.ip_map.is_empty()
            && self.port_map.is_empty()
    }

    fn map_ip(&self, a: &[u8]) -> Option<Vec<u8>> {
        self.ip_map.iter().find_map(|m| m.map(a))
    }

    fn map_port(&self, p: u16) -> Option<u16> {
        self.port_map.iter().find(|(a, _)| *a == p).map(|(_, b)| *b)
    }

    /// Rewrites `frame` (of link type `link`) in place and repairs the checksums.
    pub fn apply(&self, link: LinkType, frame: &mut [u8]) -> Rewritten {
        let mut out = Rewritten::default();
        if self.is_empty() {
            return out;
        }
        let l = decode::decode(link, frame);
        if let Link::Ethernet { .. } = l.link {
            if let Some(m) = self.dst_mac {
                frame[0..6].copy_from_slice(&m);
                out.changed = true;
            }
            if let Some(m) = self.src_mac {
                frame[6..12].copy_from_slice(&m);
                out.changed = true;
            }
        }
        if self.ip_map.is_empty() && self.port_map.is_empty() {
            return out;
        }
        // (offset, old bytes, new bytes) of every pseudo-header/transport change.
        let mut pseudo_changes: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let (ip_end, whole, v4_hdr, addr_len) = match l.net {
            Net::Ipv4(ip) => {
                for off in [ip.offset + 12, ip.offset + 16] {
                    if let Some(n) = frame.get(off..off + 4).and_then(|a| self.map_ip(a)) {
                        pseudo_changes.push((frame[off..off + 4].to_vec(), n.clone()));
                        frame[off..off + 4].copy_from_slice(&n);
                        out.changed = true;
                    }
                }
                let end = ip.offset + usize::from(ip.total_len);
                (end, end <= frame.len() && !ip.is_fragment(), Some(ip), 4)
            }
            Net::Ipv6(ip) => {
                for off in [ip.offset + 8, ip.offset + 24] {
                    if let Some(n) = frame.get(off..off + 16).and_then(|a| self.map_ip(a)) {
                        pseudo_changes.push((frame[off..off + 16].to_vec(), n.clone()));
                        frame[off..off + 16].copy_from_slice(&n);
                        out.changed = true;
                    }
                }
                let end = ip.offset + 40 + usize::from(ip.plen);
                (end, end <= frame.len() && ip.frag.is_none(), None, 16)
            }
            Net::Arp { offset } => {
                // Ethernet/IPv4 ARP: sender IP at 14, target IP at 24.
                let is_eth_ip = decode::be16(frame, offset) == Some(1)
                    && decode::be16(frame, offset + 2) == Some(0x0800)
                    && frame.get(offset + 4..offset + 6) == Some(&[6, 4]);
                if is_eth_ip {
                    for off in [offset + 14, offset + 24] {
                        if let Some(n) = frame.get(off..off + 4).and_then(|a| self.map_ip(a)) {
                            frame[off..off + 4].copy_from_slice(&n);
                            out.changed = true;
                        }
                    }
                }
                return out;
            }
            _ => return out,
        };
        let _ = addr_len;
        // Transport: ports, then the checksum.
        let (t_off, csum_off, proto, udp) = match l.transport {
            Transport::Tcp(t) => (t.offset, t.offset + 16, 6u8, false),
            Transport::Udp { offset, .. } => (offset, offset + 6, 17u8, true),
            _ => (0, 0, 0, false),
        };
        let mut port_changes: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        if proto != 0 && frame.len() >= t_off + 4 {
            for off in [t_off, t_off + 2] {
                let p = u16::from_be_bytes([frame[off], frame[off + 1]]);
                if let Some(n) = self.map_port(p) {
                    port_changes.push((p.to_be_bytes().to_vec(), n.to_be_bytes().to_vec()));
                    put16(frame, off, n);
                    out.changed = true;
                }
            }
        }
        if let Some(ip) = v4_hdr
            && !pseudo_changes.is_empty()
        {
            let h = ip.offset..ip.offset + ip.hdr_len;
            if frame.len() >= h.end {
                put16(frame, ip.offset + 10, 0);
                let c = !fold(sum16(&frame[h], 0));
                put16(frame, ip.offset + 10, c);
            }
        }
        if proto == 0
            || (pseudo_changes.is_empty() && port_changes.is_empty())
            || frame.len() < csum_off + 2
        {
            return out;
        }
        let old = u16::from_be_bytes([frame[csum_off], frame[csum_off + 1]]);
        let v4 = v4_hdr.is_some();
        if udp && v4 && old == 0 {
            return out; // no checksum
        }
        if whole && ip_end >= t_off {
            // Recompute: pseudo header + transport header and payload.
            let seg = t_off..ip_end;
            let len = seg.len();
            let mut acc = match l.net {
                Net::Ipv4(ip) => {
                    let a = sum16(&frame[ip.offset + 12..ip.offset + 20], 0);
                    a + u32::from(proto) + len as u32
                }
                Net::Ipv6(ip) => {
                    let a = sum16(&frame[ip.offset + 8..ip.offset + 40], 0);
                    a + (len as u32 >> 16) + (len as u32 & 0xffff) + u32::from(proto)
                }
                _ => 0,
            };
            put16(frame, csum_off, 0);
            acc = sum16(&frame[seg], acc);
            let mut c = !fold(acc);
            if udp && c == 0 {
                c = 0xffff;
            }
            put16(frame, csum_off, c);
        } else {
            let mut c = old;
            for (o, n) in pseudo_changes.iter().chain(&port_changes) {
                c = adjust(c, o, n);
            }
            put16(frame, csum_off, c);
            out.incremental = true;
        }
        out
    }
}

/// A full transport checksum check, for tests: true when the TCP/UDP checksum of an
/// Ethernet/IP frame verifies.
pub fn transport_checksum_ok(link: LinkType, frame: &[u8]) -> Option<bool> {
    let l = decode::decode(link, frame);
    let (t_off, proto) = match l.transport {
        Transport::Tcp(t) => (t.offset, 6u8),
        Transport::Udp { offset, .. } => (offset, 17u8),
        _ => return None,
    };
    let (acc, end) = match l.net {
        Net::Ipv4(ip) => {
            let end = ip.offset + usize::from(ip.total_len);
            let len = end.checked_sub(t_off)?;
            (
                sum16(frame.get(ip.offset + 12..ip.offset + 20)?, 0)
                    + u32::from(proto)
                    + len as u32,
                end,
            )
        }
        Net::Ipv6(ip) => {
            let end = ip.offset + 40 + usize::from(ip.plen);
            let len = end.checked_sub(t_off)?;
            (
                sum16(frame.get(ip.offset + 8..ip.offset + 40)?, 0)
                    + (len as u32 >> 16)
                    + (len as u32 & 0xffff)
                    + u32::from(proto),
                end,
            )
        }
        _ => return None,
    };
    Some(fold(sum16(frame.get(t_off..end)?, acc)) == 0xffff)
}

/// True when the IPv4 header checksum verifies (None for non-IPv4).
pub fn ipv4_checksum_ok(link: LinkType, frame: &[u8]) -> Option<bool> {
    match decode::decode(link, frame).net {
        Net::Ipv4(ip) => {
            Some(fold(sum16(frame.get(ip.offset..ip.offset + ip.hdr_len)?, 0)) == 0xffff)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + IPv4 + UDP "hello" 10.0.0.1:1000 -> 10.0.0.2:53, correct checksums.
    fn udp4() -> Vec<u8> {
        let mut f = vec![
            0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // eth
            0x45, 0, 0, 33, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // ip
            0x03, 0xe8, 0, 53, 0, 13, 0, 1, // udp (checksum set below)
        ];
        f.extend_from_slice(b"hello");
        let r = Rewrite {
            ip_map: vec![parse_ip_map("10.0.0.1=10.0.0.1").unwrap()],
            ..Rewrite::default()
        };
        // Mapping to itself recomputes both checksums.
        r.apply(LinkType::ETHERNET, &mut f);
        f
    }

    fn tcp6() -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x86, 0xdd];
        let payload = b"GET / HTTP/1.0\r\n\r\n";
        let plen = 20 + payload.len();
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, plen as u8, 6, 64]);
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        f.extend_from_slice(payload);
        let r = Rewrite {
            port_map: vec![(80, 80)],
            ..Rewrite::default()
        };
        r.apply(LinkType::ETHERNET, &mut f);
        f
    }

    #[test]
    fn parse_args() {
        assert_eq!(parse_mac("02:00:00:00:00:0a").unwrap(), [2, 0, 0, 0, 0, 10]);
        assert!(parse_mac("02:00:00:00:00").is_err());
        let m = parse_ip_map("10.0.0.0/8=192.168.0.0/8").unwrap();
        assert_eq!(m.map(&[10, 1, 2, 3]), Some(vec![192, 1, 2, 3]));
        assert_eq!(m.map(&[11, 1, 2, 3]), None);
        assert!(parse_ip_map("10.0.0.0/8=192.168.0.0/16").is_err());
        assert!(parse_ip_map("10.0.0.0/8=fd00::/8").is_err());
        let m6 = parse_ip_map("fd00::/64=2001:db8::/64").unwrap();
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[15] = 7;
        let n = m6.map(&a).unwrap();
        assert_eq!(&n[..4], &[0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(n[15], 7);
        assert_eq!(parse_port_map("80=8080").unwrap(), (80, 8080));
        assert!(parse_port_map("80=x").is_err());
    }

    #[test]
    fn ipv4_udp_rewrite_keeps_checksums_valid() {
        let mut f = udp4();
        assert_eq!(transport_checksum_ok(LinkType::ETHERNET, &f), Some(true));
        assert_eq!(ipv4_checksum_ok(LinkType::ETHERNET, &f), Some(true));
        let r = Rewrite {
            src_mac: Some([2, 0, 0, 0, 0, 9]),
            ip_map: vec![parse_ip_map("10.0.0.0/24=172.16.5.0/24").unwrap()],
            port_map: vec![(53, 5353)],
            ..Rewrite::default()
        };
        assert!(r.apply(LinkType::ETHERNET, &mut f).changed);
        assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 9]);
        assert_eq!(&f[26..30], &[172, 16, 5, 1]);
        assert_eq!(&f[36..38], &5353u16.to_be_bytes());
        assert_eq!(transport_checksum_ok(LinkType::ETHERNET, &f), Some(true));
        assert_eq!(ipv4_checksum_ok(LinkType::ETHERNET, &f), Some(true));
    }

    #[test]
    fn truncated_frame_gets_incremental_fix() {
        let full = tcp6();
        assert_eq!(transport_checksum_ok(LinkType::ETHERNET, &full), Some(true));
        let r = Rewrite {
            ip_map: vec![parse_ip_map("fd00::/16=fd99::/16").unwrap()],
            port_map: vec![(80, 8080)],
            ..Rewrite::default()
        };
        // Rewrite a copy cut after the TCP header, then graft the payload back: the adjusted
        // checksum must verify over the whole segment.
        let cut = 14 + 40 + 20;
        let mut head = full[..cut].to_vec();
        let w = r.apply(LinkType::ETHERNET, &mut head);
        assert!(w.changed && w.incremental);
        let mut whole = full.clone();
        let w2 = r.apply(LinkType::ETHERNET, &mut whole);
        assert!(!w2.incremental);
        assert_eq!(&head[..], &whole[..cut]);
        head.extend_from_slice(&full[cut..]);
        assert_eq!(transport_checksum_ok(LinkType::ETHERNET, &head), Some(true));
    }
}
