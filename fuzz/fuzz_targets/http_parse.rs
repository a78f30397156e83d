//! Random bytes as a script of stream events (data in either direction, gaps, FINs, close) for
//! the HTTP extractor, with fields, http.file_data (so the decoders and the multipart splitter
//! run) and a HAR log: no panic, bounded memory.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use wiresift_export::Extractor;
use wiresift_flow::{
    CloseReason, DirSummary, Direction, FlowHandler, FlowId, FlowInfo, FlowSummary, Gap, GapCause,
    Proto,
};
use wiresift_http::{HttpExtractor, HttpOptions, TcpSegmentInfo};

fuzz_target!(|data: &[u8]| {
    let mut h = HttpExtractor::new(
        HttpOptions {
            fields: true,
            file_data: 256,
            max_head: 512,
            max_pending: 4,
            max_h2_streams: 4,
            hpack_table_max: 256,
            ..HttpOptions::default()
        },
        None,
    );
    let _ = h.with_har(Box::new(std::io::sink()));
    let id = FlowId {
        proto: Proto::Tcp,
        stream: 0,
    };
    let a = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
    let b = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);
    h.on_open(
        id,
        &FlowInfo {
            stream: 0,
            proto: Proto::Tcp,
            client: a,
            server: b,
            first_from_client: true,
            first_frame: 1,
            first_ts: 0,
            community_id: String::new(),
        },
    );
    let mut i = 0;
    let mut frame = 1u64;
    while i < data.len() {
        let op = data[i];
        i += 1;
        let dir = if op & 1 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        frame += 1;
        match op >> 5 {
            0 => {
                let n = (usize::from(data.get(i).copied().unwrap_or(0)) + 1).min(data.len() - i);
                h.on_gap(
                    id,
                    dir,
                    &Gap {
                        missing: n as u64,
                        cause: GapCause::NotCaptured,
                        frame,
                        ts: frame as i64,
                    },
                );
                i += 1;
            }
            1 => h.tcp_segment(
                TcpSegmentInfo {
                    stream: 0,
                    dir,
                    rel_seq: 0,
                    len: 0,
                    fin: true,
                    retransmission: op & 2 != 0,
                },
                frame,
                frame as i64,
            ),
            _ => {
                let n = (usize::from(op >> 1 & 0x0f) * 37 + 1).min(data.len() - i);
                h.on_data(id, dir, &data[i..i + n], frame as i64, frame);
                i += n;
            }
        }
        let mut recs = Vec::new();
        h.drain_records(&mut recs);
        h.end_frame();
    }
    h.on_close(
        id,
        &FlowSummary {
            stream: 0,
            proto: Proto::Tcp,
            reason: CloseReason::EndOfCapture,
            dirs: [DirSummary::default(); 2],
            first_ts: 0,
            last_ts: frame as i64,
            first_frame: 1,
            last_frame: frame,
        },
    );
    let _ = h.finish_har();
});
