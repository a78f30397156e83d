//! Statistics gathered in the indexing pass (protocol hierarchy, conversations, endpoints,
//! expert information, capture file properties) and computed over frame sets (I/O graph).
//!
//! The tables are the command line's: `wiresift stats` ([`Hierarchy`]), `wiresift
//! conversations`/`endpoints` ([`ConvTap`]) and `wiresift info` ([`crate::info::CapInfo`]) fill
//! and print the same types, so a number has one meaning in both places. Memory is bounded: the
//! hierarchy's names are a fixed vocabulary, conversation and endpoint tables stop adding rows at
//! [`ROW_LIMIT`] (the frames they miss are counted), expert items keep at most
//! [`EXPERT_FRAMES`] frame numbers each.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;
use wiresift_capfile::{CaptureReader, Frame};
use wiresift_dissect::decode::{ETH_QINQ, Layers, Link, Net, Transport};
use wiresift_engine::{FrameSource, Processed};
use wiresift_flow::{Analysis, PacketFlow};

use crate::info::CapInfo;
use crate::{Session, SessionError};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Rows a conversation or endpoint table holds in the UI's pass (each ~200 bytes with its
/// hash entry); frames of conversations beyond it are counted in [`Overflow`].
pub const ROW_LIMIT: usize = 100_000;
/// Frame numbers kept per expert item.
pub const EXPERT_FRAMES: usize = 100;
/// Expert items about TLS sessions and exported objects, each (the rest is counted).
const EXPERT_ITEMS: usize = 1000;
/// Intervals an I/O graph has at most; a finer interval is widened.
pub const MAX_INTERVALS: u64 = 100_000;

// ---------------------------------------------------------------------------------------------
// Protocol hierarchy (`tshark -z io,phs`)
// ---------------------------------------------------------------------------------------------

/// One protocol in the hierarchy: the frames and bytes (lengths on the wire) of every frame
/// whose layer path goes through it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PhsNode {
    pub name: &'static str,
    pub frames: u64,
    pub bytes: u64,
    /// An application protocol, named from the frame's protocol column (`wiresift stats`
    /// stops at the transport layer and has none).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub app: bool,
    pub children: Vec<PhsNode>,
}

/// Counts a frame under `path` below `nodes`; names from index `app_from` on are application
/// protocols.
fn add_path(nodes: &mut Vec<PhsNode>, path: &[&'static str], app_from: usize, bytes: u64) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let i = match nodes.iter().position(|c| c.name == *first) {
        Some(i) => i,
        None => {
            nodes.push(PhsNode {
                name: first,
                app: app_from == 0,
                ..Default::default()
            });
            nodes.len() - 1
        }
    };
    let c = &mut nodes[i];
    c.frames += 1;
    c.bytes += bytes;
    add_path(&mut c.children, rest, app_from.saturating_sub(1), bytes);
}

fn draw(nodes: &[PhsNode], out: &mut String, depth: usize) {
    for c in nodes {
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
        draw(&c.children, out, depth + 1);
    }
}

fn prune_apps(nodes: &mut Vec<PhsNode>) {
    nodes.retain(|c| !c.app);
    for c in nodes {
        prune_apps(&mut c.children);
    }
}

/// A layer path (at most 9 names: link, 4 VLAN tags, network, transport, application).
struct Path {
    names: [&'static str; 9],
    len: usize,
}

impl Path {
    fn push(&mut self, s: &'static str) {
        if let Some(slot) = self.names.get_mut(self.len) {
            *slot = s;
            self.len += 1;
        }
    }
}

/// The protocol hierarchy: siblings in order of first appearance, as tshark lists them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Hierarchy {
    /// All frames and bytes (the percentages' base).
    pub frames: u64,
    pub bytes: u64,
    pub children: Vec<PhsNode>,
}

impl Hierarchy {
    /// Counts a frame under its layer path: link layer, VLAN tags, network layer, transport
    /// (of the reassembled datagram when the frame completed one; none for a fragment that did
    /// not), then `app` when given.
    pub fn add_frame(
        &mut self,
        p: &Processed<'_>,
        data: &[u8],
        app: Option<&'static str>,
        bytes: u64,
    ) {
        let mut path = Path {
            names: [""; 9],
            len: 0,
        };
        let l = &p.layers;
        match l.link {
            Link::Ethernet { .. } => path.push("eth"),
            Link::Sll { .. } | Link::Sll2 { .. } => path.push("sll"),
            Link::Null { .. } => path.push("null"),
            Link::Raw => path.push("raw"),
            Link::Unknown(_) | Link::Truncated => {}
        }
        for t in l.vlans() {
            // tshark's phs names the 802.1ad service tag ieee8021ad and 802.1Q tags vlan.
            path.push(if t.tpid == ETH_QINQ {
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
        if let Some((_, tl)) = p.transport(data) {
            match tl.transport {
                Transport::Tcp(_) => path.push("tcp"),
                Transport::Udp { .. } => path.push("udp"),
                Transport::Icmp { .. } => path.push("icmp"),
                Transport::Icmpv6 { .. } => path.push("icmpv6"),
                _ => {}
            }
        }
        let layers = path.len;
        if let Some(a) = app {
            path.push(a);
        }
        self.frames += 1;
        self.bytes += bytes;
        add_path(&mut self.children, &path.names[..path.len], layers, bytes);
    }

    /// The hierarchy without the application protocols (what `wiresift stats` counts).
    pub fn layers_only(&self) -> Hierarchy {
        let mut h = self.clone();
        prune_apps(&mut h.children);
        h
    }

    /// The text `tshark -q -z io,phs` prints.
    pub fn render(&self) -> String {
        let mut text = String::from(
            "\n===================================================================\nProtocol Hierarchy Statistics\nFilter: \n\n",
        );
        draw(&self.children, &mut text, 0);
        text.push_str("===================================================================\n");
        text
    }
}

/// The hierarchy's name (Wireshark's filter name) of an application protocol column code.
fn app_name(code: u8) -> Option<&'static str> {
    Some(match crate::classify::name(code) {
        "HTTP" => "http",
        "HTTP2" => "http2",
        "DNS" => "dns",
        "MDNS" => "mdns",
        "TLSv1.0" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3" | "SSL" => "tls",
        "SMTP" => "smtp",
        "POP" => "pop",
        "IMAP" => "imap",
        "FTP" => "ftp",
        "DHCP" => "dhcp",
        "DHCPv6" => "dhcpv6",
        "NTP" => "ntp",
        "SSDP" => "ssdp",
        "LLMNR" => "llmnr",
        "NBNS" => "nbns",
        "SNMP" => "snmp",
        "Syslog" => "syslog",
        "QUIC" => "quic",
        "IGMP" => "igmp",
        "GRE" => "gre",
        "ESP" => "esp",
        "SCTP" => "sctp",
        "OSPF" => "ospf",
        "VRRP" => "vrrp",
        "RTSP" => "rtsp",
        "SSH" => "ssh",
        "Telnet" => "telnet",
        "LDAP" => "ldap",
        "Kerberos" => "kerberos",
        "STUN" => "stun",
        "SIP" => "sip",
        "BGP" => "bgp",
        "RDP" => "rdp",
        "SMB" => "smb",
        "NetBIOS" => "nbss",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Conversations and endpoints (`tshark -z conv,TYPE` / `-z endpoints,TYPE`)
// ---------------------------------------------------------------------------------------------

/// A conversation/endpoint table type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvKind {
    Eth,
    Ipv4,
    Ipv6,
    Tcp,
    Udp,
}

impl ConvKind {
    pub const ALL: [ConvKind; 5] = [
        ConvKind::Eth,
        ConvKind::Ipv4,
        ConvKind::Ipv6,
        ConvKind::Tcp,
        ConvKind::Udp,
    ];

    /// `eth`, `ip` (or `ipv4`), `ipv6`, `tcp`, `udp`.
    pub fn parse(s: &str) -> Option<ConvKind> {
        Some(match s {
            "eth" => ConvKind::Eth,
            "ip" | "ipv4" => ConvKind::Ipv4,
            "ipv6" => ConvKind::Ipv6,
            "tcp" => ConvKind::Tcp,
            "udp" => ConvKind::Udp,
            _ => return None,
        })
    }
    /// The name `-z conv,TYPE` takes.
    pub fn name(self) -> &'static str {
        match self {
            ConvKind::Eth => "eth",
            ConvKind::Ipv4 => "ip",
            ConvKind::Ipv6 => "ipv6",
            ConvKind::Tcp => "tcp",
            ConvKind::Udp => "udp",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            ConvKind::Eth => "Ethernet",
            ConvKind::Ipv4 => "IPv4",
            ConvKind::Ipv6 => "IPv6",
            ConvKind::Tcp => "TCP",
            ConvKind::Udp => "UDP",
        }
    }
    pub fn ports(self) -> bool {
        matches!(self, ConvKind::Tcp | ConvKind::Udp)
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// An address as the tables print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Addr {
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

/// No conversation id (tables without stream numbers).
const NO_CONV: u64 = u64::MAX;

#[derive(Clone, Debug)]
struct Conv {
    a: Ep,
    b: Ep,
    /// The stream (TCP/UDP) or [`NO_CONV`].
    id: u64,
    tx_frames: u64,
    tx_bytes: u64,
    rx_frames: u64,
    rx_bytes: u64,
    start: i64,
    stop: i64,
    /// The endpoint rows of `a` and `b` (none: beyond the endpoint limit), found once.
    eps: [Option<u32>; 2],
}

#[derive(Clone, Debug)]
struct Endpoint {
    ep: Ep,
    tx_frames: u64,
    tx_bytes: u64,
    rx_frames: u64,
    rx_bytes: u64,
}

/// What a table did not hold: frames (and their bytes) of conversations or endpoints beyond
/// its row limit.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Overflow {
    pub frames: u64,
    pub bytes: u64,
}

/// One conversation table and its endpoint table.
#[derive(Clone)]
pub struct ConvTable {
    convs: Vec<Conv>,
    conv_idx: FastMap<(Ep, Ep, u64), usize>,
    /// Conversation row + 1 by stream number (TCP/UDP tables; 0: none yet): a stream is one
    /// address/port pair, so most frames need no hashing at all.
    by_stream: Vec<u32>,
    /// The row + 1 of the last conversation counted (0: none).
    last: usize,
    eps: Vec<Endpoint>,
    ep_idx: FastMap<Ep, u32>,
    limit: usize,
    conv_overflow: Overflow,
    ep_overflow: Overflow,
}

impl Default for ConvTable {
    fn default() -> ConvTable {
        ConvTable::new(usize::MAX)
    }
}

impl ConvTable {
    /// A table of at most `limit` conversations and `limit` endpoints.
    pub fn new(limit: usize) -> ConvTable {
        ConvTable {
            convs: Vec::new(),
            conv_idx: FastMap::default(),
            by_stream: Vec::new(),
            last: 0,
            eps: Vec::new(),
            ep_idx: FastMap::default(),
            limit,
            conv_overflow: Overflow::default(),
            ep_overflow: Overflow::default(),
        }
    }

    /// Streams indexed directly (beyond: by hash).
    const BY_STREAM_MAX: u64 = 1 << 24;

    /// The row of a conversation (created when there is room).
    fn conv_row(&mut self, src: Ep, dst: Ep, conv_id: u64, rel: i64) -> Option<usize> {
        let hit = |c: &Conv| {
            c.id == conv_id && ((c.a == src && c.b == dst) || (c.a == dst && c.b == src))
        };
        // The previous frame's conversation (bursts), then the stream's: no hashing.
        if let Some(c) = self.last.checked_sub(1).and_then(|i| self.convs.get(i))
            && hit(c)
        {
            return Some(self.last - 1);
        }
        let direct = conv_id != NO_CONV && conv_id < Self::BY_STREAM_MAX;
        if direct
            && let Some(&r) = self.by_stream.get(conv_id as usize)
            && let Some(c) = (r as usize).checked_sub(1).and_then(|i| self.convs.get(i))
            && hit(c)
        {
            self.last = r as usize;
            return Some(r as usize - 1);
        }
        let key = if src <= dst {
            (src, dst, conv_id)
        } else {
            (dst, src, conv_id)
        };
        if let Some(&i) = self.conv_idx.get(&key) {
            self.last = i + 1;
            return Some(i);
        }
        if self.convs.len() >= self.limit {
            return None;
        }
        let eps = [self.ep_row(src), self.ep_row(dst)];
        self.convs.push(Conv {
            a: src,
            b: dst,
            id: conv_id,
            tx_frames: 0,
            tx_bytes: 0,
            rx_frames: 0,
            rx_bytes: 0,
            start: rel,
            stop: rel,
            eps,
        });
        let i = self.convs.len() - 1;
        self.conv_idx.insert(key, i);
        self.last = i + 1;
        if direct {
            let s = conv_id as usize;
            if self.by_stream.len() <= s {
                self.by_stream.resize(s + 1, 0);
            }
            if self.by_stream[s] == 0 {
                self.by_stream[s] = u32::try_from(i + 1).unwrap_or(0);
            }
        }
        Some(i)
    }

    /// The row of an endpoint (created when there is room).
    fn ep_row(&mut self, ep: Ep) -> Option<u32> {
        if let Some(&j) = self.ep_idx.get(&ep) {
            return Some(j);
        }
        if self.eps.len() >= self.limit {
            return None;
        }
        self.eps.push(Endpoint {
            ep,
            tx_frames: 0,
            tx_bytes: 0,
            rx_frames: 0,
            rx_bytes: 0,
        });
        let j = u32::try_from(self.eps.len() - 1).ok()?;
        self.ep_idx.insert(ep, j);
        Some(j)
    }

    fn add(&mut self, src: Ep, dst: Ep, conv_id: u64, bytes: u64, rel: i64) {
        let (tx_ep, rx_ep) = match self.conv_row(src, dst, conv_id, rel) {
            Some(i) => {
                let c = &mut self.convs[i];
                let forward = c.a == src && c.b == dst;
                if forward {
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
                if forward {
                    (c.eps[0], c.eps[1])
                } else {
                    (c.eps[1], c.eps[0])
                }
            }
            None => {
                self.conv_overflow.frames += 1;
                self.conv_overflow.bytes += bytes;
                (self.ep_row(src), self.ep_row(dst))
            }
        };
        for (j, tx) in [(tx_ep, true), (rx_ep, false)] {
            let Some(j) = j else {
                self.ep_overflow.frames += 1;
                self.ep_overflow.bytes += bytes;
                continue;
            };
            let e = &mut self.eps[j as usize];
            if tx {
                e.tx_frames += 1;
                e.tx_bytes += bytes;
            } else {
                e.rx_frames += 1;
                e.rx_bytes += bytes;
            }
        }
    }

    fn conv_order(&self) -> Vec<usize> {
        let totals: Vec<u64> = self
            .convs
            .iter()
            .map(|c| c.tx_frames + c.rx_frames)
            .collect();
        order(&totals)
    }

    fn ep_order(&self) -> Vec<usize> {
        let totals: Vec<u64> = self.eps.iter().map(|e| e.tx_frames + e.rx_frames).collect();
        order(&totals)
    }

    /// The conversation table as `tshark -q -z conv,TYPE` prints it.
    pub fn render_conversations(&self, kind: ConvKind) -> String {
        let mut out = String::new();
        let pad = if kind.ports() { "            " } else { "" };
        out.push_str(RULE);
        let _ = writeln!(out, "{} Conversations", kind.title());
        out.push_str("Filter:<No Filter>\n");
        let _ = writeln!(
            out,
            "{pad}                                               |       <-      | |       ->      | |     Total     |    Relative    |   Duration   |"
        );
        let _ = writeln!(
            out,
            "{pad}                                               | Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |"
        );
        for i in self.conv_order() {
            let c = &self.convs[i];
            if kind.ports() {
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
        out
    }

    /// The endpoint table as `tshark -q -z endpoints,TYPE` prints it.
    pub fn render_endpoints(&self, kind: ConvKind) -> String {
        let mut out = String::new();
        out.push_str(RULE);
        let _ = writeln!(out, "{} Endpoints", kind.title());
        out.push_str("Filter:<No Filter>\n");
        let _ = writeln!(
            out,
            "                       |  {}Packets  | |  Bytes  | | Tx Packets | | Tx Bytes | | Rx Packets | | Rx Bytes |",
            if kind.ports() { "Port  ||  " } else { "" }
        );
        for i in self.ep_order() {
            let e = &self.eps[i];
            let _ = write!(out, "{:<20}      ", e.ep.0.to_string());
            if kind.ports() {
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
        out
    }

    /// The conversations as the UI lists them (tshark's order).
    pub fn conversations(&self, kind: ConvKind) -> Conversations {
        let rows = self
            .conv_order()
            .into_iter()
            .map(|i| {
                let c = &self.convs[i];
                let stream = (c.id != NO_CONV).then_some(c.id);
                let filter = match (kind, stream) {
                    (ConvKind::Tcp, Some(s)) => format!("tcp.stream eq {s}"),
                    (ConvKind::Udp, Some(s)) => format!("udp.stream eq {s}"),
                    _ => format!(
                        "{}=={} && {}=={}",
                        addr_field(&c.a.0),
                        c.a.0,
                        addr_field(&c.b.0),
                        c.b.0
                    ),
                };
                ConversationRow {
                    address_a: c.a.0.to_string(),
                    port_a: kind.ports().then_some(c.a.1),
                    address_b: c.b.0.to_string(),
                    port_b: kind.ports().then_some(c.b.1),
                    packets: c.tx_frames + c.rx_frames,
                    bytes: c.tx_bytes + c.rx_bytes,
                    packets_ab: c.tx_frames,
                    bytes_ab: c.tx_bytes,
                    packets_ba: c.rx_frames,
                    bytes_ba: c.rx_bytes,
                    rel_start: secs(c.start),
                    duration: secs(c.stop) - secs(c.start),
                    stream,
                    filter,
                }
            })
            .collect();
        Conversations {
            kind: kind.name(),
            title: kind.title(),
            rows,
            limit: self.limit,
            overflow: self.conv_overflow,
        }
    }

    /// The endpoints as the UI lists them (tshark's order).
    pub fn endpoints(&self, kind: ConvKind) -> Endpoints {
        let rows = self
            .ep_order()
            .into_iter()
            .map(|i| {
                let e = &self.eps[i];
                let f = addr_field(&e.ep.0);
                let filter = match kind {
                    ConvKind::Tcp => format!("{f}=={} && tcp.port=={}", e.ep.0, e.ep.1),
                    ConvKind::Udp => format!("{f}=={} && udp.port=={}", e.ep.0, e.ep.1),
                    _ => format!("{f}=={}", e.ep.0),
                };
                EndpointRow {
                    address: e.ep.0.to_string(),
                    port: kind.ports().then_some(e.ep.1),
                    packets: e.tx_frames + e.rx_frames,
                    bytes: e.tx_bytes + e.rx_bytes,
                    tx_packets: e.tx_frames,
                    tx_bytes: e.tx_bytes,
                    rx_packets: e.rx_frames,
                    rx_bytes: e.rx_bytes,
                    filter,
                }
            })
            .collect();
        Endpoints {
            kind: kind.name(),
            title: kind.title(),
            rows,
            limit: self.limit,
            overflow: self.ep_overflow,
        }
    }
}

/// The display filter field of an address.
fn addr_field(a: &Addr) -> &'static str {
    match a {
        Addr::Mac(_) => "eth.addr",
        Addr::Ip(IpAddr::V4(_)) => "ip.addr",
        Addr::Ip(IpAddr::V6(_)) => "ipv6.addr",
    }
}

/// One conversation, with Wireshark's columns. "A" is the source of its first frame.
#[derive(Clone, Debug, Serialize)]
pub struct ConversationRow {
    pub address_a: String,
    pub port_a: Option<u16>,
    pub address_b: String,
    pub port_b: Option<u16>,
    pub packets: u64,
    pub bytes: u64,
    #[serde(rename = "packets_a_to_b")]
    pub packets_ab: u64,
    #[serde(rename = "bytes_a_to_b")]
    pub bytes_ab: u64,
    #[serde(rename = "packets_b_to_a")]
    pub packets_ba: u64,
    #[serde(rename = "bytes_b_to_a")]
    pub bytes_ba: u64,
    /// Seconds from the first frame of the capture.
    pub rel_start: f64,
    /// Seconds.
    pub duration: f64,
    /// `tcp.stream`/`udp.stream` (TCP and UDP tables).
    pub stream: Option<u64>,
    /// A display filter selecting the conversation's frames.
    pub filter: String,
}

/// A conversation table.
#[derive(Clone, Debug, Serialize)]
pub struct Conversations {
    pub kind: &'static str,
    pub title: &'static str,
    pub rows: Vec<ConversationRow>,
    /// Rows the table holds at most.
    pub limit: usize,
    /// Frames of conversations beyond the limit (not in any row).
    pub overflow: Overflow,
}

/// One endpoint, with Wireshark's columns.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointRow {
    pub address: String,
    pub port: Option<u16>,
    pub packets: u64,
    pub bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub filter: String,
}

/// An endpoint table.
#[derive(Clone, Debug, Serialize)]
pub struct Endpoints {
    pub kind: &'static str,
    pub title: &'static str,
    pub rows: Vec<EndpointRow>,
    pub limit: usize,
    /// Frames (counted once per endpoint side) of endpoints beyond the limit.
    pub overflow: Overflow,
}

/// Wireshark's `format_size(n, FORMAT_SIZE_UNIT_BYTES, 0)`: SI prefixes, integer division,
/// a prefix only from 10 of its units on.
pub fn format_size(n: u64) -> String {
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

/// The conversation and endpoint taps of every table type, fed frame by frame.
///
/// As in Wireshark: bytes are frame lengths on the wire; TCP and UDP conversations are keyed by
/// their stream index as well (a reused port pair is a new conversation); the TCP/UDP taps see
/// an IP datagram once, on the frame that completed its reassembly, and so does the IPv6 table
/// (the IPv4 table counts every fragment, as Wireshark's IPv4 tap does).
#[derive(Clone)]
pub struct ConvTap {
    want: [bool; 5],
    tables: [ConvTable; 5],
    first: Option<i64>,
}

impl Default for ConvTap {
    fn default() -> ConvTap {
        ConvTap::new(&ConvKind::ALL, ROW_LIMIT)
    }
}

impl ConvTap {
    /// Taps for `kinds`, each table holding at most `limit` rows.
    pub fn new(kinds: &[ConvKind], limit: usize) -> ConvTap {
        let mut want = [false; 5];
        for k in kinds {
            want[k.index()] = true;
        }
        ConvTap {
            want,
            tables: std::array::from_fn(|_| ConvTable::new(limit)),
            first: None,
        }
    }

    /// Whether [`Self::add`] needs the engine's facts (stream numbers, IP reassembly): the
    /// TCP, UDP and IPv6 tables do.
    pub fn needs_flows(&self) -> bool {
        [ConvKind::Tcp, ConvKind::Udp, ConvKind::Ipv6]
            .iter()
            .any(|k| self.want[k.index()])
    }

    pub fn table(&self, kind: ConvKind) -> &ConvTable {
        &self.tables[kind.index()]
    }

    /// Counts one frame (every frame of the capture, in order). `p` is the engine's result
    /// (required by the tables of [`Self::needs_flows`]; without it they count nothing).
    pub fn add(&mut self, frame: &Frame<'_>, layers: &Layers, p: Option<&Processed<'_>>) {
        let rel = frame.ts - *self.first.get_or_insert(frame.ts);
        let bytes = u64::from(frame.orig_len);
        let want = self.want;
        if want[ConvKind::Eth.index()]
            && let Link::Ethernet { dst, src, .. } = layers.link
        {
            self.tables[ConvKind::Eth.index()].add(
                (Addr::Mac(src), 0),
                (Addr::Mac(dst), 0),
                NO_CONV,
                bytes,
                rel,
            );
        }
        let addrs = match layers.net {
            Net::Ipv4(ip) => {
                if want[ConvKind::Ipv4.index()] {
                    self.tables[ConvKind::Ipv4.index()].add(
                        (Addr::Ip(IpAddr::from(ip.src)), 0),
                        (Addr::Ip(IpAddr::from(ip.dst)), 0),
                        NO_CONV,
                        bytes,
                        rel,
                    );
                }
                Some((IpAddr::from(ip.src), IpAddr::from(ip.dst)))
            }
            Net::Ipv6(ip) => {
                // Wireshark's IPv6 tap sees a fragmented datagram once, when it is complete.
                let pending = p.is_some_and(|p| p.hide_transport);
                if want[ConvKind::Ipv6.index()] && !pending {
                    self.tables[ConvKind::Ipv6.index()].add(
                        (Addr::Ip(IpAddr::from(ip.src)), 0),
                        (Addr::Ip(IpAddr::from(ip.dst)), 0),
                        NO_CONV,
                        bytes,
                        rel,
                    );
                }
                Some((IpAddr::from(ip.src), IpAddr::from(ip.dst)))
            }
            _ => None,
        };
        if let (Some(p), Some((src, dst))) = (p, addrs) {
            let tl = p.transport(frame.data).map(|(_, l)| l.transport);
            let (kind, stream, ports) = match (p.flow, tl) {
                (Some(PacketFlow::Tcp(t)), Some(Transport::Tcp(h))) => {
                    (ConvKind::Tcp, t.stream, (h.sport, h.dport))
                }
                (
                    Some(PacketFlow::Udp { stream, .. }),
                    Some(Transport::Udp { sport, dport, .. }),
                ) => (ConvKind::Udp, stream, (sport, dport)),
                _ => return,
            };
            if want[kind.index()] {
                self.tables[kind.index()].add(
                    (Addr::Ip(src), ports.0),
                    (Addr::Ip(dst), ports.1),
                    stream,
                    bytes,
                    rel,
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Expert information
// ---------------------------------------------------------------------------------------------

/// Wireshark's severities, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
    Chat,
}

/// One expert item: a kind of event, how often it happened and where first.
#[derive(Clone, Debug, Serialize)]
pub struct ExpertItem {
    pub severity: Severity,
    /// Wireshark's group: Sequence, Malformed, Decryption, Reassemble, ...
    pub group: &'static str,
    pub protocol: &'static str,
    pub summary: String,
    /// A display filter for the frames of the item, when there is one.
    pub filter: Option<String>,
    pub count: u64,
    /// The first frames (at most [`EXPERT_FRAMES`]).
    pub frames: Vec<u64>,
}

impl ExpertItem {
    fn new(
        severity: Severity,
        group: &'static str,
        protocol: &'static str,
        summary: String,
        filter: Option<String>,
    ) -> ExpertItem {
        ExpertItem {
            severity,
            group,
            protocol,
            summary,
            filter,
            count: 0,
            frames: Vec::new(),
        }
    }
    fn hit(&mut self, frame: u64) {
        self.count += 1;
        if self.frames.len() < EXPERT_FRAMES {
            self.frames.push(frame);
        }
    }
}

/// Counts per severity.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct SeverityCounts {
    pub error: u64,
    pub warning: u64,
    pub note: u64,
    pub chat: u64,
}

/// The expert information of a capture: items by severity (most severe first), then by count.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Expert {
    pub groups: Vec<ExpertItem>,
    pub counts: SeverityCounts,
}

/// Severity and summary of each `tcp.analysis.*` flag, in [`Analysis::NAMED`] order
/// (Wireshark's `packet-tcp.c` expert fields).
const TCP_EXPERT: [(Severity, &str); 15] = [
    (Severity::Note, "This frame is a (suspected) retransmission"),
    (
        Severity::Note,
        "This frame is a (suspected) fast retransmission",
    ),
    (
        Severity::Note,
        "This frame is a (suspected) spurious retransmission",
    ),
    (
        Severity::Warning,
        "This frame is a (suspected) out-of-order segment",
    ),
    (
        Severity::Warning,
        "Previous segment(s) not captured (common at capture start)",
    ),
    (
        Severity::Warning,
        "ACKed segment that wasn't captured (common at capture start)",
    ),
    (Severity::Chat, "TCP window update"),
    (
        Severity::Warning,
        "TCP window specified by the receiver is now completely full",
    ),
    (Severity::Note, "TCP keep-alive segment"),
    (Severity::Note, "ACK to a TCP keep-alive segment"),
    (Severity::Note, "Duplicate ACK"),
    (Severity::Warning, "TCP Zero Window segment"),
    (Severity::Note, "TCP Zero Window Probe"),
    (Severity::Note, "ACK to a TCP Zero Window Probe"),
    (
        Severity::Note,
        "A new tcp session is started with the same ports as an earlier session in this trace",
    ),
];

/// Expert items found frame by frame.
#[derive(Clone, Debug)]
struct ExpertTap {
    tcp: Vec<ExpertItem>,
    /// Layers cut short: by layer name and whether the wire length was cut too (malformed).
    cut: Vec<(&'static str, bool, ExpertItem)>,
    /// TLS sessions not decrypted (from the TLS layer's reports, at the end of the pass).
    tls: Vec<ExpertItem>,
    tls_more: u64,
    damage: Option<ExpertItem>,
}

impl Default for ExpertTap {
    fn default() -> ExpertTap {
        ExpertTap {
            tcp: Analysis::NAMED
                .iter()
                .zip(TCP_EXPERT)
                .map(|((_, name), (sev, summary))| {
                    ExpertItem::new(
                        sev,
                        "Sequence",
                        "TCP",
                        summary.to_string(),
                        Some((*name).to_string()),
                    )
                })
                .collect(),
            cut: Vec::new(),
            tls: Vec::new(),
            tls_more: 0,
            damage: None,
        }
    }
}

impl ExpertTap {
    fn add(&mut self, frame: &Frame<'_>, p: &Processed<'_>) {
        if let Some(PacketFlow::Tcp(t)) = p.flow
            && !t.analysis.is_empty()
        {
            for (i, (_, name)) in Analysis::NAMED.iter().enumerate() {
                if t.analysis.matches_field(name) {
                    self.tcp[i].hit(frame.number);
                }
            }
        }
        if let Some(layer) = p.layers.truncated {
            // A snapshot length cut the frame: Wireshark's "[Packet size limited during
            // capture]", not an error. A header longer than the frame on the wire is malformed.
            let snapped = (frame.data.len() as u64) < u64::from(frame.orig_len);
            let i = match self
                .cut
                .iter()
                .position(|(l, s, _)| *l == layer && *s == snapped)
            {
                Some(i) => i,
                None => {
                    let item = if snapped {
                        ExpertItem::new(
                            Severity::Note,
                            "Protocol",
                            "Frame",
                            format!("Packet size limited during capture: {layer} truncated"),
                            None,
                        )
                    } else {
                        ExpertItem::new(
                            Severity::Error,
                            "Malformed",
                            "Frame",
                            format!("Malformed packet: {layer} header cut short"),
                            None,
                        )
                    };
                    self.cut.push((layer, snapped, item));
                    self.cut.len() - 1
                }
            };
            self.cut[i].2.hit(frame.number);
        }
    }

    fn finish(&mut self, tls: Option<&wiresift_tls::TlsLayer>, damage: Option<&str>) {
        if let Some(d) = damage {
            let mut item = ExpertItem::new(
                Severity::Error,
                "Malformed",
                "File",
                format!("Capture file damaged: {d}"),
                None,
            );
            item.count = 1;
            self.damage = Some(item);
        }
        let Some(t) = tls else { return };
        // Only when keys were given (or came in the file): without keys every session is
        // "not decrypted" and saying so is noise.
        if t.keys().is_empty() {
            return;
        }
        for r in t.reports() {
            if !matches!(
                r.status,
                wiresift_tls::SessionStatus::NoKey | wiresift_tls::SessionStatus::Failed
            ) {
                continue;
            }
            if self.tls.len() >= EXPERT_ITEMS {
                self.tls_more += 1;
                continue;
            }
            let addr = |a: (IpAddr, u16)| std::net::SocketAddr::from(a).to_string();
            let mut summary = format!(
                "TLS session not decrypted: tcp.stream {} {} -> {}",
                r.flow.stream,
                addr(r.client),
                addr(r.server)
            );
            if let Some(sni) = &r.sni {
                let _ = write!(summary, " SNI={sni}");
            }
            let _ = write!(summary, ": {}", r.status.as_str());
            if let Some(why) = &r.reason {
                let _ = write!(summary, " ({why})");
            }
            let mut item = ExpertItem::new(
                Severity::Warning,
                "Decryption",
                "TLS",
                summary,
                Some(format!("tcp.stream eq {}", r.flow.stream)),
            );
            item.count = 1;
            self.tls.push(item);
        }
        self.tls_more += t.stats().reports_dropped;
    }

    /// Streams whose first frame the TLS items want.
    fn tls_streams(&self) -> Vec<u64> {
        self.tls.iter().filter_map(stream_of_item).collect()
    }
}

/// The TCP stream of an item whose filter is `tcp.stream eq N`.
fn stream_of_item(i: &ExpertItem) -> Option<u64> {
    i.filter
        .as_deref()?
        .strip_prefix("tcp.stream eq ")?
        .parse()
        .ok()
}

impl Expert {
    fn push(&mut self, item: ExpertItem) {
        if item.count == 0 {
            return;
        }
        let c = match item.severity {
            Severity::Error => &mut self.counts.error,
            Severity::Warning => &mut self.counts.warning,
            Severity::Note => &mut self.counts.note,
            Severity::Chat => &mut self.counts.chat,
        };
        *c += item.count;
        self.groups.push(item);
    }
    fn sort(&mut self) {
        // Stable: items of the same severity and count keep their order.
        self.groups
            .sort_by(|a, b| a.severity.cmp(&b.severity).then(b.count.cmp(&a.count)));
    }
}

// ---------------------------------------------------------------------------------------------
// The collector of the indexing pass
// ---------------------------------------------------------------------------------------------

/// Accumulates the per-capture statistics frame by frame.
#[derive(Clone, Default)]
pub struct Collector {
    pub frames: u64,
    pub bytes: u64,
    hierarchy: Hierarchy,
    conv: ConvTap,
    expert: ExpertTap,
    info: CapInfo,
    /// Set by [`Self::finish`].
    finished: bool,
}

impl Collector {
    /// Counts one frame; `proto` is its protocol column code ([`crate::classify`]).
    pub fn add(&mut self, frame: &Frame<'_>, _src: &FrameSource<'_>, p: &Processed<'_>, proto: u8) {
        let bytes = u64::from(frame.orig_len);
        self.frames += 1;
        self.bytes += bytes;
        self.info.add(frame);
        self.hierarchy
            .add_frame(p, frame.data, app_name(proto), bytes);
        self.conv.add(frame, &p.layers, Some(p));
        self.expert.add(frame, p);
    }

    /// Ends the pass: the reader's file facts (format, interfaces, statistics blocks, secrets),
    /// the damage that stopped it, and the TLS sessions that were not decrypted.
    pub fn finish(
        &mut self,
        tls: Option<&wiresift_tls::TlsLayer>,
        reader: &CaptureReader,
        damage: Option<&str>,
    ) {
        self.info.finish(reader, damage.map(str::to_string));
        self.expert.finish(tls, damage);
        self.finished = true;
    }

    /// The capture file facts counted in the pass.
    pub fn cap_info(&self) -> &CapInfo {
        &self.info
    }
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }
    pub fn conv(&self) -> &ConvTap {
        &self.conv
    }
    /// Whether the pass ended (its statistics are complete).
    pub fn finished(&self) -> bool {
        self.finished
    }
}

// ---------------------------------------------------------------------------------------------
// I/O graph
// ---------------------------------------------------------------------------------------------

/// One line of an I/O graph.
#[derive(Clone, Debug, Serialize)]
pub struct IoSeries {
    /// The display filter (none: all frames).
    pub filter: Option<String>,
    pub packets: Vec<u64>,
    /// Frame lengths on the wire.
    pub bytes: Vec<u64>,
    /// The first frame of each interval (0: none).
    pub first_frame: Vec<u64>,
    pub total_packets: u64,
    pub total_bytes: u64,
}

/// Packets and bytes per interval from the capture's first (earliest) frame.
#[derive(Clone, Debug, Serialize)]
pub struct IoGraph {
    /// The interval used.
    pub interval_ms: u64,
    /// The interval asked for, when it was widened to stay within [`MAX_INTERVALS`].
    pub widened_from: Option<u64>,
    /// Time of interval 0's start (the earliest frame), ns since the epoch.
    pub start_ns: i64,
    pub intervals: usize,
    pub series: Vec<IoSeries>,
}

/// The smallest interval of the 1-2-5 series (in ms) that is at least `min_ms`.
fn nice_interval(min_ms: u64) -> u64 {
    let mut base = 1u64;
    loop {
        for m in [1u64, 2, 5] {
            let v = base.saturating_mul(m);
            if v >= min_ms {
                return v;
            }
        }
        if base > u64::MAX / 10 {
            return u64::MAX;
        }
        base *= 10;
    }
}

impl Session {
    /// Runs `f` on the statistics of the complete index (waits for it).
    fn with_stats<R>(&self, f: impl FnOnce(&Collector) -> R) -> R {
        self.wait_indexed();
        let ix = self.current();
        match ix.stats.lock() {
            Ok(s) => f(&s),
            Err(p) => f(&p.into_inner()),
        }
    }

    /// The protocol hierarchy (waits for the index).
    pub fn hierarchy(&self) -> Hierarchy {
        self.with_stats(|s| s.hierarchy.clone())
    }

    /// The conversation table of `kind` (`eth`, `ip`, `ipv6`, `tcp`, `udp`); waits for the index.
    pub fn conversations(&self, kind: &str) -> Result<Conversations, SessionError> {
        let k = parse_kind(kind)?;
        Ok(self.with_stats(|s| s.conv.table(k).conversations(k)))
    }

    /// The endpoint table of `kind`; waits for the index.
    pub fn endpoints(&self, kind: &str) -> Result<Endpoints, SessionError> {
        let k = parse_kind(kind)?;
        Ok(self.with_stats(|s| s.conv.table(k).endpoints(k)))
    }

    /// The conversation table as `wiresift conversations --proto KIND` prints it.
    pub fn conversations_text(&self, kind: &str) -> Result<String, SessionError> {
        let k = parse_kind(kind)?;
        Ok(self.with_stats(|s| s.conv.table(k).render_conversations(k)))
    }

    /// The endpoint table as `wiresift endpoints --proto KIND` prints it.
    pub fn endpoints_text(&self, kind: &str) -> Result<String, SessionError> {
        let k = parse_kind(kind)?;
        Ok(self.with_stats(|s| s.conv.table(k).render_endpoints(k)))
    }

    /// Expert information: TCP analysis, malformed and cut frames, file damage, TLS sessions
    /// not decrypted (when keys were given) and objects with anomalies (when the export of the
    /// current keys has run). Waits for the index.
    pub fn expert(&self) -> Expert {
        let tap = self.with_stats(|s| s.expert.clone());
        let wanted = tap.tls_streams();
        let mut out = Expert::default();
        for i in tap.tcp {
            out.push(i);
        }
        for (_, _, i) in tap.cut {
            out.push(i);
        }
        if let Some(d) = tap.damage {
            out.push(d);
        }
        // The first frame of each undecrypted TLS session's stream, from the index.
        let mut firsts: FastMap<u64, u64> = FastMap::default();
        if !wanted.is_empty() {
            let want: std::collections::HashSet<u64> = wanted.iter().copied().collect();
            let ix = self.current();
            if let Ok(d) = ix.data.read() {
                for (n, e) in d.iter() {
                    if let Some((false, s)) = e.stream_of()
                        && want.contains(&s)
                    {
                        firsts.entry(s).or_insert(n);
                    }
                }
            }
        }
        for mut item in tap.tls {
            if let Some(&f) = stream_of_item(&item).and_then(|s| firsts.get(&s)) {
                item.frames.push(f);
            }
            out.push(item);
        }
        if tap.tls_more > 0 {
            let mut item = ExpertItem::new(
                Severity::Warning,
                "Decryption",
                "TLS",
                format!(
                    "{} more TLS sessions not decrypted (not listed)",
                    tap.tls_more
                ),
                None,
            );
            item.count = tap.tls_more;
            out.push(item);
        }
        for item in crate::objects::expert_items(self, EXPERT_ITEMS) {
            out.push(item);
        }
        out.sort();
        out
    }

    /// Packets and bytes per interval, for all frames and for each display filter (frame
    /// sets computed, or taken from the cache). Waits for the index.
    pub fn io_graph(&self, interval_ms: u64, filters: &[&str]) -> Result<IoGraph, SessionError> {
        if interval_ms == 0 {
            return Err(SessionError::Invalid(
                "the I/O graph interval must be at least 1 ms".into(),
            ));
        }
        self.wait_indexed();
        let mut sets = Vec::with_capacity(filters.len());
        for f in filters {
            let f = f.trim();
            if f.is_empty() {
                sets.push((None, None));
            } else {
                let v = self.view(Some(f))?;
                sets.push((Some(f.to_string()), Some(v)));
            }
        }
        let ix = self.current();
        let d = ix
            .data
            .read()
            .map_err(|_| SessionError::Invalid("index poisoned".into()))?;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for (_, e) in d.iter() {
            lo = lo.min(e.ts);
            hi = hi.max(e.ts);
        }
        let start = if lo == i64::MAX { 0 } else { lo };
        let span_ns = if lo == i64::MAX {
            0u128
        } else {
            (i128::from(hi) - i128::from(lo)) as u128
        };
        let mut interval = interval_ms;
        let mut widened_from = None;
        let count = |iv: u64| span_ns / (u128::from(iv) * 1_000_000) + 1;
        if count(interval) > u128::from(MAX_INTERVALS) {
            let need = span_ns.div_ceil(u128::from(MAX_INTERVALS) * 1_000_000);
            let mut iv = nice_interval(u64::try_from(need).unwrap_or(u64::MAX).max(1));
            while count(iv) > u128::from(MAX_INTERVALS) {
                iv = nice_interval(iv.saturating_add(1));
            }
            widened_from = Some(interval_ms);
            interval = iv;
        }
        let n = count(interval) as usize;
        let iv_ns = u128::from(interval) * 1_000_000;
        let slot = |ts: i64| -> usize {
            (((i128::from(ts) - i128::from(start)).max(0) as u128 / iv_ns) as usize).min(n - 1)
        };
        let mut series = Vec::with_capacity(1 + sets.len());
        let empty = || IoSeries {
            filter: None,
            packets: vec![0; n],
            bytes: vec![0; n],
            first_frame: vec![0; n],
            total_packets: 0,
            total_bytes: 0,
        };
        let count_frame = |s: &mut IoSeries, no: u64, e: &crate::index::Entry| {
            let i = slot(e.ts);
            s.packets[i] += 1;
            s.bytes[i] += u64::from(e.orig_len);
            if s.first_frame[i] == 0 {
                s.first_frame[i] = no;
            }
            s.total_packets += 1;
            s.total_bytes += u64::from(e.orig_len);
        };
        let mut all = empty();
        for (no, e) in d.iter() {
            count_frame(&mut all, no, e);
        }
        for (filter, view) in &sets {
            let mut s = match (filter, view.as_ref().and_then(|v| v.frames())) {
                (Some(_), Some(frames)) => {
                    let mut s = empty();
                    for &no in frames {
                        if let Some(e) = d.get(u64::from(no)) {
                            count_frame(&mut s, u64::from(no), e);
                        }
                    }
                    s
                }
                _ => all.clone(),
            };
            s.filter = filter.clone();
            series.push(s);
        }
        series.insert(0, all);
        Ok(IoGraph {
            interval_ms: interval,
            widened_from,
            start_ns: start,
            intervals: n,
            series,
        })
    }
}

fn parse_kind(kind: &str) -> Result<ConvKind, SessionError> {
    ConvKind::parse(kind).ok_or_else(|| {
        SessionError::Invalid(format!(
            "unknown table type {kind:?} (eth, ip, ipv6, tcp, udp)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_wireshark() {
        assert_eq!(format_size(0), "0 bytes");
        assert_eq!(format_size(9999), "9999 bytes");
        assert_eq!(format_size(10_000), "10 kB");
        assert_eq!(format_size(17_310), "17 kB");
        assert_eq!(format_size(10_000_000), "10 MB");
        assert_eq!(format_size(9_999_999), "9999 kB");
    }

    #[test]
    fn nice_intervals() {
        assert_eq!(nice_interval(1), 1);
        assert_eq!(nice_interval(3), 5);
        assert_eq!(nice_interval(6), 10);
        assert_eq!(nice_interval(11), 20);
        assert_eq!(nice_interval(1500), 2000);
    }

    #[test]
    fn tables_stop_at_their_limit_and_count_the_rest() {
        let mut t = ConvTable::new(2);
        let ip = |n: u8| (Addr::Ip(IpAddr::from([10, 0, 0, n])), 0);
        t.add(ip(1), ip(2), NO_CONV, 100, 0);
        t.add(ip(2), ip(1), NO_CONV, 50, 5);
        t.add(ip(3), ip(4), NO_CONV, 10, 6);
        t.add(ip(5), ip(6), NO_CONV, 7, 7);
        let c = t.conversations(ConvKind::Ipv4);
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.rows[0].packets, 2);
        assert_eq!((c.rows[0].packets_ab, c.rows[0].bytes_ab), (1, 100));
        assert_eq!((c.rows[0].packets_ba, c.rows[0].bytes_ba), (1, 50));
        assert_eq!(c.rows[0].duration, 5e-9);
        assert_eq!((c.overflow.frames, c.overflow.bytes), (1, 7));
        let e = t.endpoints(ConvKind::Ipv4);
        assert_eq!(e.rows.len(), 2);
        // 10.0.0.3/4 and 10.0.0.5/6 did not fit: 2 sides of 2 frames.
        assert_eq!((e.overflow.frames, e.overflow.bytes), (4, 34));
    }

    #[test]
    fn row_filters_compile() {
        let mut t = ConvTable::new(10);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        t.add(
            (Addr::Ip(v6), 80),
            (Addr::Ip(IpAddr::from([10, 0, 0, 1])), 1234),
            3,
            60,
            0,
        );
        let mac = |n: u8| (Addr::Mac([0, 1, 2, 3, 4, n]), 0);
        let mut eth = ConvTable::new(10);
        eth.add(mac(1), mac(2), NO_CONV, 60, 0);
        let mut filters = Vec::new();
        for k in [ConvKind::Tcp, ConvKind::Udp, ConvKind::Ipv6] {
            filters.extend(t.conversations(k).rows.into_iter().map(|r| r.filter));
            filters.extend(t.endpoints(k).rows.into_iter().map(|r| r.filter));
        }
        filters.extend(
            eth.conversations(ConvKind::Eth)
                .rows
                .into_iter()
                .map(|r| r.filter),
        );
        filters.extend(
            eth.endpoints(ConvKind::Eth)
                .rows
                .into_iter()
                .map(|r| r.filter),
        );
        assert!(filters.contains(&"tcp.stream eq 3".to_string()));
        assert!(filters.contains(&"ipv6.addr==2001:db8::1 && tcp.port==80".to_string()));
        for f in filters {
            crate::view::check(&f).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }

    #[test]
    fn every_analysis_flag_has_an_expert_text() {
        let tap = ExpertTap::default();
        assert_eq!(tap.tcp.len(), Analysis::NAMED.len());
        assert_eq!(
            tap.tcp[3].filter.as_deref(),
            Some("tcp.analysis.out_of_order")
        );
        assert_eq!(tap.tcp[3].severity, Severity::Warning);
        assert_eq!(
            tap.tcp[10].filter.as_deref(),
            Some("tcp.analysis.duplicate_ack")
        );
        assert_eq!(tap.tcp[10].severity, Severity::Note);
        for i in &tap.tcp {
            crate::view::check(i.filter.as_deref().unwrap()).unwrap();
        }
    }
}
