//! Write frames, read them back: same bytes, times, link types and interface names.

use std::io::Cursor;

use wiresift_capfile::{
    CaptureReader, Interface, LinkType, OutputFormat, PcapNgWriter, ReadErrorKind, Writer,
};

type FrameTuple = (u64, i64, u16, u32, Vec<u8>);

fn read_all(bytes: Vec<u8>) -> (Vec<FrameTuple>, Vec<Interface>) {
    let mut r = CaptureReader::new(Box::new(Cursor::new(bytes))).expect("header");
    let mut out = Vec::new();
    while let Some(f) = r.next_frame().expect("frame") {
        out.push((f.number, f.ts, f.link.0, f.iface, f.data.to_vec()));
    }
    (out, r.interfaces().to_vec())
}

#[test]
fn pcapng_multi_interface_roundtrip() {
    let mut w = PcapNgWriter::new(Vec::new(), None, Some("Linux"), Some("test")).unwrap();
    let mut a = Interface::new(LinkType::ETHERNET, 65535);
    a.name = Some("eth0".into());
    a.tsresol = 9;
    let mut b = Interface::new(LinkType::RAW, 1500);
    b.name = Some("tun0".into());
    let ia = w.add_interface(&a).unwrap();
    let ib = w.add_interface(&b).unwrap();
    w.write_packet(ia, 1_700_000_000_123_456_789, 3, b"abc", Some("c"))
        .unwrap();
    w.write_packet(ib, 1_700_000_001_000_001_000, 10, b"defgh", None)
        .unwrap();
    w.write_secrets(0x544c_534b, b"CLIENT_RANDOM x y\n")
        .unwrap();
    let bytes = w.into_inner();
    let mut r = CaptureReader::new(Box::new(Cursor::new(bytes.clone()))).unwrap();
    let mut n = 0;
    while r.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 2);
    assert_eq!(r.secrets().len(), 1);
    let (frames, ifaces) = read_all(bytes);
    assert_eq!(
        frames[0],
        (1, 1_700_000_000_123_456_789, 1, 0, b"abc".to_vec())
    );
    assert_eq!(
        frames[1],
        (2, 1_700_000_001_000_001_000, 101, 1, b"defgh".to_vec())
    );
    assert_eq!(ifaces[0].name.as_deref(), Some("eth0"));
    assert_eq!(ifaces[1].name.as_deref(), Some("tun0"));
    assert_eq!(ifaces[0].precision_digits(), 9);
    assert_eq!(ifaces[1].precision_digits(), 6);
}

#[test]
fn pcap_nano_roundtrip_and_truncation() {
    let mut w = Writer::new(OutputFormat::Pcap, Vec::new(), true).unwrap();
    let ifaces = vec![Interface::new(LinkType::ETHERNET, 65535)];
    let mut r0 = Vec::new();
    for i in 0..3u8 {
        r0.push(vec![i; 60 + i as usize]);
    }
    let frames: Vec<_> = r0
        .iter()
        .enumerate()
        .map(|(i, d)| wiresift_capfile::Frame {
            number: i as u64 + 1,
            ts: 1_000_000_000 * (i as i64 + 1) + 7,
            link: LinkType::ETHERNET,
            iface: 0,
            orig_len: d.len() as u32,
            data: d,
        })
        .collect();
    for f in &frames {
        w.write_frame(f, &ifaces).unwrap();
    }
    w.finish(&ifaces).unwrap();
    let Writer::Pcap { inner: Some(p), .. } = w else {
        panic!("pcap writer")
    };
    let bytes = p.into_inner();
    let (got, _) = read_all(bytes.clone());
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].1, 3_000_000_007);
    // Cut the file in the middle of the last record: two frames, then an error at its offset.
    let cut = bytes[..bytes.len() - 10].to_vec();
    let mut r = CaptureReader::new(Box::new(Cursor::new(cut))).unwrap();
    assert!(r.next_frame().unwrap().is_some());
    assert!(r.next_frame().unwrap().is_some());
    let e = r.next_frame().unwrap_err();
    assert_eq!(e.offset, 24 + 16 + 60 + 16 + 61);
    assert!(matches!(e.kind, ReadErrorKind::Truncated { .. }), "{e}");
    assert!(r.next_frame().unwrap().is_none());
}

#[test]
fn gzip_input_is_detected() {
    use std::io::Write;
    let mut w = PcapNgWriter::new(Vec::new(), None, None, None).unwrap();
    let i = w
        .add_interface(&Interface::new(LinkType::ETHERNET, 0))
        .unwrap();
    w.write_packet(i, 5, 4, b"wxyz", None).unwrap();
    let plain = w.into_inner();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let (frames, _) = read_all(gz.finish().unwrap());
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].4, b"wxyz");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    for bytes in [
        vec![],
        vec![1, 2, 3],
        vec![0xd4, 0xc3, 0xb2, 0xa1, 1, 0, 0, 0],
        vec![
            0x0a, 0x0d, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x4d, 0x3c, 0x2b, 0x1a,
        ],
    ] {
        assert!(CaptureReader::new(Box::new(Cursor::new(bytes))).is_err());
    }
}

proptest::proptest! {
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512), ng in proptest::bool::ANY) {
        let mut bytes = if ng {
            vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 28, 0, 0, 0]
        } else {
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0]
        };
        bytes.extend_from_slice(&data);
        if let Ok(mut r) = CaptureReader::new(Box::new(Cursor::new(bytes))) {
            let mut n = 0;
            while let Ok(Some(_)) = r.next_frame() {
                n += 1;
                if n > 10_000 { break; }
            }
        }
    }
}
