//! One-pass reader for pcap (µs/ns, either byte order, Kuznetzov variant) and pcapng (any
//! number of sections and interfaces), from a file, stdin or a gzip stream.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::error::{ReadError, ReadErrorKind};
use crate::readahead::{HEAD, ReadAhead};
use crate::{Frame, Interface, LinkType, MAX_RECORD};

/// Decryption secrets kept from DSBs, in total; more is dropped (and counted).
const MAX_SECRETS_BYTES: usize = 64 << 20;

/// The container format of the file being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Pcap {
        big_endian: bool,
        nanos: bool,
        /// The Kuznetzov "modified" pcap with 8 extra bytes per record header.
        modified: bool,
        major: u16,
        minor: u16,
    },
    PcapNg,
}

impl FileFormat {
    /// The name capinfos uses.
    pub fn describe(&self) -> &'static str {
        match self {
            FileFormat::Pcap {
                nanos: true,
                modified: false,
                ..
            } => "Wireshark/tcpdump/... - nanosecond pcap",
            FileFormat::Pcap { modified: true, .. } => "Modified tcpdump - pcap",
            FileFormat::Pcap { .. } => "Wireshark/tcpdump/... - pcap",
            FileFormat::PcapNg => "Wireshark/... - pcapng",
        }
    }
}

/// One Decryption Secrets Block (pcapng type 0x0000000A), kept for TLS decryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptionSecrets {
    /// `0x544c534b` ("TLSK") is an NSS key log.
    pub secrets_type: u32,
    pub data: Vec<u8>,
}

/// Counters from an Interface Statistics Block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    pub iface: u32,
    pub received: Option<u64>,
    pub dropped: Option<u64>,
}

/// A streaming capture reader. Memory: a few chunks of about 1 MiB in flight from the reading
/// thread (more only for a record that is larger), plus the interface list and any decryption secrets.
pub struct CaptureReader {
    /// The reading thread, for streamed input; none for a mapped file.
    src: Option<ReadAhead>,
    buf: Buf,
    pos: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    failed: bool,
    gzip: bool,
    format: FileFormat,
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// Global interface index of each interface of the current pcapng section.
    section_ifaces: Vec<u32>,
    section: u32,
    frames: u64,
    cur: Option<RawFrame>,
    secrets: Vec<DecryptionSecrets>,
    secrets_bytes: usize,
    secrets_dropped: u64,
    stats: Vec<InterfaceStats>,
    /// `shb_hardware`, `shb_os`, `shb_userappl` of the first section.
    pub shb_hardware: Option<String>,
    pub shb_os: Option<String>,
    pub shb_application: Option<String>,
}

/// Bytes given by the caller instead of read: a capture file mapped into memory (see
/// `wiresift_capture::mapped`). Frames are borrowed from it without any copy.
pub trait ByteSource: Send {
    /// The whole file.
    fn bytes(&self) -> &[u8];
    /// Nothing before `offset` will be looked at again (a mapping may let those pages go, so
    /// that resident memory stays small).
    fn release_before(&mut self, offset: usize);
}

/// Where records are parsed from: chunks from the reading thread, or the caller's bytes.
enum Buf {
    Owned(Vec<u8>),
    Mapped(Box<dyn ByteSource>),
}

impl std::ops::Deref for Buf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Buf::Owned(v) => v,
            Buf::Mapped(m) => m.bytes(),
        }
    }
}

fn u16_at(b: &[u8], big: bool) -> u16 {
    let v = [b[0], b[1]];
    if big {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

fn u32_at(b: &[u8], big: bool) -> u32 {
    let v = [b[0], b[1], b[2], b[3]];
    if big {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

fn u64_at(b: &[u8], big: bool) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[..8]);
    if big {
        u64::from_be_bytes(v)
    } else {
        u64::from_le_bytes(v)
    }
}

/// Iterates the options of a pcapng block body: `(code, value)`; an option running past the end
/// of the block is an error.
fn options(mut b: &[u8], big: bool) -> impl Iterator<Item = Result<(u16, &[u8]), String>> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let code = u16_at(b, big);
        let len = usize::from(u16_at(&b[2..], big));
        if code == 0 {
            return None;
        }
        let padded = len.div_ceil(4) * 4;
        if 4 + padded > b.len() && 4 + len > b.len() {
            let err = format!(
                "option {code} has length {len}, but only {} bytes remain in the block",
                b.len() - 4
            );
            b = &[];
            return Some(Err(err));
        }
        let value = &b[4..4 + len];
        b = &b[(4 + padded).min(b.len())..];
        Some(Ok((code, value)))
    })
}

fn opt_string(v: &[u8]) -> String {
    let v = v.split(|&c| c == 0).next().unwrap_or_default();
    String::from_utf8_lossy(v).into_owned()
}

impl CaptureReader {
    /// Opens a file by path; `-` is standard input. Gzip-compressed input is detected by magic.
    pub fn open(path: &Path) -> Result<CaptureReader, ReadError> {
        let src: Box<dyn Read + Send> = if path.as_os_str() == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(path).map_err(|e| ReadError::new(0, e.into()))?)
        };
        CaptureReader::new(src)
    }

    /// Reads from any byte stream (plain or gzip-compressed).
    pub fn new(mut src: Box<dyn Read + Send>) -> Result<CaptureReader, ReadError> {
        let mut magic = [0u8; 2];
        let mut got = 0;
        while got < 2 {
            match src.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::new(0, e.into())),
            }
        }
        let head = io::Cursor::new(magic[..got].to_vec());
        let chained = head.chain(src);
        let gzip = got == 2 && magic == [0x1f, 0x8b];
        let src: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(chained))
        } else {
            Box::new(chained)
        };
        CaptureReader::start(Some(ReadAhead::spawn(src)), Buf::Owned(Vec::new()), gzip)
    }

    /// Reads from bytes the caller holds (a mapped file; plain, not gzip-compressed).
    pub fn from_bytes(src: Box<dyn ByteSource>) -> Result<CaptureReader, ReadError> {
        CaptureReader::start(None, Buf::Mapped(src), false)
    }

    fn start(src: Option<ReadAhead>, buf: Buf, gzip: bool) -> Result<CaptureReader, ReadError> {
        let mapped = src.is_none();
        let end = buf.len();
        let mut r = CaptureReader {
            src,
            buf,
            pos: 0,
            end: if mapped { end } else { 0 },
            base: 0,
            eof: mapped,
            failed: false,
            gzip,
            format: FileFormat::PcapNg,
            big_endian: false,
            interfaces: Vec::new(),
            section_ifaces: Vec::new(),
            section: 0,
            frames: 0,
            cur: None,
            secrets: Vec::new(),
            secrets_bytes: 0,
            secrets_dropped: 0,
            stats: Vec::new(),
            shb_hardware: None,
            shb_os: None,
            shb_application: None,
        };
        r.read_file_header()?;
        Ok(r)
    }

    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Byte order of the file (of the current section, for pcapng).
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Interfaces seen so far (pcapng IDBs may appear later in the file).
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// Frames returned so far.
    pub fn frames_read(&self) -> u64 {
        self.frames
    }

    /// Offset in the (decompressed) file of the next record.
    pub fn offset(&self) -> u64 {
        self.base.wrapping_add(self.pos as u64)
    }

    /// Decryption secrets seen so far (pcapng DSBs).
    pub fn secrets(&self) -> &[DecryptionSecrets] {
        &self.secrets
    }

    /// DSBs that were not kept because [`MAX_SECRETS_BYTES`] was reached.
    pub fn secrets_dropped(&self) -> u64 {
        self.secrets_dropped
    }

    /// Interface statistics blocks seen so far.
    pub fn interface_stats(&self) -> &[InterfaceStats] {
        &self.stats
    }

    fn err(&self, kind: ReadErrorKind) -> ReadError {
        ReadError::new(self.offset(), kind)
    }

    /// Ensures at least `n` bytes are buffered unless the input ends first; returns how many are.
    fn fill(&mut self, n: usize) -> Result<usize, ReadError> {
        while self.end - self.pos < n && !self.eof {
            let (Some(src), Buf::Owned(own)) = (self.src.as_mut(), &mut self.buf) else {
                self.eof = true;
                break;
            };
            let chunk = match src.next() {
                Ok(Some(c)) => c,
                Ok(None) => {
                    self.eof = true;
                    break;
                }
                Err(e) => {
                    let off = self.base.wrapping_add(self.pos as u64);
                    return Err(ReadError::new(off, e.into()));
                }
            };
            let tail = self.end - self.pos;
            if tail <= HEAD {
                // Put the unread tail in front of the new chunk and take the chunk over.
                let mut buf = chunk.buf;
                buf[HEAD - tail..HEAD].copy_from_slice(&own[self.pos..self.end]);
                // `base` is the offset of buf[0]; it may wrap below zero (offsets are
                // `base + pos`, computed with the same wrapping arithmetic).
                self.base = self
                    .base
                    .wrapping_add(self.pos as u64)
                    .wrapping_sub((HEAD - tail) as u64);
                self.pos = HEAD - tail;
                self.end = HEAD + chunk.len;
                let old = std::mem::replace(own, buf);
                src.recycle(old);
            } else {
                // A record larger than the spare room: grow our own buffer instead.
                own.copy_within(self.pos..self.end, 0);
                self.base = self.base.wrapping_add(self.pos as u64);
                self.end = tail;
                self.pos = 0;
                own.truncate(self.end);
                own.extend_from_slice(&chunk.buf[HEAD..HEAD + chunk.len]);
                src.recycle(chunk.buf);
            }
        }
        Ok(self.end - self.pos)
    }

    fn read_file_header(&mut self) -> Result<(), ReadError> {
        let avail = self.fill(24)?;
        if avail == 0 {
            return Err(self.err(ReadErrorKind::Empty));
        }
        if avail < 4 {
            return Err(self.err(ReadErrorKind::Truncated {
                what: "file header",
                needed: 4,
                got: avail as u64,
            }));
        }
        let m = [
            self.buf[self.pos],
            self.buf[self.pos + 1],
            self.buf[self.pos + 2],
            self.buf[self.pos + 3],
        ];
        let le = u32::from_le_bytes(m);
        let be = u32::from_be_bytes(m);
        let (big, nanos, modified) = match (le, be) {
            (0xa1b2_c3d4, _) => (false, false, false),
            (_, 0xa1b2_c3d4) => (true, false, false),
            (0xa1b2_3c4d, _) => (false, true, false),
            (_, 0xa1b2_3c4d) => (true, true, false),
            (0xa1b2_cd34, _) => (false, false, true),
            (_, 0xa1b2_cd34) => (true, false, true),
            (0x0a0d_0d0a, _) => {
                self.format = FileFormat::PcapNg;
                // The SHB is read as the first block by `next_frame`; read it now so that
                // interfaces and errors in it are known before the first frame.
                return self.pcapng_blocks_until_frame(true).map(|_| ());
            }
            _ => return Err(self.err(ReadErrorKind::BadMagic(m))),
        };
        if avail < 24 {
            return Err(self.err(ReadErrorKind::Truncated {
                what: "pcap file header",
                needed: 24,
                got: avail as u64,
            }));
        }
        let h = &self.buf[self.pos..self.pos + 24];
        let major = u16_at(&h[4..], big);
        let minor = u16_at(&h[6..], big);
        let snaplen = u32_at(&h[16..], big);
        let linktype = u32_at(&h[20..], big);
        if major != 2 {
            return Err(self.err(ReadErrorKind::UnsupportedVersion {
                format: "pcap",
                major,
                minor,
            }));
        }
        self.format = FileFormat::Pcap {
            big_endian: big,
            nanos,
            modified,
            major,
            minor,
        };
        self.big_endian = big;
        let mut iface = Interface::new(LinkType((linktype & 0xffff) as u16), snaplen);
        iface.tsresol = if nanos { 9 } else { 6 };
        self.interfaces.push(iface);
        self.pos += 24;
        Ok(())
    }

    /// Returns the next frame, `Ok(None)` at the end of the input. After an error, every later
    /// call returns `Ok(None)`: frames before the damage have been delivered.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        if self.advance()? {
            Ok(self.current())
        } else {
            Ok(None)
        }
    }

    /// Moves to the next frame; `Ok(false)` at the end. Use [`Self::current`] to see it while
    /// still being able to look at [`Self::interfaces`].
    pub fn advance(&mut self) -> Result<bool, ReadError> {
        self.cur = None;
        if self.failed {
            return Ok(false);
        }
        let r = match self.format {
            FileFormat::Pcap { modified, .. } => self.pcap_record(modified),
            FileFormat::PcapNg => self.pcapng_blocks_until_frame(false),
        };
        match r {
            Ok(Some(f)) => {
                self.frames += 1;
                if let Buf::Mapped(m) = &mut self.buf {
                    m.release_before(f.start);
                }
                self.cur = Some(f);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Offset in the (decompressed) file of the current frame's data: with its captured
    /// length, what a later random read of the frame needs (the UI's frame index).
    pub fn current_data_offset(&self) -> u64 {
        self.cur
            .as_ref()
            .map_or(0, |f| self.base.wrapping_add(f.start as u64))
    }

    /// The frame [`Self::advance`] moved to.
    pub fn current(&self) -> Option<Frame<'_>> {
        let f = self.cur.as_ref()?;
        Some(Frame {
            number: self.frames,
            ts: f.ts,
            link: f.link,
            iface: f.iface,
            orig_len: f.orig_len,
            data: &self.buf[f.start..f.start + f.len],
        })
    }

    fn pcap_record(&mut self, modified: bool) -> Result<Option<RawFrame>, ReadError> {
        let hdr = if modified { 24 } else { 16 };
        let avail = self.fill(hdr)?;
        if avail == 0 {
            return Ok(None);
        }
        if avail < hdr {
            return Err(self.err(ReadErrorKind::Truncated {
                what: "packet record header",
                needed: hdr as u64,
                got: avail as u64,
            }));
        }
        let big = self.big_endian;
        let h = &self.buf[self.pos..self.pos + hdr];
        let secs = u32_at(h, big);
        let frac = u32_at(&h[4..], big);
        let caplen = u32_at(&h[8..], big);
        let orig_len = u32_at(&h[12..], big);
        if caplen as usize > MAX_RECORD {
            return Err(self.err(ReadErrorKind::AbsurdLength {
                what: "packet captured",
                len: u64::from(caplen),
                max: MAX_RECORD as u64,
            }));
        }
        let total = hdr + caplen as usize;
        let avail = self.fill(total)?;
        if avail < total {
            return Err(self.err(ReadErrorKind::Truncated {
                what: "packet data",
                needed: u64::from(caplen),
                got: (avail - hdr) as u64,
            }));
        }
        let iface = &self.interfaces[0];
        let ts = i64::from(secs) * 1_000_000_000
            + if iface.tsresol == 9 {
                i64::from(frac)
            } else {
                i64::from(frac) * 1000
            };
        let start = self.pos + hdr;
        self.pos += total;
        Ok(Some(RawFrame {
            ts,
            link: iface.link,
            iface: 0,
            orig_len,
            start,
            len: caplen as usize,
        }))
    }

    /// Reads pcapng blocks until one carries a packet (or, with `header_only`, just the SHB).
    fn pcapng_blocks_until_frame(
        &mut self,
        header_only: bool,
    ) -> Result<Option<RawFrame>, ReadError> {
        loop {
            let avail = self.fill(12)?;
            if avail == 0 {
                return Ok(None);
            }
            if avail < 12 {
                return Err(self.err(ReadErrorKind::Truncated {
                    what: "block header",
                    needed: 12,
                    got: avail as u64,
                }));
            }
            let p = self.pos;
            let raw_type = [
                self.buf[p],
                self.buf[p + 1],
                self.buf[p + 2],
                self.buf[p + 3],
            ];
            if raw_type == [0x0a, 0x0d, 0x0d, 0x0a] {
                let bom = [
                    self.buf[p + 8],
                    self.buf[p + 9],
                    self.buf[p + 10],
                    self.buf[p + 11],
                ];
                self.big_endian = match bom {
                    [0x1a, 0x2b, 0x3c, 0x4d] => true,
                    [0x4d, 0x3c, 0x2b, 0x1a] => false,
                    _ => {
                        return Err(self.err(ReadErrorKind::Corrupt {
                            what: "section header block",
                            why: format!("bad byte-order magic {bom:02x?}"),
                        }));
                    }
                };
            } else if header_only {
                return Err(self.err(ReadErrorKind::Corrupt {
                    what: "pcapng file",
                    why: "does not start with a section header block".into(),
                }));
            }
            let big = self.big_endian;
            let btype = u32_at(&self.buf[p..], big);
            let total = u32_at(&self.buf[p + 4..], big);
            if total < 12 || !total.is_multiple_of(4) {
                return Err(self.err(ReadErrorKind::Corrupt {
                    what: "block",
                    why: format!(
                        "block type 0x{btype:08x} has total length {total}, not a multiple of 4 of at least 12"
                    ),
                }));
            }
            if total as usize > MAX_RECORD {
                return Err(self.err(ReadErrorKind::AbsurdLength {
                    what: "block total",
                    len: u64::from(total),
                    max: MAX_RECORD as u64,
                }));
            }
            let total = total as usize;
            let avail = self.fill(total)?;
            let p = self.pos;
            if avail < total {
                return Err(self.err(ReadErrorKind::Truncated {
                    what: "block",
                    needed: total as u64,
                    got: avail as u64,
                }));
            }
            let trailer = u32_at(&self.buf[p + total - 4..], big);
            if trailer as usize != total {
                return Err(self.err(ReadErrorKind::TrailerMismatch {
                    header: total as u32,
                    trailer,
                }));
            }
            let body = p + 8..p + total - 4;
            let result = self.pcapng_block(btype, body);
            let frame = match result {
                Ok(f) => f,
                Err(kind) => return Err(self.err(kind)),
            };
            self.pos += total;
            if header_only {
                return Ok(None);
            }
            if frame.is_some() {
                return Ok(frame);
            }
        }
    }

    /// Interprets one block body. Returns a frame for packet blocks.
    fn pcapng_block(
        &mut self,
        btype: u32,
        body: std::ops::Range<usize>,
    ) -> Result<Option<RawFrame>, ReadErrorKind> {
        let big = self.big_endian;
        let start = body.start;
        let b = &self.buf[body.clone()];
        let short = |what: &'static str, needed: usize| ReadErrorKind::Corrupt {
            what,
            why: format!("body is {} bytes, needs at least {needed}", b.len()),
        };
        match btype {
            0x0a0d_0d0a => {
                if b.len() < 16 {
                    return Err(short("section header block", 16));
                }
                let major = u16_at(&b[4..], big);
                let minor = u16_at(&b[6..], big);
                if major != 1 {
                    return Err(ReadErrorKind::UnsupportedVersion {
                        format: "pcapng",
                        major,
                        minor,
                    });
                }
                let (mut hw, mut os, mut app) = (None, None, None);
                for o in options(&b[16..], big) {
                    let (code, v) = o.map_err(|why| ReadErrorKind::Corrupt {
                        what: "section header block",
                        why,
                    })?;
                    match code {
                        2 => hw = Some(opt_string(v)),
                        3 => os = Some(opt_string(v)),
                        4 => app = Some(opt_string(v)),
                        _ => {}
                    }
                }
                if self.shb_os.is_none() && self.shb_hardware.is_none() && self.frames == 0 {
                    self.shb_hardware = hw;
                    self.shb_os = os;
                    self.shb_application = app;
                }
                if !self.section_ifaces.is_empty() || self.frames > 0 {
                    self.section += 1;
                }
                self.section_ifaces.clear();
                Ok(None)
            }
            1 => {
                if b.len() < 8 {
                    return Err(short("interface description block", 8));
                }
                let link = LinkType(u16_at(b, big));
                let snaplen = u32_at(&b[4..], big);
                let mut iface = Interface::new(link, snaplen);
                iface.section = self.section;
                for o in options(&b[8..], big) {
                    let (code, v) = o.map_err(|why| ReadErrorKind::Corrupt {
                        what: "interface description block",
                        why,
                    })?;
                    match code {
                        2 => iface.name = Some(opt_string(v)),
                        3 => iface.description = Some(opt_string(v)),
                        9 if !v.is_empty() => iface.tsresol = v[0],
                        11 if v.first() == Some(&0) => iface.filter = Some(opt_string(&v[1..])),
                        12 => iface.os = Some(opt_string(v)),
                        14 if v.len() >= 8 => iface.tsoffset = u64_at(v, big) as i64,
                        _ => {}
                    }
                }
                if self.interfaces.len() >= 65536 {
                    return Err(ReadErrorKind::AbsurdLength {
                        what: "interface count",
                        len: self.interfaces.len() as u64 + 1,
                        max: 65536,
                    });
                }
                self.section_ifaces.push(self.interfaces.len() as u32);
                self.interfaces.push(iface);
                Ok(None)
            }
            // Enhanced Packet Block, and the obsolete Packet Block (16-bit interface id).
            6 | 2 => {
                let what = if btype == 6 {
                    "enhanced packet block"
                } else {
                    "packet block"
                };
                if b.len() < 20 {
                    return Err(short(what, 20));
                }
                let local = if btype == 6 {
                    u32_at(b, big)
                } else {
                    u32::from(u16_at(b, big))
                };
                let units =
                    (u64::from(u32_at(&b[4..], big)) << 32) | u64::from(u32_at(&b[8..], big));
                let caplen = u32_at(&b[12..], big) as usize;
                let orig_len = u32_at(&b[16..], big);
                if caplen > b.len() - 20 {
                    return Err(ReadErrorKind::Corrupt {
                        what,
                        why: format!(
                            "captured length {caplen} exceeds the {} bytes of the block",
                            b.len() - 20
                        ),
                    });
                }
                let gi = *self
                    .section_ifaces
                    .get(local as usize)
                    .ok_or(ReadErrorKind::UnknownInterface(local))?;
                let iface = &self.interfaces[gi as usize];
                Ok(Some(RawFrame {
                    ts: iface.units_to_nanos(units),
                    link: iface.link,
                    iface: gi,
                    orig_len,
                    start: start + 20,
                    len: caplen,
                }))
            }
            3 => {
                if b.len() < 4 {
                    return Err(short("simple packet block", 4));
                }
                let orig_len = u32_at(b, big);
                let gi = *self
                    .section_ifaces
                    .first()
                    .ok_or(ReadErrorKind::UnknownInterface(0))?;
                let iface = &self.interfaces[gi as usize];
                let mut caplen = (orig_len as usize).min(b.len() - 4);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                Ok(Some(RawFrame {
                    ts: 0,
                    link: iface.link,
                    iface: gi,
                    orig_len,
                    start: start + 4,
                    len: caplen,
                }))
            }
            5 => {
                if b.len() < 12 {
                    return Err(short("interface statistics block", 12));
                }
                let local = u32_at(b, big);
                let Some(&gi) = self.section_ifaces.get(local as usize) else {
                    return Err(ReadErrorKind::UnknownInterface(local));
                };
                let mut st = InterfaceStats {
                    iface: gi,
                    ..InterfaceStats::default()
                };
                for o in options(&b[12..], big) {
                    let (code, v) = o.map_err(|why| ReadErrorKind::Corrupt {
                        what: "interface statistics block",
                        why,
                    })?;
                    match code {
                        4 if v.len() >= 8 => st.received = Some(u64_at(v, big)),
                        5 if v.len() >= 8 => st.dropped = Some(u64_at(v, big)),
                        _ => {}
                    }
                }
                if self.stats.len() < 65536 {
                    self.stats.push(st);
                }
                Ok(None)
            }
            0x0000_000a => {
                if b.len() < 8 {
                    return Err(short("decryption secrets block", 8));
                }
                let secrets_type = u32_at(b, big);
                let len = u32_at(&b[4..], big) as usize;
                if len > b.len() - 8 {
                    return Err(ReadErrorKind::Corrupt {
                        what: "decryption secrets block",
                        why: format!("secrets length {len} exceeds the block"),
                    });
                }
                if self.secrets_bytes + len <= MAX_SECRETS_BYTES {
                    self.secrets_bytes += len;
                    let data = b[8..8 + len].to_vec();
                    self.secrets.push(DecryptionSecrets { secrets_type, data });
                } else {
                    self.secrets_dropped += 1;
                }
                Ok(None)
            }
            // Name resolution, custom and unknown blocks: skipped.
            _ => Ok(None),
        }
    }
}

struct RawFrame {
    ts: i64,
    link: LinkType,
    iface: u32,
    orig_len: u32,
    start: usize,
    len: usize,
}
