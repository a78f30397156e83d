//! Compile errors: a message, the byte span of the offending text and "did you mean" names.
//!
//! Every error carries a span so the CLI can print Wireshark-style `^~~~` markers under the
//! exact place in the expression the user has to fix (DESIGN: exit code 2 with a message that
//! points at the column of the filter).

use std::ops::Range;

/// Why a display filter did not compile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    /// What went wrong and what was expected instead.
    pub message: String,
    /// Byte range in the expression; empty at the end of input for "unexpected end".
    pub span: Range<usize>,
    /// Closest known field names, for unknown fields (empty otherwise).
    pub suggestions: Vec<&'static str>,
}

impl FilterError {
    pub(crate) fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        FilterError {
            message: message.into(),
            span,
            suggestions: Vec::new(),
        }
    }

    pub(crate) fn with_suggestions(mut self, s: Vec<&'static str>) -> Self {
        self.suggestions = s;
        self
    }

    /// The expression, a line with `^~~~` under the span, then the message (and the
    /// suggestions as "did you mean: a, b, c?").
    ///
    /// Columns count characters, not bytes, so the marker lines up under non-ASCII input too.
    pub fn render(&self, expr: &str) -> String {
        let start = self.span.start.min(expr.len());
        let end = self.span.end.clamp(start, expr.len());
        let col = char_count(expr, 0, start);
        let width = char_count(expr, start, end).max(1);
        let mut out = String::with_capacity(expr.len() * 2 + self.message.len() + 16);
        out.push_str(expr);
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', col));
        out.push('^');
        out.extend(std::iter::repeat_n('~', width - 1));
        out.push('\n');
        out.push_str(&self.message);
        if !self.suggestions.is_empty() {
            out.push_str("\ndid you mean: ");
            out.push_str(&self.suggestions.join(", "));
            out.push('?');
        }
        out
    }
}

/// Characters in `s[a..b]`, tolerating spans that are not on character boundaries.
fn char_count(s: &str, a: usize, b: usize) -> usize {
    s.as_bytes()
        .get(a..b)
        .map(|bytes| bytes.iter().filter(|&&c| (c & 0xC0) != 0x80).count())
        .unwrap_or(0)
}
