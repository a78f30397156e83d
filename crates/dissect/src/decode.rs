//! Zero-copy decoding of one frame into its layers.
//!
//! We decode ourselves (not with etherparse) because every layer must record where it sits in the
//! frame (for `-x` highlighting and protocol slices in the display filter), SLL2/NULL/LOOP and
//! stacked VLANs must be handled the same way, and a truncated frame must keep every layer that
//! was complete. Decoding never allocates and never panics: every read is bounds-checked.

use wiresift_capfile::LinkType;

/// Reads a big-endian u16 at `off`, or `None` past the end.
#[inline]
pub fn be16(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]))
}

#[inline]
pub fn be32(d: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *d.get(off)?,
        *d.get(off + 1)?,
        *d.get(off + 2)?,
        *d.get(off + 3)?,
    ]))
}

fn arr<const N: usize>(d: &[u8], off: usize) -> Option<[u8; N]> {
    d.get(off..off + N)?.try_into().ok()
}

pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_ARP: u16 = 0x0806;
pub const ETH_IPV6: u16 = 0x86dd;
pub const ETH_VLAN: u16 = 0x8100;
pub const ETH_QINQ: u16 = 0x88a8;
pub const ETH_QINQ_OLD: u16 = 0x9100;

/// The link layer of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet {
        dst: [u8; 6],
        src: [u8; 6],
        /// The EtherType/length field right after the addresses.
        etype: u16,
    },
    /// Linux cooked capture v1 (`-i any` on older libpcap).
    Sll {
        pkttype: u16,
        hatype: u16,
        addr: [u8; 8],
        addrlen: u16,
        proto: u16,
    },
    /// Linux cooked capture v2.
    Sll2 {
        proto: u16,
        ifindex: u32,
        hatype: u16,
        pkttype: u8,
        addr: [u8; 8],
        addrlen: u8,
    },
    /// BSD NULL/LOOP: an address family.
    Null { family: u32 },
    /// Raw IP, no link header.
    Raw,
    /// A link type we do not decode; the frame is still counted and written.
    Unknown(LinkType),
    /// The link header itself was cut short.
    Truncated,
}

/// One 802.1Q/802.1ad tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vlan {
    pub offset: u16,
    pub tpid: u16,
    pub pcp: u8,
    pub dei: bool,
    pub id: u16,
    /// EtherType after this tag.
    pub etype: u16,
}

/// IPv4 header facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4 {
    pub offset: usize,
    pub hdr_len: usize,
    pub tos: u8,
    pub total_len: u16,
    pub id: u16,
    /// The 16-bit flags+fragment offset word.
    pub frag: u16,
    pub ttl: u8,
    pub proto: u8,
    pub checksum: u16,
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

impl Ipv4 {
    pub fn df(&self) -> bool {
        self.frag & 0x4000 != 0
    }
    pub fn mf(&self) -> bool {
        self.frag & 0x2000 != 0
    }
    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (self.frag & 0x1fff) * 8
    }
    pub fn is_fragment(&self) -> bool {
        self.mf() || self.frag & 0x1fff != 0
    }
    pub fn options(&self) -> std::ops::Range<usize> {
        self.offset + 20..self.offset + self.hdr_len
    }
}

/// IPv6 fragment header facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Frag {
    pub offset_in_pkt: usize,
    pub next: u8,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
    pub more: bool,
    pub id: u32,
}

/// IPv6 header facts (after walking extension headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6 {
    pub offset: usize,
    pub tclass: u8,
    pub flow: u32,
    pub plen: u16,
    /// Next header of the fixed header.
    pub nxt: u8,
    pub hlim: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// The upper-layer protocol after extension headers.
    pub proto: u8,
    /// Offset of the upper-layer header.
    pub upper: usize,
    /// Extension headers walked, in order (up to 8): (type, offset).
    pub ext: [(u8, u16); 8],
    pub n_ext: u8,
    pub frag: Option<Ipv6Frag>,
}

/// The network layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    None,
    Ipv4(Ipv4),
    Ipv6(Ipv6),
    Arp {
        offset: usize,
    },
    /// An EtherType we do not decode.
    Other {
        etype: u16,
        offset: usize,
    },
}

/// TCP header facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp {
    pub offset: usize,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub hdr_len: usize,
    /// The 12 flag bits (NS..FIN).
    pub flags: u16,
    pub window: u16,
    pub checksum: u16,
    pub urgent: u16,
    /// Payload length according to the IP header (may exceed what was captured).
    pub payload_len: usize,
}

pub const TH_FIN: u16 = 0x01;
pub const TH_SYN: u16 = 0x02;
pub const TH_RST: u16 = 0x04;
pub const TH_PSH: u16 = 0x08;
pub const TH_ACK: u16 = 0x10;
pub const TH_URG: u16 = 0x20;
pub const TH_ECE: u16 = 0x40;
pub const TH_CWR: u16 = 0x80;

impl Tcp {
    pub fn payload_offset(&self) -> usize {
        self.offset + self.hdr_len
    }
    pub fn options(&self) -> std::ops::Range<usize> {
        self.offset + 20..self.offset + self.hdr_len
    }
}

/// The transport layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    None,
    Tcp(Tcp),
    Udp {
        offset: usize,
        sport: u16,
        dport: u16,
        length: u16,
        checksum: u16,
        /// Payload length from the IP header (or the UDP length).
        payload_len: usize,
    },
    Icmp {
        offset: usize,
        icmp_type: u8,
        code: u8,
        len: usize,
    },
    Icmpv6 {
        offset: usize,
        icmp_type: u8,
        code: u8,
        len: usize,
    },
    /// A non-first fragment: the upper header is elsewhere.
    Fragment {
        proto: u8,
    },
    /// Another IP protocol.
    Other {
        proto: u8,
        offset: usize,
    },
}

/// A decoded frame: the layers, by position in `data`.
#[derive(Clone, Copy, Debug)]
pub struct Layers {
    pub link: Link,
    /// Offset just past the link header (and any VLAN tags).
    pub link_len: usize,
    pub vlans: [Vlan; 4],
    pub n_vlans: u8,
    pub net: Net,
    pub transport: Transport,
    /// Where the transport payload starts and how long it is, clipped to what was captured.
    pub payload: (usize, usize),
    /// The first layer that was cut short, if any (as tcpdump's `[|tcp]`).
    pub truncated: Option<&'static str>,
}

impl Layers {
    /// Each decoded layer with the byte range it covers in the frame (for `-x`), in order.
    pub fn ranges(&self, frame_len: usize) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let mut v = Vec::new();
        let clip = |r: std::ops::Range<usize>| r.start.min(frame_len)..r.end.min(frame_len);
        let first_tag = self.vlans().first().map(|t| usize::from(t.offset));
        let link_end = first_tag.unwrap_or(self.link_len);
        let name = match self.link {
            Link::Ethernet { .. } => Some("eth"),
            Link::Sll { .. } | Link::Sll2 { .. } => Some("sll"),
            Link::Null { .. } => Some("null"),
            _ => None,
        };
        if let Some(n) = name {
            v.push((n, clip(0..link_end)));
        }
        for t in self.vlans() {
            let o = usize::from(t.offset);
            let n = if t.tpid == ETH_QINQ {
                "ieee8021ad"
            } else {
                "vlan"
            };
            v.push((n, clip(o..o + 4)));
        }
        match self.net {
            Net::Ipv4(ip) => v.push(("ip", clip(ip.offset..ip.offset + ip.hdr_len))),
            Net::Ipv6(ip) => v.push(("ipv6", clip(ip.offset..ip.upper))),
            Net::Arp { offset } => v.push(("arp", clip(offset..frame_len))),
            _ => {}
        }
        match self.transport {
            Transport::Tcp(t) => v.push(("tcp", clip(t.offset..t.offset + t.hdr_len))),
            Transport::Udp { offset, .. } => v.push(("udp", clip(offset..offset + 8))),
            Transport::Icmp { offset, len, .. } => v.push(("icmp", clip(offset..offset + len))),
            Transport::Icmpv6 { offset, len, .. } => v.push(("icmpv6", clip(offset..offset + len))),
            _ => {}
        }
        if self.payload.1 > 0
            && !matches!(
                self.transport,
                Transport::Icmp { .. } | Transport::Icmpv6 { .. }
            )
        {
            v.push((
                "payload",
                clip(self.payload.0..self.payload.0 + self.payload.1),
            ));
        }
        v.retain(|(_, r)| r.start < r.end);
        v
    }

    pub fn vlans(&self) -> &[Vlan] {
        &self.vlans[..usize::from(self.n_vlans)]
    }

    /// The transport payload bytes that were captured.
    pub fn payload<'d>(&self, data: &'d [u8]) -> &'d [u8] {
        let (o, l) = self.payload;
        data.get(o..o + l).unwrap_or_default()
    }

    pub fn tcp(&self) -> Option<&Tcp> {
        match &self.transport {
            Transport::Tcp(t) => Some(t),
            _ => None,
        }
    }
}

/// Decodes `data` captured with link type `link`.
pub fn decode(link: LinkType, data: &[u8]) -> Layers {
    let mut l = Layers {
        link: Link::Truncated,
        link_len: 0,
        vlans: [Vlan::default(); 4],
        n_vlans: 0,
        net: Net::None,
        transport: Transport::None,
        payload: (data.len(), 0),
        truncated: None,
    };
    let (etype, off) = match link {
        LinkType::ETHERNET => {
            let (Some(dst), Some(src), Some(etype)) = (arr(data, 0), arr(data, 6), be16(data, 12))
            else {
                l.truncated = Some("ether");
                return l;
            };
            l.link = Link::Ethernet { dst, src, etype };
            if etype <= 1500 {
                // 802.3 length field (LLC follows): not decoded further.
                l.link_len = 14;
                l.net = Net::Other { etype, offset: 14 };
                return l;
            }
            (etype, 14)
        }
        LinkType::LINUX_SLL => {
            let (Some(pkttype), Some(hatype), Some(addrlen), Some(addr), Some(proto)) = (
                be16(data, 0),
                be16(data, 2),
                be16(data, 4),
                arr(data, 6),
                be16(data, 14),
            ) else {
                l.truncated = Some("sll");
                return l;
            };
            l.link = Link::Sll {
                pkttype,
                hatype,
                addr,
                addrlen,
                proto,
            };
            (proto, 16)
        }
        LinkType::LINUX_SLL2 => {
            let (
                Some(proto),
                Some(ifindex),
                Some(hatype),
                Some(&pkttype),
                Some(&addrlen),
                Some(addr),
            ) = (
                be16(data, 0),
                be32(data, 4),
                be16(data, 8),
                data.get(10),
                data.get(11),
                arr(data, 12),
            )
            else {
                l.truncated = Some("sll2");
                return l;
            };
            l.link = Link::Sll2 {
                proto,
                ifindex,
                hatype,
                pkttype,
                addr,
                addrlen,
            };
            (proto, 20)
        }
        LinkType::NULL | LinkType::LOOP => {
            let Some(raw) = arr::<4>(data, 0) else {
                l.truncated = Some("null");
                return l;
            };
            // NULL is host byte order of the capturing machine: accept either; LOOP is network order.
            let family = if link == LinkType::LOOP {
                u32::from_be_bytes(raw)
            } else {
                let le = u32::from_le_bytes(raw);
                if le & 0xffff_0000 != 0 {
                    u32::from_be_bytes(raw)
                } else {
                    le
                }
            };
            l.link = Link::Null { family };
            let etype = match family {
                2 => ETH_IPV4,
                24 | 28 | 30 => ETH_IPV6,
                _ => 0,
            };
            (etype, 4)
        }
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => {
            l.link = Link::Raw;
            let etype = match data.first().map(|b| b >> 4) {
                Some(4) => ETH_IPV4,
                Some(6) => ETH_IPV6,
                _ => 0,
            };
            (etype, 0)
        }
        other => {
            l.link = Link::Unknown(other);
            l.link_len = 0;
            return l;
        }
    };
    let (etype, off) = vlan_tags(&mut l, data, etype, off);
    l.link_len = off;
    decode_net(&mut l, data, etype, off);
    l
}

fn vlan_tags(l: &mut Layers, data: &[u8], mut etype: u16, mut off: usize) -> (u16, usize) {
    while matches!(etype, ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD) {
        let (Some(tci), Some(next)) = (be16(data, off), be16(data, off + 2)) else {
            l.truncated = Some("vlan");
            return (0, off);
        };
        if usize::from(l.n_vlans) < l.vlans.len() {
            l.vlans[usize::from(l.n_vlans)] = Vlan {
                offset: off.min(u16::MAX as usize) as u16,
                tpid: etype,
                pcp: (tci >> 13) as u8,
                dei: tci & 0x1000 != 0,
                id: tci & 0x0fff,
                etype: next,
            };
            l.n_vlans += 1;
        }
        etype = next;
        off += 4;
    }
    (etype, off)
}

fn decode_net(l: &mut Layers, data: &[u8], etype: u16, off: usize) {
    match etype {
        ETH_IPV4 => decode_ipv4(l, data, off),
        ETH_IPV6 => decode_ipv6(l, data, off),
        ETH_ARP | 0x8035 => {
            l.net = Net::Arp { offset: off };
            if data.len() < off + 8 {
                l.truncated = Some("arp");
            }
        }
        0 if l.truncated.is_some() => {}
        _ => l.net = Net::Other { etype, offset: off },
    }
}

fn decode_ipv4(l: &mut Layers, data: &[u8], off: usize) {
    let Some(h) = data.get(off..off + 20) else {
        l.truncated = Some("ip");
        return;
    };
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let ip = Ipv4 {
        offset: off,
        hdr_len: ihl,
        tos: h[1],
        total_len: u16::from_be_bytes([h[2], h[3]]),
        id: u16::from_be_bytes([h[4], h[5]]),
        frag: u16::from_be_bytes([h[6], h[7]]),
        ttl: h[8],
        proto: h[9],
        checksum: u16::from_be_bytes([h[10], h[11]]),
        src: [h[12], h[13], h[14], h[15]],
        dst: [h[16], h[17], h[18], h[19]],
    };
    l.net = Net::Ipv4(ip);
    if h[0] >> 4 != 4 || ihl < 20 || data.len() < off + ihl {
        l.truncated = Some("ip");
        return;
    }
    // Payload per the IP header; a zero total length (TSO) means "whatever was captured".
    let ip_end = if ip.total_len == 0 {
        data.len()
    } else {
        off + usize::from(ip.total_len).max(ihl)
    };
    let upper = off + ihl;
    let upper_len = ip_end.saturating_sub(upper);
    if ip.frag & 0x1fff != 0 {
        l.transport = Transport::Fragment { proto: ip.proto };
        set_payload(l, data, upper, upper_len);
        return;
    }
    decode_transport(l, data, ip.proto, upper, upper_len, false);
}

fn decode_ipv6(l: &mut Layers, data: &[u8], off: usize) {
    let Some(h) = data.get(off..off + 40) else {
        l.truncated = Some("ip6");
        return;
    };
    let mut ip = Ipv6 {
        offset: off,
        tclass: ((u16::from_be_bytes([h[0], h[1]]) >> 4) & 0xff) as u8,
        flow: u32::from_be_bytes([h[0], h[1], h[2], h[3]]) & 0x000f_ffff,
        plen: u16::from_be_bytes([h[4], h[5]]),
        nxt: h[6],
        hlim: h[7],
        src: h[8..24].try_into().unwrap_or_default(),
        dst: h[24..40].try_into().unwrap_or_default(),
        proto: h[6],
        upper: off + 40,
        ext: [(0, 0); 8],
        n_ext: 0,
        frag: None,
    };
    let end = if ip.plen == 0 {
        data.len()
    } else {
        off + 40 + usize::from(ip.plen)
    };
    let mut nxt = ip.nxt;
    let mut p = off + 40;
    let mut non_first_frag = false;
    // Walk extension headers: hop-by-hop, routing, fragment, destination options, (mobility).
    while matches!(nxt, 0 | 43 | 60 | 135 | 44) {
        if usize::from(ip.n_ext) >= ip.ext.len() {
            break;
        }
        ip.ext[usize::from(ip.n_ext)] = (nxt, p.min(u16::MAX as usize) as u16);
        ip.n_ext += 1;
        let (Some(&n), Some(&len)) = (data.get(p), data.get(p + 1)) else {
            ip.proto = nxt;
            ip.upper = p;
            l.net = Net::Ipv6(ip);
            l.truncated = Some("ip6");
            return;
        };
        if nxt == 44 {
            let Some(fo) = be16(data, p + 2) else {
                l.net = Net::Ipv6(ip);
                l.truncated = Some("frag");
                return;
            };
            let id = be32(data, p + 4).unwrap_or(0);
            let f = Ipv6Frag {
                offset_in_pkt: p,
                next: n,
                frag_offset: fo & 0xfff8,
                more: fo & 1 != 0,
                id,
            };
            ip.frag = Some(f);
            non_first_frag = f.frag_offset != 0;
            nxt = n;
            p += 8;
            if non_first_frag {
                break;
            }
            continue;
        }
        nxt = n;
        p += (usize::from(len) + 1) * 8;
    }
    ip.proto = nxt;
    ip.upper = p;
    l.net = Net::Ipv6(ip);
    let upper_len = end.saturating_sub(p);
    if non_first_frag {
        l.transport = Transport::Fragment { proto: nxt };
        set_payload(l, data, p, upper_len);
        return;
    }
    decode_transport(l, data, nxt, p, upper_len, true);
}

fn set_payload(l: &mut Layers, data: &[u8], off: usize, len: usize) {
    let avail = data.len().saturating_sub(off);
    l.payload = (off.min(data.len()), len.min(avail));
}

fn decode_transport(l: &mut Layers, data: &[u8], proto: u8, off: usize, len: usize, v6: bool) {
    match proto {
        6 => {
            let Some(h) = data.get(off..off + 20) else {
                l.transport = Transport::Other { proto, offset: off };
                l.truncated = Some("tcp");
                return;
            };
            let hdr_len = usize::from(h[12] >> 4) * 4;
            let t = Tcp {
                offset: off,
                sport: u16::from_be_bytes([h[0], h[1]]),
                dport: u16::from_be_bytes([h[2], h[3]]),
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                hdr_len,
                flags: u16::from_be_bytes([h[12], h[13]]) & 0x0fff,
                window: u16::from_be_bytes([h[14], h[15]]),
                checksum: u16::from_be_bytes([h[16], h[17]]),
                urgent: u16::from_be_bytes([h[18], h[19]]),
                payload_len: len.saturating_sub(hdr_len),
            };
            l.transport = Transport::Tcp(t);
            if hdr_len < 20 || data.len() < off + hdr_len {
                l.truncated = Some("tcp");
                l.payload = (data.len(), 0);
                return;
            }
            set_payload(l, data, off + hdr_len, t.payload_len);
        }
        17 => {
            let Some(h) = data.get(off..off + 8) else {
                l.transport = Transport::Other { proto, offset: off };
                l.truncated = Some("udp");
                return;
            };
            let length = u16::from_be_bytes([h[4], h[5]]);
            let payload_len = usize::from(length)
                .saturating_sub(8)
                .min(len.saturating_sub(8));
            l.transport = Transport::Udp {
                offset: off,
                sport: u16::from_be_bytes([h[0], h[1]]),
                dport: u16::from_be_bytes([h[2], h[3]]),
                length,
                checksum: u16::from_be_bytes([h[6], h[7]]),
                payload_len,
            };
            set_payload(l, data, off + 8, payload_len);
        }
        1 if !v6 => {
            let (Some(&t), Some(&c)) = (data.get(off), data.get(off + 1)) else {
                l.transport = Transport::Other { proto, offset: off };
                l.truncated = Some("icmp");
                return;
            };
            l.transport = Transport::Icmp {
                offset: off,
                icmp_type: t,
                code: c,
                len,
            };
            set_payload(l, data, off, len);
        }
        58 => {
            let (Some(&t), Some(&c)) = (data.get(off), data.get(off + 1)) else {
                l.transport = Transport::Other { proto, offset: off };
                l.truncated = Some("icmp6");
                return;
            };
            l.transport = Transport::Icmpv6 {
                offset: off,
                icmp_type: t,
                code: c,
                len,
            };
            set_payload(l, data, off, len);
        }
        _ => {
            l.transport = Transport::Other { proto, offset: off };
            set_payload(l, data, off, len);
        }
    }
}

/// Decodes an upper-layer datagram on its own (a reassembled IP payload): only the transport
/// and payload are set, with offsets into `data`.
pub fn decode_upper(proto: u8, data: &[u8], v6: bool) -> Layers {
    let mut l = Layers {
        link: Link::Raw,
        link_len: 0,
        vlans: [Vlan::default(); 4],
        n_vlans: 0,
        net: Net::None,
        transport: Transport::None,
        payload: (data.len(), 0),
        truncated: None,
    };
    decode_transport(&mut l, data, proto, 0, data.len(), v6);
    l
}

/// The packet quoted in an ICMP/ICMPv6 error (destination unreachable, time exceeded, ...):
/// its offset in the frame and its layers. Wireshark dissects its IP and transport headers, and
/// numbers the quoted flow's stream, so fields and the flow engine both look at it.
pub fn icmp_quoted(data: &[u8], l: &Layers) -> Option<(usize, Layers)> {
    let (off, v6) = match l.transport {
        Transport::Icmp {
            offset,
            icmp_type: 3 | 4 | 5 | 11 | 12,
            ..
        } => (offset + 8, false),
        Transport::Icmpv6 {
            offset, icmp_type, ..
        } if (1..=4).contains(&icmp_type) => (offset + 8, true),
        _ => return None,
    };
    let inner = data.get(off..)?;
    let link = if v6 { LinkType::IPV6 } else { LinkType::IPV4 };
    Some((off, decode(link, inner)))
}

/// A TCP option, as found in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    Eol,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Sack(&'a [u8]),
    Timestamp {
        val: u32,
        ecr: u32,
    },
    Other {
        kind: u8,
        data: &'a [u8],
    },
    /// An option whose length runs past the header.
    Bad {
        kind: u8,
        len: u8,
    },
}

/// Iterates TCP options in `opts` (the bytes between the fixed header and the payload).
pub fn tcp_options(opts: &[u8]) -> impl Iterator<Item = TcpOption<'_>> {
    let mut p = 0usize;
    let mut done = false;
    std::iter::from_fn(move || {
        if done || p >= opts.len() {
            return None;
        }
        let kind = opts[p];
        match kind {
            0 => {
                // Nothing after End of Option List is an option (tcpdump stops here too).
                done = true;
                Some(TcpOption::Eol)
            }
            1 => {
                p += 1;
                Some(TcpOption::Nop)
            }
            _ => {
                let Some(&len) = opts.get(p + 1) else {
                    done = true;
                    return Some(TcpOption::Bad { kind, len: 0 });
                };
                if len < 2 || p + usize::from(len) > opts.len() {
                    done = true;
                    return Some(TcpOption::Bad { kind, len });
                }
                let v = &opts[p + 2..p + usize::from(len)];
                p += usize::from(len);
                Some(match (kind, v.len()) {
                    (2, 2) => TcpOption::Mss(u16::from_be_bytes([v[0], v[1]])),
                    (3, 1) => TcpOption::WindowScale(v[0]),
                    (4, 0) => TcpOption::SackPermitted,
                    (5, _) => TcpOption::Sack(v),
                    (8, 8) => TcpOption::Timestamp {
                        val: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                        ecr: u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
                    },
                    _ => TcpOption::Other { kind, data: v },
                })
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_ipv4_tcp() -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        f.extend_from_slice(&[
            0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[
            0x01, 0xbb, 0xc9, 0x3a, 0, 0, 0, 1, 0, 0, 0, 2, 0x60, 0x18, 1, 0xf5, 0, 0, 0, 0, 2, 4,
            5, 0xb4,
        ]);
        f.extend_from_slice(b"hi\x00\x00");
        f
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let f = eth_ipv4_tcp();
        let l = decode(LinkType::ETHERNET, &f);
        let Net::Ipv4(ip) = l.net else { panic!() };
        assert_eq!(ip.src, [10, 0, 0, 1]);
        let t = l.tcp().copied().expect("tcp");
        assert_eq!(
            (t.sport, t.dport, t.flags, t.payload_len),
            (443, 51514, 0x18, 0)
        );
        let opts: Vec<_> = tcp_options(&f[t.options()]).collect();
        assert_eq!(opts, vec![TcpOption::Mss(1460)]);
    }

    #[test]
    fn every_prefix_decodes_without_panic() {
        let f = eth_ipv4_tcp();
        for n in 0..f.len() {
            for lt in [0, 1, 101, 108, 113, 276, 228, 229, 147] {
                let _ = decode(LinkType(lt), &f[..n]);
            }
        }
    }
}
