//! Per-frame evaluation. Operands are streams of values produced through
//! [`FieldSource::visit`] callbacks; relations nest the callbacks of their two sides, so a
//! comparison of two fields needs no buffer, and `ControlFlow::Break` stops as soon as the answer
//! is known. Nothing allocates except `lower()`/`upper()` on long or non-ASCII strings,
//! `string()`, and slices with several ranges that do not fit a stack buffer.

use std::cmp::Ordering;
use std::ops::ControlFlow;

use wiresift_field::{Display, FieldSource, Value};

use crate::ast::SliceRange;
use crate::ir::{Cmp, Const, Node, Operand, SetElem};

/// One value during evaluation: a field value, or a constant (which may be a subnet).
#[derive(Clone, Copy, Debug)]
enum V<'a> {
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Ip4(u32, u8),
    Ip6(u128, u8),
    Ether([u8; 6]),
    Bytes(&'a [u8]),
    Time(i64),
    RelTime(i64),
}

impl<'a> V<'a> {
    fn from_value(v: Value<'a>) -> V<'a> {
        match v {
            Value::Bool(b) => V::Bool(b),
            Value::UInt(x) => V::UInt(x),
            Value::Int(x) => V::Int(x),
            Value::Float(x) => V::Float(x),
            Value::Ipv4(a) => V::Ip4(u32::from_be_bytes(a), 32),
            Value::Ipv6(a) => V::Ip6(u128::from_be_bytes(a), 128),
            Value::Ether(m) => V::Ether(m),
            Value::Bytes(b) | Value::Protocol(b) => V::Bytes(b),
            Value::Str(s) => V::Bytes(s.as_bytes()),
            Value::Time(t) => V::Time(t),
            Value::RelTime(t) => V::RelTime(t),
        }
    }

    fn from_const(c: &'a Const) -> V<'a> {
        match c {
            Const::Bool(b) => V::Bool(*b),
            Const::UInt(x) => V::UInt(*x),
            Const::Int(x) => V::Int(*x),
            Const::Float(x) => V::Float(*x),
            Const::Ipv4(a, p) => V::Ip4(*a, *p),
            Const::Ipv6(a, p) => V::Ip6(*a, *p),
            Const::Ether(m) => V::Ether(*m),
            Const::Bytes(b) | Const::Str(b) => V::Bytes(b),
            Const::Time(t) => V::Time(*t),
            Const::RelTime(t) => V::RelTime(*t),
        }
    }

    fn as_int(self) -> Option<i128> {
        match self {
            V::UInt(x) => Some(i128::from(x)),
            V::Int(x) => Some(i128::from(x)),
            _ => None,
        }
    }
}

/// Calls `g` with the bytes of a bytes-like value (addresses in network order).
fn with_bytes<R>(v: V<'_>, g: impl FnOnce(&[u8]) -> R) -> Option<R> {
    match v {
        V::Bytes(b) => Some(g(b)),
        V::Ether(m) => Some(g(&m)),
        V::Ip4(a, _) => Some(g(&a.to_be_bytes())),
        V::Ip6(a, _) => Some(g(&a.to_be_bytes())),
        _ => None,
    }
}

type Sink<'s> = dyn FnMut(V<'_>) -> ControlFlow<()> + 's;

/// Feeds every value of `op` to `f`; returns `Break` if `f` did.
fn each(op: &Operand, src: &dyn FieldSource, f: &mut Sink<'_>) -> ControlFlow<()> {
    match op {
        Operand::Field(id) => {
            let mut flow = ControlFlow::Continue(());
            src.visit(*id, &mut |v| {
                flow = f(V::from_value(v));
                flow
            });
            flow
        }
        Operand::Const(c) => f(V::from_const(c)),
        Operand::Slice(inner, ranges) => each(inner, src, &mut |v| {
            with_bytes(v, |b| slice(b, ranges, &mut *f)).unwrap_or(ControlFlow::Continue(()))
        }),
        Operand::Len(inner) => each(inner, src, &mut |v| {
            with_bytes(v, |b| f(V::UInt(b.len() as u64))).unwrap_or(ControlFlow::Continue(()))
        }),
        Operand::Count(id) => {
            let mut n = 0u64;
            src.visit(*id, &mut |_| {
                n += 1;
                ControlFlow::Continue(())
            });
            // As tshark 4.0: count() of an absent field yields no value (`count(udp) == 0` is
            // false on a TCP frame).
            if n == 0 {
                ControlFlow::Continue(())
            } else {
                f(V::UInt(n))
            }
        }
        Operand::Lower(inner) => each(inner, src, &mut |v| case_map(v, false, &mut *f)),
        Operand::Upper(inner) => each(inner, src, &mut |v| case_map(v, true, &mut *f)),
        Operand::Abs(inner) => each(inner, src, &mut |v| {
            f(match v {
                V::Int(x) => V::Int(x.saturating_abs()),
                V::Float(x) => V::Float(x.abs()),
                V::RelTime(x) => V::RelTime(x.saturating_abs()),
                other => other,
            })
        }),
        Operand::String(id, kind) => {
            let mut flow = ControlFlow::Continue(());
            src.visit(*id, &mut |v| {
                let s = Display {
                    value: &v,
                    kind: *kind,
                }
                .to_string();
                flow = f(V::Bytes(s.as_bytes()));
                flow
            });
            flow
        }
        Operand::BitAnd(a, b) => each(a, src, &mut |x| {
            each(b, src, &mut |y| match (x, y) {
                (V::UInt(p), V::UInt(q)) => f(V::UInt(p & q)),
                (V::Bytes(p), V::UInt(q)) if !p.is_empty() && p.len() <= 8 => {
                    let v = p.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
                    f(V::UInt(v & q))
                }
                (V::Int(p), V::Int(q)) => f(V::Int(p & q)),
                (p, q) => match (p.as_int(), q.as_int()) {
                    (Some(p), Some(q)) => f(V::Int((p & q) as i64)),
                    _ => ControlFlow::Continue(()),
                },
            })
        }),
    }
}

/// Resolves one range against a value of `n` bytes; `None` when it does not fit.
fn resolve(r: SliceRange, n: usize) -> Option<(usize, usize)> {
    let n_i = i64::try_from(n).ok()?;
    let start = if r.start < 0 { n_i + r.start } else { r.start };
    if start < 0 || start > n_i {
        return None;
    }
    let end = match r.len {
        None => n_i,
        Some(l) => start.checked_add(i64::try_from(l).ok()?)?,
    };
    if end > n_i || end <= start {
        return None;
    }
    Some((start as usize, end as usize))
}

/// Slices `b`: one range borrows; several are concatenated (in a stack buffer when short).
/// A range beyond the data yields no value, as in Wireshark (`frame[0:5000] == 00` is false).
fn slice(b: &[u8], ranges: &[SliceRange], f: &mut Sink<'_>) -> ControlFlow<()> {
    if let [r] = ranges {
        return match resolve(*r, b.len()) {
            Some((s, e)) => f(V::Bytes(&b[s..e])),
            None => ControlFlow::Continue(()),
        };
    }
    let mut total = 0;
    for r in ranges {
        match resolve(*r, b.len()) {
            Some((s, e)) => total += e - s,
            None => return ControlFlow::Continue(()),
        }
    }
    let mut stack = [0u8; 128];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if total <= stack.len() {
        &mut stack[..total]
    } else {
        heap.resize(total, 0);
        &mut heap
    };
    let mut at = 0;
    for r in ranges {
        if let Some((s, e)) = resolve(*r, b.len()) {
            buf[at..at + (e - s)].copy_from_slice(&b[s..e]);
            at += e - s;
        }
    }
    f(V::Bytes(buf))
}

fn case_map(v: V<'_>, upper: bool, f: &mut Sink<'_>) -> ControlFlow<()> {
    let V::Bytes(b) = v else {
        return f(v);
    };
    let mut stack = [0u8; 256];
    if b.len() <= stack.len() && b.is_ascii() {
        let out = &mut stack[..b.len()];
        out.copy_from_slice(b);
        if upper {
            out.make_ascii_uppercase();
        } else {
            out.make_ascii_lowercase();
        }
        return f(V::Bytes(out));
    }
    let s = String::from_utf8_lossy(b);
    let m = if upper {
        s.to_uppercase()
    } else {
        s.to_lowercase()
    };
    f(V::Bytes(m.as_bytes()))
}

/// Order of two values of compatible types; `None` if they cannot be compared.
fn order(a: V<'_>, b: V<'_>) -> Option<Ordering> {
    Some(match (a, b) {
        (V::Bool(x), V::Bool(y)) => x.cmp(&y),
        (V::Float(x), V::Float(y)) => return x.partial_cmp(&y),
        (V::Float(x), y) => return x.partial_cmp(&(y.as_int()? as f64)),
        (x, V::Float(y)) => return (x.as_int()? as f64).partial_cmp(&y),
        // A prefix on either side makes this a subnet test: compare the masked network parts.
        (V::Ip4(x, p), V::Ip4(y, q)) => {
            let m = u32::MAX.checked_shl(32 - u32::from(p.min(q))).unwrap_or(0);
            (x & m).cmp(&(y & m))
        }
        (V::Ip6(x, p), V::Ip6(y, q)) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(p.min(q)))
                .unwrap_or(0);
            (x & m).cmp(&(y & m))
        }
        (V::Ether(x), V::Ether(y)) => x.cmp(&y),
        (V::Bytes(x), V::Bytes(y)) => x.cmp(y),
        (V::Ether(x), V::Bytes(y)) => x[..].cmp(y),
        (V::Bytes(x), V::Ether(y)) => x.cmp(&y[..]),
        (V::Time(x), V::Time(y)) | (V::RelTime(x), V::RelTime(y)) => x.cmp(&y),
        (x, y) => x.as_int()?.cmp(&y.as_int()?),
    })
}

fn compare(a: V<'_>, b: V<'_>, cmp: Cmp) -> bool {
    let Some(o) = order(a, b) else {
        return false;
    };
    match cmp {
        Cmp::Eq => o == Ordering::Equal,
        Cmp::Ne => o != Ordering::Equal,
        Cmp::Lt => o == Ordering::Less,
        Cmp::Le => o != Ordering::Greater,
        Cmp::Gt => o == Ordering::Greater,
        Cmp::Ge => o != Ordering::Less,
    }
}

fn contains(hay: V<'_>, needle: V<'_>) -> bool {
    with_bytes(hay, |h| {
        with_bytes(needle, |n| {
            n.is_empty() || h.windows(n.len()).any(|w| w == n)
        })
        .unwrap_or(false)
    })
    .unwrap_or(false)
}

/// "Any" mode: some value of `l` (with some value of `r`) satisfies `test`.
/// "All" mode: at least one pair exists and every pair satisfies `test` (Wireshark's `all_eq`,
/// `all_ne`: false when a side has no value).
fn quantified(
    all: bool,
    l: &Operand,
    src: &dyn FieldSource,
    test: &mut dyn FnMut(V<'_>) -> bool,
) -> bool {
    let mut seen = false;
    let mut result = all;
    let _ = each(l, src, &mut |a| {
        seen = true;
        let t = test(a);
        if t != all {
            result = t;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    seen && result
}

/// Pairs every value of `l` with every value of `r`.
fn pairwise(
    all: bool,
    l: &Operand,
    r: &Operand,
    src: &dyn FieldSource,
    test: &dyn Fn(V<'_>, V<'_>) -> bool,
) -> bool {
    quantified(all, l, src, &mut |a| {
        let mut seen = false;
        let mut result = all;
        let _ = each(r, src, &mut |b| {
            seen = true;
            let t = test(a, b);
            if t != all {
                result = t;
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        // In "all" mode a left value with no right value fails, as Wireshark's all_eq does.
        seen && result
    })
}

fn in_set(a: V<'_>, set: &[SetElem], src: &dyn FieldSource) -> bool {
    set.iter().any(|e| match e {
        SetElem::One(op) => {
            let mut hit = false;
            let _ = each(op, src, &mut |b| {
                hit = compare(a, b, Cmp::Eq);
                if hit {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            hit
        }
        SetElem::Range(lo, hi) => pairwise(false, lo, hi, src, &|x, y| {
            compare(a, x, Cmp::Ge) && compare(a, y, Cmp::Le)
        }),
    })
}

pub(crate) fn eval(n: &Node, src: &dyn FieldSource) -> bool {
    match n {
        Node::And(a, b) => eval(a, src) && eval(b, src),
        Node::Or(a, b) => eval(a, src) || eval(b, src),
        Node::Xor(a, b) => eval(a, src) != eval(b, src),
        Node::Not(a) => !eval(a, src),
        Node::Exists(op) => each(op, src, &mut |_| ControlFlow::Break(())).is_break(),
        Node::NonZero(op) => each(op, src, &mut |v| match v.as_int() {
            Some(x) if x != 0 => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })
        .is_break(),
        Node::Cmp { cmp, all, l, r } => pairwise(*all, l, r, src, &|a, b| compare(a, b, *cmp)),
        Node::In { all, l, set } => quantified(*all, l, src, &mut |a| in_set(a, set, src)),
        Node::Contains { all, l, r } => pairwise(*all, l, r, src, &contains),
        Node::Matches { all, l, re } => quantified(*all, l, src, &mut |a| {
            with_bytes(a, |b| re.is_match(b)).unwrap_or(false)
        }),
    }
}
