//! Just enough packet decoding for the flow tests: link layers, IPv4/IPv6 (with fragments),
//! TCP and UDP. Tests only; the real decoder is wiresift-dissect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use wiresift_flow::FragKey;

/// An IP datagram (or fragment of one).
pub struct Ip<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// The IP payload as captured (trimmed to the IP length).
    pub payload: &'a [u8],
    /// The IP payload length on the wire.
    pub wire_len: usize,
    pub frag: Option<Frag>,
}

pub struct Frag {
    pub key: FragKey,
    pub offset: usize,
    pub more: bool,
}

/// Finds the IP layer of a frame.
pub fn ip_of(linktype: u32, d: &[u8]) -> Option<Ip<'_>> {
    let (ethertype, rest) = match linktype {
        1 => ether(d)?,
        113 => {
            let et = u16::from_be_bytes([*d.get(14)?, *d.get(15)?]);
            vlan(et, d.get(16..)?)?
        }
        276 => {
            let et = u16::from_be_bytes([*d.first()?, *d.get(1)?]);
            vlan(et, d.get(20..)?)?
        }
        0 | 108 => {
            let fam_le = u32::from_le_bytes(d.get(..4)?.try_into().ok()?);
            let fam_be = u32::from_be_bytes(d.get(..4)?.try_into().ok()?);
            let fam = if fam_le < 256 { fam_le } else { fam_be };
            let et = match fam {
                2 => 0x0800,
                24 | 28 | 30 => 0x86dd,
                _ => return None,
            };
            (et, d.get(4..)?)
        }
        101 | 12 | 14 | 228 | 229 => {
            let v = d.first()? >> 4;
            (if v == 6 { 0x86dd } else { 0x0800 }, d)
        }
        _ => return None,
    };
    match ethertype {
        0x0800 => ipv4(rest),
        0x86dd => ipv6(rest),
        _ => None,
    }
}

fn ether(d: &[u8]) -> Option<(u16, &[u8])> {
    let et = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
    vlan(et, d.get(14..)?)
}

fn vlan(mut et: u16, mut d: &[u8]) -> Option<(u16, &[u8])> {
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) {
        et = u16::from_be_bytes([*d.get(2)?, *d.get(3)?]);
        d = d.get(4..)?;
    }
    Some((et, d))
}

fn ipv4(d: &[u8]) -> Option<Ip<'_>> {
    if d.len() < 20 || d[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(d[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([d[2], d[3]]));
    if ihl < 20 || total < ihl {
        return None;
    }
    let id = u16::from_be_bytes([d[4], d[5]]);
    let ff = u16::from_be_bytes([d[6], d[7]]);
    let more = ff & 0x2000 != 0;
    let offset = usize::from(ff & 0x1fff) * 8;
    let proto = d[9];
    let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    let payload = d.get(ihl..total.min(d.len()))?;
    let frag = (more || offset > 0).then_some(Frag {
        key: FragKey::V4 {
            src,
            dst,
            id,
            proto,
        },
        offset,
        more,
    });
    Some(Ip {
        src: src.into(),
        dst: dst.into(),
        proto,
        payload,
        wire_len: total - ihl,
        frag,
    })
}

fn ipv6(d: &[u8]) -> Option<Ip<'_>> {
    if d.len() < 40 || d[0] >> 4 != 6 {
        return None;
    }
    let plen = usize::from(u16::from_be_bytes([d[4], d[5]]));
    let mut nh = d[6];
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&d[8..24]).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&d[24..40]).ok()?);
    let mut p = d.get(40..(40 + plen).min(d.len()))?;
    let mut wire = plen;
    let mut frag = None;
    loop {
        match nh {
            0 | 43 | 60 => {
                let l = (usize::from(*p.get(1)?) + 1) * 8;
                nh = *p.first()?;
                p = p.get(l..)?;
                wire = wire.checked_sub(l)?;
            }
            44 => {
                let next = *p.first()?;
                let fo = u16::from_be_bytes([*p.get(2)?, *p.get(3)?]);
                let ident = u32::from_be_bytes(p.get(4..8)?.try_into().ok()?);
                let offset = usize::from(fo >> 3) * 8;
                let more = fo & 1 != 0;
                nh = next;
                p = p.get(8..)?;
                wire = wire.checked_sub(8)?;
                // Atomic fragments (offset 0, no more) are not reassembled.
                if offset != 0 || more {
                    frag = Some(Frag {
                        key: FragKey::V6 { src, dst, ident },
                        offset,
                        more,
                    });
                }
                break;
            }
            _ => break,
        }
    }
    Some(Ip {
        src: src.into(),
        dst: dst.into(),
        proto: nh,
        payload: p,
        wire_len: wire,
        frag,
    })
}

/// A transport header parsed from an IP payload.
pub enum L4<'a> {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u16,
        window: u16,
        wscale: Option<u8>,
        payload: &'a [u8],
        seg_len: u32,
    },
    Udp {
        sport: u16,
        dport: u16,
        payload: &'a [u8],
    },
    /// An ICMP error quoting a TCP/UDP header: (proto, src, sport, dst, dport).
    IcmpInner(u8, IpAddr, u16, IpAddr, u16),
}

pub fn l4<'a>(ip: &Ip<'a>, data: &'a [u8], wire_len: usize) -> Option<L4<'a>> {
    match ip.proto {
        6 => {
            if data.len() < 20 {
                return None;
            }
            let hl = usize::from(data[12] >> 4) * 4;
            if hl < 20 || hl > data.len() {
                return None;
            }
            let flags = u16::from_be_bytes([data[12] & 0x01, data[13]]);
            let mut wscale = None;
            if flags & 0x02 != 0 {
                let mut o = 20;
                while o < hl {
                    match data[o] {
                        0 => break,
                        1 => o += 1,
                        k => {
                            let l = usize::from(*data.get(o + 1)?);
                            if l < 2 {
                                break;
                            }
                            if k == 3 && l == 3 {
                                wscale = data.get(o + 2).copied();
                            }
                            o += l;
                        }
                    }
                }
            }
            let seg_len = wire_len.saturating_sub(hl) as u32;
            let payload = &data[hl..data.len().min(hl + seg_len as usize)];
            Some(L4::Tcp {
                sport: u16::from_be_bytes([data[0], data[1]]),
                dport: u16::from_be_bytes([data[2], data[3]]),
                seq: u32::from_be_bytes(data[4..8].try_into().ok()?),
                ack: u32::from_be_bytes(data[8..12].try_into().ok()?),
                flags,
                window: u16::from_be_bytes([data[14], data[15]]),
                wscale,
                payload,
                seg_len,
            })
        }
        17 => {
            if data.len() < 8 {
                return None;
            }
            let ulen = usize::from(u16::from_be_bytes([data[4], data[5]]));
            let end = ulen.clamp(8, data.len());
            Some(L4::Udp {
                sport: u16::from_be_bytes([data[0], data[1]]),
                dport: u16::from_be_bytes([data[2], data[3]]),
                payload: &data[8..end],
            })
        }
        1 | 58 => {
            let t = *data.first()?;
            let err = if ip.proto == 1 {
                matches!(t, 3 | 4 | 5 | 11 | 12)
            } else {
                (1..=4).contains(&t)
            };
            if !err {
                return None;
            }
            let inner = data.get(8..)?;
            let iip = if ip.proto == 1 {
                ipv4(inner)?
            } else {
                ipv6(inner)?
            };
            if iip.proto != 6 && iip.proto != 17 {
                return None;
            }
            let p = iip.payload;
            if p.len() < 4 {
                return None;
            }
            Some(L4::IcmpInner(
                iip.proto,
                iip.src,
                u16::from_be_bytes([p[0], p[1]]),
                iip.dst,
                u16::from_be_bytes([p[2], p[3]]),
            ))
        }
        _ => None,
    }
}
