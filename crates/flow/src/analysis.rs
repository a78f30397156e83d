//! Per-packet TCP analysis, as Wireshark 4.0 computes `tcp.analysis.*` in a single pass.
//!
//! Users compare wiresift with Wireshark side by side, so the heuristics are Wireshark's own
//! (`tcp_analyze_sequence_number` in `packet-tcp.c`), including their quirks: each flag is a
//! guess from what was seen so far, not a ground truth. The state kept per direction is the
//! handful of numbers those heuristics need — never the segments themselves.

use crate::{Nanos, tcp_flags as F};

/// `tcp.analysis.*` flags of one packet (a small bit set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Analysis(u32);

impl Analysis {
    pub const RETRANSMISSION: Analysis = Analysis(1 << 0);
    pub const FAST_RETRANSMISSION: Analysis = Analysis(1 << 1);
    pub const SPURIOUS_RETRANSMISSION: Analysis = Analysis(1 << 2);
    pub const OUT_OF_ORDER: Analysis = Analysis(1 << 3);
    pub const LOST_SEGMENT: Analysis = Analysis(1 << 4);
    pub const ACK_LOST_SEGMENT: Analysis = Analysis(1 << 5);
    pub const WINDOW_UPDATE: Analysis = Analysis(1 << 6);
    pub const WINDOW_FULL: Analysis = Analysis(1 << 7);
    pub const KEEP_ALIVE: Analysis = Analysis(1 << 8);
    pub const KEEP_ALIVE_ACK: Analysis = Analysis(1 << 9);
    pub const DUPLICATE_ACK: Analysis = Analysis(1 << 10);
    pub const ZERO_WINDOW: Analysis = Analysis(1 << 11);
    pub const ZERO_WINDOW_PROBE: Analysis = Analysis(1 << 12);
    pub const ZERO_WINDOW_PROBE_ACK: Analysis = Analysis(1 << 13);
    pub const REUSED_PORTS: Analysis = Analysis(1 << 14);

    /// Every flag with its Wireshark field name.
    pub const NAMED: [(Analysis, &'static str); 15] = [
        (Self::RETRANSMISSION, "tcp.analysis.retransmission"),
        (
            Self::FAST_RETRANSMISSION,
            "tcp.analysis.fast_retransmission",
        ),
        (
            Self::SPURIOUS_RETRANSMISSION,
            "tcp.analysis.spurious_retransmission",
        ),
        (Self::OUT_OF_ORDER, "tcp.analysis.out_of_order"),
        (Self::LOST_SEGMENT, "tcp.analysis.lost_segment"),
        (Self::ACK_LOST_SEGMENT, "tcp.analysis.ack_lost_segment"),
        (Self::WINDOW_UPDATE, "tcp.analysis.window_update"),
        (Self::WINDOW_FULL, "tcp.analysis.window_full"),
        (Self::KEEP_ALIVE, "tcp.analysis.keep_alive"),
        (Self::KEEP_ALIVE_ACK, "tcp.analysis.keep_alive_ack"),
        (Self::DUPLICATE_ACK, "tcp.analysis.duplicate_ack"),
        (Self::ZERO_WINDOW, "tcp.analysis.zero_window"),
        (Self::ZERO_WINDOW_PROBE, "tcp.analysis.zero_window_probe"),
        (
            Self::ZERO_WINDOW_PROBE_ACK,
            "tcp.analysis.zero_window_probe_ack",
        ),
        (Self::REUSED_PORTS, "tcp.analysis.reused_ports"),
    ];

    pub const fn empty() -> Analysis {
        Analysis(0)
    }
    pub const fn bits(self) -> u32 {
        self.0
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub const fn contains(self, other: Analysis) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn intersects(self, other: Analysis) -> bool {
        self.0 & other.0 != 0
    }
    pub fn insert(&mut self, other: Analysis) {
        self.0 |= other.0;
    }
    /// Wireshark's `tcp.analysis.retransmission` is also set on fast and spurious
    /// retransmissions (the field is added for all three); this says whether the filter
    /// `tcp.analysis.retransmission` matches.
    pub const fn matches_retransmission(self) -> bool {
        self.intersects(Analysis(
            Self::RETRANSMISSION.0 | Self::FAST_RETRANSMISSION.0 | Self::SPURIOUS_RETRANSMISSION.0,
        ))
    }
    /// Whether the display filter `field` (a `tcp.analysis.*` name) matches this packet,
    /// with Wireshark's implied fields.
    pub fn matches_field(self, field: &str) -> bool {
        match field {
            "tcp.analysis.retransmission" => self.matches_retransmission(),
            "tcp.analysis.flags" => !self.is_empty(),
            _ => Self::NAMED
                .iter()
                .any(|(f, n)| *n == field && self.contains(*f)),
        }
    }
    /// Names of the flags that are set.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMED
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

impl std::ops::BitOr for Analysis {
    type Output = Analysis;
    fn bitor(self, rhs: Analysis) -> Analysis {
        Analysis(self.0 | rhs.0)
    }
}

/// `a < b` in 32-bit sequence space.
pub(crate) fn lt_seq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
/// `a > b` in 32-bit sequence space.
pub(crate) fn gt_seq(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}
pub(crate) fn le_seq(a: u32, b: u32) -> bool {
    !gt_seq(a, b)
}

/// `now - then` as Wireshark's unsigned 64-bit nanoseconds (negative wraps to huge).
fn elapsed(now: Nanos, then: Nanos) -> u64 {
    now.wrapping_sub(then) as u64
}

/// Window scale state of one direction (Wireshark's `win_scale`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WinScale {
    /// No SYN seen: scaling unknown (-1).
    Unknown,
    /// Scaling not in use (-2).
    None,
    /// Shift count from the SYN option (capped at 14 by RFC 7323).
    Shift(u8),
}

/// Analysis state of one direction (Wireshark's `tcp_flow_t` + `tcp_analyze_seq_info`).
#[derive(Clone, Debug)]
pub(crate) struct DirState {
    pub base_seq: u32,
    pub base_set: bool,
    pub win_scale: WinScale,
    /// Last raw window field.
    window: u32,
    lastsegmentflags: Analysis,
    nextseq: u32,
    nextseqtime: Nanos,
    maxseqtobeacked: u32,
    lastack: u32,
    lastacktime: Nanos,
    dupacknum: u32,
}

impl Default for DirState {
    fn default() -> Self {
        DirState {
            base_seq: 0,
            base_set: false,
            win_scale: WinScale::Unknown,
            window: 0,
            lastsegmentflags: Analysis::empty(),
            nextseq: 0,
            nextseqtime: 0,
            maxseqtobeacked: 0,
            lastack: 0,
            lastacktime: 0,
            dupacknum: 0,
        }
    }
}

/// TCP analysis state of one conversation (both directions).
#[derive(Clone, Debug, Default)]
pub(crate) struct TcpAnalyzer {
    pub dirs: [DirState; 2],
    /// Time of the most recent SYN, and the first RTT (SYN → first pure ACK); the
    /// out-of-order heuristic uses the RTT as its threshold (3 ms while unknown).
    ts_mru_syn: Option<Nanos>,
    ts_first_rtt: Option<Nanos>,
}

/// The result of analysing one segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Analysed {
    pub analysis: Analysis,
    pub dup_ack_num: Option<u32>,
    pub rel_seq: u32,
    pub rel_ack: u32,
    pub window_size: u32,
    pub window_scale_factor: Option<i32>,
}

/// Inputs of [`TcpAnalyzer::analyse`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegFacts {
    pub seq: u32,
    pub ack: u32,
    pub seglen: u32,
    pub flags: u16,
    pub window: u16,
    pub wscale: Option<u8>,
    pub ts: Nanos,
}

impl TcpAnalyzer {
    /// Whether a SYN (without ACK) with this sequence number from direction `d` starts a new
    /// conversation: Wireshark 4.0 does so when that direction's base sequence number is known
    /// and differs (a SYN retransmission keeps the stream, even after FIN or RST).
    pub fn syn_starts_new(&self, d: usize, seq: u32) -> bool {
        let fwd = &self.dirs[d];
        fwd.base_set && fwd.base_seq != seq
    }

    /// Analyses one segment of direction `d` (0 or 1) and updates the state.
    pub fn analyse(&mut self, d: usize, s: SegFacts) -> Analysed {
        let (fwd_i, rev_i) = (d & 1, (d & 1) ^ 1);
        let syn = s.flags & F::SYN != 0;
        let ackf = s.flags & F::ACK != 0;

        // Window scaling, from the SYN options (Wireshark: dissect_tcpopt_wscale and
        // verify_tcp_window_scaling).
        if syn {
            if let Some(shift) = s.wscale {
                self.dirs[fwd_i].win_scale = WinScale::Shift(shift.min(14));
            }
            let is_synack = ackf;
            if self.dirs[fwd_i].win_scale == WinScale::Unknown {
                self.dirs[fwd_i].win_scale = WinScale::None;
                self.dirs[rev_i].win_scale = WinScale::None;
            } else if is_synack && self.dirs[rev_i].win_scale == WinScale::None {
                self.dirs[fwd_i].win_scale = WinScale::None;
            }
        }
        let raw_win = u32::from(s.window);
        let (window_size, window_scale_factor) = if syn {
            (raw_win, None)
        } else {
            match self.dirs[fwd_i].win_scale {
                WinScale::Unknown => (raw_win, Some(-1)),
                WinScale::None => (raw_win, Some(-2)),
                WinScale::Shift(n) => (raw_win << n, Some(1i32 << n)),
            }
        };

        // First RTT, used as the out-of-order threshold.
        if s.flags & (F::SYN | F::ACK) == F::SYN {
            self.ts_mru_syn = Some(s.ts);
        }
        if s.flags & (F::SYN | F::ACK) == F::ACK
            && self.ts_first_rtt.is_none()
            && let Some(t) = self.ts_mru_syn
        {
            let rtt = s.ts.saturating_sub(t);
            if rtt != 0 {
                self.ts_first_rtt = Some(rtt);
            }
        }

        let (seq, ack, seglen, flags, window) = (s.seq, s.ack, s.seglen, s.flags, raw_win);

        // Base sequence numbers (relative numbering starts at 1 without a SYN).
        {
            let fwd = &mut self.dirs[fwd_i];
            if syn {
                fwd.base_seq = seq;
                fwd.base_set = true;
            } else if !fwd.base_set {
                fwd.base_seq = seq.wrapping_sub(1);
                fwd.base_set = true;
            }
        }
        if ackf && !self.dirs[rev_i].base_set {
            self.dirs[rev_i].base_seq = ack.wrapping_sub(1);
            self.dirs[rev_i].base_set = true;
        }

        let mut ta = Analysis::empty();
        let mut dup_ack_num = None;
        let no_sfr = flags & (F::SYN | F::FIN | F::RST) == 0;
        let [d0, d1] = &mut self.dirs;
        let (fwd, rev) = if fwd_i == 0 { (d0, d1) } else { (d1, d0) };

        'fwd: {
            // ZERO WINDOW PROBE: 1 byte at the next expected sequence number into a zero window.
            if seglen == 1 && seq == fwd.nextseq && rev.window == 0 {
                ta.insert(Analysis::ZERO_WINDOW_PROBE);
                break 'fwd;
            }
            // ZERO WINDOW
            if window == 0 && no_sfr {
                ta.insert(Analysis::ZERO_WINDOW);
            }
            // LOST SEGMENT: beyond the highest sequence seen so far.
            if fwd.nextseq != 0 && gt_seq(seq, fwd.nextseq) && flags & F::RST == 0 {
                ta.insert(Analysis::LOST_SEGMENT);
            }
            // KEEP ALIVE: 0 or 1 byte one before the next expected sequence number.
            if (seglen == 0 || seglen == 1) && seq == fwd.nextseq.wrapping_sub(1) && no_sfr {
                ta.insert(Analysis::KEEP_ALIVE);
            }
            // WINDOW UPDATE
            if seglen == 0
                && window != 0
                && window != fwd.window
                && seq == fwd.nextseq
                && ack == fwd.lastack
                && no_sfr
            {
                ta.insert(Analysis::WINDOW_UPDATE);
            }
            // WINDOW FULL: data up to the right edge of the peer's advertised window.
            if seglen > 0 && rev.win_scale != WinScale::Unknown && no_sfr {
                let shift = match rev.win_scale {
                    WinScale::Shift(n) => n,
                    _ => 0,
                };
                let edge = rev
                    .lastack
                    .wrapping_add(rev.window.checked_shl(u32::from(shift)).unwrap_or(0));
                if seq.wrapping_add(seglen) == edge {
                    ta.insert(Analysis::WINDOW_FULL);
                }
            }
            // KEEP ALIVE ACK
            if seglen == 0
                && window != 0
                && window == fwd.window
                && seq == fwd.nextseq
                && ack == fwd.lastack
                && rev.lastsegmentflags.contains(Analysis::KEEP_ALIVE)
                && no_sfr
            {
                ta.insert(Analysis::KEEP_ALIVE_ACK);
                break 'fwd;
            }
            // ZERO WINDOW PROBE ACK
            if seglen == 0
                && window == 0
                && window == fwd.window
                && seq == fwd.nextseq
                && (ack == fwd.lastack || ack == fwd.lastack.wrapping_add(1))
                && rev.lastsegmentflags.contains(Analysis::ZERO_WINDOW_PROBE)
                && no_sfr
            {
                ta.insert(Analysis::ZERO_WINDOW_PROBE_ACK);
                break 'fwd;
            }
            // DUPLICATE ACK: same window/seq/ack as the previous segment, no data.
            if seglen == 0
                && window != 0
                && window == fwd.window
                && seq == fwd.nextseq
                && ack == fwd.lastack
                && no_sfr
            {
                fwd.dupacknum = fwd.dupacknum.saturating_add(1);
                ta.insert(Analysis::DUPLICATE_ACK);
                dup_ack_num = Some(fwd.dupacknum);
            }
        }
        // Wireshark 4.0 resets the count only when the acknowledgement moves (data segments
        // repeating the ACK keep it), which is what makes a later fast retransmission visible.
        if ack != fwd.lastack {
            fwd.dupacknum = 0;
        }

        // ACKED LOST SEGMENT: acknowledges data never seen in the other direction.
        if rev.maxseqtobeacked != 0 && gt_seq(ack, rev.maxseqtobeacked) && ackf {
            ta.insert(Analysis::ACK_LOST_SEGMENT);
            // Wireshark: the peer evidently sent up to `ack`; do not report this hole again.
            if gt_seq(ack, rev.nextseq) {
                rev.nextseq = ack;
            }
            rev.maxseqtobeacked = rev.nextseq;
        }

        // RETRANSMISSION / FAST RETRANSMISSION / OUT-OF-ORDER / SPURIOUS
        if (seglen > 0 || flags & (F::SYN | F::FIN) != 0) && !ta.contains(Analysis::KEEP_ALIVE) {
            let mut seq_not_advanced = fwd.nextseq != 0 && lt_seq(seq, fwd.nextseq);
            // Wireshark 4.0: a segment of more than one byte starting one byte before the next
            // expected one (after a possible zero window probe) adds new data.
            if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
                seq_not_advanced = false;
            }
            'rt: {
                // Data the peer has already acknowledged: spurious. Wireshark 4.0 checks this
                // before fast retransmission and out-of-order.
                if seglen > 0 && rev.lastack != 0 && le_seq(seq.wrapping_add(seglen), rev.lastack) {
                    ta.insert(Analysis::SPURIOUS_RETRANSMISSION);
                    break 'rt;
                }
                // Wireshark computes these intervals unsigned: a packet older than the
                // reference (capture reordering) is never "within" the interval.
                let t = elapsed(s.ts, rev.lastacktime);
                if seq_not_advanced && rev.dupacknum >= 2 && rev.lastack == seq && t < 20_000_000 {
                    ta.insert(Analysis::FAST_RETRANSMISSION);
                    break 'rt;
                }
                let t = elapsed(s.ts, fwd.nextseqtime);
                let ooo_thres = self.ts_first_rtt.map_or(3_000_000, |r| r as u64);
                let sf = u32::from(flags & (F::SYN | F::FIN) != 0);
                if seq_not_advanced
                    && t < ooo_thres
                    && fwd.nextseq != seq.wrapping_add(seglen).wrapping_add(sf)
                {
                    ta.insert(Analysis::OUT_OF_ORDER);
                    break 'rt;
                }
                if seq_not_advanced {
                    ta.insert(Analysis::RETRANSMISSION);
                }
            }
        }

        // Remember the highest sequence number seen (every segment counts, so the first
        // segment of a mid-stream capture sets it), and the highest contiguous one.
        {
            let mut nextseq = seq.wrapping_add(seglen);
            if flags & (F::SYN | F::FIN) != 0 {
                nextseq = nextseq.wrapping_add(1);
            }
            let zwp = ta.contains(Analysis::ZERO_WINDOW_PROBE);
            if (gt_seq(nextseq, fwd.nextseq) || fwd.nextseq == 0) && !zwp {
                fwd.nextseq = nextseq;
                fwd.nextseqtime = s.ts;
            }
            if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) && !zwp {
                fwd.maxseqtobeacked = fwd.nextseq;
            }
        }

        fwd.window = window;
        fwd.lastack = ack;
        fwd.lastacktime = s.ts;
        fwd.lastsegmentflags = ta;

        let rel_seq = seq.wrapping_sub(fwd.base_seq);
        let rel_ack = if ackf {
            ack.wrapping_sub(rev.base_seq)
        } else {
            0
        };
        Analysed {
            analysis: ta,
            dup_ack_num,
            rel_seq,
            rel_ack,
            window_size,
            window_scale_factor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_compare_wraps() {
        assert!(lt_seq(u32::MAX, 0));
        assert!(gt_seq(0, u32::MAX));
        assert!(le_seq(5, 5));
        assert!(!lt_seq(5, 5));
    }

    #[test]
    fn field_matching() {
        let a = Analysis::FAST_RETRANSMISSION;
        assert!(a.matches_field("tcp.analysis.retransmission"));
        assert!(a.matches_field("tcp.analysis.fast_retransmission"));
        assert!(!a.matches_field("tcp.analysis.out_of_order"));
        assert_eq!(
            a.names().collect::<Vec<_>>(),
            ["tcp.analysis.fast_retransmission"]
        );
    }
}
