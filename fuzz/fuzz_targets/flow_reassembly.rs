//! Random TCP/UDP packet sequences into the flow table (and fragments into the
//! defragmenter), with tiny limits so that every limit path runs: no panic, bounded memory,
//! and no byte delivered twice.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/flow/tests/support/fuzz_body.rs"]
mod fuzz_body;

fuzz_target!(|data: &[u8]| fuzz_body::run(data));
