//! Rows of the packet list equal the CLI's summary lines (committed tcpdump/wiresift goldens in
//! tests/data), whatever page they are fetched in: the relative sequence numbers of a page in
//! the middle come from the bases recorded by the indexing pass.

use std::path::{Path, PathBuf};

use wiresift_session::{Session, TimeDisplay};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

fn open(p: &Path) -> Session {
    let spool = tempfile::tempdir().unwrap();
    let s = Session::open(p, &p.file_name().unwrap().to_string_lossy(), spool.path()).unwrap();
    s.wait_indexed();
    s
}

#[test]
fn rows_equal_the_golden_lines_in_any_page() {
    let mut checked = 0;
    for e in std::fs::read_dir(data_dir()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(cap) = name.strip_suffix(".tcpdump.txt") else {
            continue;
        };
        let want: Vec<String> = std::fs::read_to_string(e.path())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let s = open(&data_dir().join(cap));
        let total = s.rows(None, 0, 0, TimeDisplay::Absolute).unwrap().total;
        assert_eq!(total as usize, want.len(), "{cap}: frame count");
        // Pages of 7 starting at every offset modulo 7, and then backwards, so no page sees
        // the connection's first packet before the ones it numbers.
        for start in (0..total).rev().step_by(3) {
            let page = s.rows(None, start, 7, TimeDisplay::Absolute).unwrap();
            for (i, r) in page.rows.iter().enumerate() {
                let n = start as usize + i;
                assert_eq!(r.no as usize, n + 1);
                assert_eq!(
                    format!("{} {}", r.time, r.line),
                    want[n],
                    "{cap}: frame {}",
                    n + 1
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} golden files");
}

#[test]
fn a_filter_is_a_frame_set_and_positions_follow_it() {
    let s = open(&data_dir().join("zeek-get-gzip.pcap"));
    let all = s.rows(None, 0, 1000, TimeDisplay::Absolute).unwrap();
    let want: Vec<u64> = all
        .rows
        .iter()
        .filter(|r| r.line.contains("Flags [P.]"))
        .map(|r| r.no)
        .collect();
    let f = "tcp.flags.push == 1";
    let out = s.apply_filter(f).unwrap();
    assert_eq!(out.count as usize, want.len());
    assert!(!out.cached);
    assert!(s.apply_filter(f).unwrap().cached);
    let page = s.rows(Some(f), 0, 1000, TimeDisplay::Absolute).unwrap();
    let got: Vec<u64> = page.rows.iter().map(|r| r.no).collect();
    assert_eq!(got, want);
    let (pos, _) = s.position(Some(f), want[1]).unwrap();
    assert_eq!(pos, Some(1));
    let (pos, nearest) = s.position(Some(f), 1).unwrap();
    assert_eq!((pos, nearest), (None, 0));
    match s.apply_filter("tcp.prot == 80") {
        Err(wiresift_session::SessionError::BadFilter {
            column, rendered, ..
        }) => {
            assert_eq!(column, 0);
            assert!(rendered.contains('^'), "{rendered}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn detail_has_the_cli_fields_with_byte_ranges_and_the_real_stream_number() {
    let s = open(&data_dir().join("zeek-get-gzip.pcap"));
    let rows = s.rows(None, 0, 1000, TimeDisplay::Absolute).unwrap();
    let get = rows
        .rows
        .iter()
        .find(|r| r.line.contains("GET /gzip"))
        .unwrap();
    let d = s.detail(get.no).unwrap();
    let ip = d.tree.iter().find(|n| n.field == Some("ip")).unwrap();
    let src = ip
        .children
        .iter()
        .find(|n| n.field == Some("ip.src"))
        .unwrap();
    assert_eq!(src.value.as_deref(), Some("141.142.228.5"));
    let (a, b) = (src.start.unwrap(), src.end.unwrap());
    assert_eq!(b - a, 4);
    let bytes: Vec<u8> = (0..d.tabs[0].hex.len() / 2)
        .map(|i| u8::from_str_radix(&d.tabs[0].hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert_eq!(&bytes[a..b], &[141, 142, 228, 5]);
    let tcp = d.tree.iter().find(|n| n.field == Some("tcp")).unwrap();
    let stream = tcp
        .children
        .iter()
        .find(|n| n.field == Some("tcp.stream"))
        .unwrap();
    assert_eq!(
        stream.value.as_deref(),
        Some(get.stream.unwrap().to_string().as_str())
    );
    assert!(
        d.tree.iter().any(|n| n.field == Some("http")),
        "{:?}",
        d.tree.iter().map(|n| n.label.clone()).collect::<Vec<_>>()
    );
}

#[test]
fn a_message_over_several_segments_has_a_reassembled_tcp_tab() {
    // The response of zeek-get-gzip.pcap: its head in frame 6 (17 bytes), the rest in frame 8
    // (325 bytes); tshark shows "Reassembled TCP (342 bytes)" on frame 8.
    let s = open(&data_dir().join("zeek-get-gzip.pcap"));
    let d = s.detail(8).unwrap();
    let tab = d
        .tabs
        .iter()
        .find(|t| t.name.starts_with("Reassembled TCP"))
        .unwrap_or_else(|| panic!("{:?}", d.tabs.iter().map(|t| &t.name).collect::<Vec<_>>()));
    assert_eq!(tab.name, "Reassembled TCP (342 bytes)");
    assert!(
        tab.hex.starts_with(
            &"HTTP/1.1 200 OK"
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    );
    // A request in one segment has none.
    let d = s.detail(4).unwrap();
    assert!(!d.tabs.iter().any(|t| t.name.starts_with("Reassembled TCP")));
}

#[test]
fn follow_gives_both_directions_in_order() {
    let s = open(&data_dir().join("zeek-get-gzip.pcap"));
    let f = s
        .follow(wiresift_session::follow::Kind::Tcp, 0, 1 << 20)
        .unwrap();
    assert!(f.client.ends_with(":50153"), "{}", f.client);
    assert!(f.chunks[0].data.starts_with(b"GET /gzip HTTP/1.1"));
    assert_eq!(f.chunks[0].dir, 0);
    assert!(
        f.chunks
            .iter()
            .any(|c| c.dir == 1 && c.data.starts_with(b"HTTP/1.1 200 OK"))
    );
    let mut all = Vec::new();
    let n = s
        .follow_bytes(wiresift_session::follow::Kind::Tcp, 0, None, &mut all)
        .unwrap();
    assert_eq!(n as usize, all.len());
    assert_eq!(f.bytes[0] + f.bytes[1], n);
    assert!(
        s.follow(wiresift_session::follow::Kind::Tcp, 99, 1 << 20)
            .is_err()
    );
}

#[test]
fn keys_bring_decrypted_tls_into_detail_and_follow() {
    let Some(corpus) = std::env::var_os("WIRESIFT_CAPTURES") else {
        eprintln!("skipped: WIRESIFT_CAPTURES is not set (the shared TLS captures)");
        return;
    };
    let dir = PathBuf::from(corpus).join("tls-keylog");
    let s = open(&dir.join("hotplace-curl_http1_tls12.pcapng"));
    let keylog = std::fs::read(dir.join("hotplace-tls-http-sslkeylog.txt")).unwrap();
    s.add_keys(wiresift_session::KeyMaterial {
        keylogs: vec![keylog],
        rsa: Vec::new(),
    })
    .unwrap();
    s.wait_indexed();
    let all = s.rows(None, 0, 1000, TimeDisplay::Absolute).unwrap();
    let decrypted: Vec<u64> = all
        .rows
        .iter()
        .filter(|r| {
            s.detail(r.no)
                .unwrap()
                .tabs
                .iter()
                .any(|t| t.name.starts_with("Decrypted TLS"))
        })
        .map(|r| r.no)
        .collect();
    assert!(!decrypted.is_empty(), "no frame shows decrypted bytes");
    assert!(
        all.rows.iter().any(|r| r.proto == "HTTP"),
        "decrypted HTTP is not shown as HTTP"
    );
    let f = s
        .follow(wiresift_session::follow::Kind::Tls, 0, 1 << 20)
        .unwrap();
    assert!(
        f.chunks
            .iter()
            .any(|c| c.data.starts_with(b"HEAD / HTTP/1.1")),
        "TLS follow is not plaintext"
    );
}
