//! pcap and pcapng writers. Timestamps keep the precision of their source interface.

use std::io::{self, Write};

use crate::{Frame, Interface, LinkType, Nanos};

/// Which file format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Pcap,
    PcapNg,
}

impl OutputFormat {
    /// `.pcapng`/`.ntar` → pcapng, anything else → pcap (as tshark and editcap decide).
    pub fn from_path(path: &std::path::Path) -> OutputFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("pcapng") || e.eq_ignore_ascii_case("ntar") => {
                OutputFormat::PcapNg
            }
            _ => OutputFormat::Pcap,
        }
    }
}

/// Classic pcap writer (one link type, micro- or nanosecond timestamps).
pub struct PcapWriter<W: Write> {
    w: W,
    link: LinkType,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut w: W, link: LinkType, snaplen: u32, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&u32::from(link.0).to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w, link, nanos })
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    pub fn write(&mut self, ts: Nanos, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let secs = ts.div_euclid(1_000_000_000);
        let frac = ts.rem_euclid(1_000_000_000);
        let frac = if self.nanos { frac } else { frac / 1000 };
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(secs.clamp(0, u32::MAX as i64) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&(frac as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.max(data.len() as u32).to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(data)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

/// pcapng writer: one section, interfaces added as needed, EPB/ISB/DSB blocks.
pub struct PcapNgWriter<W: Write> {
    w: W,
    ifaces: Vec<Interface>,
    scratch: Vec<u8>,
}

fn push_opt(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    let len = value.len().min(u16::MAX as usize - 3);
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(len as u16).to_le_bytes());
    buf.extend_from_slice(&value[..len]);
    buf.resize(buf.len() + (4 - len % 4) % 4, 0);
}

fn end_opts(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&[0, 0, 0, 0]);
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the Section Header Block with `shb_hardware`, `shb_os` and `shb_userappl`.
    pub fn new(
        w: W,
        hardware: Option<&str>,
        os: Option<&str>,
        application: Option<&str>,
    ) -> io::Result<Self> {
        let mut me = PcapNgWriter {
            w,
            ifaces: Vec::new(),
            scratch: Vec::with_capacity(65536),
        };
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        let mut any = false;
        for (code, v) in [(2u16, hardware), (3, os), (4, application)] {
            if let Some(v) = v {
                push_opt(&mut body, code, v.as_bytes());
                any = true;
            }
        }
        if any {
            end_opts(&mut body);
        }
        me.block(0x0a0d_0d0a, &body)?;
        Ok(me)
    }

    fn block(&mut self, btype: u32, body: &[u8]) -> io::Result<()> {
        let total = (12 + body.len().div_ceil(4) * 4) as u32;
        let pad = (4 - body.len() % 4) % 4;
        self.w.write_all(&btype.to_le_bytes())?;
        self.w.write_all(&total.to_le_bytes())?;
        self.w.write_all(body)?;
        self.w.write_all(&[0u8; 3][..pad])?;
        self.w.write_all(&total.to_le_bytes())
    }

    /// Writes an IDB; returns the interface id to use with [`Self::write_packet`].
    pub fn add_interface(&mut self, iface: &Interface) -> io::Result<u32> {
        let mut body = Vec::new();
        body.extend_from_slice(&iface.link.0.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&iface.snaplen.to_le_bytes());
        let mut any = false;
        if let Some(n) = &iface.name {
            push_opt(&mut body, 2, n.as_bytes());
            any = true;
        }
        if let Some(d) = &iface.description {
            push_opt(&mut body, 3, d.as_bytes());
            any = true;
        }
        if iface.tsresol != 6 {
            push_opt(&mut body, 9, &[iface.tsresol]);
            any = true;
        }
        if let Some(f) = &iface.filter {
            let mut v = vec![0u8];
            v.extend_from_slice(f.as_bytes());
            push_opt(&mut body, 11, &v);
            any = true;
        }
        if let Some(os) = &iface.os {
            push_opt(&mut body, 12, os.as_bytes());
            any = true;
        }
        if any {
            end_opts(&mut body);
        }
        self.block(1, &body)?;
        let mut stored = iface.clone();
        // Timestamps we are given already include any offset.
        stored.tsoffset = 0;
        self.ifaces.push(stored);
        Ok(self.ifaces.len() as u32 - 1)
    }

    pub fn interfaces(&self) -> &[Interface] {
        &self.ifaces
    }

    /// Writes an Enhanced Packet Block, with an optional comment.
    pub fn write_packet(
        &mut self,
        iface: u32,
        ts: Nanos,
        orig_len: u32,
        data: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let Some(i) = self.ifaces.get(iface as usize) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface {iface} was not added"),
            ));
        };
        let units = i.nanos_to_units(ts);
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(units as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&orig_len.max(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        body.resize(body.len() + (4 - data.len() % 4) % 4, 0);
        if let Some(c) = comment {
            push_opt(&mut body, 1, c.as_bytes());
            end_opts(&mut body);
        }
        let r = self.block(6, &body);
        self.scratch = body;
        r
    }

    /// Writes an Interface Statistics Block (received and dropped counts).
    pub fn write_stats(
        &mut self,
        iface: u32,
        ts: Nanos,
        received: Option<u64>,
        dropped: Option<u64>,
    ) -> io::Result<()> {
        let units = self
            .ifaces
            .get(iface as usize)
            .map(|i| i.nanos_to_units(ts))
            .unwrap_or(0);
        let mut body = Vec::new();
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(units as u32).to_le_bytes());
        if let Some(r) = received {
            push_opt(&mut body, 4, &r.to_le_bytes());
        }
        if let Some(d) = dropped {
            push_opt(&mut body, 5, &d.to_le_bytes());
        }
        if received.is_some() || dropped.is_some() {
            end_opts(&mut body);
        }
        self.block(5, &body)
    }

    /// Writes a Decryption Secrets Block (`0x544c534b` = TLS key log).
    pub fn write_secrets(&mut self, secrets_type: u32, data: &[u8]) -> io::Result<()> {
        let mut body = Vec::with_capacity(8 + data.len());
        body.extend_from_slice(&secrets_type.to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        self.block(0x0000_000a, &body)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

/// Writes frames read from any capture to pcap or pcapng, creating headers and interface
/// blocks as frames need them.
pub enum Writer<W: Write> {
    /// pcap: the header is written with the first frame (its link type decides).
    Pcap {
        w: Option<W>,
        inner: Option<PcapWriter<W>>,
        nanos: bool,
    },
    PcapNg {
        inner: PcapNgWriter<W>,
        /// Input interface index → output interface id.
        map: Vec<Option<u32>>,
    },
}

impl<W: Write> Writer<W> {
    /// `nanos`: write a nanosecond pcap (ignored for pcapng, which keeps each interface's
    /// resolution).
    pub fn new(format: OutputFormat, w: W, nanos: bool) -> io::Result<Writer<W>> {
        Ok(match format {
            OutputFormat::Pcap => Writer::Pcap {
                w: Some(w),
                inner: None,
                nanos,
            },
            OutputFormat::PcapNg => Writer::PcapNg {
                inner: PcapNgWriter::new(
                    w,
                    None,
                    Some(std::env::consts::OS),
                    Some(concat!("wiresift ", env!("CARGO_PKG_VERSION"))),
                )?,
                map: Vec::new(),
            },
        })
    }

    /// Writes one frame; `ifaces` is the reader's interface list (for names and resolution).
    pub fn write_frame(&mut self, f: &Frame<'_>, ifaces: &[Interface]) -> io::Result<()> {
        match self {
            Writer::Pcap { w, inner, nanos } => {
                if inner.is_none() {
                    let snaplen = ifaces
                        .get(f.iface as usize)
                        .map(|i| i.snaplen)
                        .unwrap_or(262_144);
                    let Some(out) = w.take() else {
                        return Err(io::Error::other("writer already failed"));
                    };
                    *inner = Some(PcapWriter::new(out, f.link, snaplen, *nanos)?);
                }
                let Some(p) = inner.as_mut() else {
                    return Err(io::Error::other("writer already failed"));
                };
                if p.link() != f.link {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "frame {} has link type {} but this pcap file has {}; classic pcap holds one link type: write pcapng instead",
                            f.number,
                            f.link,
                            p.link()
                        ),
                    ));
                }
                p.write(f.ts, f.orig_len, f.data)
            }
            Writer::PcapNg { inner, map } => {
                let idx = f.iface as usize;
                if map.len() <= idx {
                    map.resize(idx + 1, None);
                }
                let out = match map[idx] {
                    Some(o) => o,
                    None => {
                        let iface = ifaces
                            .get(idx)
                            .cloned()
                            .unwrap_or_else(|| Interface::new(f.link, 262_144));
                        let o = inner.add_interface(&iface)?;
                        map[idx] = Some(o);
                        o
                    }
                };
                inner.write_packet(out, f.ts, f.orig_len, f.data, None)
            }
        }
    }

    /// Writes what a file with no frames still needs (a pcap header) and flushes.
    pub fn finish(&mut self, ifaces: &[Interface]) -> io::Result<()> {
        match self {
            Writer::Pcap { w, inner, nanos } => {
                if inner.is_none()
                    && let Some(out) = w.take()
                {
                    let (link, snaplen) = ifaces
                        .first()
                        .map(|i| (i.link, i.snaplen))
                        .unwrap_or((LinkType::ETHERNET, 262_144));
                    *inner = Some(PcapWriter::new(out, link, snaplen, *nanos)?);
                }
                match inner {
                    Some(p) => p.flush(),
                    None => Ok(()),
                }
            }
            Writer::PcapNg { inner, .. } => inner.flush(),
        }
    }
}
