//! TLS record framing over a reassembled byte stream: records split across segments are
//! buffered, several records in one segment are all returned. The buffer never holds more than
//! one record (≤ 5 + 2^14 + 2048 bytes) plus the segment being split.

/// Record content types.
pub mod content_type {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
}

/// Largest record payload allowed (RFC 5246: 2^14 + 2048 for ciphertext; TLS 1.3: 2^14 + 256).
pub const MAX_RECORD: usize = (1 << 14) + 2048;

/// A record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub content_type: u8,
    pub version: u16,
    pub length: u16,
}

/// Whether `b` starts like a TLS record header (type 20..=24, version 3.0..3.4).
pub fn looks_like_record(b: &[u8]) -> bool {
    match b {
        [t, 3, v, ..] => (20..=24).contains(t) && *v <= 4,
        [t, 3] | [t] => (20..=24).contains(t),
        _ => false,
    }
}

/// Whether `b` starts like a record carrying a ClientHello.
pub fn looks_like_client_hello(b: &[u8]) -> bool {
    match b {
        [22, 3, v, _, _, 1, ..] => *v <= 4,
        [22, 3, v, ..] => *v <= 4,
        [22] | [22, 3] => true,
        _ => false,
    }
}

/// Parses a 5-byte header; `None` if it cannot be TLS.
pub fn parse_header(b: &[u8]) -> Option<Header> {
    let h = b.get(..5)?;
    let hdr = Header {
        content_type: h[0],
        version: u16::from_be_bytes([h[1], h[2]]),
        length: u16::from_be_bytes([h[3], h[4]]),
    };
    let ok = (20..=24).contains(&hdr.content_type)
        && h[1] == 3
        && h[2] <= 4
        && usize::from(hdr.length) <= MAX_RECORD;
    ok.then_some(hdr)
}

/// Outcome of asking for the next record.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    Record(Header, &'a [u8]),
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not a TLS record header.
    NotTls,
}

/// Accumulates one direction's bytes and hands out whole records.
#[derive(Default, Debug)]
pub struct RecordBuffer {
    buf: Vec<u8>,
    pos: usize,
}

impl RecordBuffer {
    pub fn new() -> RecordBuffer {
        RecordBuffer::default()
    }

    /// Appends stream bytes (compacting what was consumed first).
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes waiting for the rest of their record.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Drops everything buffered (after a gap).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
    }

    /// The record waiting for the rest of its bytes: (bytes buffered, whole record length
    /// with its header when the header is complete). `None` when nothing is pending.
    pub fn partial(&self) -> Option<(usize, Option<usize>)> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            return None;
        }
        Some((
            rest.len(),
            parse_header(rest).map(|h| 5 + usize::from(h.length)),
        ))
    }

    /// The next complete record, if any.
    pub fn next_record(&mut self) -> Next<'_> {
        let rest = &self.buf[self.pos..];
        if rest.len() < 5 {
            if !rest.is_empty() && !looks_like_record(rest) {
                return Next::NotTls;
            }
            return Next::Incomplete;
        }
        let Some(h) = parse_header(rest) else {
            return Next::NotTls;
        };
        let end = 5 + usize::from(h.length);
        if rest.len() < end {
            return Next::Incomplete;
        }
        let start = self.pos + 5;
        self.pos += end;
        Next::Record(h, &self.buf[start..start + usize::from(h.length)])
    }
}

/// Reassembles handshake messages (4-byte header: type, 24-bit length) from record payloads.
#[derive(Default, Debug)]
pub struct HandshakeBuffer {
    buf: Vec<u8>,
    pos: usize,
}

/// Largest handshake message kept (certificate chains included).
pub const MAX_HANDSHAKE: usize = 1 << 20;

impl HandshakeBuffer {
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
    }

    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next whole message (header included), `Ok(None)` if incomplete, `Err` if its
    /// length exceeds [`MAX_HANDSHAKE`].
    pub fn next_message(&mut self) -> Result<Option<&[u8]>, usize> {
        let rest = &self.buf[self.pos..];
        if rest.len() < 4 {
            return Ok(None);
        }
        let len = usize::from(rest[1]) << 16 | usize::from(rest[2]) << 8 | usize::from(rest[3]);
        if len > MAX_HANDSHAKE {
            return Err(len);
        }
        if rest.len() < 4 + len {
            return Ok(None);
        }
        let start = self.pos;
        self.pos += 4 + len;
        Ok(Some(&self.buf[start..start + 4 + len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_coalesced_records() {
        let mut rb = RecordBuffer::new();
        let rec = |t: u8, body: &[u8]| {
            let mut v = vec![t, 3, 3, 0, body.len() as u8];
            v.extend_from_slice(body);
            v
        };
        let mut all = rec(22, b"hello");
        all.extend(rec(23, b"abc"));
        all.extend(rec(21, b"xy"));
        rb.push(&all[..3]);
        assert_eq!(rb.next_record(), Next::Incomplete);
        rb.push(&all[3..12]);
        assert!(matches!(rb.next_record(), Next::Record(h, b"hello") if h.content_type == 22));
        assert_eq!(rb.next_record(), Next::Incomplete);
        rb.push(&all[12..]);
        assert!(matches!(rb.next_record(), Next::Record(_, b"abc")));
        assert!(matches!(rb.next_record(), Next::Record(_, b"xy")));
        assert_eq!(rb.next_record(), Next::Incomplete);
        rb.push(b"GET / HTTP/1.1\r\n");
        assert_eq!(rb.next_record(), Next::NotTls);
    }

    #[test]
    fn partial_record_is_reported() {
        let mut rb = RecordBuffer::new();
        assert_eq!(rb.partial(), None);
        rb.push(&[23, 3]);
        assert_eq!(rb.partial(), Some((2, None)));
        rb.push(&[3, 0, 10, 1, 2, 3]);
        assert_eq!(rb.next_record(), Next::Incomplete);
        assert_eq!(rb.partial(), Some((8, Some(15))));
    }

    #[test]
    fn oversized_record_is_not_tls() {
        let mut rb = RecordBuffer::new();
        rb.push(&[23, 3, 3, 0xff, 0xff, 0]);
        assert_eq!(rb.next_record(), Next::NotTls);
    }

    #[test]
    fn handshake_messages_across_pushes() {
        let mut hb = HandshakeBuffer::default();
        hb.push(&[1, 0, 0, 3, 9]);
        assert_eq!(hb.next_message(), Ok(None));
        hb.push(&[9, 9, 2, 0, 0, 0]);
        assert_eq!(hb.next_message(), Ok(Some(&[1u8, 0, 0, 3, 9, 9, 9][..])));
        assert_eq!(hb.next_message(), Ok(Some(&[2u8, 0, 0, 0][..])));
        hb.push(&[11, 0xff, 0xff, 0xff]);
        assert!(hb.next_message().is_err());
    }
}
