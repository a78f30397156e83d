//! Any bytes as a capture file: the reader must return frames or an error, never panic, and
//! never allocate more than its caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wiresift_capfile::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = CaptureReader::new(Box::new(std::io::Cursor::new(data.to_vec()))) else {
        return;
    };
    let mut n = 0u32;
    while let Ok(Some(f)) = r.next_frame() {
        assert!(f.data.len() <= data.len());
        n += 1;
        if n > 100_000 {
            break;
        }
    }
    let _ = r.interfaces().len();
});
