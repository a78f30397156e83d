//! Test support: find the shared capture corpus, read and decode captures, drive the flow
//! engine over them, and parse the `.expected.txt` oracle files.
#![allow(
    dead_code,
    clippy::collapsible_if,
    clippy::type_complexity,
    clippy::manual_is_multiple_of
)]

pub mod capture;
pub mod decode;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use wiresift_flow::{
    DefragLimits, Defragmenter, Direction, FlowHandler, FlowId, FlowInfo, FlowSummary, FlowTable,
    FollowFormat, FollowProto, FollowWriter, Gap, GapCause, Limits, Nanos, Packet, PacketFlow,
    Proto, TcpSegment, Transport,
};

use decode::L4;

/// The corpus directory: `$WIRESIFT_SHARED_CAPTURES`, else `../../../shared/captures` from
/// the crate. `None` (with the reason printed) when neither exists.
pub fn captures_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("WIRESIFT_SHARED_CAPTURES") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            return Some(p);
        }
        eprintln!(
            "SKIP: WIRESIFT_SHARED_CAPTURES={} is not a directory",
            p.display()
        );
        return None;
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures");
    if p.is_dir() {
        return Some(p);
    }
    eprintln!(
        "SKIP: no capture corpus (set WIRESIFT_SHARED_CAPTURES; {} does not exist)",
        p.display()
    );
    None
}

/// Every capture with an `.expected.txt` beside it, sorted.
pub fn corpus(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let Ok(cats) = std::fs::read_dir(dir) else {
        return out;
    };
    for cat in cats.flatten() {
        let Ok(files) = std::fs::read_dir(cat.path()) else {
            continue;
        };
        for f in files.flatten() {
            let p = f.path();
            let name = p.to_string_lossy().to_string();
            if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                let exp = PathBuf::from(format!("{name}.expected.txt"));
                if exp.exists() {
                    out.push((p, exp));
                }
            }
        }
    }
    out.sort();
    out
}

#[derive(Default, Debug)]
pub struct Expected {
    pub dfilter: HashMap<String, u64>,
    pub tcp_streams: Option<u64>,
    pub udp_streams: Option<u64>,
    pub tcp_follow: BTreeMap<u64, ExpectedFollow>,
}

#[derive(Default, Debug, Clone)]
pub struct ExpectedFollow {
    pub node0: String,
    pub node1: String,
    pub c2s_bytes: u64,
    pub c2s_md5: String,
    pub s2c_bytes: u64,
    pub s2c_md5: String,
    pub follow_md5: String,
}

pub fn parse_expected(text: &str) -> Expected {
    let mut e = Expected::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("dfilter \"") {
            if let Some((name, n)) = rest.split_once("\": ") {
                if let Ok(n) = n.trim().parse() {
                    e.dfilter.insert(name.to_string(), n);
                }
            }
        } else if let Some(n) = line.strip_prefix("tcp-streams: ") {
            e.tcp_streams = n.trim().parse().ok();
        } else if let Some(n) = line.strip_prefix("udp-streams: ") {
            e.udp_streams = n.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("tcp-stream ") {
            let Some((id, kv)) = rest.split_once(": ") else {
                continue;
            };
            let Ok(id) = id.parse::<u64>() else { continue };
            let mut f = ExpectedFollow::default();
            for item in kv.split_whitespace() {
                let Some((k, v)) = item.split_once('=') else {
                    continue;
                };
                match k {
                    "node0" => f.node0 = v.into(),
                    "node1" => f.node1 = v.into(),
                    "c2s_bytes" => f.c2s_bytes = v.parse().unwrap_or(0),
                    "c2s_md5" => f.c2s_md5 = v.into(),
                    "s2c_bytes" => f.s2c_bytes = v.parse().unwrap_or(0),
                    "s2c_md5" => f.s2c_md5 = v.into(),
                    "follow_md5" => f.follow_md5 = v.into(),
                    _ => {}
                }
            }
            e.tcp_follow.insert(id, f);
        }
    }
    e
}

pub fn md5_hex(b: &[u8]) -> String {
    let d = Md5::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

/// What one stream produced, rendered the way tshark's follow does.
pub struct StreamOut {
    pub info: FlowInfo,
    /// Bytes of node 0 / node 1, gaps rendered as tshark's marker.
    pub node: [Vec<u8>; 2],
    pub raw: FollowWriter<Vec<u8>>,
    /// Data flushed after an unacknowledged hole at close: tshark never prints it.
    pub dropped_by_tshark: [u64; 2],
    pub closed_gap: [bool; 2],
    pub summary: Option<FlowSummary>,
}

impl StreamOut {
    /// The node byte counts and first bytes (for debugging).
    pub fn raw_preview(&self) -> String {
        format!(
            "node0 {} bytes {:02x?}\nnode1 {} bytes\n",
            self.node[0].len(),
            &self.node[0][..self.node[0].len().min(120)],
            self.node[1].len()
        )
    }
}

/// Records everything the engine pushes.
#[derive(Default)]
pub struct Recorder {
    pub tcp: BTreeMap<u64, StreamOut>,
    pub udp_open: u64,
    pub closes: u64,
}

impl Recorder {
    fn node(info: &FlowInfo, dir: Direction) -> usize {
        match (dir, info.first_from_client) {
            (Direction::ClientToServer, true) | (Direction::ServerToClient, false) => 0,
            _ => 1,
        }
    }
}

impl FlowHandler for Recorder {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        let stream = id.stream;
        if info.proto == Proto::Udp {
            self.udp_open += 1;
            return;
        }
        let mut raw = FollowWriter::new(Vec::new(), FollowProto::Tcp, FollowFormat::Raw, stream);
        raw.set_flow(info);
        self.tcp.insert(
            stream,
            StreamOut {
                info: info.clone(),
                node: [Vec::new(), Vec::new()],
                raw,
                dropped_by_tshark: [0, 0],
                closed_gap: [false, false],
                summary: None,
            },
        );
    }
    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], ts: Nanos, frame: u64) {
        if id.proto != Proto::Tcp {
            return;
        }
        let Some(s) = self.tcp.get_mut(&id.stream) else {
            return;
        };
        let n = Self::node(&s.info, dir);
        if s.closed_gap[n] {
            s.dropped_by_tshark[n] += data.len() as u64;
            return;
        }
        s.node[n].extend_from_slice(data);
        s.raw.chunk(dir, data, frame, ts).unwrap();
    }
    fn on_gap(&mut self, id: FlowId, dir: Direction, gap: &Gap) {
        let Some(s) = self.tcp.get_mut(&id.stream) else {
            return;
        };
        let n = Self::node(&s.info, dir);
        match gap.cause {
            GapCause::NotCaptured => {
                s.node[n].extend_from_slice(&wiresift_flow::follow::missing_marker(gap.missing));
                s.raw.gap(dir, gap.missing, gap.frame).unwrap();
            }
            GapCause::Truncated => {}
            GapCause::Limit | GapCause::Close => s.closed_gap[n] = true,
        }
    }
    fn on_close(&mut self, id: FlowId, summary: &FlowSummary) {
        self.closes += 1;
        if id.proto != Proto::Tcp {
            return;
        }
        if let Some(s) = self.tcp.get_mut(&id.stream) {
            if summary.proto == Proto::Tcp {
                s.summary = Some(summary.clone());
            }
        }
    }
}

/// The result of running the engine over one capture.
pub struct Run {
    pub frames: Vec<(u64, Option<PacketFlow>)>,
    /// Frames that completed a reassembled IPv4 / IPv6 datagram.
    pub ip_reassembled: u64,
    pub ipv6_reassembled: u64,
    pub rec: Recorder,
    pub table: FlowTable,
    pub read_error: Option<String>,
}

pub fn run(path: &Path, limits: Limits) -> Run {
    let (mut run, rec) = run_with(path, limits, Recorder::default(), |_, _| {});
    run.rec = rec;
    run
}

/// Writes every flow of a capture in one follow format, rendered as tshark would.
#[derive(Default)]
pub struct FollowAll {
    pub format: Option<FollowFormat>,
    pub out: BTreeMap<FlowId, (FollowWriter<Vec<u8>>, [bool; 2], FlowInfo)>,
}

impl FlowHandler for FollowAll {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        let proto = match id.proto {
            Proto::Tcp => FollowProto::Tcp,
            Proto::Udp => FollowProto::Udp,
        };
        let mut w = FollowWriter::new(
            Vec::new(),
            proto,
            self.format.unwrap_or(FollowFormat::Raw),
            id.stream,
        );
        w.set_flow(info);
        self.out.insert(id, (w, [false, false], info.clone()));
    }
    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], ts: Nanos, frame: u64) {
        if let Some((w, closed, _)) = self.out.get_mut(&id) {
            if !closed[dir.index()] {
                w.chunk(dir, data, frame, ts).unwrap();
            }
        }
    }
    fn on_gap(&mut self, id: FlowId, dir: Direction, gap: &Gap) {
        if let Some((w, closed, _)) = self.out.get_mut(&id) {
            match gap.cause {
                GapCause::NotCaptured => w.gap(dir, gap.missing, gap.frame).unwrap(),
                GapCause::Truncated => {}
                _ => closed[dir.index()] = true,
            }
        }
    }
}

pub fn run_with<H: FlowHandler>(
    path: &Path,
    limits: Limits,
    mut rec: H,
    _hook: impl FnMut(&mut H, u64),
) -> (Run, H)
where
    Recorder: Default,
{
    let bytes = std::fs::read(path).unwrap_or_default();
    let (frames, read_error) = match capture::read(&bytes) {
        Ok(f) => (f, None),
        Err(e) => (Vec::new(), Some(e.0)),
    };
    let mut table = FlowTable::new(limits);
    let mut defrag = Defragmenter::new(DefragLimits::default());
    let mut out = Vec::new();
    let (mut v4, mut v6) = (0, 0);
    for f in &frames {
        let Some(ip) = decode::ip_of(f.linktype, &f.data) else {
            out.push((f.number, None));
            continue;
        };
        let reassembled;
        let (data, wire) = if let Some(fr) = &ip.frag {
            match defrag.push(fr.key, f.number, f.ts, fr.offset, fr.more, ip.payload) {
                Some(r) => {
                    match fr.key {
                        wiresift_flow::FragKey::V4 { .. } => v4 += 1,
                        wiresift_flow::FragKey::V6 { .. } => v6 += 1,
                    }
                    reassembled = r.data;
                    (&reassembled[..], reassembled.len())
                }
                None => {
                    out.push((f.number, None));
                    continue;
                }
            }
        } else {
            (ip.payload, ip.wire_len)
        };
        let pf = match decode::l4(&ip, data, wire) {
            Some(L4::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                wscale,
                payload,
                seg_len,
            }) => {
                let p = Packet {
                    frame: f.number,
                    ts: f.ts,
                    src: ip.src,
                    dst: ip.dst,
                    transport: Transport::Tcp(TcpSegment {
                        sport,
                        dport,
                        seq,
                        ack,
                        flags,
                        window,
                        wscale,
                        payload,
                        seg_len,
                    }),
                };
                Some(table.process(&p, &mut rec))
            }
            Some(L4::Udp {
                sport,
                dport,
                payload,
            }) => {
                let p = Packet {
                    frame: f.number,
                    ts: f.ts,
                    src: ip.src,
                    dst: ip.dst,
                    transport: Transport::Udp {
                        sport,
                        dport,
                        payload,
                    },
                };
                Some(table.process(&p, &mut rec))
            }
            Some(L4::IcmpInner(proto, s, sp, d, dp)) => {
                let proto = if proto == 6 { Proto::Tcp } else { Proto::Udp };
                table.embedded_stream(proto, (s, sp), (d, dp), f.number, f.ts, &mut rec);
                None
            }
            None => None,
        };
        out.push((f.number, pf));
    }
    table.finish(&mut rec);
    (
        Run {
            frames: out,
            ip_reassembled: v4,
            ipv6_reassembled: v6,
            rec: Recorder::default(),
            table,
            read_error,
        },
        rec,
    )
}
