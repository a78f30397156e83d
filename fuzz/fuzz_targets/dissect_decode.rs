//! Any bytes as a frame of any link type: decoding and the summary line must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wiresift_capfile::LinkType;
use wiresift_dissect::{Summarizer, decode};

const LINKS: [u16; 9] = [0, 1, 101, 108, 113, 228, 229, 276, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let link = LinkType(LINKS[usize::from(sel) % LINKS.len()]);
    let layers = decode(link, frame);
    let mut s = Summarizer::new();
    let mut out = Vec::new();
    s.write(&mut out, frame, &layers, frame.len() as u32);
    // A second frame exercises the relative-sequence state.
    s.write(&mut out, frame, &layers, frame.len() as u32);
    let _ = layers.payload(frame);
});
