//! Random input never panics the compiler, and whatever compiles evaluates without panicking.

use std::ops::ControlFlow;

use proptest::prelude::*;
use wiresift_field::{Base, FieldDef, FieldId, FieldKind, FieldSource, Registry, Value};
use wiresift_filter::Filter;

static DEFS: [FieldDef; 12] = [
    FieldDef::new("frame", FieldKind::Protocol, "Frame"),
    FieldDef::new("frame.number", FieldKind::FrameNum, "Frame Number"),
    FieldDef::new("frame.time", FieldKind::AbsTime, "Arrival Time"),
    FieldDef::new("frame.time_relative", FieldKind::RelTime, "Relative time"),
    FieldDef::new("eth.src", FieldKind::Ether, "Source"),
    FieldDef::new("ip.addr", FieldKind::Ipv4, "Address"),
    FieldDef::new("ipv6.addr", FieldKind::Ipv6, "Address"),
    FieldDef::new(
        "tcp.port",
        FieldKind::UInt {
            bits: 16,
            base: Base::Dec,
        },
        "Port",
    ),
    FieldDef::new("tcp.flags.syn", FieldKind::Bool, "Syn"),
    FieldDef::new("tcp.payload", FieldKind::Bytes, "Payload"),
    FieldDef::new("http.host", FieldKind::String, "Host"),
    FieldDef::new("x.int", FieldKind::Int, "Signed"),
];

struct Src;

impl FieldSource for Src {
    fn visit(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) {
        let vals: &[Value<'static>] = match id {
            0 => &[Value::Protocol(b"\x00\x01GET / HTTP/1.1\r\n")],
            1 => &[Value::UInt(7)],
            2 => &[Value::Time(1_363_624_631_382_875_000)],
            3 => &[Value::RelTime(-5)],
            4 => &[Value::Ether([0, 1, 2, 3, 4, 5])],
            5 => &[Value::Ipv4([10, 0, 0, 1]), Value::Ipv4([10, 0, 0, 2])],
            6 => &[Value::Ipv6([0; 16])],
            7 => &[Value::UInt(80), Value::UInt(443)],
            8 => &[Value::Bool(true)],
            9 => &[Value::Bytes(b"\xffGET")],
            10 => &[Value::Str("Example.com"), Value::Str("")],
            11 => &[Value::Int(i64::MIN)],
            _ => &[],
        };
        for v in vals {
            if f(*v).is_break() {
                return;
            }
        }
    }
}

fn reg() -> Registry {
    Registry::from_sets(&[(0, &DEFS)])
}

/// Tokens that make grammatical-ish expressions likelier than uniform noise does.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("frame".to_string()),
        Just("tcp.port".to_string()),
        Just("ip.addr".to_string()),
        Just("ipv6.addr".to_string()),
        Just("eth.src".to_string()),
        Just("http.host".to_string()),
        Just("tcp.payload".to_string()),
        Just("tcp.flags.syn".to_string()),
        Just("frame.time".to_string()),
        Just("frame.time_relative".to_string()),
        Just("x.int".to_string()),
        Just("frame.number".to_string()),
        prop_oneof![
            Just("=="),
            Just("!="),
            Just("==="),
            Just("!=="),
            Just("<"),
            Just(">="),
            Just("~"),
            Just("&"),
            Just("and"),
            Just("or"),
            Just("xor"),
            Just("not"),
            Just("!"),
            Just("in"),
            Just("contains"),
            Just("matches"),
            Just("any"),
            Just("all"),
            Just("("),
            Just(")"),
            Just("{"),
            Just("}"),
            Just("["),
            Just("]"),
            Just(","),
            Just(".."),
            Just(":"),
            Just("-"),
            Just("len("),
            Just("count("),
            Just("lower("),
            Just("abs("),
            Just("string("),
            Just("upper("),
        ]
        .prop_map(str::to_string),
        "-?[0-9]{1,20}",
        "0x[0-9a-f]{1,18}",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(/[0-9]{1,3})?",
        "[0-9a-f:]{1,20}(/[0-9]{1,3})?",
        "-?[0-9]{0,3}[:-]?-?[0-9]{0,3}",
        "\"[^\"]{0,12}\"",
        "r\"[^\"]{0,8}\"",
        "'.{0,3}'",
        "[a-z.]{1,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,80}") {
        let r = reg();
        if let Ok(f) = Filter::compile(&s, &r) {
            let _ = f.matches(&Src);
        } else if let Err(e) = Filter::compile(&s, &r) {
            let _ = e.render(&s);
            prop_assert!(e.span.start <= e.span.end && e.span.end <= s.len(), "{:?} {:?}", s, e);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..60)) {
        let s = String::from_utf8_lossy(&b);
        let r = reg();
        match Filter::compile(&s, &r) {
            Ok(f) => { let _ = f.matches(&Src); }
            Err(e) => { let _ = e.render(&s); }
        }
    }

    #[test]
    fn token_soup_never_panics(toks in proptest::collection::vec(token(), 1..14), sep in prop_oneof![Just(" "), Just("")]) {
        let s = toks.join(sep);
        let r = reg();
        match Filter::compile(&s, &r) {
            Ok(f) => { let _ = f.matches(&Src); }
            Err(e) => {
                prop_assert!(e.span.start <= e.span.end && e.span.end <= s.len(), "{:?} {:?}", s, e);
                prop_assert!(s.is_char_boundary(e.span.start) && s.is_char_boundary(e.span.end), "{:?} {:?}", s, e);
                let _ = e.render(&s);
            }
        }
    }
}
