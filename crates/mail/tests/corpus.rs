//! The mail machines over the shared corpus (`WIRESIFT_CAPTURES`): every `.eml` tshark
//! exports (`imf-object` lines) is among ours byte for byte (tshark leaves SMTP dot-stuffing
//! in place: we compare with that one correction), and the `smtp`/`imf`/`pop`/`imap` frame
//! counts equal tshark's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use wiresift_capfile::CaptureReader;
use wiresift_dissect::decode::Transport;
use wiresift_engine::{Engine, EngineOptions};
use wiresift_export::Extractor;
use wiresift_mail::{MailExtractor, MailOptions, fields};

fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("WIRESIFT_CAPTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../../../shared/captures"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIP: no corpus at {} (set WIRESIFT_CAPTURES)", p.display());
        None
    }
}

struct Run {
    counts: BTreeMap<&'static str, u64>,
    records: Vec<serde_json::Value>,
}

fn run(cap: &Path, out: &Path) -> Run {
    let opts = MailOptions {
        fields: true,
        ..MailOptions::default()
    };
    let mut x = MailExtractor::new(opts, Some(out)).unwrap();
    let mut eng = Engine::new(EngineOptions::default());
    let mut r = CaptureReader::open(cap).unwrap();
    let mut counts = BTreeMap::new();
    let mut records = Vec::new();
    while r.advance().unwrap_or(false) {
        let Some(f) = r.current() else { break };
        let p = eng.process(&f, &mut x);
        let retrans = matches!(p.flow,
            Some(wiresift_flow::PacketFlow::Tcp(t)) if t.analysis.matches_retransmission());
        let quote = match (p.embedded, p.layers.transport) {
            (
                Some((wiresift_flow::Proto::Tcp, s)),
                Transport::Icmp { offset, .. } | Transport::Icmpv6 { offset, .. },
            ) => Some((s, f.data.get(offset + 8..).unwrap_or_default())),
            _ => None,
        };
        x.frame_context(retrans, quote);
        for (name, id) in [
            ("smtp", fields::SMTP),
            ("imf", fields::IMF),
            ("pop", fields::POP),
            ("imap", fields::IMAP),
        ] {
            if x.frame_fields().has(id) {
                if std::env::var_os("MAIL_DEBUG").is_some() {
                    eprintln!("{name} {}", f.number);
                }
                *counts.entry(name).or_insert(0) += 1;
            }
        }
        x.end_frame();
        x.drain_records(&mut records);
    }
    eng.finish(&mut x);
    x.drain_records(&mut records);
    Run { counts, records }
}

fn md5_hex(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// tshark's view of a message: our bytes with dot-stuffing put back (`.` at a line start
/// doubled).
fn restuff(b: &[u8]) -> Vec<u8> {
    let mut o = Vec::with_capacity(b.len() + 16);
    let mut start = true;
    for &c in b {
        if start && c == b'.' {
            o.push(b'.');
        }
        o.push(c);
        start = c == b'\n';
    }
    o
}

/// tshark exports that are not the message: (capture, tshark's name, why).
const KNOWN_TSHARK_BUGS: &[(&str, &str, &str)] = &[(
    "zeek-smtp.pcap",
    "SMTP.eml",
    "tshark splices the SMTP bytes quoted in ICMP 'fragmentation needed' errors (frames 26-30) \
     into its DATA reassembly: its 15156 bytes are not the 14545 the client sent",
)];

#[test]
fn corpus_eml_and_counts() {
    let Some(dir) = corpus() else { return };
    let mut caps = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(s) = p.to_str()
                && s.ends_with(".expected.txt")
            {
                caps.push(p);
            }
        }
    }
    caps.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for exp in caps {
        let text = std::fs::read_to_string(&exp).unwrap();
        let cap = PathBuf::from(exp.to_str().unwrap().trim_end_matches(".expected.txt"));
        if !cap.exists() || text.contains("tshark-rc: 2") {
            continue;
        }
        let want_md5: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.strip_prefix("imf-object: "))
            .map(|l| {
                let md5 = l.split(" md5=").nth(1).unwrap().split(' ').next().unwrap();
                let name = l.split(" name=").nth(1).unwrap();
                (md5.to_string(), name.to_string())
            })
            .collect();
        let counts: Vec<(&str, u64)> = ["smtp", "imf", "pop", "imap"]
            .into_iter()
            .filter_map(|k| {
                let key = format!("dfilter \"{k}\": ");
                text.lines()
                    .find_map(|l| l.strip_prefix(&key))
                    .map(|v| (k, v.trim().parse().unwrap()))
            })
            .collect();
        let t = tempfile::tempdir().unwrap();
        let got = run(&cap, t.path());
        let mut ours = std::collections::HashMap::new();
        for rec in &got.records {
            if let Some(f) = rec["file"].as_str() {
                let b = std::fs::read(t.path().join(f)).unwrap();
                // tshark's two artefacts: dot-stuffing left in, and the CRLF that ends the
                // last line dropped when `CRLF . CRLF` arrives in one segment.
                let cut = b.strip_suffix(b"\r\n").unwrap_or(&b);
                for v in [b.clone(), restuff(&b), cut.to_vec(), restuff(cut)] {
                    ours.insert(md5_hex(&v), f.to_string());
                }
            }
        }
        for (md5, name) in &want_md5 {
            let capname = cap.file_name().unwrap().to_string_lossy();
            if let Some((_, _, why)) = KNOWN_TSHARK_BUGS
                .iter()
                .find(|(c, n, _)| *c == capname && n == name)
            {
                eprintln!("{capname}: {name}: not compared: {why}");
                continue;
            }
            if !ours.contains_key(md5) {
                failures.push(format!(
                    "{}: tshark's {name} ({md5}) not among ours",
                    cap.display()
                ));
            }
            checked += 1;
        }
        for (k, want) in counts {
            let have = got.counts.get(k).copied().unwrap_or(0);
            if have != want {
                failures.push(format!(
                    "{}: dfilter {k}: {have}, tshark {want}",
                    cap.display()
                ));
            }
        }
    }
    eprintln!("{checked} tshark .eml files compared");
    assert!(failures.is_empty(), "{failures:#?}");
}
