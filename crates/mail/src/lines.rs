//! Line assembly with a length cap, and streaming dot-unstuffing (RFC 5321 §4.5.2, RFC 1939 §3).

use crate::Ctx;

/// The line half of a line protocol (POP3, IMAP): a line buffer per direction, and after a
/// gap the skipping of bytes up to the next line end (resynchronisation).
pub struct Lines {
    /// Client's line (0), server's line (1).
    bufs: [LineBuf; 2],
    resync: [bool; 2],
}

/// What [`line_step`] did.
pub enum LineStep {
    /// Go on with the rest of the data.
    Continue,
    /// Everything was consumed while resynchronising: wait for more.
    NeedMore,
    /// The server line accepted STARTTLS: what follows is TLS.
    Tls,
}

/// A protocol whose lines [`line_step`] gathers.
pub trait LineProtocol {
    fn lines(&mut self) -> &mut Lines;
    fn client_line(&mut self, ctx: &mut Ctx, line: &[u8]);
    /// Returns true when the line starts TLS (the answer to STARTTLS/STLS).
    fn server_line(&mut self, ctx: &mut Ctx, line: &[u8]) -> bool;
}

impl Lines {
    pub fn new(max_line: usize) -> Lines {
        Lines {
            bufs: [LineBuf::new(max_line), LineBuf::new(max_line)],
            resync: [false; 2],
        }
    }

    /// Bytes of direction `d` were lost: drop its partial line and skip to the next line end.
    pub fn lose(&mut self, d: usize) {
        self.bufs[d].clear();
        self.resync[d] = true;
    }
}

/// Takes line bytes of direction `d` (0 client, 1 server) from `data` and hands a complete
/// line to the protocol.
pub fn line_step<P: LineProtocol>(
    p: &mut P,
    ctx: &mut Ctx,
    d: usize,
    data: &mut &[u8],
) -> LineStep {
    let l = p.lines();
    if l.resync[d] {
        return match memchr::memchr(b'\n', data) {
            Some(i) => {
                *data = &data[i + 1..];
                l.resync[d] = false;
                LineStep::Continue
            }
            None => LineStep::NeedMore,
        };
    }
    let lb = &mut l.bufs[d];
    let (n, done) = lb.push(data);
    *data = &data[n..];
    if !done {
        return LineStep::Continue;
    }
    if lb.overflow {
        ctx.note_overflow();
    }
    // Taken out while the protocol, which owns it, reads it; put back (emptied) after.
    let line = std::mem::replace(lb, LineBuf::new(0));
    let tls = if d == 0 {
        p.client_line(ctx, line.line());
        false
    } else {
        p.server_line(ctx, line.line())
    };
    let lb = &mut p.lines().bufs[d];
    *lb = line;
    lb.clear();
    if tls {
        LineStep::Tls
    } else {
        LineStep::Continue
    }
}

/// Collects one line across segment boundaries. Bytes beyond `max` are dropped (the line is
/// marked `overflow`), so a hostile peer that never sends a line end costs at most `max` bytes.
pub struct LineBuf {
    buf: Vec<u8>,
    max: usize,
    pub overflow: bool,
}

impl LineBuf {
    pub fn new(max: usize) -> LineBuf {
        LineBuf {
            buf: Vec::new(),
            max,
            overflow: false,
        }
    }

    /// Takes bytes from `data` up to and including the first `\n`. Returns how many bytes were
    /// taken and whether a line is now complete (then read it with [`Self::line`] and call
    /// [`Self::clear`]).
    pub fn push(&mut self, data: &[u8]) -> (usize, bool) {
        let (take, done) = match memchr::memchr(b'\n', data) {
            Some(p) => (p + 1, true),
            None => (data.len(), false),
        };
        let room = self.max.saturating_sub(self.buf.len());
        if take > room {
            self.overflow = true;
        }
        self.buf.extend_from_slice(&data[..take.min(room)]);
        (take, done)
    }

    /// The complete line without its line end (`\r\n` or `\n`).
    pub fn line(&self) -> &[u8] {
        let mut l = &self.buf[..];
        if let Some(x) = l.strip_suffix(b"\n") {
            l = x;
        }
        if let Some(x) = l.strip_suffix(b"\r") {
            l = x;
        }
        l
    }

    /// The line as received, line end included (as far as it was kept).
    pub fn raw(&self) -> &[u8] {
        &self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.overflow = false;
        if self.buf.capacity() > 4 * 4096 {
            self.buf.shrink_to(4096);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DotState {
    LineStart,
    Mid,
    Dot,
    DotCr,
}

/// Undoes dot-stuffing and finds the end-of-data line (`.` CRLF) of SMTP DATA and POP3
/// multi-line responses, one segment at a time: the state survives segment boundaries, so a
/// terminator or a stuffed dot split across segments is handled.
#[derive(Clone, Debug)]
pub struct DotDecoder {
    state: DotState,
}

impl Default for DotDecoder {
    fn default() -> Self {
        DotDecoder {
            state: DotState::LineStart,
        }
    }
}

impl DotDecoder {
    /// Feeds `data`; the unstuffed content goes to `out` (possibly in several pieces). Returns
    /// `Some(n)` when the terminator ends at `data[n - 1]`: bytes from `n` on follow the data.
    pub fn feed(&mut self, data: &[u8], out: &mut dyn FnMut(&[u8])) -> Option<usize> {
        let mut i = 0;
        let mut run = 0;
        while i < data.len() {
            match self.state {
                DotState::Mid => match memchr::memchr(b'\n', &data[i..]) {
                    Some(p) => {
                        i += p + 1;
                        self.state = DotState::LineStart;
                    }
                    None => i = data.len(),
                },
                DotState::LineStart => {
                    if data[i] == b'.' {
                        if run < i {
                            out(&data[run..i]);
                        }
                        i += 1;
                        run = i;
                        self.state = DotState::Dot;
                    } else {
                        self.state = DotState::Mid;
                    }
                }
                DotState::Dot => {
                    if data[i] == b'\r' {
                        i += 1;
                        run = i;
                        self.state = DotState::DotCr;
                    } else {
                        // A stuffed dot: dropped; the line goes on from here.
                        self.state = DotState::Mid;
                    }
                }
                DotState::DotCr => {
                    if data[i] == b'\n' {
                        self.state = DotState::LineStart;
                        return Some(i + 1);
                    }
                    out(b"\r");
                    self.state = DotState::Mid;
                }
            }
        }
        if run < data.len() {
            out(&data[run..]);
        }
        None
    }

    /// Resynchronises after a gap: we no longer know where lines start.
    pub fn gap(&mut self) {
        self.state = DotState::Mid;
    }

    /// Bytes held back at the end of the input (a `.` or `.\r` at a line start whose meaning
    /// depends on what follows); written out when the data ends without a terminator.
    pub fn pending(&self) -> &'static [u8] {
        match self.state {
            DotState::Dot => b".",
            DotState::DotCr => b".\r",
            _ => b"",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parts: &[&[u8]]) -> (Vec<u8>, Option<(usize, usize)>) {
        let mut d = DotDecoder::default();
        let mut out = Vec::new();
        for (k, p) in parts.iter().enumerate() {
            if let Some(n) = d.feed(p, &mut |b| out.extend_from_slice(b)) {
                return (out, Some((k, n)));
            }
        }
        (out, None)
    }

    #[test]
    fn unstuffs_and_ends_at_every_split() {
        let msg: &[u8] = b"Subject: x\r\n\r\n..dot\r\n.\rnot end\r\n...\r\n.x\r\n.\r\nQUIT\r\n";
        let want: &[u8] = b"Subject: x\r\n\r\n.dot\r\n\rnot end\r\n..\r\nx\r\n";
        for a in 0..msg.len() {
            for b in a..msg.len() {
                let (out, end) = run(&[&msg[..a], &msg[a..b], &msg[b..]]);
                assert_eq!(out, want, "split {a} {b}");
                let (k, n) = end.expect("terminator");
                let consumed = [0, a, b][k] + n;
                assert_eq!(&msg[consumed..], b"QUIT\r\n", "split {a} {b}");
            }
        }
    }

    #[test]
    fn empty_message_and_lines() {
        assert_eq!(run(&[b".\r\n"]), (vec![], Some((0, 3))));
        let mut l = LineBuf::new(8);
        assert_eq!(l.push(b"EHLO"), (4, false));
        assert_eq!(l.push(b" x\r\nMAIL"), (4, true));
        assert_eq!(l.line(), b"EHLO x");
        l.clear();
        assert_eq!(l.push(b"0123456789abc\n"), (14, true));
        assert!(l.overflow);
        assert_eq!(l.line(), b"01234567");
    }
}
