//! A small, bounded DNS message reader: header, questions and answer records, with name
//! decompression limited in hops and length so hostile pointers cannot loop.

use crate::decode::{be16, be32};

/// The fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(m: &[u8]) -> Option<Header> {
        Some(Header {
            id: be16(m, 0)?,
            flags: be16(m, 2)?,
            qdcount: be16(m, 4)?,
            ancount: be16(m, 6)?,
            nscount: be16(m, 8)?,
            arcount: be16(m, 10)?,
        })
    }
    pub fn response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
}

/// Appends the dotted name at `off` (with a trailing dot, as tcpdump prints it) to `out` and
/// returns the offset just past the name in the message. `None` if malformed.
pub fn read_name(m: &[u8], mut off: usize, out: &mut String) -> Option<usize> {
    let mut end = None;
    let mut hops = 0;
    let start_len = out.len();
    loop {
        let len = *m.get(off)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    if out.len() == start_len {
                        out.push('.');
                    }
                    return Some(end.unwrap_or(off + 1));
                }
                let label = m.get(off + 1..off + 1 + usize::from(len))?;
                for &c in label {
                    if c.is_ascii_graphic() && c != b'.' && c != b'\\' {
                        out.push(c as char);
                    } else {
                        out.push_str(&format!("\\{c:03}"));
                    }
                }
                out.push('.');
                if out.len() - start_len > 1024 {
                    return None;
                }
                off += 1 + usize::from(len);
            }
            0xc0 => {
                let ptr = usize::from(be16(m, off)? & 0x3fff);
                if end.is_none() {
                    end = Some(off + 2);
                }
                hops += 1;
                if hops > 32 {
                    return None;
                }
                off = ptr;
            }
            _ => return None,
        }
    }
}

/// Record type mnemonics.
pub fn type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        _ => return None,
    })
}

/// One question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// One resource record, data as a range of the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub data: std::ops::Range<usize>,
}

/// Reads `count` questions from `off`; returns them and the offset after them.
pub fn questions(m: &[u8], mut off: usize, count: u16) -> Option<(Vec<Question>, usize)> {
    let mut qs = Vec::with_capacity(usize::from(count.min(16)));
    for _ in 0..count {
        let mut name = String::new();
        off = read_name(m, off, &mut name)?;
        let qtype = be16(m, off)?;
        let qclass = be16(m, off + 2)?;
        off += 4;
        if qs.len() < 256 {
            qs.push(Question {
                name,
                qtype,
                qclass,
            });
        }
    }
    Some((qs, off))
}

/// Reads one resource record at `off`; returns it and the offset after it.
pub fn record(m: &[u8], off: usize) -> Option<(Record, usize)> {
    let mut name = String::new();
    let off = read_name(m, off, &mut name)?;
    let rtype = be16(m, off)?;
    let class = be16(m, off + 2)?;
    let ttl = be32(m, off + 4)?;
    let rdlen = usize::from(be16(m, off + 8)?);
    let start = off + 10;
    if m.len() < start + rdlen {
        return None;
    }
    Some((
        Record {
            name,
            rtype,
            class,
            ttl,
            data: start..start + rdlen,
        },
        start + rdlen,
    ))
}

/// Formats a record's data as tcpdump does at default verbosity.
pub fn format_rdata(m: &[u8], r: &Record, out: &mut String) {
    let d = &m[r.data.clone()];
    match r.rtype {
        1 if d.len() == 4 => {
            out.push_str(&std::net::Ipv4Addr::new(d[0], d[1], d[2], d[3]).to_string())
        }
        28 if d.len() == 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(d);
            out.push_str(&std::net::Ipv6Addr::from(a).to_string());
        }
        2 | 5 | 12 | 39 if read_name(m, r.data.start, out).is_none() => {
            out.push_str("[|domain]");
        }
        15 => {
            let mut name = String::new();
            if read_name(m, r.data.start + 2, &mut name).is_some() {
                out.push_str(&name);
                out.push_str(&format!(" {}", be16(m, r.data.start).unwrap_or(0)));
            }
        }
        33 => {
            let mut name = String::new();
            if read_name(m, r.data.start + 6, &mut name).is_some() {
                out.push_str(&format!(
                    "{}:{} {} {}",
                    name,
                    be16(m, r.data.start + 4).unwrap_or(0),
                    be16(m, r.data.start).unwrap_or(0),
                    be16(m, r.data.start + 2).unwrap_or(0)
                ));
            }
        }
        16 => {
            let mut p = 0;
            let mut first = true;
            while p < d.len() {
                let l = usize::from(d[p]);
                let s = d.get(p + 1..p + 1 + l).unwrap_or(&d[p + 1..]);
                if !first {
                    out.push(' ');
                }
                first = false;
                out.push('"');
                out.push_str(&String::from_utf8_lossy(s));
                out.push('"');
                p += 1 + l;
            }
        }
        _ => {}
    }
}
