//! The body of the `flow_reassembly` fuzz target, shared with `tests/fuzz_smoke.rs` so the
//! stable test and the fuzzer exercise exactly the same driver.

use std::net::{IpAddr, Ipv4Addr};

use wiresift_flow::{
    DefragLimits, Defragmenter, Direction, FlowHandler, FlowId, FlowTable, FragKey, Gap, Limits,
    Nanos, Packet, TcpSegment, Transport,
};

#[derive(Default)]
struct Count {
    bytes: u64,
}

impl FlowHandler for Count {
    fn on_data(&mut self, _: FlowId, _: Direction, d: &[u8], _: Nanos, _: u64) {
        self.bytes += d.len() as u64;
    }
    fn on_gap(&mut self, _: FlowId, _: Direction, _: &Gap) {}
}

/// Feeds `data`, read as a packet sequence, to a flow table and a defragmenter with tiny limits.
pub fn run(data: &[u8]) {
    let mut t = FlowTable::new(Limits {
        max_flows: 4,
        max_ooo_bytes: 256,
        max_ooo_segments: 8,
        max_total_ooo_bytes: 512,
        idle_timeout: Some(50),
    });
    let mut defrag = Defragmenter::new(DefragLimits {
        max_datagrams: 4,
        max_bytes: 1024,
        max_fragments: 16,
        ..DefragLimits::default()
    });
    let mut h = Count::default();
    let mut wire: u64 = 0;
    // Each record: 12 header bytes, then up to 31 payload bytes.
    let mut rest = data;
    let mut frame = 0u64;
    while rest.len() >= 12 {
        let (hd, tail) = rest.split_at(12);
        let plen = usize::from(hd[0] & 31).min(tail.len());
        let (payload, tail) = tail.split_at(plen);
        rest = tail;
        frame += 1;
        let ts = i64::from(hd[1]) * 10;
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, hd[2] & 3));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 1, hd[2] >> 6));
        let (src, dst) = if hd[0] & 0x80 != 0 { (b, a) } else { (a, b) };
        let seq = u32::from_be_bytes([hd[3], hd[4], hd[5], hd[6]]);
        let ack = u32::from_be_bytes([hd[7], hd[8], hd[9], 0]);
        if hd[0] & 0x40 != 0 {
            if hd[0] & 0x20 != 0 {
                let key = FragKey::V4 {
                    src: Ipv4Addr::new(1, 1, 1, 1),
                    dst: Ipv4Addr::new(2, 2, 2, 2),
                    id: u16::from(hd[10] & 3),
                    proto: 17,
                };
                let _ = defrag.push(
                    key,
                    frame,
                    ts,
                    usize::from(hd[11]) * 8,
                    hd[10] & 0x80 != 0,
                    payload,
                );
            } else {
                let p = Packet {
                    frame,
                    ts,
                    src,
                    dst,
                    transport: Transport::Udp {
                        sport: u16::from(hd[10]),
                        dport: 53,
                        payload,
                    },
                };
                wire += payload.len() as u64;
                t.process(&p, &mut h);
            }
            continue;
        }
        let seg_len = plen as u32 + u32::from(hd[11] >> 6);
        let p = Packet {
            frame,
            ts,
            src,
            dst,
            transport: Transport::Tcp(TcpSegment {
                sport: if hd[0] & 0x80 != 0 {
                    80
                } else {
                    1000 + u16::from(hd[10] & 1)
                },
                dport: if hd[0] & 0x80 != 0 {
                    1000 + u16::from(hd[10] & 1)
                } else {
                    80
                },
                seq,
                ack,
                flags: u16::from(hd[10]) & 0x3f,
                window: u16::from(hd[11] & 0x3f),
                wscale: (hd[11] & 0x20 != 0).then_some(hd[11] & 0x1f),
                payload,
                seg_len,
            }),
        };
        wire += payload.len() as u64;
        t.process(&p, &mut h);
    }
    t.finish(&mut h);
    // Each captured byte is delivered at most once.
    assert!(h.bytes <= wire);
    assert!(t.stats().ooo_bytes_now == 0);
}
