//! Reading the input on a thread of its own.
//!
//! The kernel's copy out of the page cache (or gzip decompression) costs as much as a fifth of
//! a whole extraction run; on its own thread it overlaps with parsing. Chunks are handed over
//! whole, not copied again: each has [`HEAD`] spare bytes in front, where the reader puts the
//! unread tail of the previous chunk (a record that straddles the boundary), and emptied
//! chunks go back to the thread to be refilled.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

/// Spare bytes in front of each chunk for the previous chunk's tail.
pub(crate) const HEAD: usize = 256 * 1024;
/// Bytes read into each chunk.
const CHUNK: usize = 1 << 20;
/// Chunks in flight (filled and waiting): memory is about (QUEUE + 2) × 1.25 MiB.
const QUEUE: usize = 4;

/// A filled chunk: data at `buf[HEAD..HEAD + len]`; `len == 0` is the end of the input.
pub(crate) struct Chunk {
    pub buf: Vec<u8>,
    pub len: usize,
}

/// The reading thread and its queues.
pub(crate) struct ReadAhead {
    rx: Receiver<io::Result<Chunk>>,
    back: SyncSender<Vec<u8>>,
    done: bool,
}

impl ReadAhead {
    /// Starts reading `src` on a new thread.
    pub fn spawn(mut src: Box<dyn Read + Send>) -> ReadAhead {
        let (tx, rx) = sync_channel::<io::Result<Chunk>>(QUEUE);
        let (back, back_rx) = sync_channel::<Vec<u8>>(QUEUE + 2);
        std::thread::spawn(move || {
            loop {
                let mut buf = match back_rx.try_recv() {
                    Ok(b) => b,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                        vec![0; HEAD + CHUNK]
                    }
                };
                buf.resize(HEAD + CHUNK, 0);
                let mut len = 0;
                // Fill the chunk (short reads from pipes and decompressors are common).
                let r = loop {
                    if len == CHUNK {
                        break Ok(());
                    }
                    match src.read(&mut buf[HEAD + len..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => len += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                let end = len < CHUNK;
                let msg = match r {
                    Ok(()) => Ok(Chunk { buf, len }),
                    // Data before the error first, then the error.
                    Err(e) if len > 0 => {
                        if tx.send(Ok(Chunk { buf, len })).is_err() {
                            return;
                        }
                        Err(e)
                    }
                    Err(e) => Err(e),
                };
                let failed = msg.is_err();
                if tx.send(msg).is_err() || failed {
                    return;
                }
                if end && len > 0 {
                    // The end of the input: say so with an empty chunk.
                    let _ = tx.send(Ok(Chunk {
                        buf: Vec::new(),
                        len: 0,
                    }));
                    return;
                }
                if len == 0 {
                    return;
                }
            }
        });
        ReadAhead {
            rx,
            back,
            done: false,
        }
    }

    /// The next chunk; `None` at the end of the input.
    pub fn next(&mut self) -> io::Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        match self.rx.recv() {
            Ok(Ok(c)) if c.len == 0 => {
                self.done = true;
                Ok(None)
            }
            Ok(Ok(c)) => Ok(Some(c)),
            Ok(Err(e)) => {
                self.done = true;
                Err(e)
            }
            Err(_) => {
                self.done = true;
                Err(io::Error::other("the reading thread stopped"))
            }
        }
    }

    /// Gives an emptied chunk back for refilling.
    pub fn recycle(&self, buf: Vec<u8>) {
        if buf.capacity() >= HEAD + CHUNK {
            let _ = self.back.try_send(buf);
        }
    }
}
