//! `wiresift export http` and the `http.*` fields: tshark's objects (by md5) over the shared
//! corpus, `read -Y 'http...'` counts, hostile names, HAR 1.2 validity, and a live test in
//! network namespaces (python3 http.server + a chunked/gzip/br server, curl, `wiresift
//! capture`) where every served or uploaded file must come out byte-identical.

mod common;
#[path = "common/netns.rs"]
#[allow(dead_code)] // shared by several test crates, each uses part of it
mod netns;
#[path = "common/pcapgen.rs"]
#[allow(dead_code)] // shared by several test crates, each uses part of it
mod pcapgen;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{bin, corpus, corpus_captures, quoted_counts, run, stdout_lines};
use netns::{Capture, Netns};
use pcapgen::{ACK, FIN, PSH, Pcap, SYN};

/// tshark objects that are tshark's own mistakes, with the reason.
const TSHARK_MISTAKES: &[(&str, &str, &str)] = &[(
    "arkime-http2-nghttp2.pcap",
    "9c5a9e3b6dc1c0b3c009f87a41f82e23",
    "tshark 4.0 exports the client's HTTP/2 connection preface and first frames (1354 bytes of \
     frame 4) as an object; the real bodies (index.html, screen.css) are exported by us",
)];

/// `dfilter` counts where tshark 4.0 differs for a reason of its own.
const TSHARK_COUNT_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "arkime-wireshark-retrans.pcap",
        "http",
        "tshark shows two exact retransmissions (frames 42 and 86) as HTTP responses again but \
         not the others (26, 27, 30); we never re-show a retransmitted segment's messages",
    ),
    ("arkime-wireshark-retrans.pcap", "http.response", "as above"),
    (
        "arkime-http2-nghttp2.pcap",
        "http2",
        "tshark 4.0 stops dissecting the client side after a 16 KiB HEADERS+CONTINUATION block it \
     shows on the block's first segment; we show each HTTP/2 frame on the segment completing it",
    ),
];

fn md5_of_files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "manifest.jsonl") {
                let o = Command::new("md5sum").arg(&p).output().expect("md5sum");
                let s = String::from_utf8_lossy(&o.stdout);
                out.insert(s.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    }
    out
}

fn sha256_of(p: &Path) -> String {
    let o = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

fn manifest(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("manifest.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("manifest line is JSON"))
        .collect()
}

fn export(cap: &Path, dir: &Path, extra: &[&str]) -> std::process::Output {
    run(bin()
        .args(["export", "http"])
        .arg(cap)
        .arg("-o")
        .arg(dir)
        .args(extra))
}

/// Captures whose objects need TLS decryption (not part of `export http` over clear text).
fn needs_tls(cap: &Path) -> bool {
    cap.components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with("tls-"))
}

#[test]
fn corpus_objects_include_every_tshark_object() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for (cap, lines) in corpus_captures(&dir) {
        let want: Vec<(String, String)> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("http-object: "))
            .filter_map(|l| {
                let md5 = l.split("md5=").nth(1)?.split(' ').next()?.to_string();
                Some((md5, l.to_string()))
            })
            .collect();
        if want.is_empty() {
            continue;
        }
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        if needs_tls(&cap) {
            eprintln!("SKIP {name}: its objects are inside TLS (needs decryption keys)");
            continue;
        }
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("o");
        let o = export(&cap, &out, &[]);
        assert!(
            o.status.code() == Some(0) || o.status.code() == Some(1),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let ours = md5_of_files(&out);
        for (md5, line) in &want {
            if TSHARK_MISTAKES
                .iter()
                .any(|(c, m, _)| *c == name && m == md5)
            {
                continue;
            }
            assert!(
                ours.contains(md5),
                "{name}: tshark's object {line} is not among ours {ours:?}\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        // Every manifest record names a file that exists inside the directory.
        for r in manifest(&out) {
            let f = r["file"].as_str().expect("file");
            assert!(out.join(f).is_file(), "{name}: {r}");
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} captures checked");
}

#[test]
fn corpus_http_display_filter_counts() {
    let Some(dir) = corpus() else { return };
    for (cap, lines) in corpus_captures(&dir) {
        if needs_tls(&cap) {
            continue;
        }
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        for (expr, n, _) in quoted_counts(&lines, "dfilter") {
            if !expr.starts_with("http") {
                continue;
            }
            if TSHARK_COUNT_DIFFERENCES
                .iter()
                .any(|(c, e, _)| *c == name && *e == expr)
            {
                continue;
            }
            let o = run(bin().arg("read").arg(&cap).args(["-Y", &expr]));
            assert_eq!(
                stdout_lines(&o) as u64,
                n,
                "{name}: -Y '{expr}': {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

#[test]
fn gzip_body_is_decoded_and_fields_work() {
    let Some(dir) = corpus() else { return };
    let cap = dir.join("http/zeek-get-gzip.pcap");
    if !cap.exists() {
        eprintln!("SKIP: {} missing", cap.display());
        return;
    }
    let o = run(bin().arg("read").arg(&cap).args([
        "-Y",
        "http.request || http.response",
        "-T",
        "fields",
        "-e",
        "http.request.method",
        "-e",
        "http.request.full_uri",
        "-e",
        "http.response.code",
        "-e",
        "http.content_encoding",
    ]));
    let s = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 2, "{s}");
    assert!(lines[0].starts_with("GET\thttp://"), "{s}");
    assert!(lines[1].contains("\t200\tgzip"), "{s}");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("o");
    let o = export(&cap, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = manifest(&out);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["decode"], serde_json::json!(["gzip"]));
    assert_eq!(m[0]["status"], serde_json::json!(200));
    assert!(
        m[0]["raw_size"].as_u64() < m[0]["size"].as_u64(),
        "{}",
        m[0]
    );
    // --raw keeps the body as transferred.
    let out2 = t.path().join("raw");
    export(&cap, &out2, &["--raw"]);
    let m2 = manifest(&out2);
    assert_eq!(m2[0]["size"], m[0]["raw_size"]);
}

// ---------------------------------------------------------------------------------------------
// Synthetic captures.

/// One TCP connection: handshake, then each (client, server) exchange, then FINs.
fn conversation(p: &mut Pcap, cport: u16, exchanges: &[(Vec<u8>, Vec<u8>)]) {
    let c = ([10, 0, 0, 1], cport);
    let s = ([10, 0, 0, 2], 80);
    let (mut cs, mut ss) = (1000u32, 5000u32);
    p.tcp(c, s, cs, 0, SYN, b"");
    p.tcp(s, c, ss, cs + 1, SYN | ACK, b"");
    cs += 1;
    ss += 1;
    p.tcp(c, s, cs, ss, ACK, b"");
    for (req, resp) in exchanges {
        for part in req.chunks(1400) {
            p.tcp(c, s, cs, ss, ACK | PSH, part);
            cs += part.len() as u32;
        }
        for part in resp.chunks(1400) {
            p.tcp(s, c, ss, cs, ACK | PSH, part);
            ss += part.len() as u32;
        }
    }
    p.tcp(c, s, cs, ss, FIN | ACK, b"");
    p.tcp(s, c, ss, cs + 1, FIN | ACK, b"");
    p.tcp(c, s, cs + 1, ss + 1, ACK, b"");
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: example.test\r\n\r\n").into_bytes()
}

fn ok(extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// Bodies whose Content-Encoding cannot be undone keep the bytes as transferred under the
/// object's own name (small ones were kept in memory, large ones in a side file), and bodies
/// that decode leave no side file behind.
#[test]
fn undecodable_bodies_keep_the_bytes_as_transferred() {
    use std::io::Write as _;
    let gz = |b: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    };
    // Pseudo-random bytes do not compress: their gzip is larger than the in-memory limit.
    let mut x = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let small_bad = b"this is not gzip at all".repeat(40);
    let mut big_bad = gz(&noise);
    big_bad.truncate(60_000);
    big_bad.extend_from_slice(&noise[..20_000]);
    let big_good = noise.clone();
    let small_good = b"hello, decoded world\n".repeat(30);
    let mut p = Pcap::new();
    let enc = "Content-Encoding: gzip\r\n";
    conversation(
        &mut p,
        40_001,
        &[
            (get("/small-bad.txt"), ok(enc, &small_bad)),
            (get("/big-bad.bin"), ok(enc, &big_bad)),
            (get("/big-good.bin"), ok(enc, &gz(&big_good))),
            (get("/small-good.txt"), ok(enc, &gz(&small_good))),
        ],
    );
    let t = tempfile::tempdir().unwrap();
    let cap = t.path().join("enc.pcap");
    std::fs::write(&cap, &p.bytes).unwrap();
    let out = t.path().join("o");
    let o = export(&cap, &out, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "undecodable objects: exit 1\n{err}"
    );
    assert!(err.contains("2 undecodable"), "{err}");
    let m = manifest(&out);
    let by_url = |u: &str| {
        m.iter()
            .find(|r| r["url"].as_str().is_some_and(|x| x.ends_with(u)))
            .unwrap_or_else(|| panic!("{u} not in the manifest"))
            .clone()
    };
    for (url, raw) in [("/small-bad.txt", &small_bad), ("/big-bad.bin", &big_bad)] {
        let r = by_url(url);
        let f = out.join(r["file"].as_str().unwrap());
        assert_eq!(r["file"].as_str(), Some(&url[1..]), "{r}");
        assert!(
            std::fs::read(&f).unwrap() == *raw,
            "{url}: not the bytes as transferred"
        );
        assert_eq!(r["sha256"].as_str(), Some(sha256_of(&f).as_str()), "{r}");
        assert_eq!(r["size"].as_u64(), Some(raw.len() as u64), "{r}");
        assert!(r["anomalies"].to_string().contains("undecodable"), "{r}");
        assert_eq!(r["decode"], serde_json::json!([]), "{r}");
    }
    for (url, plain) in [
        ("/big-good.bin", &big_good),
        ("/small-good.txt", &small_good),
    ] {
        let r = by_url(url);
        let f = out.join(r["file"].as_str().unwrap());
        assert!(std::fs::read(&f).unwrap() == *plain, "{url}: not decoded");
        assert_eq!(r["decode"], serde_json::json!(["gzip"]), "{r}");
        assert_eq!(r["sha256"].as_str(), Some(sha256_of(&f).as_str()), "{r}");
    }
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "big-bad.bin",
            "big-good.bin",
            "manifest.jsonl",
            "small-bad.txt",
            "small-good.txt"
        ],
        "side files must not be left behind"
    );
    // The HAR content of each response is the file's bytes: decoded bodies from memory, the
    // undecodable ones (whose file was replaced by the bytes as transferred) read back, and
    // the same log when nothing is kept in memory, or when the memory runs out part way
    // (2000 bytes: the small bodies fit, the 100 kB one is read back).
    let mut hars = Vec::new();
    for (i, mem) in ["67108864", "0", "2000"].into_iter().enumerate() {
        let har = t.path().join(format!("h{i}.har"));
        let dir = t.path().join(format!("h{i}"));
        export(
            &cap,
            &dir,
            &["--har", har.to_str().unwrap(), "--har-memory", mem],
        );
        let v = validate_har(&har).unwrap();
        for e in v["log"]["entries"].as_array().unwrap() {
            let url = e["request"]["url"].as_str().unwrap();
            let c = &e["response"]["content"];
            let text = c["text"].as_str().unwrap_or("");
            let body = if c["encoding"] == "base64" {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap()
            } else {
                text.as_bytes().to_vec()
            };
            let r = by_url(&url[url.rfind('/').unwrap()..]);
            let file = std::fs::read(out.join(r["file"].as_str().unwrap())).unwrap();
            assert!(body == file, "{url}: HAR content is not the exported file");
        }
        hars.push(std::fs::read(&har).unwrap());
    }
    assert_eq!(hars[0], hars[1]);
    assert_eq!(hars[0], hars[2]);
}

#[test]
fn hostile_names_stay_inside_the_directory() {
    let mut p = Pcap::new();
    let long = format!("/{}", "A".repeat(400));
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (get("/../../etc/passwd"), ok("", b"one")),
        (get("/%2e%2e%2f%2e%2e%2fetc%2fshadow"), ok("", b"two")),
        (get("/a%00b"), ok("", b"three")),
        (get("/CON"), ok("", b"four")),
        (get(&long), ok("", b"five")),
        (
            get("/dl"),
            ok(
                "Content-Disposition: attachment; filename=\"../../../tmp/evil.sh\"\r\n",
                b"six",
            ),
        ),
        (
            get("/dl2"),
            ok(
                "Content-Disposition: attachment; filename*=UTF-8''..%2F..%2F%2Fetc%2Fcron.d%2Fx\r\n",
                b"seven",
            ),
        ),
        (
            get("/dl3"),
            ok(
                "Content-Disposition: attachment; filename=\"/abs/path\"\r\n",
                b"eight",
            ),
        ),
        (get("/x/"), ok("", b"nine")),
        (get("/x/"), ok("", b"ten")),
    ];
    conversation(&mut p, 40000, &cases);
    let t = tempfile::tempdir().unwrap();
    let cap = t.path().join("hostile.pcap");
    std::fs::write(&cap, &p.bytes).unwrap();
    let out = t.path().join("out");
    let o = export(&cap, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Nothing but the capture and the output directory beside it.
    let siblings: BTreeSet<String> = std::fs::read_dir(t.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        siblings,
        BTreeSet::from(["hostile.pcap".to_string(), "out".to_string()])
    );
    let m = manifest(&out);
    assert_eq!(m.len(), 10, "{m:?}");
    let mut bodies = BTreeSet::new();
    for r in &m {
        let f = r["file"].as_str().unwrap();
        assert!(
            !f.contains('/') && !f.contains('\\') && !f.contains('\0'),
            "{f}"
        );
        assert!(f != "." && f != ".." && f.len() <= 180, "{f}");
        assert!(!f.eq_ignore_ascii_case("con"), "{f}");
        bodies.insert(std::fs::read(out.join(f)).unwrap());
    }
    assert_eq!(bodies.len(), 10);
    let names: BTreeSet<&str> = m.iter().map(|r| r["file"].as_str().unwrap()).collect();
    for want in [
        "passwd",
        "shadow",
        "evil.sh",
        "x",
        "path",
        "index.html",
        "index(1).html",
    ] {
        assert!(names.contains(want), "{want} not in {names:?}");
    }
    // Exactly the files of the manifest (plus the manifest) are in the directory.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 11);
}

#[test]
fn framing_pipelining_chunked_multipart_and_gaps() {
    let mut p = Pcap::new();
    // Pipelined: two requests in one segment, answers chunked (with a trailer) and by length.
    let mut two = get("/one.txt");
    two.extend_from_slice(&get("/two.bin"));
    let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n".to_vec();
    r.extend_from_slice(&ok(
        "Content-Type: application/octet-stream\r\n",
        &[0u8, 1, 2, 255],
    ));
    // A multipart upload and a HEAD (no body despite Content-Length).
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"up.dat\"\r\nContent-Type: application/octet-stream\r\n\r\nPART-ONE\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ--\r\n";
    let mut post = format!(
        "POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    post.extend_from_slice(body);
    let head = b"HEAD /h HTTP/1.1\r\nHost: example.test\r\n\r\n".to_vec();
    let head_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
    conversation(
        &mut p,
        40001,
        &[
            (two, r),
            (post, ok("", b"stored")),
            (head, head_resp),
            (get("/after"), ok("", b"still in sync")),
        ],
    );
    let t = tempfile::tempdir().unwrap();
    let cap = t.path().join("f.pcap");
    std::fs::write(&cap, &p.bytes).unwrap();
    let out = t.path().join("out");
    let o = export(&cap, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = manifest(&out);
    let by_file: HashMap<String, Vec<u8>> = m
        .iter()
        .map(|r| {
            let f = r["file"].as_str().unwrap().to_string();
            let b = std::fs::read(out.join(&f)).unwrap();
            (f, b)
        })
        .collect();
    assert_eq!(by_file["one.txt"], b"hello, world");
    assert_eq!(by_file["two.bin"], [0u8, 1, 2, 255]);
    assert_eq!(by_file["up.dat"], b"PART-ONE");
    assert_eq!(by_file["note"], b"hi");
    assert_eq!(by_file["upload"], body);
    assert_eq!(by_file["upload(1)"], b"stored");
    assert_eq!(by_file["after"], b"still in sync");
    assert!(!by_file.contains_key("h"), "HEAD response has no body");
    // Fields: the pipelined responses know their requests.
    let o = run(bin().arg("read").arg(&cap).args([
        "-Y",
        "http.response",
        "-T",
        "fields",
        "-e",
        "http.response_for.uri",
        "-e",
        "http.transfer_encoding",
    ]));
    let s = String::from_utf8_lossy(&o.stdout);
    let l: Vec<&str> = s.lines().collect();
    // Both pipelined responses complete on the same frame (as tshark shows them).
    assert_eq!(l.len(), 4, "{s}");
    assert_eq!(
        l[0],
        "http://example.test/one.txt,http://example.test/two.bin\tchunked"
    );

    // Lose a segment in the middle of a body: the object is truncated with the missing
    // range, the exit status is 1, and the next exchange is found again.
    let mut p = Pcap::new();
    let c = ([10, 0, 0, 1], 40002);
    let s = ([10, 0, 0, 2], 80);
    p.tcp(c, s, 100, 0, SYN, b"");
    p.tcp(s, c, 500, 101, SYN | ACK, b"");
    p.tcp(c, s, 101, 501, ACK, b"");
    let req = get("/big");
    p.tcp(c, s, 101, 501, ACK | PSH, &req);
    let cs = 101 + req.len() as u32;
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n";
    let mut ss = 501;
    p.tcp(s, c, ss, cs, ACK | PSH, head);
    ss += head.len() as u32;
    p.tcp(s, c, ss, cs, ACK | PSH, &[b'a'; 1000]);
    ss += 1000;
    // 1000 bytes never captured; the client acknowledges them.
    ss += 1000;
    p.tcp(s, c, ss, cs, ACK | PSH, &[b'c'; 1000]);
    ss += 1000;
    p.tcp(c, s, cs, ss, ACK, b"");
    let req2 = get("/next");
    p.tcp(c, s, cs, ss, ACK | PSH, &req2);
    let cs2 = cs + req2.len() as u32;
    let r2 = ok("", b"fine");
    p.tcp(s, c, ss, cs2, ACK | PSH, &r2);
    ss += r2.len() as u32;
    p.tcp(c, s, cs2, ss, FIN | ACK, b"");
    p.tcp(s, c, ss, cs2 + 1, FIN | ACK, b"");
    let cap = t.path().join("gap.pcap");
    std::fs::write(&cap, &p.bytes).unwrap();
    let out = t.path().join("gap");
    let o = export(&cap, &out, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("1 truncated"), "{err}");
    let m = manifest(&out);
    let big = m.iter().find(|r| r["file"] == "big").expect("big");
    assert_eq!(
        big["anomalies"][0]["truncated"]["missing"],
        serde_json::json!([[1000, 2000]])
    );
    assert_eq!(big["size"], serde_json::json!(2000));
    let next = m.iter().find(|r| r["file"] == "next").expect("next");
    assert_eq!(std::fs::read(out.join("next")).unwrap(), b"fine", "{next}");
}

// ---------------------------------------------------------------------------------------------
// HAR.

/// HAR 1.2 as a JSON Schema (draft 7), from the specification's required fields and types.
const HAR_SCHEMA: &str = r##"{
 "$schema": "http://json-schema.org/draft-07/schema#",
 "type": "object", "required": ["log"],
 "properties": {"log": {"type": "object", "required": ["version", "creator", "entries"],
  "properties": {
   "version": {"type": "string"},
   "creator": {"$ref": "#/definitions/creator"},
   "pages": {"type": "array"},
   "entries": {"type": "array", "items": {"$ref": "#/definitions/entry"}}}}},
 "definitions": {
  "creator": {"type": "object", "required": ["name", "version"],
   "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
  "nv": {"type": "object", "required": ["name", "value"],
   "properties": {"name": {"type": "string"}, "value": {"type": "string"}}},
  "entry": {"type": "object",
   "required": ["startedDateTime", "time", "request", "response", "cache", "timings"],
   "properties": {
    "startedDateTime": {"type": "string",
     "pattern": "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?(Z|[+-]\\d\\d:\\d\\d)$"},
    "time": {"type": "number", "minimum": 0},
    "serverIPAddress": {"type": "string"}, "connection": {"type": "string"},
    "request": {"type": "object",
     "required": ["method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"],
     "properties": {"method": {"type": "string"}, "url": {"type": "string"},
      "httpVersion": {"type": "string"},
      "cookies": {"type": "array", "items": {"$ref": "#/definitions/nv"}},
      "headers": {"type": "array", "items": {"$ref": "#/definitions/nv"}},
      "queryString": {"type": "array", "items": {"$ref": "#/definitions/nv"}},
      "postData": {"type": "object", "required": ["mimeType"],
       "properties": {"mimeType": {"type": "string"}, "text": {"type": "string"},
        "params": {"type": "array", "items": {"type": "object", "required": ["name"]}}}},
      "headersSize": {"type": "integer"}, "bodySize": {"type": "integer"}}},
    "response": {"type": "object",
     "required": ["status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL", "headersSize", "bodySize"],
     "properties": {"status": {"type": "integer"}, "statusText": {"type": "string"},
      "httpVersion": {"type": "string"},
      "cookies": {"type": "array", "items": {"$ref": "#/definitions/nv"}},
      "headers": {"type": "array", "items": {"$ref": "#/definitions/nv"}},
      "content": {"type": "object", "required": ["size", "mimeType"],
       "properties": {"size": {"type": "integer"}, "compression": {"type": "integer"},
        "mimeType": {"type": "string"}, "text": {"type": "string"},
        "encoding": {"type": "string"}}},
      "redirectURL": {"type": "string"},
      "headersSize": {"type": "integer"}, "bodySize": {"type": "integer"}}},
    "cache": {"type": "object"},
    "timings": {"type": "object", "required": ["send", "wait", "receive"],
     "properties": {"blocked": {"type": "number", "minimum": -1}, "dns": {"type": "number", "minimum": -1},
      "connect": {"type": "number", "minimum": -1}, "send": {"type": "number", "minimum": 0},
      "wait": {"type": "number", "minimum": 0}, "receive": {"type": "number", "minimum": 0},
      "ssl": {"type": "number", "minimum": -1}}}}}}}"##;

fn validate_har(har: &Path) -> Option<serde_json::Value> {
    let ok = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(har).unwrap()).expect("HAR is JSON");
    if !ok {
        eprintln!("SKIP schema check: python3 jsonschema is not installed");
        return Some(v);
    }
    let schema = har.with_extension("schema.json");
    std::fs::write(&schema, HAR_SCHEMA).unwrap();
    let o = Command::new("python3")
        .args([
            "-c",
            "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))); print('valid')",
        ])
        .arg(har)
        .arg(&schema)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "HAR does not validate: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(v)
}

#[test]
fn har_validates_against_the_har_1_2_schema() {
    let mut p = Pcap::new();
    let form = b"a=1&b=two+words";
    let mut post = format!(
        "POST /form?x=%41 HTTP/1.1\r\nHost: example.test\r\nAuthorization: Basic dXNlcjpwYXNz\r\nCookie: s=1; t=2\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        form.len()
    )
    .into_bytes();
    post.extend_from_slice(form);
    conversation(
        &mut p,
        40003,
        &[
            (post, ok("Content-Type: text/plain\r\n", b"thanks")),
            (
                get("/bin"),
                ok(
                    "Content-Type: image/png\r\n",
                    &[0x89, b'P', b'N', b'G', 0, 1],
                ),
            ),
            (
                get("/big"),
                ok("Content-Type: text/plain\r\n", &[b'z'; 5000]),
            ),
        ],
    );
    let t = tempfile::tempdir().unwrap();
    let cap = t.path().join("h.pcap");
    std::fs::write(&cap, &p.bytes).unwrap();
    let out = t.path().join("out");
    let har = t.path().join("x.har");
    let o = export(
        &cap,
        &out,
        &["--har", har.to_str().unwrap(), "--har-max-body", "1000"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = validate_har(&har).unwrap();
    let e = v["log"]["entries"].as_array().unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(e[0]["request"]["queryString"][0]["value"], "A");
    assert_eq!(
        e[0]["request"]["postData"]["params"][1]["value"],
        "two words"
    );
    let auth = e[0]["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "Authorization")
        .unwrap();
    assert_eq!(auth["value"], "Basic [redacted]");
    assert_eq!(e[0]["response"]["content"]["text"], "thanks");
    assert_eq!(e[1]["response"]["content"]["encoding"], "base64");
    assert_eq!(
        e[2]["response"]["content"]["text"].as_str().unwrap().len(),
        1000
    );
    assert!(e[2]["response"]["content"]["comment"].is_string());
    assert_eq!(e[0]["serverIPAddress"], "10.0.0.2");
    assert_eq!(e[0]["connection"], "0");
    // Bodies kept in memory (the default) and bodies read back from the exported files (no
    // HAR memory) make the same log.
    let har0 = t.path().join("x0.har");
    let o = export(
        &cap,
        &t.path().join("out0"),
        &[
            "--har",
            har0.to_str().unwrap(),
            "--har-max-body",
            "1000",
            "--har-memory",
            "0",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read(&har).unwrap(), std::fs::read(&har0).unwrap());
    // The corpus captures make valid HAR too (gzip, chunked, HTTP/2).
    if let Some(dir) = corpus() {
        for c in [
            "http/ppp-http-packets2.pcap",
            "http/arkime-http-post-upload.pcap",
            "http2/arkime-http2-nghttp2.pcap",
        ] {
            let cap = dir.join(c);
            if !cap.exists() {
                continue;
            }
            let har = t.path().join("c.har");
            let out = t.path().join(format!("c-{}", c.replace('/', "_")));
            export(&cap, &out, &["--har", har.to_str().unwrap()]);
            let v = validate_har(&har).unwrap();
            assert!(!v["log"]["entries"].as_array().unwrap().is_empty(), "{c}");
            let har0 = t.path().join("c0.har");
            let out0 = t.path().join(format!("c0-{}", c.replace('/', "_")));
            export(
                &cap,
                &out0,
                &["--har", har0.to_str().unwrap(), "--har-memory", "0"],
            );
            assert_eq!(
                std::fs::read(&har).unwrap(),
                std::fs::read(&har0).unwrap(),
                "{c}: HAR from memory and from the files differ"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Live: real servers and curl in network namespaces.

const SERVER: &str = r#"
import gzip, os, sys, zlib
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
try:
    import brotli
except ImportError:
    brotli = None
root, upload_dir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a): pass
    def do_GET(self):
        kind, name = self.path.strip('/').split('/', 1)
        data = open(os.path.join(root, name), 'rb').read()
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        if kind == 'chunked':
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for i in range(0, len(data), 7000):
                c = data[i:i+7000]
                self.wfile.write(b'%x\r\n' % len(c) + c + b'\r\n')
            self.wfile.write(b'0\r\nX-Done: 1\r\n\r\n')
            return
        if kind == 'gzip':
            body = gzip.compress(data)
        elif kind == 'deflate':
            body = zlib.compress(data)
        elif kind == 'br':
            body = brotli.compress(data)
        else:
            body = data
        if kind in ('gzip', 'deflate', 'br'):
            self.send_header('Content-Encoding', kind)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get('Content-Length', '0'))
        body = self.rfile.read(n)
        with open(os.path.join(upload_dir, 'upload-%d' % len(os.listdir(upload_dir))), 'wb') as f:
            f.write(body)
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')
ThreadingHTTPServer(('0.0.0.0', port), H).serve_forever()
"#;

fn wait_port(ns: &Netns, port: u16) {
    let probe = format!("import socket; socket.create_connection(('10.200.0.2', {port}), 1)");
    for _ in 0..100 {
        if ns.run(&ns.a, &["python3", "-c", &probe]) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server on port {port} did not start");
}

#[test]
fn live_curl_objects_are_byte_identical() {
    let Some(mut ns) = Netns::new(1, &["curl", "sha256sum"]) else {
        return;
    };
    let has_br = Command::new("python3")
        .args(["-c", "import brotli"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_br {
        eprintln!("NOTE: python3 brotli missing: the br case is skipped (pip install brotli)");
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("www");
    let uploads = t.path().join("uploads");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&uploads).unwrap();
    // Random files from 1 byte to 50 MB.
    let sizes = [1usize, 100, 1460, 65_536, 1_000_001, 50_000_000];
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        let name = format!("f{i}-{n}.bin");
        let p = root.join(&name);
        let st = Command::new("head")
            .args(["-c", &n.to_string(), "/dev/urandom"])
            .stdout(std::fs::File::create(&p).unwrap())
            .status()
            .unwrap();
        assert!(st.success());
        files.push((name, p));
    }
    // A compressible text file for the encodings.
    let text = root.join("text.txt");
    std::fs::write(
        &text,
        (0..20_000)
            .map(|i| format!("line {i} of a compressible text\n"))
            .collect::<String>(),
    )
    .unwrap();
    let cap_file = t.path().join("live.pcapng");
    let cap = ns.capture(&[
        "-i",
        "vb0",
        "-B",
        "65536",
        "-w",
        cap_file.to_str().unwrap(),
        "tcp",
    ]);
    let mut s1 = ns.cmd(&ns.b, "python3");
    s1.args([
        "-m",
        "http.server",
        "8000",
        "--bind",
        "0.0.0.0",
        "--directory",
    ])
    .arg(&root);
    ns.spawn(s1);
    let mut s2 = ns.cmd(&ns.b, "python3");
    s2.args(["-c", SERVER]).arg(&root).arg(&uploads).arg("8001");
    ns.spawn(s2);
    wait_port(&ns, 8000);
    wait_port(&ns, 8001);
    // Keep-alive: one curl fetches every file over one connection.
    let mut c = ns.cmd(&ns.a, "curl");
    c.args(["-sS", "--fail"]);
    for (name, _) in &files {
        c.arg(format!("http://10.200.0.2:8000/{name}"))
            .args(["-o", "/dev/null"]);
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "curl: {:?} {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let mut kinds = vec!["chunked", "gzip", "deflate"];
    if has_br {
        kinds.push("br");
    }
    for k in &kinds {
        for name in ["text.txt", "f4-1000001.bin"] {
            let st = ns
                .cmd(&ns.a, "curl")
                .args(["-s", "--fail", "--compressed", "-o", "/dev/null"])
                .arg(format!("http://10.200.0.2:8001/{k}/{name}"))
                .status()
                .unwrap();
            assert!(st.success(), "{k}/{name}");
        }
    }
    let up = &files[4].1;
    let st = ns
        .cmd(&ns.a, "curl")
        .args([
            "-s",
            "--fail",
            "-o",
            "/dev/null",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
        ])
        .arg(format!("@{}", up.display()))
        .arg("http://10.200.0.2:8001/upload")
        .status()
        .unwrap();
    assert!(st.success());
    let st = ns
        .cmd(&ns.a, "curl")
        .args(["-s", "--fail", "-o", "/dev/null", "-F"])
        .arg(format!("file=@{}", files[3].1.display()))
        .arg("http://10.200.0.2:8001/upload")
        .status()
        .unwrap();
    assert!(st.success());
    std::thread::sleep(Duration::from_millis(300));
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    assert_eq!(Capture::stat(&err, "packets dropped by kernel"), 0, "{err}");

    let out = t.path().join("objects");
    let har = t.path().join("live.har");
    let o = export(&cap_file, &out, &["--har", har.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let m = manifest(&out);
    let exported: BTreeSet<String> = m
        .iter()
        .filter_map(|r| r["sha256"].as_str().map(str::to_string))
        .collect();
    for p in files.iter().map(|(_, p)| p).chain([&text]) {
        let sha = sha256_of(p);
        assert!(
            exported.contains(&sha),
            "{} not exported: {stderr}",
            p.display()
        );
        // The manifest's hash is the file's.
        let r = m.iter().find(|r| r["sha256"] == sha.as_str()).unwrap();
        assert_eq!(sha256_of(&out.join(r["file"].as_str().unwrap())), sha);
    }
    // Uploads: the raw POST body and the multipart part, as the server stored / curl sent them.
    let up_sha = sha256_of(up);
    assert!(
        m.iter()
            .any(|r| r["direction"] == "request" && r["sha256"] == up_sha.as_str()),
        "raw upload not exported"
    );
    let part_sha = sha256_of(&files[3].1);
    assert!(
        m.iter()
            .any(|r| r["kind"] == "http-part" && r["sha256"] == part_sha.as_str()),
        "multipart part not exported"
    );
    for k in ["gzip", "deflate"] {
        assert!(
            m.iter().any(|r| r["decode"] == serde_json::json!([k])),
            "no {k} object"
        );
    }
    validate_har(&har);
}
