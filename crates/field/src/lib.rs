//! Field definitions, typed values and the registry.
//!
//! Every named field (`ip.src`, `tcp.port`, `http.request.uri`, ...) is defined once, here in
//! shape and in the providing crate in content, so that the display filter, `-T fields`, `-T json`,
//! `-V`, `wiresift fields` and the UI all agree on names, types and descriptions.
//!
//! Providers (dissectors, the flow engine, application parsers) own a fixed block of field ids
//! (see [`Registry::from_sets`]), so a provider can answer [`FieldSource::visit`] with a cheap
//! `match` on its own constants, without a lookup per frame.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::ops::ControlFlow;

/// Identifier of a field: the provider's base plus the index in its definition table.
pub type FieldId = u32;

/// Display base of an integer field (how `-T fields` and `-V` print it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    Dec,
    Hex,
}

/// The type of a field, named after Wireshark's `FT_*` types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A protocol (`tcp`, `http`): its value is the bytes the layer covers.
    Protocol,
    /// FT_BOOLEAN.
    Bool,
    /// FT_UINT8..FT_UINT64 (`bits` is the width, for hex display).
    UInt { bits: u8, base: Base },
    /// FT_INT8..FT_INT64.
    Int,
    /// FT_DOUBLE.
    Float,
    /// FT_IPv4.
    Ipv4,
    /// FT_IPv6.
    Ipv6,
    /// FT_ETHER (MAC address).
    Ether,
    /// FT_BYTES.
    Bytes,
    /// FT_STRING.
    String,
    /// FT_ABSOLUTE_TIME (nanoseconds since the Unix epoch).
    AbsTime,
    /// FT_RELATIVE_TIME (nanoseconds).
    RelTime,
    /// FT_FRAMENUM (a frame number; compares as an unsigned integer).
    FrameNum,
}

impl FieldKind {
    /// Wireshark's name of the type, as `tshark -G fields` prints it.
    pub fn ws_name(self) -> &'static str {
        match self {
            FieldKind::Protocol => "FT_PROTOCOL",
            FieldKind::Bool => "FT_BOOLEAN",
            FieldKind::UInt { bits: 0..=8, .. } => "FT_UINT8",
            FieldKind::UInt { bits: 9..=16, .. } => "FT_UINT16",
            FieldKind::UInt { bits: 17..=24, .. } => "FT_UINT24",
            FieldKind::UInt { bits: 25..=32, .. } => "FT_UINT32",
            FieldKind::UInt { .. } => "FT_UINT64",
            FieldKind::Int => "FT_INT32",
            FieldKind::Float => "FT_DOUBLE",
            FieldKind::Ipv4 => "FT_IPv4",
            FieldKind::Ipv6 => "FT_IPv6",
            FieldKind::Ether => "FT_ETHER",
            FieldKind::Bytes => "FT_BYTES",
            FieldKind::String => "FT_STRING",
            FieldKind::AbsTime => "FT_ABSOLUTE_TIME",
            FieldKind::RelTime => "FT_RELATIVE_TIME",
            FieldKind::FrameNum => "FT_FRAMENUM",
        }
    }
}

/// One field definition.
#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    /// Wireshark's abbreviation, e.g. `ip.src`.
    pub name: &'static str,
    pub kind: FieldKind,
    /// Human-readable name, e.g. "Source Address".
    pub desc: &'static str,
}

impl FieldDef {
    pub const fn new(name: &'static str, kind: FieldKind, desc: &'static str) -> Self {
        FieldDef { name, kind, desc }
    }
}

/// Declares a provider's field table: one constant id per field (`BASE` + position) and the
/// `FIELDS` slice, from one list, so ids and definitions cannot drift apart.
///
/// ```
/// use wiresift_field::{FieldDef, FieldId, FieldKind, field_table};
/// pub const BASE: FieldId = 7000;
/// field_table! {
///     DEMO = "demo", FieldKind::Protocol, "Demo protocol";
///     DEMO_LEN = "demo.len", FieldKind::UInt { bits: 16, base: wiresift_field::Base::Dec }, "Length";
/// }
/// assert_eq!(DEMO_LEN, 7001);
/// assert_eq!(FIELDS[1].name, "demo.len");
/// ```
#[macro_export]
macro_rules! field_table {
    // Named form, for a provider with several tables in one module:
    // `field_table! { H2_FIELDS, H2_BASE, H2Idx; NAME = "name", KIND, "desc"; ... }`.
    ($table:ident, $base:expr, $idx:ident; $( $id:ident = $name:literal, $kind:expr, $desc:literal; )*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
        #[repr(u32)]
        enum $idx { $($id),* }
        $( #[allow(dead_code)] pub const $id: $crate::FieldId = $base + $idx::$id as $crate::FieldId; )*
        /// Every field of this table, in id order.
        pub static $table: &[$crate::FieldDef] = &[ $( $crate::FieldDef::new($name, $kind, $desc) ),* ];
    };
    ($( $id:ident = $name:literal, $kind:expr, $desc:literal; )*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
        #[repr(u32)]
        enum FieldIdx { $($id),* }
        $( #[allow(dead_code)] pub const $id: $crate::FieldId = BASE + FieldIdx::$id as $crate::FieldId; )*
        /// Every field this provider defines, in id order.
        pub static FIELDS: &[$crate::FieldDef] = &[ $( $crate::FieldDef::new($name, $kind, $desc) ),* ];
    };
}

/// A value of one occurrence of a field, borrowed for the duration of a visit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
    Ether([u8; 6]),
    Bytes(&'a [u8]),
    Str(&'a str),
    /// Absolute time, nanoseconds since the Unix epoch.
    Time(i64),
    /// Relative time, nanoseconds.
    RelTime(i64),
    /// A protocol's presence; the bytes are those the layer covers (for slices and `contains`).
    Protocol(&'a [u8]),
}

/// Where field values of one frame come from. Implemented by the dissection of a frame (and by
/// composites that add flow and application fields).
pub trait FieldSource {
    /// Calls `f` with each occurrence of field `id` in this frame, in protocol-tree order, until
    /// `f` returns `Break` or the occurrences run out. A field absent from the frame gives no call.
    fn visit(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>);

    /// True if the field occurs at least once.
    fn has(&self, id: FieldId) -> bool {
        let mut found = false;
        self.visit(id, &mut |_| {
            found = true;
            ControlFlow::Break(())
        });
        found
    }
}

/// All known fields, by id and by name.
#[derive(Debug, Default)]
pub struct Registry {
    defs: Vec<Option<&'static FieldDef>>,
    by_name: HashMap<&'static str, FieldId>,
}

impl Registry {
    /// Builds a registry from `(base, table)` pairs: the field at index `i` of `table` gets id
    /// `base + i`. Bases are fixed per provider so ids are compile-time constants there.
    ///
    /// # Panics
    /// If two tables overlap or a name is defined twice: both are programming errors, caught by
    /// the registry's own tests.
    pub fn from_sets(sets: &[(FieldId, &'static [FieldDef])]) -> Registry {
        let mut r = Registry::default();
        for &(base, table) in sets {
            for (i, def) in table.iter().enumerate() {
                let id = base + i as FieldId;
                let idx = id as usize;
                if r.defs.len() <= idx {
                    r.defs.resize(idx + 1, None);
                }
                assert!(r.defs[idx].is_none(), "field id {id} defined twice");
                r.defs[idx] = Some(def);
                let old = r.by_name.insert(def.name, id);
                assert!(old.is_none(), "field {} defined twice", def.name);
            }
        }
        r
    }

    pub fn lookup(&self, name: &str) -> Option<FieldId> {
        self.by_name.get(name).copied()
    }

    pub fn def(&self, id: FieldId) -> Option<&'static FieldDef> {
        self.defs.get(id as usize).copied().flatten()
    }

    /// Every field, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (FieldId, &'static FieldDef)> + '_ {
        self.defs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|d| (i as FieldId, d)))
    }

    /// Up to `n` known names closest to `name` (edit distance, then shared prefix), for "did you
    /// mean" messages.
    pub fn suggest(&self, name: &str, n: usize) -> Vec<&'static str> {
        let mut scored: Vec<(usize, &'static str)> = self
            .by_name
            .keys()
            .map(|k| (edit_distance(name, k), *k))
            .collect();
        scored.sort();
        let limit = (name.len() / 3).max(2);
        scored
            .into_iter()
            .filter(|(d, _)| *d <= limit)
            .take(n)
            .map(|(_, k)| k)
            .collect()
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// civil-from-days). Here because every crate that prints an absolute time needs it.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats a value as `tshark -T fields` prints it.
pub struct Display<'v, 'a> {
    pub value: &'v Value<'a>,
    pub kind: FieldKind,
}

impl fmt::Display for Display<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.value {
            Value::Bool(b) => f.write_str(if b { "1" } else { "0" }),
            Value::UInt(v) => match self.kind {
                FieldKind::UInt {
                    bits,
                    base: Base::Hex,
                } => {
                    let width = (bits as usize).div_ceil(4);
                    write!(f, "0x{v:0width$x}")
                }
                _ => write!(f, "{v}"),
            },
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Ipv4(a) => write!(f, "{}", std::net::Ipv4Addr::from(a)),
            Value::Ipv6(a) => write!(f, "{}", std::net::Ipv6Addr::from(a)),
            Value::Ether(m) => write!(
                f,
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            Value::Bytes(b) | Value::Protocol(b) => {
                if matches!(self.value, Value::Protocol(_)) {
                    return Ok(());
                }
                for x in b {
                    write!(f, "{x:02x}")?;
                }
                Ok(())
            }
            Value::Str(s) => f.write_str(s),
            Value::Time(ns) => {
                let secs = ns.div_euclid(1_000_000_000);
                let frac = ns.rem_euclid(1_000_000_000);
                write!(f, "{secs}.{frac:09}")
            }
            Value::RelTime(ns) => {
                let sign = if ns < 0 { "-" } else { "" };
                let a = ns.unsigned_abs();
                write!(f, "{sign}{}.{:09}", a / 1_000_000_000, a % 1_000_000_000)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static A: [FieldDef; 2] = [
        FieldDef::new("ip.src", FieldKind::Ipv4, "Source Address"),
        FieldDef::new("ip.dst", FieldKind::Ipv4, "Destination Address"),
    ];
    static B: [FieldDef; 1] = [FieldDef::new(
        "tcp.port",
        FieldKind::UInt {
            bits: 16,
            base: Base::Dec,
        },
        "Port",
    )];

    #[test]
    fn ids_follow_bases() {
        let r = Registry::from_sets(&[(0, &A), (1000, &B)]);
        assert_eq!(r.lookup("ip.dst"), Some(1));
        assert_eq!(r.lookup("tcp.port"), Some(1000));
        assert_eq!(r.def(1000).map(|d| d.name), Some("tcp.port"));
        assert_eq!(r.def(500).map(|d| d.name), None);
        assert_eq!(r.suggest("ip.scr", 3), vec!["ip.src"]);
    }

    #[test]
    fn display_like_tshark() {
        let k = FieldKind::UInt {
            bits: 16,
            base: Base::Hex,
        };
        assert_eq!(
            Display {
                value: &Value::UInt(0x18),
                kind: k
            }
            .to_string(),
            "0x0018"
        );
        assert_eq!(
            Display {
                value: &Value::Ipv6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                kind: FieldKind::Ipv6
            }
            .to_string(),
            "::1"
        );
        assert_eq!(
            Display {
                value: &Value::RelTime(-1_500_000_000),
                kind: FieldKind::RelTime
            }
            .to_string(),
            "-1.500000000"
        );
    }
}
