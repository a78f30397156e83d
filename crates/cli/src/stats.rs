//! `wiresift stats`: a protocol hierarchy in the layout of `tshark -q -z io,phs`
//! (Wireshark 4.0, `ui/cli/tap-protohierstat.c`).
//!
//! The hierarchy is built from wiresift's own decoder: link layer, VLAN tags, network layer,
//! transport layer. It stops at the transport layer (tshark goes on into the application
//! protocols); every line wiresift prints has the frame and byte counts tshark prints for the
//! same path. As in tshark: bytes are frame lengths on the wire, siblings are listed in order of
//! first appearance, and a frame that completed an IP reassembly counts under the transport of
//! the reassembled datagram (fragments that did not complete one stop at the IP layer).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wiresift_engine::{Engine, EngineOptions};
use wiresift_flow::NullHandler;
use wiresift_session::stats::Hierarchy;

use crate::Outcome;
use crate::follow::{LimitArgs, open};
use crate::output::Out;

#[derive(Args)]
pub struct StatsArgs {
    /// Capture file (pcap or pcapng, optionally gzip-compressed); `-` reads standard input
    pub file: PathBuf,
    #[command(flatten)]
    pub limits: LimitArgs,
}

pub fn run(a: StatsArgs) -> Result<Outcome> {
    let limits = match a.limits.limits() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wiresift: {e}");
            return Ok(Outcome::Failed);
        }
    };
    let Some(mut reader) = open(&a.file) else {
        return Ok(Outcome::Failed);
    };
    // The engine's IP reassembly decides where a fragment's transport is shown.
    let mut eng = Engine::new(EngineOptions {
        flow: limits,
        ..Default::default()
    });
    // The session crate's hierarchy (the UI's Statistics count the same way).
    let mut phs = Hierarchy::default();
    let mut damaged = false;
    while crate::output::advance_or_report(&mut reader, &a.file, &mut damaged) {
        let Some(frame) = reader.current() else { break };
        let p = eng.process(&frame, &mut NullHandler);
        phs.add_frame(&p, frame.data, None, u64::from(frame.orig_len));
    }
    let mut out = Out::stdout();
    out.buf.extend_from_slice(phs.render().as_bytes());
    out.flush()?;
    Ok(if damaged {
        Outcome::Partial
    } else {
        Outcome::Ok
    })
}
