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

use crate::fastmap::FastMap;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use wiresift_dissect::decode::{Link, Net, Transport};
use wiresift_engine::{Engine, EngineOptions};
use wiresift_flow::{NullHandler, PacketFlow};

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
    fn title(self) -> &'static str {
        match self {
            ConvProto::Eth => "Ethernet",
            ConvProto::Ip => "IPv4",
            ConvProto::Ipv6 => "IPv6",
            ConvProto::Tcp => "TCP",
            ConvProto::Udp => "UDP",
        }
    }
    fn ports(self) -> bool {
        matches!(self, ConvProto::Tcp | ConvProto::Udp)
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

/// An address as the tables print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Addr {
    Mac([u8; 6]),
    Ip(IpAddr),
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Mac(m) => write!(
                f,
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            Addr::Ip(a) => write!(f, "{a}"),
        }
    }
}

type Ep = (Addr, u16);

#[derive(Debug)]
struct Conv {
    a: Ep,
    b: Ep,
    tx_frames: u64,
    tx_bytes: u64,
    rx_frames: u64,
    rx_bytes: u64,
    start: i64,
    stop: i64,
}

#[derive(Debug)]
struct Endpoint {
    ep: Ep,
    tx_frames: u64,
    tx_bytes: u64,
    rx_frames: u64,
    rx_bytes: u64,
}

/// One conversation table and its endpoint table.
#[derive(Default)]
struct Table {
    convs: Vec<Conv>,
    conv_idx: FastMap<(Ep, Ep, u64), usize>,
    eps: Vec<Endpoint>,
    ep_idx: FastMap<Ep, usize>,
}

impl Table {
    fn add(&mut self, src: Ep, dst: Ep, conv_id: u64, bytes: u64, rel: i64) {
        let key = if src <= dst {
            (src, dst, conv_id)
        } else {
            (dst, src, conv_id)
        };
        let i = *self.conv_idx.entry(key).or_insert_with(|| {
            self.convs.push(Conv {
                a: src,
                b: dst,
                tx_frames: 0,
                tx_bytes: 0,
                rx_frames: 0,
                rx_bytes: 0,
                start: rel,
                stop: rel,
            });
            self.convs.len() - 1
        });
        let c = &mut self.convs[i];
        if c.a == src && c.b == dst {
            c.tx_frames += 1;
            c.tx_bytes += bytes;
        } else {
            c.rx_frames += 1;
            c.rx_bytes += bytes;
        }
        if rel > c.stop {
            c.stop = rel;
        } else if rel < c.start {
            c.start = rel;
        }
        for (ep, tx) in [(src, true), (dst, false)] {
            let j = *self.ep_idx.entry(ep).or_insert_with(|| {
                self.eps.push(Endpoint {
                    ep,
                    tx_frames: 0,
                    tx_bytes: 0,
                    rx_frames: 0,
                    rx_bytes: 0,
                });
                self.eps.len() - 1
            });
            let e = &mut self.eps[j];
            if tx {
                e.tx_frames += 1;
                e.tx_bytes += bytes;
            } else {
                e.rx_frames += 1;
                e.rx_bytes += bytes;
            }
        }
    }
}

/// Wireshark's `format_size(n, FORMAT_SIZE_UNIT_BYTES, 0)`: SI prefixes, integer division,
/// a prefix only from 10 of its units on.
fn format_size(n: u64) -> String {
    const P: [(u64, &str); 6] = [
        (1_000_000_000_000_000_000, "E"),
        (1_000_000_000_000_000, "P"),
        (1_000_000_000_000, "T"),
        (1_000_000_000, "G"),
        (1_000_000, "M"),
        (1_000, "k"),
    ];
    for (unit, p) in P {
        if n / unit >= 10 {
            return format!("{} {p}B", n / unit);
        }
    }
    format!("{n} bytes")
}

fn secs(ns: i64) -> f64 {
    ns.div_euclid(1_000_000_000) as f64 + ns.rem_euclid(1_000_000_000) as f64 / 1e9
}

/// Indices of `totals` in tshark's order: total frames descending, ties by first appearance.
fn order(totals: &[u64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..totals.len()).filter(|&i| totals[i] > 0).collect();
    idx.sort_by(|&x, &y| totals[y].cmp(&totals[x]).then(x.cmp(&y)));
    idx
}

const RULE: &str =
    "================================================================================\n";

fn ep_str(ep: &Ep, ports: bool) -> String {
    if ports {
        format!("{}:{}", ep.0, ep.1)
    } else {
        ep.0.to_string()
    }
}

fn print_conv(out: &mut String, proto: ConvProto, t: &Table) {
    use std::fmt::Write as _;
    let pad = if proto.ports() { "            " } else { "" };
    out.push_str(RULE);
    let _ = writeln!(out, "{} Conversations", proto.title());
    out.push_str("Filter:<No Filter>\n");
    let _ = writeln!(
        out,
        "{pad}                                               |       <-      | |       ->      | |     Total     |    Relative    |   Duration   |"
    );
    let _ = writeln!(
        out,
        "{pad}                                               | Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |"
    );
    let totals: Vec<u64> = t.convs.iter().map(|c| c.tx_frames + c.rx_frames).collect();
    for i in order(&totals) {
        let c = &t.convs[i];
        if proto.ports() {
            let _ = write!(
                out,
                "{:<26} <-> {:<26}",
                ep_str(&c.a, true),
                ep_str(&c.b, true)
            );
        } else {
            let _ = write!(
                out,
                "{:<20} <-> {:<20}",
                ep_str(&c.a, false),
                ep_str(&c.b, false)
            );
        }
        let _ = writeln!(
            out,
            "  {:>6} {:<9}  {:>6} {:<9}  {:>6} {:<9}  {:>14.9}   {:>12.4}",
            c.rx_frames,
            format_size(c.rx_bytes),
            c.tx_frames,
            format_size(c.tx_bytes),
            c.tx_frames + c.rx_frames,
            format_size(c.tx_bytes + c.rx_bytes),
            secs(c.start),
            secs(c.stop) - secs(c.start)
        );
    }
    out.push_str(RULE);
}

fn print_endpoints(out: &mut String, proto: ConvProto, t: &Table) {
    use std::fmt::Write as _;
    out.push_str(RULE);
    let _ = writeln!(out, "{} Endpoints", proto.title());
    out.push_str("Filter:<No Filter>\n");
    let _ = writeln!(
        out,
        "                       |  {}Packets  | |  Bytes  | | Tx Packets | | Tx Bytes | | Rx Packets | | Rx Bytes |",
        if proto.ports() { "Port  ||  " } else { "" }
    );
    let totals: Vec<u64> = t.eps.iter().map(|e| e.tx_frames + e.rx_frames).collect();
    for i in order(&totals) {
        let e = &t.eps[i];
        let _ = write!(out, "{:<20}      ", e.ep.0.to_string());
        if proto.ports() {
            let _ = write!(out, "{:>5}     ", e.ep.1);
        }
        let _ = writeln!(
            out,
            "{:>6}     {:>9}     {:>6}       {:>9}      {:>6}       {:>9}   ",
            e.tx_frames + e.rx_frames,
            e.tx_bytes + e.rx_bytes,
            e.tx_frames,
            e.tx_bytes,
            e.rx_frames,
            e.rx_bytes
        );
    }
    out.push_str(RULE);
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
    let need_flow = protos.iter().any(|p| p.ports() || *p == ConvProto::Ipv6);
    let mut eng = Engine::new(EngineOptions {
        flow: limits,
        ..Default::default()
    });
    let mut tables: FastMap<ConvProto, Table> = FastMap::default();
    let want = |p: ConvProto| protos.contains(&p);
    let mut first = None::<i64>;
    let mut damaged = false;
    while crate::output::advance_or_report(&mut reader, &a.file, &mut damaged) {
        let Some(frame) = reader.current() else { break };
        let rel = frame.ts - *first.get_or_insert(frame.ts);
        let bytes = u64::from(frame.orig_len);
        let processed = if need_flow {
            Some(eng.process(&frame, &mut NullHandler))
        } else {
            None
        };
        let plain;
        let layers = match &processed {
            Some(p) => &p.layers,
            None => {
                plain = wiresift_dissect::decode::decode(frame.link, frame.data);
                &plain
            }
        };
        if want(ConvProto::Eth)
            && let Link::Ethernet { dst, src, .. } = layers.link
        {
            tables.entry(ConvProto::Eth).or_default().add(
                (Addr::Mac(src), 0),
                (Addr::Mac(dst), 0),
                u64::MAX,
                bytes,
                rel,
            );
        }
        let addrs = match layers.net {
            Net::Ipv4(ip) => {
                if want(ConvProto::Ip) {
                    tables.entry(ConvProto::Ip).or_default().add(
                        (Addr::Ip(IpAddr::from(ip.src)), 0),
                        (Addr::Ip(IpAddr::from(ip.dst)), 0),
                        u64::MAX,
                        bytes,
                        rel,
                    );
                }
                Some((IpAddr::from(ip.src), IpAddr::from(ip.dst)))
            }
            Net::Ipv6(ip) => {
                // Wireshark's IPv6 tap sees a fragmented datagram once, when it is complete.
                let pending = processed.as_ref().is_some_and(|p| p.hide_transport);
                if want(ConvProto::Ipv6) && !pending {
                    tables.entry(ConvProto::Ipv6).or_default().add(
                        (Addr::Ip(IpAddr::from(ip.src)), 0),
                        (Addr::Ip(IpAddr::from(ip.dst)), 0),
                        u64::MAX,
                        bytes,
                        rel,
                    );
                }
                Some((IpAddr::from(ip.src), IpAddr::from(ip.dst)))
            }
            _ => None,
        };
        if let (Some(p), Some((src, dst))) = (&processed, addrs) {
            let tl = p.transport(frame.data).map(|(_, l)| l.transport);
            let (proto, stream, ports) = match (p.flow, tl) {
                (Some(PacketFlow::Tcp(t)), Some(Transport::Tcp(h))) => {
                    (ConvProto::Tcp, t.stream, (h.sport, h.dport))
                }
                (
                    Some(PacketFlow::Udp { stream, .. }),
                    Some(Transport::Udp { sport, dport, .. }),
                ) => (ConvProto::Udp, stream, (sport, dport)),
                _ => continue,
            };
            if want(proto) {
                tables.entry(proto).or_default().add(
                    (Addr::Ip(src), ports.0),
                    (Addr::Ip(dst), ports.1),
                    stream,
                    bytes,
                    rel,
                );
            }
        }
    }
    let mut text = String::new();
    for p in &protos {
        let empty = Table::default();
        let t = tables.get(p).unwrap_or(&empty);
        match kind {
            Kind::Conversations => print_conv(&mut text, *p, t),
            Kind::Endpoints => print_endpoints(&mut text, *p, t),
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

#[cfg(test)]
mod tests {
    use super::format_size;

    #[test]
    fn sizes_as_wireshark() {
        assert_eq!(format_size(0), "0 bytes");
        assert_eq!(format_size(9999), "9999 bytes");
        assert_eq!(format_size(10_000), "10 kB");
        assert_eq!(format_size(17_310), "17 kB");
        assert_eq!(format_size(10_000_000), "10 MB");
        assert_eq!(format_size(9_999_999), "9999 kB");
    }
}
