//! Unit tests over a mock frame source and a small registry of realistic fields. Expected
//! results follow tshark 4.0.17 (see docs/display-filters.md for the checked cases).

use std::ops::ControlFlow;
use std::sync::OnceLock;

use wiresift_field::{Base, FieldDef, FieldId, FieldKind, FieldSource, Registry, Value};

use crate::{Filter, FilterError};

const U8: FieldKind = FieldKind::UInt {
    bits: 8,
    base: Base::Dec,
};
const U16: FieldKind = FieldKind::UInt {
    bits: 16,
    base: Base::Dec,
};
const U16H: FieldKind = FieldKind::UInt {
    bits: 16,
    base: Base::Hex,
};

static DEFS: [FieldDef; 28] = [
    FieldDef::new("frame", FieldKind::Protocol, "Frame"),
    FieldDef::new("frame.number", FieldKind::FrameNum, "Frame Number"),
    FieldDef::new("frame.time", FieldKind::AbsTime, "Arrival Time"),
    FieldDef::new(
        "frame.time_relative",
        FieldKind::RelTime,
        "Time since first frame",
    ),
    FieldDef::new("eth.src", FieldKind::Ether, "Source"),
    FieldDef::new("eth.dst", FieldKind::Ether, "Destination"),
    FieldDef::new("ip.src", FieldKind::Ipv4, "Source Address"),
    FieldDef::new("ip.dst", FieldKind::Ipv4, "Destination Address"),
    FieldDef::new("ip.addr", FieldKind::Ipv4, "Source or Destination Address"),
    FieldDef::new("ip.ttl", U8, "Time to Live"),
    FieldDef::new(
        "ipv6.addr",
        FieldKind::Ipv6,
        "Source or Destination Address",
    ),
    FieldDef::new("tcp", FieldKind::Protocol, "Transmission Control Protocol"),
    FieldDef::new("tcp.srcport", U16, "Source Port"),
    FieldDef::new("tcp.dstport", U16, "Destination Port"),
    FieldDef::new("tcp.port", U16, "Source or Destination Port"),
    FieldDef::new("tcp.flags", U16H, "Flags"),
    FieldDef::new("tcp.flags.syn", FieldKind::Bool, "Syn"),
    FieldDef::new("tcp.flags.ack", FieldKind::Bool, "Acknowledgment"),
    FieldDef::new("tcp.payload", FieldKind::Bytes, "TCP payload"),
    FieldDef::new(
        "tcp.window_size_scalefactor",
        FieldKind::Int,
        "Window size scaling factor",
    ),
    FieldDef::new("http.request.method", FieldKind::String, "Request Method"),
    FieldDef::new("http.host", FieldKind::String, "Host"),
    FieldDef::new("udp", FieldKind::Protocol, "User Datagram Protocol"),
    FieldDef::new("udp.port", U16, "Source or Destination Port"),
    FieldDef::new("dns.qry.name", FieldKind::String, "Name"),
    FieldDef::new("ip.geoip.lat", FieldKind::Float, "Latitude"),
    FieldDef::new(
        "tcp.seq",
        FieldKind::UInt {
            bits: 32,
            base: Base::Dec,
        },
        "Sequence Number",
    ),
    FieldDef::new(
        "tcp.time_delta",
        FieldKind::RelTime,
        "Time since previous frame in this TCP stream",
    ),
];

fn reg() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::from_sets(&[(100, &DEFS)]))
}

fn id(name: &str) -> FieldId {
    reg().lookup(name).expect("test field")
}

/// An owned field value for the mock frame.
#[derive(Clone, Debug)]
enum Own {
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Ipv4([u8; 4]),
    Ipv6(std::net::Ipv6Addr),
    Ether([u8; 6]),
    Bytes(Vec<u8>),
    Str(String),
    Time(i64),
    RelTime(i64),
    Protocol(Vec<u8>),
}

impl Own {
    fn value(&self) -> Value<'_> {
        match self {
            Own::Bool(b) => Value::Bool(*b),
            Own::UInt(x) => Value::UInt(*x),
            Own::Int(x) => Value::Int(*x),
            Own::Float(x) => Value::Float(*x),
            Own::Ipv4(a) => Value::Ipv4(*a),
            Own::Ipv6(a) => Value::Ipv6(a.octets()),
            Own::Ether(m) => Value::Ether(*m),
            Own::Bytes(b) => Value::Bytes(b),
            Own::Str(s) => Value::Str(s),
            Own::Time(t) => Value::Time(*t),
            Own::RelTime(t) => Value::RelTime(*t),
            Own::Protocol(b) => Value::Protocol(b),
        }
    }
}

#[derive(Default, Clone)]
struct Frame(Vec<(FieldId, Own)>);

impl Frame {
    fn with(mut self, name: &str, v: Own) -> Self {
        self.0.push((id(name), v));
        self
    }
}

impl FieldSource for Frame {
    fn visit(&self, fid: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) {
        for (i, v) in &self.0 {
            if *i == fid && f(v.value()).is_break() {
                return;
            }
        }
    }
}

const PAYLOAD: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: Example.com\r\n\r\n";

/// A SYN from 10.0.0.1:50153 to 10.0.0.2:80.
fn syn() -> Frame {
    Frame::default()
        .with(
            "frame",
            Own::Protocol(vec![0xc8, 0xbc, 0xc8, 0x96, 0xd2, 0xa0, 0, 0x10]),
        )
        .with("frame.number", Own::UInt(1))
        // 2013-03-18 16:37:11.382875 UTC
        .with("frame.time", Own::Time(1_363_624_631_382_875_000))
        .with("frame.time_relative", Own::RelTime(0))
        .with("eth.src", Own::Ether([0xc8, 0xbc, 0xc8, 0x96, 0xd2, 0xa0]))
        .with("eth.dst", Own::Ether([0x00, 0x10, 0xdb, 0x88, 0xd2, 0xef]))
        .with("ip.src", Own::Ipv4([10, 0, 0, 1]))
        .with("ip.dst", Own::Ipv4([10, 0, 0, 2]))
        .with("ip.addr", Own::Ipv4([10, 0, 0, 1]))
        .with("ip.addr", Own::Ipv4([10, 0, 0, 2]))
        .with("ip.ttl", Own::UInt(64))
        .with(
            "tcp",
            Own::Protocol(vec![0xc3, 0xe9, 0x00, 0x50, 0, 0, 0, 1]),
        )
        .with("tcp.srcport", Own::UInt(50153))
        .with("tcp.dstport", Own::UInt(80))
        .with("tcp.port", Own::UInt(50153))
        .with("tcp.port", Own::UInt(80))
        .with("tcp.seq", Own::UInt(0))
        .with("tcp.flags", Own::UInt(0x002))
        .with("tcp.flags.syn", Own::Bool(true))
        .with("tcp.flags.ack", Own::Bool(false))
        .with("tcp.window_size_scalefactor", Own::Int(-1))
        .with("ip.geoip.lat", Own::Float(40.11))
}

/// An HTTP GET (PSH+ACK) from 10.0.0.1:50153 to 10.0.0.2:80, 0.5 s later.
fn get() -> Frame {
    Frame::default()
        .with("frame.number", Own::UInt(4))
        .with("frame.time", Own::Time(1_363_624_631_882_875_000))
        .with("frame.time_relative", Own::RelTime(500_000_000))
        .with("ip.src", Own::Ipv4([10, 0, 0, 1]))
        .with("ip.dst", Own::Ipv4([10, 0, 0, 2]))
        .with("ip.addr", Own::Ipv4([10, 0, 0, 1]))
        .with("ip.addr", Own::Ipv4([10, 0, 0, 2]))
        .with("tcp", Own::Protocol(PAYLOAD.to_vec()))
        .with("tcp.port", Own::UInt(50153))
        .with("tcp.port", Own::UInt(80))
        .with("tcp.flags", Own::UInt(0x018))
        .with("tcp.flags.syn", Own::Bool(false))
        .with("tcp.flags.ack", Own::Bool(true))
        .with("tcp.payload", Own::Bytes(PAYLOAD.to_vec()))
        .with("tcp.window_size_scalefactor", Own::Int(7))
        .with("tcp.time_delta", Own::RelTime(-250_000_000))
        .with("http.request.method", Own::Str("GET".into()))
        .with("http.host", Own::Str("Example.com".into()))
}

/// A DNS query over IPv6 between two ports.
fn dns6() -> Frame {
    Frame::default()
        .with("frame.number", Own::UInt(9))
        .with("ipv6.addr", Own::Ipv6("2001:db8::1".parse().expect("v6")))
        .with("ipv6.addr", Own::Ipv6("fe80::1".parse().expect("v6")))
        .with("udp", Own::Protocol(vec![0x14, 0xe9, 0, 0x35]))
        .with("udp.port", Own::UInt(5353))
        .with("udp.port", Own::UInt(53))
        .with("dns.qry.name", Own::Str("www.Example.COM".into()))
        .with("dns.qry.name", Own::Str("café.example".into()))
}

#[track_caller]
fn compile(expr: &str) -> Filter {
    match Filter::compile(expr, reg()) {
        Ok(f) => f,
        Err(e) => panic!("{expr:?} failed to compile:\n{}", e.render(expr)),
    }
}

#[track_caller]
fn m(expr: &str, frame: &Frame) -> bool {
    compile(expr).matches(frame)
}

/// Which of the three sample frames match: [syn, get, dns6].
#[track_caller]
fn which(expr: &str) -> [bool; 3] {
    let f = compile(expr);
    [f.matches(&syn()), f.matches(&get()), f.matches(&dns6())]
}

#[track_caller]
fn err(expr: &str) -> FilterError {
    match Filter::compile(expr, reg()) {
        Ok(f) => panic!("{expr:?} compiled but should not: {f:?}"),
        Err(e) => e,
    }
}

const T: bool = true;
const F: bool = false;

// ---------------------------------------------------------------- comparisons

#[test]
fn comparison_operators_and_word_forms() {
    assert_eq!(which("tcp.srcport == 50153"), [T, F, F]);
    assert_eq!(which("tcp.srcport eq 50153"), [T, F, F]);
    assert_eq!(which("ip.ttl != 64"), [F, F, F]);
    assert_eq!(which("ip.ttl ne 63"), [T, F, F]);
    assert_eq!(which("ip.ttl < 65"), [T, F, F]);
    assert_eq!(which("ip.ttl lt 64"), [F, F, F]);
    assert_eq!(which("ip.ttl <= 64"), [T, F, F]);
    assert_eq!(which("ip.ttl le 63"), [F, F, F]);
    assert_eq!(which("ip.ttl > 63"), [T, F, F]);
    assert_eq!(which("ip.ttl gt 64"), [F, F, F]);
    assert_eq!(which("ip.ttl >= 64"), [T, F, F]);
    assert_eq!(which("ip.ttl ge 65"), [F, F, F]);
    assert_eq!(which("tcp.srcport==50153&&ip.ttl>=64"), [T, F, F]);
}

#[test]
fn multiple_occurrences() {
    // `==` and ordering: any occurrence.
    assert_eq!(which("ip.addr == 10.0.0.2"), [T, T, F]);
    assert_eq!(which("tcp.port < 100"), [T, T, F]);
    // `!=` is all_ne in Wireshark 4.x: false if any occurrence equals; false when absent.
    assert_eq!(which("ip.addr != 10.0.0.2"), [F, F, F]);
    assert_eq!(which("ip.addr != 10.9.9.9"), [T, T, F]);
    assert_eq!(which("udp.port != 53"), [F, F, F]);
    // `!==`, `~=`, any_ne: some occurrence differs.
    assert_eq!(which("ip.addr !== 10.0.0.2"), [T, T, F]);
    assert_eq!(which("ip.addr ~= 10.0.0.2"), [T, T, F]);
    assert_eq!(which("ip.addr any_ne 10.0.0.2"), [T, T, F]);
    // `===` / all_eq: every occurrence.
    assert_eq!(which("ip.addr === 10.0.0.2"), [F, F, F]);
    assert_eq!(which("ip.addr === 10.0.0.0/8"), [T, T, F]);
    assert_eq!(which("ip.addr all_eq 10.0.0.0/8"), [T, T, F]);
    assert_eq!(which("ip.addr all_ne 10.0.0.2"), [F, F, F]);
    assert_eq!(which("ip.addr any_eq 10.0.0.2"), [T, T, F]);
    // Quantifier prefixes.
    assert_eq!(which("all ip.addr == 10.0.0.1"), [F, F, F]);
    assert_eq!(which("all ip.addr == 10.0.0.0/24"), [T, T, F]);
    assert_eq!(which("any ip.addr != 10.0.0.1"), [T, T, F]);
    assert_eq!(which("all tcp.port > 10"), [T, T, F]);
    assert_eq!(which("all udp.port == 53"), [F, F, F]);
    assert_eq!(which("any tcp.port == 80"), [T, T, F]);
    // Absent field with all: false (a side with no value).
    assert_eq!(which("all ipv6.addr == ::1"), [F, F, F]);
}

#[test]
fn field_to_field() {
    assert_eq!(which("ip.src == ip.dst"), [F, F, F]);
    assert_eq!(which("ip.src != ip.dst"), [T, T, F]);
    assert_eq!(which("tcp.srcport > tcp.dstport"), [T, F, F]);
    // Any pair of occurrences: ip.addr contains ip.src.
    assert_eq!(which("ip.addr == ip.src"), [T, T, F]);
    // Integer kinds of different widths compare.
    assert_eq!(which("ip.ttl < tcp.srcport"), [T, F, F]);
    // Constant on the left is mirrored.
    assert_eq!(which("80 == tcp.port"), [T, T, F]);
    assert_eq!(which("100 > ip.ttl"), [T, F, F]);
}

#[test]
fn existence_and_protocols() {
    assert_eq!(which("tcp"), [T, T, F]);
    assert_eq!(which("udp"), [F, F, T]);
    assert_eq!(which("http.request.method"), [F, T, F]);
    // A false boolean still exists.
    assert_eq!(which("tcp.flags.syn"), [T, T, F]);
    assert_eq!(which("tcp contains \"Host\""), [F, T, F]);
    assert_eq!(which("tcp[0:2] == c3:e9"), [T, F, F]);
    assert_eq!(which("frame[0:3] == c8:bc:c8"), [T, F, F]);
    assert_eq!(which("udp[2:2] == 00:35"), [F, F, T]);
}

// ---------------------------------------------------------------- logic

#[test]
fn logical_operators_and_precedence() {
    assert_eq!(which("tcp and udp"), [F, F, F]);
    assert_eq!(which("tcp or udp"), [T, T, T]);
    assert_eq!(which("tcp || udp"), [T, T, T]);
    assert_eq!(which("tcp && http.host"), [F, T, F]);
    assert_eq!(which("not tcp"), [F, F, T]);
    assert_eq!(which("!tcp"), [F, F, T]);
    assert_eq!(which("! tcp"), [F, F, T]);
    assert_eq!(which("tcp xor tcp.flags.syn == 1"), [F, T, F]);
    assert_eq!(which("tcp ^^ udp"), [T, T, T]);
    // and binds tighter than or (tshark 4.0: `a or b and c` = `a or (b and c)`).
    assert_eq!(
        which("frame.number == 1 or frame.number == 4 and frame.number == 9"),
        [T, F, F]
    );
    assert_eq!(
        which("(frame.number == 1 or frame.number == 4) and tcp.flags.ack == 1"),
        [F, T, F]
    );
    // not binds tighter than and (tshark: `not frame.number == 1 and frame.number == 2` -> 2).
    assert_eq!(
        which("not frame.number == 1 and frame.number == 4"),
        [F, T, F]
    );
    assert_eq!(which("!frame.number > 2"), [T, F, F]);
    // xor between or and and: `a or b xor c` = `a or (b xor c)`; `a xor b and c` = `a xor (b and c)`.
    assert_eq!(which("tcp or udp xor udp"), [T, T, F]);
    assert_eq!(which("udp xor tcp and frame.number == 4"), [F, T, T]);
    assert_eq!(which("not not tcp"), [T, T, F]);
    assert_eq!(which("((tcp))"), [T, T, F]);
}

// ---------------------------------------------------------------- literals

#[test]
fn integer_literals() {
    assert_eq!(which("tcp.dstport == 0x50"), [T, F, F]);
    assert_eq!(which("tcp.dstport == 0X50"), [T, F, F]);
    assert_eq!(which("tcp.dstport == 0120"), [T, F, F]);
    assert_eq!(which("tcp.dstport == 0b1010000"), [T, F, F]);
    assert_eq!(which("tcp.seq == 0"), [T, F, F]);
    assert_eq!(which("tcp.window_size_scalefactor == -1"), [T, F, F]);
    assert_eq!(which("tcp.window_size_scalefactor < 0"), [T, F, F]);
    assert_eq!(which("tcp.window_size_scalefactor > -2"), [T, T, F]);
    assert_eq!(which("frame.number == 4"), [F, T, F]);
    assert_eq!(which("frame.number in {2..5}"), [F, T, F]);
    // A character constant is an integer for integer fields.
    assert_eq!(which("ip.ttl == '@'"), [T, F, F]);
    // A quoted number is accepted too.
    assert_eq!(which("tcp.dstport == \"80\""), [T, F, F]);
}

#[test]
fn bool_literals() {
    for yes in ["1", "true", "True", "TRUE", "2"] {
        assert_eq!(
            which(&format!("tcp.flags.syn == {yes}")),
            [T, F, F],
            "{yes}"
        );
    }
    for no in ["0", "false", "False"] {
        assert_eq!(which(&format!("tcp.flags.syn == {no}")), [F, T, F], "{no}");
    }
    assert_eq!(which("tcp.flags.syn < tcp.flags.ack"), [F, T, F]);
    assert_eq!(which("tcp.flags.ack > tcp.flags.syn"), [F, T, F]);
}

#[test]
fn float_literals() {
    assert_eq!(which("ip.geoip.lat > 40"), [T, F, F]);
    assert_eq!(which("ip.geoip.lat == 40.11"), [T, F, F]);
    assert_eq!(which("ip.geoip.lat < 4.1e1"), [T, F, F]);
    assert_eq!(which("abs(ip.geoip.lat) >= 40.11"), [T, F, F]);
}

#[test]
fn string_literals_and_escapes() {
    assert_eq!(which("http.request.method == \"GET\""), [F, T, F]);
    // Case-sensitive ==.
    assert_eq!(which("http.request.method == \"get\""), [F, F, F]);
    // A bare word is a string for a string field.
    assert_eq!(which("http.request.method == GET"), [F, T, F]);
    assert_eq!(which(r#"http.request.method == "G\x45T""#), [F, T, F]);
    assert_eq!(which(r#"http.request.method == "G\105T""#), [F, T, F]);
    assert_eq!(which(r#"http.request.method == "\u0047ET""#), [F, T, F]);
    assert_eq!(which(r#"http.request.method == "\U00000047ET""#), [F, T, F]);
    assert_eq!(which(r#"http.request.method == r"GET""#), [F, T, F]);
    assert_eq!(which(r#"tcp.payload contains "\r\n\r\n""#), [F, T, F]);
    assert_eq!(which(r#"tcp.payload contains "1\r\nHost""#), [F, T, F]);
    assert_eq!(which(r#"http.host contains "\"""#), [F, F, F]);
    assert_eq!(which("dns.qry.name == \"café.example\""), [F, F, T]);
    assert_eq!(which(r#"dns.qry.name == "caf\xc3\xa9.example""#), [F, F, T]);
    assert_eq!(which("http.request.method > \"A\""), [F, T, F]);
    assert_eq!(which("http.request.method < \"GEU\""), [F, T, F]);
}

#[test]
fn raw_strings_keep_backslashes() {
    // r"\d" is a regex digit class, not an escape.
    assert_eq!(which(r#"tcp.payload matches r"HTTP/\d\.\d""#), [F, T, F]);
    assert_eq!(which(r#"tcp.payload matches "HTTP/\\d\\.\\d""#), [F, T, F]);
    // r"\"" keeps both characters and does not end the string.
    assert_eq!(which(r#"http.host matches r"\"""#), [F, F, F]);
}

#[test]
fn byte_literals() {
    for lit in ["47:45:54", "47-45-54", "47.45.54", "474554", "\"GET\""] {
        assert_eq!(
            which(&format!("tcp.payload contains {lit}")),
            [F, T, F],
            "{lit}"
        );
        assert_eq!(
            which(&format!("tcp.payload[0:3] == {lit}")),
            [F, T, F],
            "{lit}"
        );
    }
    // One hex digit per byte in separated form, single byte.
    assert_eq!(which("tcp.payload contains 0d:a"), [F, T, F]);
    assert_eq!(which("tcp.payload[0] == 47"), [F, T, F]);
    assert_eq!(which("tcp.payload[0] == 'G'"), [F, T, F]);
    assert_eq!(which("tcp.payload[0] == 'g'"), [F, F, F]);
    assert_eq!(which(r"tcp.payload[-1] == '\n'"), [F, T, F]);
    assert_eq!(which(r"tcp.payload[-1] == '\x0a'"), [F, T, F]);
    assert_eq!(which(r"tcp.payload[-1] == '\012'"), [F, T, F]);
    assert_eq!(which("tcp.payload > 40"), [F, T, F]);
}

#[test]
fn address_literals() {
    assert_eq!(which("ip.src == 10.0.0.1"), [T, T, F]);
    assert_eq!(which("ip.src == \"10.0.0.1\""), [T, T, F]);
    assert_eq!(which("ip.dst == 10.0.0.0/8"), [T, T, F]);
    assert_eq!(which("ip.dst == 10.0.0.0/31"), [F, F, F]);
    assert_eq!(which("ip.dst == 10.0.0.2/31"), [T, T, F]);
    assert_eq!(which("ip.dst != 192.168.0.0/16"), [T, T, F]);
    assert_eq!(which("ip.dst > 10.0.0.1"), [T, T, F]);
    assert_eq!(which("ip.addr in {192.168.0.0/16, 10.0.0.2}"), [T, T, F]);
    assert_eq!(which("ipv6.addr == 2001:db8::1"), [F, F, T]);
    assert_eq!(which("ipv6.addr == 2001:db8::/32"), [F, F, T]);
    assert_eq!(which("ipv6.addr == fe80::/10"), [F, F, T]);
    assert_eq!(which("ipv6.addr == ::1"), [F, F, F]);
    assert_eq!(which("ipv6.addr != ::1"), [F, F, T]);
    for mac in [
        "c8:bc:c8:96:d2:a0",
        "c8-bc-c8-96-d2-a0",
        "c8.bc.c8.96.d2.a0",
        "c8bc.c896.d2a0",
        "c8bcc896d2a0",
    ] {
        assert_eq!(which(&format!("eth.src == {mac}")), [T, F, F], "{mac}");
    }
    assert_eq!(which("eth.dst == ff:ff:ff:ff:ff:ff"), [F, F, F]);
    assert_eq!(which("eth.src[0:3] == c8:bc:c8"), [T, F, F]);
    assert_eq!(which("ip.src[0] == 0a"), [T, T, F]);
    assert_eq!(which("ipv6.addr[0:2] == 20:01"), [F, F, T]);
    assert_eq!(which("len(eth.src) == 6"), [T, F, F]);
}

#[test]
fn time_literals() {
    // Absolute times are UTC.
    assert_eq!(
        which("frame.time == \"2013-03-18 16:37:11.382875\""),
        [T, F, F]
    );
    assert_eq!(
        which("frame.time == \"Mar 18, 2013 16:37:11.382875\""),
        [T, F, F]
    );
    assert_eq!(
        which("frame.time == \"2013-03-18T16:37:11.382875Z\""),
        [T, F, F]
    );
    assert_eq!(
        which("frame.time == \"2013-03-18 16:37:11.382875 UTC\""),
        [T, F, F]
    );
    assert_eq!(which("frame.time > \"Mar 18, 2013 16:37:11.5\""), [F, T, F]);
    assert_eq!(which("frame.time >= \"2013-03-18\""), [T, T, F]);
    assert_eq!(which("frame.time < \"2013-03-19\""), [T, T, F]);
    assert_eq!(which("frame.time < 1363624631.4"), [T, F, F]);
    // Relative times in seconds.
    assert_eq!(which("frame.time_relative == 0"), [T, F, F]);
    assert_eq!(which("frame.time_relative == 0.5"), [F, T, F]);
    assert_eq!(which("frame.time_relative > 0.499999999"), [F, T, F]);
    assert_eq!(which("tcp.time_delta == -0.25"), [F, T, F]);
    assert_eq!(which("abs(tcp.time_delta) == 0.25"), [F, T, F]);
    assert_eq!(which("frame.time_relative < 5e-1"), [T, F, F]);
}

// ---------------------------------------------------------------- contains / matches / in

#[test]
fn contains_operator() {
    assert_eq!(which("http.host contains \"ample\""), [F, T, F]);
    // Case-sensitive.
    assert_eq!(which("http.host contains \"EXAMPLE\""), [F, F, F]);
    assert_eq!(which("tcp.payload contains http.request.method"), [F, T, F]);
    assert_eq!(which("http.host contains http.request.method"), [F, F, F]);
    assert_eq!(which("tcp.payload contains \"\""), [F, T, F]);
}

#[test]
fn matches_operator() {
    // Case-insensitive by default, like Wireshark.
    assert_eq!(which("http.request.method matches \"get\""), [F, T, F]);
    assert_eq!(which("http.request.method ~ \"^g.t$\""), [F, T, F]);
    assert_eq!(which("http.request.method matches \"(?-i)get\""), [F, F, F]);
    assert_eq!(
        which("dns.qry.name matches \"example\\\\.com$\""),
        [F, F, T]
    );
    assert_eq!(
        which("tcp.payload matches \"^GET /[a-z]+\\\\.html\""),
        [F, T, F]
    );
    assert_eq!(which("tcp matches \"host: example\""), [F, T, F]);
    // Binary data: `.` does not need UTF-8.
    assert_eq!(which("frame matches \"^\\xc8\""), [T, F, F]);
    assert_eq!(which("all dns.qry.name matches \"example\""), [F, F, T]);
    assert_eq!(which("all dns.qry.name matches \"com$\""), [F, F, F]);
}

#[test]
fn membership_operator() {
    assert_eq!(which("tcp.port in {80, 443}"), [T, T, F]);
    assert_eq!(which("tcp.port in {80 443}"), [T, T, F]);
    assert_eq!(which("tcp.port in {443 8080}"), [F, F, F]);
    assert_eq!(which("tcp.port in {1..100}"), [T, T, F]);
    assert_eq!(which("tcp.port in {1 .. 100}"), [T, T, F]);
    assert_eq!(which("tcp.port in {1 ..100}"), [T, T, F]);
    assert_eq!(which("tcp.port in {0x1..0x64, 8080}"), [T, T, F]);
    assert_eq!(which("udp.port in {53}"), [F, F, T]);
    // `not in` is `!(in)`: true when the field is absent (tshark 4.0).
    assert_eq!(which("udp.port not in {53}"), [T, T, F]);
    assert_eq!(
        which("http.request.method in {\"GET\", \"HEAD\"}"),
        [F, T, F]
    );
    assert_eq!(which("http.request.method in {GET, HEAD}"), [F, T, F]);
    assert_eq!(which("http.request.method in {\"A\"..\"H\"}"), [F, T, F]);
    assert_eq!(which("tcp.srcport in {tcp.dstport, 50153}"), [T, F, F]);
    assert_eq!(which("ip.addr in {10.0.0.1..10.0.0.5}"), [T, T, F]);
    assert_eq!(which("all tcp.port in {80, 50153}"), [T, T, F]);
    assert_eq!(which("all tcp.port in {80}"), [F, F, F]);
    assert_eq!(which("frame.time_relative in {0.1..1}"), [F, T, F]);
}

// ---------------------------------------------------------------- slices

#[test]
fn slice_forms() {
    let p = get();
    assert!(m("tcp.payload[0:3] == \"GET\"", &p)); // start:length
    assert!(m("tcp.payload[0-2] == \"GET\"", &p)); // start-end inclusive
    assert!(m("tcp.payload[4] == '/'", &p)); // single byte
    assert!(m("tcp.payload[:3] == \"GET\"", &p)); // from the start
    assert!(m("tcp.payload[43:] == 0d:0a:0d:0a", &p)); // to the end
    assert!(m("tcp.payload[-4:] == 0d:0a:0d:0a", &p)); // from the end
    assert!(m("tcp.payload[-2:2] == 0d:0a", &p));
    assert!(m("tcp.payload[-1] == 0a", &p));
    assert!(m("tcp.payload[0:2,4] == \"GE/\"", &p)); // several ranges concatenated
    assert!(m("tcp.payload[0,1,2] == \"GET\"", &p));
    assert!(m("tcp.payload[0:3,-4:] == \"GET\\r\\n\\r\\n\"", &p));
    assert!(m("http.request.method[1:2] == \"ET\"", &p)); // strings slice to bytes
    assert!(m("http.request.method[0:2] == 47:45", &p));
    assert!(m("tcp.payload[0:3][1] == 'E'", &p)); // chained
    // Out of range: no value, so false (tshark: `frame[0:5000] == 00` matches nothing).
    assert!(!m("tcp.payload[0:5000] == 00", &p));
    assert!(!m("tcp.payload[5000:] contains 00", &p));
    assert!(!m("tcp.payload[-5000:1] == 47", &p));
    assert!(m("tcp.payload[0:3]", &p));
    assert!(!m("tcp.payload[5000]", &p));
    assert!(m("len(tcp.payload[4:11]) == 11", &p));
    // Long multi-range slice (heap fallback).
    assert!(m("len(tcp.payload[0:47,0:47,0:47]) == 141", &p));
}

// ---------------------------------------------------------------- functions, bitwise

#[test]
fn functions() {
    assert_eq!(which("len(http.request.method) == 3"), [F, T, F]);
    assert_eq!(which("len(tcp.payload) > 10"), [F, T, F]);
    assert_eq!(which("len(tcp) == 8"), [T, F, F]);
    assert_eq!(which("count(ip.addr) == 2"), [T, T, F]);
    assert_eq!(which("count(dns.qry.name) >= 2"), [F, F, T]);
    // tshark 4.0: count() of an absent field has no value.
    assert_eq!(which("count(udp) == 0"), [F, F, F]);
    assert_eq!(which("lower(http.host) == \"example.com\""), [F, T, F]);
    assert_eq!(which("upper(http.host) == \"EXAMPLE.COM\""), [F, T, F]);
    assert_eq!(
        which("lower(dns.qry.name) == \"www.example.com\""),
        [F, F, T]
    );
    assert_eq!(which("upper(dns.qry.name) == \"CAFÉ.EXAMPLE\""), [F, F, T]);
    assert_eq!(which("upper(http.host) contains \"AMP\""), [F, T, F]);
    assert_eq!(which("abs(tcp.window_size_scalefactor) == 1"), [T, F, F]);
    assert_eq!(which("string(tcp.dstport) == \"80\""), [T, F, F]);
    assert_eq!(which("string(tcp.flags) == \"0x0002\""), [T, F, F]);
    assert_eq!(which("string(ip.src) matches \"^10\\\\.\""), [T, T, F]);
    assert_eq!(which("len(http.host)"), [F, T, F]);
}

#[test]
fn bitwise_and() {
    assert_eq!(which("tcp.flags & 0x02"), [T, F, F]);
    assert_eq!(which("tcp.flags & 0x10"), [F, T, F]);
    assert_eq!(which("tcp.flags & 0x12 == 0x12"), [F, F, F]);
    assert_eq!(which("tcp.flags & 0x18 == 0x18"), [F, T, F]);
    assert_eq!(which("tcp.flags & 0x12 > 0x01"), [T, T, F]);
    assert_eq!(which("(tcp.flags & 0x12) == 0x02"), [T, F, F]);
    assert_eq!(which("tcp.flags & 0x02 and ip.ttl"), [T, F, F]);
    assert_eq!(which("not tcp.flags & 0x02"), [F, T, T]);
    assert_eq!(which("tcp.flags & 0x1 & 0x2"), [F, F, F]);
    assert_eq!(which("tcp.window_size_scalefactor & 4"), [T, T, F]);
}

// ---------------------------------------------------------------- fields()

#[test]
fn referenced_fields() {
    let f = compile(
        "ip.src == 10.0.0.1 and (tcp.port in {80, tcp.srcport} or len(http.host) > 3) and ip.src",
    );
    let names: Vec<&str> = f
        .fields()
        .iter()
        .filter_map(|&i| reg().def(i).map(|d| d.name))
        .collect();
    assert_eq!(names, ["ip.src", "tcp.port", "tcp.srcport", "http.host"]);
    // A literal that happens to look like a word is not a field.
    assert_eq!(compile("http.request.method == GET").fields().len(), 1);
}

// ---------------------------------------------------------------- errors

#[test]
fn unknown_field_suggests() {
    let e = err("tcp.prot == 80");
    assert_eq!(e.span, 0..8);
    assert!(e.message.contains("tcp.prot"), "{}", e.message);
    assert!(e.suggestions.contains(&"tcp.port"), "{:?}", e.suggestions);
    assert_eq!(
        e.render("tcp.prot == 80"),
        "tcp.prot == 80\n^~~~~~~~\n\"tcp.prot\" is not a known field\ndid you mean: tcp.port?"
            .replace("tcp.port?", &format!("{}?", e.suggestions.join(", ")))
    );
    let e = err("tcp and ip.scr");
    assert_eq!(e.span, 8..14);
    assert_eq!(e.suggestions.first(), Some(&"ip.src"));
    // On the right side: neither a field nor a value of the left's type.
    let e = err("ip.src == ip.dts");
    assert_eq!(e.span, 10..16);
    assert!(e.suggestions.contains(&"ip.dst"), "{:?}", e.suggestions);
    assert!(err("tcp.srcprt").suggestions.contains(&"tcp.srcport"));
}

#[test]
fn render_places_caret() {
    let e = err("ip.src == \"foo\"");
    assert_eq!(e.span, 10..15);
    let r = e.render("ip.src == \"foo\"");
    let lines: Vec<&str> = r.lines().collect();
    assert_eq!(lines[0], "ip.src == \"foo\"");
    assert_eq!(lines[1], "          ^~~~~");
    assert!(lines[2].contains("IPv4 address"), "{}", lines[2]);
    // Columns count characters, not bytes.
    let expr = "dns.qry.name == \"é\" and tcp.prot";
    let e = err(expr);
    let r = e.render(expr);
    assert_eq!(r.lines().nth(1), Some("                        ^~~~~~~~"));
    // At the end of input the caret sits just past the text.
    let e = err("tcp.port ==");
    assert_eq!(e.render("tcp.port ==").lines().nth(1), Some("         ^~"));
}

#[test]
fn syntax_errors_have_spans() {
    let cases: &[(&str, &str, &str)] = &[
        ("tcp.port ==", "==", "expected a value after '=='"),
        ("tcp.port eq", "eq", "expected a value after 'eq'"),
        ("tcp.port == and udp", "and", "expected a value after '=='"),
        ("(tcp.port == 80", "(", "unbalanced parenthesis"),
        ("tcp.port == 80)", ")", "unbalanced parenthesis"),
        ("((tcp) or udp", "(", "unbalanced parenthesis"),
        ("tcp.port == 80 tcp", "tcp", "was unexpected"),
        ("tcp and", "and", "expected an expression"),
        ("tcp or", "or", "expected an expression"),
        ("not", "not", "expected an expression"),
        ("", "", "empty filter"),
        ("   ", "", "empty filter"),
        ("tcp.port = 80", "=", "did you mean '=='"),
        ("tcp | udp", "|", "'||'"),
        ("tcp.port == 80 == 80", "==", "cannot be chained"),
        ("tcp.port in 80", "80", "expected '{'"),
        ("tcp.port in {80", "{", "unbalanced brace"),
        ("tcp.port in {}", "{}", "at least one"),
        ("tcp.payload[0:2 == 00", "==", "was unexpected in a slice"),
        ("tcp.payload[x] == 00", "x", "not a valid range"),
        ("tcp.payload[3-1] == 00", "3-1", "not a valid range"),
        ("tcp.payload[0:0] == 00", "0:0", "not a valid range"),
        ("tcp.payload contains \"abc", "\"abc", "unterminated string"),
        ("tcp.payload contains \"\\q\"", "\\q", "not a valid escape"),
        ("tcp.payload[0] == 'ab'", "'ab'", "exactly one byte"),
        ("tcp.payload contains \"\\u00\"", "\\u00", "4 hex digits"),
        ("tcp.port == 80 and $", "$", "unexpected character"),
        ("tcp.port == 80 # x", "#", "unexpected character"),
        ("tcp.port == é", "é", "unexpected character"),
        ("any tcp", "any tcp", "must be followed by a comparison"),
        (
            "tcp.port == contains",
            "contains",
            "expected a value after '=='",
        ),
        ("len(tcp.payload", "(", "unbalanced parenthesis"),
        ("len(tcp.payload 3)", "3", "was unexpected"),
    ];
    for (expr, at, msg) in cases {
        let e = err(expr);
        let got = expr.get(e.span.clone()).unwrap_or("<bad span>");
        assert_eq!(got, *at, "span for {expr:?}: {}", e.message);
        assert!(
            e.message.contains(msg),
            "message for {expr:?}: {}",
            e.message
        );
    }
}

#[test]
fn type_errors_have_spans() {
    let cases: &[(&str, &str, &str)] = &[
        ("ip.src == \"foo\"", "\"foo\"", "IPv4 address"),
        ("ip.src == 1.2.3", "1.2.3", "IPv4 address"),
        ("ip.src == 10.0.0.0/33", "10.0.0.0/33", "IPv4 address"),
        ("ipv6.addr == 2001:db8::/129", "2001:db8::/129", "IPv6"),
        (
            "tcp.port contains 3",
            "tcp.port",
            "cannot be used with 'contains'",
        ),
        (
            "tcp.port matches \"8\"",
            "tcp.port",
            "cannot be used with 'matches'",
        ),
        ("tcp.port == 70000", "70000", "too big"),
        ("ip.ttl == 256", "256", "too big"),
        ("tcp.port == -1", "-1", "too small"),
        ("tcp.port == foo", "foo", "unsigned integer"),
        ("tcp.flags.syn == maybe", "maybe", "boolean"),
        ("eth.src == 00:11:22:33:44", "00:11:22:33:44", "Ethernet"),
        ("tcp.payload == xyz", "xyz", "byte sequence"),
        ("tcp.payload == 0:1:234", "0:1:234", "byte sequence"),
        (
            "frame.time == \"yesterday\"",
            "\"yesterday\"",
            "absolute time",
        ),
        ("frame.time_relative == abc", "abc", "time offset"),
        ("ip.src == tcp.port", "tcp.port", "cannot be compared"),
        (
            "frame.time_relative == tcp.port",
            "tcp.port",
            "cannot be compared",
        ),
        ("tcp.port[0] == 0", "tcp.port", "cannot be sliced"),
        ("tcp.flags.syn & 1", "tcp.flags.syn", "needs an integer"),
        ("http.host & 1", "http.host", "needs an integer"),
        ("http.host matches bar", "bar", "quoted regular expression"),
        (
            "http.host matches \"(\"",
            "\"(\"",
            "invalid regular expression",
        ),
        (
            "http.host matches \"a{99999999}\"",
            "\"a{99999999}\"",
            "invalid regular expression",
        ),
        (
            "http.host matches \"(a)\\\\1\"",
            "\"(a)\\\\1\"",
            "invalid regular expression",
        ),
        ("upper(tcp.port) == \"80\"", "tcp.port", "string field"),
        ("len(tcp.port) == 2", "tcp.port", "len() needs"),
        ("abs(http.host) == 1", "http.host", "abs() needs"),
        ("count(tcp.payload[0]) == 1", "tcp.payload[0]", "field name"),
        ("frobnicate(tcp) == 1", "frobnicate", "unknown function"),
        (
            "len(tcp, udp) == 1",
            "len(tcp, udp)",
            "exactly one argument",
        ),
        ("len() == 1", "len()", "exactly one argument"),
        ("len(80) == 1", "80", "not a constant"),
        ("1 == 1", "1", "field or function"),
        ("\"GET\"", "\"GET\"", "not a constant"),
        ("80 in {80}", "80", "left of 'in'"),
        ("tcp.port in {80, \"x\"}", "\"x\"", "unsigned integer"),
        ("tcp.port in {80..foo}", "foo", "unsigned integer"),
        ("ip.geoip.lat == 1.2.3", "1.2.3", "floating-point"),
        ("ip.geoip.lat == inf", "inf", "floating-point"),
        ("eth.src == 'a'", "'a'", "character constant"),
    ];
    for (expr, at, msg) in cases {
        let e = err(expr);
        let got = expr.get(e.span.clone()).unwrap_or("<bad span>");
        assert_eq!(got, *at, "span for {expr:?}: {}", e.message);
        assert!(
            e.message.contains(msg),
            "message for {expr:?}: {}",
            e.message
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}tcp{}", "(".repeat(5000), ")".repeat(5000));
    assert!(err(&deep).message.contains("nested too deeply"));
    let nots = format!("{}tcp", "!".repeat(5000));
    assert!(err(&nots).message.contains("nested too deeply"));
    let ok = format!("{}tcp{}", "(".repeat(50), ")".repeat(50));
    assert_eq!(which(&ok), [T, T, F]);
}

#[test]
fn filter_error_is_std_error() {
    let e: Box<dyn std::error::Error> = Box::new(err("tcp.prot"));
    assert!(e.to_string().contains("tcp.prot"));
}
