//! The mail state machines (SMTP, POP3, IMAP) on arbitrary bytes, split into segments at
//! arbitrary points, both directions interleaved, with gaps: no panic, no unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wiresift_flow::{
    CloseReason, DirSummary, Direction, FlowHandler, FlowId, FlowInfo, FlowSummary, Gap, GapCause,
    Proto,
};
use wiresift_mail::{MailExtractor, MailOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let port = [25u16, 110, 143][usize::from(sel % 3)];
    let opts = MailOptions {
        fields: true,
        max_line: 256,
        max_pending: 8,
        ..MailOptions::default()
    };
    let mut x = MailExtractor::new(opts, None).unwrap();
    let id = FlowId { proto: Proto::Tcp, stream: 0 };
    let info = FlowInfo {
        stream: 0,
        proto: Proto::Tcp,
        client: ("10.0.0.1".parse().unwrap(), 40000),
        server: ("10.0.0.2".parse().unwrap(), port),
        first_from_client: true,
        first_frame: 1,
        first_ts: 0,
        community_id: String::new(),
    };
    x.on_open(id, &info);
    // Each chunk: a control byte (direction, gap, length) then up to 64 bytes.
    let mut i = 0;
    let mut frame = 1;
    while i < rest.len() {
        let c = rest[i];
        i += 1;
        let n = usize::from(c & 63).min(rest.len() - i);
        let dir = if c & 64 == 0 { Direction::ClientToServer } else { Direction::ServerToClient };
        if c & 128 != 0 && n == 0 {
            let gap = Gap { missing: 7, cause: GapCause::NotCaptured, frame, ts: 0 };
            x.on_gap(id, dir, &gap);
        } else {
            x.on_data(id, dir, &rest[i..i + n], frame as i64, frame);
        }
        i += n;
        frame += 1;
        wiresift_export::Extractor::end_frame(&mut x);
    }
    let summary = FlowSummary {
        stream: 0,
        proto: Proto::Tcp,
        reason: CloseReason::EndOfCapture,
        dirs: [DirSummary::default(); 2],
        first_ts: 0,
        last_ts: 0,
        first_frame: 1,
        last_frame: frame,
    };
    x.on_close(id, &summary);
});
