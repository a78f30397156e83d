//! Streaming content decoding: a chain of push decoders (gzip, deflate as zlib or raw, br,
//! zstd, stacked in any order) that ends in a [`Terminal`] which writes the file, hashes and
//! counts it, optionally splits multipart bodies and keeps a bounded prefix in memory.
//!
//! Nothing here holds a whole body: every stage is a `Write` that passes bytes on as it decodes.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

use crate::multipart::Multipart;
use wiresift_export::{FileId, ObjFile};

/// One stage of a decoding chain.
pub trait Sink: Write {
    /// Ends the stage's input (a decoder checks that its stream is complete) and ends the
    /// stages after it.
    fn end(&mut self) -> io::Result<()>;
    /// The last stage.
    fn terminal(&mut self) -> &mut Terminal;
}

/// The end of a chain: the output file (if any), its size, and its hash (computed by the
/// directory's writer thread for a file; here when there is none).
pub struct Terminal {
    out: Option<ObjFile>,
    sha: Option<Sha256>,
    pub size: u64,
    pub multipart: Option<Box<Multipart>>,
    /// A bounded prefix of the output kept in memory (for `http.file_data`).
    pub prefix: Option<Vec<u8>>,
    pub prefix_cap: usize,
    /// Bytes of the prefix kept whatever the HAR memory pool says (for `http.file_data`).
    pub prefix_free: usize,
    /// Where bytes beyond `prefix_free` are charged (HAR with a directory).
    pub(crate) har: Option<std::rc::Rc<crate::HarSlot>>,
}

impl Terminal {
    pub fn new(out: Option<ObjFile>) -> Terminal {
        Terminal {
            sha: out.is_none().then(Sha256::new),
            out,
            size: 0,
            multipart: None,
            prefix: None,
            prefix_cap: 0,
            prefix_free: 0,
            har: None,
        }
    }

    /// Lowercase hex SHA-256 of what was written so far, or the manifest's placeholder for
    /// it when the bytes went to a file.
    pub fn sha256(&self) -> String {
        match (&self.out, &self.sha) {
            (Some(f), _) => crate::object::sha_fact(f.id()),
            (None, Some(h)) => wiresift_export::hex(&h.clone().finalize()),
            (None, None) => String::new(),
        }
    }

    /// The file written, if any.
    pub fn file(&self) -> Option<FileId> {
        self.out.as_ref().map(ObjFile::id)
    }
}

impl Write for Terminal {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(h) = self.sha.as_mut() {
            h.update(buf);
        }
        self.size += buf.len() as u64;
        if let Some(o) = self.out.as_mut() {
            let _ = o.write_all(buf);
        }
        if let Some(m) = self.multipart.as_mut() {
            m.push(buf);
        }
        if let Some(p) = self.prefix.as_mut()
            && p.len() < self.prefix_cap
        {
            let mut n = (self.prefix_cap - p.len()).min(buf.len());
            if let Some(h) = &self.har {
                let charged = (p.len() + n).saturating_sub(self.prefix_free.max(p.len()));
                if charged > 0 && !h.grow(charged) {
                    // The pool is dry: keep what `http.file_data` needs; the HAR entry reads
                    // the file back.
                    self.prefix_cap = self.prefix_free.max(p.len()).min(self.prefix_cap);
                    n = (self.prefix_cap - p.len()).min(buf.len());
                }
            }
            p.extend_from_slice(&buf[..n]);
        }
        // Never fails: decoding errors are the chain's, file errors the writer thread's.
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for Terminal {
    fn end(&mut self) -> io::Result<()> {
        self.flush()?;
        if let Some(m) = self.multipart.as_mut() {
            m.end();
        }
        Ok(())
    }
    fn terminal(&mut self) -> &mut Terminal {
        self
    }
}

type Next = Box<dyn Sink>;

impl Sink for flate2::write::MultiGzDecoder<Next> {
    fn end(&mut self) -> io::Result<()> {
        self.try_finish()?;
        self.get_mut().end()
    }
    fn terminal(&mut self) -> &mut Terminal {
        self.get_mut().terminal()
    }
}

impl Sink for flate2::write::ZlibDecoder<Next> {
    fn end(&mut self) -> io::Result<()> {
        self.try_finish()?;
        self.get_mut().end()
    }
    fn terminal(&mut self) -> &mut Terminal {
        self.get_mut().terminal()
    }
}

impl Sink for flate2::write::DeflateDecoder<Next> {
    fn end(&mut self) -> io::Result<()> {
        self.try_finish()?;
        self.get_mut().end()
    }
    fn terminal(&mut self) -> &mut Terminal {
        self.get_mut().terminal()
    }
}

impl Sink for brotli::DecompressorWriter<Next> {
    fn end(&mut self) -> io::Result<()> {
        self.close()?;
        self.get_mut().end()
    }
    fn terminal(&mut self) -> &mut Terminal {
        self.get_mut().terminal()
    }
}

/// zstd with a bounded window and a check that the last frame was complete.
struct Zstd {
    d: zstd::stream::write::Decoder<'static, Next>,
    /// Bytes of compressed input seen; `zstd` reports a frame end by a write returning fewer.
    seen: u64,
}

impl Write for Zstd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.d.write(buf)?;
        self.seen += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.d.flush()
    }
}

impl Sink for Zstd {
    fn end(&mut self) -> io::Result<()> {
        self.d.flush()?;
        if self.seen == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "empty zstd stream",
            ));
        }
        self.d.get_mut().end()
    }
    fn terminal(&mut self) -> &mut Terminal {
        self.d.get_mut().terminal()
    }
}

/// `Content-Encoding: deflate`: RFC 9110 says zlib, but servers also send raw deflate;
/// decide from the first two bytes.
struct AutoDeflate {
    head: Vec<u8>,
    next: Option<Next>,
    inner: Option<Next>,
}

impl AutoDeflate {
    fn decide(&mut self) {
        if let Some(next) = self.next.take() {
            let h = &self.head;
            let zlib = h.len() >= 2
                && h[0] & 0x0f == 8
                && h[0] >> 4 <= 7
                && (u16::from(h[0]) << 8 | u16::from(h[1])) % 31 == 0;
            self.inner = Some(if zlib {
                Box::new(flate2::write::ZlibDecoder::new(next))
            } else {
                Box::new(flate2::write::DeflateDecoder::new(next))
            });
        }
    }
}

impl Write for AutoDeflate {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(i) = self.inner.as_mut() {
            return i.write(buf);
        }
        let take = (2 - self.head.len()).min(buf.len());
        self.head.extend_from_slice(&buf[..take]);
        if self.head.len() == 2 {
            self.decide();
            let head = std::mem::take(&mut self.head);
            if let Some(i) = self.inner.as_mut() {
                i.write_all(&head)?;
            }
        }
        Ok(take)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(i) => i.flush(),
            None => Ok(()),
        }
    }
}

impl Sink for AutoDeflate {
    fn end(&mut self) -> io::Result<()> {
        if self.inner.is_none() {
            self.decide();
            let head = std::mem::take(&mut self.head);
            if let Some(i) = self.inner.as_mut() {
                i.write_all(&head)?;
            }
        }
        match self.inner.as_mut() {
            Some(i) => i.end(),
            None => Ok(()),
        }
    }
    fn terminal(&mut self) -> &mut Terminal {
        match (&mut self.inner, &mut self.next) {
            (Some(i), _) => i.terminal(),
            (None, Some(n)) => n.terminal(),
            (None, None) => unreachable!("AutoDeflate has a next stage until it has an inner one"),
        }
    }
}

/// Normalised name of a content coding, or `None` for identity.
pub fn coding(name: &str) -> Option<String> {
    let n = name.trim().to_ascii_lowercase();
    match n.as_str() {
        "" | "identity" => None,
        "x-gzip" => Some("gzip".into()),
        _ => Some(n),
    }
}

/// Why `codings` cannot be decoded, if they cannot.
pub fn unsupported(codings: &[String]) -> Option<String> {
    codings
        .iter()
        .find(|c| !matches!(c.as_str(), "gzip" | "deflate" | "br" | "zstd"))
        .map(|c| format!("unsupported content-encoding {c:?}"))
}

/// Builds the decoding chain for `codings` (in the order they were applied) in front of `t`.
/// Call only when [`unsupported`] says `None`.
pub fn chain(codings: &[String], t: Terminal) -> Box<dyn Sink> {
    let mut s: Box<dyn Sink> = Box::new(t);
    for c in codings {
        s = match c.as_str() {
            "gzip" => Box::new(flate2::write::MultiGzDecoder::new(s)),
            "deflate" => Box::new(AutoDeflate {
                head: Vec::with_capacity(2),
                next: Some(s),
                inner: None,
            }),
            "br" => Box::new(brotli::DecompressorWriter::new(s, 16 * 1024)),
            "zstd" => match zstd::stream::write::Decoder::new(s) {
                Ok(mut d) => {
                    // At most an 8 MiB window (RFC 8878 §3.1.1.1.2 for HTTP).
                    let _ = d.window_log_max(23);
                    Box::new(Zstd { d, seen: 0 })
                }
                Err(_) => unreachable!("zstd decoder allocation"),
            },
            _ => s,
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(codings: &[&str], data: &[u8]) -> Result<Vec<u8>, String> {
        let c: Vec<String> = codings.iter().map(|s| s.to_string()).collect();
        let mut t = Terminal::new(None);
        t.prefix = Some(Vec::new());
        t.prefix_cap = 1 << 20;
        let mut s = chain(&c, t);
        for part in data.chunks(7) {
            s.write_all(part).map_err(|e| e.to_string())?;
        }
        s.end().map_err(|e| e.to_string())?;
        Ok(s.terminal().prefix.take().unwrap())
    }

    fn gz(d: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_each_and_stacked() {
        let plain = b"hello hello hello hello, world".repeat(50);
        assert_eq!(run(&["gzip"], &gz(&plain)).unwrap(), plain);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&plain).unwrap();
        assert_eq!(run(&["deflate"], &z.finish().unwrap()).unwrap(), plain);
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        r.write_all(&plain).unwrap();
        assert_eq!(run(&["deflate"], &r.finish().unwrap()).unwrap(), plain);
        let mut b = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut b, 4096, 5, 22);
            w.write_all(&plain).unwrap();
        }
        assert_eq!(run(&["br"], &b).unwrap(), plain);
        let zs = zstd::encode_all(&plain[..], 3).unwrap();
        assert_eq!(run(&["zstd"], &zs).unwrap(), plain);
        // gzip applied first, then br: decode br, then gzip.
        let mut b2 = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut b2, 4096, 5, 22);
            w.write_all(&gz(&plain)).unwrap();
        }
        assert_eq!(run(&["gzip", "br"], &b2).unwrap(), plain);
    }

    #[test]
    fn damaged_streams_fail() {
        let plain = b"abcdefgh".repeat(100);
        let g = gz(&plain);
        assert!(run(&["gzip"], &g[..g.len() / 2]).is_err());
        assert!(run(&["gzip"], b"not gzip at all").is_err());
        assert!(run(&["br"], b"\xff\xff\xff\xff garbage").is_err());
        assert!(run(&["zstd"], b"garbage garbage").is_err());
        assert!(unsupported(&["compress".into()]).is_some());
        assert!(unsupported(&["gzip".into(), "br".into()]).is_none());
    }
}
