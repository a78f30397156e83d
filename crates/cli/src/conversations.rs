//! `wiresift conversations` and `wiresift endpoints`: per-conversation and per-endpoint frame
//! and byte counts, printed in the layout of `tshark -q -z conv,TYPE` / `-z endpoints,TYPE`
//! (Wireshark 4.0, `ui/cli/tap-iousers.c` and `tap-endpoints.c`).
//!
//! As in Wireshark: bytes are frame lengths on the wire; TCP and UDP conversations are keyed by
//! their stream index as well (a reused port pair is a new conversation); a conversation's
//! "A" side is the source of its first frame, `->` counts A→B and `<-` B→A; rows are sorted by
//! total frames, descending, ties in order of first appearance; the TCP/UDP taps see an IP
//! datagram once, on the frame that completed its reassembly, and so does the IPv6 table (the
//! IPv4 table counts every fragment, as Wireshark's IPv4 tap does).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use wiresift_engine::{Engine, EngineOptions};
use wiresift_flow::NullHandler;
use wiresift_session::stats::{ConvKind, ConvTap};

use crate::Outcome;
use crate::follow::{LimitArgs, open, report_limits};
use crate::output::Out;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum ConvProto {
    Eth,
    Ip,
    Ipv6,
    Tcp,
    Udp,
}

impl ConvProto {
    fn kind(self) -> ConvKind {
        match self {
            ConvProto::Eth => ConvKind::Eth,
            ConvProto::Ip => ConvKind::Ipv4,
            ConvProto::Ipv6 => ConvKind::Ipv6,
            ConvProto::Tcp => ConvKind::Tcp,
            ConvProto::Udp => ConvKind::Udp,
        }
    }
}

#[derive(Args)]
pub struct ConvArgs {
    /// Capture file (pcap or pcapng, optionally gzip-compressed); `-` reads standard input
    pub file: PathBuf,
    /// Table to print (repeatable; default tcp), like tshark -z conv,TYPE / -z endpoints,TYPE
    #[arg(long = "proto", value_enum, value_name = "TYPE")]
    pub protos: Vec<ConvProto>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Which tables: conversations or endpoints.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Conversations,
    Endpoints,
}

pub fn run(a: ConvArgs, kind: Kind) -> Result<Outcome> {
    let limits = match a.limits.limits() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wiresift: {e}");
            return Ok(Outcome::Failed);
        }
    };
    let mut protos = a.protos.clone();
    if protos.is_empty() {
        protos.push(ConvProto::Tcp);
    }
    protos.dedup();
    let Some(mut reader) = open(&a.file) else {
        return Ok(Outcome::Failed);
    };
    let kinds: Vec<ConvKind> = protos.iter().map(|p| p.kind()).collect();
    // The tables are the session crate's (the UI's Statistics show the same numbers).
    let mut tap = ConvTap::new(&kinds, usize::MAX);
    let need_flow = tap.needs_flows();
    let mut eng = Engine::new(EngineOptions {
        flow: limits,
        ..Default::default()
    });
    let mut damaged = false;
    while crate::output::advance_or_report(&mut reader, &a.file, &mut damaged) {
        let Some(frame) = reader.current() else { break };
        if need_flow {
            let p = eng.process(&frame, &mut NullHandler);
            tap.add(&frame, &p.layers, Some(&p));
        } else {
            let layers = wiresift_dissect::decode::decode(frame.link, frame.data);
            tap.add(&frame, &layers, None);
        }
    }
    let mut text = String::new();
    for k in &kinds {
        let t = tap.table(*k);
        match kind {
            Kind::Conversations => text.push_str(&t.render_conversations(*k)),
            Kind::Endpoints => text.push_str(&t.render_endpoints(*k)),
        }
    }
    let mut out = Out::stdout();
    out.buf.extend_from_slice(text.as_bytes());
    out.flush()?;
    let lost = need_flow && report_limits(&eng, 0, 0);
    Ok(if damaged || lost {
        Outcome::Partial
    } else {
        Outcome::Ok
    })
}
