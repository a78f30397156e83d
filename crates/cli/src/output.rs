//! Buffered standard output that ends quietly when the reader goes away (`| head`).

use std::io::{self, Write};

/// Flush threshold: lines are formatted into one buffer and written in large chunks.
const CHUNK: usize = 256 * 1024;

pub struct Out {
    pub buf: Vec<u8>,
    w: Box<dyn Write>,
}

impl Out {
    pub fn stdout() -> Out {
        Out {
            buf: Vec::with_capacity(CHUNK + 4096),
            w: Box::new(io::stdout().lock()),
        }
    }

    /// Writes the buffer out if it is full.
    #[inline]
    pub fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        self.w.flush()
    }
}

/// True if the error chain holds a broken pipe: the consumer closed its end, not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Moves `reader` to its next frame. At damage, prints the one message (file, frames read
/// before it, byte offset and cause), sets `damaged` and returns false, as at the end.
pub fn advance_or_report(
    reader: &mut wiresift_capfile::CaptureReader,
    path: &std::path::Path,
    damaged: &mut bool,
) -> bool {
    match reader.advance() {
        Ok(more) => more,
        Err(e) => {
            eprintln!(
                "wiresift: {}: damaged after frame {}: {e}",
                path.display(),
                reader.frames_read()
            );
            *damaged = true;
            false
        }
    }
}

/// Opens a capture for one pass: a large regular file is mapped (no copy out of the page
/// cache, see `wiresift_capture::mapped`); anything else (stdin, pipes, gzip, small files) is
/// read on the reader's own thread.
pub fn open_capture(
    path: &std::path::Path,
) -> Result<wiresift_capfile::CaptureReader, wiresift_capfile::ReadError> {
    open_capture_with(path, true)
}

/// [`open_capture`], mapping the file only if `map` (a command that looks at a small part of
/// each frame is better served by the reading thread).
pub fn open_capture_with(
    path: &std::path::Path,
    map: bool,
) -> Result<wiresift_capfile::CaptureReader, wiresift_capfile::ReadError> {
    use wiresift_capfile::{ByteSource, CaptureReader, ReadError};
    if map && path.as_os_str() != "-" && std::env::var_os("WIRESIFT_NO_MMAP").is_none() {
        match wiresift_capture::mapped::MappedFile::open(path) {
            Ok(Some(m)) if !m.bytes().starts_with(&[0x1f, 0x8b]) => {
                return CaptureReader::from_bytes(Box::new(m));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(ReadError {
                    offset: 0,
                    kind: e.into(),
                });
            }
        }
    }
    CaptureReader::open(path)
}
