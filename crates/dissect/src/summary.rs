//! tcpdump-style one-line summaries (`tcpdump -n` layout, `TZ=UTC`).
//!
//! tcpdump prints TCP sequence numbers relative to the first packet it saw of each connection
//! (only on packets with ACK set); we keep the same per-connection state so lines compare equal
//! to tcpdump's. The state is capped ([`MAX_SEQ_ENTRIES`]) instead of growing without bound.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::decode::{
    self, Layers, Link, Net, TH_ACK, TH_CWR, TH_ECE, TH_FIN, TH_PSH, TH_RST, TH_SYN, TH_URG,
    TcpOption, Transport,
};
use crate::dns;
use crate::fmt::{push_ipv4, push_ipv6, push_mac, push_u64};

/// Connections remembered for relative sequence numbers; beyond this the table starts over.
pub const MAX_SEQ_ENTRIES: usize = 1 << 20;

/// FNV-1a: the keys are small and not attacker-chosen in a way that matters for a local tool.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct SeqKey {
    a: [u8; 16],
    b: [u8; 16],
    ports: u32,
}

/// Writes summary lines; keeps tcpdump's relative-sequence state between frames.
#[derive(Default)]
pub struct Summarizer {
    seqs: HashMap<SeqKey, (u32, u32), BuildHasherDefault<Fnv>>,
    /// Absolute sequence numbers (`tcpdump -S`).
    pub absolute_seq: bool,
    /// Names for Linux SLL2 interface indexes (tcpdump looks them up on the reading machine).
    pub ifnames: HashMap<u32, String>,
    scratch: String,
    /// The relative-sequence base the last TCP line used (see [`SeqBase`]).
    last_base: SeqBase,
    /// When set, the next TCP line uses this base instead of the per-connection table: a
    /// caller that summarizes frames out of order (a page of the UI's packet list) replays
    /// the base recorded when the frame was first summarized in order.
    pub seq_override: Option<SeqBase>,
}

/// How a TCP line's sequence numbers were printed: absolute (no ACK flag, or `-S`), absolute
/// on the first packet of a connection (which sets the base), or relative to a base.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeqBase {
    #[default]
    Absolute,
    First(u32, u32),
    Relative(u32, u32),
}

const FLAG_CHARS: [(u16, u8); 8] = [
    (TH_FIN, b'F'),
    (TH_SYN, b'S'),
    (TH_RST, b'R'),
    (TH_PSH, b'P'),
    (TH_ACK, b'.'),
    (TH_URG, b'U'),
    (TH_ECE, b'E'),
    (TH_CWR, b'W'),
];

fn addr16(a: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 16];
    let n = a.len().min(16);
    k[..n].copy_from_slice(&a[..n]);
    k
}

impl Summarizer {
    /// The base the last TCP line used; [`SeqBase::Absolute`] for other lines.
    pub fn last_seq_base(&self) -> SeqBase {
        self.last_base
    }

    pub fn new() -> Summarizer {
        Summarizer::default()
    }

    /// Appends the summary (without timestamp and newline) of a frame to `out`.
    pub fn write(&mut self, out: &mut Vec<u8>, data: &[u8], l: &Layers, orig_len: u32) {
        self.last_base = SeqBase::Absolute;
        match l.link {
            Link::Sll2 {
                ifindex, pkttype, ..
            } => {
                let start = out.len();
                match self.ifnames.get(&ifindex) {
                    Some(n) => out.extend_from_slice(n.as_bytes()),
                    None => out.push(b'?'),
                }
                while out.len() - start < 5 {
                    out.push(b' ');
                }
                out.push(b' ');
                let dir: &[u8] = match pkttype {
                    0 => b"In ",
                    1 => b"B  ",
                    2 => b"M  ",
                    3 => b"P  ",
                    4 => b"Out",
                    _ => b"?  ",
                };
                out.extend_from_slice(dir);
                out.push(b' ');
            }
            Link::Unknown(lt) => {
                out.extend_from_slice(
                    format!("[link type {lt} ({})] length {orig_len}", lt.0).as_bytes(),
                );
                return;
            }
            Link::Truncated => {
                out.extend_from_slice(b"[|");
                out.extend_from_slice(l.truncated.unwrap_or("link").as_bytes());
                out.push(b']');
                return;
            }
            _ => {}
        }
        match l.net {
            Net::Ipv4(ip) => {
                out.extend_from_slice(b"IP ");
                self.ip_body(out, data, l, &ip.src, &ip.dst, true, 0);
            }
            Net::Ipv6(ip) => {
                out.extend_from_slice(b"IP6 ");
                self.ipv6(out, data, l, &ip);
            }
            Net::Arp { offset } => arp(out, data, offset),
            Net::Other { etype, offset } => {
                let len = data.len().saturating_sub(offset);
                if etype <= 1500 {
                    out.extend_from_slice(b"802.3, length ");
                    push_u64(out, len as u64);
                } else {
                    out.extend_from_slice(
                        format!("ethertype Unknown (0x{etype:04x}), length {}", orig_len)
                            .as_bytes(),
                    );
                }
            }
            Net::None => {
                if let Link::Null { family } = l.link {
                    out.extend_from_slice(format!("AF {family}, length {orig_len}").as_bytes());
                } else {
                    out.extend_from_slice(b"[|");
                    out.extend_from_slice(l.truncated.unwrap_or("unknown").as_bytes());
                    out.push(b']');
                }
            }
        }
        if let Some(t) = l.truncated
            && !out.ends_with(b"]")
        {
            out.extend_from_slice(b" [|");
            out.extend_from_slice(t.as_bytes());
            out.push(b']');
        }
    }

    fn ipv6(&mut self, out: &mut Vec<u8>, data: &[u8], l: &Layers, ip: &decode::Ipv6) {
        if ip.n_ext == 0 {
            self.ip_body(out, data, l, &ip.src, &ip.dst, true, 0);
            return;
        }
        push_ipv6(out, ip.src);
        out.extend_from_slice(b" > ");
        push_ipv6(out, ip.dst);
        out.extend_from_slice(b": ");
        for &(t, off) in &ip.ext[..usize::from(ip.n_ext)] {
            match t {
                0 => out.extend_from_slice(b"HBH "),
                60 => out.extend_from_slice(b"DSTOPT "),
                43 => {
                    let rt = data.get(usize::from(off)..).unwrap_or_default();
                    if let (Some(&len), Some(&ty), Some(&left)) = (rt.get(1), rt.get(2), rt.get(3))
                    {
                        out.extend_from_slice(
                            format!(
                                "RT6 (len={len}, type={ty}{}, segleft={left}) ",
                                if ty == 0 { " [Deprecated]" } else { "" }
                            )
                            .as_bytes(),
                        );
                    } else {
                        out.extend_from_slice(b"RT6 [|rt6] ");
                    }
                }
                135 => out.extend_from_slice(b"mobility "),
                44 => {
                    if let Some(f) = ip.frag {
                        let flen = l.payload.1 as u64;
                        let flen = if f.frag_offset == 0 {
                            // First fragment: length of everything after the fragment header.
                            (usize::from(ip.plen) + ip.offset + 40)
                                .saturating_sub(f.offset_in_pkt + 8)
                                as u64
                        } else {
                            flen
                        };
                        out.extend_from_slice(b"frag (");
                        push_u64(out, u64::from(f.frag_offset));
                        out.push(b'|');
                        push_u64(out, flen);
                        out.extend_from_slice(b") ");
                    }
                }
                _ => {}
            }
        }
        if matches!(l.transport, Transport::Fragment { .. }) {
            if out.ends_with(b" ") {
                out.pop();
            }
            return;
        }
        self.ip_body(out, data, l, &ip.src, &ip.dst, false, 0);
    }

    /// Transport part; `with_addrs`: print `addr.port > addr.port` (else ports only, as tcpdump
    /// does after IPv6 extension headers).
    #[allow(clippy::too_many_arguments)]
    fn ip_body(
        &mut self,
        out: &mut Vec<u8>,
        data: &[u8],
        l: &Layers,
        src: &[u8],
        dst: &[u8],
        with_addrs: bool,
        _depth: u8,
    ) {
        let push_addr = |out: &mut Vec<u8>, a: &[u8]| {
            if a.len() == 4 {
                push_ipv4(out, [a[0], a[1], a[2], a[3]]);
            } else {
                push_ipv6(out, addr16(a));
            }
        };
        let endpoints = |out: &mut Vec<u8>, sport: u16, dport: u16| {
            if with_addrs {
                push_addr(out, src);
                out.push(b'.');
            }
            push_u64(out, u64::from(sport));
            out.extend_from_slice(b" > ");
            if with_addrs {
                push_addr(out, dst);
                out.push(b'.');
            }
            push_u64(out, u64::from(dport));
            out.extend_from_slice(b": ");
        };
        let addrs_only = |out: &mut Vec<u8>| {
            if with_addrs {
                push_addr(out, src);
                out.extend_from_slice(b" > ");
                push_addr(out, dst);
                out.extend_from_slice(b": ");
            }
        };
        match l.transport {
            Transport::Tcp(t) => {
                endpoints(out, t.sport, t.dport);
                self.tcp(out, data, l, &t, src, dst);
            }
            Transport::Udp {
                sport,
                dport,
                payload_len,
                ..
            } => {
                endpoints(out, sport, dport);
                let payload = l.payload(data);
                if (sport == 53 || dport == 53 || sport == 5353 || dport == 5353)
                    && self.dns(out, payload, payload_len)
                {
                    return;
                }
                out.extend_from_slice(b"UDP, length ");
                push_u64(out, payload_len as u64);
            }
            Transport::Icmp {
                offset,
                icmp_type,
                code,
                len,
            } => {
                addrs_only(out);
                icmp(out, data, offset, icmp_type, code, len);
            }
            Transport::Icmpv6 {
                offset,
                icmp_type,
                code,
                len,
            } => {
                addrs_only(out);
                icmpv6(out, data, offset, icmp_type, code, len);
            }
            Transport::Fragment { proto } => {
                if with_addrs {
                    push_addr(out, src);
                    out.extend_from_slice(b" > ");
                    push_addr(out, dst);
                    out.push(b':');
                }
                out.extend_from_slice(b" ip-proto-");
                push_u64(out, u64::from(proto));
            }
            Transport::Other { proto, .. } => {
                addrs_only(out);
                let name: &[u8] = match proto {
                    2 => b"igmp",
                    47 => b"GREv0",
                    50 => b"ESP",
                    51 => b"AH",
                    89 => b"OSPFv2",
                    103 => b"PIMv2",
                    112 => b"VRRPv2",
                    132 => b"sctp",
                    _ => b"",
                };
                if name.is_empty() {
                    out.extend_from_slice(b"ip-proto-");
                    push_u64(out, u64::from(proto));
                } else {
                    out.extend_from_slice(name);
                }
                out.push(b' ');
                push_u64(out, l.payload.1 as u64);
            }
            Transport::None => {
                addrs_only(out);
                if out.ends_with(b": ") {
                    out.truncate(out.len() - 2);
                }
            }
        }
    }

    fn tcp(
        &mut self,
        out: &mut Vec<u8>,
        data: &[u8],
        l: &Layers,
        t: &decode::Tcp,
        src: &[u8],
        dst: &[u8],
    ) {
        if t.hdr_len < 20 {
            out.extend_from_slice(b"[bad hdr length ");
            push_u64(out, t.hdr_len as u64);
            out.extend_from_slice(b" - too short, < 20]");
            return;
        }
        out.extend_from_slice(b"Flags [");
        let mut any = false;
        for (bit, c) in FLAG_CHARS {
            if t.flags & bit != 0 {
                out.push(c);
                any = true;
            }
        }
        if !any {
            out.extend_from_slice(b"none");
        }
        out.push(b']');
        let (mut seq, mut ack) = (t.seq, t.ack);
        let (mut thseq, mut thack, mut rev) = (0u32, 0u32, false);
        if !self.absolute_seq && t.flags & TH_ACK != 0 {
            let (sa, da) = (addr16(src), addr16(dst));
            let key = if sa > da || (sa == da && t.sport > t.dport) {
                rev = true;
                SeqKey {
                    a: da,
                    b: sa,
                    ports: u32::from(t.dport) << 16 | u32::from(t.sport),
                }
            } else {
                SeqKey {
                    a: sa,
                    b: da,
                    ports: u32::from(t.sport) << 16 | u32::from(t.dport),
                }
            };
            let entry = match self.seq_override.take() {
                Some(SeqBase::Relative(s, a)) => Some((s, a)),
                Some(SeqBase::First(s, a)) => {
                    (thseq, thack) = (s, a);
                    self.last_base = SeqBase::First(s, a);
                    None
                }
                Some(SeqBase::Absolute) => None,
                None => self.seqs.get(&key).copied(),
            };
            match entry {
                Some((s, a)) if t.flags & TH_SYN == 0 => {
                    if rev {
                        seq = seq.wrapping_sub(a);
                        ack = ack.wrapping_sub(s);
                    } else {
                        seq = seq.wrapping_sub(s);
                        ack = ack.wrapping_sub(a);
                    }
                    (thseq, thack) = (s, a);
                    self.last_base = SeqBase::Relative(s, a);
                }
                _ if matches!(self.last_base, SeqBase::First(..)) => {}
                _ => {
                    if self.seqs.len() >= MAX_SEQ_ENTRIES {
                        self.seqs.clear();
                    }
                    let v = if rev {
                        (t.ack.wrapping_sub(1), t.seq)
                    } else {
                        (t.seq, t.ack.wrapping_sub(1))
                    };
                    self.seqs.insert(key, v);
                    (thseq, thack) = v;
                    self.last_base = SeqBase::First(v.0, v.1);
                }
            }
        }
        let len = t.payload_len;
        if len > 0 || t.flags & (TH_SYN | TH_FIN | TH_RST) != 0 {
            out.extend_from_slice(b", seq ");
            push_u64(out, u64::from(seq));
            if len > 0 {
                out.push(b':');
                push_u64(out, u64::from(seq.wrapping_add(len as u32)));
            }
        }
        if t.flags & TH_ACK != 0 {
            out.extend_from_slice(b", ack ");
            push_u64(out, u64::from(ack));
        }
        out.extend_from_slice(b", win ");
        push_u64(out, u64::from(t.window));
        if t.flags & TH_URG != 0 {
            out.extend_from_slice(b", urg ");
            push_u64(out, u64::from(t.urgent));
        }
        let opts = data.get(t.options()).unwrap_or_default();
        if !opts.is_empty() {
            out.extend_from_slice(b", options [");
            for (i, o) in decode::tcp_options(opts).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                tcp_option(out, &o, rev, thseq, thack);
            }
            out.push(b']');
        }
        out.extend_from_slice(b", length ");
        push_u64(out, len as u64);
        if len == 0 {
            return;
        }
        let payload = l.payload(data);
        let (sp, dp) = (t.sport, t.dport);
        let proto: Option<(&[u8], bool)> =
            if [80, 8080, 3128].contains(&sp) || [80, 8080, 3128].contains(&dp) {
                Some((b"HTTP", true))
            } else if sp == 25 || dp == 25 {
                Some((b"SMTP", false))
            } else if sp == 21 || dp == 21 {
                Some((b"FTP", false))
            } else if sp == 554 || dp == 554 {
                Some((b"RTSP", true))
            } else {
                None
            };
        if let Some((name, needs_cmd)) = proto {
            out.extend_from_slice(b": ");
            out.extend_from_slice(name);
            if !needs_cmd || looks_like_request_or_response(payload) {
                print_txt_line(out, payload);
            }
        } else if (sp == 53 || dp == 53) && payload.len() > 2 {
            out.push(b' ');
            let n = payload.len() - 2;
            if !self.dns(out, &payload[2..], n) {
                out.truncate(out.len() - 1);
            }
        }
    }

    /// DNS summary as tcpdump prints it; false if the message could not be read at all.
    fn dns(&mut self, out: &mut Vec<u8>, m: &[u8], len: usize) -> bool {
        let Some(h) = dns::Header::parse(m) else {
            return false;
        };
        let s = &mut self.scratch;
        s.clear();
        s.push_str(&h.id.to_string());
        const OPS: [&str; 16] = [
            "",
            " iquery",
            " status",
            " op3",
            " notify",
            " update",
            " op6",
            " op7",
            " op8",
            " updateA",
            " updateD",
            " updateDA",
            " updateM",
            " updateMA",
            " zoneInit",
            " zoneRef",
        ];
        s.push_str(OPS[usize::from(h.opcode())]);
        let mut off = 12;
        let question = |s: &mut String, m: &[u8], off: &mut usize| -> bool {
            let Ok(count) = u16::try_from(1) else {
                return false;
            };
            match dns::questions(m, *off, count) {
                Some((qs, next)) => {
                    *off = next;
                    for q in qs {
                        s.push(' ');
                        match dns::type_name(q.qtype) {
                            Some(n) => s.push_str(n),
                            None => s.push_str(&format!("Type{}", q.qtype)),
                        }
                        if q.qclass & 0x8000 != 0 {
                            s.push_str(" (QU)");
                        }
                        s.push_str("? ");
                        s.push_str(&q.name);
                    }
                    true
                }
                None => false,
            }
        };
        if !h.response() {
            if h.flags & 0x0100 != 0 {
                s.push('+');
            }
            if h.flags & 0x0010 != 0 {
                s.push('%');
            }
            if h.qdcount != 1 {
                s.push_str(&format!(" [{}q]", h.qdcount));
            }
            if h.ancount != 0 {
                s.push_str(&format!(" [{}a]", h.ancount));
            }
            if h.nscount != 0 {
                s.push_str(&format!(" [{}n]", h.nscount));
            }
            if h.arcount != 0 {
                s.push_str(&format!(" [{}au]", h.arcount));
            }
            for _ in 0..h.qdcount.min(64) {
                if !question(s, m, &mut off) {
                    s.push_str(" [|domain]");
                    break;
                }
            }
        } else {
            const RCODES: [&str; 16] = [
                "",
                " FormErr",
                " ServFail",
                " NXDomain",
                " NotImp",
                " Refused",
                " YXDomain",
                " YXRRSet",
                " NXRRSet",
                " NotAuth",
                " NotZone",
                " Resp11",
                " Resp12",
                " Resp13",
                " Resp14",
                " NoChange",
            ];
            s.push_str(RCODES[usize::from(h.rcode())]);
            if h.flags & 0x0400 != 0 {
                s.push('*');
            }
            if h.flags & 0x0080 == 0 {
                s.push('-');
            }
            if h.flags & 0x0200 != 0 {
                s.push('|');
            }
            if h.qdcount != 1 {
                s.push_str(&format!(" [{}q]", h.qdcount));
            }
            s.push_str(&format!(" {}/{}/{}", h.ancount, h.nscount, h.arcount));
            let mut ok = true;
            for _ in 0..h.qdcount.min(64) {
                let mut scratch = String::new();
                if !question(&mut scratch, m, &mut off) {
                    ok = false;
                    break;
                }
            }
            if ok {
                for i in 0..h.ancount.min(256) {
                    let Some((r, next)) = dns::record(m, off) else {
                        s.push_str(" [|domain]");
                        break;
                    };
                    off = next;
                    s.push_str(if i > 0 { ", " } else { " " });
                    match dns::type_name(r.rtype) {
                        Some(n) => s.push_str(n),
                        None => s.push_str(&format!("Type{}", r.rtype)),
                    }
                    let before = s.len();
                    s.push(' ');
                    dns::format_rdata(m, &r, s);
                    if s.len() == before + 1 {
                        s.pop();
                    }
                }
            }
        }
        s.push_str(&format!(" ({len})"));
        out.extend_from_slice(s.as_bytes());
        true
    }
}

/// tcpdump's `fetch_token`: the token at `idx` and the index after it and its trailing blanks.
fn fetch_token(p: &[u8], mut idx: usize) -> Option<(&[u8], usize)> {
    let start = idx;
    while idx < p.len() {
        let c = p[idx];
        if !c.is_ascii() {
            return None;
        }
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            break;
        }
        if !(0x20..0x7f).contains(&c) || idx - start + 2 > 129 {
            return None;
        }
        idx += 1;
    }
    if idx == start {
        return None;
    }
    let tok = &p[start..idx];
    while idx < p.len() {
        let c = p[idx];
        if c == b'\r' || c == b'\n' || !(0x20..0x7f).contains(&c) || (c != b' ' && c != b'\t') {
            break;
        }
        idx += 1;
    }
    Some((tok, idx))
}

/// tcpdump's test for HTTP-like protocols: a known method first, or a 3-digit code second.
/// True when a payload starts like an HTTP/RTSP request or status line (tcpdump's test).
pub fn looks_like_request_or_response(p: &[u8]) -> bool {
    const CMDS: [&[u8]; 38] = [
        b"OPTIONS",
        b"GET",
        b"HEAD",
        b"POST",
        b"PUT",
        b"DELETE",
        b"TRACE",
        b"CONNECT",
        b"PROPFIND",
        b"PROPPATCH",
        b"MKCOL",
        b"COPY",
        b"MOVE",
        b"LOCK",
        b"UNLOCK",
        b"ORDERPATCH",
        b"CHECKOUT",
        b"CHECKIN",
        b"UNCHECKOUT",
        b"MKWORKSPACE",
        b"UPDATE",
        b"LABEL",
        b"MERGE",
        b"BASELINE-CONTROL",
        b"MKACTIVITY",
        b"ACL",
        b"SEARCH",
        b"VERSION-CONTROL",
        b"REPORT",
        b"BIND",
        b"UNBIND",
        b"REBIND",
        b"LINK",
        b"UNLINK",
        b"MKCALENDAR",
        b"MKREDIRECTREF",
        b"UPDATEREDIRECTREF",
        b"PATCH",
    ];
    let Some((tok, idx)) = fetch_token(p, 0) else {
        return false;
    };
    if CMDS.iter().any(|c| c.eq_ignore_ascii_case(tok)) {
        return true;
    }
    match fetch_token(p, idx) {
        Some((t, _)) => t.len() == 3 && t.iter().all(u8::is_ascii_digit),
        None => false,
    }
}

/// tcpdump's `print_txt_line` with prefix ": ": the first line if it is printable text.
fn print_txt_line(out: &mut Vec<u8>, p: &[u8]) {
    let mut idx = 0;
    while idx < p.len() {
        let c = p[idx];
        if c == b'\n' {
            break;
        } else if c == b'\r' {
            if idx + 1 >= p.len() || p[idx + 1] != b'\n' {
                return;
            }
            break;
        } else if !(0x20..0x7f).contains(&c) && c != b'\t' {
            return;
        }
        idx += 1;
    }
    out.extend_from_slice(b": ");
    out.extend_from_slice(&p[..idx]);
}

fn tcp_option(out: &mut Vec<u8>, o: &TcpOption<'_>, rev: bool, thseq: u32, thack: u32) {
    match *o {
        TcpOption::Eol => out.extend_from_slice(b"eol"),
        TcpOption::Nop => out.extend_from_slice(b"nop"),
        TcpOption::Mss(v) => {
            out.extend_from_slice(b"mss ");
            push_u64(out, u64::from(v));
        }
        TcpOption::WindowScale(v) => {
            out.extend_from_slice(b"wscale ");
            push_u64(out, u64::from(v));
        }
        TcpOption::SackPermitted => out.extend_from_slice(b"sackOK"),
        TcpOption::Sack(v) => {
            out.extend_from_slice(b"sack ");
            push_u64(out, (v.len() / 8) as u64);
            out.push(b' ');
            for b in v.chunks_exact(8) {
                let s = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let e = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                let base = if rev { thseq } else { thack };
                out.push(b'{');
                push_u64(out, u64::from(s.wrapping_sub(base)));
                out.push(b':');
                push_u64(out, u64::from(e.wrapping_sub(base)));
                out.push(b'}');
            }
        }
        TcpOption::Timestamp { val, ecr } => {
            out.extend_from_slice(b"TS val ");
            push_u64(out, u64::from(val));
            out.extend_from_slice(b" ecr ");
            push_u64(out, u64::from(ecr));
        }
        TcpOption::Other { kind, data } => {
            let name: Option<&[u8]> = match kind {
                19 => Some(b"md5"),
                28 => Some(b"uto"),
                29 => Some(b"tcp-ao"),
                30 => Some(b"mptcp"),
                34 => Some(b"tfo"),
                _ => None,
            };
            match name {
                Some(n) => out.extend_from_slice(n),
                None => {
                    out.extend_from_slice(b"opt-");
                    push_u64(out, u64::from(kind));
                    out.push(b':');
                    for b in data {
                        out.extend_from_slice(format!("{b:02x}").as_bytes());
                    }
                }
            }
        }
        TcpOption::Bad { kind, len } => {
            out.extend_from_slice(format!("opt-{kind}:[bad length {len}]").as_bytes());
        }
    }
}

fn arp(out: &mut Vec<u8>, data: &[u8], off: usize) {
    let a = data.get(off..).unwrap_or_default();
    out.extend_from_slice(b"ARP, ");
    let (Some(hrd), Some(pro), Some(&hln), Some(&pln), Some(op)) = (
        decode::be16(a, 0),
        decode::be16(a, 2),
        a.get(4),
        a.get(5),
        decode::be16(a, 6),
    ) else {
        out.extend_from_slice(b"[|arp]");
        return;
    };
    let (h, p) = (usize::from(hln), usize::from(pln));
    let sha = a.get(8..8 + h);
    let spa = a.get(8 + h..8 + h + p);
    let tha = a.get(8 + h + p..8 + 2 * h + p);
    let tpa = a.get(8 + 2 * h + p..8 + 2 * h + 2 * p);
    let ip = |out: &mut Vec<u8>, x: Option<&[u8]>| match x {
        Some(v) if v.len() == 4 => push_ipv4(out, [v[0], v[1], v[2], v[3]]),
        Some(v) => push_mac(out, v),
        None => out.extend_from_slice(b"[|arp]"),
    };
    if pro != 0x0800 || hrd != 1 {
        out.extend_from_slice(
            format!("hrd {hrd}, pro 0x{pro:04x}, op {op}, length {}", a.len()).as_bytes(),
        );
        return;
    }
    match op {
        1 => {
            out.extend_from_slice(b"Request who-has ");
            ip(out, tpa);
            if let Some(t) = tha
                && t.iter().any(|&b| b != 0)
            {
                out.extend_from_slice(b" (");
                push_mac(out, t);
                out.push(b')');
            }
            out.extend_from_slice(b" tell ");
            ip(out, spa);
        }
        2 => {
            out.extend_from_slice(b"Reply ");
            ip(out, spa);
            out.extend_from_slice(b" is-at ");
            match sha {
                Some(m) => push_mac(out, m),
                None => out.extend_from_slice(b"[|arp]"),
            }
        }
        3 => {
            out.extend_from_slice(b"Reverse Request who-is ");
            ip(out, tha);
            out.extend_from_slice(b" tell ");
            ip(out, sha);
        }
        4 => {
            out.extend_from_slice(b"Reverse Reply ");
            ip(out, tha);
            out.extend_from_slice(b" at ");
            ip(out, tpa);
        }
        _ => out.extend_from_slice(format!("op {op}").as_bytes()),
    }
    out.extend_from_slice(b", length ");
    push_u64(out, a.len() as u64);
}

fn icmp(out: &mut Vec<u8>, data: &[u8], off: usize, t: u8, code: u8, len: usize) {
    let d = data.get(off..).unwrap_or_default();
    out.extend_from_slice(b"ICMP ");
    match t {
        0 | 8 => {
            out.extend_from_slice(if t == 8 {
                b"echo request"
            } else {
                b"echo reply"
            });
            out.extend_from_slice(b", id ");
            push_u64(out, u64::from(decode::be16(d, 4).unwrap_or(0)));
            out.extend_from_slice(b", seq ");
            push_u64(out, u64::from(decode::be16(d, 6).unwrap_or(0)));
        }
        3 => {
            // The quoted header: who was unreachable.
            let inner = decode::decode(
                wiresift_capfile::LinkType::RAW,
                d.get(8..).unwrap_or_default(),
            );
            let dst = match inner.net {
                Net::Ipv4(ip) => Some(ip),
                _ => None,
            };
            match (code, dst, inner.transport) {
                (3, Some(ip), Transport::Udp { dport, .. }) => {
                    push_ipv4(out, ip.dst);
                    out.extend_from_slice(b" udp port ");
                    push_u64(out, u64::from(dport));
                    out.extend_from_slice(b" unreachable");
                }
                (3, Some(ip), Transport::Tcp(tcp)) => {
                    push_ipv4(out, ip.dst);
                    out.extend_from_slice(b" tcp port ");
                    push_u64(out, u64::from(tcp.dport));
                    out.extend_from_slice(b" unreachable");
                }
                (1, Some(ip), _) => {
                    out.extend_from_slice(b"host ");
                    push_ipv4(out, ip.dst);
                    out.extend_from_slice(b" unreachable");
                }
                (0, Some(ip), _) => {
                    out.extend_from_slice(b"net ");
                    push_ipv4(out, ip.dst);
                    out.extend_from_slice(b" unreachable");
                }
                (2, Some(ip), _) => {
                    push_ipv4(out, ip.dst);
                    out.extend_from_slice(format!(" protocol {} unreachable", ip.proto).as_bytes());
                }
                (4, Some(ip), _) => {
                    push_ipv4(out, ip.dst);
                    out.extend_from_slice(b" unreachable - need to frag");
                    if let Some(mtu) = decode::be16(d, 6).filter(|&m| m != 0) {
                        out.extend_from_slice(b" (mtu ");
                        push_u64(out, u64::from(mtu));
                        out.push(b')');
                    }
                }
                _ => out
                    .extend_from_slice(format!("destination unreachable, code {code}").as_bytes()),
            }
        }
        11 => out.extend_from_slice(if code == 0 {
            b"time exceeded in-transit"
        } else {
            b"ip reassembly time exceeded"
        }),
        5 => out.extend_from_slice(b"redirect"),
        13 => out.extend_from_slice(b"time stamp query"),
        14 => out.extend_from_slice(b"time stamp reply"),
        9 => out.extend_from_slice(b"router advertisement"),
        10 => out.extend_from_slice(b"router solicitation"),
        12 => out.extend_from_slice(b"parameter problem"),
        _ => out.extend_from_slice(format!("type-#{t}").as_bytes()),
    }
    out.extend_from_slice(b", length ");
    push_u64(out, len as u64);
}

fn icmpv6(out: &mut Vec<u8>, data: &[u8], off: usize, t: u8, code: u8, len: usize) {
    let d = data.get(off..).unwrap_or_default();
    out.extend_from_slice(b"ICMP6, ");
    let target = |out: &mut Vec<u8>| match d.get(8..24) {
        Some(a) => push_ipv6(out, addr16(a)),
        None => out.extend_from_slice(b"[|icmp6]"),
    };
    match t {
        128 | 129 => {
            out.extend_from_slice(if t == 128 {
                b"echo request"
            } else {
                b"echo reply"
            });
            out.extend_from_slice(b", id ");
            push_u64(out, u64::from(decode::be16(d, 4).unwrap_or(0)));
            out.extend_from_slice(b", seq ");
            push_u64(out, u64::from(decode::be16(d, 6).unwrap_or(0)));
        }
        1 => out.extend_from_slice(format!("destination unreachable, code {code}").as_bytes()),
        2 => out.extend_from_slice(b"packet too big"),
        3 => out.extend_from_slice(b"time exceeded in-transit"),
        4 => out.extend_from_slice(b"parameter problem"),
        133 => out.extend_from_slice(b"router solicitation"),
        134 => out.extend_from_slice(b"router advertisement"),
        135 => {
            out.extend_from_slice(b"neighbor solicitation, who has ");
            target(out);
        }
        136 => {
            out.extend_from_slice(b"neighbor advertisement, tgt is ");
            target(out);
        }
        137 => out.extend_from_slice(b"redirect"),
        130 => out.extend_from_slice(b"multicast listener query"),
        131 => out.extend_from_slice(b"multicast listener report"),
        132 => out.extend_from_slice(b"multicast listener done"),
        143 => {
            let n = decode::be16(d, 6).unwrap_or(0);
            out.extend_from_slice(
                format!("multicast listener report v2, {n} group record(s)").as_bytes(),
            );
        }
        _ => out.extend_from_slice(format!("type-#{t}").as_bytes()),
    }
    out.extend_from_slice(b", length ");
    push_u64(out, len as u64);
}
