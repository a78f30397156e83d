//! A recorded TCP conversation as turns: who spoke, what, and when.
//!
//! From a capture, the flow engine reassembles the chosen stream and a [`FlowHandler`] keeps
//! its data chunks in order; consecutive chunks of one direction make one turn. Memory is
//! bounded by `max_bytes` (both directions together): a bigger stream is an error, not a
//! silent cut.
//!
//! From `follow --split` files (`<stream>-<client>-<server>.c2s` / `.s2c`) there is no timing
//! and no turn boundary: the result is a [`Script::Untimed`] and the replayer finds the turns
//! live (see `stream_replay`).

use std::fs::File;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use wiresift_capfile::CaptureReader;
use wiresift_engine::{Engine, EngineOptions};
use wiresift_flow::{Direction, FlowHandler, FlowId, FlowInfo, FlowSummary, Gap, Nanos, Proto};

/// Default cap on the bytes kept of one conversation (both directions).
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Who sent a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// Consecutive bytes of one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub from: Side,
    pub data: Vec<u8>,
    /// Capture time of the turn's first and last chunk.
    pub first_ts: Nanos,
    pub last_ts: Nanos,
}

/// What the replayer plays.
#[derive(Clone, Debug)]
pub enum Script {
    /// Turns with timing, from a capture.
    Turns(Vec<Turn>),
    /// Both directions' bytes without boundaries, from split files.
    Untimed { c2s: Vec<u8>, s2c: Vec<u8> },
}

/// A recorded conversation.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub stream: Option<u64>,
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    pub script: Script,
    /// Bytes missing from the capture (gaps), per side: replay sends what was captured.
    pub gap_bytes: [u64; 2],
}

impl Conversation {
    /// Total recorded bytes of one side.
    pub fn bytes(&self, side: Side) -> u64 {
        match &self.script {
            Script::Turns(t) => t
                .iter()
                .filter(|t| t.from == side)
                .map(|t| t.data.len() as u64)
                .sum(),
            Script::Untimed { c2s, s2c } => match side {
                Side::Client => c2s.len() as u64,
                Side::Server => s2c.len() as u64,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: wiresift_capfile::ReadError,
    },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: no TCP stream {stream} (the capture has {streams} TCP streams)", path.display())]
    NoStream {
        path: PathBuf,
        stream: u64,
        streams: u64,
    },
    #[error("TCP stream {stream} holds more than {max} bytes; raise --max-bytes")]
    TooLarge { stream: u64, max: u64 },
    #[error("{}: cannot tell the split file pair: {why}", path.display())]
    SplitName { path: PathBuf, why: String },
}

/// Keeps the chunks of one TCP stream.
struct Recorder {
    stream: u64,
    max: u64,
    total: u64,
    info: Option<FlowInfo>,
    turns: Vec<Turn>,
    gaps: [u64; 2],
    too_large: bool,
    closed: bool,
    streams_seen: u64,
}

fn side(d: Direction) -> Side {
    match d {
        Direction::ClientToServer => Side::Client,
        Direction::ServerToClient => Side::Server,
    }
}

impl FlowHandler for Recorder {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        if id.proto == Proto::Tcp {
            self.streams_seen = self.streams_seen.max(id.stream + 1);
            if id.stream == self.stream {
                self.info = Some(info.clone());
            }
        }
    }
    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], ts: Nanos, _frame: u64) {
        if id.proto != Proto::Tcp || id.stream != self.stream || self.too_large || data.is_empty() {
            return;
        }
        self.total += data.len() as u64;
        if self.total > self.max {
            self.too_large = true;
            self.turns.clear();
            return;
        }
        let s = side(dir);
        match self.turns.last_mut() {
            Some(t) if t.from == s => {
                t.data.extend_from_slice(data);
                t.last_ts = ts;
            }
            _ => self.turns.push(Turn {
                from: s,
                data: data.to_vec(),
                first_ts: ts,
                last_ts: ts,
            }),
        }
    }
    fn on_gap(&mut self, id: FlowId, dir: Direction, gap: &Gap) {
        if id.proto == Proto::Tcp && id.stream == self.stream {
            self.gaps[dir.index()] += gap.missing;
        }
    }
    fn on_close(&mut self, id: FlowId, _summary: &FlowSummary) {
        if id.proto == Proto::Tcp && id.stream == self.stream {
            self.closed = true;
        }
    }
}

/// Reads TCP stream `stream` (Wireshark's `tcp.stream`) of a capture, stopping when the stream
/// closes.
pub fn from_capture(path: &Path, stream: u64, max_bytes: u64) -> Result<Conversation, TurnError> {
    let mut reader = CaptureReader::open(path).map_err(|source| TurnError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut engine = Engine::new(EngineOptions::default());
    let mut rec = Recorder {
        stream,
        max: max_bytes,
        total: 0,
        info: None,
        turns: Vec::new(),
        gaps: [0; 2],
        too_large: false,
        closed: false,
        streams_seen: 0,
    };
    loop {
        match reader.advance() {
            Ok(true) => {}
            Ok(false) => break,
            Err(source) => {
                return Err(TurnError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        let Some(frame) = reader.current() else { break };
        engine.process(&frame, &mut rec);
        if rec.too_large {
            return Err(TurnError::TooLarge {
                stream,
                max: max_bytes,
            });
        }
        if rec.closed {
            break;
        }
    }
    if !rec.closed {
        engine.finish(&mut rec);
    }
    if rec.too_large {
        return Err(TurnError::TooLarge {
            stream,
            max: max_bytes,
        });
    }
    let Some(info) = rec.info else {
        return Err(TurnError::NoStream {
            path: path.to_path_buf(),
            stream,
            streams: rec.streams_seen,
        });
    };
    Ok(Conversation {
        stream: Some(stream),
        client: Some(SocketAddr::new(info.client.0, info.client.1)),
        server: Some(SocketAddr::new(info.server.0, info.server.1)),
        script: Script::Turns(rec.turns),
        gap_bytes: rec.gaps,
    })
}

/// The `.c2s` and `.s2c` files of a pair, given either of them.
pub fn split_pair(path: &Path) -> Result<(PathBuf, PathBuf), TurnError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (c2s, s2c) = match ext {
        "c2s" => (path.to_path_buf(), path.with_extension("s2c")),
        "s2c" => (path.with_extension("c2s"), path.to_path_buf()),
        _ => {
            return Err(TurnError::SplitName {
                path: path.to_path_buf(),
                why: "expected a .c2s or .s2c file from `follow --split`".into(),
            });
        }
    };
    Ok((c2s, s2c))
}

fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, TurnError> {
    let f = File::open(path).map_err(|source| TurnError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut v = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut v)
        .map_err(|source| TurnError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(v)
}

/// `<stream>-<client ip.port>-<server ip.port>`: the stream number and addresses, when the
/// name has that shape.
fn parse_split_name(path: &Path) -> (Option<u64>, Option<SocketAddr>, Option<SocketAddr>) {
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
        return (None, None, None);
    };
    let mut it = stem.splitn(3, '-');
    let stream = it.next().and_then(|s| s.parse().ok());
    let addr = |s: Option<&str>| -> Option<SocketAddr> {
        let (ip, port) = s?.rsplit_once('.')?;
        Some(SocketAddr::new(ip.parse().ok()?, port.parse().ok()?))
    };
    let client = addr(it.next());
    let server = addr(it.next());
    (stream, client, server)
}

/// Reads a `follow --split` pair. A missing `.s2c` is an empty server side.
pub fn from_split(path: &Path, max_bytes: u64) -> Result<Conversation, TurnError> {
    let (c2s_p, s2c_p) = split_pair(path)?;
    let c2s = read_capped(&c2s_p, max_bytes)?;
    let s2c = if s2c_p.exists() {
        read_capped(&s2c_p, max_bytes)?
    } else {
        Vec::new()
    };
    if c2s.len() as u64 + s2c.len() as u64 > max_bytes {
        return Err(TurnError::TooLarge {
            stream: parse_split_name(path).0.unwrap_or(0),
            max: max_bytes,
        });
    }
    let (stream, client, server) = parse_split_name(&c2s_p);
    Ok(Conversation {
        stream,
        client,
        server,
        script: Script::Untimed { c2s, s2c },
        gap_bytes: [0; 2],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names() {
        let p = Path::new("/x/3-10.0.0.1.40000-10.0.0.2.25.c2s");
        let (s, c, v) = parse_split_name(p);
        assert_eq!(s, Some(3));
        assert_eq!(c, Some("10.0.0.1:40000".parse().unwrap()));
        assert_eq!(v, Some("10.0.0.2:25".parse().unwrap()));
        let p6 = Path::new("0-::1.5000-::1.80.s2c");
        let (_, c, _) = parse_split_name(p6);
        assert_eq!(c, Some("[::1]:5000".parse().unwrap()));
        let (a, b) = split_pair(p).unwrap();
        assert!(a.to_string_lossy().ends_with(".c2s") && b.to_string_lossy().ends_with(".s2c"));
        assert!(split_pair(Path::new("x.pcap")).is_err());
    }

    #[test]
    fn recorder_merges_and_caps() {
        let mut r = Recorder {
            stream: 0,
            max: 10,
            total: 0,
            info: None,
            turns: Vec::new(),
            gaps: [0; 2],
            too_large: false,
            closed: false,
            streams_seen: 0,
        };
        let id = FlowId {
            proto: Proto::Tcp,
            stream: 0,
        };
        r.on_data(id, Direction::ServerToClient, b"220 ", 1, 1);
        r.on_data(id, Direction::ServerToClient, b"hi\n", 2, 2);
        r.on_data(id, Direction::ClientToServer, b"Q\n", 3, 3);
        assert_eq!(r.turns.len(), 2);
        assert_eq!(r.turns[0].data, b"220 hi\n");
        assert_eq!((r.turns[0].first_ts, r.turns[0].last_ts), (1, 2));
        r.on_data(id, Direction::ClientToServer, b"more", 4, 4);
        assert!(r.too_large);
    }
}
