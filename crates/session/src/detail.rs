//! The detail tree of one frame (the `-V` tree as nodes) with the bytes each field came from,
//! and the extra byte tabs (reassembled datagram, decrypted TLS).
//!
//! Flow state (stream numbers, analysis, HTTP and TLS fields) is made by running only the
//! frames of the frame's stream, up to it, through the pipeline; the stream number the full
//! pass gave is put back on the result.

use std::ops::Range;

use serde::Serialize;
use wiresift_dissect::{Layers, Net, Transport};
use wiresift_flow::{Direction, FlowHandler, FlowId, Nanos};

use crate::pipeline::{Needs, Pipeline, Times};
use crate::tree::collect_tree;
use crate::{Session, SessionError, registry};

/// One node of the tree.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    pub label: String,
    /// The field (or protocol) name, for "Apply as filter".
    pub field: Option<&'static str>,
    pub value: Option<String>,
    /// Whether the value is a string (quoted in a filter).
    pub string: bool,
    pub start: Option<usize>,
    pub end: Option<usize>,
    /// The byte tab the range refers to.
    pub tab: usize,
    pub children: Vec<Node>,
}

/// A byte tab: the frame, or data made from several frames.
#[derive(Clone, Debug, Serialize)]
pub struct Tab {
    pub name: String,
    pub hex: String,
}

/// A frame's detail.
#[derive(Clone, Debug, Serialize)]
pub struct Detail {
    pub no: u64,
    pub tree: Vec<Node>,
    pub tabs: Vec<Tab>,
}

fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[usize::from(x >> 4)] as char);
        s.push(H[usize::from(x & 15)] as char);
    }
    s
}

/// Bytes of the frame a decoder field came from: offsets within its layer's header.
fn field_range(name: &str, l: &Layers, len: usize) -> Option<Range<usize>> {
    let clip = |r: Range<usize>| (r.start < len).then(|| r.start..r.end.min(len));
    let at = |base: usize, a: usize, b: usize| clip(base + a..base + b);
    if let Some(f) = name.strip_prefix("eth.") {
        if !matches!(l.link, wiresift_dissect::Link::Ethernet { .. }) {
            return None;
        }
        return match f {
            "dst" | "dst_resolved" | "ig" | "lg" | "addr" => at(0, 0, 6),
            "src" | "src_resolved" => at(0, 6, 12),
            "type" | "len" => at(0, 12, 14),
            _ => None,
        };
    }
    if let Net::Ipv4(ip) = l.net
        && let Some(f) = name.strip_prefix("ip.")
    {
        let o = ip.offset;
        return match f {
            "version" | "hdr_len" => at(o, 0, 1),
            "dsfield" | "dsfield.dscp" | "dsfield.ecn" | "tos" => at(o, 1, 2),
            "len" => at(o, 2, 4),
            "id" => at(o, 4, 6),
            "flags" | "flags.rb" | "flags.df" | "flags.mf" | "frag_offset" => at(o, 6, 8),
            "ttl" => at(o, 8, 9),
            "proto" => at(o, 9, 10),
            "checksum" | "checksum.status" => at(o, 10, 12),
            "src" | "src_host" => at(o, 12, 16),
            "dst" | "dst_host" => at(o, 16, 20),
            _ => at(o, 0, ip.hdr_len),
        };
    }
    if let Net::Ipv6(ip) = l.net
        && let Some(f) = name.strip_prefix("ipv6.")
    {
        let o = ip.offset;
        return match f {
            "version" | "tclass" | "flow" => at(o, 0, 4),
            "plen" => at(o, 4, 6),
            "nxt" => at(o, 6, 7),
            "hlim" => at(o, 7, 8),
            "src" | "src_host" => at(o, 8, 24),
            "dst" | "dst_host" => at(o, 24, 40),
            _ => at(o, 0, 40),
        };
    }
    match l.transport {
        Transport::Tcp(t) => {
            let f = name.strip_prefix("tcp.")?;
            let o = t.offset;
            match f {
                "srcport" => at(o, 0, 2),
                "dstport" => at(o, 2, 4),
                "seq" | "seq_raw" => at(o, 4, 8),
                "ack" | "ack_raw" => at(o, 8, 12),
                "hdr_len" => at(o, 12, 13),
                _ if f.starts_with("flags") => at(o, 12, 14),
                "window_size_value" | "window_size" => at(o, 14, 16),
                "checksum" | "checksum.status" => at(o, 16, 18),
                "urgent_pointer" => at(o, 18, 20),
                _ if f.starts_with("options") || f.starts_with("option") => at(o, 20, t.hdr_len),
                "payload" | "len" => {
                    let (po, pl) = (o + t.hdr_len, t.payload_len);
                    clip(po..po + pl)
                }
                _ => None,
            }
        }
        Transport::Udp { offset: o, .. } => {
            let f = name.strip_prefix("udp.")?;
            match f {
                "srcport" => at(o, 0, 2),
                "dstport" => at(o, 2, 4),
                "length" => at(o, 4, 6),
                "checksum" | "checksum.status" => at(o, 6, 8),
                _ => None,
            }
        }
        Transport::Icmp { offset: o, .. } | Transport::Icmpv6 { offset: o, .. } => {
            let f = name
                .strip_prefix("icmp.")
                .or_else(|| name.strip_prefix("icmpv6."))?;
            match f {
                "type" => at(o, 0, 1),
                "code" => at(o, 1, 2),
                "checksum" => at(o, 2, 4),
                "ident" => at(o, 4, 6),
                "seq" => at(o, 6, 8),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Gathers the stream data delivered on one frame (decrypted, when TLS decrypts it), and
/// each direction's data since the last frame that completed an application message there
/// (what Wireshark shows as "Reassembled TCP" on the frame that completes a message).
struct OnFrame {
    frame: u64,
    data: Vec<u8>,
    cap: usize,
    pending: [Vec<u8>; 2],
    /// Frames that delivered the pending bytes (a message in one segment is not reassembled).
    pending_frames: [u32; 2],
    last_frame: [u64; 2],
    overflow: [bool; 2],
}

impl OnFrame {
    /// A message completed on `frame` in direction `dir`: the reassembled bytes, when they
    /// came from more than one frame.
    fn message_done(&mut self, dir: usize) -> Option<Vec<u8>> {
        let d = dir.min(1);
        let out = (self.pending_frames[d] > 1 && !self.overflow[d])
            .then(|| std::mem::take(&mut self.pending[d]));
        self.pending[d].clear();
        self.pending_frames[d] = 0;
        self.overflow[d] = false;
        out
    }
}

impl FlowHandler for OnFrame {
    fn on_data(&mut self, _id: FlowId, dir: Direction, data: &[u8], _ts: Nanos, frame: u64) {
        if frame == self.frame && self.data.len() + data.len() <= self.cap {
            self.data.extend_from_slice(data);
        }
        let d = dir.index();
        if self.pending[d].len() + data.len() > 16 * self.cap {
            self.overflow[d] = true;
            self.pending[d].clear();
        } else if !self.overflow[d] {
            self.pending[d].extend_from_slice(data);
        }
        if self.last_frame[d] != frame {
            self.last_frame[d] = frame;
            self.pending_frames[d] += 1;
        }
    }
}

impl Session {
    /// The detail tree and byte tabs of frame `n`.
    pub fn detail(&self, n: u64) -> Result<Detail, SessionError> {
        let (e, link, data) = self.read_frame(n)?;
        let frames = match e.stream_of() {
            Some((udp, s)) => self.stream_frames(udp, s, n),
            None => vec![n],
        };
        let keys = self.keys_with_dsb()?;
        let decrypting = keys.is_some();
        let mut pipe = Pipeline::new(Needs::all(), keys)
            .map_err(|err| SessionError::Invalid(err.to_string()))?;
        let ifaces = self
            .current()
            .data
            .read()
            .map(|d| d.interfaces.clone())
            .unwrap_or_default();
        let first_ts = self
            .current()
            .data
            .read()
            .ok()
            .and_then(|d| d.get(1).map(|e| e.ts))
            .unwrap_or(e.ts);
        let prev_ts = n
            .checked_sub(1)
            .and_then(|p| self.current().data.read().ok()?.get(p).map(|e| e.ts))
            .unwrap_or(e.ts);
        let mut times = Times::default();
        let mut on_frame = OnFrame {
            frame: n,
            data: Vec::new(),
            cap: 1 << 20,
            pending: [Vec::new(), Vec::new()],
            pending_frames: [0, 0],
            last_frame: [0, 0],
            overflow: [false, false],
        };
        let reg = registry();
        let messages: Vec<u32> = ["http", "imf"]
            .iter()
            .filter_map(|m| reg.lookup(m))
            .collect();
        let mut result = None;
        let mut reassembled_tcp = None;
        self.for_frames(&frames, |frame, _| {
            let last = frame.number == n;
            if last {
                times.first = Some(first_ts);
                times.prev_captured = Some(prev_ts);
                times.prev_displayed = Some(prev_ts);
                pipe.stream_override = e.stream_of().map(|(_, s)| s);
            }
            let done = pipe.process(
                frame,
                &ifaces,
                &mut times,
                Some(&mut on_frame),
                |src, p, _| {
                    let mut message = false;
                    for &id in &messages {
                        wiresift_field::FieldSource::visit(src, id, &mut |_| {
                            message = true;
                            std::ops::ControlFlow::Break(())
                        });
                    }
                    let dir = match p.flow {
                        Some(wiresift_flow::PacketFlow::Tcp(t)) if message => Some(t.dir.index()),
                        _ => None,
                    };
                    if last {
                        let tree = collect_tree(src, reg);
                        let reassembled = p.upper.as_ref().map(|u| (p.upper_data.to_vec(), *u));
                        result = Some((tree, p.layers, reassembled));
                    }
                    dir
                },
            );
            if let Some(dir) = done {
                let bytes = on_frame.message_done(dir);
                if last {
                    reassembled_tcp = bytes;
                }
            }
        })?;
        let (tree, layers, reassembled) = result.ok_or(SessionError::NoSuchFrame(n))?;
        let mut tabs = vec![Tab {
            name: format!("Frame ({} bytes)", data.len()),
            hex: hex(&data),
        }];
        let reasm_tab = reassembled.as_ref().map(|(bytes, _)| {
            tabs.push(Tab {
                name: format!(
                    "Reassembled {} ({} bytes)",
                    if matches!(layers.net, Net::Ipv6(_)) {
                        "IPv6"
                    } else {
                        "IPv4"
                    },
                    bytes.len()
                ),
                hex: hex(bytes),
            });
            tabs.len() - 1
        });
        if let Some(b) = &reassembled_tcp
            && !decrypting
        {
            tabs.push(Tab {
                name: format!("Reassembled TCP ({} bytes)", b.len()),
                hex: hex(b),
            });
        }
        // Stream data delivered on this frame that is not the frame's own payload came out of
        // the TLS layer: Wireshark's "Decrypted TLS" tab.
        if !on_frame.data.is_empty() && decrypting && on_frame.data != layers.payload(&data) {
            tabs.push(Tab {
                name: format!("Decrypted TLS ({} bytes)", on_frame.data.len()),
                hex: hex(&on_frame.data),
            });
        }
        let ranges = layers.ranges(data.len());
        let mut nodes = Vec::new();
        for (layer, fields) in tree {
            let def = reg.lookup(&layer).and_then(|id| reg.def(id));
            let title = def.map(|d| d.desc).unwrap_or(layer.as_str()).to_string();
            let layer_range = ranges
                .iter()
                .find(|(name, _)| *name == layer)
                .map(|(_, r)| r.clone())
                .or_else(|| {
                    // Application layers: the frame's payload.
                    (!matches!(
                        layer.as_str(),
                        "frame" | "eth" | "ip" | "ipv6" | "tcp" | "udp" | "sll" | "null" | "arp"
                    ))
                    .then(|| ranges.iter().find(|(name, _)| *name == "payload"))
                    .flatten()
                    .map(|(_, r)| r.clone())
                });
            let (layer_range, tab) = match (&reassembled, reasm_tab) {
                (Some((_, ul)), Some(t))
                    if matches!(layer.as_str(), "tcp" | "udp" | "icmp" | "icmpv6") =>
                {
                    let ur = ul.ranges(usize::MAX);
                    (
                        ur.iter()
                            .find(|(nm, _)| *nm == layer)
                            .map(|(_, r)| r.clone()),
                        t,
                    )
                }
                _ => (layer_range, 0),
            };
            let mut children = Vec::new();
            for (fdef, vals) in fields {
                let r = if tab == 0 {
                    field_range(fdef.name, &layers, data.len())
                } else {
                    None
                }
                .or_else(|| layer_range.clone());
                let string = matches!(
                    fdef.kind,
                    wiresift_field::FieldKind::String | wiresift_field::FieldKind::Bytes
                );
                if vals.is_empty() {
                    children.push(Node {
                        label: fdef.desc.to_string(),
                        field: Some(fdef.name),
                        value: None,
                        string,
                        start: r.as_ref().map(|r| r.start),
                        end: r.as_ref().map(|r| r.end),
                        tab,
                        children: Vec::new(),
                    });
                }
                for v in vals {
                    let v = String::from_utf8_lossy(&v).into_owned();
                    children.push(Node {
                        label: format!("{}: {v}", fdef.desc),
                        field: Some(fdef.name),
                        value: Some(v),
                        string,
                        start: r.as_ref().map(|r| r.start),
                        end: r.as_ref().map(|r| r.end),
                        tab,
                        children: Vec::new(),
                    });
                }
            }
            let (start, end) = match (&layer_range, layer.as_str()) {
                (_, "frame") => (Some(0), Some(data.len())),
                (Some(r), _) => (Some(r.start), Some(r.end)),
                _ => (None, None),
            };
            nodes.push(Node {
                label: if layer == "frame" {
                    format!(
                        "Frame {n}: {} bytes on wire ({} bits), {} bytes captured ({} bits)",
                        e.orig_len,
                        u64::from(e.orig_len) * 8,
                        data.len(),
                        data.len() * 8
                    )
                } else {
                    title
                },
                field: def.map(|d| d.name),
                value: None,
                string: false,
                start,
                end,
                tab,
                children,
            });
        }
        let _ = link;
        Ok(Detail {
            no: n,
            tree: nodes,
            tabs,
        })
    }
}
