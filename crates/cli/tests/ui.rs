//! `wiresift ui`: the HTTP API of the real binary, compared with the command line (rows with
//! `read`, filters with `read -Y -T fields`, follow with `follow`, saving with `read -w`), and
//! its guard (token, cookie, Host, paths under --root, upload cap, malformed requests).
//!
//! Every answer goes through [`Ui::send`], which checks that the token never appears in a body
//! or in a header other than `Set-Cookie`.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

// ---------------------------------------------------------------- the server and a client

struct Ui {
    child: Child,
    _out: BufReader<ChildStdout>,
    addr: String,
    token: String,
    _config: tempfile::TempDir,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn wiresift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wiresift"))
}

/// Starts `wiresift ui --listen 127.0.0.1:0 ARGS` with a config directory of its own.
fn try_start(args: &[&str]) -> Result<Ui, std::process::Output> {
    let config = tempfile::tempdir().unwrap();
    let mut cmd = wiresift();
    cmd.arg("ui").args(["--listen", "127.0.0.1:0"]).args(args);
    if !args.contains(&"--spool") {
        // Not the system's temporary directory: nothing is left there if a test fails.
        cmd.arg("--spool").arg(config.path().join("spool"));
    }
    let mut child = cmd
        .env("XDG_CONFIG_HOME", config.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wiresift ui");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    if line.is_empty() {
        let o = child.wait_with_output().unwrap();
        return Err(o);
    }
    // Its stderr is not read again: drain it so the server never blocks on it.
    if let Some(mut e) = child.stderr.take() {
        std::thread::spawn(move || std::io::copy(&mut e, &mut std::io::sink()));
    }
    let url = line
        .trim_end()
        .strip_prefix("wiresift ui: http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let (addr, token) = url.split_once("/?token=").expect("URL with the token");
    assert_eq!(token.len(), 32, "{token}");
    assert!(token.bytes().all(|c| c.is_ascii_hexdigit()));
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );
    Ok(Ui {
        child,
        _out: out,
        addr: addr.to_string(),
        token: token.to_string(),
        _config: config,
    })
}

fn start(args: &[&str]) -> Ui {
    match try_start(args) {
        Ok(u) => u,
        Err(o) => panic!(
            "wiresift ui did not start: {:?}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

impl Drop for Ui {
    /// SIGTERM (the server removes its spool), SIGKILL if it does not stop.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            for _ in 0..500 {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses an HTTP/1.1 answer (chunked or not).
fn parse(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("chunk size line");
            let size_text = String::from_utf8_lossy(&rest[..nl]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .expect("chunk size");
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            assert!(rest.len() >= size, "chunked body cut short");
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// One request on a fresh connection (`Connection: close`), the raw bytes given.
fn exchange(addr: &str, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    // The server may answer (and close) before reading everything: ignore write errors.
    let _ = s.write_all(req);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf
}

fn build(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        r.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    let chunked = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
    let has_len = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    if !chunked && !has_len && (!body.is_empty() || method == "POST") {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut v = r.into_bytes();
    v.extend_from_slice(body);
    v
}

/// `q` percent-encoded for a query string.
fn enc(q: &str) -> String {
    let mut s = String::new();
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

impl Ui {
    /// Sends a request and checks the answer never shows the token (but in Set-Cookie).
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let raw = exchange(&self.addr, &build(&self.addr, method, path, headers, body));
        let r = parse(&raw);
        self.no_token(&r);
        r
    }
    fn no_token(&self, r: &Resp) {
        let t = self.token.as_bytes();
        assert!(
            !r.body.windows(t.len()).any(|w| w == t),
            "the token appears in a body"
        );
        for (k, v) in &r.headers {
            if !k.eq_ignore_ascii_case("set-cookie") {
                assert!(!v.contains(&self.token), "the token appears in header {k}");
            }
        }
    }
    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }
    fn req(&self, method: &str, path: &str, body: &[u8]) -> Resp {
        let a = self.auth();
        let mut h = vec![("Authorization", a.as_str())];
        if body.first() == Some(&b'{') {
            h.push(("Content-Type", "application/json"));
        }
        self.send(method, path, &h, body)
    }
    fn get(&self, path: &str) -> Resp {
        self.req("GET", path, b"")
    }
    fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }
    fn post_json(&self, path: &str, v: &Value) -> Resp {
        self.req("POST", path, v.to_string().as_bytes())
    }
    /// Opens `rel` (relative to the root): the session id, or the failed answer.
    fn open(&self, rel: &str) -> Result<String, Resp> {
        let r = self.post_json("/api/sessions", &json!({ "path": rel }));
        if r.status != 200 {
            return Err(r);
        }
        Ok(r.json()["id"].as_str().unwrap().to_string())
    }
    fn wait_done(&self, id: &str) -> Value {
        for _ in 0..60_000 {
            let s = self.get_json(&format!("/api/sessions/{id}/status"));
            if s["done"] == true {
                return s;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("session {id} never finished indexing");
    }
    /// Every row of a view, in pages of `page` rows.
    fn all_rows(&self, id: &str, filter: Option<&str>, page: u64) -> Vec<Value> {
        let f = filter
            .map(|f| format!("&filter={}", enc(f)))
            .unwrap_or_default();
        let mut out = Vec::new();
        loop {
            let v = self.get_json(&format!(
                "/api/sessions/{id}/rows?start={}&count={page}{f}",
                out.len()
            ));
            let rows = v["rows"].as_array().unwrap().clone();
            let total = v["total"].as_u64().unwrap();
            if rows.is_empty() {
                assert_eq!(out.len() as u64, total);
                return out;
            }
            out.extend(rows);
        }
    }
}

// ---------------------------------------------------------------- captures and the CLI

fn data_dir() -> PathBuf {
    common::data("").canonicalize().unwrap()
}

fn is_capture(p: &Path) -> bool {
    let n = p.to_string_lossy().to_ascii_lowercase();
    [".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz"]
        .iter()
        .any(|e| n.ends_with(e))
}

/// Captures under `dir` (recursively), relative to it.
fn captures(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = common::files_under(dir, is_capture)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// The roots to compare: tests/data, and the shared corpus when `WIRESIFT_CAPTURES` is set.
fn roots() -> Vec<PathBuf> {
    let mut v = vec![data_dir()];
    if let Some(c) = common::corpus() {
        v.push(c.canonicalize().unwrap());
    }
    v
}

struct Cli {
    ok: bool,
    code: Option<i32>,
    stdout: Vec<u8>,
}

fn cli(args: &[&str]) -> Cli {
    let o = wiresift().args(args).output().expect("run wiresift");
    Cli {
        ok: o.status.success(),
        code: o.status.code(),
        stdout: o.stdout,
    }
}

fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The CLI's line for a row (time=absolute).
fn row_line(r: &Value) -> String {
    format!(
        "{} {}",
        r["time"].as_str().unwrap(),
        r["line"].as_str().unwrap()
    )
}

/// The key log named by a corpus capture's `.expected.txt` (`keylog: FILE`), if any.
fn keylog_of(root: &Path, rel: &str) -> Option<PathBuf> {
    let exp = root.join(format!("{rel}.expected.txt"));
    let text = std::fs::read_to_string(exp).ok()?;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let k = common::expected(&lines, "keylog")?;
    let p = root.join(rel).parent()?.join(k);
    p.is_file().then_some(p)
}

// ---------------------------------------------------------------- rows, filters, follow

#[test]
fn rows_equal_the_cli_lines() {
    for root in roots() {
        let ui = start(&["--root", root.to_str().unwrap()]);
        let mut compared = 0;
        for rel in captures(&root) {
            let file = root.join(&rel);
            let c = cli(&["read", file.to_str().unwrap()]);
            let want = lines(&c.stdout);
            let id = match ui.open(&rel) {
                Ok(id) => id,
                Err(r) => {
                    assert!(
                        (400..500).contains(&r.status),
                        "{rel}: open answered {}: {}",
                        r.status,
                        r.text()
                    );
                    assert!(
                        want.is_empty() && c.code == Some(2),
                        "{rel}: the CLI reads it ({} lines) but the UI refused: {}",
                        want.len(),
                        r.text()
                    );
                    continue;
                }
            };
            let st = ui.wait_done(&id);
            assert_eq!(c.ok, st["error"].is_null(), "{rel}: {st}");
            let total = ui.get_json(&format!("/api/sessions/{id}/rows?start=0&count=0"))["total"]
                .as_u64()
                .unwrap();
            assert_eq!(total, want.len() as u64, "{rel}: rows");
            // Pages that start in the middle, then the whole list in pages of 1000.
            for (start, count) in [(total / 2, 7), (total.saturating_sub(3), 10), (1, 1)] {
                let v = ui.get_json(&format!(
                    "/api/sessions/{id}/rows?start={start}&count={count}&time=absolute"
                ));
                for (i, r) in v["rows"].as_array().unwrap().iter().enumerate() {
                    let no = r["no"].as_u64().unwrap();
                    assert_eq!(no, start + i as u64 + 1, "{rel}");
                    assert_eq!(row_line(r), want[no as usize - 1], "{rel}: frame {no}");
                    assert!(r["len"].as_u64().is_some());
                }
            }
            let all = ui.all_rows(&id, None, 1000);
            let got: Vec<String> = all.iter().map(row_line).collect();
            assert_eq!(got, want, "{rel}");
            assert_eq!(
                ui.req("DELETE", &format!("/api/sessions/{id}"), b"").status,
                200
            );
            assert_eq!(ui.get(&format!("/api/sessions/{id}/status")).status, 404);
            compared += 1;
        }
        assert!(compared > 5, "only {compared} captures compared");
    }
}

const FILTERS: &[&str] = &[
    "tcp.port == 80",
    "http.request",
    "tcp.analysis.retransmission",
    "dns",
    "frame.len > 100",
];

#[test]
fn filter_frame_sets_equal_the_cli() {
    for root in roots() {
        let ui = start(&["--root", root.to_str().unwrap()]);
        for rel in captures(&root) {
            let file = root.join(&rel);
            let f = file.to_str().unwrap();
            let Ok(id) = ui.open(&rel) else { continue };
            ui.wait_done(&id);
            let keylog = keylog_of(&root, &rel);
            if let Some(k) = &keylog {
                let r = ui.req(
                    "POST",
                    &format!("/api/sessions/{id}/keys?kind=keylog"),
                    &std::fs::read(k).unwrap(),
                );
                assert_eq!(r.status, 200, "{rel}: {}", r.text());
                assert_eq!(r.json()["keys"]["keylog"], 1);
                ui.wait_done(&id);
            }
            let mut filters: Vec<&str> = FILTERS.to_vec();
            if keylog.is_some() {
                filters.extend(["tls.app_data", "http"]);
            }
            for flt in filters {
                let mut args = vec!["read", f, "-Y", flt, "-T", "fields", "-e", "frame.number"];
                let kl = keylog.as_ref().map(|k| k.to_string_lossy().into_owned());
                if let Some(k) = &kl {
                    args.extend(["--tls-keylog", k.as_str()]);
                }
                let c = cli(&args);
                if c.code == Some(2) {
                    continue;
                }
                let want: Vec<u64> = lines(&c.stdout)
                    .iter()
                    .map(|l| l.trim().parse().unwrap())
                    .collect();
                let r = ui.post_json(
                    &format!("/api/sessions/{id}/filter"),
                    &json!({ "expr": flt }),
                );
                assert_eq!(r.status, 200, "{rel} {flt}: {}", r.text());
                assert_eq!(r.json()["count"], want.len(), "{rel} {flt}");
                let got: Vec<u64> = ui
                    .all_rows(&id, Some(flt), 1000)
                    .iter()
                    .map(|r| r["no"].as_u64().unwrap())
                    .collect();
                assert_eq!(got, want, "{rel}: {flt}");
                // Go to packet inside the view.
                if let Some(&n) = want.get(want.len() / 2) {
                    let p = ui.get_json(&format!(
                        "/api/sessions/{id}/position?frame={n}&filter={}",
                        enc(flt)
                    ));
                    assert_eq!(p["position"], want.len() / 2, "{rel} {flt}");
                }
            }
        }
    }
}

/// The streams the rows name: (udp, stream), a few of each kind.
fn streams_of(rows: &[Value]) -> Vec<(bool, u64)> {
    let mut tcp = BTreeSet::new();
    let mut udp = BTreeSet::new();
    for r in rows {
        if let Some(s) = r["stream"].as_u64() {
            match r["transport"].as_str() {
                Some("udp") => udp.insert(s),
                _ => tcp.insert(s),
            };
        }
    }
    let mut v: Vec<(bool, u64)> = tcp.into_iter().take(3).map(|s| (false, s)).collect();
    v.extend(udp.into_iter().take(2).map(|s| (true, s)));
    v
}

/// What `follow --split DIR` wrote for a stream and direction (empty when nothing).
fn split_file(dir: &Path, stream: u64, ext: &str) -> Vec<u8> {
    let prefix = format!("{stream}-");
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&prefix) && n.ends_with(ext) {
            return std::fs::read(e.path()).unwrap();
        }
    }
    Vec::new()
}

/// Returns `Err(message)` from the enclosing function when `a != b`.
macro_rules! same {
    ($a:expr, $b:expr, $($msg:tt)+) => {
        if $a != $b {
            return Err(format!($($msg)+));
        }
    };
}

/// One stream: the text formats equal `follow --format F`, the downloads equal the files of
/// `follow --split`, the dialog's chunks equal both.
fn check_stream(ui: &Ui, id: &str, f: &str, split: &Path, udp: bool, s: u64) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let proto = if udp { "udp" } else { "tcp" };
    let ss = s.to_string();
    for format in ["ascii", "hex", "yaml", "raw"] {
        let c = cli(&[
            "follow", f, "--stream", &ss, "--proto", proto, "--format", format,
        ]);
        let r = ui.get(&format!(
            "/api/sessions/{id}/follow/text?proto={proto}&stream={s}&format={format}"
        ));
        same!(
            r.status,
            200,
            "{proto} stream {s}: {} {}",
            r.status,
            r.text()
        );
        same!(
            r.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "content type"
        );
        same!(
            r.text(),
            String::from_utf8_lossy(&c.stdout),
            "{proto} stream {s} --format {format} differs"
        );
    }
    let c2s = split_file(split, s, ".c2s");
    let s2c = split_file(split, s, ".s2c");
    let bytes = |d: &str| -> Result<Vec<u8>, String> {
        let r = ui.get(&format!(
            "/api/sessions/{id}/follow/bytes?proto={proto}&stream={s}&dir={d}"
        ));
        same!(r.status, 200, "bytes dir={d}: {}", r.text());
        same!(
            r.header("content-type"),
            Some("application/octet-stream"),
            "content type"
        );
        let disp = r.header("content-disposition").unwrap_or("");
        same!(
            disp.starts_with(&format!("attachment; filename=\"stream-{s}")),
            true,
            "{disp:?}"
        );
        Ok(r.body)
    };
    same!(
        bytes("0")?,
        c2s,
        "{proto} stream {s}: client to server bytes"
    );
    same!(
        bytes("1")?,
        s2c,
        "{proto} stream {s}: server to client bytes"
    );
    let r = ui.get(&format!(
        "/api/sessions/{id}/follow?proto={proto}&stream={s}"
    ));
    same!(r.status, 200, "follow JSON: {}", r.text());
    let j = r.json();
    same!(j["stream"], s, "stream");
    same!(j["proto"], proto, "proto");
    let mut dirs = [Vec::new(), Vec::new()];
    let mut both = Vec::new();
    for ch in j["chunks"].as_array().unwrap() {
        let d = b64.decode(ch["data"].as_str().unwrap()).unwrap();
        dirs[ch["dir"].as_u64().unwrap() as usize].extend_from_slice(&d);
        both.extend_from_slice(&d);
    }
    same!(dirs[0], c2s, "{proto} stream {s}: chunks client to server");
    same!(dirs[1], s2c, "{proto} stream {s}: chunks server to client");
    same!(j["bytes"][0], c2s.len(), "bytes[0]");
    same!(j["bytes"][1], s2c.len(), "bytes[1]");
    same!(bytes("both")?, both, "{proto} stream {s}: both directions");
    Ok(())
}

#[test]
fn follow_equals_the_cli() {
    let mut followed = 0;
    let mut failed = Vec::new();
    for root in roots() {
        let ui = start(&["--root", root.to_str().unwrap()]);
        for rel in captures(&root) {
            let file = root.join(&rel);
            let f = file.to_str().unwrap();
            let Ok(id) = ui.open(&rel) else { continue };
            ui.wait_done(&id);
            let rows = ui.all_rows(&id, None, 1000);
            let tmp = tempfile::tempdir().unwrap();
            for (udp, s) in streams_of(&rows) {
                let proto = if udp { "udp" } else { "tcp" };
                let split = tmp.path().join(proto);
                if !split.exists() {
                    let c = cli(&[
                        "follow",
                        f,
                        "--proto",
                        proto,
                        "--split",
                        split.to_str().unwrap(),
                    ]);
                    assert!(c.code != Some(2), "{rel}: follow --split failed");
                }
                match check_stream(&ui, &id, f, &split, udp, s) {
                    Ok(()) => followed += 1,
                    Err(e) => failed.push(format!("{rel}: {e}")),
                }
            }
            if let Some(k) = keylog_of(&root, &rel) {
                follow_tls(&ui, &id, f, &k, &rows, &rel);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} streams differ:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(followed > 5, "only {followed} streams followed");
}

/// With the key log uploaded, following TLS equals `follow --proto tls --tls-keylog`.
fn follow_tls(ui: &Ui, id: &str, f: &str, keylog: &Path, rows: &[Value], rel: &str) {
    let r = ui.get(&format!(
        "/api/sessions/{id}/follow/text?proto=tls&stream=0"
    ));
    assert_eq!(r.status, 400, "{rel}: TLS without keys: {}", r.text());
    let r = ui.req(
        "POST",
        &format!("/api/sessions/{id}/keys?kind=keylog"),
        &std::fs::read(keylog).unwrap(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    ui.wait_done(id);
    let k = keylog.to_str().unwrap();
    for (udp, s) in streams_of(rows) {
        if udp {
            continue;
        }
        let ss = s.to_string();
        let c = cli(&[
            "follow",
            f,
            "--proto",
            "tls",
            "--stream",
            &ss,
            "--tls-keylog",
            k,
        ]);
        let r = ui.get(&format!(
            "/api/sessions/{id}/follow/text?proto=tls&stream={s}&format=ascii"
        ));
        if c.code == Some(2) {
            assert!(r.status >= 400, "{rel}: stream {s}");
            continue;
        }
        assert_eq!(r.status, 200, "{rel}: {}", r.text());
        assert_eq!(
            r.text(),
            String::from_utf8_lossy(&c.stdout),
            "{rel}: tls stream {s}"
        );
    }
}

// ---------------------------------------------------------------- saving, statistics, objects

#[test]
fn save_writes_what_read_w_writes() {
    let root = data_dir();
    let ui = start(&["--root", root.to_str().unwrap()]);
    let tmp = tempfile::tempdir().unwrap();
    for rel in [
        "zeek-get-gzip.pcap",
        "zeek-smtp.pcap",
        "zeek-pcapng-multi-interface.pcapng",
    ] {
        let f = root.join(rel);
        let id = ui.open(rel).unwrap();
        ui.wait_done(&id);
        for (format, which, filter) in [
            ("pcapng", "all", None),
            ("pcap", "all", None),
            ("pcapng", "displayed", Some("tcp.len > 0")),
        ] {
            let out = tmp.path().join(format!("out.{format}"));
            let mut args = vec![
                "read".to_string(),
                f.to_string_lossy().into_owned(),
                "-w".into(),
                out.to_string_lossy().into_owned(),
                "--format".into(),
                format.into(),
            ];
            if let Some(flt) = filter {
                args.extend(["-Y".to_string(), flt.to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let c = cli(&args);
            let mut q = format!("/api/sessions/{id}/save?format={format}&which={which}");
            if let Some(flt) = filter {
                q.push_str(&format!("&filter={}", enc(flt)));
            }
            let r = ui.get(&q);
            if !c.ok {
                assert!(r.status >= 400, "{rel} {format} {which}: the CLI refused");
                continue;
            }
            assert_eq!(r.status, 200, "{rel} {format} {which}: {}", r.text());
            assert!(
                r.header("content-disposition")
                    .is_some_and(|v| v.starts_with("attachment")),
            );
            assert_eq!(
                r.body,
                std::fs::read(&out).unwrap(),
                "{rel}: {format} {which} differs from read -w"
            );
        }
    }
}

#[test]
fn statistics_info_and_objects_answer() {
    let root = data_dir();
    let ui = start(&["--root", root.to_str().unwrap()]);
    let id = ui.open("zeek-get-gzip.pcap").unwrap();
    ui.wait_done(&id);
    let rows = ui.all_rows(&id, None, 1000);
    let info = ui.get_json(&format!("/api/sessions/{id}/info"));
    assert_eq!(info["frames"], rows.len());
    for q in [
        "hierarchy",
        "conversations?type=tcp",
        "conversations?type=ip",
        "endpoints?type=eth",
        "io?interval_ms=100&filters=tcp,http",
        "expert",
    ] {
        let r = ui.get(&format!("/api/sessions/{id}/stats/{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json();
    }
    assert_eq!(
        ui.get(&format!(
            "/api/sessions/{id}/stats/conversations?type=bogus"
        ))
        .status,
        400
    );
    assert_eq!(
        ui.get(&format!("/api/sessions/{id}/stats/nothing")).status,
        404
    );
    assert_eq!(
        ui.get(&format!("/api/sessions/{id}/stats/io?interval_ms=x"))
            .status,
        400
    );

    // Export objects: what `wiresift export all` makes.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("objects");
    let f = root.join("zeek-get-gzip.pcap");
    let c = cli(&[
        "export",
        "all",
        f.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(c.code != Some(2));
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap();
    let want: Vec<Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!want.is_empty());
    let r = ui.req("POST", &format!("/api/sessions/{id}/objects"), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let mut state = Value::Null;
    for _ in 0..60_000 {
        state = ui.get_json(&format!("/api/sessions/{id}/objects"));
        if state["done"] == true {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(state["done"], true, "{state}");
    let objs = state["objects"].as_array().unwrap();
    assert_eq!(objs.len(), want.len(), "{state}");
    for (o, w) in objs.iter().zip(&want) {
        let k = &o["id"];
        let r = ui.get(&format!("/api/sessions/{id}/objects/{k}"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert!(
            r.header("content-disposition")
                .unwrap()
                .starts_with("attachment")
        );
        if let Some(file) = w["file"].as_str() {
            assert_eq!(r.body, std::fs::read(out.join(file)).unwrap(), "object {k}");
        }
        let r = ui.get(&format!("/api/sessions/{id}/objects/{k}?inline=1"));
        assert_eq!(r.status, 200);
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .contains("sandbox")
        );
    }
    assert_eq!(
        ui.get(&format!("/api/sessions/{id}/objects/999999")).status,
        400
    );
    let z = ui.get(&format!("/api/sessions/{id}/objects.zip"));
    assert_eq!(z.status, 200);
    assert!(z.body.starts_with(b"PK"), "not a zip");
}

// ---------------------------------------------------------------- the guard

#[test]
fn the_token_is_required() {
    let root = data_dir();
    let smtp = root.join("zeek-smtp.pcap");
    let ui = start(&["--root", root.to_str().unwrap(), smtp.to_str().unwrap()]);
    let t = ui.token.clone();
    // No token.
    let r = ui.send("GET", "/api/sessions", &[], b"");
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].is_string());
    let r = ui.send("GET", "/", &[], b"");
    assert_eq!(r.status, 401);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(r.text().contains("URL"), "{}", r.text());
    assert_eq!(ui.send("GET", "/api.js", &[], b"").status, 401);
    // A wrong one, every way it can come.
    // The real token with its last digit changed (never equal to it).
    let last = if t.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &t[..31]);
    let bearer = format!("Bearer {wrong}");
    let cookie = format!("wiresift_token={wrong}");
    assert_eq!(
        ui.send("GET", "/api/sessions", &[("Authorization", &bearer)], b"")
            .status,
        401
    );
    assert_eq!(
        ui.send("GET", "/api/sessions", &[("Cookie", &cookie)], b"")
            .status,
        401
    );
    let r = ui.send("GET", &format!("/?token={wrong}"), &[], b"");
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    assert_eq!(
        ui.send("GET", "/api/sessions", &[("Authorization", "Bearer ")], b"")
            .status,
        401
    );
    // The printed URL: a cookie and a redirect to the same path without the token.
    let r = ui.send("GET", &format!("/?token={t}"), &[], b"");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/"));
    let c = r.header("set-cookie").unwrap().to_string();
    assert!(c.starts_with(&format!("wiresift_token={t}")), "{c}");
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict"),
        "{c}"
    );
    assert!(c.contains("Path=/"), "{c}");
    let r = ui.send("GET", &format!("/api/rows?a=1&token={t}&b=2"), &[], b"");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/api/rows?a=1&b=2"));
    // The cookie (as a browser sends it) and the bearer token work.
    let cookie = format!("other=1; wiresift_token={t}");
    let r = ui.send("GET", "/api/sessions", &[("Cookie", &cookie)], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sessions"][0]["name"], "zeek-smtp.pcap");
    assert_eq!(r.json()["sessions"][0]["path"], "zeek-smtp.pcap");
    assert_eq!(ui.get("/api/sessions").status, 200);
    // A page served under another host name (DNS rebinding) is refused, token or not.
    let evil = format!("evil.example:{}", ui.addr.rsplit(':').next().unwrap());
    let a = ui.auth();
    let r = ui.send(
        "GET",
        "/api/sessions",
        &[("Host", &evil), ("Authorization", &a)],
        b"",
    );
    assert_eq!(r.status, 403);
    let r = ui.send("GET", &format!("/?token={t}"), &[("Host", &evil)], b"");
    assert_eq!(r.status, 403);
    assert!(r.header("set-cookie").is_none());
    let other_port = "127.0.0.1:1".to_string();
    assert_eq!(
        ui.send(
            "GET",
            "/api/sessions",
            &[("Host", &other_port), ("Authorization", &a)],
            b""
        )
        .status,
        403
    );
    let local = format!("localhost:{}", ui.addr.rsplit(':').next().unwrap());
    assert_eq!(
        ui.send(
            "GET",
            "/api/sessions",
            &[("Host", &local), ("Authorization", &a)],
            b""
        )
        .status,
        200
    );
    // A request that changes something, from another origin.
    let r = ui.send(
        "POST",
        "/api/sessions",
        &[
            ("Authorization", &a),
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/json"),
        ],
        br#"{"path": "zeek-smtp.pcap"}"#,
    );
    assert_eq!(r.status, 403);
}

#[test]
fn security_headers_on_every_answer() {
    let root = data_dir();
    let ui = start(&["--root", root.to_str().unwrap()]);
    let answers = [
        ui.get("/api/colors"),
        ui.get("/api.js"),
        ui.get("/nothing-here"),
        ui.get("/api/nothing"),
        ui.send("GET", "/", &[], b""),
        ui.send("GET", "/api/colors", &[("Host", "evil.example")], b""),
        ui.get("/api/sessions/s99/rows"),
    ];
    for r in &answers {
        let csp = r.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{} {csp:?}",
            r.status
        );
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    }
    assert_eq!(answers[0].status, 200);
    assert_eq!(answers[0].header("cache-control"), Some("no-store"));
    let rules = answers[0].json();
    assert!(rules["rules"].as_array().unwrap().len() > 5);
    assert_eq!(rules["rules"][0]["name"], "Bad TCP");
    // The front end is embedded, with the right types; no listing of anything.
    assert_eq!(answers[1].status, 200);
    assert!(
        answers[1]
            .header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        answers[1].body,
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/ui/static/api.js"))
            .unwrap()
    );
    assert_eq!(answers[2].status, 404);
    assert_eq!(answers[3].status, 404);
    assert_eq!(answers[6].status, 404);
    let static_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/ui/static");
    if static_dir.join("index.html").exists() {
        let r = ui.get("/");
        assert_eq!(r.status, 200);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    if static_dir.join("app.css").exists() {
        let r = ui.get("/app.css");
        assert!(r.header("content-type").unwrap().starts_with("text/css"));
    }
    for p in [
        "/api.js/",
        "/./api.js",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "//etc/passwd",
    ] {
        let r = ui.get(p);
        assert!(r.status == 404 || r.status == 400, "{p}: {}", r.status);
    }
}

/// A root with a capture, a directory, and links leading out of it.
fn jail() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::copy(common::data("zeek-get-gzip.pcap"), root.join("in.pcap")).unwrap();
    std::fs::copy(
        common::data("tcpdump-dns_udp.pcap"),
        root.join("sub/dns.pcap"),
    )
    .unwrap();
    std::fs::write(root.join("notes.txt"), b"x").unwrap();
    std::fs::write(root.join(".hidden.pcap"), b"x").unwrap();
    std::fs::copy(
        common::data("zeek-smtp.pcap"),
        d.path().join("outside.pcap"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        std::os::unix::fs::symlink(d.path().join("outside.pcap"), root.join("link.pcap")).unwrap();
        std::os::unix::fs::symlink(root.join("in.pcap"), root.join("sub/inside-link.pcap"))
            .unwrap();
    }
    (d, root)
}

#[test]
fn nothing_outside_the_root() {
    let (d, root) = jail();
    let ui = start(&["--root", root.to_str().unwrap()]);
    let v = ui.get_json("/api/files");
    assert_eq!(v["dir"], "");
    let names: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sub", "in.pcap"], "{v}");
    assert_eq!(v["entries"][1]["path"], "in.pcap");
    assert_eq!(v["entries"][1]["size"], 1613);
    let v = ui.get_json("/api/files?dir=sub");
    let paths: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["sub/dns.pcap", "sub/inside-link.pcap"]);
    let outside = d.path().join("outside.pcap");
    for dir in [
        "..",
        "../",
        "sub/..",
        "sub/../..",
        "/",
        "/etc",
        "etc",
        "etc/ssl",
        &d.path().to_string_lossy(),
    ] {
        let r = ui.get(&format!("/api/files?dir={}", enc(dir)));
        assert_eq!(r.status, 403, "dir={dir}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    for path in [
        "../outside.pcap",
        "sub/../../outside.pcap",
        outside.to_str().unwrap(),
        "/etc/passwd",
        "etc/passwd",
        "link.pcap",
    ] {
        let r = ui.post_json("/api/sessions", &json!({ "path": path }));
        assert_eq!(r.status, 403, "path={path}: {}", r.text());
    }
    assert_eq!(ui.get("/api/files?dir=nope").status, 404);
    assert_eq!(ui.get_json("/api/sessions")["sessions"], json!([]));
    // Inside: fine, and remembered as recent (relative to the root).
    let id = ui.open("sub/dns.pcap").unwrap();
    ui.wait_done(&id);
    let r = ui.get_json("/api/recent");
    assert_eq!(r["files"][0]["path"], "sub/dns.pcap");
    assert_eq!(r["files"][0]["name"], "dns.pcap");
    assert!(ui.open("sub/inside-link.pcap").is_ok());
    assert_eq!(
        ui.post_json("/api/sessions", &json!({"path": "sub"}))
            .status,
        400
    );
    drop(ui);

    // Files given on the command line must be under --root too.
    let cwd = d.path();
    let o = wiresift()
        .current_dir(cwd)
        .args([
            "ui",
            "--listen",
            "127.0.0.1:0",
            "--root",
            "root",
            "outside.pcap",
        ])
        .env("XDG_CONFIG_HOME", cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("outside --root"), "{err}");
    let o = wiresift()
        .current_dir(cwd)
        .args([
            "ui",
            "--listen",
            "127.0.0.1:0",
            "--root",
            "root",
            "root/link.pcap",
        ])
        .env("XDG_CONFIG_HOME", cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "a link leading out");
    // Relative to the current directory, inside the root: opened.
    let mut child = wiresift()
        .current_dir(cwd.join("root"))
        .args(["ui", "--listen", "127.0.0.1:0", "sub/dns.pcap", "--spool"])
        .arg(cwd.join("spool"))
        .env("XDG_CONFIG_HOME", cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("wiresift ui: http://127.0.0.1:"), "{line}");
}

fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
            }
            out.push(e.path());
        }
    }
    out
}

#[test]
fn uploads_are_capped_and_spooled() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let root = data_dir();
    let mut ui = start(&[
        "--root",
        root.to_str().unwrap(),
        "--max-upload",
        "2000",
        "--spool",
        spool.to_str().unwrap(),
    ]);
    let a = ui.auth();
    let small = std::fs::read(common::data("tcpdump-dns_udp.pcap")).unwrap();
    assert!(small.len() < 2000);
    let big = std::fs::read(common::data("zeek-smtp.pcap")).unwrap();

    // Announced too large: refused before reading.
    let r = ui.send(
        "POST",
        "/api/upload?name=big.pcap",
        &[("Authorization", &a), ("Content-Length", "10000000")],
        b"",
    );
    assert_eq!(r.status, 413, "{}", r.text());
    // Too large as it streams in (no length announced).
    let mut body = Vec::new();
    for c in big[..4500].chunks(1500) {
        body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        body.extend_from_slice(c);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let r = ui.send(
        "POST",
        "/api/upload?name=big.pcap",
        &[("Authorization", &a), ("Transfer-Encoding", "chunked")],
        &body,
    );
    assert_eq!(r.status, 413, "{}", r.text());
    // The partial file is gone, and the server still answers.
    let left: Vec<PathBuf> = spool_files(&spool)
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(ui.get("/api/sessions").status, 200);
    // Not a capture: 400, nothing left behind.
    let r = ui.req(
        "POST",
        "/api/upload?name=junk.pcap",
        b"not a capture at all",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(spool_files(&spool).iter().all(|p| !p.is_file()));
    assert_eq!(ui.req("POST", "/api/upload", &small).status, 400);
    // Within the cap: a session, read from the spool.
    let r = ui.req("POST", "/api/upload?name=..%2F..%2Fdns.pcap", &small);
    assert_eq!(r.status, 200, "{}", r.text());
    let s = r.json();
    assert_eq!(s["name"], "dns.pcap");
    let id = s["id"].as_str().unwrap().to_string();
    ui.wait_done(&id);
    let c = cli(&[
        "read",
        common::data("tcpdump-dns_udp.pcap").to_str().unwrap(),
    ]);
    let got: Vec<String> = ui.all_rows(&id, None, 3).iter().map(row_line).collect();
    assert_eq!(got, lines(&c.stdout));
    let uploaded: Vec<PathBuf> = spool_files(&spool)
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(uploaded.len(), 1, "{uploaded:?}");
    assert!(uploaded[0].starts_with(&spool));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let d = uploaded[0].parent().unwrap();
        assert_eq!(
            std::fs::metadata(d).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    // Closing the session removes its upload.
    let id2 = ui
        .req("POST", "/api/upload?name=second.pcap", &small)
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        spool_files(&spool).iter().filter(|p| p.is_file()).count(),
        2
    );
    assert_eq!(
        ui.req("DELETE", &format!("/api/sessions/{id2}"), b"")
            .status,
        200
    );
    assert_eq!(
        spool_files(&spool).iter().filter(|p| p.is_file()).count(),
        1
    );
    // SIGTERM: a clean stop, the spool directory removed.
    let pid = ui.child.id().to_string();
    let k = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(k.success());
    let st = ui.child.wait().unwrap();
    assert!(st.success(), "{st:?}");
    assert!(spool_files(&spool).is_empty(), "{:?}", spool_files(&spool));
}

#[test]
fn malformed_requests_get_4xx_and_the_server_goes_on() {
    let root = data_dir();
    let f = root.join("zeek-get-gzip.pcap");
    let ui = start(&["--root", root.to_str().unwrap(), f.to_str().unwrap()]);
    let id = "s1";
    ui.wait_done(id);
    let bad = |method: &str, path: &str, body: &[u8], want: u16| {
        let r = ui.req(method, path, body);
        assert_eq!(r.status, want, "{method} {path}: {}", r.text());
        if !r.body.is_empty() {
            assert!(r.json()["error"].is_string(), "{method} {path}");
        }
        r
    };
    bad("POST", "/api/sessions", b"{not json", 400);
    bad("POST", "/api/sessions", b"[1,2]", 400);
    bad("POST", "/api/sessions", b"", 400);
    bad("PUT", "/api/sessions", b"", 405);
    bad("DELETE", "/api/colors", b"", 405);
    bad("GET", "/api/nope", b"", 404);
    bad("GET", "/api/sessions/zzz/status", b"", 404);
    bad("DELETE", "/api/sessions/s99", b"", 404);
    let r = bad(
        "GET",
        &format!("/api/sessions/{id}/rows?start=abc"),
        b"",
        400,
    );
    assert!(r.json()["error"].as_str().unwrap().contains("start"));
    assert_eq!(r.json()["parameter"], "start");
    bad(
        "GET",
        &format!("/api/sessions/{id}/rows?start=-1"),
        b"",
        400,
    );
    let r = bad(
        "GET",
        &format!("/api/sessions/{id}/rows?count=1001"),
        b"",
        400,
    );
    assert_eq!(r.json()["parameter"], "count");
    bad(
        "GET",
        &format!("/api/sessions/{id}/rows?count=99999999999999999999999"),
        b"",
        400,
    );
    let r = bad(
        "GET",
        &format!("/api/sessions/{id}/rows?time=sundial"),
        b"",
        400,
    );
    assert_eq!(r.json()["parameter"], "time");
    let r = bad(
        "GET",
        &format!("/api/sessions/{id}/rows?filter=tcp.port%20%3D%3D"),
        b"",
        400,
    );
    assert!(r.json()["column"].is_u64());
    assert!(r.json()["rendered"].is_string());
    bad(
        "GET",
        &format!("/api/sessions/{id}/rows?start=%ZZ"),
        b"",
        400,
    );
    bad("GET", &format!("/api/sessions/{id}/frames/xyz"), b"", 400);
    bad(
        "GET",
        &format!("/api/sessions/{id}/frames/999999"),
        b"",
        404,
    );
    bad("GET", &format!("/api/sessions/{id}/position"), b"", 400);
    bad(
        "GET",
        &format!("/api/sessions/{id}/follow?proto=sctp&stream=0"),
        b"",
        400,
    );
    bad(
        "GET",
        &format!("/api/sessions/{id}/follow?proto=tcp"),
        b"",
        400,
    );
    bad(
        "GET",
        &format!("/api/sessions/{id}/follow?proto=tcp&stream=999"),
        b"",
        400,
    );
    bad(
        "GET",
        &format!("/api/sessions/{id}/follow/text?stream=0&format=pdf"),
        b"",
        400,
    );
    bad(
        "GET",
        &format!("/api/sessions/{id}/follow/bytes?stream=0&dir=2"),
        b"",
        400,
    );
    bad(
        "GET",
        &format!("/api/sessions/{id}/follow/bytes?stream=999"),
        b"",
        400,
    );
    bad(
        "GET",
        &format!("/api/sessions/{id}/save?format=docx"),
        b"",
        400,
    );
    bad(
        "GET",
        &format!("/api/sessions/{id}/save?which=range"),
        b"",
        400,
    );
    bad(
        "GET",
        &format!("/api/sessions/{id}/save?which=displayed&filter=%3D%3D"),
        b"",
        400,
    );
    bad(
        "POST",
        &format!("/api/sessions/{id}/keys?kind=pgp"),
        b"x",
        400,
    );
    bad(
        "POST",
        &format!("/api/sessions/{id}/keys?kind=rsa"),
        b"-----BEGIN NONSENSE-----",
        400,
    );
    bad(
        "POST",
        &format!("/api/sessions/{id}/keys?kind=rsa&target=here"),
        b"x",
        400,
    );
    bad(
        "POST",
        &format!("/api/sessions/{id}/keys?kind=keylog"),
        b"",
        400,
    );
    bad(
        "POST",
        &format!("/api/sessions/{id}/marks"),
        b"{\"frames\": \"all\"}",
        400,
    );
    bad(
        "POST",
        &format!("/api/sessions/{id}/filter"),
        br#"{"expr": "tcp.port =="}"#,
        400,
    );
    let r = ui.post_json(
        &format!("/api/sessions/{id}/filter"),
        &json!({"expr": "ip.nope == 1"}),
    );
    assert_eq!(r.status, 400);
    let j = r.json();
    assert!(
        j["message"].is_string() && j["column"].is_u64() && j["rendered"].is_string(),
        "{j}"
    );
    // Key files are capped too.
    let a = ui.auth();
    let r = ui.send(
        "POST",
        &format!("/api/sessions/{id}/keys?kind=keylog"),
        &[("Authorization", &a), ("Content-Length", "17000000")],
        b"",
    );
    assert_eq!(r.status, 413, "{}", r.text());
    // Raw garbage on the wire.
    let raw = exchange(&ui.addr, b"GARBAGE\r\n\r\n");
    if !raw.is_empty() {
        let r = parse(&raw);
        assert!((400..500).contains(&r.status), "{}", r.status);
    }
    let r = parse(&exchange(
        &ui.addr,
        b"GET /api/colors HTTP/1.1\r\nHost: \xff\xfe\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(r.status, 403);
    let r = parse(&exchange(
        &ui.addr,
        b"GET /api/colors HTTP/1.0\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(r.status, 403, "no Host");
    // A body announced and never sent: the answer does not wait for it.
    let a = format!(
        "POST /api/sessions HTTP/1.1\r\nHost: {}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
        ui.addr
    );
    let r = parse(&exchange(&ui.addr, a.as_bytes()));
    assert_eq!(r.status, 401);
    // Still serving, and the session still answers.
    assert_eq!(ui.get("/api/colors").status, 200);
    let rows = ui.get_json(&format!("/api/sessions/{id}/rows?start=0&count=3"));
    assert_eq!(rows["rows"].as_array().unwrap().len(), 3);
    assert_eq!(rows["rows"][0]["no"], 1);
}

#[test]
fn filters_fields_marks_and_detail() {
    let root = data_dir();
    let f = root.join("zeek-get-gzip.pcap");
    let ui = start(&["--root", root.to_str().unwrap(), f.to_str().unwrap()]);
    let id = "s1";
    ui.wait_done(id);
    assert_eq!(
        ui.get_json("/api/filter/check?expr=tcp.port%20%3D%3D%2080"),
        json!({"ok": true})
    );
    assert_eq!(ui.get_json("/api/filter/check?expr="), json!({"ok": true}));
    let c = ui.get_json("/api/filter/check?expr=tcp.port%20%3D%3D");
    assert_eq!(c["ok"], false);
    assert!(c["column"].is_u64() && c["message"].is_string() && c["rendered"].is_string());
    let f = ui.get_json("/api/fields?prefix=tcp.&limit=5");
    let fields = f["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 5);
    assert!(
        fields
            .iter()
            .all(|x| x["name"].as_str().unwrap().starts_with("tcp."))
    );
    let f = ui.get_json("/api/fields?prefix=ht");
    assert_eq!(f["fields"][0]["name"], "http", "protocols first: {f}");
    assert_eq!(f["fields"][0]["kind"], "FT_PROTOCOL");
    assert_eq!(ui.get("/api/fields?limit=x").status, 400);
    // Marks.
    let m = ui.post_json(
        &format!("/api/sessions/{id}/marks"),
        &json!({"frames": [1, 3], "marked": true}),
    );
    assert_eq!(m.json()["marked"], 2);
    let rows = ui.get_json(&format!("/api/sessions/{id}/rows?start=0&count=3"));
    assert_eq!(rows["rows"][0]["marked"], true);
    assert_eq!(rows["rows"][1]["marked"], false);
    let m = ui.post_json(
        &format!("/api/sessions/{id}/marks"),
        &json!({"all": true, "marked": false}),
    );
    assert_eq!(m.json()["marked"], 0);
    // Detail.
    let d = ui.get_json(&format!("/api/sessions/{id}/frames/1"));
    assert_eq!(d["no"], 1);
    assert!(d["tree"].as_array().unwrap().len() >= 3);
    assert!(d["tabs"][0]["hex"].as_str().unwrap().len() > 100);
    // Go to packet without a filter; a stream by a frame of it.
    let p = ui.get_json(&format!("/api/sessions/{id}/position?frame=4"));
    assert_eq!(p["position"], 3);
    let j = ui.get_json(&format!("/api/sessions/{id}/follow?proto=tcp&frame=4"));
    assert_eq!(j["stream"], 0);
    assert!(j["streams"].is_u64());
    // Time formats.
    for t in [
        "absolute",
        "date",
        "relative",
        "delta",
        "delta_displayed",
        "epoch",
    ] {
        let r = ui.get_json(&format!("/api/sessions/{id}/rows?start=1&count=2&time={t}"));
        assert!(r["rows"][0]["time"].is_string(), "{t}");
    }
    let r = ui.get_json(&format!(
        "/api/sessions/{id}/rows?start=0&count=2&time=relative"
    ));
    assert_eq!(r["rows"][0]["time"], "0.000000");
}

#[test]
fn open_sessions_are_capped() {
    let root = data_dir();
    let ui = start(&["--root", root.to_str().unwrap()]);
    let mut ids = Vec::new();
    loop {
        match ui.open("tcpdump-dns_udp.pcap") {
            Ok(id) => ids.push(id),
            Err(r) => {
                assert_eq!(r.status, 429, "{}", r.text());
                break;
            }
        }
        assert!(ids.len() <= 64, "no cap on open sessions");
    }
    assert_eq!(ids.len(), 32);
    let ids_listed = ui.get_json("/api/sessions")["sessions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(ids_listed, 32);
    assert_eq!(
        ui.req("DELETE", &format!("/api/sessions/{}", ids[0]), b"")
            .status,
        200
    );
    // Ids are not reused.
    let id = ui.open("tcpdump-dns_udp.pcap").unwrap();
    assert_eq!(id, "s33");
}
