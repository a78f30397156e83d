//! Statistics gathered in the indexing pass (protocol hierarchy, conversations, endpoints,
//! expert information) and computed over frame sets (I/O graph).

use wiresift_capfile::Frame;
use wiresift_engine::{FrameSource, Processed};

/// Accumulates the per-capture statistics frame by frame.
#[derive(Default)]
pub struct Collector {
    pub frames: u64,
    pub bytes: u64,
}

impl Collector {
    pub fn add(&mut self, frame: &Frame<'_>, _src: &FrameSource<'_>, _p: &Processed<'_>) {
        self.frames += 1;
        self.bytes += u64::from(frame.orig_len);
    }

    pub fn finish(&mut self, _tls: Option<&wiresift_tls::TlsLayer>) {}
}
