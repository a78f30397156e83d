//! The shared corpus (`WIRESIFT_CAPTURES`): every TLS capture with its keys decrypts the
//! streams tshark decrypts (md5 of what each side sent, `tls-stream` lines) and yields the
//! same first HTTP request line (`first-http-request`). Sessions without keys say why.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use wiresift_capfile::CaptureReader;
use wiresift_engine::{Engine, EngineOptions};
use wiresift_flow::{Direction, FlowHandler, FlowId, FlowInfo, Nanos};
use wiresift_tls::{KeyStore, RsaKey, SessionStatus, TlsLayer};

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("WIRESIFT_CAPTURES") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("skipped: WIRESIFT_CAPTURES is not set (point it at shared/captures)");
            None
        }
    }
}

#[derive(Default)]
struct Collect {
    info: HashMap<FlowId, FlowInfo>,
    data: HashMap<(FlowId, usize), Vec<u8>>,
    first_frame: HashMap<(FlowId, usize), u64>,
}

const METHODS: &[&str] = &[
    "GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ",
];

impl FlowHandler for Collect {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        self.info.insert(id, info.clone());
    }
    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], _ts: Nanos, frame: u64) {
        self.first_frame.entry((id, dir.index())).or_insert(frame);
        self.data
            .entry((id, dir.index()))
            .or_default()
            .extend_from_slice(data);
    }
}

impl Collect {
    /// The request line of the earliest client data that starts with an HTTP method (records
    /// may be split 1/n-1, so look at the whole direction, not the first chunk).
    fn first_request(&self) -> Option<String> {
        let mut best: Option<(u64, String)> = None;
        for ((_, d), buf) in &self.data {
            if *d != 0 {
                continue;
            }
            let text = String::from_utf8_lossy(&buf[..buf.len().min(4096)]);
            if METHODS.iter().any(|m| text.starts_with(m)) {
                let f = self
                    .first_frame
                    .iter()
                    .filter(|(k, _)| self.data.get(k) == Some(buf))
                    .map(|(_, f)| *f)
                    .min()
                    .unwrap_or(0);
                if best.as_ref().is_none_or(|b| f < b.0) {
                    best = Some((f, text.lines().next().unwrap_or("").to_string()));
                }
            }
        }
        best.map(|b| b.1)
    }
}

struct Expect {
    keylog: Option<String>,
    rsa_key: Option<String>,
    /// stream, node0, node0 md5, other md5, bytes
    streams: Vec<(u64, String, String, String, u64, u64)>,
    first_request: Option<String>,
}

fn parse_expected(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap();
    let mut e = Expect {
        keylog: None,
        rsa_key: None,
        streams: Vec::new(),
        first_request: None,
    };
    for line in text.lines() {
        let val = |p: &str| {
            line.strip_prefix(p)
                .map(str::trim)
                .filter(|v| *v != "none")
                .map(str::to_string)
        };
        if let Some(v) = line.strip_prefix("keylog:") {
            e.keylog = Some(v.trim().to_string()).filter(|v| v != "none");
        } else if let Some(v) = line.strip_prefix("rsa-key:") {
            e.rsa_key = Some(v.trim().to_string()).filter(|v| v != "none");
        } else if line.starts_with("first-http-request:") {
            e.first_request = val("first-http-request:");
        } else if let Some(rest) = line.strip_prefix("tls-stream ") {
            let (n, rest) = rest.split_once(':').unwrap();
            let kv: HashMap<&str, &str> = rest
                .split_whitespace()
                .filter_map(|w| w.split_once('='))
                .collect();
            e.streams.push((
                n.parse().unwrap(),
                kv["node0"].to_string(),
                kv["c2s_md5"].to_string(),
                kv["s2c_md5"].to_string(),
                kv["c2s_bytes"].parse().unwrap(),
                kv["s2c_bytes"].parse().unwrap(),
            ));
        }
    }
    e
}

fn run(capture: &Path, keys: KeyStore) -> (Collect, TlsLayer) {
    let mut reader = CaptureReader::open(capture).unwrap();
    let mut engine = Engine::new(EngineOptions::default());
    let mut layer = TlsLayer::new(keys);
    let mut col = Collect::default();
    let mut dsbs = 0;
    while reader.advance().unwrap() {
        while dsbs < reader.secrets().len() {
            let s = &reader.secrets()[dsbs];
            if s.secrets_type == wiresift_tls::SECRETS_TYPE_TLS {
                layer.keys_mut().keylog.add_text(&s.data);
            }
            dsbs += 1;
        }
        let f = reader.current().unwrap();
        engine.process(&f, &mut layer.wrap(&mut col));
    }
    engine.finish(&mut layer.wrap(&mut col));
    (col, layer)
}

fn md5_hex(b: &[u8]) -> String {
    wiresift_tls::hex(&Md5::digest(b))
}

fn check(dir: &Path, capture: &str, expected: &str) -> usize {
    let exp = parse_expected(&dir.join(expected));
    let mut keys = KeyStore::new();
    if let Some(k) = &exp.keylog {
        keys.keylog.add_file(&dir.join(k)).unwrap();
    }
    if let Some(k) = &exp.rsa_key {
        keys.rsa
            .push(RsaKey::load_spec(dir.join(k).to_str().unwrap()).unwrap());
    }
    let (col, layer) = run(&dir.join(capture), keys);
    for (stream, node0, m0, m1, b0, b1) in &exp.streams {
        let id = FlowId {
            proto: wiresift_flow::Proto::Tcp,
            stream: *stream,
        };
        let info = &col.info[&id];
        let client = std::net::SocketAddr::from(info.client).to_string();
        let (c_md5, s_md5, c_len, s_len) = if &client == node0 {
            (m0, m1, b0, b1)
        } else {
            (m1, m0, b1, b0)
        };
        let empty = Vec::new();
        let c = col.data.get(&(id, 0)).unwrap_or(&empty);
        let s = col.data.get(&(id, 1)).unwrap_or(&empty);
        let rep = layer.report(id);
        assert_eq!(
            (c.len() as u64, s.len() as u64),
            (*c_len, *s_len),
            "{capture} stream {stream}: decrypted sizes (client, server); report {rep:?}"
        );
        assert_eq!(
            &md5_hex(c),
            c_md5,
            "{capture} stream {stream}: client bytes"
        );
        assert_eq!(
            &md5_hex(s),
            s_md5,
            "{capture} stream {stream}: server bytes"
        );
        assert_eq!(rep.unwrap().status, SessionStatus::Decrypted);
    }
    assert_eq!(
        col.first_request(),
        exp.first_request,
        "{capture}: first HTTP request line"
    );
    // Every TLS session not in the expectations stays encrypted and says why.
    for r in layer.reports() {
        if !exp.streams.iter().any(|s| s.0 == r.flow.stream) {
            // tshark lists only streams that produced decrypted bytes: the others either
            // had no key (with a reason) or carried no application data.
            assert_eq!(r.plaintext_bytes, [0, 0], "{capture}: {r:?}");
            assert!(
                r.status == SessionStatus::Decrypted || r.reason.is_some(),
                "{capture}: {r:?}"
            );
            eprintln!(
                "{capture} stream {}: {} ({})",
                r.flow.stream,
                r.status.as_str(),
                r.reason.as_deref().unwrap_or("")
            );
        }
    }
    exp.streams.len()
}

#[test]
fn tls_keylog_and_rsa_corpus() {
    let Some(root) = corpus() else { return };
    let mut n = 0;
    for sub in ["tls-keylog", "tls-rsa"] {
        let dir = root.join(sub);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        files.sort();
        for f in &files {
            let Some(cap) = f.strip_suffix(".expected.txt") else {
                continue;
            };
            if files.iter().any(|x| x == cap) {
                n += check(&dir, cap, f);
            } else if let Some(base) = cap.strip_suffix(".rsa-only") {
                // Alternative run of a capture with fewer keys.
                n += check(&dir, base, f);
            }
        }
    }
    assert!(n >= 8, "only {n} tls-stream expectations checked");
}

#[test]
fn no_key_sessions_say_why() {
    let Some(root) = corpus() else { return };
    let (col, layer) = run(
        &root.join("tls-keylog/hotplace-http1.pcapng"),
        KeyStore::new(),
    );
    assert!(col.data.is_empty(), "nothing forwarded without keys");
    assert_eq!(layer.reports().len(), 2);
    for r in layer.reports() {
        assert_eq!(r.status, SessionStatus::NoKey);
        assert!(
            r.reason
                .as_deref()
                .unwrap()
                .starts_with("no key for client random "),
            "{r:?}"
        );
    }
}

#[test]
fn wrong_keys_fail_cleanly() {
    let Some(root) = corpus() else { return };
    // The TLS 1.2 key log used on the TLS 1.3 capture and vice versa: no key; a bogus master
    // for the right client random: authentication fails with a reason.
    let dir = root.join("tls-keylog");
    let mut keys = KeyStore::new();
    keys.keylog
        .add_file(&dir.join("illustrated-tls12-keylog.txt"))
        .unwrap();
    let (col, layer) = run(&dir.join("illustrated-tls13-capture.pcap"), keys);
    assert!(col.data.is_empty());
    assert_eq!(layer.reports()[0].status, SessionStatus::NoKey);

    let text = std::fs::read_to_string(dir.join("illustrated-tls12-keylog.txt")).unwrap();
    let mut bad = String::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if let (Some("CLIENT_RANDOM"), Some(cr)) = (w.next(), w.next()) {
            bad.push_str(&format!("CLIENT_RANDOM {cr} {}\n", "00".repeat(48)));
        }
    }
    let mut keys = KeyStore::new();
    keys.keylog.add_text(bad.as_bytes());
    let (col, layer) = run(&dir.join("illustrated-tls12-capture.pcap"), keys);
    assert!(col.data.is_empty());
    let r = &layer.reports()[0];
    assert_eq!(r.status, SessionStatus::Failed, "{r:?}");
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("authentication failed")
            || r.reason.as_deref().unwrap().contains("malformed"),
        "{r:?}"
    );
}
