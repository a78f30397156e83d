//! Follow stream from the index: only the frames of the stream (plus IP fragments, when the
//! stream has any) are read and run through the engine, so following a stream of a 1 GiB
//! capture reads kilobytes, not the file. The text formats are the flow crate's
//! [`FollowWriter`], the one `wiresift follow` uses, so the output is byte-identical.

use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;
use wiresift_capfile::Frame;
use wiresift_dissect::{Net, Transport};
use wiresift_flow::follow::{FollowFormat, FollowProto, FollowWriter};
use wiresift_flow::{Direction, FlowHandler, FlowId, FlowInfo, Gap, GapCause, Nanos, Proto};

use crate::index::{Entry, F_FRAGMENT};
use crate::pipeline::{Needs, Pipeline, Times};
use crate::{Session, SessionError};

/// Which stream to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Udp,
    /// The decrypted TLS data of a TCP stream.
    Tls,
    /// HTTP: the decrypted data when the stream is TLS with keys, else the TCP data.
    Http,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "tcp" => Kind::Tcp,
            "udp" => Kind::Udp,
            "tls" => Kind::Tls,
            "http" => Kind::Http,
            _ => return None,
        })
    }
    fn udp(self) -> bool {
        self == Kind::Udp
    }
}

/// One chunk of stream data (or a gap marker) for the follow dialog.
#[derive(Clone, Debug, Serialize)]
pub struct Chunk {
    /// 0: client → server, 1: server → client.
    pub dir: u8,
    pub frame: u64,
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Bytes missing here (a gap in the capture), instead of data.
    pub missing: u64,
}

/// A followed stream.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Followed {
    pub client: String,
    pub server: String,
    pub chunks: Vec<Chunk>,
    /// Bytes each way.
    pub bytes: [u64; 2],
    /// More data than the cap: the rest is in the downloads.
    pub truncated: bool,
}

/// Collects one flow's data in a dialog's buffer or hands it to a writer.
struct Collector<'w> {
    proto: Proto,
    /// The flow to follow: the one with these endpoints, or (when the stream's first frame is
    /// a fragment without ports) the engine's number for it, found by a first pass.
    tuple: Option<[(IpAddr, u16); 2]>,
    engine_stream: Option<u64>,
    target: Option<u64>,
    info: Option<FlowInfo>,
    cap: usize,
    held: usize,
    out: Followed,
    sink: Option<&'w mut dyn FnMut(Event<'_>)>,
}

/// What a writer is told.
enum Event<'a> {
    Open(&'a FlowInfo),
    Data(Direction, &'a [u8], u64, Nanos),
    Gap(Direction, u64, u64),
}

impl FlowHandler for Collector<'_> {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        if id.proto != self.proto || self.target.is_some() {
            return;
        }
        let ends = [info.client, info.server];
        let wanted = match (self.tuple, self.engine_stream) {
            (Some(t), _) => ends == t || ends == [t[1], t[0]],
            (None, Some(s)) => id.stream == s,
            (None, None) => false,
        };
        if wanted {
            self.target = Some(id.stream);
            self.info = Some(info.clone());
            self.out.client = std::net::SocketAddr::from(info.client).to_string();
            self.out.server = std::net::SocketAddr::from(info.server).to_string();
            if let Some(s) = self.sink.as_mut() {
                s(Event::Open(info));
            }
        }
    }
    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], ts: Nanos, frame: u64) {
        if id.proto != self.proto || self.target != Some(id.stream) {
            return;
        }
        self.out.bytes[dir.index()] += data.len() as u64;
        if let Some(s) = self.sink.as_mut() {
            s(Event::Data(dir, data, frame, ts));
            return;
        }
        if self.held + data.len() > self.cap {
            self.out.truncated = true;
            return;
        }
        self.held += data.len();
        self.out.chunks.push(Chunk {
            dir: dir.index() as u8,
            frame,
            data: data.to_vec(),
            missing: 0,
        });
    }
    fn on_gap(&mut self, id: FlowId, dir: Direction, gap: &Gap) {
        if id.proto != self.proto || self.target != Some(id.stream) {
            return;
        }
        if gap.cause != GapCause::NotCaptured {
            return;
        }
        if let Some(s) = self.sink.as_mut() {
            s(Event::Gap(dir, gap.missing, gap.frame));
            return;
        }
        self.out.chunks.push(Chunk {
            dir: dir.index() as u8,
            frame: gap.frame,
            data: Vec::new(),
            missing: gap.missing,
        });
    }
}

fn tuple_of(data: &[u8], link: wiresift_capfile::LinkType) -> Option<[(IpAddr, u16); 2]> {
    let l = wiresift_dissect::decode(link, data);
    let (s, d): (IpAddr, IpAddr) = match l.net {
        Net::Ipv4(ip) => (ip.src.into(), ip.dst.into()),
        Net::Ipv6(ip) => (ip.src.into(), ip.dst.into()),
        _ => return None,
    };
    let (sp, dp) = match l.transport {
        Transport::Tcp(t) => (t.sport, t.dport),
        Transport::Udp { sport, dport, .. } => (sport, dport),
        _ => return None,
    };
    Some([(s, sp), (d, dp)])
}

impl Session {
    /// The frames of stream `stream` (`udp` or TCP) up to frame `upto`, plus every IP
    /// fragment frame when the stream has reassembled datagrams.
    pub(crate) fn stream_frames(&self, udp: bool, stream: u64, upto: u64) -> Vec<u64> {
        let ix = self.current();
        let Ok(d) = ix.data.read() else {
            return Vec::new();
        };
        let mine = |e: &Entry| e.stream_of() == Some((udp, stream));
        let with_fragments = d
            .iter()
            .any(|(n, e)| n <= upto && mine(e) && e.flags() & F_FRAGMENT != 0);
        d.iter()
            .take_while(|(n, _)| *n <= upto)
            .filter(|(_, e)| mine(e) || (with_fragments && e.flags() & F_FRAGMENT != 0))
            .map(|(n, _)| n)
            .collect()
    }

    /// The highest stream number of a kind (for the dialog's stream selector).
    pub fn max_stream(&self, udp: bool) -> Option<u64> {
        let ix = self.current();
        let d = ix.data.read().ok()?;
        d.iter()
            .filter_map(|(_, e)| e.stream_of())
            .filter(|(u, _)| *u == udp)
            .map(|(_, s)| s)
            .max()
    }

    fn follow_pass(
        &self,
        kind: Kind,
        stream: u64,
        cap: usize,
        sink: Option<&mut dyn FnMut(Event<'_>)>,
    ) -> Result<Followed, SessionError> {
        let frames = self.stream_frames(kind.udp(), stream, u64::MAX);
        let first = {
            let ix = self.current();
            let d = ix
                .data
                .read()
                .map_err(|_| SessionError::Invalid("index poisoned".into()))?;
            frames.iter().copied().find(|&n| {
                d.get(n)
                    .is_some_and(|e| e.stream_of() == Some((kind.udp(), stream)))
            })
        }
        .ok_or_else(|| {
            SessionError::Invalid(format!(
                "no {} stream {stream} in this capture",
                if kind.udp() { "UDP" } else { "TCP" }
            ))
        })?;
        let keys = self.keys_with_dsb()?;
        let decrypt = matches!(kind, Kind::Tls | Kind::Http) && keys.is_some();
        if kind == Kind::Tls && !decrypt {
            return Err(SessionError::Invalid(
                "no TLS keys for this capture: add a key log or an RSA key first".into(),
            ));
        }
        let ifaces = self
            .current()
            .data
            .read()
            .map(|d| d.interfaces.clone())
            .unwrap_or_default();
        let (_, link, data) = self.read_frame(first)?;
        let tuple = tuple_of(&data, link);
        // A stream whose first frame is a fragment without ports: a first pass tells which of
        // the engine's streams its frames fall in.
        let engine_stream = match tuple {
            Some(_) => None,
            None => {
                let mut pipe = Pipeline::new(
                    Needs {
                        flows: true,
                        ..Needs::default()
                    },
                    None,
                )
                .map_err(|e| SessionError::Invalid(e.to_string()))?;
                let mut times = Times::default();
                let mut found = None;
                let target = (kind.udp(), stream);
                self.for_frames(&frames, |frame: &Frame<'_>, e| {
                    let s = pipe.process(frame, &ifaces, &mut times, None, |_, p, _| {
                        p.flow.map(|f| f.stream())
                    });
                    if found.is_none() && e.stream_of() == Some(target) {
                        found = s;
                    }
                })?;
                Some(found.ok_or_else(|| {
                    SessionError::Invalid(format!("frame {first} belongs to no stream"))
                })?)
            }
        };
        let mut pipe = Pipeline::new(
            Needs {
                flows: true,
                ..Needs::default()
            },
            if decrypt { keys } else { None },
        )
        .map_err(|e| SessionError::Invalid(e.to_string()))?;
        if kind == Kind::Tls
            && let Some(t) = pipe.tls_mut()
        {
            t.forward_plaintext(false);
        }
        let mut c = Collector {
            proto: if kind.udp() { Proto::Udp } else { Proto::Tcp },
            tuple,
            engine_stream,
            target: None,
            info: None,
            cap,
            held: 0,
            out: Followed::default(),
            sink,
        };
        let mut times = Times::default();
        self.for_frames(&frames, |frame: &Frame<'_>, _| {
            // With a TLS layer, the collector behind it sees plaintext only.
            pipe.process(frame, &ifaces, &mut times, Some(&mut c), |_, _, _| ());
        })?;
        pipe.finish_with(&mut c);
        Ok(c.out)
    }

    /// The stream as chunks for the follow dialog, at most `cap` bytes of data.
    pub fn follow(&self, kind: Kind, stream: u64, cap: usize) -> Result<Followed, SessionError> {
        self.follow_pass(kind, stream, cap, None)
    }

    /// The text `wiresift follow --stream N --format F` prints (tshark's `-z follow`).
    pub fn follow_text(
        &self,
        kind: Kind,
        stream: u64,
        format: FollowFormat,
        out: &mut dyn Write,
    ) -> Result<(), SessionError> {
        let fproto = match kind {
            Kind::Tcp | Kind::Http => FollowProto::Tcp,
            Kind::Udp => FollowProto::Udp,
            Kind::Tls => FollowProto::Tls,
        };
        let mut w = FollowWriter::new(out, fproto, format, stream);
        let mut err = None;
        let mut sink = |ev: Event<'_>| {
            let r = match ev {
                Event::Open(info) => {
                    w.set_flow(info);
                    Ok(())
                }
                Event::Data(dir, data, frame, ts) => w.chunk(dir, data, frame, ts),
                Event::Gap(dir, missing, frame) => w.gap(dir, missing, frame),
            };
            if let Err(e) = r {
                err.get_or_insert(e);
            }
        };
        self.follow_pass(kind, stream, 0, Some(&mut sink))?;
        if let Some(e) = err {
            return Err(SessionError::io("writing the stream", e));
        }
        w.finish()
            .map_err(|e| SessionError::io("writing the stream", e))?;
        Ok(())
    }

    /// The stream's exact bytes: one direction (0 client→server, 1 server→client) or both in
    /// the order they were sent.
    pub fn follow_bytes(
        &self,
        kind: Kind,
        stream: u64,
        dir: Option<u8>,
        out: &mut dyn Write,
    ) -> Result<u64, SessionError> {
        let mut err = None;
        let mut n = 0u64;
        let mut sink = |ev: Event<'_>| {
            if let Event::Data(d, data, _, _) = ev
                && dir.is_none_or(|want| want as usize == d.index())
            {
                n += data.len() as u64;
                if let Err(e) = out.write_all(data) {
                    err.get_or_insert(e);
                }
            }
        };
        self.follow_pass(kind, stream, 0, Some(&mut sink))?;
        match err {
            Some(e) => Err(SessionError::io("writing the stream", e)),
            None => Ok(n),
        }
    }
}
