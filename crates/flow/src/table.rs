//! The flow table: finds or creates the flow of each packet, runs TCP analysis and
//! reassembly, and keeps memory within [`Limits`].
//!
//! Flows are held in a hash map by [`ConvKey`], with a recency order (a `BTreeMap` from a
//! use counter to the key) so that the least recently used flow can be evicted in O(log n)
//! and idle flows found from the front.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::net::IpAddr;

use crate::analysis::{Analysis, SegFacts, TcpAnalyzer};
use crate::reassembly::{DirReassembler, Seg, Sink};
use crate::stream_index::{ConvKey, StreamIndex};
use crate::{
    CloseReason, DirSummary, Direction, FlowError, FlowHandler, FlowId, FlowInfo, FlowSummary,
    GapCause, Limits, Nanos, Packet, PacketFlow, Proto, Stats, TcpFacts, Transport,
    community_id_v1, tcp_flags as F,
};

#[derive(Debug, Default)]
struct TcpState {
    analyzer: TcpAnalyzer,
    reasm: [DirReassembler; 2],
}

#[derive(Debug)]
struct Flow {
    stream: u64,
    proto: Proto,
    client: (IpAddr, u16),
    first_ts: Nanos,
    last_ts: Nanos,
    first_frame: u64,
    last_frame: u64,
    tick: u64,
    dirs: [DirSummary; 2],
    tcp: Option<Box<TcpState>>,
    /// The handler reads this flow's bytes (else reassembly is skipped).
    wants_data: bool,
}

impl Flow {
    fn dir_of(&self, src: (IpAddr, u16)) -> Direction {
        if src == self.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }
    fn buffered(&self) -> usize {
        self.tcp.as_ref().map_or(0, |t| {
            t.reasm[0].buffered_bytes() + t.reasm[1].buffered_bytes()
        })
    }
}

/// How far behind (in packets) a flow's recency stamp may lag before it is refreshed.
const LRU_SLACK: u64 = 256;

/// The flow table. Feed it every packet in capture order with [`FlowTable::process`], then
/// call [`FlowTable::finish`].
#[derive(Debug)]
pub struct FlowTable {
    limits: Limits,
    /// Keyed by a randomly seeded fast hash (foldhash): 5-tuples come from hostile captures,
    /// so the seed keeps collisions unpredictable, at a fraction of SipHash's cost.
    flows: HashMap<ConvKey, Flow, foldhash::fast::RandomState>,
    lru: BTreeMap<u64, ConvKey>,
    tick: u64,
    index: StreamIndex,
    stats: Stats,
    /// Hashes of evicted conversations, to count those that come back
    /// ([`Stats::reopened_after_eviction`]); at most [`EVICTED_REMEMBERED`].
    evicted_keys: std::collections::HashSet<u64, foldhash::fast::RandomState>,
}

/// Evicted conversations remembered (8 bytes each); beyond, the set starts over.
const EVICTED_REMEMBERED: usize = 1 << 18;

impl FlowTable {
    /// A table with the given limits. Limits of 0 are raised to 1; use [`Limits::validate`]
    /// (or [`FlowTable::try_new`]) to reject them instead.
    pub fn new(limits: Limits) -> FlowTable {
        let mut limits = limits;
        limits.max_flows = limits.max_flows.max(1);
        limits.max_ooo_bytes = limits.max_ooo_bytes.max(1);
        limits.max_ooo_segments = limits.max_ooo_segments.max(1);
        limits.max_total_ooo_bytes = limits.max_total_ooo_bytes.max(1);
        if matches!(limits.idle_timeout, Some(t) if t <= 0) {
            limits.idle_timeout = None;
        }
        FlowTable {
            limits,
            flows: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            lru: BTreeMap::new(),
            tick: 0,
            index: StreamIndex::default(),
            stats: Stats::default(),
            evicted_keys: Default::default(),
        }
    }

    /// Like [`FlowTable::new`], but invalid limits are an error.
    pub fn try_new(limits: Limits) -> Result<FlowTable, FlowError> {
        limits.validate()?;
        Ok(FlowTable::new(limits))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Processes one packet: returns its flow facts, pushes flow events to `h`.
    pub fn process(&mut self, p: &Packet<'_>, h: &mut dyn FlowHandler) -> PacketFlow {
        self.stats.packets += 1;
        self.expire_idle(p.ts, h);
        match p.transport {
            Transport::Udp {
                sport,
                dport,
                payload,
            } => {
                self.stats.udp_packets += 1;
                let src = (p.src, sport);
                let key = ConvKey::new(Proto::Udp, src, (p.dst, dport));
                self.get_or_open(key, p, src, (p.dst, dport), h, true);
                let Some(flow) = self.flows.get_mut(&key) else {
                    return PacketFlow::Udp {
                        stream: u64::MAX,
                        dir: Direction::ClientToServer,
                    };
                };
                let dir = flow.dir_of(src);
                let d = &mut flow.dirs[dir.index()];
                d.packets += 1;
                d.wire_bytes += payload.len() as u64;
                if !payload.is_empty() && flow.wants_data {
                    d.delivered_bytes += payload.len() as u64;
                    self.stats.delivered_bytes += payload.len() as u64;
                    let id = FlowId {
                        proto: Proto::Udp,
                        stream: flow.stream,
                    };
                    h.on_data(id, dir, payload, p.ts, p.frame);
                }
                PacketFlow::Udp {
                    stream: flow.stream,
                    dir,
                }
            }
            Transport::Tcp(seg) => {
                self.stats.tcp_packets += 1;
                let src = (p.src, seg.sport);
                let dst = (p.dst, seg.dport);
                let key = ConvKey::new(Proto::Tcp, src, dst);
                let mut reused = false;
                let mut synack_reused = false;
                if seg.flags & (F::SYN | F::ACK) == (F::SYN | F::ACK) {
                    // A SYN/ACK with another ISN than known is flagged, but stays in the stream.
                    if let Some(f) = self.flows.get(&key) {
                        let d = f.dir_of(src).index();
                        synack_reused = f
                            .tcp
                            .as_ref()
                            .is_some_and(|t| t.analyzer.syn_starts_new(d, seg.seq));
                    }
                }
                if seg.flags & (F::SYN | F::ACK) == F::SYN
                    && let Some(f) = self.flows.get(&key)
                    && f.tcp
                        .as_ref()
                        .is_some_and(|t| t.analyzer.syn_starts_new(f.dir_of(src).index(), seg.seq))
                {
                    reused = true;
                    self.stats.reused_ports += 1;
                    self.close(&key, CloseReason::Reused, h);
                }
                let max_segs = self.limits.max_ooo_segments;
                let max_bytes = self.limits.max_ooo_bytes;
                self.get_or_open(key, p, src, dst, h, !reused);
                let Some(flow) = self.flows.get_mut(&key) else {
                    return PacketFlow::Udp {
                        stream: u64::MAX,
                        dir: Direction::ClientToServer,
                    };
                };
                let dir = flow.dir_of(src);
                let di = dir.index();
                let time_relative = p.ts.saturating_sub(flow.first_ts);
                let time_delta = p.ts.saturating_sub(flow.last_ts);
                flow.last_ts = p.ts;
                flow.last_frame = p.frame;
                let seglen = seg.wire_len();
                {
                    let d = &mut flow.dirs[di];
                    d.packets += 1;
                    d.wire_bytes += u64::from(seglen);
                    d.fin |= seg.flags & F::FIN != 0;
                    d.rst |= seg.flags & F::RST != 0;
                }
                let stream = flow.stream;
                let tcp = flow.tcp.get_or_insert_with(Default::default);
                let mut a = tcp.analyzer.analyse(
                    di,
                    SegFacts {
                        seq: seg.seq,
                        ack: seg.ack,
                        seglen,
                        flags: seg.flags,
                        window: seg.window,
                        wscale: seg.wscale,
                        ts: p.ts,
                    },
                );
                if reused || synack_reused {
                    a.analysis.insert(Analysis::REUSED_PORTS);
                }
                let wants_data = flow.wants_data;
                let [s0, s1] = &mut flow.dirs;
                let (mine, theirs) = if di == 0 { (s0, s1) } else { (s1, s0) };
                let [r0, r1] = &mut tcp.reasm;
                let (rmine, rtheirs) = if di == 0 { (r0, r1) } else { (r1, r0) };
                if wants_data && seg.flags & F::ACK != 0 && rtheirs.buffered_segments() > 0 {
                    let mut sink = Sink {
                        handler: h,
                        stream,
                        dir: dir.reverse(),
                        summary: theirs,
                        stats: &mut self.stats,
                    };
                    rtheirs.peer_ack(a.rel_ack, p.frame, p.ts, &mut sink);
                }
                let mut sink = Sink {
                    handler: h,
                    stream,
                    dir,
                    summary: mine,
                    stats: &mut self.stats,
                };
                if wants_data {
                    rmine.segment(
                        Seg {
                            rel_seq: a.rel_seq,
                            syn: seg.flags & F::SYN != 0,
                            seglen,
                            data: seg.payload,
                            frame: p.frame,
                            ts: p.ts,
                        },
                        (max_segs, max_bytes),
                        &mut sink,
                    );
                }
                let mut next_seq = a.rel_seq.wrapping_add(seglen);
                if seg.flags & (F::SYN | F::FIN) != 0 {
                    next_seq = next_seq.wrapping_add(1);
                }
                self.enforce_global(p.frame, p.ts, h);
                PacketFlow::Tcp(TcpFacts {
                    stream,
                    dir,
                    rel_seq: a.rel_seq,
                    rel_ack: a.rel_ack,
                    next_seq,
                    seg_len: seglen,
                    window_size: a.window_size,
                    window_scale_factor: a.window_scale_factor,
                    time_relative,
                    time_delta,
                    analysis: a.analysis,
                    dup_ack_num: a.dup_ack_num,
                })
            }
        }
    }

    /// The stream of a TCP/UDP header quoted inside an ICMP error, as Wireshark numbers it:
    /// found by addresses and ports (created if unknown), without analysis or reassembly.
    pub fn embedded_stream(
        &mut self,
        proto: Proto,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        frame: u64,
        ts: Nanos,
        h: &mut dyn FlowHandler,
    ) -> u64 {
        let key = ConvKey::new(proto, src, dst);
        if let Some(f) = self.flows.get(&key) {
            return f.stream;
        }
        let transport = match proto {
            Proto::Tcp => Transport::Tcp(crate::TcpSegment {
                sport: src.1,
                dport: dst.1,
                seq: 0,
                ack: 0,
                flags: 0,
                window: 0,
                wscale: None,
                payload: &[],
                seg_len: 0,
            }),
            Proto::Udp => Transport::Udp {
                sport: src.1,
                dport: dst.1,
                payload: &[],
            },
        };
        let p = Packet {
            frame,
            ts,
            src: src.0,
            dst: dst.0,
            transport,
        };
        self.get_or_open(key, &p, src, dst, h, true)
    }

    /// Flushes and closes every flow (reason "end of capture"), in stream order per protocol.
    pub fn finish(&mut self, h: &mut dyn FlowHandler) {
        let mut keys: Vec<(Proto, u64, ConvKey)> = self
            .flows
            .iter()
            .map(|(k, f)| (f.proto, f.stream, *k))
            .collect();
        keys.sort();
        for (_, _, k) in keys {
            self.close(&k, CloseReason::EndOfCapture, h);
        }
    }

    fn get_or_open(
        &mut self,
        key: ConvKey,
        p: &Packet<'_>,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        h: &mut dyn FlowHandler,
        allow_existing: bool,
    ) -> u64 {
        self.tick += 1;
        let tick = self.tick;
        let existing = if allow_existing {
            self.flows.get_mut(&key)
        } else {
            None
        };
        if let Some(f) = existing {
            // Approximate LRU: re-file a flow in the recency order only when it has slipped
            // more than LRU_SLACK packets behind, so a busy flow costs one tree update per
            // LRU_SLACK packets instead of two per packet. Eviction still takes (nearly)
            // the least recently used flow.
            if tick - f.tick >= LRU_SLACK {
                self.lru.remove(&f.tick);
                f.tick = tick;
                self.lru.insert(tick, key);
            }
        } else {
            while self.flows.len() >= self.limits.max_flows {
                let Some((_, victim)) = self.lru.first_key_value().map(|(t, k)| (*t, *k)) else {
                    break;
                };
                self.stats.evicted += 1;
                if self.evicted_keys.len() >= EVICTED_REMEMBERED {
                    self.evicted_keys.clear();
                }
                let hv = self.flows.hasher().hash_one(victim);
                self.evicted_keys.insert(hv);
                self.close(&victim, CloseReason::Evicted, h);
            }
            if !self.evicted_keys.is_empty()
                && self.evicted_keys.remove(&self.flows.hasher().hash_one(key))
            {
                self.stats.reopened_after_eviction += 1;
            }
            let stream = self.index.allocate(key.proto);
            // Client: the SYN sender; a SYN/ACK comes from the server; otherwise the first
            // packet's source.
            let (client, server, first_from_client) = match p.transport {
                Transport::Tcp(s) if s.flags & (F::SYN | F::ACK) == (F::SYN | F::ACK) => {
                    (dst, src, false)
                }
                _ => (src, dst, true),
            };
            match key.proto {
                Proto::Tcp => self.stats.tcp_streams += 1,
                Proto::Udp => self.stats.udp_streams += 1,
            }
            let info = FlowInfo {
                stream,
                proto: key.proto,
                client,
                server,
                first_from_client,
                first_frame: p.frame,
                first_ts: p.ts,
                community_id: community_id_v1(
                    0,
                    key.proto.number(),
                    client.0,
                    client.1,
                    server.0,
                    server.1,
                ),
            };
            let id = FlowId {
                proto: key.proto,
                stream,
            };
            h.on_open(id, &info);
            let wants_data = h.wants_data(id, &info);
            let flow = Flow {
                stream,
                proto: key.proto,
                client,
                first_ts: p.ts,
                last_ts: p.ts,
                first_frame: p.frame,
                last_frame: p.frame,
                tick,
                dirs: Default::default(),
                tcp: None,
                wants_data,
            };
            self.flows.insert(key, flow);
            self.lru.insert(tick, key);
            self.stats.flows_in_memory = self.flows.len() as u64;
        }
        self.flows.get(&key).map_or(u64::MAX, |f| f.stream)
    }

    fn close(&mut self, key: &ConvKey, reason: CloseReason, h: &mut dyn FlowHandler) {
        let Some(mut f) = self.flows.remove(key) else {
            return;
        };
        self.lru.remove(&f.tick);
        let (frame, ts) = (f.last_frame, f.last_ts);
        if let Some(tcp) = f.tcp.as_mut() {
            let cause = if reason == CloseReason::EndOfCapture || reason == CloseReason::Reused {
                GapCause::Close
            } else {
                GapCause::Limit
            };
            for (i, dir) in [Direction::ClientToServer, Direction::ServerToClient]
                .into_iter()
                .enumerate()
            {
                let mut sink = Sink {
                    handler: h,
                    stream: f.stream,
                    dir,
                    summary: &mut f.dirs[i],
                    stats: &mut self.stats,
                };
                tcp.reasm[i].flush_all(cause, frame, ts, &mut sink);
            }
        }
        if reason == CloseReason::IdleTimeout {
            self.stats.idle_closed += 1;
        }
        self.stats.flows_closed += 1;
        self.stats.flows_in_memory = self.flows.len() as u64;
        let summary = FlowSummary {
            stream: f.stream,
            proto: f.proto,
            reason,
            dirs: f.dirs,
            first_ts: f.first_ts,
            last_ts: f.last_ts,
            first_frame: f.first_frame,
            last_frame: f.last_frame,
        };
        h.on_close(
            FlowId {
                proto: f.proto,
                stream: f.stream,
            },
            &summary,
        );
    }

    fn expire_idle(&mut self, now: Nanos, h: &mut dyn FlowHandler) {
        let Some(timeout) = self.limits.idle_timeout else {
            return;
        };
        while let Some((_, key)) = self.lru.first_key_value().map(|(t, k)| (*t, *k)) {
            let idle = self
                .flows
                .get(&key)
                .is_some_and(|f| now.saturating_sub(f.last_ts) > timeout);
            if !idle {
                break;
            }
            self.close(&key, CloseReason::IdleTimeout, h);
        }
    }

    /// Keeps the out-of-order bytes of all flows under `max_total_ooo_bytes` by flushing the
    /// least recently used flows' buffers first.
    fn enforce_global(&mut self, frame: u64, ts: Nanos, h: &mut dyn FlowHandler) {
        if self.stats.ooo_bytes_now as usize <= self.limits.max_total_ooo_bytes {
            return;
        }
        self.stats.ooo_limit_flushes += 1;
        let keys: Vec<ConvKey> = self.lru.values().copied().collect();
        for key in keys {
            if self.stats.ooo_bytes_now as usize <= self.limits.max_total_ooo_bytes {
                break;
            }
            let Some(f) = self.flows.get_mut(&key) else {
                continue;
            };
            if f.buffered() == 0 {
                continue;
            }
            let stream = f.stream;
            if let Some(tcp) = f.tcp.as_mut() {
                for (i, dir) in [Direction::ClientToServer, Direction::ServerToClient]
                    .into_iter()
                    .enumerate()
                {
                    let mut sink = Sink {
                        handler: h,
                        stream,
                        dir,
                        summary: &mut f.dirs[i],
                        stats: &mut self.stats,
                    };
                    tcp.reasm[i].flush_all(GapCause::Limit, frame, ts, &mut sink);
                }
            }
        }
    }
}
