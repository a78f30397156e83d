//! The decoder's fields, named and typed as Wireshark names them, and their values per frame.
//!
//! One table ([`FIELDS`]) defines every field once; ids are constants so [`FrameView::visit`]
//! answers with a `match`, decoding only what was asked for (DNS is parsed only when a `dns.*`
//! field is visited).

use std::ops::ControlFlow;

use wiresift_capfile::LinkType;
use wiresift_field::{Base, FieldId, FieldKind, FieldSource, Value};

use crate::decode::{self, Layers, Link, Net, Transport, be16, be32};
use crate::dns;

/// First field id of this provider; flow and application providers use higher blocks.
pub const BASE: FieldId = 0;

const P: FieldKind = FieldKind::Protocol;
const B: FieldKind = FieldKind::Bool;
const U8: FieldKind = FieldKind::UInt {
    bits: 8,
    base: Base::Dec,
};
const U16: FieldKind = FieldKind::UInt {
    bits: 16,
    base: Base::Dec,
};
const U32: FieldKind = FieldKind::UInt {
    bits: 32,
    base: Base::Dec,
};
const H8: FieldKind = FieldKind::UInt {
    bits: 8,
    base: Base::Hex,
};
const H16: FieldKind = FieldKind::UInt {
    bits: 16,
    base: Base::Hex,
};
const H20: FieldKind = FieldKind::UInt {
    bits: 20,
    base: Base::Hex,
};
const H32: FieldKind = FieldKind::UInt {
    bits: 32,
    base: Base::Hex,
};
const V4: FieldKind = FieldKind::Ipv4;
const V6: FieldKind = FieldKind::Ipv6;
const MAC: FieldKind = FieldKind::Ether;
const BYTES: FieldKind = FieldKind::Bytes;
const STR: FieldKind = FieldKind::String;

wiresift_field::field_table! {
    FRAME = "frame", P, "Frame";
    FRAME_NUMBER = "frame.number", U32, "Frame Number";
    FRAME_TIME = "frame.time", FieldKind::AbsTime, "Arrival Time";
    FRAME_TIME_EPOCH = "frame.time_epoch", FieldKind::RelTime, "Epoch Time (seconds since 1970)";
    FRAME_TIME_RELATIVE = "frame.time_relative", FieldKind::RelTime, "Time since reference or first frame";
    FRAME_TIME_DELTA = "frame.time_delta", FieldKind::RelTime, "Time delta from previous captured frame";
    FRAME_TIME_DELTA_DISPLAYED = "frame.time_delta_displayed", FieldKind::RelTime, "Time delta from previous displayed frame";
    FRAME_LEN = "frame.len", U32, "Frame length on the wire";
    FRAME_CAP_LEN = "frame.cap_len", U32, "Frame length stored into the capture file";
    FRAME_INTERFACE_ID = "frame.interface_id", U32, "Interface id";
    FRAME_INTERFACE_NAME = "frame.interface_name", STR, "Interface name";
    FRAME_PROTOCOLS = "frame.protocols", STR, "Protocols in frame";
    ETH = "eth", P, "Ethernet II";
    ETH_DST = "eth.dst", MAC, "Destination";
    ETH_SRC = "eth.src", MAC, "Source";
    ETH_ADDR = "eth.addr", MAC, "Address (source or destination)";
    ETH_TYPE = "eth.type", H16, "Type";
    ETH_LEN = "eth.len", U16, "Length (802.3)";
    VLAN = "vlan", P, "802.1Q Virtual LAN";
    VLAN_ID = "vlan.id", U16, "ID";
    VLAN_PRIORITY = "vlan.priority", U16, "Priority";
    VLAN_DEI = "vlan.dei", B, "DEI";
    VLAN_ETYPE = "vlan.etype", H16, "Type";
    IEEE8021AD = "ieee8021ad", P, "IEEE 802.1ad (QinQ service tag)";
    IEEE8021AD_ID = "ieee8021ad.id", U16, "ID";
    IEEE8021AD_PRIORITY = "ieee8021ad.priority", U16, "Priority";
    IEEE8021AD_DEI = "ieee8021ad.dei", U16, "DEI";
    SLL = "sll", P, "Linux cooked capture (v1 or v2)";
    SLL_PKTTYPE = "sll.pkttype", U16, "Packet type";
    SLL_HATYPE = "sll.hatype", U16, "Link-layer address type";
    SLL_HALEN = "sll.halen", U16, "Link-layer address length";
    SLL_SRC_ETH = "sll.src.eth", MAC, "Source";
    SLL_ETYPE = "sll.etype", H16, "Protocol";
    SLL_IFINDEX = "sll.ifindex", U32, "Interface index (v2)";
    NULL = "null", P, "Null/Loopback";
    NULL_FAMILY = "null.family", U32, "Family";
    ARP = "arp", P, "Address Resolution Protocol";
    ARP_HW_TYPE = "arp.hw.type", U16, "Hardware type";
    ARP_PROTO_TYPE = "arp.proto.type", H16, "Protocol type";
    ARP_HW_SIZE = "arp.hw.size", U8, "Hardware size";
    ARP_PROTO_SIZE = "arp.proto.size", U8, "Protocol size";
    ARP_OPCODE = "arp.opcode", U16, "Opcode";
    ARP_SRC_HW_MAC = "arp.src.hw_mac", MAC, "Sender MAC address";
    ARP_SRC_PROTO_IPV4 = "arp.src.proto_ipv4", V4, "Sender IP address";
    ARP_DST_HW_MAC = "arp.dst.hw_mac", MAC, "Target MAC address";
    ARP_DST_PROTO_IPV4 = "arp.dst.proto_ipv4", V4, "Target IP address";
    IP = "ip", P, "Internet Protocol Version 4";
    IP_VERSION = "ip.version", U8, "Version";
    IP_HDR_LEN = "ip.hdr_len", U8, "Header Length";
    IP_DSFIELD = "ip.dsfield", H8, "Differentiated Services Field";
    IP_DSFIELD_DSCP = "ip.dsfield.dscp", U8, "Differentiated Services Codepoint";
    IP_DSFIELD_ECN = "ip.dsfield.ecn", U8, "Explicit Congestion Notification";
    IP_LEN = "ip.len", U16, "Total Length";
    IP_ID = "ip.id", H16, "Identification";
    IP_FLAGS = "ip.flags", H8, "Flags";
    IP_FLAGS_RB = "ip.flags.rb", B, "Reserved bit";
    IP_FLAGS_DF = "ip.flags.df", B, "Don't fragment";
    IP_FLAGS_MF = "ip.flags.mf", B, "More fragments";
    IP_FRAG_OFFSET = "ip.frag_offset", U16, "Fragment Offset (bytes)";
    IP_TTL = "ip.ttl", U8, "Time to Live";
    IP_PROTO = "ip.proto", U8, "Protocol";
    IP_CHECKSUM = "ip.checksum", H16, "Header Checksum";
    IP_SRC = "ip.src", V4, "Source Address";
    IP_DST = "ip.dst", V4, "Destination Address";
    IP_ADDR = "ip.addr", V4, "Source or Destination Address";
    IPV6 = "ipv6", P, "Internet Protocol Version 6";
    IPV6_VERSION = "ipv6.version", U8, "Version";
    IPV6_TCLASS = "ipv6.tclass", H8, "Traffic Class";
    IPV6_FLOW = "ipv6.flow", H20, "Flow Label";
    IPV6_PLEN = "ipv6.plen", U16, "Payload Length";
    IPV6_NXT = "ipv6.nxt", U8, "Next Header";
    IPV6_HLIM = "ipv6.hlim", U8, "Hop Limit";
    IPV6_SRC = "ipv6.src", V6, "Source Address";
    IPV6_DST = "ipv6.dst", V6, "Destination Address";
    IPV6_ADDR = "ipv6.addr", V6, "Source or Destination Address";
    IPV6_FRAGHDR = "ipv6.fraghdr", P, "Fragment Header";
    IPV6_FRAGHDR_OFFSET = "ipv6.fraghdr.offset", U16, "Offset (8-octet units)";
    IPV6_FRAGHDR_MORE = "ipv6.fraghdr.more", B, "More Fragments";
    IPV6_FRAGHDR_IDENT = "ipv6.fraghdr.ident", H32, "Identification";
    ICMP = "icmp", P, "Internet Control Message Protocol";
    ICMP_TYPE = "icmp.type", U8, "Type";
    ICMP_CODE = "icmp.code", U8, "Code";
    ICMP_CHECKSUM = "icmp.checksum", H16, "Checksum";
    ICMP_IDENT = "icmp.ident", U16, "Identifier (BE)";
    ICMP_SEQ = "icmp.seq", U16, "Sequence Number (BE)";
    ICMPV6 = "icmpv6", P, "Internet Control Message Protocol v6";
    ICMPV6_TYPE = "icmpv6.type", U8, "Type";
    ICMPV6_CODE = "icmpv6.code", U8, "Code";
    ICMPV6_CHECKSUM = "icmpv6.checksum", H16, "Checksum";
    ICMPV6_ECHO_ID = "icmpv6.echo.identifier", H16, "Identifier";
    ICMPV6_ECHO_SEQ = "icmpv6.echo.sequence_number", U16, "Sequence";
    ICMPV6_ND_NS_TARGET = "icmpv6.nd.ns.target_address", V6, "Target Address (NS)";
    ICMPV6_ND_NA_TARGET = "icmpv6.nd.na.target_address", V6, "Target Address (NA)";
    TCP = "tcp", P, "Transmission Control Protocol";
    TCP_SRCPORT = "tcp.srcport", U16, "Source Port";
    TCP_DSTPORT = "tcp.dstport", U16, "Destination Port";
    TCP_PORT = "tcp.port", U16, "Source or Destination Port";
    TCP_SEQ_RAW = "tcp.seq_raw", U32, "Sequence Number (raw)";
    TCP_ACK_RAW = "tcp.ack_raw", U32, "Acknowledgment number (raw)";
    TCP_LEN = "tcp.len", U32, "TCP Segment Len";
    TCP_HDR_LEN = "tcp.hdr_len", U8, "Header Length";
    TCP_FLAGS = "tcp.flags", H16, "Flags";
    TCP_FLAGS_RES = "tcp.flags.res", B, "Reserved";
    TCP_FLAGS_AE = "tcp.flags.ae", B, "Accurate ECN";
    TCP_FLAGS_CWR = "tcp.flags.cwr", B, "Congestion Window Reduced (CWR)";
    TCP_FLAGS_ECE = "tcp.flags.ece", B, "ECN-Echo";
    TCP_FLAGS_URG = "tcp.flags.urg", B, "Urgent";
    TCP_FLAGS_ACK = "tcp.flags.ack", B, "Acknowledgment";
    TCP_FLAGS_PUSH = "tcp.flags.push", B, "Push";
    TCP_FLAGS_RESET = "tcp.flags.reset", B, "Reset";
    TCP_FLAGS_SYN = "tcp.flags.syn", B, "Syn";
    TCP_FLAGS_FIN = "tcp.flags.fin", B, "Fin";
    TCP_WINDOW_SIZE_VALUE = "tcp.window_size_value", U16, "Window (raw)";
    TCP_CHECKSUM = "tcp.checksum", H16, "Checksum";
    TCP_URGENT_POINTER = "tcp.urgent_pointer", U16, "Urgent Pointer";
    TCP_OPTIONS = "tcp.options", BYTES, "TCP Options";
    TCP_OPTIONS_MSS_VAL = "tcp.options.mss_val", U16, "MSS Value";
    TCP_OPTIONS_WSCALE_SHIFT = "tcp.options.wscale.shift", U8, "Shift count";
    TCP_OPTIONS_SACK_PERM = "tcp.options.sack_perm", P, "TCP Option - SACK permitted";
    TCP_OPTIONS_SACK_LE = "tcp.options.sack_le", U32, "SACK left edge (raw)";
    TCP_OPTIONS_SACK_RE = "tcp.options.sack_re", U32, "SACK right edge (raw)";
    TCP_OPTIONS_TSVAL = "tcp.options.timestamp.tsval", U32, "Timestamp value";
    TCP_OPTIONS_TSECR = "tcp.options.timestamp.tsecr", U32, "Timestamp echo reply";
    TCP_PAYLOAD = "tcp.payload", BYTES, "TCP payload";
    UDP = "udp", P, "User Datagram Protocol";
    UDP_SRCPORT = "udp.srcport", U16, "Source Port";
    UDP_DSTPORT = "udp.dstport", U16, "Destination Port";
    UDP_PORT = "udp.port", U16, "Source or Destination Port";
    UDP_LENGTH = "udp.length", U16, "Length";
    UDP_CHECKSUM = "udp.checksum", H16, "Checksum";
    UDP_PAYLOAD = "udp.payload", BYTES, "Payload";
    DNS = "dns", P, "Domain Name System";
    MDNS = "mdns", P, "Multicast Domain Name System";
    DNS_ID = "dns.id", H16, "Transaction ID";
    DNS_FLAGS = "dns.flags", H16, "Flags";
    DNS_FLAGS_RESPONSE = "dns.flags.response", B, "Response";
    DNS_FLAGS_OPCODE = "dns.flags.opcode", U16, "Opcode";
    DNS_FLAGS_AUTHORITATIVE = "dns.flags.authoritative", B, "Authoritative";
    DNS_FLAGS_TRUNCATED = "dns.flags.truncated", B, "Truncated";
    DNS_FLAGS_RECDESIRED = "dns.flags.recdesired", B, "Recursion desired";
    DNS_FLAGS_RECAVAIL = "dns.flags.recavail", B, "Recursion available";
    DNS_FLAGS_RCODE = "dns.flags.rcode", U16, "Reply code";
    DNS_COUNT_QUERIES = "dns.count.queries", U16, "Questions";
    DNS_COUNT_ANSWERS = "dns.count.answers", U16, "Answer RRs";
    DNS_COUNT_AUTH_RR = "dns.count.auth_rr", U16, "Authority RRs";
    DNS_COUNT_ADD_RR = "dns.count.add_rr", U16, "Additional RRs";
    DNS_QRY_NAME = "dns.qry.name", STR, "Name";
    DNS_QRY_TYPE = "dns.qry.type", U16, "Type";
    DNS_QRY_CLASS = "dns.qry.class", H16, "Class";
    DNS_RESP_NAME = "dns.resp.name", STR, "Name";
    DNS_RESP_TYPE = "dns.resp.type", U16, "Type";
    DNS_RESP_TTL = "dns.resp.ttl", U32, "Time to live";
    DNS_A = "dns.a", V4, "Address";
    DNS_AAAA = "dns.aaaa", V6, "AAAA Address";
    DNS_CNAME = "dns.cname", STR, "CNAME";
    DNS_PTR = "dns.ptr.domain_name", STR, "Domain Name";
    DNS_NS = "dns.ns", STR, "Name Server";
    DNS_MX = "dns.mx.mail_exchange", STR, "Mail Exchange";
}

/// Per-frame facts that are not in the frame's bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameMeta<'a> {
    pub number: u64,
    pub ts: i64,
    /// Time of the first frame of the capture.
    pub first_ts: i64,
    /// Time of the previous captured frame.
    pub prev_ts: i64,
    /// Time of the previous displayed frame.
    pub prev_displayed_ts: i64,
    pub orig_len: u32,
    pub iface: u32,
    pub iface_name: Option<&'a str>,
    pub link: LinkType,
}

/// A decoded frame as a [`FieldSource`].
pub struct FrameView<'a> {
    pub meta: FrameMeta<'a>,
    pub data: &'a [u8],
    pub layers: &'a Layers,
    /// Layers decoded from the packet quoted inside an ICMP/ICMPv6 error (Wireshark shows its
    /// IP and transport headers, so `ip.addr` and `udp` see them too).
    pub inner: Option<(&'a [u8], Layers)>,
    /// The transport as Wireshark shows it when it differs from the frame's own: the
    /// reassembled IP datagram (`Some(Some(..))`) or nothing on a pending fragment
    /// (`Some(None)`).
    pub transport: Option<Option<(&'a [u8], &'a Layers)>>,
}

/// A callback over (bytes, layers, quoted-in-ICMP) of each transport layer.
type TransportVisitor<'f> = dyn FnMut(&[u8], &Layers, bool) -> ControlFlow<()> + 'f;

/// Where a DNS message sits, if the frame carries one: (message, is_mdns).
fn dns_message<'d>(data: &'d [u8], l: &Layers) -> Option<(&'d [u8], bool)> {
    let payload = l.payload(data);
    match l.transport {
        Transport::Udp { sport, dport, .. } => {
            let mdns = sport == 5353 || dport == 5353;
            if mdns || sport == 53 || dport == 53 {
                (payload.len() >= 12).then_some((payload, mdns))
            } else {
                None
            }
        }
        Transport::Tcp(t) if (t.sport == 53 || t.dport == 53) && payload.len() >= 14 => {
            Some((&payload[2..], false))
        }
        _ => None,
    }
}

impl<'a> FrameView<'a> {
    pub fn new(meta: FrameMeta<'a>, data: &'a [u8], layers: &'a Layers) -> FrameView<'a> {
        let inner =
            decode::icmp_quoted(data, layers).and_then(|(off, l)| Some((data.get(off..)?, l)));
        FrameView {
            meta,
            data,
            layers,
            inner,
            transport: None,
        }
    }

    /// The transport bytes and layers to show (see [`FrameView::transport`]).
    fn shown_transport(&self) -> Option<(&[u8], &Layers)> {
        match self.transport {
            None => Some((self.data, self.layers)),
            Some(t) => t,
        }
    }

    /// Transport fields: the shown transport, then any ICMP-quoted one.
    fn each_transport(&self, f: &mut TransportVisitor<'_>) -> ControlFlow<()> {
        if let Some((d, l)) = self.shown_transport() {
            f(d, l, false)?;
        }
        if let Some((d, l)) = &self.inner {
            f(d, l, true)?;
        }
        ControlFlow::Continue(())
    }

    /// The layers to visit: the frame's, then the ICMP-quoted packet's.
    fn each_layers(&self, f: &mut dyn FnMut(&[u8], &Layers) -> ControlFlow<()>) -> ControlFlow<()> {
        f(self.data, self.layers)?;
        if let Some((d, l)) = &self.inner {
            f(d, l)?;
        }
        ControlFlow::Continue(())
    }

    /// Wireshark's `frame.protocols` string (e.g. `eth:ethertype:ip:tcp`).
    pub fn protocols(&self) -> String {
        let l = self.layers;
        let mut v: Vec<&str> = Vec::new();
        match l.link {
            Link::Ethernet { etype, .. } => {
                v.push("eth");
                v.push(if etype <= 1500 { "llc" } else { "ethertype" });
            }
            Link::Sll { .. } | Link::Sll2 { .. } => {
                v.push("sll");
                v.push("ethertype");
            }
            Link::Null { .. } => v.push("null"),
            Link::Raw => v.push("raw"),
            Link::Unknown(_) | Link::Truncated => {}
        }
        for t in l.vlans() {
            v.push(if t.tpid == decode::ETH_QINQ {
                "ieee8021ad"
            } else {
                "vlan"
            });
            v.push("ethertype");
        }
        match l.net {
            Net::Ipv4(_) => v.push("ip"),
            Net::Ipv6(ip) => {
                v.push("ipv6");
                if ip.frag.is_some() {
                    v.push("ipv6.fraghdr");
                }
            }
            Net::Arp { .. } => v.push("arp"),
            _ => {}
        }
        let shown = self.shown_transport();
        match shown.map(|(_, l)| l.transport).unwrap_or(Transport::None) {
            Transport::Tcp(_) => v.push("tcp"),
            Transport::Udp { .. } => v.push("udp"),
            Transport::Icmp { .. } => v.push("icmp"),
            Transport::Icmpv6 { .. } => v.push("icmpv6"),
            Transport::Fragment { .. } => v.push("data"),
            _ => {}
        }
        if let Some((_, mdns)) = shown.and_then(|(d, l)| dns_message(d, l)) {
            v.push(if mdns { "mdns" } else { "dns" });
        }
        v.join(":")
    }
}

macro_rules! emit {
    ($f:expr, $v:expr) => {
        $f($v)?
    };
}

impl FieldSource for FrameView<'_> {
    fn visit(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) {
        let _ = self.visit_inner(id, f);
    }
}

impl FrameView<'_> {
    fn visit_inner(
        &self,
        id: FieldId,
        f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let m = &self.meta;
        let l = self.layers;
        let d = self.data;
        match id {
            FRAME => emit!(f, Value::Protocol(d)),
            FRAME_NUMBER => emit!(f, Value::UInt(m.number)),
            FRAME_TIME => emit!(f, Value::Time(m.ts)),
            FRAME_TIME_EPOCH => emit!(f, Value::RelTime(m.ts)),
            FRAME_TIME_RELATIVE => emit!(f, Value::RelTime(m.ts - m.first_ts)),
            FRAME_TIME_DELTA => emit!(f, Value::RelTime(m.ts - m.prev_ts)),
            FRAME_TIME_DELTA_DISPLAYED => emit!(f, Value::RelTime(m.ts - m.prev_displayed_ts)),
            FRAME_LEN => emit!(f, Value::UInt(u64::from(m.orig_len))),
            FRAME_CAP_LEN => emit!(f, Value::UInt(d.len() as u64)),
            FRAME_INTERFACE_ID => emit!(f, Value::UInt(u64::from(m.iface))),
            FRAME_INTERFACE_NAME => {
                if let Some(n) = m.iface_name {
                    emit!(f, Value::Str(n))
                }
            }
            FRAME_PROTOCOLS => {
                let s = self.protocols();
                emit!(f, Value::Str(&s))
            }
            ETH..=ETH_LEN => {
                if let Link::Ethernet { dst, src, etype } = l.link {
                    match id {
                        ETH => emit!(f, Value::Protocol(d.get(..14).unwrap_or(d))),
                        ETH_DST => emit!(f, Value::Ether(dst)),
                        ETH_SRC => emit!(f, Value::Ether(src)),
                        ETH_ADDR => {
                            emit!(f, Value::Ether(dst));
                            emit!(f, Value::Ether(src));
                        }
                        ETH_TYPE if etype > 1500 => emit!(f, Value::UInt(u64::from(etype))),
                        ETH_LEN if etype <= 1500 => emit!(f, Value::UInt(u64::from(etype))),
                        _ => {}
                    }
                }
            }
            IEEE8021AD..=IEEE8021AD_DEI => {
                for v in l.vlans().iter().filter(|v| v.tpid == decode::ETH_QINQ) {
                    let off = usize::from(v.offset);
                    match id {
                        IEEE8021AD => {
                            emit!(f, Value::Protocol(d.get(off..off + 4).unwrap_or_default()))
                        }
                        IEEE8021AD_ID => emit!(f, Value::UInt(u64::from(v.id))),
                        IEEE8021AD_PRIORITY => emit!(f, Value::UInt(u64::from(v.pcp))),
                        _ => emit!(f, Value::UInt(u64::from(v.dei))),
                    }
                }
            }
            VLAN..=VLAN_ETYPE => {
                for v in l.vlans().iter().filter(|v| v.tpid != decode::ETH_QINQ) {
                    let off = usize::from(v.offset);
                    match id {
                        VLAN => emit!(f, Value::Protocol(d.get(off..off + 4).unwrap_or_default())),
                        VLAN_ID => emit!(f, Value::UInt(u64::from(v.id))),
                        VLAN_PRIORITY => emit!(f, Value::UInt(u64::from(v.pcp))),
                        VLAN_DEI => emit!(f, Value::Bool(v.dei)),
                        VLAN_ETYPE => emit!(f, Value::UInt(u64::from(v.etype))),
                        _ => {}
                    }
                }
            }
            SLL..=SLL_IFINDEX => self.sll(id, f)?,
            NULL | NULL_FAMILY => {
                if let Link::Null { family } = l.link {
                    if id == NULL {
                        emit!(f, Value::Protocol(d.get(..4).unwrap_or(d)));
                    } else {
                        emit!(f, Value::UInt(u64::from(family)));
                    }
                }
            }
            ARP..=ARP_DST_PROTO_IPV4 => self.arp(id, f)?,
            IP_VERSION => self.each_layers(&mut |_, l| match l.net {
                Net::Ipv4(_) => f(Value::UInt(4)),
                Net::Ipv6(_) => f(Value::UInt(6)),
                _ => ControlFlow::Continue(()),
            })?,
            IP..=IP_ADDR => self.each_layers(&mut |d, l| ipv4(id, d, l, f))?,
            IPV6..=IPV6_FRAGHDR_IDENT => self.each_layers(&mut |d, l| ipv6(id, d, l, f))?,
            ICMP..=ICMPV6_ND_NA_TARGET => icmp(id, d, l, f)?,
            TCP..=TCP_PAYLOAD => self.each_transport(&mut |d, l, quoted| {
                // Wireshark shows only the header fields of a TCP header quoted in an ICMP
                // error, not its raw sequence numbers, length or options.
                if quoted
                    && !matches!(
                        id,
                        TCP | TCP_SRCPORT | TCP_DSTPORT | TCP_PORT | TCP_HDR_LEN | TCP_FLAGS
                            ..=TCP_URGENT_POINTER
                    )
                {
                    return ControlFlow::Continue(());
                }
                tcp(id, d, l, f)
            })?,
            UDP..=UDP_PAYLOAD => self.each_transport(&mut |d, l, _| udp(id, d, l, f))?,
            DNS..=DNS_MX => {
                if let Some((td, tl)) = self.shown_transport()
                    && let Some((msg, mdns)) = dns_message(td, tl)
                {
                    dns_field(id, msg, mdns, f)?;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn sll(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) -> ControlFlow<()> {
        let d = self.data;
        match self.layers.link {
            Link::Sll {
                pkttype,
                hatype,
                addr,
                addrlen,
                proto,
            } => match id {
                SLL => emit!(f, Value::Protocol(d.get(..16).unwrap_or(d))),
                SLL_PKTTYPE => emit!(f, Value::UInt(u64::from(pkttype))),
                SLL_HATYPE => emit!(f, Value::UInt(u64::from(hatype))),
                SLL_HALEN => emit!(f, Value::UInt(u64::from(addrlen))),
                SLL_SRC_ETH if addrlen == 6 => {
                    emit!(
                        f,
                        Value::Ether([addr[0], addr[1], addr[2], addr[3], addr[4], addr[5]])
                    )
                }
                SLL_ETYPE => emit!(f, Value::UInt(u64::from(proto))),
                _ => {}
            },
            Link::Sll2 {
                proto,
                ifindex,
                hatype,
                pkttype,
                addr,
                addrlen,
            } => match id {
                SLL => emit!(f, Value::Protocol(d.get(..20).unwrap_or(d))),
                SLL_PKTTYPE => emit!(f, Value::UInt(u64::from(pkttype))),
                SLL_HATYPE => emit!(f, Value::UInt(u64::from(hatype))),
                SLL_HALEN => emit!(f, Value::UInt(u64::from(addrlen))),
                SLL_SRC_ETH if addrlen == 6 => {
                    emit!(
                        f,
                        Value::Ether([addr[0], addr[1], addr[2], addr[3], addr[4], addr[5]])
                    )
                }
                SLL_ETYPE => emit!(f, Value::UInt(u64::from(proto))),
                SLL_IFINDEX => emit!(f, Value::UInt(u64::from(ifindex))),
                _ => {}
            },
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn arp(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) -> ControlFlow<()> {
        let Net::Arp { offset } = self.layers.net else {
            return ControlFlow::Continue(());
        };
        let a = self.data.get(offset..).unwrap_or_default();
        let (Some(hrd), Some(pro), Some(&hln), Some(&pln), Some(op)) =
            (be16(a, 0), be16(a, 2), a.get(4), a.get(5), be16(a, 6))
        else {
            return ControlFlow::Continue(());
        };
        let (h, p) = (usize::from(hln), usize::from(pln));
        let get = |o: usize, n: usize| a.get(o..o + n);
        let mac = |s: Option<&[u8]>| s.and_then(|s| <[u8; 6]>::try_from(s).ok());
        let ip = |s: Option<&[u8]>| s.and_then(|s| <[u8; 4]>::try_from(s).ok());
        match id {
            ARP => emit!(f, Value::Protocol(a.get(..8 + 2 * h + 2 * p).unwrap_or(a))),
            ARP_HW_TYPE => emit!(f, Value::UInt(u64::from(hrd))),
            ARP_PROTO_TYPE => emit!(f, Value::UInt(u64::from(pro))),
            ARP_HW_SIZE => emit!(f, Value::UInt(u64::from(hln))),
            ARP_PROTO_SIZE => emit!(f, Value::UInt(u64::from(pln))),
            ARP_OPCODE => emit!(f, Value::UInt(u64::from(op))),
            ARP_SRC_HW_MAC => {
                if let Some(m) = mac(get(8, h)) {
                    emit!(f, Value::Ether(m))
                }
            }
            ARP_SRC_PROTO_IPV4 => {
                if let Some(v) = ip(get(8 + h, p)) {
                    emit!(f, Value::Ipv4(v))
                }
            }
            ARP_DST_HW_MAC => {
                if let Some(m) = mac(get(8 + h + p, h)) {
                    emit!(f, Value::Ether(m))
                }
            }
            ARP_DST_PROTO_IPV4 => {
                if let Some(v) = ip(get(8 + 2 * h + p, p)) {
                    emit!(f, Value::Ipv4(v))
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn ipv4(
    id: FieldId,
    d: &[u8],
    l: &Layers,
    f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let Net::Ipv4(ip) = l.net else {
        return ControlFlow::Continue(());
    };
    let u = |v: u64| Value::UInt(v);
    match id {
        IP => emit!(
            f,
            Value::Protocol(d.get(ip.offset..ip.offset + ip.hdr_len).unwrap_or_default())
        ),
        IP_VERSION => emit!(f, u(4)),
        IP_HDR_LEN => emit!(f, u(ip.hdr_len as u64)),
        IP_DSFIELD => emit!(f, u(u64::from(ip.tos))),
        IP_DSFIELD_DSCP => emit!(f, u(u64::from(ip.tos >> 2))),
        IP_DSFIELD_ECN => emit!(f, u(u64::from(ip.tos & 3))),
        IP_LEN => emit!(f, u(u64::from(ip.total_len))),
        IP_ID => emit!(f, u(u64::from(ip.id))),
        IP_FLAGS => emit!(f, u(u64::from(ip.frag >> 13))),
        IP_FLAGS_RB => emit!(f, Value::Bool(ip.frag & 0x8000 != 0)),
        IP_FLAGS_DF => emit!(f, Value::Bool(ip.df())),
        IP_FLAGS_MF => emit!(f, Value::Bool(ip.mf())),
        IP_FRAG_OFFSET => emit!(f, u(u64::from(ip.frag_offset()))),
        IP_TTL => emit!(f, u(u64::from(ip.ttl))),
        IP_PROTO => emit!(f, u(u64::from(ip.proto))),
        IP_CHECKSUM => emit!(f, u(u64::from(ip.checksum))),
        IP_SRC => emit!(f, Value::Ipv4(ip.src)),
        IP_DST => emit!(f, Value::Ipv4(ip.dst)),
        IP_ADDR => {
            emit!(f, Value::Ipv4(ip.src));
            emit!(f, Value::Ipv4(ip.dst));
        }
        _ => {}
    }
    ControlFlow::Continue(())
}

fn ipv6(
    id: FieldId,
    d: &[u8],
    l: &Layers,
    f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let Net::Ipv6(ip) = l.net else {
        return ControlFlow::Continue(());
    };
    let u = |v: u64| Value::UInt(v);
    match id {
        IPV6 => emit!(
            f,
            Value::Protocol(d.get(ip.offset..ip.offset + 40).unwrap_or_default())
        ),
        IPV6_VERSION => emit!(f, u(6)),
        IPV6_TCLASS => emit!(f, u(u64::from(ip.tclass))),
        IPV6_FLOW => emit!(f, u(u64::from(ip.flow))),
        IPV6_PLEN => emit!(f, u(u64::from(ip.plen))),
        IPV6_NXT => emit!(f, u(u64::from(ip.nxt))),
        IPV6_HLIM => emit!(f, u(u64::from(ip.hlim))),
        IPV6_SRC => emit!(f, Value::Ipv6(ip.src)),
        IPV6_DST => emit!(f, Value::Ipv6(ip.dst)),
        IPV6_ADDR => {
            emit!(f, Value::Ipv6(ip.src));
            emit!(f, Value::Ipv6(ip.dst));
        }
        IPV6_FRAGHDR..=IPV6_FRAGHDR_IDENT => {
            if let Some(fr) = ip.frag {
                match id {
                    IPV6_FRAGHDR => emit!(
                        f,
                        Value::Protocol(
                            d.get(fr.offset_in_pkt..fr.offset_in_pkt + 8)
                                .unwrap_or_default()
                        )
                    ),
                    IPV6_FRAGHDR_OFFSET => emit!(f, u(u64::from(fr.frag_offset / 8))),
                    IPV6_FRAGHDR_MORE => emit!(f, Value::Bool(fr.more)),
                    IPV6_FRAGHDR_IDENT => emit!(f, u(u64::from(fr.id))),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    ControlFlow::Continue(())
}

fn icmp(
    id: FieldId,
    d: &[u8],
    l: &Layers,
    f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let u = |v: u64| Value::UInt(v);
    match l.transport {
        Transport::Icmp {
            offset,
            icmp_type,
            code,
            len,
        } => match id {
            ICMP => emit!(
                f,
                Value::Protocol(
                    d.get(offset..offset + len)
                        .unwrap_or_else(|| d.get(offset..).unwrap_or_default())
                )
            ),
            ICMP_TYPE => emit!(f, u(u64::from(icmp_type))),
            ICMP_CODE => emit!(f, u(u64::from(code))),
            ICMP_CHECKSUM => {
                if let Some(c) = be16(d, offset + 2) {
                    emit!(f, u(u64::from(c)))
                }
            }
            ICMP_IDENT | ICMP_SEQ if matches!(icmp_type, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) => {
                let o = if id == ICMP_IDENT { 4 } else { 6 };
                if let Some(v) = be16(d, offset + o) {
                    emit!(f, u(u64::from(v)))
                }
            }
            _ => {}
        },
        Transport::Icmpv6 {
            offset,
            icmp_type,
            code,
            len,
        } => match id {
            ICMPV6 => emit!(
                f,
                Value::Protocol(
                    d.get(offset..offset + len)
                        .unwrap_or_else(|| d.get(offset..).unwrap_or_default())
                )
            ),
            ICMPV6_TYPE => emit!(f, u(u64::from(icmp_type))),
            ICMPV6_CODE => emit!(f, u(u64::from(code))),
            ICMPV6_CHECKSUM => {
                if let Some(c) = be16(d, offset + 2) {
                    emit!(f, u(u64::from(c)))
                }
            }
            ICMPV6_ECHO_ID | ICMPV6_ECHO_SEQ if matches!(icmp_type, 128 | 129) => {
                let o = if id == ICMPV6_ECHO_ID { 4 } else { 6 };
                if let Some(v) = be16(d, offset + o) {
                    emit!(f, u(u64::from(v)))
                }
            }
            ICMPV6_ND_NS_TARGET | ICMPV6_ND_NA_TARGET => {
                let want = if id == ICMPV6_ND_NS_TARGET { 135 } else { 136 };
                if icmp_type == want
                    && let Some(a) = d
                        .get(offset + 8..offset + 24)
                        .and_then(|s| <[u8; 16]>::try_from(s).ok())
                {
                    emit!(f, Value::Ipv6(a))
                }
            }
            _ => {}
        },
        _ => {}
    }
    ControlFlow::Continue(())
}

fn tcp(
    id: FieldId,
    d: &[u8],
    l: &Layers,
    f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let Transport::Tcp(t) = l.transport else {
        return ControlFlow::Continue(());
    };
    let u = |v: u64| Value::UInt(v);
    let flag = |bit: u16| Value::Bool(t.flags & bit != 0);
    // A header cut by the snaplen: only what the first 20 bytes say (the quoted header of an
    // ICMP error is often just 8 bytes: ports and sequence number).
    match id {
        TCP => emit!(
            f,
            Value::Protocol(
                d.get(t.offset..t.offset + t.hdr_len)
                    .unwrap_or_else(|| d.get(t.offset..).unwrap_or_default())
            )
        ),
        TCP_SRCPORT => emit!(f, u(u64::from(t.sport))),
        TCP_DSTPORT => emit!(f, u(u64::from(t.dport))),
        TCP_PORT => {
            emit!(f, u(u64::from(t.sport)));
            emit!(f, u(u64::from(t.dport)));
        }
        TCP_SEQ_RAW => emit!(f, u(u64::from(t.seq))),
        TCP_ACK_RAW => emit!(f, u(u64::from(t.ack))),
        TCP_LEN => emit!(f, u(t.payload_len as u64)),
        TCP_HDR_LEN => emit!(f, u(t.hdr_len as u64)),
        TCP_FLAGS => emit!(f, u(u64::from(t.flags))),
        TCP_FLAGS_RES => emit!(f, Value::Bool(t.flags & 0x0e00 != 0)),
        TCP_FLAGS_AE => emit!(f, flag(0x100)),
        TCP_FLAGS_CWR => emit!(f, flag(decode::TH_CWR)),
        TCP_FLAGS_ECE => emit!(f, flag(decode::TH_ECE)),
        TCP_FLAGS_URG => emit!(f, flag(decode::TH_URG)),
        TCP_FLAGS_ACK => emit!(f, flag(decode::TH_ACK)),
        TCP_FLAGS_PUSH => emit!(f, flag(decode::TH_PSH)),
        TCP_FLAGS_RESET => emit!(f, flag(decode::TH_RST)),
        TCP_FLAGS_SYN => emit!(f, flag(decode::TH_SYN)),
        TCP_FLAGS_FIN => emit!(f, flag(decode::TH_FIN)),
        TCP_WINDOW_SIZE_VALUE => emit!(f, u(u64::from(t.window))),
        TCP_CHECKSUM => emit!(f, u(u64::from(t.checksum))),
        TCP_URGENT_POINTER => emit!(f, u(u64::from(t.urgent))),
        TCP_OPTIONS..=TCP_OPTIONS_TSECR => {
            let Some(opts) = d.get(t.options()) else {
                return ControlFlow::Continue(());
            };
            if opts.is_empty() {
                return ControlFlow::Continue(());
            }
            if id == TCP_OPTIONS {
                emit!(f, Value::Bytes(opts));
                return ControlFlow::Continue(());
            }
            for o in decode::tcp_options(opts) {
                match (id, o) {
                    (TCP_OPTIONS_MSS_VAL, decode::TcpOption::Mss(v)) => emit!(f, u(u64::from(v))),
                    (TCP_OPTIONS_WSCALE_SHIFT, decode::TcpOption::WindowScale(v)) => {
                        emit!(f, u(u64::from(v)))
                    }
                    (TCP_OPTIONS_SACK_PERM, decode::TcpOption::SackPermitted) => {
                        emit!(f, Value::Protocol(&[]))
                    }
                    (TCP_OPTIONS_SACK_LE | TCP_OPTIONS_SACK_RE, decode::TcpOption::Sack(v)) => {
                        for b in v.chunks_exact(8) {
                            let o = if id == TCP_OPTIONS_SACK_LE { 0 } else { 4 };
                            if let Some(x) = be32(b, o) {
                                emit!(f, u(u64::from(x)))
                            }
                        }
                    }
                    (TCP_OPTIONS_TSVAL, decode::TcpOption::Timestamp { val, .. }) => {
                        emit!(f, u(u64::from(val)))
                    }
                    (TCP_OPTIONS_TSECR, decode::TcpOption::Timestamp { ecr, .. }) => {
                        emit!(f, u(u64::from(ecr)))
                    }
                    _ => {}
                }
            }
        }
        TCP_PAYLOAD => {
            let p = l.payload(d);
            if !p.is_empty() {
                emit!(f, Value::Bytes(p))
            }
        }
        _ => {}
    }
    ControlFlow::Continue(())
}

fn udp(
    id: FieldId,
    d: &[u8],
    l: &Layers,
    f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let Transport::Udp {
        offset,
        sport,
        dport,
        length,
        checksum,
        ..
    } = l.transport
    else {
        return ControlFlow::Continue(());
    };
    let u = |v: u64| Value::UInt(v);
    match id {
        UDP => emit!(
            f,
            Value::Protocol(d.get(offset..offset + 8).unwrap_or_default())
        ),
        UDP_SRCPORT => emit!(f, u(u64::from(sport))),
        UDP_DSTPORT => emit!(f, u(u64::from(dport))),
        UDP_PORT => {
            emit!(f, u(u64::from(sport)));
            emit!(f, u(u64::from(dport)));
        }
        UDP_LENGTH => emit!(f, u(u64::from(length))),
        UDP_CHECKSUM => emit!(f, u(u64::from(checksum))),
        UDP_PAYLOAD => {
            let p = l.payload(d);
            if !p.is_empty() {
                emit!(f, Value::Bytes(p))
            }
        }
        _ => {}
    }
    ControlFlow::Continue(())
}

fn dns_field(
    id: FieldId,
    m: &[u8],
    mdns: bool,
    f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let Some(h) = dns::Header::parse(m) else {
        return ControlFlow::Continue(());
    };
    let u = |v: u64| Value::UInt(v);
    let flag = |bit: u16| Value::Bool(h.flags & bit != 0);
    match id {
        DNS if !mdns => emit!(f, Value::Protocol(m)),
        MDNS if mdns => emit!(f, Value::Protocol(m)),
        DNS_ID => emit!(f, u(u64::from(h.id))),
        DNS_FLAGS => emit!(f, u(u64::from(h.flags))),
        DNS_FLAGS_RESPONSE => emit!(f, flag(0x8000)),
        DNS_FLAGS_OPCODE => emit!(f, u(u64::from(h.opcode()))),
        DNS_FLAGS_AUTHORITATIVE if h.response() => emit!(f, flag(0x0400)),
        DNS_FLAGS_TRUNCATED => emit!(f, flag(0x0200)),
        DNS_FLAGS_RECDESIRED => emit!(f, flag(0x0100)),
        DNS_FLAGS_RECAVAIL if h.response() => emit!(f, flag(0x0080)),
        DNS_FLAGS_RCODE if h.response() => emit!(f, u(u64::from(h.rcode()))),
        DNS_COUNT_QUERIES => emit!(f, u(u64::from(h.qdcount))),
        DNS_COUNT_ANSWERS => emit!(f, u(u64::from(h.ancount))),
        DNS_COUNT_AUTH_RR => emit!(f, u(u64::from(h.nscount))),
        DNS_COUNT_ADD_RR => emit!(f, u(u64::from(h.arcount))),
        DNS_QRY_NAME | DNS_QRY_TYPE | DNS_QRY_CLASS => {
            if let Some((qs, _)) = dns::questions(m, 12, h.qdcount.min(64)) {
                for q in &qs {
                    match id {
                        DNS_QRY_NAME => {
                            let n = q.name.strip_suffix('.').unwrap_or(&q.name);
                            let n = if n.is_empty() { "<Root>" } else { n };
                            emit!(f, Value::Str(n))
                        }
                        DNS_QRY_TYPE => emit!(f, u(u64::from(q.qtype))),
                        _ => emit!(f, u(u64::from(q.qclass))),
                    }
                }
            }
        }
        DNS_RESP_NAME..=DNS_MX => {
            let Some((_, mut off)) = dns::questions(m, 12, h.qdcount.min(64)) else {
                return ControlFlow::Continue(());
            };
            let total = u32::from(h.ancount) + u32::from(h.nscount) + u32::from(h.arcount);
            for _ in 0..total.min(512) {
                let Some((r, next)) = dns::record(m, off) else {
                    break;
                };
                off = next;
                let rd = &m[r.data.clone()];
                let name_at = |o: usize| -> Option<String> {
                    let mut s = String::new();
                    dns::read_name(m, o, &mut s)?;
                    Some(s.strip_suffix('.').map(str::to_string).unwrap_or(s))
                };
                match id {
                    DNS_RESP_NAME => {
                        let n = r.name.strip_suffix('.').unwrap_or(&r.name);
                        emit!(f, Value::Str(if n.is_empty() { "<Root>" } else { n }))
                    }
                    DNS_RESP_TYPE => emit!(f, u(u64::from(r.rtype))),
                    DNS_RESP_TTL if r.rtype != 41 => emit!(f, u(u64::from(r.ttl))),
                    DNS_A if r.rtype == 1 => {
                        if let Ok(a) = <[u8; 4]>::try_from(rd) {
                            emit!(f, Value::Ipv4(a))
                        }
                    }
                    DNS_AAAA if r.rtype == 28 => {
                        if let Ok(a) = <[u8; 16]>::try_from(rd) {
                            emit!(f, Value::Ipv6(a))
                        }
                    }
                    DNS_CNAME if r.rtype == 5 => {
                        if let Some(n) = name_at(r.data.start) {
                            emit!(f, Value::Str(&n))
                        }
                    }
                    DNS_PTR if r.rtype == 12 => {
                        if let Some(n) = name_at(r.data.start) {
                            emit!(f, Value::Str(&n))
                        }
                    }
                    DNS_NS if r.rtype == 2 => {
                        if let Some(n) = name_at(r.data.start) {
                            emit!(f, Value::Str(&n))
                        }
                    }
                    DNS_MX if r.rtype == 15 => {
                        if let Some(n) = name_at(r.data.start + 2) {
                            emit!(f, Value::Str(&n))
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    ControlFlow::Continue(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiresift_field::Registry;

    #[test]
    fn registry_builds_and_names_are_unique() {
        let r = Registry::from_sets(&[(BASE, FIELDS)]);
        assert_eq!(r.lookup("ip.src"), Some(IP_SRC));
        assert_eq!(r.lookup("dns.mx.mail_exchange"), Some(DNS_MX));
        assert!(FIELDS.len() < 1000, "dissect owns ids 0..1000");
    }
}
