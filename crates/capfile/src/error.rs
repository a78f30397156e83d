//! Read errors: what was wrong and at which byte offset of the (decompressed) file.

use std::io;

/// A failure to read a capture. The file is at fault except for `Io`.
#[derive(Debug, thiserror::Error)]
#[error("at byte offset {offset}: {kind}")]
pub struct ReadError {
    /// Offset of the record or block that could not be read.
    pub offset: u64,
    pub kind: ReadErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("not a pcap or pcapng file (magic {0:02x?})")]
    BadMagic([u8; 4]),
    #[error("file is empty")]
    Empty,
    #[error("unsupported {format} version {major}.{minor}")]
    UnsupportedVersion {
        format: &'static str,
        major: u16,
        minor: u16,
    },
    #[error("{what} cut short: needed {needed} bytes, only {got} left in the file")]
    Truncated {
        what: &'static str,
        needed: u64,
        got: u64,
    },
    #[error("{what} length {len} is absurd (limit {max})")]
    AbsurdLength {
        what: &'static str,
        len: u64,
        max: u64,
    },
    #[error("block total length {header} in header and {trailer} in trailer don't match")]
    TrailerMismatch { header: u32, trailer: u32 },
    #[error("corrupt {what}: {why}")]
    Corrupt { what: &'static str, why: String },
    #[error("packet refers to interface {0}, which was not described by an IDB")]
    UnknownInterface(u32),
}

impl ReadError {
    pub(crate) fn new(offset: u64, kind: ReadErrorKind) -> ReadError {
        ReadError { offset, kind }
    }
}
