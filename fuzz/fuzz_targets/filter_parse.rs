//! Display-filter compiler on arbitrary input: must never panic, every error span must lie on
//! character boundaries inside the expression, and whatever compiles must evaluate.
#![no_main]

use std::ops::ControlFlow;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wiresift_field::{Base, FieldDef, FieldId, FieldKind, FieldSource, Registry, Value};
use wiresift_filter::Filter;

const U16: FieldKind = FieldKind::UInt {
    bits: 16,
    base: Base::Dec,
};

static DEFS: [FieldDef; 14] = [
    FieldDef::new("frame", FieldKind::Protocol, "Frame"),
    FieldDef::new("frame.number", FieldKind::FrameNum, "Frame Number"),
    FieldDef::new("frame.time", FieldKind::AbsTime, "Arrival Time"),
    FieldDef::new(
        "frame.time_relative",
        FieldKind::RelTime,
        "Time since first frame",
    ),
    FieldDef::new("eth.src", FieldKind::Ether, "Source"),
    FieldDef::new("ip.addr", FieldKind::Ipv4, "Source or Destination Address"),
    FieldDef::new(
        "ipv6.addr",
        FieldKind::Ipv6,
        "Source or Destination Address",
    ),
    FieldDef::new("tcp", FieldKind::Protocol, "Transmission Control Protocol"),
    FieldDef::new("tcp.port", U16, "Source or Destination Port"),
    FieldDef::new("tcp.flags.syn", FieldKind::Bool, "Syn"),
    FieldDef::new("tcp.payload", FieldKind::Bytes, "TCP payload"),
    FieldDef::new("http.host", FieldKind::String, "Host"),
    FieldDef::new(
        "tcp.window_size_scalefactor",
        FieldKind::Int,
        "Window size scaling factor",
    ),
    FieldDef::new("ip.geoip.lat", FieldKind::Float, "Latitude"),
];

fn reg() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::from_sets(&[(0, &DEFS)]))
}

struct Src;

impl FieldSource for Src {
    fn visit(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) {
        let vals: &[Value<'static>] = match id {
            0 => &[Value::Protocol(
                b"\x00\x10\xdb\x88\xd2\xefGET / HTTP/1.1\r\n",
            )],
            1 => &[Value::UInt(4)],
            2 => &[Value::Time(1_363_624_631_382_875_000)],
            3 => &[Value::RelTime(22_791_000)],
            4 => &[Value::Ether([0xc8, 0xbc, 0xc8, 0x96, 0xd2, 0xa0])],
            5 => &[
                Value::Ipv4([141, 142, 228, 5]),
                Value::Ipv4([54, 243, 118, 187]),
            ],
            6 => &[Value::Ipv6([
                0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            ])],
            7 => &[Value::Protocol(b"\xc3\xe9\x00\x50")],
            8 => &[Value::UInt(50153), Value::UInt(80)],
            9 => &[Value::Bool(false)],
            10 => &[Value::Bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
            11 => &[Value::Str("Example.com")],
            12 => &[Value::Int(-1)],
            13 => &[Value::Float(40.11)],
            _ => &[],
        };
        for v in vals {
            if f(*v).is_break() {
                return;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    match Filter::compile(expr, reg()) {
        Ok(f) => {
            let _ = f.matches(&Src);
            let _ = f.fields();
        }
        Err(e) => {
            assert!(e.span.start <= e.span.end && e.span.end <= expr.len());
            assert!(expr.is_char_boundary(e.span.start) && expr.is_char_boundary(e.span.end));
            let _ = e.render(expr);
        }
    }
});
