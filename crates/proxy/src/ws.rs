//! WebSocket relay after a 101 response: bytes copied both ways unchanged, each message logged
//! (direction, opcode, size) by an incremental frame parser with constant memory.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::flow::Recorder;

/// Incremental RFC 6455 frame-header parser.
#[derive(Default)]
pub struct FrameParser {
    head: Vec<u8>,
    /// Payload bytes left in the current frame.
    left: u64,
    /// Opcode and size of the message being assembled (continuations add to it).
    msg_op: u8,
    msg_len: u64,
}

/// A completed message: opcode and payload size.
pub type Message = (u8, u64);

impl FrameParser {
    /// Feeds bytes; calls `done` for each message completed.
    pub fn feed(&mut self, mut b: &[u8], done: &mut dyn FnMut(Message)) {
        while !b.is_empty() {
            if self.left > 0 {
                let n = (self.left.min(b.len() as u64)) as usize;
                self.left -= n as u64;
                b = &b[n..];
                continue;
            }
            self.head.push(b[0]);
            b = &b[1..];
            let h = &self.head;
            if h.len() < 2 {
                continue;
            }
            let masked = h[1] & 0x80 != 0;
            let l7 = h[1] & 0x7f;
            let ext = match l7 {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let need = 2 + ext + if masked { 4 } else { 0 };
            if h.len() < need {
                continue;
            }
            let len = match ext {
                2 => u16::from_be_bytes([h[2], h[3]]) as u64,
                8 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
                _ => l7 as u64,
            };
            let fin = h[0] & 0x80 != 0;
            let op = h[0] & 0x0f;
            self.head.clear();
            self.left = len;
            if op >= 8 {
                // Control frames are never fragmented.
                done((op, len));
                continue;
            }
            if op != 0 {
                self.msg_op = op;
                self.msg_len = 0;
            }
            self.msg_len = self.msg_len.saturating_add(len);
            if fin {
                done((self.msg_op, self.msg_len));
            }
        }
    }
}

pub fn opcode_name(op: u8) -> &'static str {
    match op {
        1 => "text",
        2 => "binary",
        8 => "close",
        9 => "ping",
        10 => "pong",
        _ => "other",
    }
}

/// Copies `r` to `w`, logging messages; returns the bytes copied.
pub async fn pump<R, W>(mut r: R, mut w: W, rec: Arc<Recorder>, label: String) -> u64
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    let mut p = FrameParser::default();
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        total += n as u64;
        if !rec.quiet {
            p.feed(&buf[..n], &mut |(op, len)| {
                rec.line(&format!(
                    "{} {label} websocket {} {}",
                    crate::flow::clock(crate::flow::now_ns()),
                    opcode_name(op),
                    crate::flow::human_size(len)
                ));
            });
        }
        if w.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere() {
        // Masked text "hello" in two fragments, a ping, then a 300-byte binary frame.
        let mut s = vec![
            0x01, 0x83, 1, 2, 3, 4, b'a', b'b', b'c', 0x80, 0x82, 1, 2, 3, 4, b'd', b'e',
        ];
        s.extend_from_slice(&[0x89, 0x00]);
        s.extend_from_slice(&[0x82, 126, 0x01, 0x2c]);
        s.extend(std::iter::repeat_n(0u8, 300));
        for step in [1usize, 2, 3, 7, 1000] {
            let mut p = FrameParser::default();
            let mut got = Vec::new();
            for c in s.chunks(step) {
                p.feed(c, &mut |m| got.push(m));
            }
            assert_eq!(got, vec![(1, 5), (9, 0), (2, 300)], "step {step}");
        }
    }
}
