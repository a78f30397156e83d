//! Reassembly under loss, reordering and duplication, end to end through `follow --split`.
//!
//! The live version of this test puts `tc netem` on a veth; kernels without `sch_netem`
//! (this project's CI machines among them) cannot, so `tests/follow.rs` skips it there. This
//! test builds the capture such a link produces — late retransmissions of lost segments,
//! swapped neighbours, duplicates and partial overlaps of a 20 MB HTTP response — and checks
//! that the reassembled server side, minus the HTTP header, is the file served.

mod common;
#[path = "common/pcapgen.rs"]
#[allow(dead_code)] // shared by several test crates, each uses part of it
mod pcapgen;

use common::*;
use pcapgen::{ACK, FIN, PSH, Pcap, SYN};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

#[test]
fn lossy_reordered_duplicated_capture_reassembles_exactly() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut blob = Vec::with_capacity(20 << 20);
    while blob.len() < 20 << 20 {
        blob.extend_from_slice(&rng.next().to_le_bytes());
    }
    let mut server_bytes = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        blob.len()
    )
    .into_bytes();
    let header_len = server_bytes.len();
    server_bytes.extend_from_slice(&blob);

    let c = ([10, 0, 0, 1], 40000u16);
    let s = ([10, 0, 0, 2], 8000u16);
    let (ciss, siss) = (1_000_000u32, 4_000_000_000u32); // the server's sequence wraps around
    let mut p = Pcap::new();
    p.tcp(c, s, ciss, 0, SYN, &[]);
    p.tcp(s, c, siss, ciss + 1, SYN | ACK, &[]);
    p.tcp(c, s, ciss + 1, siss.wrapping_add(1), ACK, &[]);
    let req = b"GET /blob.bin HTTP/1.0\r\n\r\n";
    p.tcp(c, s, ciss + 1, siss.wrapping_add(1), PSH | ACK, req);
    let cack = ciss + 1 + req.len() as u32;

    // The server's segments, then the link's damage.
    let mss = 1448;
    let segs: Vec<(usize, usize)> = (0..server_bytes.len())
        .step_by(mss)
        .map(|o| (o, (o + mss).min(server_bytes.len())))
        .collect();
    let mut order: Vec<(usize, usize)> = Vec::with_capacity(segs.len() * 2);
    let mut late: Vec<(usize, (usize, usize))> = Vec::new();
    let (mut lost, mut swapped, mut dups, mut overlaps) = (0, 0, 0, 0);
    let mut i = 0;
    while i < segs.len() {
        // Retransmissions due now.
        let now = order.len();
        let due: Vec<(usize, usize)> = late
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, x)| *x)
            .collect();
        late.retain(|(t, _)| *t > now);
        order.extend(due);
        let seg = segs[i];
        if rng.percent(5) {
            // Lost: the retransmission arrives 3 to 10 segments later.
            late.push((now + 3 + (rng.next() % 8) as usize, seg));
            lost += 1;
        } else if rng.percent(25) && i + 1 < segs.len() {
            order.push(segs[i + 1]);
            order.push(seg);
            swapped += 1;
            i += 1;
        } else {
            order.push(seg);
            if rng.percent(2) {
                order.push(seg);
                dups += 1;
            } else if rng.percent(2) && i + 1 < segs.len() {
                // A retransmission that overlaps the end of this segment and the next one.
                let (a, _) = seg;
                let (_, b) = segs[i + 1];
                order.push((a + mss / 2, (a + mss / 2 + mss).min(b)));
                overlaps += 1;
            }
        }
        i += 1;
    }
    order.extend(late.into_iter().map(|(_, x)| x));
    assert!(lost > 100 && swapped > 500 && dups > 50 && overlaps > 50);
    for (a, b) in order {
        let seq = siss.wrapping_add(1).wrapping_add(a as u32);
        p.tcp(s, c, seq, cack, ACK, &server_bytes[a..b]);
    }
    let fin_seq = siss.wrapping_add(1).wrapping_add(server_bytes.len() as u32);
    p.tcp(s, c, fin_seq, cack, FIN | ACK, &[]);
    p.tcp(c, s, cack, fin_seq.wrapping_add(1), FIN | ACK, &[]);

    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("lossy.pcap");
    std::fs::write(&pcap, &p.bytes).unwrap();
    let out = dir.path().join("split");
    let o = run(bin().arg("follow").arg(&pcap).arg("--split").arg(&out));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut s2c = None;
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".s2c") {
            s2c = Some(std::fs::read(e.path()).unwrap());
        }
    }
    let s2c = s2c.expect("an .s2c file");
    assert_eq!(s2c.len(), server_bytes.len(), "reassembled length");
    assert!(
        s2c[header_len..] == blob[..],
        "reassembled body differs from the file served"
    );
    let streams = std::fs::read_to_string(out.join("streams.jsonl")).unwrap();
    assert!(
        streams.contains("\"gaps\":[]") && streams.contains("\"gap_bytes\":0"),
        "{streams}"
    );
    assert!(!streams.contains("\"overlap_conflicts\":1"), "{streams}");
    // The analysis sees what happened on the link.
    let rd = run(bin().arg("read").arg(&pcap).args([
        "-Y",
        "tcp.analysis.retransmission || tcp.analysis.out_of_order",
    ]));
    assert!(
        stdout_lines(&rd) > 500,
        "only {} flagged frames",
        stdout_lines(&rd)
    );
}
