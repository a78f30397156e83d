//! The UI session's statistics, properties, saved files and exported objects equal what the
//! command line prints and writes for the same capture: `conversations`/`endpoints`/`stats`/
//! `info` text (same tables, counted in the session's indexing pass instead of the command's
//! own), `read -Y F -w OUT` bytes, `export all` manifest records and files. Captures:
//! tests/data and, with `WIRESIFT_CAPTURES`, the shared corpus.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{bin, corpus, data};
use serde_json::Value;
use wiresift_session::save::{SaveFormat, Which};
use wiresift_session::{KeyMaterial, Session};

/// Readable captures of tests/data and of the corpus.
fn captures() -> Vec<PathBuf> {
    let readable = |p: &Path| {
        let n = p.to_string_lossy();
        (n.ends_with(".pcap") || n.ends_with(".pcapng"))
            && wiresift_capfile::CaptureReader::open(p).is_ok()
    };
    let mut out = common::files_under(&data(""), readable);
    if let Some(c) = corpus() {
        out.extend(common::files_under(&c, readable));
    }
    out.sort();
    out
}

/// A session named by the path, as `wiresift info` names the file.
fn open(p: &Path, spool: &Path) -> Session {
    let s = Session::open(p, &p.display().to_string(), spool).unwrap();
    s.wait_indexed();
    s
}

fn stdout(args: &[&std::ffi::OsStr]) -> String {
    let o = bin().args(args).output().unwrap();
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn tables_and_properties_equal_the_commands() {
    let spool = tempfile::tempdir().unwrap();
    let caps = captures();
    assert!(caps.len() >= 10, "{caps:?}");
    for cap in caps {
        let s = open(&cap, spool.path());
        let c = cap.as_os_str();
        for kind in ["eth", "ip", "ipv6", "tcp", "udp"] {
            let k = std::ffi::OsStr::new(kind);
            for (cmd, ours) in [
                ("conversations", s.conversations_text(kind).unwrap()),
                ("endpoints", s.endpoints_text(kind).unwrap()),
            ] {
                let theirs = stdout(&[cmd.as_ref(), c, "--proto".as_ref(), k]);
                assert_eq!(ours, theirs, "{}: {cmd} --proto {kind}", cap.display());
            }
        }
        let theirs = stdout(&["stats".as_ref(), c]);
        assert_eq!(
            s.hierarchy().layers_only().render(),
            theirs,
            "{}: stats",
            cap.display()
        );
        // The session's hierarchy adds application protocols below the same counts.
        assert_eq!(s.hierarchy().frames, s.info().frames);
        // `info`: the same text, except what stopped the reading of a damaged file (the
        // session says after which frame).
        let theirs = stdout(&["info".as_ref(), c]);
        let keep = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.starts_with("Read error:"))
                .map(str::to_string)
                .collect()
        };
        let ours = s.info_text();
        assert_eq!(keep(&ours), keep(&theirs), "{}: info", cap.display());
        assert_eq!(
            ours.contains("Read error:"),
            theirs.contains("Read error:"),
            "{}",
            cap.display()
        );
    }
}

#[test]
fn saved_files_equal_read_w() {
    let spool = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for cap in captures() {
        let s = open(&cap, spool.path());
        let cases: [(Which, Option<&str>); 5] = [
            (Which::All, None),
            (Which::Displayed("tcp".into()), Some("tcp")),
            (Which::Displayed("udp || arp".into()), Some("udp || arp")),
            (
                Which::Range("-3,5".into()),
                Some("frame.number <= 3 || frame.number == 5"),
            ),
            (Which::Displayed(String::new()), None),
        ];
        for (which, filter) in cases {
            for (format, name) in [(SaveFormat::Pcap, "pcap"), (SaveFormat::Pcapng, "pcapng")] {
                let out = tmp.path().join(format!("cli.{name}"));
                let _ = std::fs::remove_file(&out);
                let mut cmd = bin();
                cmd.arg("read").arg(&cap);
                if let Some(f) = filter {
                    cmd.args(["-Y", f]);
                }
                cmd.arg("-w").arg(&out).args(["--format", name]);
                let o = cmd.output().unwrap();
                let mut ours = Vec::new();
                let r = s.save(&which, format, &mut ours);
                let ctx = format!("{}: {which:?} {name}", cap.display());
                if o.status.code() == Some(2) {
                    // Classic pcap with several link types: both refuse.
                    assert!(r.is_err(), "{ctx}: {}", String::from_utf8_lossy(&o.stderr));
                    continue;
                }
                r.unwrap_or_else(|e| panic!("{ctx}: {e}"));
                let theirs = std::fs::read(&out).unwrap();
                assert!(
                    ours == theirs,
                    "{ctx}: {} bytes, read -w {}",
                    ours.len(),
                    theirs.len()
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 40);
}

/// Waits for the session's export to end (a guard against a hang, not a timing check).
fn wait_objects(s: &Session) -> wiresift_session::objects::ObjectsState {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let st = s.objects();
        assert!(st.started);
        if st.done {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "export still running: {}",
            st.log
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `wiresift export all CAP -o DIR [args]`: the manifest records.
fn cli_export(cap: &Path, dir: &Path, args: &[&std::ffi::OsStr]) -> Vec<Value> {
    let o = bin()
        .args(["export", "all"])
        .arg(cap)
        .arg("-o")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(dir.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The session's objects equal `export all`'s: records (with ids 1, 2, ...) and files.
fn check_objects(s: &Session, cap: &Path, cli_dir: &Path, cli_args: &[&std::ffi::OsStr]) -> usize {
    let spool = cli_dir.join("spool");
    s.start_objects(Path::new(env!("CARGO_BIN_EXE_wiresift")), &spool)
        .unwrap();
    // Started once per key set.
    s.start_objects(Path::new(env!("CARGO_BIN_EXE_wiresift")), &spool)
        .unwrap();
    let st = wait_objects(s);
    assert_eq!(st.error, None, "{}: {}", cap.display(), st.log);
    let theirs = cli_export(cap, &cli_dir.join("cli"), cli_args);
    assert_eq!(st.objects.len(), theirs.len(), "{}", cap.display());
    let mut files = 0;
    for (i, (ours, theirs)) in st.objects.iter().zip(&theirs).enumerate() {
        let mut o = ours.clone();
        assert_eq!(o["id"], Value::from(i as u64 + 1));
        o.as_object_mut().unwrap().remove("id");
        assert_eq!(&o, theirs, "{}: record {}", cap.display(), i + 1);
        if let Some(f) = theirs["file"].as_str() {
            let p = s.object_path(i as u64 + 1).unwrap();
            assert_eq!(
                std::fs::read(&p).unwrap(),
                std::fs::read(cli_dir.join("cli").join(f)).unwrap(),
                "{}: {f}",
                cap.display()
            );
            files += 1;
        } else {
            assert!(s.object_path(i as u64 + 1).is_err());
        }
    }
    assert!(s.object_path(0).is_err() && s.object_path(theirs.len() as u64 + 1).is_err());
    // The zip holds every file (names in the local headers) and the manifest.
    let mut zip = Vec::new();
    s.write_zip(&mut zip).unwrap();
    assert!(zip.starts_with(b"PK\x03\x04"));
    let has = |n: &str| zip.windows(n.len()).any(|w| w == n.as_bytes());
    assert!(has("manifest.jsonl"));
    for r in &theirs {
        if let Some(f) = r["file"].as_str() {
            assert!(has(f), "{f} not in the zip");
        }
    }
    // Closing the session ends the export and removes its directory and key files.
    let dirs: Vec<PathBuf> = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(!dirs.is_empty());
    wiresift_session::objects::release(s);
    assert!(!s.objects().started);
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    files
}

#[test]
fn objects_equal_export_all() {
    let mut files = 0;
    let mut caps = vec![
        data("zeek-get-gzip.pcap"),
        data("zeek-smtp.pcap"),
        data("arkime-http2-nghttp2.pcap"),
        data("zeek-ipv6-http-atomic-frag.pcap"),
    ];
    if let Some(c) = corpus() {
        for sub in ["http", "mail"] {
            for e in std::fs::read_dir(c.join(sub))
                .into_iter()
                .flatten()
                .flatten()
            {
                if e.path()
                    .extension()
                    .is_some_and(|x| x == "pcap" || x == "pcapng")
                {
                    caps.push(e.path());
                }
            }
        }
    }
    for cap in caps {
        let spool = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let s = open(&cap, spool.path());
        assert!(!s.objects().started);
        files += check_objects(&s, &cap, tmp.path(), &[]);
    }
    assert!(files >= 3, "{files}");
}

#[test]
fn objects_with_keys_equal_export_all_with_keys() {
    let Some(c) = corpus() else { return };
    let keylog = c.join("tls-keylog/hotplace-tls-http-sslkeylog.txt");
    let cap = c.join("tls-keylog/hotplace-http1.pcapng");
    let pem = c.join("tls-rsa/junkie-mycorp.pem");
    let rsa_cap = c.join("tls-rsa/junkie-mycorp.pcap");
    if !keylog.exists() || !cap.exists() || !pem.exists() || !rsa_cap.exists() {
        eprintln!("SKIP: TLS captures not in the corpus");
        return;
    }
    let spool = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = open(&cap, spool.path());
    s.add_keys(KeyMaterial {
        keylogs: vec![std::fs::read(&keylog).unwrap()],
        rsa: Vec::new(),
    })
    .unwrap();
    s.wait_indexed();
    check_objects(
        &s,
        &cap,
        tmp.path(),
        &["--tls-keylog".as_ref(), keylog.as_os_str()],
    );

    let tmp = tempfile::tempdir().unwrap();
    let s = open(&rsa_cap, spool.path());
    s.add_keys(KeyMaterial {
        keylogs: Vec::new(),
        rsa: vec![(std::fs::read_to_string(&pem).unwrap(), "k.pem".into(), None)],
    })
    .unwrap();
    s.wait_indexed();
    check_objects(
        &s,
        &rsa_cap,
        tmp.path(),
        &["--tls-key".as_ref(), pem.as_os_str()],
    );
}

#[test]
fn undecrypted_tls_sessions_are_expert_items() {
    let Some(c) = corpus() else { return };
    // Keys of another capture: the sessions stay encrypted, and both say so.
    let cap = c.join("tls-keylog/illustrated-tls12-capture.pcap");
    let keylog = c.join("tls-keylog/illustrated-tls13-keylog.txt");
    if !cap.exists() || !keylog.exists() {
        eprintln!("SKIP: TLS captures not in the corpus");
        return;
    }
    let o = bin()
        .arg("read")
        .arg(&cap)
        .arg("--tls-keylog")
        .arg(&keylog)
        .output()
        .unwrap();
    let cli: Vec<String> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("wiresift: tls: "))
        .map(str::to_string)
        .collect();
    assert!(!cli.is_empty());
    let spool = tempfile::tempdir().unwrap();
    let s = open(&cap, spool.path());
    assert!(s.expert().groups.iter().all(|i| i.group != "Decryption"));
    s.add_keys(KeyMaterial {
        keylogs: vec![std::fs::read(&keylog).unwrap()],
        rsa: Vec::new(),
    })
    .unwrap();
    let items: Vec<_> = s
        .expert()
        .groups
        .into_iter()
        .filter(|i| i.group == "Decryption")
        .collect();
    assert_eq!(items.len(), cli.len(), "{cli:?}");
    for (i, line) in items.iter().zip(&cli) {
        let stream = line
            .strip_prefix("tcp.stream ")
            .and_then(|r| r.split(' ').next())
            .unwrap();
        assert_eq!(
            i.filter.as_deref(),
            Some(&*format!("tcp.stream eq {stream}"))
        );
        assert_eq!(i.frames.len(), 1);
        let first = s
            .view(Some(&format!("tcp.stream eq {stream}")))
            .unwrap()
            .frames()
            .unwrap()[0];
        assert_eq!(i.frames[0], u64::from(first));
    }
}

#[test]
fn an_export_whose_session_is_gone_is_ended() {
    let spool = tempfile::tempdir().unwrap();
    let objects = spool.path().join("objects");
    let s = open(&data("zeek-smtp.pcap"), spool.path());
    s.start_objects(Path::new(env!("CARGO_BIN_EXE_wiresift")), &objects)
        .unwrap();
    assert!(wait_objects(&s).objects.len() >= 2);
    let dirs: Vec<PathBuf> = std::fs::read_dir(&objects)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1);
    drop(s);
    // Whoever looks at the exports next ends the ones of closed sessions.
    let other = open(&data("zeek-get-gzip.pcap"), spool.path());
    assert!(!other.objects().started);
    assert!(!dirs[0].exists(), "{} left behind", dirs[0].display());
}
