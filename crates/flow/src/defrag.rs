//! IP defragmentation (IPv4 and IPv6), bounded and timed by packet time.
//!
//! Fragments are hostile input: they can overlap, repeat, arrive in any order, never complete,
//! or claim a 64 KiB datagram with one byte. The rules here:
//!
//! * a datagram is keyed by [`FragKey`] (IPv4: addresses, id, protocol; IPv6: addresses, id);
//! * overlapping bytes: the first copy wins; a later copy with different bytes counts as a
//!   conflict ([`DefragStats::overlap_conflicts`]);
//! * a datagram completes on the frame of the fragment that fills its last hole, once the
//!   last fragment (MF clear) has fixed its length;
//! * datagrams older than [`DefragLimits::timeout`] (packet time) are dropped and counted,
//!   as are datagrams beyond the count/byte limits (oldest first) and fragments that would
//!   make a datagram larger than [`DefragLimits::max_datagram`].

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::Nanos;

/// Identity of the datagram a fragment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FragKey {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        id: u16,
        proto: u8,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        ident: u32,
    },
}

/// Limits of a [`Defragmenter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefragLimits {
    /// Datagrams being reassembled at once. Default 4096.
    pub max_datagrams: usize,
    /// Fragment bytes held over all datagrams. Default 16 MiB.
    pub max_bytes: usize,
    /// Largest reassembled payload accepted. Default 65 535 + 8 (IPv4's largest payload is
    /// 65 515; IPv6 jumbograms are not fragmented).
    pub max_datagram: usize,
    /// Fragments per datagram. Default 256.
    pub max_fragments: usize,
    /// A datagram not completed within this time (packet time) is dropped. Default 60 s
    /// (Linux `ipfrag_time` is 30 s, RFC 8200 says 60 s).
    pub timeout: Nanos,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 4096,
            max_bytes: 16 << 20,
            max_datagram: 65_535 + 8,
            max_fragments: 256,
            timeout: 60_000_000_000,
        }
    }
}

/// Counters of a [`Defragmenter`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub fragments: u64,
    pub reassembled: u64,
    pub duplicates: u64,
    pub overlap_conflicts: u64,
    /// Datagrams dropped unfinished, by cause.
    pub timed_out: u64,
    pub evicted: u64,
    pub too_large: u64,
    pub too_many_fragments: u64,
    /// Fragments contradicting the datagram's known end (data past it, or a second last
    /// fragment with another length).
    pub inconsistent: u64,
    pub bytes_now: u64,
}

/// A reassembled datagram payload, with the frames of the fragments that made it (in arrival
/// order; the last one completed it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassembled {
    pub data: Vec<u8>,
    pub frames: Vec<u64>,
}

#[derive(Debug)]
struct Pending {
    /// Pieces keyed by offset; pieces never overlap (later copies are trimmed).
    pieces: BTreeMap<usize, Vec<u8>>,
    /// Total length, once the last fragment was seen.
    total: Option<usize>,
    have: usize,
    frames: Vec<u64>,
    first_ts: Nanos,
    order: u64,
}

/// IP defragmenter. Feed every fragment (IPv4 with MF set or offset > 0; IPv6 with a Fragment
/// header) to [`Defragmenter::push`].
#[derive(Debug, Default)]
pub struct Defragmenter {
    limits: DefragLimits,
    pending: HashMap<FragKey, Pending, foldhash::fast::RandomState>,
    by_age: BTreeMap<u64, FragKey>,
    counter: u64,
    bytes: usize,
    stats: DefragStats,
}

impl Defragmenter {
    pub fn new(limits: DefragLimits) -> Defragmenter {
        Defragmenter {
            limits,
            ..Default::default()
        }
    }

    pub fn stats(&self) -> &DefragStats {
        &self.stats
    }

    /// Datagrams being reassembled.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds one fragment; returns the datagram when this fragment completes it.
    /// `offset_bytes` is the fragment offset in bytes (IPv4/IPv6 header value × 8).
    pub fn push(
        &mut self,
        key: FragKey,
        frame: u64,
        ts: Nanos,
        offset_bytes: usize,
        more_fragments: bool,
        data: &[u8],
    ) -> Option<Reassembled> {
        self.stats.fragments += 1;
        self.expire(ts);
        let end = offset_bytes.checked_add(data.len())?;
        if end > self.limits.max_datagram {
            self.stats.too_large += 1;
            self.drop_key(&key);
            return None;
        }
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= self.limits.max_datagrams.max(1) {
                if !self.evict_oldest() {
                    break;
                }
            }
            self.counter += 1;
            self.pending.insert(
                key,
                Pending {
                    pieces: BTreeMap::new(),
                    total: None,
                    have: 0,
                    frames: Vec::new(),
                    first_ts: ts,
                    order: self.counter,
                },
            );
            self.by_age.insert(self.counter, key);
        }
        let max_frags = self.limits.max_fragments;
        let p = self.pending.get_mut(&key)?;
        if p.frames.len() >= max_frags {
            self.stats.too_many_fragments += 1;
            self.drop_key(&key);
            return None;
        }
        p.frames.push(frame);
        // The end of the datagram.
        if !more_fragments {
            match p.total {
                Some(t) if t != end => {
                    self.stats.inconsistent += 1;
                }
                _ => p.total = Some(end),
            }
        }
        let total = p.total;
        // Insert only the bytes not held yet; compare the others.
        let mut added = 0usize;
        let mut conflict = false;
        let mut duplicate = true;
        let mut pos = offset_bytes;
        let limit_end = total.map_or(end, |t| end.min(t));
        if end > limit_end {
            self.stats.inconsistent += 1;
        }
        while pos < limit_end {
            // A piece covering `pos`?
            let cover = p
                .pieces
                .range(..=pos)
                .next_back()
                .filter(|(o, d)| **o + d.len() > pos)
                .map(|(o, d)| (*o, *o + d.len()));
            if let Some((o, oend)) = cover {
                let stop = oend.min(limit_end);
                let held = &p.pieces[&o][pos - o..stop - o];
                if held != &data[pos - offset_bytes..stop - offset_bytes] {
                    conflict = true;
                }
                pos = stop;
                continue;
            }
            let next_start = p
                .pieces
                .range(pos..)
                .next()
                .map_or(limit_end, |(o, _)| (*o).min(limit_end));
            let piece = data[pos - offset_bytes..next_start - offset_bytes].to_vec();
            added += piece.len();
            duplicate = false;
            p.pieces.insert(pos, piece);
            pos = next_start;
        }
        p.have += added;
        if duplicate && !data.is_empty() {
            self.stats.duplicates += 1;
        }
        if conflict {
            self.stats.overlap_conflicts += 1;
        }
        self.bytes += added;
        self.stats.bytes_now = self.bytes as u64;
        let complete = matches!(p.total, Some(t) if p.have == t);
        if complete {
            let p = self.pending.remove(&key)?;
            self.by_age.remove(&p.order);
            self.bytes -= p.have;
            self.stats.bytes_now = self.bytes as u64;
            let mut out = Vec::with_capacity(p.have);
            for (_, piece) in p.pieces {
                out.extend_from_slice(&piece);
            }
            self.stats.reassembled += 1;
            return Some(Reassembled {
                data: out,
                frames: p.frames,
            });
        }
        while self.bytes > self.limits.max_bytes {
            if !self.evict_oldest() {
                break;
            }
        }
        None
    }

    fn drop_key(&mut self, key: &FragKey) {
        if let Some(p) = self.pending.remove(key) {
            self.by_age.remove(&p.order);
            self.bytes -= p.have;
            self.stats.bytes_now = self.bytes as u64;
        }
    }

    fn evict_oldest(&mut self) -> bool {
        let Some((_, key)) = self.by_age.first_key_value().map(|(o, k)| (*o, *k)) else {
            return false;
        };
        self.stats.evicted += 1;
        self.drop_key(&key);
        true
    }

    fn expire(&mut self, now: Nanos) {
        while let Some((_, key)) = self.by_age.first_key_value().map(|(o, k)| (*o, *k)) {
            let old = self
                .pending
                .get(&key)
                .is_some_and(|p| now.saturating_sub(p.first_ts) > self.limits.timeout);
            if !old {
                break;
            }
            self.stats.timed_out += 1;
            self.drop_key(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FragKey {
        FragKey::V4 {
            src: Ipv4Addr::new(1, 2, 3, 4),
            dst: Ipv4Addr::new(5, 6, 7, 8),
            id: 7,
            proto: 17,
        }
    }

    #[test]
    fn out_of_order_duplicate_overlap() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let all: Vec<u8> = (0..40u8).collect();
        assert!(d.push(key(), 1, 0, 24, false, &all[24..]).is_none());
        assert!(d.push(key(), 2, 0, 0, true, &all[..16]).is_none());
        assert!(d.push(key(), 3, 0, 0, true, &all[..16]).is_none());
        let mut bad = all[8..24].to_vec();
        bad[0] ^= 0xff;
        let r = d.push(key(), 4, 0, 8, true, &bad).unwrap();
        assert_eq!(r.data, all);
        assert_eq!(r.frames, vec![1, 2, 3, 4]);
        assert_eq!(d.stats().duplicates, 1);
        assert_eq!(d.stats().overlap_conflicts, 1);
        assert_eq!(d.pending(), 0);
        assert_eq!(d.stats().bytes_now, 0);
    }

    #[test]
    fn timeout_and_limits() {
        let mut d = Defragmenter::new(DefragLimits {
            max_datagrams: 1,
            ..Default::default()
        });
        assert!(d.push(key(), 1, 0, 0, true, &[0; 8]).is_none());
        let k2 = FragKey::V6 {
            src: Ipv6Addr::LOCALHOST,
            dst: Ipv6Addr::LOCALHOST,
            ident: 9,
        };
        assert!(d.push(k2, 2, 0, 0, true, &[0; 8]).is_none());
        assert_eq!(d.stats().evicted, 1);
        assert!(d.push(k2, 3, 61_000_000_000, 8, false, &[0; 8]).is_none());
        assert_eq!(d.stats().timed_out, 1);
        assert!(d.push(key(), 4, 0, 65_530, false, &[0; 100]).is_none());
        assert_eq!(d.stats().too_large, 1);
    }
}
