//! `wiresift send`, `replay-stream` and `replay` against real peers.
//!
//! `send` talks to servers on 127.0.0.1/::1 that the test starts (a TCP and a UDP echo in
//! threads, `openssl s_server -rev` for TLS) and needs no privileges. `replay-stream` and
//! `replay` run in network namespaces the test creates (see `common/netns.rs`): real SMTP
//! (python smtplib to a storing server) and HTTP (curl to python http.server) conversations
//! are captured with `wiresift capture`, then replayed to fresh servers; frames are replayed
//! onto one end of a veth and captured on the other. Those need root and skip elsewhere.

mod common;
#[path = "common/netns.rs"]
#[allow(dead_code)]
mod netns;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::bin;
use netns::Netns;
use wiresift_capfile::{CaptureReader, LinkType};
use wiresift_dissect::decode::{self, Net, Transport};

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Kills a child on drop (servers started outside a namespace).
struct Reaper(Child);
impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP echo server for one connection: echoes until the client half-closes, then closes.
fn tcp_echo(bind: &str) -> Option<SocketAddr> {
    let l = TcpListener::bind(bind).ok()?;
    let a = l.local_addr().ok()?;
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 8192];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
        }
    });
    Some(a)
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| b"0123456789abcdef\n"[i % 17]).collect()
}

fn send_cmd(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut c = bin()
        .arg("send")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wiresift send");
    let mut stdin = c.stdin.take().unwrap();
    let data = input.to_vec();
    let w = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let o = c.wait_with_output().expect("wait");
    w.join().unwrap();
    o
}

#[test]
fn send_tcp_echo_round_trip() {
    let a = tcp_echo("127.0.0.1:0").unwrap();
    let data = payload(200_000);
    let o = send_cmd(&[&a.to_string(), "--idle-timeout", "3s"], &data);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout.len(), data.len());
    assert!(o.stdout == data, "echoed bytes differ");
    let err = text(&o.stderr);
    assert!(
        err.contains("sent 200000 bytes, received 200000 bytes"),
        "{err}"
    );
    assert!(err.contains("the peer closed the connection"), "{err}");
}

#[test]
fn send_tcp_from_file_over_ipv6_with_crlf() {
    let Some(a) = tcp_echo("[::1]:0") else {
        eprintln!("SKIP: no IPv6 loopback here");
        return;
    };
    let dir = tmpdir();
    let f = dir.path().join("in.txt");
    std::fs::write(&f, b"EHLO x\nQUIT\r\n").unwrap();
    let o = bin()
        .args(["send", &format!("[::1]:{}", a.port()), "-C"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, b"EHLO x\r\nQUIT\r\n");
}

#[test]
fn send_udp_echo_round_trip() {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let a = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut b = [0u8; 65536];
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        while let Ok((n, p)) = s.recv_from(&mut b) {
            let _ = s.send_to(&b[..n], p);
        }
    });
    let data = b"datagram one".to_vec();
    let o = send_cmd(&["--udp", &a.to_string(), "--idle-timeout", "500ms"], &data);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, data);
    assert!(
        text(&o.stderr).contains("1 datagrams sent, 1 received"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn send_listen_serves_the_file_to_one_client() {
    let dir = tmpdir();
    let f = dir.path().join("greeting.txt");
    std::fs::write(&f, b"hello from the server\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = bin()
        .args([
            "send",
            "--listen",
            "-p",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args(["--accept-timeout", "10s", "--idle-timeout", "1s"])
        .arg(&f)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = None;
    for _ in 0..100 {
        if let Ok(c) = TcpStream::connect(("127.0.0.1", port)) {
            s = Some(c);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut s = s.expect("send --listen never listened");
    s.write_all(b"client says hi\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hello from the server\n");
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, b"client says hi\n");
}

#[test]
fn send_errors_are_clear() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = send_cmd(&[&format!("127.0.0.1:{port}")], b"x");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("connection refused"),
        "{}",
        text(&o.stderr)
    );
    let o = send_cmd(&["::1:80"], b"x");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("IPv6 addresses go in brackets"),
        "{}",
        text(&o.stderr)
    );
}

/// A CA and a leaf certificate for localhost/127.0.0.1, made with openssl.
fn make_certs(dir: &Path) -> bool {
    let sh = format!(
        "set -e; cd {d}; \
         openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj /CN=wiresift-test-ca -days 2; \
         openssl req -newkey rsa:2048 -nodes -keyout key.pem -out leaf.csr -subj /CN=localhost; \
         printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext; \
         openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile ext",
        d = dir.display()
    );
    Command::new("sh")
        .args(["-c", &sh])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_tcp(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn send_tls_to_openssl_s_server() {
    if !common::have("openssl") {
        return;
    }
    let dir = tmpdir();
    assert!(
        make_certs(dir.path()),
        "openssl could not make certificates"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // -rev: every line comes back reversed; serves connection after connection.
    let _srv = Reaper(
        Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-rev",
                "-accept",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["-cert", "cert.pem", "-key", "key.pem"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    // openssl s_server answers the probe connection with a failed handshake; fine.
    wait_tcp(&format!("127.0.0.1:{port}"));
    let ca = dir.path().join("ca.pem");
    let target = format!("localhost:{port}");
    let o = send_cmd(
        &[
            &target,
            "--tls",
            "--ca",
            ca.to_str().unwrap(),
            "--idle-timeout",
            "2s",
        ],
        b"hello tls\nround trip\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "slt olleh\npirt dnuor\n");
    assert!(
        text(&o.stderr).contains("TLS: TLSv1_3"),
        "{}",
        text(&o.stderr)
    );
    // Without the CA: the reason, not an errno.
    let o = send_cmd(&[&target, "--tls"], b"x\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("certificate verify failed: unknown issuer"),
        "{}",
        text(&o.stderr)
    );
    // Wrong name.
    let o = send_cmd(
        &[
            &target,
            "--tls",
            "--ca",
            ca.to_str().unwrap(),
            "--sni",
            "other.example",
        ],
        b"x\n",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("not valid for this server name"),
        "{}",
        text(&o.stderr)
    );
    // --insecure accepts it.
    let o = send_cmd(
        &[&target, "--tls", "--insecure", "--idle-timeout", "2s"],
        b"abc\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, b"cba\n");
}

// ---------------------------------------------------------------------------------------------
// replay-stream (namespaces)

const SMTP_SERVER: &str = r#"
import os, socketserver, sys
host, port = sys.argv[1].rsplit(':', 1)
outdir = sys.argv[2]
class H(socketserver.StreamRequestHandler):
    def handle(self):
        w = self.wfile.write
        w(b"220 wiresift-test ESMTP ready\r\n")
        data, buf = False, []
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            if data:
                if line == b".\r\n":
                    n = len(os.listdir(outdir)) + 1
                    with open(os.path.join(outdir, "%d.eml" % n), "wb") as f:
                        f.write(b"".join(buf))
                    data, buf = False, []
                    w(b"250 2.0.0 queued as %d\r\n" % n)
                else:
                    buf.append(line[1:] if line.startswith(b"..") else line)
                continue
            cmd = line[:4].upper()
            if cmd == b"EHLO":
                w(b"250-wiresift-test\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
            elif cmd == b"HELO":
                w(b"250 wiresift-test\r\n")
            elif cmd in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                w(b"250 2.1.0 OK\r\n")
            elif cmd == b"DATA":
                data = True
                w(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif cmd == b"QUIT":
                w(b"221 2.0.0 Bye\r\n")
                return
            else:
                w(b"502 5.5.2 unknown command\r\n")
class S(socketserver.TCPServer):
    allow_reuse_address = True
S((host, int(port)), H).serve_forever()
"#;

const SMTP_CLIENT: &str = r#"
import smtplib, sys, time
from email.message import EmailMessage
host, port = sys.argv[1].rsplit(':', 1)
m = EmailMessage()
m['From'] = 'alice@example.org'
m['To'] = 'bob@example.org'
m['Subject'] = 'replay-stream test'
m['Message-ID'] = '<fixed-id@example.org>'
body = "Hello Bob,\n.a line that starts with a dot\n" + "".join("body line %03d of the message\n" % i for i in range(300))
m.set_content(body)
for i in range(100):
    try:
        s = smtplib.SMTP(host, int(port), local_hostname='client.example.org', timeout=10)
        break
    except OSError:
        time.sleep(0.05)
s.send_message(m)
s.quit()
"#;

/// Waits until something listens on `addr` inside `ns` (a bounded number of probes).
fn wait_listen(ns: &Netns, nsname: &str, addr: &str) {
    let (h, p) = addr.rsplit_once(':').unwrap();
    let probe = format!(
        "import socket,time\nfor i in range(200):\n    try:\n        socket.create_connection(('{h}',{p}),1).close(); break\n    except OSError: time.sleep(0.05)\nelse:\n    raise SystemExit(1)"
    );
    assert!(
        ns.run(nsname, &["python3", "-c", &probe]),
        "nothing listens on {addr} in {nsname}"
    );
}

fn smtp_server(ns: &mut Netns, nsname: &str, addr: &str, dir: &Path) {
    let mut c = ns.cmd(nsname, "python3");
    c.args(["-c", SMTP_SERVER, addr]).arg(dir);
    ns.spawn(c);
    wait_listen(ns, nsname, addr);
}

/// Runs `wiresift ARGS` inside `nsname`, bounded.
fn wiresift_in(ns: &Netns, nsname: &str, args: &[&str]) -> std::process::Output {
    let mut c = ns.cmd(nsname, env!("CARGO_BIN_EXE_wiresift"));
    c.args(args);
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let o = child.wait_with_output().unwrap();
    drop(watchdog);
    o
}

/// Captures on vb0 (namespace b) while `traffic` runs; returns the file.
fn capture_while(ns: &Netns, dir: &Path, name: &str, traffic: impl FnOnce()) -> PathBuf {
    let out = dir.join(name);
    let cap = ns.capture(&["-i", "vb0", "-w", out.to_str().unwrap(), "tcp"]);
    traffic();
    std::thread::sleep(Duration::from_millis(300));
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn replay_stream_smtp_stores_a_byte_identical_message() {
    let Some(mut ns) = Netns::new(1, &[]) else {
        return;
    };
    let dir = tmpdir();
    let (orig, fresh, fresh2) = (
        dir.path().join("orig"),
        dir.path().join("fresh"),
        dir.path().join("fresh2"),
    );
    for d in [&orig, &fresh, &fresh2] {
        std::fs::create_dir(d).unwrap();
    }
    let (a, b) = (ns.a.clone(), ns.b.clone());
    smtp_server(&mut ns, &b, "10.200.0.2:2525", &orig);
    let pcap = capture_while(&ns, dir.path(), "smtp.pcap", || {
        assert!(ns.run(&a, &["python3", "-c", SMTP_CLIENT, "10.200.0.2:2525"]));
    });
    let original = std::fs::read(orig.join("1.eml")).expect("the original server stored nothing");
    assert!(original.len() > 9000, "{}", original.len());

    // A fresh server in the other namespace; the client side replayed from the capture.
    smtp_server(&mut ns, &a, "127.0.0.1:2526", &fresh);
    let o = wiresift_in(
        &ns,
        &a,
        &[
            "replay-stream",
            pcap.to_str().unwrap(),
            "--stream",
            "0",
            "--to",
            "127.0.0.1:2526",
        ],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}");
    let replayed = std::fs::read(fresh.join("1.eml")).expect("the replay stored nothing");
    assert!(replayed == original, "stored message differs\n{out}");
    assert!(out.contains("0 turn(s) differ"), "{out}");
    assert!(out.contains("recorded 31 B  received 31 B  same"), "{out}"); // the greeting
    assert!(err.contains("recorded 10.200.0.1:"), "{err}");

    // The same from follow --split style files (no timing, no turn boundaries).
    let conv = wiresift_replay::turns::from_capture(&pcap, 0, 1 << 20).unwrap();
    let wiresift_replay::turns::Script::Turns(turns) = &conv.script else {
        panic!("turns expected");
    };
    let side = |s| -> Vec<u8> {
        turns
            .iter()
            .filter(|t| t.from == s)
            .flat_map(|t| t.data.clone())
            .collect()
    };
    let (c, s) = (conv.client.unwrap(), conv.server.unwrap());
    let stem = format!("0-{}.{}-{}.{}", c.ip(), c.port(), s.ip(), s.port());
    let c2s = dir.path().join(format!("{stem}.c2s"));
    std::fs::write(&c2s, side(wiresift_replay::turns::Side::Client)).unwrap();
    std::fs::write(
        dir.path().join(format!("{stem}.s2c")),
        side(wiresift_replay::turns::Side::Server),
    )
    .unwrap();
    smtp_server(&mut ns, &a, "127.0.0.1:2527", &fresh2);
    let o = wiresift_in(
        &ns,
        &a,
        &[
            "replay-stream",
            c2s.to_str().unwrap(),
            "--to",
            "127.0.0.1:2527",
            "--line-wait",
            "100ms",
        ],
    );
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    let replayed = std::fs::read(fresh2.join("1.eml")).expect("the split replay stored nothing");
    assert!(
        replayed == original,
        "stored message differs (split files)\n{out}"
    );
    assert!(out.contains("0 turn(s) differ"), "{out}");
}

/// Status line and body of an HTTP response.
fn status_and_body(resp: &[u8]) -> (String, Vec<u8>) {
    let end = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let status = text(&resp[..resp.iter().position(|&b| b == b'\r').unwrap()]);
    (status, resp[end + 4..].to_vec())
}

#[test]
fn replay_stream_http_gets_the_same_status_lines_and_bodies() {
    let Some(mut ns) = Netns::new(1, &["curl"]) else {
        return;
    };
    let dir = tmpdir();
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let page: Vec<u8> = (0..50_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(www.join("page.txt"), &page).unwrap();
    let (a, b) = (ns.a.clone(), ns.b.clone());
    for (nsname, addr) in [(&b, "10.200.0.2"), (&a, "127.0.0.1")] {
        let mut c = ns.cmd(nsname, "python3");
        c.args(["-m", "http.server", "8000", "--bind", addr, "--directory"])
            .arg(&www);
        ns.spawn(c);
        wait_listen(&ns, nsname, &format!("{addr}:8000"));
    }
    let heads = [dir.path().join("h1"), dir.path().join("h2")];
    let pcap = capture_while(&ns, dir.path(), "http.pcap", || {
        for (url, h) in [("page.txt", &heads[0]), ("missing.txt", &heads[1])] {
            let st = ns
                .cmd(&a, "curl")
                .args(["-s", "-o", "/dev/null", "-D"])
                .arg(h)
                .arg(format!("http://10.200.0.2:8000/{url}"))
                .status()
                .unwrap();
            assert!(st.success());
        }
    });
    let recorded_status = |h: &Path| {
        text(&std::fs::read(h).unwrap())
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    for (stream, head, body) in [(0, &heads[0], Some(&page)), (1, &heads[1], None)] {
        let save = dir.path().join(format!("resp{stream}"));
        let o = wiresift_in(
            &ns,
            &a,
            &[
                "replay-stream",
                pcap.to_str().unwrap(),
                "--stream",
                &stream.to_string(),
                "--to",
                "127.0.0.1:8000",
                "--save",
                save.to_str().unwrap(),
            ],
        );
        let out = text(&o.stdout);
        assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
        let (status, got_body) = status_and_body(&std::fs::read(&save).unwrap());
        assert_eq!(status, recorded_status(head).trim_end(), "{out}");
        if let Some(b) = body {
            assert!(&got_body == b, "body differs\n{out}");
        } else {
            assert!(status.contains(" 404 "), "{status}");
        }
        assert!(out.contains("turn 1   client  sent"), "{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// replay (frames onto a veth)

fn csum(data: &[u8], mut acc: u32) -> u16 {
    for w in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Ethernet/IPv4/UDP 10.200.0.1 -> 10.200.0.2 to vb0's MAC, payload `seq:NNNNNNNN`, correct
/// checksums.
fn udp_frame(seq: u32, dport: u16, extra: usize) -> Vec<u8> {
    let mut p = format!("seq:{seq:08}").into_bytes();
    p.resize(p.len() + extra, b'.');
    let ulen = 8 + p.len();
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let ip_len = 20 + ulen;
    let mut ip = vec![
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0,
        1,
        0x40,
        0,
        64,
        17,
        0,
        0,
        10,
        200,
        0,
        1,
        10,
        200,
        0,
        2,
    ];
    let c = csum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut udp = vec![0x9c, 0x40];
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&(ulen as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&p);
    let pseudo = [&ip[12..20], &[0, 17], &(ulen as u16).to_be_bytes()[..]].concat();
    let mut acc = 0u32;
    for w in pseudo.chunks(2) {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    let c = csum(&udp, acc);
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&udp);
    f
}

/// A classic pcap file (microseconds) of (time in µs, frame).
fn write_pcap(path: &Path, frames: &[(u64, Vec<u8>)]) {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (t, f) in frames {
        let t = t + 1_700_000_000_000_000;
        v.extend_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(f);
    }
    std::fs::write(path, v).unwrap();
}

/// (timestamp ns, frame bytes) of every frame in a capture.
fn read_frames(path: &Path) -> Vec<(i64, Vec<u8>)> {
    let mut r = CaptureReader::open(path).expect("open capture");
    let mut v = Vec::new();
    while let Some(f) = r.next_frame().expect("read capture") {
        v.push((f.ts, f.data.to_vec()));
    }
    v
}

fn udp_seq(frame: &[u8]) -> Option<(u32, u16)> {
    let l = decode::decode(LinkType::ETHERNET, frame);
    let Transport::Udp { dport, .. } = l.transport else {
        return None;
    };
    let p = l.payload(frame);
    let s = std::str::from_utf8(p.get(4..12)?).ok()?;
    Some((s.parse().ok()?, dport))
}

#[test]
fn replay_onto_a_veth_keeps_frames_order_and_gaps() {
    let Some(ns) = Netns::new(1, &[]) else {
        return;
    };
    let dir = tmpdir();
    let input = dir.path().join("in.pcap");
    // 40 frames, gaps of 20..=65 ms in a repeating pattern (about 1.7 s).
    let mut t = 0u64;
    let mut frames = Vec::new();
    for i in 0..40u32 {
        frames.push((t, udp_frame(i, 40010, (i as usize * 37) % 900)));
        t += 20_000 + u64::from(i % 10) * 5_000;
    }
    write_pcap(&input, &frames);
    let out = dir.path().join("out.pcap");
    let cap = ns.capture(&["-i", "vb0", "-w", out.to_str().unwrap(), "udp"]);
    let o = wiresift_in(
        &ns,
        &ns.a,
        &[
            "replay",
            input.to_str().unwrap(),
            "-i",
            "va0",
            "--speed",
            "1",
        ],
    );
    let rep = text(&o.stdout);
    assert!(o.status.success(), "{rep}\n{}", text(&o.stderr));
    assert!(rep.contains("Actual: 40 packets"), "{rep}");
    assert!(rep.contains("Failed packets:            0"), "{rep}");
    std::thread::sleep(Duration::from_millis(300));
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    let got = read_frames(&out);
    assert_eq!(got.len(), frames.len(), "{err}");
    for (g, f) in got.iter().zip(&frames) {
        assert!(g.1 == f.1, "frame differs: {:?}", udp_seq(&g.1));
    }
    let mut worst = 0f64;
    for i in 1..got.len() {
        let rec = (frames[i].0 - frames[i - 1].0) as f64 * 1e3;
        let seen = (got[i].0 - got[i - 1].0) as f64;
        let rel = (seen - rec).abs() / rec;
        worst = worst.max(rel);
        assert!(
            rel <= 0.10,
            "gap {i}: recorded {:.3} ms, replayed {:.3} ms",
            rec / 1e6,
            seen / 1e6
        );
    }
    eprintln!("worst relative gap error: {:.2}%", worst * 100.0);
}

#[test]
fn replay_rewrites_chooses_frames_and_fixes_checksums() {
    let Some(ns) = Netns::new(1, &[]) else {
        return;
    };
    let dir = tmpdir();
    let input = dir.path().join("in.pcap");
    let mut frames = Vec::new();
    for i in 0..200u32 {
        let port = if i % 2 == 0 { 40020 } else { 40021 };
        frames.push((u64::from(i) * 100, udp_frame(i, port, 64)));
    }
    write_pcap(&input, &frames);
    let out = dir.path().join("out.pcap");
    let cap = ns.capture(&["-i", "vb0", "-w", out.to_str().unwrap(), "udp"]);
    let o = wiresift_in(
        &ns,
        &ns.a,
        &[
            "replay",
            input.to_str().unwrap(),
            "-i",
            "va0",
            "--topspeed",
            "--loop",
            "2",
            "-f",
            "udp dst port 40020",
            "-Y",
            "frame.number <= 100",
            "--ip-map",
            "10.200.0.0/24=172.16.9.0/24",
            "--port-map",
            "40020=5353",
            "--src-mac",
            "02:aa:bb:cc:dd:ee",
        ],
    );
    let rep = text(&o.stdout);
    assert!(o.status.success(), "{rep}\n{}", text(&o.stderr));
    assert!(rep.contains("Actual: 100 packets"), "{rep}");
    std::thread::sleep(Duration::from_millis(300));
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    let got = read_frames(&out);
    assert_eq!(got.len(), 100, "{err}");
    let mut seqs = Vec::new();
    for (_, f) in &got {
        assert_eq!(&f[6..12], &[2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        let l = decode::decode(LinkType::ETHERNET, f);
        let Net::Ipv4(ip) = l.net else {
            panic!("not IPv4")
        };
        assert_eq!((ip.src, ip.dst), ([172, 16, 9, 1], [172, 16, 9, 2]));
        let (seq, port) = udp_seq(f).unwrap();
        assert_eq!(port, 5353);
        seqs.push(seq);
        assert_eq!(
            wiresift_replay::rewrite::transport_checksum_ok(LinkType::ETHERNET, f),
            Some(true)
        );
        assert_eq!(
            wiresift_replay::rewrite::ipv4_checksum_ok(LinkType::ETHERNET, f),
            Some(true)
        );
    }
    // Frames 1..=100 of the file, even sequence numbers, twice.
    let once: Vec<u32> = (0..100).step_by(2).collect();
    assert_eq!(seqs, [once.clone(), once].concat());
}
