//! Frame decoding, tcpdump-style summary lines and hex dumps.
//!
//! The pipeline calls [`decode`] once per frame (no allocation), then whichever sinks the user
//! asked for: the [`Summarizer`], the hex dump, the field registry for filters and structured
//! output.
#![forbid(unsafe_code)]

pub mod decode;
pub mod dns;
pub mod fields;
pub mod fmt;
mod summary;

pub use decode::{Layers, Link, Net, Transport, decode};
pub use fields::{FrameMeta, FrameView};
pub use fmt::TimeFormat;
pub use summary::{MAX_SEQ_ENTRIES, SeqBase, Summarizer, looks_like_request_or_response};
