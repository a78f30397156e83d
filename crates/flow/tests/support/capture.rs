//! A tiny classic-pcap and pcapng reader, for tests only (the real one is wiresift-capfile).

use std::fmt;

pub struct Frame {
    pub number: u64,
    pub ts: i64,
    pub linktype: u32,
    pub data: Vec<u8>,
}

#[derive(Debug)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn u16e(b: &[u8], le: bool) -> u16 {
    let a = [b[0], b[1]];
    if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    }
}
fn u32e(b: &[u8], le: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}

/// Reads every frame it can; stops quietly at a truncated record (like tshark, which reports
/// the frames before the damage). A bad file header is an error.
pub fn read(bytes: &[u8]) -> Result<Vec<Frame>, ReadError> {
    if bytes.len() < 4 {
        return Err(ReadError("short file".into()));
    }
    match &bytes[..4] {
        [0x0a, 0x0d, 0x0d, 0x0a] => read_pcapng(bytes),
        _ => read_pcap(bytes),
    }
}

fn read_pcap(b: &[u8]) -> Result<Vec<Frame>, ReadError> {
    if b.len() < 24 {
        return Err(ReadError("short pcap header".into()));
    }
    let (le, nano) = match &b[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => return Err(ReadError("not a capture file".into())),
    };
    let major = u16e(&b[4..], le);
    if major != 2 {
        return Err(ReadError(format!("unsupported pcap version {major}")));
    }
    let linktype = u32e(&b[20..], le) & 0x0fff_ffff;
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let secs = u32e(&b[i..], le) as i64;
        let frac = u32e(&b[i + 4..], le) as i64;
        let incl = u32e(&b[i + 8..], le) as usize;
        i += 16;
        if incl > 262_144 * 4 || i + incl > b.len() {
            break;
        }
        let ts = secs * 1_000_000_000 + if nano { frac } else { frac * 1000 };
        out.push(Frame {
            number: out.len() as u64 + 1,
            ts,
            linktype,
            data: b[i..i + incl].to_vec(),
        });
        i += incl;
    }
    Ok(out)
}

struct Iface {
    linktype: u32,
    /// Units per second.
    units: u64,
}

fn read_pcapng(b: &[u8]) -> Result<Vec<Frame>, ReadError> {
    let mut out = Vec::new();
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut le = true;
    let mut i = 0;
    while i + 12 <= b.len() {
        let ty_raw = &b[i..i + 4];
        if ty_raw == [0x0a, 0x0d, 0x0d, 0x0a] {
            le = match &b[i + 8..i + 12] {
                [0x4d, 0x3c, 0x2b, 0x1a] => true,
                [0x1a, 0x2b, 0x3c, 0x4d] => false,
                _ => return Err(ReadError("bad byte-order magic".into())),
            };
            ifaces.clear();
        }
        let ty = u32e(ty_raw, le);
        let len = u32e(&b[i + 4..], le) as usize;
        if len < 12 || len % 4 != 0 || i + len > b.len() {
            if out.is_empty() && ty == 0x0a0d0d0a {
                return Err(ReadError("bad section header".into()));
            }
            break;
        }
        let body = &b[i + 8..i + len - 4];
        match ty {
            0x0a0d0d0a => {
                // Options must fit the block.
                let mut o = 16;
                while o + 4 <= body.len() {
                    let code = u16e(&body[o..], le);
                    let olen = u16e(&body[o + 2..], le) as usize;
                    if code == 0 {
                        break;
                    }
                    let padded = (olen + 3) & !3;
                    if o + 4 + padded > body.len() {
                        return Err(ReadError("option too long".into()));
                    }
                    o += 4 + padded;
                }
            }
            1 => {
                let linktype = u16e(body, le) as u32;
                let mut units = 1_000_000u64;
                let mut o = 8;
                while o + 4 <= body.len() {
                    let code = u16e(&body[o..], le);
                    let olen = u16e(&body[o + 2..], le) as usize;
                    if code == 0 || o + 4 + olen > body.len() {
                        break;
                    }
                    if code == 9 && olen >= 1 {
                        let v = body[o + 4];
                        let e = (v & 0x7f) as u32;
                        units = if v & 0x80 != 0 {
                            1u64.checked_shl(e).unwrap_or(1)
                        } else {
                            10u64.checked_pow(e).unwrap_or(1)
                        };
                    }
                    o += 4 + ((olen + 3) & !3);
                }
                ifaces.push(Iface { linktype, units });
            }
            6 | 2 => {
                if body.len() < 20 {
                    break;
                }
                let id = if ty == 6 {
                    u32e(body, le) as usize
                } else {
                    u16e(body, le) as usize
                };
                let hi = u32e(&body[4..], le) as u64;
                let lo = u32e(&body[8..], le) as u64;
                let cap = u32e(&body[12..], le) as usize;
                let Some(iface) = ifaces.get(id) else { break };
                if 20 + cap > body.len() {
                    break;
                }
                let t = (hi << 32) | lo;
                let ts = (t / iface.units) as i64 * 1_000_000_000
                    + ((t % iface.units) as u128 * 1_000_000_000 / iface.units as u128) as i64;
                out.push(Frame {
                    number: out.len() as u64 + 1,
                    ts,
                    linktype: iface.linktype,
                    data: body[20..20 + cap].to_vec(),
                });
            }
            3 => {
                let Some(iface) = ifaces.first() else { break };
                let data = body.get(4..).unwrap_or(&[]).to_vec();
                out.push(Frame {
                    number: out.len() as u64 + 1,
                    ts: 0,
                    linktype: iface.linktype,
                    data,
                });
            }
            _ => {}
        }
        i += len;
    }
    Ok(out)
}
