//! Tokens of the display-filter language.
//!
//! Wireshark's scanner treats any run of "literal" characters (letters, digits, `_ . : / -`) as
//! one unquoted word and decides later whether it is a field, a keyword, a number, an address or
//! a byte string. We do the same: a word such as `00:11:22:33:44:55`, `10.0.0.0/8`, `2001:db8::1`,
//! `1..9` or the `0:2` inside a slice cannot be classified without knowing the type of the other
//! operand, so the parser and the type checker interpret words, not the lexer.

use std::ops::Range;

use crate::error::FilterError;

/// Symbolic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sym {
    Eq,
    Ne,
    AllEq,
    AnyNe,
    Lt,
    Le,
    Gt,
    Ge,
    /// `~`: matches.
    Tilde,
    AndAnd,
    OrOr,
    XorXor,
    Bang,
    /// `&`: bitwise and.
    Amp,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
}

impl Sym {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Sym::Eq => "==",
            Sym::Ne => "!=",
            Sym::AllEq => "===",
            Sym::AnyNe => "!==",
            Sym::Lt => "<",
            Sym::Le => "<=",
            Sym::Gt => ">",
            Sym::Ge => ">=",
            Sym::Tilde => "~",
            Sym::AndAnd => "&&",
            Sym::OrOr => "||",
            Sym::XorXor => "^^",
            Sym::Bang => "!",
            Sym::Amp => "&",
            Sym::LParen => "(",
            Sym::RParen => ")",
            Sym::LBrace => "{",
            Sym::RBrace => "}",
            Sym::LBracket => "[",
            Sym::RBracket => "]",
            Sym::Comma => ",",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted run of literal characters.
    Word(String),
    /// A quoted string, escapes decoded (bytes: `\xff` need not be UTF-8).
    Str(Vec<u8>),
    /// A character constant `'a'`.
    Char(u8),
    Sym(Sym),
    Eof,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'/' | b'-')
}

/// Splits `src` into tokens; the last one is always `Eof` (with an empty span at the end).
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        // Raw string r"..." / R"...": the prefix must touch the quote.
        if (c == b'r' || c == b'R') && b.get(i + 1) == Some(&b'"') {
            let (bytes, end) = raw_string(src, i + 1)?;
            out.push(Token {
                tok: Tok::Str(bytes),
                span: start..end,
            });
            i = end;
            continue;
        }
        if is_word_byte(c) {
            while i < b.len() && is_word_byte(b[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Word(src[start..i].to_string()),
                span: start..i,
            });
            continue;
        }
        if c == b'"' {
            let (bytes, end) = quoted(src, i, b'"')?;
            out.push(Token {
                tok: Tok::Str(bytes),
                span: start..end,
            });
            i = end;
            continue;
        }
        if c == b'\'' {
            let (bytes, end) = quoted(src, i, b'\'')?;
            if bytes.len() != 1 {
                return Err(FilterError::new(
                    "a character constant must hold exactly one byte, e.g. 'a' or '\\x41'",
                    start..end,
                ));
            }
            out.push(Token {
                tok: Tok::Char(bytes[0]),
                span: start..end,
            });
            i = end;
            continue;
        }
        let next = b.get(i + 1).copied();
        let next2 = b.get(i + 2).copied();
        let (sym, len) = match (c, next, next2) {
            (b'=', Some(b'='), Some(b'=')) => (Sym::AllEq, 3),
            (b'=', Some(b'='), _) => (Sym::Eq, 2),
            (b'!', Some(b'='), Some(b'=')) => (Sym::AnyNe, 3),
            (b'!', Some(b'='), _) => (Sym::Ne, 2),
            (b'~', Some(b'='), _) => (Sym::AnyNe, 2),
            (b'!', _, _) => (Sym::Bang, 1),
            (b'<', Some(b'='), _) => (Sym::Le, 2),
            (b'<', _, _) => (Sym::Lt, 1),
            (b'>', Some(b'='), _) => (Sym::Ge, 2),
            (b'>', _, _) => (Sym::Gt, 1),
            (b'~', _, _) => (Sym::Tilde, 1),
            (b'&', Some(b'&'), _) => (Sym::AndAnd, 2),
            (b'&', _, _) => (Sym::Amp, 1),
            (b'|', Some(b'|'), _) => (Sym::OrOr, 2),
            (b'^', Some(b'^'), _) => (Sym::XorXor, 2),
            (b'(', _, _) => (Sym::LParen, 1),
            (b')', _, _) => (Sym::RParen, 1),
            (b'{', _, _) => (Sym::LBrace, 1),
            (b'}', _, _) => (Sym::RBrace, 1),
            (b'[', _, _) => (Sym::LBracket, 1),
            (b']', _, _) => (Sym::RBracket, 1),
            (b',', _, _) => (Sym::Comma, 1),
            _ => {
                let ch_len = src[i..].chars().next().map_or(1, char::len_utf8);
                let what = match c {
                    b'=' => "'=' is not an operator; did you mean '=='?".to_string(),
                    b'|' => "'|' is not an operator; did you mean '||'?".to_string(),
                    b'^' => "'^' is not an operator; did you mean '^^'?".to_string(),
                    _ => format!(
                        "unexpected character '{}'",
                        src[i..i + ch_len].escape_default()
                    ),
                };
                return Err(FilterError::new(what, i..i + ch_len));
            }
        };
        out.push(Token {
            tok: Tok::Sym(sym),
            span: i..i + len,
        });
        i += len;
    }
    out.push(Token {
        tok: Tok::Eof,
        span: b.len()..b.len(),
    });
    Ok(out)
}

/// A raw string starting at the quote `q`: backslashes are literal, but `\"` does not end it
/// (as in Wireshark and Python), so a regex can contain an escaped quote.
fn raw_string(src: &str, q: usize) -> Result<(Vec<u8>, usize), FilterError> {
    let b = src.as_bytes();
    let mut i = q + 1;
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'"' => return Ok((out, i + 1)),
            b'\\' if i + 1 < b.len() => {
                out.extend_from_slice(&b[i..i + 2]);
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(FilterError::new(
        "unterminated string: missing closing '\"'",
        q - 1..b.len(),
    ))
}

/// A quoted string or character constant starting at `start` (the opening quote), with C
/// escapes decoded. Returns the bytes and the index after the closing quote.
fn quoted(src: &str, start: usize, quote: u8) -> Result<(Vec<u8>, usize), FilterError> {
    let b = src.as_bytes();
    let mut i = start + 1;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c == quote {
            return Ok((out, i + 1));
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let esc_start = i;
        i += 1;
        let Some(&e) = b.get(i) else { break };
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'v' => out.push(0x0b),
            b'\\' | b'"' | b'\'' | b'?' => out.push(e),
            b'x' => {
                let digits = take_while(b, i, 2, |c| c.is_ascii_hexdigit());
                if digits == 0 {
                    return Err(FilterError::new(
                        "\\x must be followed by one or two hex digits",
                        esc_start..i,
                    ));
                }
                out.push(radix_u8(&b[i..i + digits], 16));
                i += digits;
            }
            b'0'..=b'7' => {
                let digits = 1 + take_while(b, i, 2, |c| (b'0'..=b'7').contains(&c));
                let v = b[i - 1..i - 1 + digits]
                    .iter()
                    .fold(0u32, |a, &d| a * 8 + u32::from(d - b'0'));
                if v > 0xff {
                    return Err(FilterError::new(
                        "octal escape is larger than \\377",
                        esc_start..i - 1 + digits,
                    ));
                }
                out.push(v as u8);
                i += digits - 1;
            }
            b'u' | b'U' => {
                let want = if e == b'u' { 4 } else { 8 };
                let digits = take_while(b, i, want, |c| c.is_ascii_hexdigit());
                let cp = (digits == want)
                    .then(|| u32::from_str_radix(&src[i..i + digits], 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                let Some(ch) = cp else {
                    return Err(FilterError::new(
                        format!(
                            "\\{} must be followed by {want} hex digits naming a Unicode character",
                            e as char
                        ),
                        esc_start..i + digits,
                    ));
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += digits;
            }
            _ => {
                let ch_len = src
                    .get(i - 1..)
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                return Err(FilterError::new(
                    format!(
                        "'{}' is not a valid escape sequence",
                        src.get(esc_start..i - 1 + ch_len).unwrap_or("\\")
                    ),
                    esc_start..i - 1 + ch_len,
                ));
            }
        }
    }
    let what = if quote == b'"' {
        "unterminated string: missing closing '\"'"
    } else {
        "unterminated character constant: missing closing '''"
    };
    Err(FilterError::new(what, start..b.len()))
}

fn take_while(b: &[u8], from: usize, max: usize, ok: impl Fn(u8) -> bool) -> usize {
    b.get(from..)
        .unwrap_or(&[])
        .iter()
        .take(max)
        .take_while(|&&c| ok(c))
        .count()
}

fn radix_u8(digits: &[u8], radix: u32) -> u8 {
    digits.iter().fold(0u8, |a, &d| {
        let v = (d as char).to_digit(radix).unwrap_or(0) as u8;
        a.wrapping_mul(radix as u8).wrapping_add(v)
    })
}
