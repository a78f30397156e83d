//! Sending data back onto the network (DESIGN.md job 4):
//!
//! * [`send`]: a netcat-like client and one-shot server over TCP, UDP or TLS;
//! * [`turns`] + [`stream_replay`]: a recorded conversation's client (or server) side replayed
//!   turn by turn to a live peer, with a per-turn comparison of what came back;
//! * [`packet_replay`] + [`rewrite`]: frames of a capture put onto an interface with their
//!   original timing (or a rate), MAC/IP/port rewriting and checksum repair.
//!
//! Sockets, clocks and files live here (this is a driver crate); the wire is reached through
//! `std::net`, `socket2`, rustls and, for frames, `wiresift_capture::inject`.
#![forbid(unsafe_code)]

pub mod compare;
pub mod net;
pub mod packet_replay;
pub mod rewrite;
pub mod send;
pub mod stream_replay;
pub mod tls;
pub mod turns;

use std::time::Duration;

/// `5 s`, `0.5 s`: durations in messages.
pub fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if (s - s.round()).abs() < 1e-9 {
        format!("{} s", s.round() as u64)
    } else {
        format!("{s:.3} s")
    }
}
