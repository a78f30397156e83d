//! TCP reassembly of one direction: in-order delivery, out-of-order buffering, explicit gaps.
//!
//! The rules are those of Wireshark's "Follow TCP Stream" (`follow_tcp_tap_listener` and
//! `check_follow_fragments` in Wireshark 4.0), so that `wiresift follow` prints what users
//! see in Wireshark, chunk for chunk:
//!
//! * a direction starts at the first segment seen in it (after the SYN), so captures that begin
//!   mid-stream work;
//! * a segment that starts before the next expected byte contributes only its new tail (the
//!   first copy wins); keep-alives (1 byte at seq-1) therefore add nothing;
//! * a segment beyond the next expected byte is buffered; buffered segments are taken in
//!   arrival order as soon as they fit;
//! * a hole becomes a gap ([`GapCause::NotCaptured`]) when the peer acknowledges data beyond it
//!   (the receiver had the bytes, the capture does not) — never invented bytes;
//! * unlike Wireshark, buffered data is never dropped: a limit or the flow's end flushes it
//!   after a gap ([`GapCause::Limit`], [`GapCause::Close`]).
//!
//! Positions are 32-bit sequence numbers (wrapping); buffered segments are keyed by a 64-bit
//! stream offset so that ordering survives the wrap.

use std::collections::BTreeMap;

use crate::analysis::{gt_seq, lt_seq};
use crate::{DirSummary, Direction, FlowHandler, FlowId, Gap, GapCause, Nanos, Proto, Stats};

/// How many recently delivered segments are remembered (by hash) to spot retransmissions
/// whose bytes differ from the first copy.
const RECENT: usize = 8;

#[derive(Clone, Debug)]
struct Frag {
    seq: u32,
    data: Vec<u8>,
    frame: u64,
    ts: Nanos,
}

#[derive(Clone, Copy, Debug, Default)]
struct Recent {
    seq: u32,
    len: u32,
    hash: u64,
}

/// Where the reassembler's output goes for one call.
pub(crate) struct Sink<'a> {
    pub handler: &'a mut dyn FlowHandler,
    pub stream: u64,
    pub dir: Direction,
    pub summary: &'a mut DirSummary,
    pub stats: &'a mut Stats,
}

impl Sink<'_> {
    fn data(&mut self, data: &[u8], ts: Nanos, frame: u64) {
        if data.is_empty() {
            return;
        }
        let n = data.len() as u64;
        self.summary.delivered_bytes += n;
        self.stats.delivered_bytes += n;
        let id = FlowId {
            proto: Proto::Tcp,
            stream: self.stream,
        };
        self.handler.on_data(id, self.dir, data, ts, frame);
    }
    fn gap(&mut self, missing: u64, cause: GapCause, frame: u64, ts: Nanos) {
        if missing == 0 {
            return;
        }
        self.summary.gaps += 1;
        self.summary.gap_bytes += missing;
        self.stats.gaps += 1;
        self.stats.gap_bytes += missing;
        if cause == GapCause::Truncated {
            self.stats.truncated_bytes += missing;
        }
        let g = Gap {
            missing,
            cause,
            frame,
            ts,
        };
        let id = FlowId {
            proto: Proto::Tcp,
            stream: self.stream,
        };
        self.handler.on_gap(id, self.dir, &g);
    }
    fn conflict(&mut self) {
        self.summary.overlap_conflicts += 1;
        self.stats.overlap_conflicts += 1;
    }
}

/// One segment handed to [`DirReassembler::segment`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seg<'a> {
    /// Relative sequence number (as Wireshark's `tcp.seq`).
    pub rel_seq: u32,
    pub syn: bool,
    /// Length in sequence space (without SYN/FIN).
    pub seglen: u32,
    /// Captured payload (may be shorter than `seglen`).
    pub data: &'a [u8],
    pub frame: u64,
    pub ts: Nanos,
}

/// Reassembly state of one TCP direction.
#[derive(Clone, Debug, Default)]
pub(crate) struct DirReassembler {
    /// Next expected relative sequence number (0 = not started, as in Wireshark).
    next: u32,
    /// Stream offset of `next`.
    next_off: u64,
    /// Bytes delivered by the in-order path (Wireshark's `bytes_written`).
    written: u64,
    /// Buffered out-of-order segments, keyed by (stream offset, arrival number).
    frags: BTreeMap<(i128, u64), Frag>,
    arrivals: u64,
    buffered_bytes: usize,
    /// Inline, not a `Vec`: every flow has two of these, and a heap block per direction was
    /// a third of a flow's memory.
    recent: [Recent; RECENT],
    recent_len: usize,
    recent_pos: usize,
}

/// Fingerprint of delivered bytes, to spot a retransmission that carries different bytes.
/// Every delivered segment goes through it, so it must cost next to nothing: word sums and
/// xors in four lanes (vectorised by the compiler; a seeded hash was 14% of the parsing
/// thread of `follow --split`). Any change of bytes changes it, except changes that cancel
/// out in both the sum and the xor of the same lane; such a collision only hides an
/// anomaly, it never changes delivered data.
fn hash_bytes(b: &[u8]) -> u64 {
    let mut sum = [0u64; 4];
    let mut xor = [0u64; 4];
    let mut chunks = b.chunks_exact(32);
    for c in &mut chunks {
        for k in 0..4 {
            let mut w = [0u8; 8];
            w.copy_from_slice(&c[k * 8..k * 8 + 8]);
            let w = u64::from_le_bytes(w);
            sum[k] = sum[k].wrapping_add(w);
            xor[k] ^= w;
        }
    }
    let mut tail = [0u8; 32];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    let mut h = b.len() as u64;
    for k in 0..4 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&tail[k * 8..k * 8 + 8]);
        let w = u64::from_le_bytes(w);
        let lane = sum[k].wrapping_add(w) ^ (xor[k] ^ w).rotate_left(29);
        h = (h ^ lane)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(31);
    }
    h
}

impl DirReassembler {
    /// Bytes currently buffered out of order.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }
    pub fn buffered_segments(&self) -> usize {
        self.frags.len()
    }

    fn offset_of(&self, seq: u32) -> i128 {
        i128::from(self.next_off) + i128::from(seq.wrapping_sub(self.next) as i32)
    }

    fn advance(&mut self, n: u32) {
        self.next = self.next.wrapping_add(n);
        self.next_off += u64::from(n);
    }

    fn remember(&mut self, seq: u32, data: &[u8]) {
        let r = Recent {
            seq,
            len: u32::try_from(data.len()).unwrap_or(u32::MAX),
            hash: hash_bytes(data),
        };
        self.recent[self.recent_pos % RECENT] = r;
        self.recent_pos = self.recent_pos.wrapping_add(1);
        self.recent_len = (self.recent_len + 1).min(RECENT);
    }

    /// A full copy of already delivered bytes: compare with what was delivered, if known.
    fn check_duplicate(&self, seq: u32, data: &[u8], sink: &mut Sink<'_>) {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        if let Some(r) = self.recent[..self.recent_len]
            .iter()
            .find(|r| r.seq == seq && r.len == len)
            && r.hash != hash_bytes(data)
        {
            sink.conflict();
        }
    }

    /// Handles a packet of the *other* direction acknowledging `ack` (relative): a hole the
    /// peer has acknowledged is a gap in the capture.
    pub fn peer_ack(&mut self, ack: u32, frame: u64, ts: Nanos, sink: &mut Sink<'_>) {
        while !self.frags.is_empty() && self.check_fragments(Some(ack), frame, ts, sink) {}
    }

    /// Processes one segment of this direction.
    pub fn segment(&mut self, s: Seg<'_>, limits: (usize, usize), sink: &mut Sink<'_>) {
        let mut sequence = s.rel_seq;
        if s.syn {
            sequence = sequence.wrapping_add(1);
        }
        let mut length = s.seglen;
        let cap = s.data.len().min(s.seglen as usize);
        let mut data = &s.data[..cap];

        if self.written == 0 && self.next == 0 && sequence != self.next {
            self.next = sequence;
            if !self.frags.is_empty() {
                self.rekey();
            }
        }
        if lt_seq(sequence, self.next) {
            let nextseq = sequence.wrapping_add(length);
            if gt_seq(nextseq, self.next) {
                let off = self.next.wrapping_sub(sequence);
                self.check_duplicate(sequence, &data[..data.len().min(off as usize)], sink);
                data = data.get(off as usize..).unwrap_or(&[]);
                sequence = self.next;
                length = nextseq.wrapping_sub(self.next);
            } else {
                // Entirely old: a retransmission or a keep-alive.
                self.check_duplicate(sequence, data, sink);
                return;
            }
        }
        if data.is_empty() {
            if sequence == self.next && length > 0 {
                // Nothing captured of new sequence space (snap length): the bytes are lost.
                self.advance(length);
                sink.gap(u64::from(length), GapCause::Truncated, s.frame, s.ts);
                while self.check_fragments(None, s.frame, s.ts, sink) {}
            }
            return;
        }
        if sequence == self.next {
            self.advance(length);
            self.written += data.len() as u64;
            self.remember(sequence, data);
            sink.data(data, s.ts, s.frame);
            let short = u64::from(length).saturating_sub(data.len() as u64);
            sink.gap(short, GapCause::Truncated, s.frame, s.ts);
            while self.check_fragments(None, s.frame, s.ts, sink) {}
        } else {
            self.buffer(sequence, data, s.frame, s.ts, sink);
            self.enforce(limits, s.frame, s.ts, sink);
        }
    }

    fn rekey(&mut self) {
        let frags = std::mem::take(&mut self.frags);
        for ((_, arrival), f) in frags {
            let off = self.offset_of(f.seq);
            self.frags.insert((off, arrival), f);
        }
    }

    fn buffer(&mut self, seq: u32, data: &[u8], frame: u64, ts: Nanos, sink: &mut Sink<'_>) {
        let off = self.offset_of(seq);
        let end = off + data.len() as i128;
        // Overlap with buffered copies: the first copy wins in delivery; differing bytes are
        // an anomaly worth counting.
        let mut conflict = false;
        for ((o, _), f) in self.frags.range(..(end, 0)) {
            let fend = *o + f.data.len() as i128;
            if fend <= off {
                continue;
            }
            let lo = off.max(*o);
            let hi = end.min(fend);
            let a = &data[(lo - off) as usize..(hi - off) as usize];
            let b = &f.data[(lo - *o) as usize..(hi - *o) as usize];
            if a != b {
                conflict = true;
                break;
            }
        }
        if conflict {
            sink.conflict();
        }
        self.arrivals += 1;
        self.buffered_bytes += data.len();
        sink.stats.ooo_bytes_now += data.len() as u64;
        sink.stats.ooo_bytes_peak = sink.stats.ooo_bytes_peak.max(sink.stats.ooo_bytes_now);
        self.frags.insert(
            (off, self.arrivals),
            Frag {
                seq,
                data: data.to_vec(),
                frame,
                ts,
            },
        );
    }

    fn take(&mut self, key: (i128, u64), sink: &mut Sink<'_>) -> Option<Frag> {
        let f = self.frags.remove(&key)?;
        self.buffered_bytes -= f.data.len();
        sink.stats.ooo_bytes_now = sink.stats.ooo_bytes_now.saturating_sub(f.data.len() as u64);
        Some(f)
    }

    /// Wireshark's `check_follow_fragments`: take one buffered segment that fits (the earliest
    /// arrival among those starting at or before the next expected byte), or, with `ack`, skip
    /// a hole the peer acknowledged. Returns whether something happened.
    fn check_fragments(
        &mut self,
        ack: Option<u32>,
        frame: u64,
        ts: Nanos,
        sink: &mut Sink<'_>,
    ) -> bool {
        let next_off = i128::from(self.next_off);
        let pick = self
            .frags
            .range(..=(next_off, u64::MAX))
            .min_by_key(|((_, arrival), _)| *arrival)
            .map(|(k, _)| *k);
        if let Some(key) = pick {
            let Some(f) = self.take(key, sink) else {
                return false;
            };
            let flen = u32::try_from(f.data.len()).unwrap_or(u32::MAX);
            if lt_seq(f.seq, self.next) {
                let newseq = f.seq.wrapping_add(flen);
                let new_pos = self.next.wrapping_sub(f.seq);
                if gt_seq(newseq, self.next) {
                    let tail = f.data.get(new_pos as usize..).unwrap_or(&[]);
                    self.remember(self.next, tail);
                    sink.data(tail, f.ts, f.frame);
                    self.advance(flen - new_pos);
                } else {
                    self.check_duplicate(f.seq, &f.data, sink);
                }
            } else {
                self.remember(f.seq, &f.data);
                sink.data(&f.data, f.ts, f.frame);
                self.advance(flen);
            }
            return true;
        }
        let Some(ack) = ack else { return false };
        let Some(((_, _), lowest)) = self.frags.iter().next() else {
            return false;
        };
        let lowest = lowest.seq;
        if gt_seq(ack, lowest) {
            let missing = lowest.wrapping_sub(self.next);
            self.advance(missing);
            sink.gap(u64::from(missing), GapCause::NotCaptured, frame, ts);
            return true;
        }
        false
    }

    /// Skips to the lowest buffered segment (a gap of `cause`) and drains what then fits.
    fn force_flush_one(&mut self, cause: GapCause, frame: u64, ts: Nanos, sink: &mut Sink<'_>) {
        let Some(lowest) = self.frags.values().next().map(|f| f.seq) else {
            return;
        };
        if gt_seq(lowest, self.next) {
            let missing = lowest.wrapping_sub(self.next);
            self.advance(missing);
            sink.gap(u64::from(missing), cause, frame, ts);
        }
        while self.check_fragments(None, frame, ts, sink) {}
    }

    fn enforce(
        &mut self,
        (max_segs, max_bytes): (usize, usize),
        frame: u64,
        ts: Nanos,
        sink: &mut Sink<'_>,
    ) {
        let mut hit = false;
        while !self.frags.is_empty()
            && (self.frags.len() > max_segs || self.buffered_bytes > max_bytes)
        {
            hit = true;
            self.force_flush_one(GapCause::Limit, frame, ts, sink);
        }
        if hit {
            sink.stats.ooo_limit_flushes += 1;
        }
    }

    /// Flushes everything buffered (the flow is closing, or a global limit was hit).
    pub fn flush_all(&mut self, cause: GapCause, frame: u64, ts: Nanos, sink: &mut Sink<'_>) {
        while !self.frags.is_empty() {
            self.force_flush_one(cause, frame, ts, sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NullHandler;

    #[derive(Default)]
    struct Rec {
        out: Vec<u8>,
        gaps: Vec<u64>,
    }
    impl FlowHandler for Rec {
        fn on_data(&mut self, _: FlowId, _: Direction, d: &[u8], _: Nanos, _: u64) {
            self.out.extend_from_slice(d);
        }
        fn on_gap(&mut self, _: FlowId, _: Direction, g: &Gap) {
            self.gaps.push(g.missing);
        }
    }

    fn feed(r: &mut DirReassembler, h: &mut Rec, seq: u32, d: &[u8]) {
        let mut sum = DirSummary::default();
        let mut st = Stats::default();
        let mut sink = Sink {
            handler: h,
            stream: 0,
            dir: Direction::ClientToServer,
            summary: &mut sum,
            stats: &mut st,
        };
        let s = Seg {
            rel_seq: seq,
            syn: false,
            seglen: d.len() as u32,
            data: d,
            frame: 1,
            ts: 0,
        };
        r.segment(s, (100, 1 << 20), &mut sink);
    }

    #[test]
    fn in_order_out_of_order_and_overlap() {
        let mut r = DirReassembler::default();
        let mut h = Rec::default();
        feed(&mut r, &mut h, 1, b"abc");
        feed(&mut r, &mut h, 7, b"ghi");
        feed(&mut r, &mut h, 3, b"cdef");
        assert_eq!(h.out, b"abcdefghi");
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn null_handler_compiles() {
        let _ = NullHandler;
    }

    #[test]
    fn fingerprint_sees_any_changed_byte() {
        let base: Vec<u8> = (0..131u32).map(|i| (i * 7 + 3) as u8).collect();
        let h = super::hash_bytes(&base);
        for i in 0..base.len() {
            for flip in [1u8, 0x80, 0xff] {
                let mut b = base.clone();
                b[i] ^= flip;
                assert_ne!(super::hash_bytes(&b), h, "byte {i} ^ {flip:#x}");
            }
        }
        assert_ne!(super::hash_bytes(&base[..130]), h);
        assert_eq!(super::hash_bytes(&base), h);
    }
}
