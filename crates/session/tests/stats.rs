//! Statistics, capture properties and saving, checked against the session's own display
//! filters (a different pass over the file) and the capture reader: every expert count of a
//! `tcp.analysis.*` flag is the frame count of that filter, every TCP/UDP conversation's
//! packets are the frames of `tcp.stream eq N`, the I/O graph's totals are the frame counts,
//! a saved file reads back as the selected frames. Captures: tests/data and, when
//! `WIRESIFT_CAPTURES` is set, the shared corpus.

use std::path::{Path, PathBuf};

use wiresift_capfile::CaptureReader;
use wiresift_session::Session;
use wiresift_session::save::{SaveFormat, Which};
use wiresift_session::stats::{MAX_INTERVALS, Severity};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// Readable captures of tests/data and of the corpus (if given).
fn captures() -> Vec<PathBuf> {
    let mut dirs = vec![data_dir()];
    if let Some(c) = std::env::var_os("WIRESIFT_CAPTURES") {
        dirs.push(PathBuf::from(c));
    }
    let mut out = Vec::new();
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let n = p.to_string_lossy();
            if (n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".gz"))
                && CaptureReader::open(&p).is_ok()
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn open(p: &Path, spool: &Path) -> Session {
    let s = Session::open(p, &p.file_name().unwrap().to_string_lossy(), spool).unwrap();
    s.wait_indexed();
    s
}

fn count(s: &Session, filter: &str) -> u64 {
    s.apply_filter(filter).unwrap().count
}

#[test]
fn expert_tcp_counts_are_the_filters_counts() {
    let spool = tempfile::tempdir().unwrap();
    let mut flagged = 0;
    for cap in captures() {
        let s = open(&cap, spool.path());
        let e = s.expert();
        let mut seen = std::collections::HashSet::new();
        for i in e.groups.iter().filter(|i| i.protocol == "TCP") {
            let f = i.filter.clone().unwrap();
            seen.insert(f.clone());
            let n = count(&s, &f);
            assert_eq!(i.count, n, "{}: {f}", cap.display());
            let frames = s.view(Some(&f)).unwrap();
            let want: Vec<u64> = frames
                .frames()
                .unwrap()
                .iter()
                .take(100)
                .map(|&n| u64::from(n))
                .collect();
            assert_eq!(i.frames, want, "{}: {f} frames", cap.display());
            flagged += 1;
        }
        // A flag absent from the items matches no frame.
        for f in ["tcp.analysis.retransmission", "tcp.analysis.duplicate_ack"] {
            if !seen.contains(f) {
                assert_eq!(count(&s, f), 0, "{}: {f}", cap.display());
            }
        }
        // Sorted most severe first; counts add up.
        assert!(e.groups.windows(2).all(|w| w[0].severity <= w[1].severity));
        let warn: u64 = e
            .groups
            .iter()
            .filter(|i| i.severity == Severity::Warning)
            .map(|i| i.count)
            .sum();
        assert_eq!(e.counts.warning, warn);
    }
    // tests/data alone has TCP captures with flags (zeek-smtp, arkime-http2).
    assert!(flagged > 0, "no capture had a tcp.analysis flag");
}

#[test]
fn damage_and_cut_frames_are_expert_items() {
    let spool = tempfile::tempdir().unwrap();
    let s = open(
        &data_dir().join("arkime-http-simple-get-cut5000.pcap"),
        spool.path(),
    );
    let e = s.expert();
    let d = e
        .groups
        .iter()
        .find(|i| i.summary.starts_with("Capture file damaged"))
        .expect("damage item");
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(
        s.info().damage.as_deref(),
        Some(&d.summary["Capture file damaged: ".len()..])
    );
    // A frame cut by the snapshot length is not an error.
    let s = open(
        &data_dir().join("tcpdump-tcp_rst_data-trunc.pcap"),
        spool.path(),
    );
    assert!(
        s.expert()
            .groups
            .iter()
            .all(|i| i.severity != Severity::Error)
    );
    assert_eq!(s.info().damage, None);
}

#[test]
fn stream_conversations_are_their_streams_frames() {
    let spool = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for cap in captures() {
        let s = open(&cap, spool.path());
        for kind in ["tcp", "udp"] {
            let c = s.conversations(kind).unwrap();
            for r in c.rows.iter().take(8) {
                // The filter also matches ICMP errors quoting the stream's header; the tables
                // (as Wireshark's tap) do not count those.
                let n = count(&s, &format!("{} && !icmp && !icmpv6", r.filter));
                assert_eq!(r.packets, n, "{}: {}", cap.display(), r.filter);
                assert_eq!(r.packets, r.packets_ab + r.packets_ba);
                assert_eq!(r.bytes, r.bytes_ab + r.bytes_ba);
                assert!(r.stream.is_some() && r.port_a.is_some());
                checked += 1;
            }
            // Every endpoint frame is one side of a conversation frame.
            let e = s.endpoints(kind).unwrap();
            let conv: u64 = c.rows.iter().map(|r| r.packets).sum();
            let ep: u64 = e.rows.iter().map(|r| r.packets).sum();
            assert_eq!(ep, 2 * conv, "{}: {kind}", cap.display());
            assert_eq!(c.overflow.frames, 0);
        }
        for kind in ["eth", "ip", "ipv6"] {
            let c = s.conversations(kind).unwrap();
            for r in c.rows.iter().take(3) {
                // Address filters may match more (other conversations' frames never: both
                // addresses are required), never fewer.
                assert!(count(&s, &r.filter) >= r.packets, "{}", r.filter);
                assert_eq!(r.stream, None);
            }
        }
    }
    assert!(checked > 0);
    assert!(
        Session::open(&data_dir().join("zeek-smtp.pcap"), "x", spool.path())
            .unwrap()
            .conversations("sctp")
            .is_err()
    );
}

#[test]
fn hierarchy_and_io_graph_count_every_frame() {
    let spool = tempfile::tempdir().unwrap();
    for cap in captures() {
        let s = open(&cap, spool.path());
        let info = s.info();
        let h = s.hierarchy();
        assert_eq!(h.frames, info.frames, "{}", cap.display());
        assert_eq!(h.bytes, info.wire_bytes, "{}", cap.display());
        for c in &h.children {
            let below: u64 = c.children.iter().map(|x| x.frames).sum();
            assert!(below <= c.frames);
        }
        let g = s.io_graph(1000, &["tcp", "", "udp"]).unwrap();
        assert_eq!(g.series.len(), 4);
        assert_eq!(g.series[0].total_packets, info.frames, "{}", cap.display());
        assert_eq!(g.series[0].total_bytes, info.wire_bytes);
        assert_eq!(g.series[1].total_packets, count(&s, "tcp"));
        assert_eq!(g.series[2].total_packets, info.frames);
        assert_eq!(g.series[3].total_packets, count(&s, "udp"));
        for ser in &g.series {
            assert_eq!(ser.packets.len(), g.intervals);
            assert_eq!(ser.packets.iter().sum::<u64>(), ser.total_packets);
            assert_eq!(ser.bytes.iter().sum::<u64>(), ser.total_bytes);
            for (p, f) in ser.packets.iter().zip(&ser.first_frame) {
                assert_eq!(*p == 0, *f == 0);
            }
        }
        if info.frames > 0 {
            assert_eq!(
                g.start_ns,
                info.first_ns.unwrap().min(info.last_ns.unwrap())
            );
            assert!(g.series[0].first_frame[0] > 0);
        }
        // 1 ms intervals are too many for a capture longer than 100 s: widened.
        let span_ms = info.duration_s * 1000.0;
        let fine = s.io_graph(1, &[]).unwrap();
        assert!(fine.intervals as u64 <= MAX_INTERVALS);
        assert_eq!(fine.series[0].total_packets, info.frames);
        if span_ms >= MAX_INTERVALS as f64 {
            assert_eq!(fine.widened_from, Some(1), "{}", cap.display());
            assert!(fine.interval_ms > 1);
        }
    }
    let s = open(&data_dir().join("zeek-smtp.pcap"), spool.path());
    assert!(s.io_graph(0, &[]).is_err());
    assert!(s.io_graph(1000, &["tcp.port =="]).is_err());
}

#[test]
fn saved_files_read_back_as_the_selected_frames() {
    let spool = tempfile::tempdir().unwrap();
    for cap in captures() {
        let s = open(&cap, spool.path());
        let total = s.info().frames;
        if total == 0 {
            continue;
        }
        s.set_marks(&[1, total], true);
        for (which, want) in [
            (Which::All, (1..=total).collect::<Vec<u64>>()),
            (Which::Marked, {
                let mut v = vec![1, total];
                v.dedup();
                v
            }),
            (Which::Range("2-3,1".into()), (1..=total.min(3)).collect()),
            (
                Which::Displayed("tcp".into()),
                s.view(Some("tcp"))
                    .unwrap()
                    .frames()
                    .unwrap()
                    .iter()
                    .map(|&n| u64::from(n))
                    .collect(),
            ),
        ] {
            assert_eq!(s.selected_count(&which).unwrap(), want.len() as u64);
            let mut out = Vec::new();
            let saved = match s.save(&which, SaveFormat::Pcapng, &mut out) {
                Ok(x) => x,
                Err(e) => panic!("{}: {which:?}: {e}", cap.display()),
            };
            assert_eq!(saved.frames, want.len() as u64);
            let path = spool.path().join("saved.pcapng");
            std::fs::write(&path, &out).unwrap();
            let mut r = CaptureReader::open(&path).unwrap();
            let mut got = 0;
            while r.advance().unwrap() {
                let f = r.current().unwrap();
                let (e, link, data) = s.read_frame(want[got]).unwrap();
                assert_eq!((f.ts, f.orig_len, f.link), (e.ts, e.orig_len, link));
                assert_eq!(f.data, &data[..]);
                got += 1;
            }
            assert_eq!(got, want.len(), "{}: {which:?}", cap.display());
        }
    }
}

#[test]
fn pcap_refuses_mixed_link_types_before_writing() {
    let spool = tempfile::tempdir().unwrap();
    // Two interfaces, one link type each? Only refused when the link types differ.
    let s = open(
        &data_dir().join("zeek-pcapng-multi-interface.pcapng"),
        spool.path(),
    );
    let links: std::collections::HashSet<u16> = (1..=s.info().frames)
        .map(|n| s.read_frame(n).unwrap().1.0)
        .collect();
    let mut out = Vec::new();
    let r = s.save(&Which::All, SaveFormat::Pcap, &mut out);
    if links.len() > 1 {
        assert!(r.is_err());
        assert!(out.is_empty());
    } else {
        assert_eq!(r.unwrap().frames, s.info().frames);
    }
    assert!(Which::parse("range", None, Some("3-1")).is_err());
}

#[test]
fn info_counts_the_file() {
    let spool = tempfile::tempdir().unwrap();
    for cap in captures() {
        let s = open(&cap, spool.path());
        let i = s.info();
        let mut r = CaptureReader::open(&cap).unwrap();
        let (mut n, mut bytes, mut wire) = (0u64, 0u64, 0u64);
        while let Ok(true) = r.advance() {
            let f = r.current().unwrap();
            n += 1;
            bytes += f.data.len() as u64;
            wire += u64::from(f.orig_len);
        }
        assert_eq!(
            (i.frames, i.bytes, i.wire_bytes),
            (n, bytes, wire),
            "{}",
            cap.display()
        );
        assert_eq!(i.interfaces.len(), r.interfaces().len());
        assert_eq!(
            i.interfaces.iter().map(|x| x.packets).sum::<u64>(),
            n,
            "{}",
            cap.display()
        );
        assert_eq!(i.secrets, r.secrets().len());
        assert!(!i.format.is_empty() && !i.encapsulations.is_empty());
        serde_json::to_string(&i).unwrap();
    }
}

#[test]
fn a_gzip_capture_is_described_as_one() {
    let spool = tempfile::tempdir().unwrap();
    let src = data_dir().join("zeek-smtp.pcap");
    let gz = spool.path().join("smtp.pcap.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut std::fs::File::open(&src).unwrap(), &mut e).unwrap();
    e.finish().unwrap();
    let plain = open(&src, spool.path()).info();
    let s = open(&gz, spool.path());
    let i = s.info();
    assert_eq!(i.format, format!("{} (gzip compressed)", plain.format));
    assert_eq!((i.frames, i.bytes), (plain.frames, plain.bytes));
    assert!(s.info_text().contains("(gzip compressed)"));
}
