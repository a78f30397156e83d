//! Behaviour of the flow table on hand-made packets: reassembly edge cases, limits, numbering,
//! and a property test of reassembly under permutation, duplication, overlap and loss.

use std::net::IpAddr;

use proptest::prelude::*;
use wiresift_flow::{
    CloseReason, Direction, FlowHandler, FlowId, FlowInfo, FlowSummary, FlowTable, Gap, GapCause,
    Limits, Nanos, Packet, PacketFlow, Proto, TcpSegment, Transport, tcp_flags as F,
};

const C: &str = "10.0.0.1";
const S: &str = "10.0.0.2";

#[derive(Default)]
struct Rec {
    /// Per direction: bytes, with gaps as `None`.
    out: [Vec<Option<u8>>; 2],
    gaps: Vec<(Direction, Gap)>,
    opened: Vec<(FlowId, FlowInfo)>,
    closed: Vec<(FlowId, FlowSummary)>,
}

impl FlowHandler for Rec {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        self.opened.push((id, info.clone()));
    }
    fn on_data(&mut self, _: FlowId, dir: Direction, data: &[u8], _: Nanos, _: u64) {
        self.out[dir.index()].extend(data.iter().map(|b| Some(*b)));
    }
    fn on_gap(&mut self, _: FlowId, dir: Direction, gap: &Gap) {
        self.out[dir.index()].extend(std::iter::repeat_n(None, gap.missing as usize));
        self.gaps.push((dir, *gap));
    }
    fn on_close(&mut self, id: FlowId, s: &FlowSummary) {
        self.closed.push((id, s.clone()));
    }
}

impl Rec {
    fn bytes(&self, d: Direction) -> Vec<u8> {
        self.out[d.index()]
            .iter()
            .map(|b| b.unwrap_or(b'?'))
            .collect()
    }
}

struct Sim {
    t: FlowTable,
    r: Rec,
    frame: u64,
    /// Time between packets (1 s unless a test needs them closer).
    step: i64,
}

impl Sim {
    fn new(l: Limits) -> Sim {
        Sim {
            t: FlowTable::new(l),
            r: Rec::default(),
            frame: 0,
            step: 1_000_000_000,
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn tcp_full(
        &mut self,
        from_client: bool,
        sport: u16,
        seq: u32,
        ack: u32,
        flags: u16,
        data: &[u8],
        seg_len: u32,
    ) -> PacketFlow {
        self.frame += 1;
        let (src, dst): (IpAddr, IpAddr) = if from_client {
            (C.parse().unwrap(), S.parse().unwrap())
        } else {
            (S.parse().unwrap(), C.parse().unwrap())
        };
        let (sp, dp) = if from_client {
            (sport, 80)
        } else {
            (80, sport)
        };
        let p = Packet {
            frame: self.frame,
            ts: self.frame as i64 * self.step,
            src,
            dst,
            transport: Transport::Tcp(TcpSegment {
                sport: sp,
                dport: dp,
                seq,
                ack,
                flags,
                window: 1000,
                wscale: None,
                payload: data,
                seg_len,
            }),
        };
        self.t.process(&p, &mut self.r)
    }
    fn tcp(
        &mut self,
        from_client: bool,
        seq: u32,
        ack: u32,
        flags: u16,
        data: &[u8],
    ) -> PacketFlow {
        self.tcp_full(from_client, 1234, seq, ack, flags, data, data.len() as u32)
    }
    fn finish(&mut self) {
        self.t.finish(&mut self.r);
    }
}

fn facts(p: PacketFlow) -> wiresift_flow::TcpFacts {
    match p {
        PacketFlow::Tcp(t) => t,
        PacketFlow::Udp { .. } => panic!("not tcp"),
    }
}

const CS: Direction = Direction::ClientToServer;
const SC: Direction = Direction::ServerToClient;

fn handshake(s: &mut Sim, isn_c: u32, isn_s: u32) {
    s.tcp(true, isn_c, 0, F::SYN, b"");
    s.tcp(false, isn_s, isn_c.wrapping_add(1), F::SYN | F::ACK, b"");
    s.tcp(
        true,
        isn_c.wrapping_add(1),
        isn_s.wrapping_add(1),
        F::ACK,
        b"",
    );
}

#[test]
fn sequence_wrap_around() {
    let mut s = Sim::new(Limits::default());
    let isn = u32::MAX - 5;
    handshake(&mut s, isn, 7);
    // 10 bytes straddle the wrap; the second half arrives first.
    let f = facts(s.tcp(true, isn.wrapping_add(6), 8, F::ACK, b"56789"));
    assert_eq!(f.rel_seq, 6);
    assert!(f.analysis.contains(wiresift_flow::Analysis::LOST_SEGMENT));
    s.tcp(true, isn.wrapping_add(1), 8, F::ACK, b"01234");
    s.finish();
    assert_eq!(s.r.bytes(CS), b"0123456789");
    assert!(s.r.gaps.is_empty());
}

#[test]
fn mid_stream_start() {
    let mut s = Sim::new(Limits::default());
    let f = facts(s.tcp(false, 5000, 9000, F::ACK | F::PSH, b"response"));
    // Relative numbering starts at 1 without a SYN, as in Wireshark.
    assert_eq!((f.rel_seq, f.rel_ack), (1, 1));
    s.tcp(true, 9000, 5008, F::ACK | F::PSH, b"more");
    s.tcp(false, 5008, 9004, F::ACK, b"!");
    s.finish();
    // The first packet's source is the client when there is no SYN.
    assert_eq!(s.r.bytes(CS), b"response!");
    assert_eq!(s.r.bytes(SC), b"more");
    assert_eq!(s.r.opened[0].1.client.0, S.parse::<IpAddr>().unwrap());
}

#[test]
fn fin_and_rst_add_no_bytes_and_keep_the_stream() {
    let mut s = Sim::new(Limits::default());
    handshake(&mut s, 100, 200);
    s.tcp(true, 101, 201, F::ACK | F::PSH, b"hello");
    s.tcp(true, 106, 201, F::ACK | F::FIN, b"");
    s.tcp(false, 201, 107, F::ACK | F::RST, b"");
    // A retransmitted SYN with the same ISN stays in stream 0 (Wireshark 4.0).
    assert_eq!(s.tcp(true, 100, 0, F::SYN, b"").stream(), 0);
    // A SYN with a new ISN is a new stream.
    let f = facts(s.tcp(true, 5000, 0, F::SYN, b""));
    assert_eq!(f.stream, 1);
    assert!(f.analysis.contains(wiresift_flow::Analysis::REUSED_PORTS));
    s.finish();
    let (_, first) = &s.r.closed[0];
    assert_eq!(first.reason, CloseReason::Reused);
    assert!(first.dir(CS).fin && first.dir(SC).rst);
    assert_eq!(first.dir(CS).delivered_bytes, 5);
    assert_eq!(s.t.stats().reused_ports, 1);
}

#[test]
fn keep_alive_and_zero_window_probe_not_duplicated() {
    let mut s = Sim::new(Limits::default());
    handshake(&mut s, 100, 200);
    s.tcp(true, 101, 201, F::ACK, b"abc");
    // Keep-alive: 1 byte at seq-1.
    let f = facts(s.tcp(true, 103, 201, F::ACK, b"c"));
    assert!(f.analysis.contains(wiresift_flow::Analysis::KEEP_ALIVE));
    s.tcp(true, 104, 201, F::ACK, b"def");
    s.finish();
    assert_eq!(s.r.bytes(CS), b"abcdef");
}

/// A copy of data the peer has already acknowledged is a spurious retransmission even when it
/// arrives close enough to the highest segment to pass for out-of-order: Wireshark 4.0 checks
/// for spurious first (seen on a lossy, duplicating link: tshark and we now agree on every
/// frame's flags there).
#[test]
fn acknowledged_copy_is_spurious_before_out_of_order() {
    use wiresift_flow::Analysis as A;
    let mut s = Sim::new(Limits::default());
    // A 20 ms handshake (the out-of-order window is the first round trip), then data
    // 0.1 ms apart: everything after it is within the window.
    s.step = 10_000_000;
    handshake(&mut s, 100, 200);
    s.step = 100_000;
    s.frame *= 100;
    s.tcp(true, 101, 201, F::ACK, b"aaaa");
    s.tcp(true, 109, 201, F::ACK, b"cccc"); // 105..109 late
    s.tcp(false, 201, 105, F::ACK, b"");
    let late = facts(s.tcp(true, 105, 201, F::ACK, b"bbbb"));
    assert!(
        late.analysis.contains(A::OUT_OF_ORDER),
        "{:?}",
        late.analysis
    );
    s.tcp(false, 201, 113, F::ACK, b""); // all acknowledged
    let again = facts(s.tcp(true, 105, 201, F::ACK, b"bbbb"));
    assert!(
        again.analysis.contains(A::SPURIOUS_RETRANSMISSION)
            && !again.analysis.contains(A::OUT_OF_ORDER),
        "{:?}",
        again.analysis
    );
    s.finish();
    assert_eq!(s.r.bytes(CS), b"aaaabbbbcccc");
}

#[test]
fn acknowledged_hole_becomes_gap_and_retransmission_conflict_counts() {
    let mut s = Sim::new(Limits::default());
    handshake(&mut s, 100, 200);
    s.tcp(true, 101, 201, F::ACK, b"aaaa");
    s.tcp(true, 109, 201, F::ACK, b"cccc"); // 105..109 never captured
    s.tcp(false, 201, 113, F::ACK, b""); // the server had it all
    s.tcp(true, 101, 201, F::ACK, b"aXaa"); // retransmission with other bytes
    s.finish();
    assert_eq!(s.r.out[0].len(), 12);
    assert_eq!(s.r.gaps.len(), 1);
    assert_eq!(
        (s.r.gaps[0].1.missing, s.r.gaps[0].1.cause),
        (4, GapCause::NotCaptured)
    );
    assert_eq!(s.r.bytes(CS), b"aaaa????cccc");
    assert_eq!(s.t.stats().overlap_conflicts, 1);
}

#[test]
fn truncated_segment_is_a_gap_not_invented_bytes() {
    let mut s = Sim::new(Limits::default());
    handshake(&mut s, 100, 200);
    s.tcp_full(true, 1234, 101, 201, F::ACK, b"ab", 6);
    s.tcp(true, 107, 201, F::ACK, b"gh");
    s.finish();
    assert_eq!(s.r.bytes(CS), b"ab????gh");
    assert_eq!(s.r.gaps[0].1.cause, GapCause::Truncated);
    assert_eq!(s.t.stats().truncated_bytes, 4);
}

#[test]
fn out_of_order_limit_flushes_with_gap() {
    let mut s = Sim::new(Limits {
        max_ooo_segments: 2,
        ..Limits::default()
    });
    handshake(&mut s, 100, 200);
    s.tcp(true, 111, 201, F::ACK, b"B");
    s.tcp(true, 121, 201, F::ACK, b"C");
    s.tcp(true, 131, 201, F::ACK, b"D"); // third buffered segment: over the limit
    assert_eq!(s.t.stats().ooo_limit_flushes, 1);
    s.finish();
    let want: Vec<u8> = [
        vec![b'?'; 10],
        b"B".to_vec(),
        vec![b'?'; 9],
        b"C".to_vec(),
        vec![b'?'; 9],
        b"D".to_vec(),
    ]
    .concat();
    assert_eq!(s.r.bytes(CS), want);
    assert_eq!(s.r.gaps[0].1.cause, GapCause::Limit);
}

#[test]
fn eviction_and_idle_timeout() {
    let mut s = Sim::new(Limits {
        max_flows: 2,
        idle_timeout: Some(10_000_000_000),
        ..Limits::default()
    });
    s.tcp_full(true, 1, 1, 0, F::ACK, b"x", 1);
    s.tcp_full(true, 2, 1, 0, F::ACK, b"x", 1);
    s.tcp_full(true, 3, 1, 0, F::ACK, b"x", 1);
    assert_eq!(s.t.stats().evicted, 1);
    assert_eq!(s.r.closed[0].1.reason, CloseReason::Evicted);
    s.frame += 100; // far later: both flows idle
    s.tcp_full(true, 4, 1, 0, F::ACK, b"x", 1);
    assert_eq!(s.t.stats().idle_closed, 2);
    s.finish();
    assert_eq!(
        s.r.closed.last().map(|c| c.1.reason),
        Some(CloseReason::EndOfCapture)
    );
    assert_eq!(s.t.stats().flows_in_memory, 0);
}

#[test]
fn udp_streams_and_directions() {
    let mut t = FlowTable::new(Limits::default());
    let mut r = Rec::default();
    let a: IpAddr = "2001:db8::1".parse().unwrap();
    let b: IpAddr = "2001:db8::2".parse().unwrap();
    let mk = |src, dst, sport, dport, frame| Packet {
        frame,
        ts: 0,
        src,
        dst,
        transport: Transport::Udp {
            sport,
            dport,
            payload: b"q",
        },
    };
    assert_eq!(
        t.process(&mk(a, b, 5353, 53, 1), &mut r),
        PacketFlow::Udp { stream: 0, dir: CS }
    );
    assert_eq!(
        t.process(&mk(b, a, 53, 5353, 2), &mut r),
        PacketFlow::Udp { stream: 0, dir: SC }
    );
    assert_eq!(t.process(&mk(a, b, 5354, 53, 3), &mut r).stream(), 1);
    assert_eq!(
        r.opened[0].0,
        FlowId {
            proto: Proto::Udp,
            stream: 0
        }
    );
    assert!(r.opened[0].1.community_id.starts_with("1:"));
}

/// A stream cut into segments, then each segment possibly dropped, duplicated, given an
/// overlapping companion, and all shuffled.
fn scenario() -> impl Strategy<Value = (u32, Vec<u8>, Vec<(usize, usize)>)> {
    (
        any::<u32>(),
        prop::collection::vec(any::<u8>(), 1..600),
        prop::collection::vec(1usize..60, 1..40),
    )
        .prop_flat_map(|(isn, data, cuts)| {
            let mut segs = Vec::new();
            let mut pos = 0;
            for c in cuts {
                if pos >= data.len() {
                    break;
                }
                let end = (pos + c).min(data.len());
                segs.push((pos, end));
                pos = end;
            }
            if pos < data.len() {
                segs.push((pos, data.len()));
            }
            let n = segs.len();
            (
                Just(isn),
                Just(data),
                Just(segs),
                prop::collection::vec(0usize..6, n),
                prop::collection::vec(any::<u8>(), 0..8),
                any::<u64>(),
            )
                .prop_map(|(isn, data, segs, ops, extra, seed)| {
                    // ops: 0 = drop, 1 = duplicate, 2 = overlap with the next, else keep.
                    let mut out = Vec::new();
                    for (i, &(a, b)) in segs.iter().enumerate() {
                        match ops[i] {
                            0 if i + 1 < segs.len() => {}
                            1 => {
                                out.push((a, b));
                                out.push((a, b));
                            }
                            2 => {
                                let e = segs.get(i + 1).map_or(b, |s| s.1);
                                out.push((a, e));
                                out.push((a, b));
                            }
                            _ => out.push((a, b)),
                        }
                    }
                    for x in extra {
                        let i = x as usize % segs.len();
                        out.push(segs[i]);
                    }
                    // Deterministic shuffle.
                    let mut st = seed | 1;
                    for i in (1..out.len()).rev() {
                        st ^= st << 13;
                        st ^= st >> 7;
                        st ^= st << 17;
                        out.swap(i, (st % (i as u64 + 1)) as usize);
                    }
                    (isn, data, out)
                })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn reassembly_is_order_and_duplicate_independent((isn, data, segs) in scenario()) {
        let mut s = Sim::new(Limits::default());
        s.tcp(true, isn, 0, F::SYN, b"");
        for &(a, b) in &segs {
            s.tcp(true, isn.wrapping_add(1).wrapping_add(a as u32), 0, F::ACK, &data[a..b]);
        }
        s.finish();
        // Expected: every byte some segment carried, holes as gaps of their exact length,
        // nothing after the last carried byte.
        let mut have = vec![false; data.len()];
        for &(a, b) in &segs {
            for h in &mut have[a..b] {
                *h = true;
            }
        }
        let end = have.iter().rposition(|h| *h).map_or(0, |p| p + 1);
        let want: Vec<Option<u8>> = (0..end).map(|i| have[i].then_some(data[i])).collect();
        prop_assert_eq!(&s.r.out[0], &want);
        let gap_total: u64 = s.r.gaps.iter().map(|g| g.1.missing).sum();
        prop_assert_eq!(gap_total as usize, want.iter().filter(|b| b.is_none()).count());
    }
}
