//! Caps on the flow table's memory, and the counters that say when they were hit.
//!
//! The design promise is "memory bounded by configured limits, never by file size": a 10 GB
//! capture must fit in < 256 MiB. The defaults below hold the worst case (every flow with both
//! directions' out-of-order buffers full) near that budget only if flows really are that bad;
//! typical flows hold no buffered bytes at all.

use crate::{FlowError, Nanos};

/// Limits of a [`crate::FlowTable`]. Every one has a CLI flag in the `wiresift` binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Flows kept in memory (TCP + UDP). When full, the least recently used flow is flushed
    /// and closed with [`crate::CloseReason::Evicted`]. Default 65 536 (a flow costs about 1 KiB).
    ///
    /// A later packet of an evicted flow starts a new stream index (Wireshark never forgets a
    /// conversation, so numbering diverges from tshark only after an eviction, which is counted).
    pub max_flows: usize,
    /// Out-of-order bytes buffered per TCP direction. When exceeded, the oldest buffered data
    /// is flushed after a gap ([`crate::GapCause::Limit`]). Default 4 MiB.
    pub max_ooo_bytes: usize,
    /// Out-of-order segments buffered per TCP direction. Default 4096 (a lossy link holds a
    /// hole open for a retransmission timeout while 1,000-2,000 segments arrive beyond it;
    /// the byte limit bounds the memory).
    pub max_ooo_segments: usize,
    /// Total out-of-order bytes over all flows. Default 64 MiB.
    pub max_total_ooo_bytes: usize,
    /// Close flows with no packet for this long (packet time). `None` (the default) keeps
    /// flows until eviction or the end of input, as Wireshark does: an idle close makes the
    /// next packet of that 5-tuple a new stream.
    pub idle_timeout: Option<Nanos>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 65_536,
            max_ooo_bytes: 4 << 20,
            max_ooo_segments: 4096,
            max_total_ooo_bytes: 64 << 20,
            idle_timeout: None,
        }
    }
}

impl Limits {
    /// Checks that the limits can work (every cap at least 1).
    pub fn validate(&self) -> Result<(), FlowError> {
        if self.max_flows == 0 {
            return Err(FlowError::InvalidLimit {
                name: "max_flows",
                why: "must be at least 1",
            });
        }
        if self.max_ooo_segments == 0 || self.max_ooo_bytes == 0 || self.max_total_ooo_bytes == 0 {
            return Err(FlowError::InvalidLimit {
                name: "max_ooo_*",
                why: "must be at least 1",
            });
        }
        if matches!(self.idle_timeout, Some(t) if t <= 0) {
            return Err(FlowError::InvalidLimit {
                name: "idle_timeout",
                why: "must be positive",
            });
        }
        Ok(())
    }
}

/// Counters of a [`crate::FlowTable`]; see [`crate::FlowTable::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    pub tcp_streams: u64,
    pub udp_streams: u64,
    /// Flows currently held.
    pub flows_in_memory: u64,
    pub flows_closed: u64,
    /// Flows closed because `max_flows` was reached.
    pub evicted: u64,
    /// New flows on the addresses and ports of an evicted one: Wireshark would have continued
    /// the old stream, here they got a new stream number. (An evicted flow that is never seen
    /// again loses nothing: its data was delivered when it was evicted.)
    pub reopened_after_eviction: u64,
    /// Flows closed by `idle_timeout`.
    pub idle_closed: u64,
    /// Conversations replaced by a new SYN on the same addresses and ports.
    pub reused_ports: u64,
    /// Times a per-direction or global out-of-order limit forced a flush.
    pub ooo_limit_flushes: u64,
    /// Gaps reported (all causes) and their bytes.
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Bytes missing because frames were cut by the snap length.
    pub truncated_bytes: u64,
    /// Overlapping copies whose bytes differed from the first copy.
    pub overlap_conflicts: u64,
    pub delivered_bytes: u64,
    /// Out-of-order bytes buffered right now, and the most ever buffered at once.
    pub ooo_bytes_now: u64,
    pub ooo_bytes_peak: u64,
}
