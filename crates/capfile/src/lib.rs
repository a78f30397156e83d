//! Streaming pcap and pcapng reading and writing.
//!
//! We read capture files ourselves rather than through libpcap or pcap-file because every error
//! must name the byte offset of the damage, every length field must be capped before it sizes an
//! allocation, pcapng features libpcap refuses (interfaces with different link types, several
//! sections, Decryption Secrets Blocks) must work, and frames must be handed out without a copy.
//! Memory is one read buffer, whatever the file size.
#![forbid(unsafe_code)]

mod error;
mod linktype;
mod readahead;
mod reader;
mod writer;

pub use error::{ReadError, ReadErrorKind};
pub use linktype::LinkType;
pub use reader::{ByteSource, CaptureReader, DecryptionSecrets, FileFormat, InterfaceStats};
pub use writer::{OutputFormat, PcapNgWriter, PcapWriter, Writer};

/// Nanoseconds since the Unix epoch.
pub type Nanos = i64;

/// Largest record or block we accept. Real captures stay far below (libpcap caps packets at
/// 256 KiB); anything larger is a damaged length field, not data.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// One frame as read from a capture: borrowed from the reader's buffer until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// 1-based position in the file (Wireshark's `frame.number`).
    pub number: u64,
    pub ts: Nanos,
    pub link: LinkType,
    /// Index into [`CaptureReader::interfaces`] (global across pcapng sections).
    pub iface: u32,
    /// Length on the wire (may exceed `data.len()` when the snaplen cut the frame).
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// A capture interface: the single implicit one of a pcap file or a pcapng IDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub link: LinkType,
    pub snaplen: u32,
    pub name: Option<String>,
    pub description: Option<String>,
    pub filter: Option<String>,
    pub os: Option<String>,
    /// Timestamp resolution as stored: `if_tsresol` byte (6 = microseconds, 9 = nanoseconds,
    /// high bit set = power of two).
    pub tsresol: u8,
    /// `if_tsoffset`, seconds added to every timestamp.
    pub tsoffset: i64,
    /// The pcapng section the interface belongs to (0 for pcap).
    pub section: u32,
}

impl Interface {
    pub fn new(link: LinkType, snaplen: u32) -> Interface {
        Interface {
            link,
            snaplen,
            name: None,
            description: None,
            filter: None,
            os: None,
            tsresol: 6,
            tsoffset: 0,
            section: 0,
        }
    }

    /// Decimal digits of the sub-second part needed to show timestamps at full precision.
    pub fn precision_digits(&self) -> u8 {
        if self.tsresol & 0x80 == 0 {
            self.tsresol.min(9)
        } else {
            // 2^-n: enough decimal digits to distinguish steps of 2^-n seconds.
            let n = u32::from(self.tsresol & 0x7f);
            ((n as f64) * std::f64::consts::LOG10_2)
                .ceil()
                .clamp(0.0, 9.0) as u8
        }
    }

    /// Converts a raw pcapng timestamp in this interface's units to nanoseconds.
    pub fn units_to_nanos(&self, units: u64) -> Nanos {
        let ns: i128 = if self.tsresol & 0x80 == 0 {
            let n = u32::from(self.tsresol);
            if n <= 9 {
                i128::from(units) * 10i128.pow(9 - n)
            } else {
                i128::from(units) / 10i128.pow((n - 9).min(30))
            }
        } else {
            let n = u32::from(self.tsresol & 0x7f).min(100);
            (i128::from(units) * 1_000_000_000) >> n
        };
        let ns = ns + i128::from(self.tsoffset) * 1_000_000_000;
        ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Converts nanoseconds to this interface's units (for writing).
    pub fn nanos_to_units(&self, ts: Nanos) -> u64 {
        let ns = i128::from(ts) - i128::from(self.tsoffset) * 1_000_000_000;
        let units = if self.tsresol & 0x80 == 0 {
            let n = u32::from(self.tsresol);
            if n <= 9 {
                ns / 10i128.pow(9 - n)
            } else {
                ns * 10i128.pow((n - 9).min(20))
            }
        } else {
            let n = u32::from(self.tsresol & 0x7f).min(100);
            (ns << n) / 1_000_000_000
        };
        units.clamp(0, i128::from(u64::MAX)) as u64
    }
}
