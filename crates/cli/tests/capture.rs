//! `wiresift capture` and `wiresift interfaces` on real interfaces: veth pairs between two
//! network namespaces this test creates (see `common/netns.rs`), real traffic from python3 and
//! curl, files read back with tshark. They need root and skip with a printed reason elsewhere.

mod common;
#[path = "common/netns.rs"]
#[allow(dead_code)] // shared by several test crates, each uses part of it
mod netns;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::bin;
use netns::{Capture, Netns, seq_of, tshark_fields};

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Sequence numbers per destination port of every UDP datagram in `file`, in file order.
fn udp_seqs(file: &Path) -> BTreeMap<u16, Vec<u32>> {
    let mut m: BTreeMap<u16, Vec<u32>> = BTreeMap::new();
    for f in tshark_fields(file, &["udp.payload"], Some("udp")) {
        let (seq, port) = seq_of(&f[0]).unwrap_or_else(|| panic!("payload {:?}", f[0]));
        m.entry(port).or_default().push(seq);
    }
    m
}

fn frames(file: &Path) -> usize {
    tshark_fields(file, &["frame.number"], None).len()
}

fn wait_sender(mut c: std::process::Child) {
    let st = c.wait().expect("sender");
    assert!(st.success(), "sender failed");
}

#[test]
fn filter_selects_one_of_two_concurrent_streams() {
    let Some(mut ns) = Netns::new(1, &["tshark", "curl"]) else {
        return;
    };
    let dir = tmpdir();
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("blob.bin"), vec![b'x'; 300_000]).unwrap();
    let mut server = ns.cmd(&ns.b, "python3");
    server
        .args([
            "-m",
            "http.server",
            "8000",
            "--bind",
            "10.200.0.2",
            "--directory",
        ])
        .arg(&www);
    ns.spawn(server);
    let out = dir.path().join("sel.pcapng");
    let cap = ns.capture(&[
        "-i",
        "vb0",
        "-f",
        "udp dst port 40001",
        "-w",
        out.to_str().unwrap(),
    ]);
    let sender = ns.send_udp(0, &[40001, 40002], 1500, 1000);
    // The web fetch runs while the datagrams flow; retry while the server starts.
    let mut fetched = false;
    for _ in 0..50 {
        let o = ns
            .cmd(&ns.a, "curl")
            .args(["-sf", "-o", "/dev/null", "-w", "%{size_download}"])
            .arg("http://10.200.0.2:8000/blob.bin")
            .output()
            .unwrap();
        if o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "300000" {
            fetched = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        fetched,
        "curl could not fetch from the namespace's web server"
    );
    wait_sender(sender);
    std::thread::sleep(Duration::from_millis(300));
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    let seqs = udp_seqs(&out);
    assert_eq!(
        seqs.keys().copied().collect::<Vec<_>>(),
        vec![40001],
        "{err}"
    );
    assert_eq!(seqs[&40001], (0..1500).collect::<Vec<u32>>());
    // Nothing else at all: no TCP from the fetch, no ICMP.
    assert_eq!(frames(&out), 1500);
    assert_eq!(Capture::stat(&err, "packets captured"), 1500);
}

#[test]
fn sigint_mid_stream_leaves_a_complete_file_matching_the_stats() {
    let Some(ns) = Netns::new(1, &["tshark"]) else {
        return;
    };
    let dir = tmpdir();
    let out = dir.path().join("int.pcapng");
    let cap = ns.capture(&["-i", "vb0", "-w", out.to_str().unwrap(), "udp"]);
    let mut sender = ns.send_udp(0, &[40003], 40_000, 4000);
    std::thread::sleep(Duration::from_millis(1500));
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(10));
    let _ = sender.kill();
    let _ = sender.wait();
    assert_eq!(code, 0, "{err}");
    let received = Capture::stat(&err, "packets received by filter");
    let captured = Capture::stat(&err, "packets captured");
    assert_eq!(Capture::stat(&err, "packets dropped by kernel"), 0, "{err}");
    let n = frames(&out);
    assert!(n > 1000, "only {n} frames in 1.5 s: {err}");
    assert_eq!(n as u64, received, "{err}");
    assert_eq!(captured, received, "{err}");
    // In order and without a gap: the stream was cut, not thinned.
    let seqs = udp_seqs(&out);
    assert_eq!(seqs[&40003], (0..n as u32).collect::<Vec<_>>());
}

#[test]
fn count_gives_exactly_n() {
    let Some(ns) = Netns::new(1, &["tshark"]) else {
        return;
    };
    let dir = tmpdir();
    let out = dir.path().join("c500.pcap");
    let cap = ns.capture(&["-i", "vb0", "-c", "500", "-w", out.to_str().unwrap(), "udp"]);
    let sender = ns.send_udp(0, &[40004], 1000, 2000);
    let (code, err) = cap.wait(Duration::from_secs(15));
    wait_sender(sender);
    assert_eq!(code, 0, "{err}");
    assert_eq!(frames(&out), 500);
    assert_eq!(Capture::stat(&err, "packets captured"), 500);
    // A `.pcap` name gives classic pcap.
    let magic = std::fs::read(&out).unwrap();
    assert_eq!(&magic[..4], &0xa1b2_c3d4u32.to_le_bytes());
    assert_eq!(udp_seqs(&out)[&40004], (0..500).collect::<Vec<u32>>());
}

fn ring_files(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{stem}_")))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn ring_buffer_files_hold_every_frame_once_in_order() {
    let Some(ns) = Netns::new(1, &["tshark"]) else {
        return;
    };
    let dir = tmpdir();
    let all = dir.path().join("all.pcapng");
    let kept = dir.path().join("kept.pcapng");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let cap1 = ns.capture(&[
        "-i",
        "vb0",
        "-b",
        "packets:300",
        "-c",
        "1000",
        "-w",
        &s(&all),
        "udp",
    ]);
    let cap2 = ns.capture(&[
        "-i",
        "vb0",
        "-b",
        "packets:100",
        "-b",
        "files:3",
        "-c",
        "1000",
        "-w",
        &s(&kept),
        "udp",
    ]);
    let sender = ns.send_udp(0, &[40005], 1000, 2000);
    let (c1, e1) = cap1.wait(Duration::from_secs(15));
    let (c2, e2) = cap2.wait(Duration::from_secs(15));
    wait_sender(sender);
    assert_eq!((c1, c2), (0, 0), "{e1}\n{e2}");

    let files = ring_files(dir.path(), "all");
    assert_eq!(files.len(), 4, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        let name = f.file_name().unwrap().to_str().unwrap();
        // all_00001_20261124120000.pcapng
        assert_eq!(
            name.len(),
            "all_00001_20261124120000.pcapng".len(),
            "{name}"
        );
        assert!(name.starts_with(&format!("all_{:05}_", i + 1)), "{name}");
        assert!(name.ends_with(".pcapng"), "{name}");
    }
    let mut concat = Vec::new();
    for f in &files {
        concat.extend(udp_seqs(f).remove(&40005).unwrap_or_default());
    }
    assert_eq!(concat, (0..1000).collect::<Vec<u32>>());

    let files = ring_files(dir.path(), "kept");
    assert_eq!(files.len(), 3, "{files:?}");
    let mut concat = Vec::new();
    for f in &files {
        concat.extend(udp_seqs(f).remove(&40005).unwrap_or_default());
    }
    assert_eq!(concat, (700..1000).collect::<Vec<u32>>());
}

#[test]
fn several_interfaces_into_one_pcapng() {
    let Some(ns) = Netns::new(2, &["tshark"]) else {
        return;
    };
    let dir = tmpdir();
    let out = dir.path().join("two.pcapng");
    let cap = ns.capture(&[
        "-i",
        "vb0",
        "-i",
        "vb1",
        "-w",
        out.to_str().unwrap(),
        "-f",
        "udp",
    ]);
    let s0 = ns.send_udp(0, &[40006], 200, 1000);
    let s1 = ns.send_udp(1, &[40007], 300, 1000);
    wait_sender(s0);
    wait_sender(s1);
    std::thread::sleep(Duration::from_millis(300));
    cap.signal("TERM");
    let (code, err) = cap.wait(Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    let mut per_iface: BTreeMap<String, usize> = BTreeMap::new();
    for f in tshark_fields(&out, &["frame.interface_name", "udp.dstport"], None) {
        let want = if f[0] == "vb0" { "40006" } else { "40007" };
        assert_eq!(f[1], want, "{f:?}");
        *per_iface.entry(f[0].clone()).or_default() += 1;
    }
    let want: BTreeMap<String, usize> = [("vb0".to_string(), 200), ("vb1".to_string(), 300)].into();
    assert_eq!(per_iface, want);
    let seqs = udp_seqs(&out);
    assert_eq!(seqs[&40006], (0..200).collect::<Vec<u32>>());
    assert_eq!(seqs[&40007], (0..300).collect::<Vec<u32>>());
    assert_eq!(Capture::stat(&err, "packets received by filter"), 500);
}

#[test]
fn stdout_pcap_and_live_summary_lines() {
    let Some(ns) = Netns::new(1, &["tshark"]) else {
        return;
    };
    let dir = tmpdir();
    // -w - writes the capture to stdout; stats stay on stderr.
    let out = dir.path().join("stdout.pcapng");
    let file = std::fs::File::create(&out).unwrap();
    let mut c = ns.cmd(&ns.b, env!("CARGO_BIN_EXE_wiresift"));
    c.args(["capture", "-i", "vb0", "-c", "20", "-w", "-", "udp"])
        .stdout(file)
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let sender = ns.send_udp(0, &[40008], 100, 1000);
    let o = child.wait_with_output().unwrap();
    wait_sender(sender);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(frames(&out), 20);

    // Without -w: summary lines in `read`'s layout.
    let mut c = ns.cmd(&ns.b, env!("CARGO_BIN_EXE_wiresift"));
    c.args(["capture", "-i", "vb0", "-c", "3", "udp"]);
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let sender = ns.send_udp(0, &[40009], 100, 1000);
    let o = child.wait_with_output().unwrap();
    wait_sender(sender);
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for l in lines {
        assert!(l.contains(" IP 10.200.0.1."), "{l}");
        assert!(l.contains(" > 10.200.0.2.40009: UDP, length 18"), "{l}");
    }
}

#[test]
fn interfaces_lists_names_flags_and_link_types() {
    let Some(ns) = Netns::new(1, &[]) else {
        return;
    };
    let o = ns
        .cmd(&ns.b, env!("CARGO_BIN_EXE_wiresift"))
        .arg("interfaces")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    let vb0 = text
        .lines()
        .position(|l| l.contains(".vb0 "))
        .unwrap_or_else(|| panic!("{text}"));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[vb0].contains("[Up"), "{text}");
    assert!(lines[vb0 + 1].contains("10.200.0.2/24"), "{text}");
    assert!(lines[vb0 + 2].contains("EN10MB (Ethernet)"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(".lo ") && l.contains("Loopback")),
        "{text}"
    );
}

/// Needs no privileges: both are reported before any interface is opened.
#[test]
fn unknown_interface_and_bad_filter_exit_2() {
    let o = bin()
        .args(["capture", "-i", "no-such-if0", "-w", "/dev/null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no interface named 'no-such-if0'"), "{err}");
    assert!(err.contains("interfaces: ") && err.contains("lo"), "{err}");

    let o = bin()
        .args([
            "capture",
            "-i",
            "lo",
            "-w",
            "/dev/null",
            "udp",
            "prot",
            "53",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("syntax error"), "{err}");
    assert!(err.contains("udp prot 53"), "{err}");
}
