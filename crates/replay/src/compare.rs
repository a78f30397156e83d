//! What came back against what was recorded: the first line that differs (an SMTP reply
//! code, an HTTP status line), shown escaped and cut to a readable length.

/// Longest line shown.
const SHOW: usize = 120;

/// The first differing line of two byte strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineDiff {
    /// 1-based line number within the compared bytes.
    pub line: usize,
    pub recorded: String,
    pub received: String,
}

fn line_at(data: &[u8], start: usize) -> String {
    let rest = data.get(start..).unwrap_or_default();
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let mut l = &rest[..end];
    if l.last() == Some(&b'\r') {
        l = &l[..l.len() - 1];
    }
    let cut = l.len() > SHOW;
    let mut s = l[..l.len().min(SHOW)].escape_ascii().to_string();
    if cut {
        s.push_str("...");
    }
    if start >= data.len() {
        s = "(nothing)".to_string();
    }
    s
}

/// `None` when equal; else the first line where they part (also when one is a prefix of the
/// other).
pub fn first_diff(recorded: &[u8], received: &[u8]) -> Option<LineDiff> {
    let i = recorded
        .iter()
        .zip(received)
        .position(|(a, b)| a != b)
        .unwrap_or(recorded.len().min(received.len()));
    if i == recorded.len() && i == received.len() {
        return None;
    }
    let start = recorded[..i]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line = recorded[..start].iter().filter(|&&b| b == b'\n').count() + 1;
    Some(LineDiff {
        line,
        recorded: line_at(recorded, start),
        received: line_at(received, start),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_reply_code() {
        let d = first_diff(b"250-a Hello\r\n250 OK\r\n", b"250-a Hello\r\n550 No\r\n").unwrap();
        assert_eq!(d.line, 2);
        assert_eq!(d.recorded, "250 OK");
        assert_eq!(d.received, "550 No");
        assert_eq!(first_diff(b"x", b"x"), None);
    }

    #[test]
    fn short_answer() {
        let d = first_diff(b"HTTP/1.0 200 OK\r\nab", b"HTTP/1.0 200 OK\r\n").unwrap();
        assert_eq!(d.line, 2);
        assert_eq!(d.received, "(nothing)");
        let d = first_diff(b"", b"HTTP/1.0 404\r\n").unwrap();
        assert_eq!((d.line, d.recorded.as_str()), (1, "(nothing)"));
    }
}
