//! Differential test against tshark 4.0.17's recorded answers for every capture of the shared
//! corpus: stream counts, `tcp.analysis.*` counts, IP reassembly counts, and for every TCP
//! stream the bytes each side sent and the exact `follow,tcp,raw` output (md5).

mod support;

use wiresift_flow::{Analysis, Limits, PacketFlow};

const FLAGS: [&str; 6] = [
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.duplicate_ack",
];

#[test]
fn corpus_matches_tshark() {
    let Some(dir) = support::captures_dir() else {
        return;
    };
    let caps = support::corpus(&dir);
    assert!(!caps.is_empty(), "no captures under {}", dir.display());
    let mut failures = Vec::new();
    let mut checked = 0u64;
    let mut streams_checked = 0u64;
    for (cap, exp) in caps {
        let name = cap.strip_prefix(&dir).unwrap_or(&cap).display().to_string();
        // TLS keys change only TLS-level facts: skip the alternative expectation files.
        let exp_text = std::fs::read_to_string(&exp).unwrap_or_default();
        let e = support::parse_expected(&exp_text);
        let run = support::run(&cap, Limits::default());
        let mut check = |what: String, got: u64, want: u64| {
            checked += 1;
            if got != want {
                failures.push(format!("{name}: {what}: got {got}, want {want}"));
            }
        };
        let st = run.table.stats();
        if let Some(n) = e.tcp_streams {
            check("tcp-streams".into(), st.tcp_streams, n);
        }
        if let Some(n) = e.udp_streams {
            check("udp-streams".into(), st.udp_streams, n);
        }
        for f in FLAGS {
            if let Some(&want) = e.dfilter.get(f) {
                let got = run
                    .frames
                    .iter()
                    .filter(|(_, pf)| matches!(pf, Some(PacketFlow::Tcp(t)) if t.analysis.matches_field(f)))
                    .count() as u64;
                check(f.to_string(), got, want);
            }
        }
        if let Some(&want) = e.dfilter.get("ip.fragments") {
            check("ip.fragments".into(), run.ip_reassembled, want);
        }
        if let Some(&want) = e.dfilter.get("ipv6.fragments") {
            check("ipv6.fragments".into(), run.ipv6_reassembled, want);
        }
        let mut rec = run.rec;
        for (id, want) in &e.tcp_follow {
            streams_checked += 1;
            let Some(s) = rec.tcp.remove(id) else {
                failures.push(format!("{name}: tcp-stream {id}: not found"));
                continue;
            };
            let c2s = support::md5_hex(&s.node[0]);
            let s2c = support::md5_hex(&s.node[1]);
            let raw = s.raw.finish().unwrap_or_default();
            let fm = support::md5_hex(&raw);
            checked += 3;
            if c2s != want.c2s_md5 || s2c != want.s2c_md5 {
                failures.push(format!(
                    "{name}: tcp-stream {id}: bytes c2s {} {c2s} s2c {} {s2c}, want c2s {} {} s2c {} {}",
                    s.node[0].len(), s.node[1].len(), want.c2s_bytes, want.c2s_md5, want.s2c_bytes, want.s2c_md5
                ));
            }
            if fm != want.follow_md5 {
                failures.push(format!(
                    "{name}: tcp-stream {id}: follow_md5 {fm}, want {}",
                    want.follow_md5
                ));
            }
            if s.dropped_by_tshark != [0, 0] {
                eprintln!(
                    "note: {name}: tcp-stream {id}: {:?} bytes after an unacknowledged hole are delivered by wiresift but not printed by tshark",
                    s.dropped_by_tshark
                );
            }
        }
        let _ = Analysis::empty();
    }
    eprintln!(
        "corpus: {checked} facts checked, {streams_checked} TCP streams followed, {} mismatches",
        failures.len()
    );
    for f in &failures {
        eprintln!("MISMATCH {f}");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches with tshark",
        failures.len()
    );
}
