//! Network namespaces for live-capture tests: two namespaces ("a" sends, "b" captures and
//! serves) joined by veth pairs created directly inside them, with fixed MAC addresses and
//! permanent neighbour entries (no ARP), IPv6 off (no router solicitations): the only packets
//! on the wire are the ones the test sends. Everything is removed on drop, children first.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static SEQ: AtomicU32 = AtomicU32::new(0);

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tool_exists(name: &str) -> bool {
    ok(Command::new("sh").args(["-c", &format!("command -v {name}")]))
}

/// Namespaces `a` and `b` with `pairs` veth pairs: `va{k}` (10.200.{k}.1/24) in `a`,
/// `vb{k}` (10.200.{k}.2/24) in `b`.
pub struct Netns {
    pub a: String,
    pub b: String,
    children: Vec<Child>,
}

/// Why live tests cannot run here, or `None` if they can. `tools` are programs they also need.
pub fn unavailable(tools: &[&str]) -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("live capture tests need root (CI runs them as root)".into());
    }
    for t in ["ip", "python3"].iter().chain(tools) {
        if !tool_exists(t) {
            return Some(format!("{t} is not installed"));
        }
    }
    None
}

impl Netns {
    /// Sets the namespaces up; on failure prints `SKIP: reason` and returns `None`.
    pub fn new(pairs: u8, tools: &[&str]) -> Option<Netns> {
        if let Some(why) = unavailable(tools) {
            eprintln!("SKIP: {why}");
            return None;
        }
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let id = std::process::id();
        let me = Netns {
            a: format!("wsft-{id}-{n}a"),
            b: format!("wsft-{id}-{n}b"),
            children: Vec::new(),
        };
        if !ok(Command::new("ip").args(["netns", "add", &me.a]))
            || !ok(Command::new("ip").args(["netns", "add", &me.b]))
        {
            eprintln!("SKIP: `ip netns add` failed (no CAP_SYS_ADMIN here?)");
            return None;
        }
        for ns in [&me.a, &me.b] {
            for s in [
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ] {
                me.run(ns, &["sysctl", "-qw", s]);
            }
            me.run(ns, &["ip", "link", "set", "lo", "up"]);
        }
        for k in 0..pairs {
            let (va, vb) = (format!("va{k}"), format!("vb{k}"));
            let (ma, mb) = (
                format!("02:00:00:00:{k:02x}:01"),
                format!("02:00:00:00:{k:02x}:02"),
            );
            let (ipa, ipb) = (format!("10.200.{k}.1"), format!("10.200.{k}.2"));
            let created = ok(Command::new("ip").args([
                "-n", &me.a, "link", "add", &va, "address", &ma, "type", "veth", "peer", "name",
                &vb, "address", &mb, "netns", &me.b,
            ]));
            if !created {
                eprintln!("SKIP: cannot create a veth pair in a namespace");
                return None;
            }
            for (ns, dev, ip, peer_ip, peer_mac) in
                [(&me.a, &va, &ipa, &ipb, &mb), (&me.b, &vb, &ipb, &ipa, &ma)]
            {
                me.run(ns, &["ip", "addr", "add", &format!("{ip}/24"), "dev", dev]);
                me.run(ns, &["ip", "link", "set", dev, "up"]);
                me.run(
                    ns,
                    &[
                        "ip",
                        "neigh",
                        "replace",
                        peer_ip,
                        "lladdr",
                        peer_mac,
                        "dev",
                        dev,
                        "nud",
                        "permanent",
                    ],
                );
            }
        }
        Some(me)
    }

    /// Runs a command inside `ns` and waits for it (true on success).
    pub fn run(&self, ns: &str, args: &[&str]) -> bool {
        ok(Command::new("ip").args(["netns", "exec", ns]).args(args))
    }

    /// A command that runs inside `ns` (`ip netns exec` execs it: the child's PID is its own).
    pub fn cmd(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Starts a command that is killed when the namespaces go away (servers).
    pub fn spawn(&mut self, mut cmd: Command) -> u32 {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Starts `wiresift capture ARGS` inside `b` and waits until it is listening.
    pub fn capture(&self, args: &[&str]) -> Capture {
        let mut c = self.cmd(&self.b, env!("CARGO_BIN_EXE_wiresift"));
        c.arg("capture").args(args);
        Capture::start(c)
    }

    /// Sends `n` UDP datagrams per port from `a` to 10.200.{pair}.2, paced at `rate` rounds
    /// per second; each payload is `seq:NNNNNNNN:PORT`. Returns when all are sent.
    pub fn send_udp(&self, pair: u8, ports: &[u16], n: u32, rate: u32) -> Child {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        self.cmd(&self.a, "python3")
            .args([
                "-c",
                SENDER,
                &format!("10.200.{pair}.2"),
                &ports.join(","),
                &n.to_string(),
                &rate.to_string(),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 sender")
    }
}

const SENDER: &str = r#"
import socket, sys, time
dst, ports, n, rate = sys.argv[1], [int(p) for p in sys.argv[2].split(',')], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.monotonic()
for i in range(n):
    for p in ports:
        s.sendto(b'seq:%08d:%d' % (i, p), (dst, p))
    d = t0 + (i + 1) / rate - time.monotonic()
    if d > 0:
        time.sleep(d)
"#;

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.a, &self.b] {
            let _ = ok(Command::new("ip").args(["netns", "del", ns]));
        }
    }
}

/// A running `wiresift capture` with its stderr collected.
pub struct Capture {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
}

impl Capture {
    fn start(mut c: Command) -> Capture {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wiresift capture");
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let cap = Capture { child, stderr };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !cap.stderr().contains("listening on") {
            assert!(
                Instant::now() < deadline,
                "capture did not start: {}",
                cap.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        cap
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
    }

    /// Waits for the capture to exit by itself (bounded); returns its exit code and stderr.
    pub fn wait(mut self, limit: Duration) -> (i32, String) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                // Let the stderr reader see end of file.
                std::thread::sleep(Duration::from_millis(100));
                return (st.code().unwrap_or(-1), self.stderr());
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("capture did not stop in {limit:?}: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A figure from the final statistics (`N packets received by filter`).
    pub fn stat(stderr: &str, what: &str) -> u64 {
        stderr
            .lines()
            .find_map(|l| {
                let (n, rest) = l.split_once(' ')?;
                rest.ends_with(what).then(|| n.parse().ok())?
            })
            .unwrap_or_else(|| panic!("no '{what}' in: {stderr}"))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `tshark -r FILE -T fields -e F...`: one Vec per frame. Panics if tshark reports an error
/// (a damaged or cut-short file).
pub fn tshark_fields(
    file: &std::path::Path,
    fields: &[&str],
    filter: Option<&str>,
) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-n").arg("-r").arg(file).args(["-T", "fields"]);
    for f in fields {
        c.args(["-e", f]);
    }
    if let Some(f) = filter {
        c.args(["-Y", f]);
    }
    let o = c.output().expect("tshark");
    let err = String::from_utf8_lossy(&o.stderr);
    let err: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains("Running as user") && !l.trim().is_empty())
        .collect();
    assert!(
        o.status.success() && err.is_empty(),
        "tshark on {}: {:?}",
        file.display(),
        err
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The sequence number and port in a `seq:NNNNNNNN:PORT` payload given as hex.
pub fn seq_of(hex: &str) -> Option<(u32, u16)> {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let s = std::str::from_utf8(&bytes).ok()?;
    let mut it = s.strip_prefix("seq:")?.split(':');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}
