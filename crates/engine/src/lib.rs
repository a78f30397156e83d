//! The one place that knows the whole per-frame pipeline: decode → IP defragmentation → flow
//! table (stream index, TCP analysis, reassembly pushed to a handler) → field providers.
//!
//! Commands (`read -Y`, `follow`, `export`, `conversations`) drive an [`Engine`] frame by frame
//! and look at the [`Processed`] result; reassembled stream data goes to their own
//! [`FlowHandler`].
#![forbid(unsafe_code)]

pub mod fields;
mod source;

use std::net::IpAddr;

use wiresift_capfile::{Frame, LinkType};
use wiresift_dissect::decode::{self, Layers, Net, TcpOption, Transport};
use wiresift_flow::{
    DefragLimits, Defragmenter, FlowHandler, FlowTable, FragKey, Limits, Packet, PacketFlow, Proto,
    TcpSegment,
};

pub use source::FrameSource;

/// First field id of application-layer providers. Fixed blocks: HTTP 2000, HTTP/2 2500,
/// mail (SMTP/IMF/POP/IMAP) 3000, TLS 4000.
pub const APP_BASE: u32 = 2000;

/// Forwards every stream event to several handlers, in order (e.g. an HTTP parser and an SMTP
/// parser on the same pass).
pub struct Fanout<'a>(pub Vec<&'a mut dyn FlowHandler>);

impl FlowHandler for Fanout<'_> {
    fn on_open(&mut self, id: wiresift_flow::FlowId, info: &wiresift_flow::FlowInfo) {
        for h in &mut self.0 {
            h.on_open(id, info);
        }
    }
    fn wants_data(&mut self, id: wiresift_flow::FlowId, info: &wiresift_flow::FlowInfo) -> bool {
        // Every handler is asked (each may set up per-flow state); any one wanting it is enough.
        let mut any = false;
        for h in &mut self.0 {
            any |= h.wants_data(id, info);
        }
        any
    }
    fn on_data(
        &mut self,
        id: wiresift_flow::FlowId,
        dir: wiresift_flow::Direction,
        data: &[u8],
        ts: wiresift_flow::Nanos,
        frame: u64,
    ) {
        for h in &mut self.0 {
            h.on_data(id, dir, data, ts, frame);
        }
    }
    fn on_gap(
        &mut self,
        id: wiresift_flow::FlowId,
        dir: wiresift_flow::Direction,
        gap: &wiresift_flow::Gap,
    ) {
        for h in &mut self.0 {
            h.on_gap(id, dir, gap);
        }
    }
    fn on_close(&mut self, id: wiresift_flow::FlowId, summary: &wiresift_flow::FlowSummary) {
        for h in &mut self.0 {
            h.on_close(id, summary);
        }
    }
}
pub use wiresift_flow;

/// Limits of the stateful parts.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    pub flow: Limits,
    pub defrag: DefragLimits,
    /// Skip the flow table (no stream numbers, analysis or reassembly): for callers whose
    /// filter and output use only per-packet fields. Defragmentation still runs, so the
    /// transport shown on fragments stays as Wireshark shows it.
    pub skip_flows: bool,
}

/// The stateful pipeline.
pub struct Engine {
    skip_flows: bool,
    table: FlowTable,
    defrag: Defragmenter,
    reasm: Vec<u8>,
    reasm_frames: Vec<u64>,
}

/// What the engine made of one frame. Borrows the engine's reassembly buffer.
pub struct Processed<'e> {
    /// The frame's own layers.
    pub layers: Layers,
    /// When an IP datagram was completed on this frame: its upper-layer bytes and layers
    /// (offsets into `upper_data`). Wireshark dissects the transport from these.
    pub upper: Option<Layers>,
    pub upper_data: &'e [u8],
    /// Frames whose fragments made up `upper` (`ip.fragment` / `ipv6.fragment`).
    pub fragments: &'e [u64],
    pub v6_fragments: bool,
    /// A fragment of a datagram not (yet) complete: Wireshark shows no transport on it.
    pub hide_transport: bool,
    /// Stream facts (TCP or UDP).
    pub flow: Option<PacketFlow>,
    /// The stream of a TCP/UDP header quoted inside an ICMP error.
    pub embedded: Option<(Proto, u64)>,
}

impl<'e> Processed<'e> {
    /// The transport layer as Wireshark shows it: from the reassembled datagram, from the
    /// frame, or none for a pending fragment; with the bytes its offsets refer to.
    pub fn transport<'d>(&'d self, frame_data: &'d [u8]) -> Option<(&'d [u8], &'d Layers)> {
        if self.hide_transport {
            return None;
        }
        match &self.upper {
            Some(l) => Some((self.upper_data, l)),
            None => Some((frame_data, &self.layers)),
        }
    }
}

fn ip_addr4(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

fn ip_addr6(a: [u8; 16]) -> IpAddr {
    IpAddr::from(a)
}

/// The TCP window scale option of a SYN.
fn wscale(data: &[u8], t: &decode::Tcp) -> Option<u8> {
    if t.flags & decode::TH_SYN == 0 {
        return None;
    }
    decode::tcp_options(data.get(t.options())?).find_map(|o| match o {
        TcpOption::WindowScale(s) => Some(s),
        _ => None,
    })
}

fn to_packet<'d>(
    frame: u64,
    ts: i64,
    src: IpAddr,
    dst: IpAddr,
    data: &'d [u8],
    l: &Layers,
) -> Option<Packet<'d>> {
    let payload = l.payload(data);
    let transport = match l.transport {
        Transport::Tcp(t) if t.hdr_len >= 20 && data.len() >= t.offset + t.hdr_len => {
            wiresift_flow::Transport::Tcp(TcpSegment {
                sport: t.sport,
                dport: t.dport,
                seq: t.seq,
                ack: t.ack,
                flags: t.flags,
                window: t.window,
                wscale: wscale(data, &t),
                payload,
                seg_len: t.payload_len.min(u32::MAX as usize) as u32,
            })
        }
        Transport::Udp { sport, dport, .. } => wiresift_flow::Transport::Udp {
            sport,
            dport,
            payload,
        },
        _ => return None,
    };
    Some(Packet {
        frame,
        ts,
        src,
        dst,
        transport,
    })
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Engine {
        Engine {
            skip_flows: opts.skip_flows,
            table: FlowTable::new(opts.flow),
            defrag: Defragmenter::new(opts.defrag),
            reasm: Vec::new(),
            reasm_frames: Vec::new(),
        }
    }

    pub fn flow_stats(&self) -> &wiresift_flow::Stats {
        self.table.stats()
    }

    pub fn defrag_stats(&self) -> &wiresift_flow::DefragStats {
        self.defrag.stats()
    }

    /// Runs one frame through the pipeline; stream data goes to `h`.
    pub fn process(&mut self, f: &Frame<'_>, h: &mut dyn FlowHandler) -> Processed<'_> {
        self.process_raw(f.number, f.ts, f.link, f.data, h)
    }

    pub fn process_raw(
        &mut self,
        number: u64,
        ts: i64,
        link: LinkType,
        data: &[u8],
        h: &mut dyn FlowHandler,
    ) -> Processed<'_> {
        let layers = decode::decode(link, data);
        let mut upper = None;
        let mut hide = false;
        let mut v6_frag = false;
        let mut completed = false;
        // IP addresses and, for fragments, the reassembly.
        let addrs = match layers.net {
            Net::Ipv4(ip) => {
                let (src, dst) = (ip_addr4(ip.src), ip_addr4(ip.dst));
                if ip.is_fragment() && ip.hdr_len >= 20 {
                    let start = ip.offset + ip.hdr_len;
                    let end = (ip.offset + usize::from(ip.total_len)).min(data.len());
                    let payload = data.get(start..end).unwrap_or_default();
                    let key = FragKey::V4 {
                        src: ip.src.into(),
                        dst: ip.dst.into(),
                        id: ip.id,
                        proto: ip.proto,
                    };
                    match self.defrag.push(
                        key,
                        number,
                        ts,
                        usize::from(ip.frag_offset()),
                        ip.mf(),
                        payload,
                    ) {
                        Some(r) => {
                            self.reasm = r.data;
                            self.reasm_frames = r.frames;
                            upper = Some(decode::decode_upper(ip.proto, &self.reasm, false));
                            completed = true;
                        }
                        None => hide = true,
                    }
                }
                Some((src, dst))
            }
            Net::Ipv6(ip) => {
                let (src, dst) = (ip_addr6(ip.src), ip_addr6(ip.dst));
                // An atomic fragment (offset 0, no more fragments) is a whole datagram.
                if let Some(fr) = ip.frag.filter(|fr| fr.frag_offset != 0 || fr.more) {
                    let start = fr.offset_in_pkt + 8;
                    let end = (ip.offset + 40 + usize::from(ip.plen)).min(data.len());
                    let payload = data.get(start..end).unwrap_or_default();
                    let key = FragKey::V6 {
                        src: ip.src.into(),
                        dst: ip.dst.into(),
                        ident: fr.id,
                    };
                    match self.defrag.push(
                        key,
                        number,
                        ts,
                        usize::from(fr.frag_offset),
                        fr.more,
                        payload,
                    ) {
                        Some(r) => {
                            self.reasm = r.data;
                            self.reasm_frames = r.frames;
                            upper = Some(decode::decode_upper(fr.next, &self.reasm, true));
                            completed = true;
                            v6_frag = true;
                        }
                        None => hide = true,
                    }
                }
                Some((src, dst))
            }
            _ => None,
        };
        let mut flow = None;
        let mut embedded = None;
        if let (Some((src, dst)), false, false) = (addrs, hide, self.skip_flows) {
            let (tdata, tl): (&[u8], &Layers) = match &upper {
                Some(u) => (&self.reasm, u),
                None => (data, &layers),
            };
            if let Some(p) = to_packet(number, ts, src, dst, tdata, tl) {
                flow = Some(self.table.process(&p, h));
            } else if let Some((proto, s, d)) = quoted_endpoints(data, &layers) {
                let stream = self.table.embedded_stream(proto, s, d, number, ts, h);
                embedded = Some((proto, stream));
            }
        }
        Processed {
            layers,
            upper,
            upper_data: if completed { &self.reasm } else { &[] },
            fragments: if completed { &self.reasm_frames } else { &[] },
            v6_fragments: v6_frag,
            hide_transport: hide,
            flow,
            embedded,
        }
    }

    /// Flushes every flow (end of input).
    pub fn finish(&mut self, h: &mut dyn FlowHandler) {
        self.table.finish(h);
    }
}

/// The TCP/UDP endpoints quoted in an ICMP/ICMPv6 error (Wireshark numbers their stream too).
#[allow(clippy::type_complexity)]
fn quoted_endpoints(data: &[u8], l: &Layers) -> Option<(Proto, (IpAddr, u16), (IpAddr, u16))> {
    let (off, il) = decode::icmp_quoted(data, l)?;
    let inner = &data[off..];
    let (src, dst) = match il.net {
        Net::Ipv4(ip) => (ip_addr4(ip.src), ip_addr4(ip.dst)),
        Net::Ipv6(ip) => (ip_addr6(ip.src), ip_addr6(ip.dst)),
        _ => return None,
    };
    // The quote often holds only 8 bytes of the transport header: ports are enough.
    let tr_off = match il.transport {
        Transport::Tcp(t) => t.offset,
        Transport::Udp { offset, .. } => offset,
        Transport::Other { offset, .. } => offset,
        _ => return None,
    };
    let proto = match il.net {
        Net::Ipv4(ip) => ip.proto,
        Net::Ipv6(ip) => ip.proto,
        _ => return None,
    };
    let proto = match proto {
        6 => Proto::Tcp,
        17 => Proto::Udp,
        _ => return None,
    };
    let sport = decode::be16(inner, tr_off)?;
    let dport = decode::be16(inner, tr_off + 2)?;
    Some((proto, (src, sport), (dst, dport)))
}
