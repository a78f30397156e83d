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
use wiresift_dissect::decode::{Link, Net, Transport};
use wiresift_engine::{Engine, EngineOptions};
use wiresift_flow::NullHandler;

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

#[derive(Default)]
struct Node {
    name: &'static str,
    frames: u64,
    bytes: u64,
    children: Vec<Node>,
}

impl Node {
    fn add(&mut self, path: &[&'static str], bytes: u64) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let i = match self.children.iter().position(|c| c.name == *first) {
            Some(i) => i,
            None => {
                self.children.push(Node {
                    name: first,
                    ..Default::default()
                });
                self.children.len() - 1
            }
        };
        let c = &mut self.children[i];
        c.frames += 1;
        c.bytes += bytes;
        c.add(rest, bytes);
    }

    fn draw(&self, out: &mut String, depth: usize) {
        use std::fmt::Write as _;
        for c in &self.children {
            let mut label = String::new();
            for i in 0..depth {
                if i > 15 {
                    label.push_str("...");
                    break;
                }
                label.push_str("  ");
            }
            label.push_str(c.name);
            let _ = writeln!(
                out,
                "{label:<40} frames:{} bytes:{}",
                c.frames as u32, c.bytes
            );
            c.draw(out, depth + 1);
        }
    }
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
    let mut root = Node::default();
    let mut damaged = false;
    let mut path: Vec<&'static str> = Vec::with_capacity(8);
    while crate::output::advance_or_report(&mut reader, &a.file, &mut damaged) {
        let Some(frame) = reader.current() else { break };
        let p = eng.process(&frame, &mut NullHandler);
        let l = &p.layers;
        path.clear();
        match l.link {
            Link::Ethernet { .. } => path.push("eth"),
            Link::Sll { .. } | Link::Sll2 { .. } => path.push("sll"),
            Link::Null { .. } => path.push("null"),
            Link::Raw => path.push("raw"),
            Link::Unknown(_) | Link::Truncated => {}
        }
        for t in l.vlans() {
            // tshark's phs names the 802.1ad service tag ieee8021ad and 802.1Q tags vlan.
            path.push(if t.tpid == wiresift_dissect::decode::ETH_QINQ {
                "ieee8021ad"
            } else {
                "vlan"
            });
        }
        match l.net {
            Net::Ipv4(_) => path.push("ip"),
            Net::Ipv6(_) => path.push("ipv6"),
            Net::Arp { .. } => path.push("arp"),
            Net::None | Net::Other { .. } => {}
        }
        if let Some((_, tl)) = p.transport(frame.data) {
            match tl.transport {
                Transport::Tcp(_) => path.push("tcp"),
                Transport::Udp { .. } => path.push("udp"),
                Transport::Icmp { .. } => path.push("icmp"),
                Transport::Icmpv6 { .. } => path.push("icmpv6"),
                _ => {}
            }
        }
        root.add(&path, u64::from(frame.orig_len));
    }
    let mut text = String::from(
        "\n===================================================================\nProtocol Hierarchy Statistics\nFilter: \n\n",
    );
    root.draw(&mut text, 0);
    text.push_str("===================================================================\n");
    let mut out = Out::stdout();
    out.buf.extend_from_slice(text.as_bytes());
    out.flush()?;
    Ok(if damaged {
        Outcome::Partial
    } else {
        Outcome::Ok
    })
}
