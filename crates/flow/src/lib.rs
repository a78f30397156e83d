//! Sans-I/O flow engine: the heart of "Follow TCP Stream".
//!
//! The engine takes already-decoded packet facts ([`Packet`]) and, in one pass:
//!
//! * numbers conversations exactly as Wireshark 4.0 numbers `tcp.stream` / `udp.stream`
//!   ([`stream_index`]), so that the same id means the same flow in every wiresift output;
//! * computes Wireshark's per-packet TCP facts — relative sequence numbers, scaled window,
//!   `tcp.analysis.*` flags ([`analysis`]);
//! * reassembles each TCP direction into an ordered byte stream with explicit gaps
//!   ([`reassembly`]), pushed to a [`FlowHandler`];
//! * bounds every piece of state with [`Limits`] and counts every limit that was hit
//!   ([`Stats`]) — nothing is dropped silently.
//!
//! Beside the table: IP defragmentation ([`defrag`]), Community ID v1 ([`community_id`]) and
//! writers that reproduce `tshark -z follow,...` output byte for byte ([`follow`]).
//!
//! No I/O, no clocks: time is the packets' own timestamps.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod community_id;
pub mod defrag;
pub mod follow;
pub mod limits;
pub mod reassembly;
pub mod stream_index;
pub mod table;

use std::net::IpAddr;

pub use analysis::Analysis;
pub use community_id::community_id_v1;
pub use defrag::{DefragLimits, DefragStats, Defragmenter, FragKey, Reassembled};
pub use follow::{FollowFormat, FollowProto, FollowWriter};
pub use limits::{Limits, Stats};
pub use table::FlowTable;

/// Timestamps: nanoseconds since the Unix epoch (packet time, never the wall clock).
pub type Nanos = i64;

/// TCP flag bits as they appear in the header's flag field.
pub mod tcp_flags {
    pub const FIN: u16 = 0x01;
    pub const SYN: u16 = 0x02;
    pub const RST: u16 = 0x04;
    pub const PSH: u16 = 0x08;
    pub const ACK: u16 = 0x10;
    pub const URG: u16 = 0x20;
    pub const ECE: u16 = 0x40;
    pub const CWR: u16 = 0x80;
}

/// The TCP facts the flow engine needs from one segment.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub sport: u16,
    pub dport: u16,
    /// Raw (absolute) sequence number.
    pub seq: u32,
    /// Raw acknowledgement number (meaningful only with ACK set).
    pub ack: u32,
    /// FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80 (see [`tcp_flags`]).
    pub flags: u16,
    /// Raw window field (unscaled).
    pub window: u16,
    /// Window scale shift from the SYN's option, if the option was present.
    pub wscale: Option<u8>,
    /// Payload bytes that were captured.
    pub payload: &'a [u8],
    /// Payload length on the wire (IP length minus headers). Wireshark's `tcp.len`: the
    /// sequence space this segment occupies. It is larger than `payload.len()` when the frame
    /// was cut by the snap length; the missing tail is reported as a gap, never invented.
    /// Use [`TcpSegment::wire_len`] so that `0` falls back to `payload.len()`.
    pub seg_len: u32,
}

impl TcpSegment<'_> {
    /// The segment's length in sequence space (without SYN/FIN), never less than the payload.
    pub fn wire_len(&self) -> u32 {
        let cap = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        self.seg_len.max(cap)
    }
}

/// Transport layer of a packet the flow engine looks at.
#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp {
        sport: u16,
        dport: u16,
        payload: &'a [u8],
    },
}

/// One packet as the flow engine sees it: after decoding and IP reassembly.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// 1-based frame number (for a reassembled IP datagram: the frame that completed it).
    pub frame: u64,
    pub ts: Nanos,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport<'a>,
}

/// Which way a packet travels within its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }
    /// 0 for client→server, 1 for server→client (array index).
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }
}

/// Transport protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// IANA protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }
}

/// Per-packet TCP facts, as Wireshark shows them in `tcp.*` fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFacts {
    /// `tcp.stream`.
    pub stream: u64,
    pub dir: Direction,
    /// `tcp.seq` (relative).
    pub rel_seq: u32,
    /// `tcp.ack` (relative; 0 when the ACK flag is not set).
    pub rel_ack: u32,
    /// `tcp.nxtseq` (relative): seq + len (+1 for SYN or FIN).
    pub next_seq: u32,
    /// `tcp.len`.
    pub seg_len: u32,
    /// `tcp.window_size`: the window after scaling (raw when scaling is unknown or unused).
    pub window_size: u32,
    /// `tcp.window_size_scalefactor`: -1 unknown, -2 no scaling, else the multiplier.
    /// `None` on SYN segments (Wireshark does not show the field there).
    pub window_scale_factor: Option<i32>,
    /// `tcp.time_relative`: since the first packet of the stream.
    pub time_relative: Nanos,
    /// `tcp.time_delta`: since the previous packet of the stream.
    pub time_delta: Nanos,
    /// `tcp.analysis.*` flags.
    pub analysis: Analysis,
    /// `tcp.analysis.duplicate_ack_num`, when `analysis` has DUPLICATE_ACK.
    pub dup_ack_num: Option<u32>,
}

/// What the table learnt about one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketFlow {
    Tcp(TcpFacts),
    /// `udp.stream`, and the direction within it.
    Udp {
        stream: u64,
        dir: Direction,
    },
}

impl PacketFlow {
    /// The stream index (`tcp.stream` or `udp.stream`).
    pub fn stream(&self) -> u64 {
        match self {
            PacketFlow::Tcp(t) => t.stream,
            PacketFlow::Udp { stream, .. } => *stream,
        }
    }
}

/// Identity of a flow for handlers: stream numbers are per protocol (TCP stream 2 and UDP
/// stream 2 are different flows), so the protocol travels with the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId {
    pub proto: Proto,
    /// `tcp.stream` or `udp.stream`.
    pub stream: u64,
}

/// Facts about a flow, given when it opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowInfo {
    pub stream: u64,
    pub proto: Proto,
    /// SYN sender, or the first packet's source when the capture starts mid-stream
    /// (the SYN/ACK's destination when the first packet seen is a SYN/ACK).
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    /// Whether the first packet came from the client (Wireshark's follow "node 0" is the
    /// first packet's source).
    pub first_from_client: bool,
    pub first_frame: u64,
    pub first_ts: Nanos,
    /// Community ID v1 with seed 0.
    pub community_id: String,
}

/// Why a flow ended. FIN and RST do not end a flow: Wireshark keeps the conversation (later
/// ACKs, retransmissions and a SYN with the same ISN stay in the stream); see
/// [`DirSummary::fin`] / [`DirSummary::rst`] for how it terminated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// A new conversation on the same addresses/ports replaced this one (port reuse).
    Reused,
    /// No packet for longer than [`Limits::idle_timeout`].
    IdleTimeout,
    /// Evicted (least recently used) because [`Limits::max_flows`] was reached.
    Evicted,
    /// [`FlowTable::finish`] at the end of input.
    EndOfCapture,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Reused => "port reused",
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::Evicted => "evicted",
            CloseReason::EndOfCapture => "end of capture",
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-direction totals of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirSummary {
    pub packets: u64,
    /// Payload bytes seen on the wire (including retransmissions).
    pub wire_bytes: u64,
    /// Bytes delivered through [`FlowHandler::on_data`].
    pub delivered_bytes: u64,
    /// Number of gaps reported, and their total length.
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Retransmitted/overlapping copies whose bytes differed from the first copy.
    pub overlap_conflicts: u64,
    pub fin: bool,
    pub rst: bool,
}

/// Facts about a flow, given when it closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSummary {
    pub stream: u64,
    pub proto: Proto,
    pub reason: CloseReason,
    /// Index with [`Direction::index`].
    pub dirs: [DirSummary; 2],
    pub first_ts: Nanos,
    pub last_ts: Nanos,
    pub first_frame: u64,
    pub last_frame: u64,
}

impl FlowSummary {
    pub fn dir(&self, d: Direction) -> &DirSummary {
        &self.dirs[d.index()]
    }
    /// Sum of overlap conflicts in both directions.
    pub fn overlap_conflicts(&self) -> u64 {
        self.dirs[0].overlap_conflicts + self.dirs[1].overlap_conflicts
    }
}

/// Why bytes are missing from a reassembled direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapCause {
    /// The peer acknowledged data the capture does not hold (Wireshark's follow prints
    /// `[N bytes missing in capture file]` for these).
    NotCaptured,
    /// The frame was cut by the snap length; the segment's tail was never captured.
    Truncated,
    /// Data after a hole was flushed because a buffering limit was hit.
    Limit,
    /// Data after a hole was flushed when the flow closed (end of capture, idle, eviction).
    Close,
}

/// A hole in a reassembled direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub missing: u64,
    pub cause: GapCause,
    /// The frame whose processing revealed the gap.
    pub frame: u64,
    pub ts: Nanos,
}

/// Receives the flow engine's output, pushed as it happens. Every method has an empty default.
///
/// Data is borrowed only for the call: copy what you keep.
pub trait FlowHandler {
    fn on_open(&mut self, _id: FlowId, _info: &FlowInfo) {}
    /// Asked once per flow, right after [`FlowHandler::on_open`]: `false` means this handler
    /// will never look at the flow's bytes, so the table skips reassembling it (stream numbers,
    /// relative sequence numbers and analysis flags are still computed). An extractor that
    /// needs only some ports (mail) saves reassembling every other stream of the capture.
    fn wants_data(&mut self, _id: FlowId, _info: &FlowInfo) -> bool {
        true
    }
    /// In-order bytes of one direction. TCP: one call per segment (or per part of a segment
    /// that was new); UDP: one call per datagram.
    fn on_data(&mut self, _id: FlowId, _dir: Direction, _data: &[u8], _ts: Nanos, _frame: u64) {}
    /// Bytes that will never be delivered, at this position of the direction's stream.
    fn on_gap(&mut self, _id: FlowId, _dir: Direction, _gap: &Gap) {}
    fn on_close(&mut self, _id: FlowId, _summary: &FlowSummary) {}
}

/// A handler that ignores everything (for callers that only want [`PacketFlow`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct NullHandler;

impl FlowHandler for NullHandler {}

/// Errors of the flow engine's fallible constructors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlowError {
    #[error("invalid limit {name}: {why}")]
    InvalidLimit {
        name: &'static str,
        why: &'static str,
    },
    #[error("unknown follow format {0:?} (expected ascii, hex, raw or yaml)")]
    UnknownFollowFormat(String),
}
