//! Resolves words to fields or typed literals and checks operand types against the registry,
//! so that every mistake is reported at compile time with a span and evaluation needs no type
//! dispatch beyond matching the value variants.

use regex::bytes::RegexBuilder;
use wiresift_field::{FieldId, Registry};

use crate::ast::{Expr, RelOp, RelRhs, SetItem, Span, Val, ValKind};
use crate::error::FilterError;
use crate::ir::{Cmp, Node, Operand, SetElem, Ty};
use crate::literal::{self, Lit};

/// Upper bound on the compiled regex size: a filter is user input, keep a hostile pattern from
/// eating memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub(crate) struct Checker<'r> {
    reg: &'r Registry,
    pub fields: Vec<FieldId>,
}

/// A value that is either typed (field, function, slice) or a literal waiting for a type.
enum Side {
    Typed(Operand, Ty),
    Lit,
}

impl<'r> Checker<'r> {
    pub(crate) fn new(reg: &'r Registry) -> Self {
        Checker {
            reg,
            fields: Vec::new(),
        }
    }

    fn field(&mut self, name: &str) -> Option<(FieldId, wiresift_field::FieldKind)> {
        let id = self.reg.lookup(name)?;
        let def = self.reg.def(id)?;
        if !self.fields.contains(&id) {
            self.fields.push(id);
        }
        Some((id, def.kind))
    }

    fn unknown_field(&self, name: &str, span: &Span) -> FilterError {
        FilterError::new(format!("\"{name}\" is not a known field"), span.clone())
            .with_suggestions(self.reg.suggest(name, 3))
    }

    pub(crate) fn expr(&mut self, e: &Expr) -> Result<Node, FilterError> {
        Ok(match e {
            Expr::Or(a, b) => Node::Or(Box::new(self.expr(a)?), Box::new(self.expr(b)?)),
            Expr::Xor(a, b) => Node::Xor(Box::new(self.expr(a)?), Box::new(self.expr(b)?)),
            Expr::And(a, b) => Node::And(Box::new(self.expr(a)?), Box::new(self.expr(b)?)),
            Expr::Not(a) => Node::Not(Box::new(self.expr(a)?)),
            Expr::Test(v) => match self.side(v)? {
                Side::Typed(op, ty) => match (&op, ty) {
                    (Operand::BitAnd(..), _) => Node::NonZero(op),
                    _ => Node::Exists(op),
                },
                Side::Lit => return Err(self.not_a_field(v, "a field to test")),
            },
            Expr::Rel {
                op,
                all,
                l,
                r,
                op_span,
            } => self.rel(*op, *all, l, r, op_span)?,
        })
    }

    /// Error for a literal where a field was required: an unknown field if it looks like one.
    fn not_a_field(&self, v: &Val, wanted: &str) -> FilterError {
        match &v.kind {
            ValKind::Word(w) if w.bytes().any(|c| c.is_ascii_alphabetic()) => {
                self.unknown_field(w, &v.span)
            }
            _ => FilterError::new(
                format!("expected {wanted}, not a constant value"),
                v.span.clone(),
            ),
        }
    }

    fn rel(
        &mut self,
        op: RelOp,
        all: bool,
        l: &Val,
        r: &RelRhs,
        op_span: &Span,
    ) -> Result<Node, FilterError> {
        let (lop, lty) = match self.side(l)? {
            Side::Typed(o, t) => (o, t),
            Side::Lit => {
                // A constant on the left: allowed if the right side is typed (`80 == tcp.port`).
                let RelRhs::Val(rv) = r else {
                    return Err(self.not_a_field(l, "a field or function on the left of 'in'"));
                };
                if !matches!(
                    op,
                    RelOp::Eq | RelOp::Ne | RelOp::Lt | RelOp::Le | RelOp::Gt | RelOp::Ge
                ) {
                    return Err(self.not_a_field(
                        l,
                        &format!("a field or function on the left of '{}'", op.text()),
                    ));
                }
                return match self.side(rv)? {
                    Side::Typed(ro, rty) => {
                        let lc = self.lit(l, rty)?;
                        // Swap so the field is on the left; mirror the ordering.
                        let cmp = match op {
                            RelOp::Lt => Cmp::Gt,
                            RelOp::Le => Cmp::Ge,
                            RelOp::Gt => Cmp::Lt,
                            RelOp::Ge => Cmp::Le,
                            RelOp::Ne => Cmp::Ne,
                            _ => Cmp::Eq,
                        };
                        Ok(Node::Cmp {
                            cmp,
                            all,
                            l: ro,
                            r: lc,
                        })
                    }
                    Side::Lit => Err(self.not_a_field(
                        l,
                        &format!("a field or function on one side of '{}'", op.text()),
                    )),
                };
            }
        };
        match op {
            RelOp::In => {
                let RelRhs::Set(items) = r else {
                    return Err(FilterError::new(
                        "expected a set after 'in'",
                        op_span.clone(),
                    ));
                };
                let mut set = Vec::with_capacity(items.len());
                for it in items {
                    set.push(match it {
                        SetItem::One(v) => SetElem::One(self.operand_for(v, lty)?),
                        SetItem::Range(a, b) => {
                            SetElem::Range(self.operand_for(a, lty)?, self.operand_for(b, lty)?)
                        }
                    });
                }
                Ok(Node::In { all, l: lop, set })
            }
            RelOp::Contains => {
                if !lty.is_searchable() {
                    return Err(FilterError::new(
                        format!(
                            "{} is {} and cannot be used with 'contains'; it needs a string, bytes or protocol",
                            describe(l),
                            lty.a()
                        ),
                        l.span.clone(),
                    ));
                }
                let RelRhs::Val(rv) = r else {
                    return Err(FilterError::new("expected a value", op_span.clone()));
                };
                let rop = self.operand_for(rv, lty)?;
                Ok(Node::Contains {
                    all,
                    l: lop,
                    r: rop,
                })
            }
            RelOp::Matches => {
                if !lty.is_searchable() {
                    return Err(FilterError::new(
                        format!(
                            "{} is {} and cannot be used with 'matches'; it needs a string, bytes or protocol",
                            describe(l),
                            lty.a()
                        ),
                        l.span.clone(),
                    ));
                }
                let RelRhs::Val(rv) = r else {
                    return Err(FilterError::new(
                        "expected a regular expression",
                        op_span.clone(),
                    ));
                };
                let ValKind::Str(pat) = &rv.kind else {
                    return Err(FilterError::new(
                        "expected a quoted regular expression after 'matches', e.g. \"^GET\"",
                        rv.span.clone(),
                    ));
                };
                let pat = regex_source(pat);
                let pat = pat.as_str();
                // Wireshark's `matches` is case-insensitive by default; `(?-i)` turns that off.
                let re = RegexBuilder::new(pat)
                    .case_insensitive(true)
                    .unicode(false)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .or_else(|_| {
                        // Without Unicode mode `\w` and friends mean ASCII; if the pattern needs
                        // Unicode classes (`\p{L}`) retry with Unicode on.
                        RegexBuilder::new(pat)
                            .case_insensitive(true)
                            .size_limit(REGEX_SIZE_LIMIT)
                            .build()
                    })
                    .map_err(|e| {
                        FilterError::new(
                            format!("invalid regular expression: {}", regex_msg(&e)),
                            rv.span.clone(),
                        )
                    })?;
                Ok(Node::Matches { all, l: lop, re })
            }
            _ => {
                let RelRhs::Val(rv) = r else {
                    return Err(FilterError::new("expected a value", op_span.clone()));
                };
                let rop = self.operand_for(rv, lty)?;
                let cmp = match op {
                    RelOp::Eq => Cmp::Eq,
                    RelOp::Ne => Cmp::Ne,
                    RelOp::Lt => Cmp::Lt,
                    RelOp::Le => Cmp::Le,
                    RelOp::Gt => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                Ok(Node::Cmp {
                    cmp,
                    all,
                    l: lop,
                    r: rop,
                })
            }
        }
    }

    /// The right operand, compared with a left operand of type `want`.
    fn operand_for(&mut self, v: &Val, want: Ty) -> Result<Operand, FilterError> {
        match self.side(v)? {
            Side::Typed(op, ty) => {
                if want.compatible(ty) || (want.is_searchable() && ty.is_searchable()) {
                    Ok(op)
                } else {
                    Err(FilterError::new(
                        format!(
                            "{} is {} and cannot be compared with {}",
                            describe(v),
                            ty.a(),
                            want.a()
                        ),
                        v.span.clone(),
                    ))
                }
            }
            Side::Lit => self.lit(v, want),
        }
    }

    /// Parses literal `v` as a `want`, naming close fields if it looks like a mistyped field.
    fn lit(&self, v: &Val, want: Ty) -> Result<Operand, FilterError> {
        let lit = match &v.kind {
            ValKind::Word(w) => Lit::Word(w),
            ValKind::Str(s) => Lit::Str(s),
            ValKind::Char(c) => Lit::Char(*c),
            _ => return Err(FilterError::new("expected a value", v.span.clone())),
        };
        literal::parse(lit, want)
            .map(Operand::Const)
            .map_err(|msg| {
                let mut err = FilterError::new(msg, v.span.clone());
                if let ValKind::Word(w) = &v.kind
                    && w.contains('.')
                    && w.bytes().any(|c| c.is_ascii_alphabetic())
                {
                    let sugg = self.reg.suggest(w, 3);
                    if !sugg.is_empty() {
                        err.message = format!(
                            "\"{w}\" is neither a known field nor a valid {}",
                            want.name()
                        );
                        err.suggestions = sugg;
                    }
                }
                err
            })
    }

    /// Resolves a value: fields, functions, slices and `&` are typed; other words, strings and
    /// character constants are literals.
    fn side(&mut self, v: &Val) -> Result<Side, FilterError> {
        match &v.kind {
            ValKind::Word(w) => Ok(match self.field(w) {
                Some((id, kind)) => Side::Typed(Operand::Field(id), Ty::of(kind)),
                None => Side::Lit,
            }),
            ValKind::Str(_) | ValKind::Char(_) => Ok(Side::Lit),
            ValKind::Slice(inner, ranges) => {
                let (op, ty) = self.typed(inner, "a field to slice")?;
                if !ty.is_bytes_like() {
                    return Err(FilterError::new(
                        format!(
                            "{} is {} and cannot be sliced into a sequence of bytes",
                            describe(inner),
                            ty.a()
                        ),
                        inner.span.clone(),
                    ));
                }
                Ok(Side::Typed(
                    Operand::Slice(Box::new(op), ranges.clone().into_boxed_slice()),
                    Ty::Bytes,
                ))
            }
            ValKind::BitAnd(a, b) => {
                let (op, mut ty) = self.typed(a, "a field on the left of '&'")?;
                // A byte slice of up to 8 bytes reads as a big-endian unsigned integer, so
                // the tcpdump-style idiom `tcp[13] & 0x02` works as in Wireshark.
                if matches!(op, Operand::Slice(..)) && ty == Ty::Bytes {
                    ty = Ty::UInt(64);
                }
                if !ty.is_integer() {
                    return Err(FilterError::new(
                        format!("{} is {}; '&' needs an integer", describe(a), ty.a()),
                        a.span.clone(),
                    ));
                }
                let rop = self.operand_for(b, ty)?;
                Ok(Side::Typed(
                    Operand::BitAnd(Box::new(op), Box::new(rop)),
                    ty,
                ))
            }
            ValKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, name_span, args, &v.span),
        }
    }

    fn typed(&mut self, v: &Val, wanted: &str) -> Result<(Operand, Ty), FilterError> {
        match self.side(v)? {
            Side::Typed(o, t) => Ok((o, t)),
            Side::Lit => Err(self.not_a_field(v, wanted)),
        }
    }

    fn call(
        &mut self,
        name: &str,
        name_span: &Span,
        args: &[Val],
        span: &Span,
    ) -> Result<Side, FilterError> {
        const FUNCS: [&str; 6] = ["len", "count", "lower", "upper", "abs", "string"];
        if !FUNCS.contains(&name) {
            return Err(FilterError::new(
                format!(
                    "unknown function \"{name}\"; known functions: {}",
                    FUNCS.join(", ")
                ),
                name_span.clone(),
            ));
        }
        let [arg] = args else {
            return Err(FilterError::new(
                format!("{name}() takes exactly one argument, got {}", args.len()),
                span.clone(),
            ));
        };
        let (op, ty) = self.typed(arg, &format!("a field as the argument of {name}()"))?;
        let bad = |what: &str| {
            FilterError::new(
                format!("{name}() needs {what}, but {} is {}", describe(arg), ty.a()),
                arg.span.clone(),
            )
        };
        Ok(match name {
            "len" => {
                if !ty.is_bytes_like() {
                    return Err(bad("a string, bytes, address or protocol"));
                }
                Side::Typed(Operand::Len(Box::new(op)), Ty::UInt(32))
            }
            "count" => match op {
                Operand::Field(id) => Side::Typed(Operand::Count(id), Ty::UInt(32)),
                _ => {
                    return Err(FilterError::new(
                        "count() needs a field name as its argument",
                        arg.span.clone(),
                    ));
                }
            },
            "lower" | "upper" => {
                if ty != Ty::Str {
                    return Err(bad("a string field"));
                }
                let o = Box::new(op);
                let o = if name == "lower" {
                    Operand::Lower(o)
                } else {
                    Operand::Upper(o)
                };
                Side::Typed(o, Ty::Str)
            }
            "abs" => {
                if !matches!(ty, Ty::Int | Ty::UInt(_) | Ty::Float | Ty::RelTime) {
                    return Err(bad("a number or time offset"));
                }
                Side::Typed(Operand::Abs(Box::new(op)), ty)
            }
            _ => match op {
                Operand::Field(id) => {
                    let kind = self
                        .reg
                        .def(id)
                        .map(|d| d.kind)
                        .ok_or_else(|| bad("a known field"))?;
                    Side::Typed(Operand::String(id, kind), Ty::Str)
                }
                _ => {
                    return Err(FilterError::new(
                        "string() needs a field name as its argument",
                        arg.span.clone(),
                    ));
                }
            },
        })
    }
}

fn describe(v: &Val) -> String {
    match &v.kind {
        ValKind::Word(w) => format!("\"{w}\""),
        ValKind::Call { name, .. } => format!("{name}()"),
        ValKind::Slice(..) => "the slice".to_string(),
        ValKind::BitAnd(..) => "the bitwise and".to_string(),
        ValKind::Str(_) => "the string".to_string(),
        ValKind::Char(_) => "the character".to_string(),
    }
}

/// The regex crate's error text is multi-line (it draws its own caret); keep the last line,
/// which says what is wrong, since our caret marks the whole pattern.
fn regex_msg(e: &regex::Error) -> String {
    let s = e.to_string();
    s.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("error:")
                .trim()
                .to_string()
        })
        .unwrap_or(s)
}

/// The pattern as regex source: a string escape such as `"\\xc8"` has already become the byte
/// 0xC8, which is not UTF-8; write such bytes back as `\xC8` (with Unicode mode off, as we
/// build the regex, that matches the raw byte, like PCRE2 does in Wireshark).
fn regex_source(pat: &[u8]) -> String {
    let mut out = String::with_capacity(pat.len());
    for chunk in pat.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}
