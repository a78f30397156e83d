//! The compiled form: fields resolved to ids, literals parsed to typed constants, regexes built.
//! [`crate::eval`] walks it per frame without allocating.

use regex::bytes::Regex;
use wiresift_field::{FieldId, FieldKind};

/// Type of an operand after type checking (Wireshark's ftypes, folded where they compare alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    /// Unsigned integer of `bits` width (FT_UINT*, FT_FRAMENUM as 32 bits).
    UInt(u8),
    Int,
    Float,
    Ipv4,
    Ipv6,
    Ether,
    Bytes,
    Str,
    AbsTime,
    RelTime,
    Protocol,
}

impl Ty {
    pub(crate) fn of(kind: FieldKind) -> Ty {
        match kind {
            FieldKind::Protocol => Ty::Protocol,
            FieldKind::Bool => Ty::Bool,
            FieldKind::UInt { bits, .. } => Ty::UInt(bits),
            FieldKind::Int => Ty::Int,
            FieldKind::Float => Ty::Float,
            FieldKind::Ipv4 => Ty::Ipv4,
            FieldKind::Ipv6 => Ty::Ipv6,
            FieldKind::Ether => Ty::Ether,
            FieldKind::Bytes => Ty::Bytes,
            FieldKind::String => Ty::Str,
            FieldKind::AbsTime => Ty::AbsTime,
            FieldKind::RelTime => Ty::RelTime,
            FieldKind::FrameNum => Ty::UInt(32),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Bool => "boolean",
            Ty::UInt(_) => "unsigned integer",
            Ty::Int => "signed integer",
            Ty::Float => "floating-point number",
            Ty::Ipv4 => "IPv4 address",
            Ty::Ipv6 => "IPv6 address",
            Ty::Ether => "Ethernet (MAC) address",
            Ty::Bytes => "byte sequence",
            Ty::Str => "character string",
            Ty::AbsTime => "absolute time",
            Ty::RelTime => "time offset",
            Ty::Protocol => "protocol",
        }
    }

    /// The name with its indefinite article, for messages ("an IPv4 address").
    pub(crate) fn a(self) -> String {
        let n = self.name();
        let article = if n.starts_with(['a', 'e', 'i', 'o', 'u', 'I', 'E']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {n}")
    }

    pub(crate) fn is_integer(self) -> bool {
        matches!(self, Ty::UInt(_) | Ty::Int)
    }

    /// Types whose values are (or convert to) bytes: sliceable, `len()`-able.
    pub(crate) fn is_bytes_like(self) -> bool {
        matches!(
            self,
            Ty::Bytes | Ty::Protocol | Ty::Str | Ty::Ether | Ty::Ipv4 | Ty::Ipv6
        )
    }

    /// Types that `contains` and `matches` accept on the left.
    pub(crate) fn is_searchable(self) -> bool {
        matches!(self, Ty::Bytes | Ty::Protocol | Ty::Str)
    }

    /// Whether values of the two types can be compared with each other.
    pub(crate) fn compatible(self, other: Ty) -> bool {
        let fam = |t: Ty| match t {
            Ty::UInt(_) | Ty::Int => 0,
            Ty::Bytes | Ty::Protocol => 1,
            Ty::Bool => 2,
            Ty::Float => 3,
            Ty::Ipv4 => 4,
            Ty::Ipv6 => 5,
            Ty::Ether => 6,
            Ty::Str => 7,
            Ty::AbsTime => 8,
            Ty::RelTime => 9,
        };
        fam(self) == fam(other)
    }
}

/// A literal parsed for the type of the operand it is compared with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Const {
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    /// Address and prefix length (32 for a plain address): `==` is subnet membership.
    Ipv4(u32, u8),
    Ipv6(u128, u8),
    Ether([u8; 6]),
    Bytes(Vec<u8>),
    Str(Vec<u8>),
    Time(i64),
    RelTime(i64),
}

#[derive(Debug)]
pub(crate) enum Operand {
    Field(FieldId),
    Const(Const),
    Slice(Box<Operand>, Box<[crate::ast::SliceRange]>),
    Len(Box<Operand>),
    Count(FieldId),
    Lower(Box<Operand>),
    Upper(Box<Operand>),
    Abs(Box<Operand>),
    /// `string(f)`: the field formatted as `-T fields` prints it.
    String(FieldId, FieldKind),
    BitAnd(Box<Operand>, Box<Operand>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
pub(crate) enum SetElem {
    One(Operand),
    Range(Operand, Operand),
}

#[derive(Debug)]
pub(crate) enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Xor(Box<Node>, Box<Node>),
    Not(Box<Node>),
    /// The operand yields at least one value.
    Exists(Operand),
    /// The operand yields at least one non-zero integer (a bare `f & mask`).
    NonZero(Operand),
    Cmp {
        cmp: Cmp,
        all: bool,
        l: Operand,
        r: Operand,
    },
    In {
        all: bool,
        l: Operand,
        set: Vec<SetElem>,
    },
    Contains {
        all: bool,
        l: Operand,
        r: Operand,
    },
    Matches {
        all: bool,
        l: Operand,
        re: Regex,
    },
}
