//! The syntax tree the parser builds: names and literals still as written, with spans.
//!
//! Nothing here knows about field types; [`crate::typecheck`] resolves words to fields or typed
//! constants once the type of the other operand is known.

use std::ops::Range;

pub(crate) type Span = Range<usize>;

/// A logical expression.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    Xor(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// A bare value: a field's existence, or for `a & b` a non-zero test.
    Test(Val),
    Rel {
        op: RelOp,
        /// `true`: every pair must satisfy the relation; `false`: one pair suffices.
        all: bool,
        l: Val,
        r: RelRhs,
        op_span: Span,
    },
}

/// A relation between a value and something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RelOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    Matches,
    In,
}

impl RelOp {
    pub(crate) fn text(self) -> &'static str {
        match self {
            RelOp::Eq => "==",
            RelOp::Ne => "!=",
            RelOp::Lt => "<",
            RelOp::Le => "<=",
            RelOp::Gt => ">",
            RelOp::Ge => ">=",
            RelOp::Contains => "contains",
            RelOp::Matches => "matches",
            RelOp::In => "in",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum RelRhs {
    Val(Val),
    Set(Vec<SetItem>),
}

#[derive(Clone, Debug)]
pub(crate) enum SetItem {
    One(Val),
    Range(Val, Val),
}

/// A value expression as written.
#[derive(Clone, Debug)]
pub(crate) struct Val {
    pub kind: ValKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub(crate) enum ValKind {
    /// An unquoted word: a field name or a literal, decided by the type checker.
    Word(String),
    /// A quoted (or raw) string, escapes decoded.
    Str(Vec<u8>),
    /// A character constant.
    Char(u8),
    Slice(Box<Val>, Vec<SliceRange>),
    Call {
        name: String,
        name_span: Span,
        args: Vec<Val>,
    },
    BitAnd(Box<Val>, Box<Val>),
}

/// One range of a slice, normalised to start and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SliceRange {
    /// Negative: counted from the end.
    pub start: i64,
    /// `None`: to the end.
    pub len: Option<u64>,
}
