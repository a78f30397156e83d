//! TLS decryption (issue 9) through the binary: the shared corpus with `follow --proto tls
//! --split` (per-side md5s of the `tls-stream` lines), `export http` over decrypted TLS,
//! `inject-secrets` round trips, keyless sessions that say why, and live sessions captured by
//! `wiresift capture` in network namespaces of the test's own (see `common/netns.rs`): openssl
//! s_server + curl with SSLKEYLOGFILE for each cipher suite, RSA-key-only decryption with
//! session resumption, and HTTP/2 over TLS from nghttpd.

mod common;
#[path = "common/netns.rs"]
#[allow(dead_code)] // shared by several test crates, each uses part of it
mod netns;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use netns::{Capture, Netns};

fn md5_file(p: &Path) -> String {
    let o = Command::new("md5sum").arg(p).output().expect("md5sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// (stream, node0, node0 md5, other md5) of the `tls-stream` lines.
fn tls_streams(lines: &[String]) -> Vec<(u64, String, String, String)> {
    let mut v = Vec::new();
    for l in lines {
        let Some(rest) = l.strip_prefix("tls-stream ") else {
            continue;
        };
        let (n, rest) = rest.split_once(':').unwrap();
        let kv: BTreeMap<&str, &str> = rest
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .collect();
        v.push((
            n.parse().unwrap(),
            kv["node0"].to_string(),
            kv["c2s_md5"].to_string(),
            kv["s2c_md5"].to_string(),
        ));
    }
    v
}

fn key_args(dir: &Path, lines: &[String]) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(k) = expected(lines, "keylog").filter(|k| *k != "none") {
        a.push("--tls-keylog".into());
        a.push(dir.join(k).display().to_string());
    }
    if let Some(k) = expected(lines, "rsa-key").filter(|k| *k != "none") {
        a.push("--tls-key".into());
        a.push(dir.join(k).display().to_string());
    }
    a
}

/// `<stream>-<client>-<server>.c2s/.s2c` files of a --split directory, by stream.
fn split_files(dir: &Path) -> BTreeMap<u64, (String, PathBuf, PathBuf)> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().into_string().unwrap();
        let Some(base) = name.strip_suffix(".c2s") else {
            continue;
        };
        let mut parts = base.splitn(3, '-');
        let (Some(n), Some(client)) = (parts.next(), parts.next()) else {
            continue;
        };
        let n: u64 = n.parse().unwrap();
        m.insert(
            n,
            (
                client.to_string(),
                dir.join(&name),
                dir.join(format!("{base}.s2c")),
            ),
        );
    }
    m
}

/// `ip.port` as --split names it, from tshark's `ip:port` / `[v6]:port`.
fn split_name(addr: &str) -> String {
    let (ip, port) = addr.rsplit_once(':').unwrap();
    format!(
        "{}.{port}",
        ip.trim_start_matches('[').trim_end_matches(']')
    )
}

#[test]
fn corpus_follow_tls_matches_tshark() {
    let Some(root) = corpus() else { return };
    let mut checked = 0;
    for sub in ["tls-keylog", "tls-rsa"] {
        for (cap, lines) in corpus_captures(&root.join(sub)) {
            let dir = cap.parent().unwrap();
            let out = tempfile::tempdir().unwrap();
            let split = out.path().join("s");
            let o = run(bin()
                .args(["follow", "--proto", "tls", "--split"])
                .arg(&split)
                .arg(&cap)
                .args(key_args(dir, &lines)));
            assert!(
                o.status.success(),
                "{}: {}",
                cap.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            let files = split_files(&split);
            for (n, node0, m0, m1) in tls_streams(&lines) {
                let (client, c2s, s2c) = &files[&n];
                let (cm, sm) = if *client == split_name(&node0) {
                    (&m0, &m1)
                } else {
                    (&m1, &m0)
                };
                assert_eq!(
                    &md5_file(c2s),
                    cm,
                    "{} stream {n} client side",
                    cap.display()
                );
                assert_eq!(
                    &md5_file(s2c),
                    sm,
                    "{} stream {n} server side",
                    cap.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "{checked}");
}

#[test]
fn corpus_export_http_over_tls() {
    let Some(root) = corpus() else { return };
    let dir = root.join("tls-keylog");
    let cap = dir.join("hotplace-http1.pcapng");
    let lines: Vec<String> =
        std::fs::read_to_string(dir.join("hotplace-http1.pcapng.expected.txt"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    let out = tempfile::tempdir().unwrap();
    let o = run(bin()
        .args(["export", "http"])
        .arg(&cap)
        .arg("-o")
        .arg(out.path().join("x"))
        .args(key_args(&dir, &lines)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut ours: Vec<String> = std::fs::read_dir(out.path().join("x"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "manifest.jsonl")
        .map(|e| md5_file(&e.path()))
        .collect();
    let mut theirs: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("http-object: "))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("md5="))
                .map(str::to_string)
        })
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
}

#[test]
fn inject_secrets_round_trip_and_keyless_reasons() {
    let Some(root) = corpus() else { return };
    let dir = root.join("tls-keylog");
    let cap = dir.join("illustrated-tls13-capture.pcap");
    let out = tempfile::tempdir().unwrap();
    let dsb = out.path().join("dsb.pcapng");
    let o = run(bin()
        .args(["inject-secrets"])
        .arg(&cap)
        .arg(&dsb)
        .arg("--tls-keylog")
        .arg(dir.join("illustrated-tls13-keylog.txt"))
        .arg("--tls-keylog")
        .arg(dir.join("hotplace-tls-http-sslkeylog.txt")));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("5 key log lines"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The DSB alone decrypts: same bytes as the corpus's editcap-made DSB capture.
    let o = run(bin()
        .args([
            "follow", "--proto", "tls", "--stream", "0", "--format", "raw",
        ])
        .arg(&dsb));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("70696e67") && text.contains("706f6e67"),
        "{text}"
    );
    // The header names the protocol as tshark's `-z follow,tls,raw,0` does.
    assert!(
        text.contains("Follow: tls,raw\nFilter: tcp.stream eq 0\n"),
        "{text}"
    );
    // Without keys: nothing decrypted, and the reason names the client random.
    let o = run(bin()
        .args([
            "follow", "--proto", "tls", "--stream", "0", "--format", "raw",
        ])
        .arg(&cap));
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no key for client random "), "{err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("70696e67"));
}

#[test]
fn read_shows_tls_summary_and_fields() {
    let Some(root) = corpus() else { return };
    let dir = root.join("tls-keylog");
    let o = run(bin()
        .arg("read")
        .arg(dir.join("hotplace-curl_http1_tls12.pcapng"))
        .args([
            "-Y",
            "tls.handshake.type == 1",
            "-T",
            "fields",
            "-e",
            "tls.handshake.extensions_server_name",
        ]));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "www.google.com\n");
    let o = run(bin()
        .arg("read")
        .arg(dir.join("hotplace-curl_http1_tls12.pcapng"))
        .arg("--tls-keylog")
        .arg(dir.join("hotplace-tls-http-sslkeylog.txt")));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("TLS: Client Hello (SNI=www.google.com)"), "{s}");
    // Garbage for a key file is a usage error, not a panic.
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "not a key").unwrap();
    let o = run(bin()
        .arg("read")
        .arg(dir.join("hotplace-curl_http1_tls12.pcapng"))
        .arg("--tls-key")
        .arg(bad.path()));
    assert_eq!(o.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------------
// Live: servers in namespace `b` (10.200.0.2), curl in `a`, `wiresift capture` on `vb0`.
//
// The capture is `wiresift capture`, not tcpdump: tcpdump (libpcap 1.10 with TPACKET_V3, no
// --immediate-mode) drops the ring block the kernel has not retired yet when it is stopped,
// i.e. everything of the last second before SIGINT. That is what made these tests miss the
// last exchanges (the RSA-only session was never in the file). `wiresift capture` drains the
// ring on stop and reports its kernel drops, which must be 0.

/// A server process, killed when dropped (also when an assertion fails first).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(ns: &Netns, dir: &Path, program: &str, args: &[&str]) -> Server {
    let child = ns
        .cmd(&ns.b, program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    Server(child)
}

fn wait_port(ns: &Netns, port: u16) {
    for _ in 0..200 {
        if ns.run(
            &ns.a,
            &["bash", "-c", &format!("exec 3<>/dev/tcp/10.200.0.2/{port}")],
        ) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 10.200.0.2:{port}");
}

/// A self-signed RSA certificate and its key (and a second, unrelated key) in `dir`.
fn make_cert(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (key, cert, other) = (
        dir.join("key.pem"),
        dir.join("cert.pem"),
        dir.join("other-key.pem"),
    );
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl req");
    let st = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&other)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl genrsa");
    (key, cert, other)
}

/// Stops the capture and checks it lost nothing.
fn stop_capture(cap: Capture) {
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(20));
    assert_eq!(code, 0, "wiresift capture: {err}");
    assert_eq!(
        Capture::stat(&err, "packets dropped by kernel"),
        0,
        "the capture dropped packets: {err}"
    );
}

/// `export http` of `pcap` into a fresh directory: (object contents, manifest records, stderr).
fn export_objects(
    pcap: &Path,
    out: &Path,
    args: &[&str],
) -> (Vec<Vec<u8>>, Vec<serde_json::Value>, String) {
    let o = run(bin()
        .args(["export", "http"])
        .arg(pcap)
        .arg("-o")
        .arg(out)
        .args(args));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "export http {args:?}: {:?}: {err}",
        o.status
    );
    let mut got: Vec<Vec<u8>> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "manifest.jsonl")
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    got.sort();
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (got, manifest, err)
}

/// One TLS server configuration of the live test.
struct Case {
    /// s_server protocol flag, cipher option and value, extra server options.
    ver: &'static str,
    opt: &'static str,
    suite: &'static str,
    server_extra: &'static [&'static str],
    curl_extra: &'static [&'static str],
    /// With the client's key log (otherwise the server's RSA key alone must do).
    keylog: bool,
    /// Fetch every file in one curl process: connections after the first resume the TLS
    /// session (s_server -WWW closes each connection after its response).
    one_client: bool,
}

const fn case(ver: &'static str, opt: &'static str, suite: &'static str) -> Case {
    Case {
        ver,
        opt,
        suite,
        server_extra: &[],
        curl_extra: &[],
        keylog: true,
        one_client: false,
    }
}

/// Every suite with the key log; the RSA key-exchange sessions (with and without resumption,
/// tickets and session ids) also with the server's RSA key alone; a wrong RSA key and no key
/// say why per session. Every object must come out, byte-identical.
#[test]
fn live_openssl_curl_each_suite() {
    let Some(ns) = Netns::new(1, &["openssl", "curl"]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let www = work.path().join("www");
    std::fs::create_dir(&www).unwrap();
    // Small, multi-record and odd-sized bodies.
    let mut files = Vec::new();
    for (i, len) in [10usize, 20_000, 70_001].iter().enumerate() {
        let body: Vec<u8> = (0..*len).map(|k| (k * 7 + i) as u8).collect();
        let name = format!("f{i}.bin");
        std::fs::write(www.join(&name), &body).unwrap();
        files.push((name, body));
    }
    let (key, cert, other_key) = make_cert(work.path());
    let pcap = work.path().join("live.pcapng");
    let cap = ns.capture(&[
        "-i",
        "vb0",
        "-B",
        "65536",
        "-w",
        pcap.to_str().unwrap(),
        "tcp",
    ]);
    let keylog = work.path().join("keylog.txt");
    let cases = [
        case("-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"),
        case("-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"),
        case("-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"),
        case("-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"),
        // The server wants P-384, the client's first key share is X25519: a HelloRetryRequest
        // with middlebox-compatibility ChangeCipherSpecs.
        Case {
            server_extra: &["-groups", "P-384"],
            curl_extra: &["--curves", "X25519:P-384"],
            ..case("-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256")
        },
        case("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"),
        case("-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"),
        case("-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"),
        case("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"),
        case("-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384"),
        case("-tls1_2", "-cipher", "AES128-CCM"),
        case("-tls1_2", "-cipher", "AES256-GCM-SHA384"),
        // RSA key alone, resumed sessions: tickets, then session ids.
        Case {
            keylog: false,
            one_client: true,
            ..case("-tls1_2", "-cipher", "AES128-SHA256")
        },
        Case {
            keylog: false,
            one_client: true,
            server_extra: &["-no_ticket"],
            ..case("-tls1_2", "-cipher", "AES256-SHA")
        },
    ];
    let rsa_kx = |c: &Case| c.ver == "-tls1_2" && !c.suite.starts_with("ECDHE");
    for (i, c) in cases.iter().enumerate() {
        let port = (8443 + i as u16).to_string();
        let mut args = vec!["s_server", "-WWW", "-accept", &port];
        let (cert_s, key_s) = (cert.to_str().unwrap(), key.to_str().unwrap());
        args.extend(["-cert", cert_s, "-key", key_s, c.ver, c.opt, c.suite]);
        args.extend(c.server_extra);
        let _srv = serve(&ns, &www, "openssl", &args);
        wait_port(&ns, 8443 + i as u16);
        let urls: Vec<String> = files
            .iter()
            .map(|(name, _)| format!("https://10.200.0.2:{port}/{name}"))
            .collect();
        let batches: Vec<&[String]> = if c.one_client {
            vec![&urls[..]]
        } else {
            urls.chunks(1).collect()
        };
        for batch in batches {
            let mut curl = ns.cmd(&ns.a, "curl");
            curl.args(["-sSk", "--fail", "--http1.1"]);
            if c.keylog {
                curl.env("SSLKEYLOGFILE", &keylog);
            }
            if c.ver == "-tls1_3" {
                curl.args(["--tlsv1.3", "--tls13-ciphers", c.suite]);
            } else {
                curl.args(["--tlsv1.2", "--tls-max", "1.2", "--ciphers", c.suite]);
            }
            curl.args(c.curl_extra);
            for u in batch {
                curl.args(["-o", "/dev/null", u]);
            }
            let o = curl.output().unwrap();
            assert!(
                o.status.success(),
                "curl {} {} {batch:?}: {}",
                c.ver,
                c.suite,
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    stop_capture(cap);

    let count = |got: &[Vec<u8>], body: &[u8]| got.iter().filter(|g| g.as_slice() == body).count();
    // The key log: every object of every key-log case, nothing else.
    let logged = cases.iter().filter(|c| c.keylog).count();
    let (got, _, err) = export_objects(
        &pcap,
        &work.path().join("keylog"),
        &["--tls-keylog", keylog.to_str().unwrap()],
    );
    for (name, body) in &files {
        assert_eq!(count(&got, body), logged, "{name} with the key log: {err}");
    }
    assert_eq!(got.len(), logged * files.len(), "{err}");

    // The server's RSA key alone: every RSA key-exchange session, resumed ones included.
    let rsa_cases = cases.iter().filter(|c| rsa_kx(c)).count();
    let (got, manifest, err) = export_objects(
        &pcap,
        &work.path().join("rsa"),
        &["--tls-key", key.to_str().unwrap()],
    );
    for (name, body) in &files {
        assert_eq!(
            count(&got, body),
            rsa_cases,
            "{name} with the RSA key: {err}"
        );
    }
    assert_eq!(got.len(), rsa_cases * files.len(), "{err}");
    // The ECDHE and TLS 1.3 sessions stay encrypted and say why.
    let undecrypted: Vec<&serde_json::Value> = manifest
        .iter()
        .filter(|r| r["type"] == "tls-session")
        .collect();
    let others = cases.iter().filter(|c| !rsa_kx(c)).count() * files.len();
    assert_eq!(undecrypted.len(), others, "{err}");
    for r in &undecrypted {
        let why = r["reason"].as_str().unwrap_or_default();
        assert_eq!(r["status"], "no key", "{r}");
        assert!(
            why.starts_with("no key for client random ") && why.ends_with("needs a key log)"),
            "{r}"
        );
    }
    // Sessions were resumed: fewer Certificate messages than ServerHellos on those ports.
    for port in [8443 + cases.len() as u16 - 2, 8443 + cases.len() as u16 - 1] {
        let hs = |t: u8| {
            let o = run(bin().arg("read").arg(&pcap).args([
                "-Y",
                &format!("tcp.srcport == {port} && tls.handshake.type == {t}"),
            ]));
            stdout_lines(&o)
        };
        assert_eq!(
            (hs(2), hs(11)),
            (files.len(), 1),
            "port {port}: resumed sessions"
        );
    }

    // A wrong RSA key: nothing decrypted, and each RSA session says the key does not fit (the
    // resumed ones name the full handshake they depend on).
    let (got, manifest, err) = export_objects(
        &pcap,
        &work.path().join("wrong"),
        &["--tls-key", other_key.to_str().unwrap()],
    );
    assert!(got.is_empty(), "{err}");
    let reasons: Vec<&str> = manifest
        .iter()
        .filter(|r| r["type"] == "tls-session")
        .filter_map(|r| r["reason"].as_str())
        .collect();
    let wrong_key = reasons
        .iter()
        .filter(|r| r.contains("does not decrypt the pre-master secret"))
        .count();
    let resumed = reasons
        .iter()
        .filter(|r| r.contains("(resumed session: the full handshake it resumes, tcp.stream "))
        .count();
    // Full handshakes: one per file for the key-log RSA cases, one per resuming client.
    assert_eq!(wrong_key, 2 * files.len() + 2, "{reasons:#?}");
    assert_eq!(resumed, 2 * (files.len() - 1), "{reasons:#?}");
    assert_eq!(reasons.len(), cases.len() * files.len(), "{reasons:#?}");
}

/// HTTP/2 over TLS from a real h2 server (nghttpd), several files (one of 3 MB) fetched in
/// parallel on one connection by curl --http2 with SSLKEYLOGFILE: `export http --tls-keylog`
/// yields each file byte-identical, as HTTP/2 objects.
#[test]
fn live_http2_over_tls_from_nghttpd() {
    let Some(ns) = Netns::new(1, &["openssl", "curl", "nghttpd"]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let www = work.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let mut files = Vec::new();
    for (i, len) in [1usize, 100, 16_385, 100_000, 3_000_000].iter().enumerate() {
        let name = format!("h{i}.bin");
        let p = www.join(&name);
        let st = Command::new("head")
            .args(["-c", &len.to_string(), "/dev/urandom"])
            .stdout(std::fs::File::create(&p).unwrap())
            .status()
            .unwrap();
        assert!(st.success());
        files.push((name, std::fs::read(&p).unwrap()));
    }
    let (key, cert, _) = make_cert(work.path());
    let pcap = work.path().join("h2.pcapng");
    let cap = ns.capture(&[
        "-i",
        "vb0",
        "-B",
        "65536",
        "-w",
        pcap.to_str().unwrap(),
        "tcp",
    ]);
    let _srv = serve(
        &ns,
        &www,
        "nghttpd",
        &[
            "-d",
            www.to_str().unwrap(),
            "9443",
            key.to_str().unwrap(),
            cert.to_str().unwrap(),
        ],
    );
    wait_port(&ns, 9443);
    let keylog = work.path().join("keylog.txt");
    let mut curl = ns.cmd(&ns.a, "curl");
    curl.args([
        "-sSk",
        "--fail",
        "--http2",
        "--parallel",
        "-w",
        "%{http_version}\n",
    ])
    .env("SSLKEYLOGFILE", &keylog);
    for (name, _) in &files {
        curl.args(["-o", "/dev/null"])
            .arg(format!("https://10.200.0.2:9443/{name}"));
    }
    let o = curl.output().unwrap();
    assert!(
        o.status.success(),
        "curl --http2: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let versions = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        versions.lines().all(|v| v == "2"),
        "curl used HTTP {versions}"
    );
    drop(_srv);
    stop_capture(cap);

    let (got, manifest, err) = export_objects(
        &pcap,
        &work.path().join("out"),
        &["--tls-keylog", keylog.to_str().unwrap()],
    );
    for (name, body) in &files {
        assert_eq!(
            got.iter().filter(|g| *g == body).count(),
            1,
            "{name} ({} bytes) not exported byte-identical: {err}",
            body.len()
        );
    }
    assert_eq!(got.len(), files.len(), "{err}");
    for r in &manifest {
        assert_eq!(r["protocol"], "h2", "{r}");
        assert_eq!(r["status"], 200, "{r}");
    }
}

/// TLS 1.3 0-RTT: openssl s_client resumes a session and sends early data, which s_server
/// accepts; with the client's key log the early data and what follows come out of `follow
/// --proto tls` (the early records precede the ServerHello on the wire).
#[test]
fn live_tls13_early_data() {
    use std::io::Write;
    let Some(ns) = Netns::new(1, &["openssl"]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (key, cert, _) = make_cert(work.path());
    let pcap = work.path().join("early.pcapng");
    let cap = ns.capture(&["-i", "vb0", "-w", pcap.to_str().unwrap(), "tcp"]);
    let srv_out = work.path().join("server.out");
    // s_server without -WWW prints what it receives; its standard input stays open (at end
    // of input it would stop).
    let mut srv = ns.cmd(&ns.b, "openssl");
    srv.args(["s_server", "-accept", "9445", "-early_data", "-cert"])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&srv_out).unwrap())
        .stderr(Stdio::null());
    let srv = Server(srv.spawn().unwrap());
    wait_port(&ns, 9445);
    let keylog = work.path().join("keylog.txt");
    let sess = work.path().join("sess.pem");
    let early = work.path().join("early.txt");
    std::fs::write(&early, "EARLY-DATA-0RTT\n").unwrap();
    let client = |extra: &[&std::ffi::OsStr]| {
        let mut c = ns.cmd(&ns.a, "openssl");
        c.args(["s_client", "-connect", "10.200.0.2:9445", "-keylogfile"])
            .arg(&keylog)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Server(c.spawn().unwrap())
    };
    // First connection: full handshake; its session (with the ticket) is saved once received.
    let mut first = client(&["-sess_out".as_ref(), sess.as_os_str()]);
    first
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"FIRST\n")
        .unwrap();
    for _ in 0..200 {
        if std::fs::metadata(&sess).is_ok_and(|m| m.len() > 0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(sess.exists(), "s_client saved no session");
    drop(first.0.stdin.take());
    let _ = first.0.wait();
    // Second connection: resumption with early data, then one more line after the handshake.
    let mut second = client(&[
        "-sess_in".as_ref(),
        sess.as_os_str(),
        "-early_data".as_ref(),
        early.as_os_str(),
    ]);
    second
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"AFTER\n")
        .unwrap();
    drop(second.0.stdin.take());
    let st = second.0.wait().unwrap();
    assert!(st.success(), "s_client with early data: {st:?}");
    // The server read both (so the early data was accepted, not only sent).
    let mut seen = String::new();
    for _ in 0..200 {
        seen = std::fs::read_to_string(&srv_out).unwrap_or_default();
        if seen.contains("EARLY-DATA-0RTT") && seen.contains("AFTER") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        seen.contains("Early data received") && seen.contains("AFTER"),
        "s_server did not accept the early data: {seen}"
    );
    drop(srv);
    stop_capture(cap);

    let o = run(bin()
        .args([
            "follow",
            "--proto",
            "tls",
            "--format",
            "ascii",
            "-Y",
            "tcp.port == 9445",
        ])
        .arg(&pcap)
        .arg("--tls-keylog")
        .arg(&keylog));
    let text = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let early_at = text.find("EARLY-DATA-0RTT");
    let after_at = text.find("AFTER");
    assert!(
        early_at.is_some() && after_at.is_some() && early_at < after_at,
        "early data and the line after it, in order: {text}\n{err}"
    );
    assert!(text.contains("FIRST"), "{text}");
    // Both sessions decrypted, nothing left over.
    let o = run(bin()
        .args(["read", "-V"])
        .arg(&pcap)
        .arg("--tls-keylog")
        .arg(&keylog));
    let err = String::from_utf8_lossy(&o.stderr);
    let sessions: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("wiresift: tls:"))
        .collect();
    assert_eq!(sessions.len(), 2, "{err}");
    assert!(sessions.iter().all(|l| l.ends_with(": decrypted")), "{err}");
}
