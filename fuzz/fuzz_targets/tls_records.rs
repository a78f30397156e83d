//! Arbitrary bytes as the two directions of a TCP stream through the TLS layer (record
//! splitting, handshake parsing, key derivation and decryption with keys for an all-zero
//! client random): must never panic or grow without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wiresift_flow::{Direction, FlowHandler, FlowId, FlowInfo, NullHandler, Proto};
use wiresift_tls::{KeyStore, TlsLayer};

fuzz_target!(|data: &[u8]| {
    let mut keys = KeyStore::new();
    let cr = "00".repeat(32);
    let s = "11".repeat(48);
    let text = format!(
        "CLIENT_RANDOM {cr} {s}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {s}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {cr} {s}\nCLIENT_TRAFFIC_SECRET_0 {cr} {s}\nSERVER_TRAFFIC_SECRET_0 {cr} {s}\n"
    );
    keys.keylog.add_text(text.as_bytes());
    let mut layer = TlsLayer::new(keys);
    layer.collect_fields(true);
    let id = FlowId {
        proto: Proto::Tcp,
        stream: 0,
    };
    let info = FlowInfo {
        stream: 0,
        proto: Proto::Tcp,
        client: ("10.0.0.1".parse().unwrap(), 1000),
        server: ("10.0.0.2".parse().unwrap(), 443),
        first_from_client: true,
        first_frame: 1,
        first_ts: 0,
        community_id: String::new(),
    };
    let mut null = NullHandler;
    let mut w = layer.wrap(&mut null);
    w.on_open(id, &info);
    // Chunks: 1 byte header (direction bit, length), then that many bytes.
    let mut rest = data;
    let mut frame = 1;
    while let Some((&h, tail)) = rest.split_first() {
        let n = usize::from(h & 0x7f).min(tail.len());
        let dir = if h & 0x80 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        w.on_data(id, dir, &tail[..n], frame, frame as u64);
        rest = &tail[n..];
        frame += 1;
    }
    drop(w);
    let _ = layer.frame_fields(frame as u64).summary();
    let _ = layer.report(id);
});
