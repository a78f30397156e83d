//! Recursive-descent parser with Wireshark's precedence: `or` < `xor` < `and` < `not` <
//! relations (Wireshark 4.x `grammar.lemon`: `%left OR. %left XOR. %left AND. %right NOT.`;
//! checked with tshark 4.0: `a or b and c` is `a or (b and c)`).

use crate::ast::{Expr, RelOp, RelRhs, SetItem, SliceRange, Span, Val, ValKind};
use crate::error::FilterError;
use crate::lexer::{Sym, Tok, Token};

/// Nesting limit: keeps a hostile expression such as 100 000 `(` from overflowing the stack.
const MAX_DEPTH: usize = 200;

pub(crate) fn parse(tokens: &[Token]) -> Result<Expr, FilterError> {
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        depth: 0,
    };
    if matches!(p.peek(), Tok::Eof) {
        return Err(FilterError::new("empty filter expression", p.span()));
    }
    let e = p.or()?;
    match p.peek() {
        Tok::Eof => Ok(e),
        Tok::Sym(Sym::RParen) => Err(FilterError::new(
            "unbalanced parenthesis: ')' without a matching '('",
            p.span(),
        )),
        _ => Err(FilterError::new(
            format!(
                "{} was unexpected here; expected 'and', 'or', 'xor' or the end of the expression",
                p.describe()
            ),
            p.span(),
        )),
    }
}

struct Parser<'t> {
    toks: &'t [Token],
    pos: usize,
    depth: usize,
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w == kw)
}

/// Words that cannot start or be a value.
const KEYWORDS: &[&str] = &[
    "and", "or", "xor", "not", "in", "contains", "matches", "eq", "ne", "lt", "le", "gt", "ge",
    "any_eq", "all_eq", "any_ne", "all_ne",
];

impl<'t> Parser<'t> {
    fn peek(&self) -> &'t Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &'t Tok {
        let last = self.toks.len().saturating_sub(1);
        self.toks
            .get((self.pos + n).min(last))
            .map_or(&Tok::Eof, |t| &t.tok)
    }

    fn span(&self) -> Span {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(0..0, |t| t.span.clone())
    }

    fn bump(&mut self) -> Span {
        let s = self.span();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        s
    }

    fn describe(&self) -> String {
        match self.peek() {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Char(_) => "a character constant".to_string(),
            Tok::Sym(s) => format!("'{}'", s.text()),
            Tok::Eof => "the end of the expression".to_string(),
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(
                "expression is nested too deeply",
                self.span(),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        self.enter()?;
        let mut l = self.xor()?;
        while is_kw(self.peek(), "or") || matches!(self.peek(), Tok::Sym(Sym::OrOr)) {
            let op = self.bump();
            let r = self.operand_after(op, Self::xor)?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        self.depth -= 1;
        Ok(l)
    }

    fn xor(&mut self) -> Result<Expr, FilterError> {
        let mut l = self.and()?;
        while is_kw(self.peek(), "xor") || matches!(self.peek(), Tok::Sym(Sym::XorXor)) {
            let op = self.bump();
            let r = self.operand_after(op, Self::and)?;
            l = Expr::Xor(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut l = self.unary()?;
        while is_kw(self.peek(), "and") || matches!(self.peek(), Tok::Sym(Sym::AndAnd)) {
            let op = self.bump();
            let r = self.operand_after(op, Self::unary)?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    /// Parses the right operand of a logical operator, with a clear error at the end of input.
    fn operand_after(
        &mut self,
        op: Span,
        f: fn(&mut Self) -> Result<Expr, FilterError>,
    ) -> Result<Expr, FilterError> {
        if matches!(self.peek(), Tok::Eof) {
            return Err(FilterError::new(
                "expected an expression after this operator",
                op,
            ));
        }
        f(self)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if is_kw(self.peek(), "not") || matches!(self.peek(), Tok::Sym(Sym::Bang)) {
            let op = self.bump();
            self.enter()?;
            let e = self.operand_after(op, Self::unary)?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.relation()
    }

    fn relation(&mut self) -> Result<Expr, FilterError> {
        // Parenthesised logical expression, or a parenthesised value such as
        // `(tcp.flags & 0x12) == 0x12` (accepted by later Wireshark versions, not by 4.0).
        let l = if matches!(self.peek(), Tok::Sym(Sym::LParen)) {
            let open = self.bump();
            let inner = self.or()?;
            if !matches!(self.peek(), Tok::Sym(Sym::RParen)) {
                return Err(if matches!(self.peek(), Tok::Eof) {
                    FilterError::new("unbalanced parenthesis: '(' is never closed", open)
                } else {
                    FilterError::new(
                        format!("{} was unexpected here; expected ')'", self.describe()),
                        self.span(),
                    )
                });
            }
            let close = self.bump();
            match inner {
                Expr::Test(v)
                    if self.rel_op_ahead() || matches!(self.peek(), Tok::Sym(Sym::Amp)) =>
                {
                    let v = Val {
                        kind: v.kind,
                        span: open.start..close.end,
                    };
                    self.bitand_tail(v)?
                }
                e => return Ok(e),
            }
        } else {
            let quant = match self.peek() {
                Tok::Word(w) if (w == "any" || w == "all") && self.value_starts_at(1) => {
                    let s = self.bump();
                    Some((w == "all", s))
                }
                _ => None,
            };
            let l = self.value()?;
            if let Some((all, qspan)) = quant {
                if !self.rel_op_ahead() {
                    return Err(FilterError::new(
                        "'any'/'all' must be followed by a comparison, e.g. 'all ip.addr == 10.0.0.1'",
                        qspan.start..l.span.end,
                    ));
                }
                return self.rel_tail(l, Some(all));
            }
            l
        };
        if self.rel_op_ahead() {
            self.rel_tail(l, None)
        } else {
            Ok(Expr::Test(l))
        }
    }

    fn value_starts_at(&self, n: usize) -> bool {
        match self.peek_at(n) {
            Tok::Word(w) => !KEYWORDS.contains(&w.as_str()),
            Tok::Str(_) | Tok::Char(_) | Tok::Sym(Sym::LParen) => true,
            _ => false,
        }
    }

    fn rel_op_ahead(&self) -> bool {
        match self.peek() {
            Tok::Sym(s) => matches!(
                s,
                Sym::Eq
                    | Sym::Ne
                    | Sym::AllEq
                    | Sym::AnyNe
                    | Sym::Lt
                    | Sym::Le
                    | Sym::Gt
                    | Sym::Ge
                    | Sym::Tilde
            ),
            Tok::Word(w) => {
                matches!(
                    w.as_str(),
                    "eq" | "ne"
                        | "lt"
                        | "le"
                        | "gt"
                        | "ge"
                        | "any_eq"
                        | "all_eq"
                        | "any_ne"
                        | "all_ne"
                        | "contains"
                        | "matches"
                        | "in"
                ) || (w == "not" && is_kw(self.peek_at(1), "in"))
            }
            _ => false,
        }
    }

    /// After the left value: the operator and right side. `quant` is an explicit `any`/`all`.
    fn rel_tail(&mut self, l: Val, quant: Option<bool>) -> Result<Expr, FilterError> {
        let mut negate = false;
        let op_start = self.span().start;
        let op_text = match self.peek() {
            Tok::Word(w) => w.clone(),
            Tok::Sym(s) => s.text().to_string(),
            _ => String::new(),
        };
        // (op, default "all" mode)
        let (op, default_all) = match self.peek() {
            Tok::Sym(Sym::Eq) => (RelOp::Eq, false),
            Tok::Sym(Sym::AllEq) => (RelOp::Eq, true),
            // Wireshark 4.x: `a != b` is "all not equal" (all_ne), `!==`/`~=` is any_ne.
            Tok::Sym(Sym::Ne) => (RelOp::Ne, true),
            Tok::Sym(Sym::AnyNe) => (RelOp::Ne, false),
            Tok::Sym(Sym::Lt) => (RelOp::Lt, false),
            Tok::Sym(Sym::Le) => (RelOp::Le, false),
            Tok::Sym(Sym::Gt) => (RelOp::Gt, false),
            Tok::Sym(Sym::Ge) => (RelOp::Ge, false),
            Tok::Sym(Sym::Tilde) => (RelOp::Matches, false),
            Tok::Word(w) => match w.as_str() {
                "eq" | "any_eq" => (RelOp::Eq, false),
                "all_eq" => (RelOp::Eq, true),
                "ne" | "all_ne" => (RelOp::Ne, true),
                "any_ne" => (RelOp::Ne, false),
                "lt" => (RelOp::Lt, false),
                "le" => (RelOp::Le, false),
                "gt" => (RelOp::Gt, false),
                "ge" => (RelOp::Ge, false),
                "contains" => (RelOp::Contains, false),
                "matches" => (RelOp::Matches, false),
                "in" => (RelOp::In, false),
                _ => {
                    // "not in"
                    self.bump();
                    negate = true;
                    (RelOp::In, false)
                }
            },
            _ => {
                return Err(FilterError::new(
                    "expected a comparison operator",
                    self.span(),
                ));
            }
        };
        let op_end = self.bump().end;
        let op_span = op_start..op_end;
        let all = quant.unwrap_or(default_all);
        let r = if op == RelOp::In {
            RelRhs::Set(self.set(&op_span)?)
        } else {
            if !self.value_starts_at(0) {
                return Err(FilterError::new(
                    format!(
                        "expected a value after '{op_text}', found {}",
                        self.describe()
                    ),
                    if matches!(self.peek(), Tok::Eof) {
                        op_span
                    } else {
                        self.span()
                    },
                ));
            }
            RelRhs::Val(self.value()?)
        };
        let e = Expr::Rel {
            op,
            all,
            l,
            r,
            op_span,
        };
        if self.rel_op_ahead() {
            return Err(FilterError::new(
                "comparisons cannot be chained; combine them with 'and'",
                self.span(),
            ));
        }
        Ok(if negate { Expr::Not(Box::new(e)) } else { e })
    }

    /// `{ a, b, lo..hi }` (commas as in Wireshark 4.x, or whitespace as in 3.x).
    fn set(&mut self, op_span: &Span) -> Result<Vec<SetItem>, FilterError> {
        if !matches!(self.peek(), Tok::Sym(Sym::LBrace)) {
            return Err(FilterError::new(
                format!("expected '{{' after 'in', found {}", self.describe()),
                if matches!(self.peek(), Tok::Eof) {
                    op_span.clone()
                } else {
                    self.span()
                },
            ));
        }
        let open = self.bump();
        let mut items = Vec::new();
        loop {
            match self.peek() {
                Tok::Sym(Sym::RBrace) => {
                    let close = self.bump();
                    if items.is_empty() {
                        return Err(FilterError::new(
                            "a set needs at least one member",
                            open.start..close.end,
                        ));
                    }
                    return Ok(items);
                }
                Tok::Sym(Sym::Comma) if !items.is_empty() => {
                    self.bump();
                }
                Tok::Eof => {
                    return Err(FilterError::new(
                        "unbalanced brace: '{' is never closed",
                        open,
                    ));
                }
                _ if self.value_starts_at(0) => {
                    let item = self.set_item()?;
                    items.push(item);
                }
                _ => {
                    return Err(FilterError::new(
                        format!(
                            "{} was unexpected in a set; expected a value, ',' or '}}'",
                            self.describe()
                        ),
                        self.span(),
                    ));
                }
            }
        }
    }

    fn set_item(&mut self) -> Result<SetItem, FilterError> {
        // A single word `1..9` (or `10.0.0.1..10.0.0.9`).
        if let Tok::Word(w) = self.peek()
            && let Some(pos) = w.find("..")
            && pos > 0
            && pos + 2 < w.len()
        {
            let span = self.bump();
            let lo = Val {
                kind: ValKind::Word(w[..pos].to_string()),
                span: span.start..span.start + pos,
            };
            let hi = Val {
                kind: ValKind::Word(w[pos + 2..].to_string()),
                span: span.start + pos + 2..span.end,
            };
            return Ok(SetItem::Range(lo, hi));
        }
        let lo = self.value()?;
        match self.peek() {
            Tok::Word(w) if w == ".." => {
                let dots = self.bump();
                if !self.value_starts_at(0) {
                    return Err(FilterError::new(
                        "expected the upper bound after '..'",
                        dots,
                    ));
                }
                let hi = self.value()?;
                Ok(SetItem::Range(lo, hi))
            }
            Tok::Word(w) if w.starts_with("..") && w.len() > 2 => {
                let span = self.bump();
                let hi = Val {
                    kind: ValKind::Word(w[2..].to_string()),
                    span: span.start + 2..span.end,
                };
                Ok(SetItem::Range(lo, hi))
            }
            _ => Ok(SetItem::One(lo)),
        }
    }

    /// A value with optional `& value` tails.
    fn value(&mut self) -> Result<Val, FilterError> {
        let v = self.primary()?;
        self.bitand_tail(v)
    }

    fn bitand_tail(&mut self, mut v: Val) -> Result<Val, FilterError> {
        while matches!(self.peek(), Tok::Sym(Sym::Amp)) {
            let amp = self.bump();
            if !self.value_starts_at(0) {
                return Err(FilterError::new("expected a value after '&'", amp));
            }
            let r = self.primary()?;
            let span = v.span.start..r.span.end;
            v = Val {
                kind: ValKind::BitAnd(Box::new(v), Box::new(r)),
                span,
            };
        }
        Ok(v)
    }

    fn primary(&mut self) -> Result<Val, FilterError> {
        let span = self.span();
        let mut v = match self.peek().clone() {
            Tok::Word(w) if KEYWORDS.contains(&w.as_str()) => {
                return Err(FilterError::new(
                    format!("'{w}' is a keyword; expected a field or a value here"),
                    span,
                ));
            }
            Tok::Word(w) => {
                self.bump();
                if matches!(self.peek(), Tok::Sym(Sym::LParen)) {
                    self.call(w, span)?
                } else {
                    Val {
                        kind: ValKind::Word(w),
                        span,
                    }
                }
            }
            Tok::Str(s) => {
                self.bump();
                Val {
                    kind: ValKind::Str(s),
                    span,
                }
            }
            Tok::Char(c) => {
                self.bump();
                Val {
                    kind: ValKind::Char(c),
                    span,
                }
            }
            Tok::Sym(Sym::LParen) => {
                // A parenthesised value inside a value position, e.g. `len((f))` is rare;
                // parse `( value )`.
                let open = self.bump();
                self.enter()?;
                let inner = self.value()?;
                self.depth -= 1;
                if !matches!(self.peek(), Tok::Sym(Sym::RParen)) {
                    return Err(FilterError::new(
                        "unbalanced parenthesis: '(' is never closed",
                        open,
                    ));
                }
                let close = self.bump();
                Val {
                    kind: inner.kind,
                    span: open.start..close.end,
                }
            }
            Tok::Eof => {
                return Err(FilterError::new(
                    "unexpected end of the expression; expected a field or a value",
                    span,
                ));
            }
            Tok::Sym(s) => {
                return Err(FilterError::new(
                    format!(
                        "'{}' was unexpected here; expected a field or a value",
                        s.text()
                    ),
                    span,
                ));
            }
        };
        while matches!(self.peek(), Tok::Sym(Sym::LBracket)) {
            let ranges = self.slice()?;
            let end = self
                .toks
                .get(self.pos.saturating_sub(1))
                .map_or(v.span.end, |t| t.span.end);
            let span = v.span.start..end;
            v = Val {
                kind: ValKind::Slice(Box::new(v), ranges),
                span,
            };
        }
        Ok(v)
    }

    fn call(&mut self, name: String, name_span: Span) -> Result<Val, FilterError> {
        let open = self.bump();
        self.enter()?;
        let mut args = Vec::new();
        loop {
            if matches!(self.peek(), Tok::Sym(Sym::RParen)) && args.is_empty() {
                break;
            }
            if !self.value_starts_at(0) {
                return Err(FilterError::new(
                    format!("expected a function argument, found {}", self.describe()),
                    self.span(),
                ));
            }
            args.push(self.value()?);
            match self.peek() {
                Tok::Sym(Sym::Comma) => {
                    self.bump();
                }
                Tok::Sym(Sym::RParen) => break,
                Tok::Eof => {
                    return Err(FilterError::new(
                        "unbalanced parenthesis: '(' is never closed",
                        open,
                    ));
                }
                _ => {
                    return Err(FilterError::new(
                        format!(
                            "{} was unexpected here; expected ',' or ')'",
                            self.describe()
                        ),
                        self.span(),
                    ));
                }
            }
        }
        let close = self.bump();
        self.depth -= 1;
        Ok(Val {
            kind: ValKind::Call {
                name,
                name_span: name_span.clone(),
                args,
            },
            span: name_span.start..close.end,
        })
    }

    /// `[i:j]` (start:length), `[i-j]` (start-end inclusive), `[i]`, `[:j]`, `[i:]`, negative
    /// starts, and comma-separated lists of these (Wireshark's drange syntax).
    fn slice(&mut self) -> Result<Vec<SliceRange>, FilterError> {
        let open = self.bump();
        let mut ranges = Vec::new();
        loop {
            match self.peek() {
                Tok::Word(w) => {
                    let span = self.bump();
                    ranges.push(parse_range(w).ok_or_else(|| {
                        FilterError::new(
                            format!(
                                "'{w}' is not a valid range; expected i, i:len, i-j, :len or i:"
                            ),
                            span,
                        )
                    })?);
                }
                _ => {
                    return Err(FilterError::new(
                        format!(
                            "expected a range such as 0:2 or 1-3, found {}",
                            self.describe()
                        ),
                        self.span(),
                    ));
                }
            }
            match self.peek() {
                Tok::Sym(Sym::Comma) => {
                    self.bump();
                }
                Tok::Sym(Sym::RBracket) => {
                    self.bump();
                    return Ok(ranges);
                }
                Tok::Eof => {
                    return Err(FilterError::new(
                        "unbalanced bracket: '[' is never closed",
                        open,
                    ));
                }
                _ => {
                    return Err(FilterError::new(
                        format!(
                            "{} was unexpected in a slice; expected ',' or ']'",
                            self.describe()
                        ),
                        self.span(),
                    ));
                }
            }
        }
    }
}

/// One drange element. Returns `None` for anything malformed (including `i-j` with `j < i`).
pub(crate) fn parse_range(w: &str) -> Option<SliceRange> {
    fn int(s: &str) -> Option<i64> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) || digits.len() > 12 {
            return None;
        }
        let v: i64 = digits.parse().ok()?;
        Some(if neg { -v } else { v })
    }
    fn len(s: &str) -> Option<u64> {
        let v = int(s)?;
        u64::try_from(v).ok().filter(|&v| v > 0)
    }
    if let Some((a, b)) = w.split_once(':') {
        let start = if a.is_empty() { 0 } else { int(a)? };
        let len = if b.is_empty() { None } else { Some(len(b)?) };
        if a.is_empty() && b.is_empty() {
            return None;
        }
        return Some(SliceRange { start, len });
    }
    // `i-j`: the separator is the first '-' after the (optionally negative) start.
    let body_from = usize::from(w.starts_with('-'));
    if let Some(rel) = w.get(body_from..).and_then(|s| s.find('-')) {
        let cut = body_from + rel;
        let start = int(&w[..cut])?;
        let end = int(&w[cut + 1..])?;
        // Both on the same side of zero, end not before start.
        if (start < 0) != (end < 0) || end < start {
            return None;
        }
        return Some(SliceRange {
            start,
            len: Some(u64::try_from(end - start + 1).ok()?),
        });
    }
    Some(SliceRange {
        start: int(w)?,
        len: Some(1),
    })
}
