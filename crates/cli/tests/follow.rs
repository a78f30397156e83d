//! `wiresift follow`, `conversations`, `endpoints` and `stats` (issue 5): the shared corpus
//! against the tshark expectations (follow_md5, c2s/s2c md5, tcp.analysis and reassembly
//! counts), --split files against the followed bytes, limits, many concurrent streams, the
//! tables against tshark, and a lossy live transfer in network namespaces.

mod common;
#[path = "common/netns.rs"]
#[allow(dead_code)] // shared by several test crates, each uses part of it
mod netns;
#[path = "common/pcapgen.rs"]
#[allow(dead_code)] // shared by several test crates, each uses part of it
mod pcapgen;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn md5(data: &[u8]) -> String {
    let mut c = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("md5sum");
    let mut stdin = c.stdin.take().unwrap();
    let data = data.to_vec();
    let t = std::thread::spawn(move || stdin.write_all(&data));
    let o = c.wait_with_output().unwrap();
    t.join().unwrap().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Splits the output of several followed streams into tshark's per-stream blocks.
fn blocks(out: &[u8]) -> Vec<Vec<u8>> {
    let sep = b"\n===================================================================\nFollow: ";
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(p) = out[i..].windows(sep.len()).position(|w| w == sep) {
        starts.push(i + p);
        i += p + sep.len();
    }
    let mut v = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(out.len());
        v.push(out[s..e].to_vec());
    }
    v
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The bytes of node 0 and node 1 in a raw follow block.
fn raw_nodes(block: &[u8]) -> [Vec<u8>; 2] {
    let text = String::from_utf8_lossy(block);
    let mut nodes = [Vec::new(), Vec::new()];
    let body = text.split_once("\nNode 1: ").map_or("", |(_, b)| b);
    for l in body.lines().skip(1) {
        if l.starts_with("====") || l.is_empty() {
            continue;
        }
        match l.strip_prefix('\t') {
            Some(h) => nodes[1].extend(unhex(h)),
            None => nodes[0].extend(unhex(l)),
        }
    }
    nodes
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

/// Expected TCP streams of a capture: number → the whole `tcp-stream N:` line.
fn expected_streams(exp: &[String]) -> BTreeMap<u64, String> {
    exp.iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("tcp-stream ")?;
            let (n, _) = rest.split_once(':')?;
            Some((n.parse().ok()?, l.clone()))
        })
        .collect()
}

#[test]
fn corpus_follow_raw_and_bytes_match_tshark() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for (cap, exp) in corpus_captures(&dir) {
        let streams = expected_streams(&exp);
        if streams.is_empty() {
            continue;
        }
        // Every stream in one pass (-Y), split into tshark's blocks.
        let o = run(bin()
            .arg("follow")
            .arg(&cap)
            .args(["-Y", "tcp", "--format", "raw"]));
        assert_ne!(o.status.code(), Some(2), "{}", cap.display());
        let bl = blocks(&o.stdout);
        assert_eq!(bl.len(), streams.len(), "{}: streams", cap.display());
        for ((n, line), block) in streams.iter().zip(&bl) {
            let what = format!("{} stream {n}", cap.display());
            assert_eq!(
                md5(block),
                field(line, "follow_md5"),
                "{what}: follow output"
            );
            let [n0, n1] = raw_nodes(block);
            assert_eq!(md5(&n0), field(line, "c2s_md5"), "{what}: node 0 bytes");
            assert_eq!(md5(&n1), field(line, "s2c_md5"), "{what}: node 1 bytes");
            checked += 1;
        }
        // The single-stream path, on the first and last stream.
        for n in [
            *streams.keys().next().unwrap(),
            *streams.keys().last().unwrap(),
        ] {
            let o = run(bin().arg("follow").arg(&cap).args([
                "--stream",
                &n.to_string(),
                "--format",
                "raw",
            ]));
            assert_eq!(
                md5(&o.stdout),
                field(&streams[&n], "follow_md5"),
                "{} --stream {n}",
                cap.display()
            );
        }
    }
    assert!(checked >= 55, "only {checked} streams checked");
}

#[test]
fn corpus_analysis_and_reassembly_counts() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for (cap, exp) in corpus_captures(&dir) {
        for (expr, n, _) in quoted_counts(&exp, "dfilter") {
            if !(expr.starts_with("tcp.analysis.")
                || expr == "ip.fragments"
                || expr == "ipv6.fragments")
            {
                continue;
            }
            let o = run(bin().arg("read").arg(&cap).args(["-Y", &expr]));
            if o.status.code() == Some(2) && n == 0 {
                continue; // a file wiresift (like tshark) cannot read
            }
            assert_eq!(stdout_lines(&o) as u64, n, "{}: -Y '{expr}'", cap.display());
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} counts checked");
}

fn jsonl(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("streams.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn node_str(ip: &str, port: u64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

#[test]
fn corpus_split_files_hold_each_sides_bytes() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for (cap, exp) in corpus_captures(&dir) {
        let streams = expected_streams(&exp);
        if streams.is_empty() {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("split");
        let o = run(bin().arg("follow").arg(&cap).arg("--split").arg(&out));
        assert_ne!(o.status.code(), Some(2), "{}", cap.display());
        let recs = jsonl(&out);
        assert_eq!(recs.len(), streams.len(), "{}", cap.display());
        for r in &recs {
            let n = r["stream"].as_u64().unwrap();
            let line = &streams[&n];
            let client = node_str(
                r["client_ip"].as_str().unwrap(),
                r["client_port"].as_u64().unwrap(),
            );
            let node0_is_client = field(line, "node0") == client;
            let c2s = std::fs::read(out.join(r["c2s"]["file"].as_str().unwrap())).unwrap();
            let s2c = std::fs::read(out.join(r["s2c"]["file"].as_str().unwrap())).unwrap();
            let (n0, n1) = if node0_is_client {
                (c2s, s2c)
            } else {
                (s2c, c2s)
            };
            let (k0, k1) = if node0_is_client {
                ("c2s", "s2c")
            } else {
                ("s2c", "c2s")
            };
            // tshark prints a marker for bytes not captured; the files hold only real bytes.
            if r[k0]["gaps"].as_u64() == Some(0) {
                assert_eq!(
                    md5(&n0),
                    field(line, "c2s_md5"),
                    "{}: {n} node0",
                    cap.display()
                );
            }
            if r[k1]["gaps"].as_u64() == Some(0) {
                assert_eq!(
                    md5(&n1),
                    field(line, "s2c_md5"),
                    "{}: {n} node1",
                    cap.display()
                );
            }
            assert!(r["community_id"].as_str().unwrap().starts_with("1:"));
            assert!(r["close_reason"].is_string());
            checked += 1;
        }
    }
    assert!(checked >= 55, "only {checked} streams checked");
}

#[test]
fn follow_formats_match_tshark() {
    let Some(dir) = corpus() else { return };
    if !have("tshark") {
        return;
    }
    let caps = [
        "tcp/arkime-tcp-reassembly-synthetic.pcap",
        "ipv6/zeek-ipv6-http-atomic-frag.pcap",
        "dns/tcpdump-dns_udp.pcap",
    ];
    for c in caps {
        let cap = dir.join(c);
        if !cap.exists() {
            continue;
        }
        for proto in ["tcp", "udp"] {
            for fmt in ["ascii", "hex", "raw", "yaml"] {
                for n in [0u64, 1, 4] {
                    let t = Command::new("tshark")
                        .args(["-n", "-q", "-r"])
                        .arg(&cap)
                        .args(["-z", &format!("follow,{proto},{fmt},{n}")])
                        .output()
                        .unwrap();
                    let o = run(bin().arg("follow").arg(&cap).args([
                        "--stream",
                        &n.to_string(),
                        "--format",
                        fmt,
                        "--proto",
                        proto,
                    ]));
                    assert_eq!(
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&t.stdout),
                        "{c} {proto} {fmt} {n}"
                    );
                }
            }
        }
    }
}

#[test]
fn display_filter_selects_streams_in_order() {
    let Some(dir) = corpus() else { return };
    let cap = dir.join("tcp/arkime-tcp-reassembly-synthetic.pcap");
    if !cap.exists() {
        return;
    }
    let o = run(bin().arg("follow").arg(&cap).args([
        "-Y",
        "tcp.srcport == 40004 || tcp.dstport == 40009 || tcp.stream == 1",
        "--format",
        "raw",
    ]));
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    let filters: Vec<&str> = text.lines().filter(|l| l.starts_with("Filter: ")).collect();
    assert_eq!(
        filters,
        [
            "Filter: tcp.stream eq 1",
            "Filter: tcp.stream eq 3",
            "Filter: tcp.stream eq 9"
        ]
    );
    // A spool of one byte forces every later stream through the temporary file.
    let o2 = run(bin().arg("follow").arg(&cap).args([
        "-Y",
        "tcp.srcport == 40004 || tcp.dstport == 40009 || tcp.stream == 1",
        "--format",
        "raw",
        "--spool-memory",
        "1",
    ]));
    assert_eq!(o.stdout, o2.stdout);
    // Bad filter: usage error.
    let o = run(bin()
        .arg("follow")
        .arg(&cap)
        .args(["-Y", "tcp.nosuch == 1"]));
    assert_eq!(o.status.code(), Some(2));
}

/// A flow evicted for room is closed with all its data delivered: counted, exit 0. One that
/// comes back after its eviction gets a new stream number (Wireshark would continue the old
/// one): counted, exit 1.
#[test]
fn evicted_flows_that_come_back_exit_1() {
    use pcapgen::{ACK, PSH, Pcap};
    let mut p = Pcap::new();
    let srv = ([10, 0, 0, 2], 80);
    let cl = |n: u16| ([10, 0, 0, 1], 40_000 + n);
    p.tcp(cl(1), srv, 1, 1, ACK | PSH, b"first");
    p.tcp(cl(2), srv, 1, 1, ACK | PSH, b"second");
    p.tcp(cl(3), srv, 1, 1, ACK | PSH, b"third");
    p.tcp(cl(1), srv, 6, 1, ACK | PSH, b"again");
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("back.pcap");
    std::fs::write(&cap, &p.bytes).unwrap();
    let out = tmp.path().join("s");
    let o = run(bin()
        .arg("follow")
        .arg(&cap)
        .arg("--split")
        .arg(&out)
        .args(["--max-flows", "2"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("2 flows evicted (--max-flows), 1 of them seen again"),
        "{err}"
    );
    let recs = jsonl(&out);
    assert_eq!(recs.len(), 4, "the returning flow is a fourth stream");
    assert_eq!(
        std::fs::read(out.join("3-10.0.0.1.40001-10.0.0.2.80.c2s")).unwrap(),
        b"again"
    );
    // Enough room: three streams, exit 0.
    let out = tmp.path().join("t");
    let o = run(bin().arg("follow").arg(&cap).arg("--split").arg(&out));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(jsonl(&out).len(), 3);
}

#[test]
fn limits_are_counted() {
    let Some(dir) = corpus() else { return };
    let cap = dir.join("tcp/arkime-tcp-reassembly-synthetic.pcap");
    if !cap.exists() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let o = run(bin()
        .arg("follow")
        .arg(&cap)
        .arg("--split")
        .arg(&out)
        .args(["--max-ooo-segments", "1", "--max-flows", "2"]));
    let err = String::from_utf8_lossy(&o.stderr);
    // Evicted flows lose nothing (their data is delivered when they go): exit 0.
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("limits hit"), "{err}");
    assert!(
        err.contains("evicted (--max-flows), 0 of them seen again"),
        "{err}"
    );
    let recs = jsonl(&out);
    assert!(recs.iter().any(|r| r["close_reason"] == "evicted"));
    // Without limits: exit 0.
    let o = run(bin().arg("follow").arg(&cap).arg("--split").arg(&out));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(bin()
        .arg("follow")
        .arg(&cap)
        .args(["--stream", "0", "--max-flows", "0"]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn split_handles_many_concurrent_streams() {
    // 600 connections open at once, each sending in 5 rounds interleaved with the others:
    // more than the split writer keeps open, so files are closed and reopened in append mode.
    let mut p = pcapgen::Pcap::new();
    let n = 600u32;
    let ep = |i: u32| -> (([u8; 4], u16), ([u8; 4], u16)) {
        (
            ([10, 0, (i / 200) as u8, 1], 20000 + i as u16),
            ([10, 1, 0, 1], 80),
        )
    };
    for i in 0..n {
        let (c, s) = ep(i);
        p.tcp(c, s, 1000, 0, pcapgen::SYN, &[]);
        p.tcp(s, c, 5000, 1001, pcapgen::SYN | pcapgen::ACK, &[]);
        p.tcp(c, s, 1001, 5001, pcapgen::ACK, &[]);
    }
    let chunk = |i: u32, r: u32, side: u8| -> Vec<u8> {
        format!("<{side}:{i}:{r}>").into_bytes().repeat(50)
    };
    let mut off = [[0u32; 2]; 600];
    for r in 0..5u32 {
        for i in 0..n {
            let (c, s) = ep(i);
            let d0 = chunk(i, r, 0);
            let d1 = chunk(i, r, 1);
            let o = &mut off[i as usize];
            p.tcp(
                c,
                s,
                1001 + o[0],
                5001 + o[1],
                pcapgen::ACK | pcapgen::PSH,
                &d0,
            );
            o[0] += d0.len() as u32;
            p.tcp(
                s,
                c,
                5001 + o[1],
                1001 + o[0],
                pcapgen::ACK | pcapgen::PSH,
                &d1,
            );
            o[1] += d1.len() as u32;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("many.pcap");
    std::fs::write(&f, &p.bytes).unwrap();
    let out = tmp.path().join("split");
    let o = run(bin().arg("follow").arg(&f).arg("--split").arg(&out));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = jsonl(&out);
    assert_eq!(recs.len(), n as usize);
    for r in &recs {
        let i = r["stream"].as_u64().unwrap() as u32;
        let want0: Vec<u8> = (0..5).flat_map(|k| chunk(i, k, 0)).collect();
        let want1: Vec<u8> = (0..5).flat_map(|k| chunk(i, k, 1)).collect();
        let name = r["c2s"]["file"].as_str().unwrap();
        assert_eq!(
            name,
            format!("{i}-10.0.{}.1.{}-10.1.0.1.80.c2s", i / 200, 20000 + i)
        );
        assert_eq!(std::fs::read(out.join(name)).unwrap(), want0, "stream {i}");
        let name = r["s2c"]["file"].as_str().unwrap();
        assert_eq!(std::fs::read(out.join(name)).unwrap(), want1, "stream {i}");
        assert_eq!(r["c2s"]["packets"], 1 + 1 + 5);
    }
}

/// tshark's output for `-z ARG`, without the "Running as user" noise.
fn tshark_z(cap: &Path, arg: &str) -> String {
    let o = Command::new("tshark")
        .args(["-n", "-q", "-r"])
        .arg(cap)
        .args(["-z", arg])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const TABLE_CAPS: [&str; 6] = [
    "http/ppp-http-packets2.pcap",
    "tcp/arkime-tcp-reassembly-synthetic.pcap",
    "dns/tcpdump-dns_udp.pcap",
    "ipv6/ppp-ip6_fragments.pcap",
    "ipv4-frag/ppp-ip4_fragments.pcap",
    "vlan/ppp-VlanPackets.pcap",
];

#[test]
fn conversations_and_endpoints_match_tshark() {
    let Some(dir) = corpus() else { return };
    if !have("tshark") {
        return;
    }
    for c in TABLE_CAPS {
        let cap = dir.join(c);
        if !cap.exists() {
            continue;
        }
        for (cmd, z) in [("conversations", "conv"), ("endpoints", "endpoints")] {
            for proto in ["eth", "ip", "ipv6", "tcp", "udp"] {
                let o = run(bin().arg(cmd).arg(&cap).args(["--proto", proto]));
                assert_eq!(o.status.code(), Some(0), "{c} {cmd} {proto}");
                let ours = String::from_utf8_lossy(&o.stdout).into_owned();
                let theirs = tshark_z(&cap, &format!("{z},{proto}"));
                assert_eq!(ours, theirs, "{c}: {cmd} --proto {proto}");
            }
        }
    }
}

#[test]
fn stats_lines_match_tshark_phs() {
    let Some(dir) = corpus() else { return };
    if !have("tshark") {
        return;
    }
    for c in TABLE_CAPS {
        let cap = dir.join(c);
        if !cap.exists() {
            continue;
        }
        let o = run(bin().arg("stats").arg(&cap));
        assert_eq!(o.status.code(), Some(0));
        let ours = String::from_utf8_lossy(&o.stdout).into_owned();
        let theirs = tshark_z(&cap, "io,phs");
        // Same header; every line of ours is tshark's line for the same path (ours stops at
        // the transport layer), in tshark's order.
        assert!(ours.starts_with(
            "\n===================================================================\nProtocol Hierarchy Statistics\nFilter: \n\n"
        ));
        let mut t = theirs.lines();
        for l in ours.lines().filter(|l| l.contains("frames:")) {
            assert!(t.any(|x| x == l), "{c}: {l:?} not in tshark's\n{theirs}");
        }
    }
}

/// How the lossy live transfer impairs the link (issue 5), as `tc qdisc ... netem` options.
const IMPAIRMENT: &str = "loss 5% reorder 25% duplicate 2% delay 10ms";

/// A userspace stand-in for `netem loss 5% reorder 25% duplicate 2% delay 10ms`, for kernels
/// without sch_netem: copies Ethernet frames between two TAP devices it creates (argv 1 and 2),
/// dropping 5%, duplicating 2%, sending 25% at once and holding the others 10 ms (so those
/// overtake the held ones, as netem's reorder does), with a fixed seed (argv 3). It prints
/// `ready` once both TAPs exist and exits when its standard input closes (printing what it did
/// on stderr) or after argv 4 seconds, whichever comes first.
const TAP_NETEM: &str = r#"
import fcntl, heapq, os, random, select, struct, sys, time
TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
LOSS, DUP, REORDER, DELAY = 0.05, 0.02, 0.25, 0.010
def tap(name):
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TAP | IFF_NO_PI))
    return fd
a, b = tap(sys.argv[1]), tap(sys.argv[2])
peer = {a: b, b: a}
rnd = random.Random(int(sys.argv[3]))
deadline = time.monotonic() + float(sys.argv[4])
print('ready', flush=True)
held, seq, n = [], 0, [0, 0, 0, 0]
def send(fd, frame):
    try:
        os.write(fd, frame)
    except OSError:
        pass
while time.monotonic() < deadline:
    now = time.monotonic()
    while held and held[0][0] <= now:
        send(*heapq.heappop(held)[2:])
    wait = max(0.0, held[0][0] - now) if held else 0.5
    ready = select.select([0, a, b], [], [], wait)[0]
    if 0 in ready and not os.read(0, 4096):
        break
    now = time.monotonic()
    for fd in (a, b):
        for _ in range(256 if fd in ready else 0):
            try:
                frame = os.read(fd, 65536)
            except BlockingIOError:
                break
            n[0] += 1
            if rnd.random() < LOSS:
                n[1] += 1
                continue
            copies = 1
            if rnd.random() < DUP:
                n[2] += 1
                copies = 2
            for _ in range(copies):
                if rnd.random() < REORDER:
                    n[3] += 1
                    send(peer[fd], frame)
                else:
                    seq += 1
                    heapq.heappush(held, (now + DELAY, seq, peer[fd], frame))
print('%d frames: %d dropped, %d duplicated, %d sent ahead' % tuple(n), file=sys.stderr)
"#;

/// The TAP_NETEM forwarder between `va0` (10.200.0.1, in `a`) and `vb0` (10.200.0.2, in `b`),
/// replacing the veth pair: both TAPs are created in `a` and `vb0` is moved to `b` (a TAP lives
/// as long as the forwarder holds it open). Killed on drop.
struct TapNetem(std::process::Child);

impl TapNetem {
    fn new(ns: &netns::Netns) -> Result<TapNetem, String> {
        if !Path::new("/dev/net/tun").exists() {
            return Err("no /dev/net/tun".into());
        }
        if !ns.run(&ns.a, &["ip", "link", "del", "va0"]) {
            return Err("cannot remove the veth pair".into());
        }
        let mut child = ns
            .cmd(&ns.a, "python3")
            .args(["-c", TAP_NETEM, "va0", "vb0", "5", "300"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("python3: {e}"))?;
        let mut line = String::new();
        let out = child.stdout.take().unwrap();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
        let mut me = TapNetem(child);
        if line.trim() != "ready" {
            return Err(format!("the TAP forwarder did not start: {}", me.finish()));
        }
        let (a, b) = (ns.a.as_str(), ns.b.as_str());
        let steps = [
            (a, format!("ip link set vb0 netns {b}")),
            (a, "ip link set va0 address 02:00:00:00:00:01".into()),
            (b, "ip link set vb0 address 02:00:00:00:00:02".into()),
            (a, "ip addr add 10.200.0.1/24 dev va0".into()),
            (b, "ip addr add 10.200.0.2/24 dev vb0".into()),
            (a, "ip link set va0 up".into()),
            (b, "ip link set vb0 up".into()),
            (
                a,
                "ip neigh replace 10.200.0.2 lladdr 02:00:00:00:00:02 dev va0 nud permanent".into(),
            ),
            (
                b,
                "ip neigh replace 10.200.0.1 lladdr 02:00:00:00:00:01 dev vb0 nud permanent".into(),
            ),
        ];
        for (n, step) in steps {
            if !ns.run(n, &step.split_whitespace().collect::<Vec<_>>()) {
                return Err(format!("`ip netns exec {n} {step}` failed"));
            }
        }
        Ok(me)
    }

    /// Stops the forwarder (closes its input) and returns what it printed on stderr.
    fn finish(&mut self) -> String {
        drop(self.0.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.0.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let mut err = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        err.trim().to_string()
    }
}

impl Drop for TapNetem {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Issue 5: a 20 MB HTTP transfer over a link with `netem loss 5% reorder 25% duplicate 2%
/// delay 10ms` (sch_netem when the kernel has it, else the TAP_NETEM forwarder), captured with
/// `wiresift capture` where the server's segments have already been impaired: the reassembled
/// server side, minus the HTTP header, is the file served.
#[test]
fn lossy_live_transfer_reassembles_exactly() {
    let Some(mut ns) = netns::Netns::new(1, &["curl"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    // 20 MB of varied bytes.
    let mut blob = Vec::with_capacity(20 << 20);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while blob.len() < 20 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        blob.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(www.join("blob.bin"), &blob).unwrap();
    let netem = [(&ns.a, "va0"), (&ns.b, "vb0")]
        .into_iter()
        .all(|(n, dev)| {
            let tc = format!("tc qdisc add dev {dev} root netem {IMPAIRMENT}");
            ns.run(n, &tc.split_whitespace().collect::<Vec<_>>())
        });
    // The capture runs in `b` on vb0. With netem the server is in `b`: the capture sees its
    // segments after netem's qdisc (lost, duplicated, reordered). With the forwarder the server
    // is in `a`, so that the capture sees its segments after the forwarder.
    let mut tap = None;
    let (server_ns, server_ip, client_ns) = if netem {
        (ns.b.clone(), "10.200.0.2", ns.a.clone())
    } else {
        match TapNetem::new(&ns) {
            Ok(t) => tap = Some(t),
            Err(why) => {
                eprintln!("SKIP: no sch_netem (`tc qdisc add ... netem` failed) and {why}");
                return;
            }
        }
        (ns.a.clone(), "10.200.0.1", ns.b.clone())
    };
    eprintln!(
        "impairing the link with {}",
        if netem {
            "sch_netem"
        } else {
            "the TAP forwarder"
        }
    );
    let mut server = ns.cmd(&server_ns, "python3");
    server
        .args([
            "-m",
            "http.server",
            "8000",
            "--bind",
            server_ip,
            "--directory",
        ])
        .arg(&www);
    ns.spawn(server);
    let url = format!("http://{server_ip}:8000/blob.bin");
    // Wait for the server (before the capture starts: only the transfer is captured).
    let mut up = false;
    for _ in 0..100 {
        up = ns
            .cmd(&client_ns, "curl")
            .args(["-sf", "--max-time", "5", "-o", "/dev/null"])
            .arg(format!("http://{server_ip}:8000/"))
            .status()
            .is_ok_and(|s| s.success());
        if up {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "the HTTP server did not come up");
    let pcap = dir.path().join("lossy.pcapng");
    let cap = ns.capture(&["-i", "vb0", "-w", pcap.to_str().unwrap(), "tcp port 8000"]);
    let got = dir.path().join("got.bin");
    let t0 = std::time::Instant::now();
    let o = ns
        .cmd(&client_ns, "curl")
        .args(["-sSf", "--max-time", "120", "--retry", "0", "-o"])
        .arg(&got)
        .arg(&url)
        .output()
        .unwrap();
    let took = t0.elapsed();
    assert!(
        o.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        std::fs::read(&got).unwrap() == blob,
        "curl's copy differs from the file served"
    );
    std::thread::sleep(Duration::from_millis(500));
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    let impaired = tap.as_mut().map(TapNetem::finish).unwrap_or_default();
    drop(tap);
    let out = dir.path().join("split");
    // Default limits: a lost retransmission holds a hole open for an RTO (about 0.6 s here)
    // while 1,000 to 1,700 segments (duplicates included) arrive beyond it, which the defaults
    // (4096 segments, 4 MiB) absorb.
    let o = run(bin().arg("follow").arg(&pcap).arg("--split").arg(&out));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = jsonl(&out);
    let r = recs
        .iter()
        .max_by_key(|r| r["s2c"]["bytes"].as_u64().unwrap())
        .unwrap();
    let s2c = std::fs::read(out.join(r["s2c"]["file"].as_str().unwrap())).unwrap();
    let body_at = s2c
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP header")
        + 4;
    assert_eq!(r["s2c"]["gaps"], 0, "{r}");
    assert!(
        s2c[body_at..] == blob[..],
        "reassembled body differs ({} bytes)",
        s2c.len() - body_at
    );
    // The capture really was lossy and out of order.
    let count = |filter: &str| {
        let o = run(bin().arg("read").arg(&pcap).args(["-Y", filter]).args([
            "-T",
            "fields",
            "-e",
            "frame.number",
        ]));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        stdout_lines(&o)
    };
    let (retrans, ooo, dup_ack) = (
        count("tcp.analysis.retransmission"),
        count("tcp.analysis.out_of_order"),
        count("tcp.analysis.duplicate_ack"),
    );
    eprintln!(
        "20 MB in {took:.1?}; {} frames captured, {retrans} retransmissions, {ooo} out of \
         order, {dup_ack} duplicate ACKs; {impaired}",
        count("frame")
    );
    assert!(
        retrans > 10,
        "the link did not lose data: {retrans} retransmissions"
    );
    assert!(
        count("tcp.analysis.out_of_order || tcp.analysis.duplicate_ack") > 0,
        "the link did not reorder"
    );
}
