//! `wiresift replay-stream`: one side of a recorded conversation played to a live peer over a
//! new connection, turn by turn.
//!
//! With turns from a capture ([`Script::Turns`]): each of our turns is sent whole; each of the
//! peer's turns is awaited until the peer has sent as many bytes as were recorded, or has been
//! idle for `turn_timeout`, or closed. Bytes beyond a turn's recorded length are kept for the
//! next turn. `Timing::Original` waits, before each of our turns, as long as the recording
//! waited after the previous turn (at most `max_think`); `Timing::Fast` does not wait.
//!
//! Without turn boundaries ([`Script::Untimed`], from `follow --split` files) our bytes are
//! sent line by line (a binary side, one holding NUL bytes or no line feed, is sent whole):
//! after each line we wait up to `line_wait` for the peer to answer, and read its answer until
//! it has been quiet for `line_wait`. After three lines in a row that got no answer (a message
//! body, request headers) lines are sent back to back, still picking up any answer as it
//! arrives, until the peer answers again. At the end we await the rest of the recorded peer
//! side as for a turn. This serves line protocols (SMTP, POP, IMAP, HTTP/1 without pipelining
//! of bodies); each unanswered line costs `line_wait` at most three times in a row.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::compare::{LineDiff, first_diff};
use crate::fmt_secs;
use crate::net::{self, NetError, is_timeout};
use crate::tls::{self, Conn, TlsError, TlsOptions};
use crate::turns::{Conversation, Script, Side, Turn};

/// Pacing of our turns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    Original,
    Fast,
}

/// Which side we play.
#[derive(Clone, Debug)]
pub enum Role {
    /// Connect to HOST:PORT and play the client's side.
    Client {
        target: String,
        tls: Option<TlsOptions>,
    },
    /// Wait for one client and play the server's side.
    Server {
        bind: Option<IpAddr>,
        port: u16,
        accept_timeout: Option<Duration>,
    },
}

#[derive(Clone, Debug)]
pub struct StreamReplayOptions {
    pub role: Role,
    pub timing: Timing,
    pub turn_timeout: Duration,
    pub connect_timeout: Duration,
    /// Untimed scripts: how long to wait for an answer to one line.
    pub line_wait: Duration,
    /// Longest pause `Timing::Original` makes.
    pub max_think: Duration,
}

/// How an awaited turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnEnd {
    /// As many bytes as recorded arrived (or, for what we sent, it was sent).
    Complete,
    /// The peer was quiet for the turn timeout.
    Idle,
    /// The peer closed the connection.
    PeerClosed,
}

/// One line of the per-turn report.
#[derive(Clone, Debug)]
pub struct TurnReport {
    /// 1-based.
    pub index: usize,
    pub from: Side,
    /// True for a turn we sent, false for one we awaited.
    pub played: bool,
    pub recorded: usize,
    /// Bytes sent (played) or received (awaited).
    pub bytes: usize,
    pub diff: Option<LineDiff>,
    pub end: TurnEnd,
}

/// The whole replay.
#[derive(Clone, Debug, Default)]
pub struct ReplaySummary {
    pub peer: Option<SocketAddr>,
    pub turns: usize,
    pub sent: u64,
    /// Bytes the peer sent in the recording, and now.
    pub expected: u64,
    pub received: u64,
    pub differing_turns: usize,
    /// The peer closed before all of our turns were sent.
    pub cut_short: bool,
    /// Awaited turns that ended on the idle timeout.
    pub idle_turns: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{addr}: the peer reset the connection during turn {turn}")]
    Reset { addr: SocketAddr, turn: usize },
    #[error("TLS with {addr}: {reason}")]
    TlsData { addr: SocketAddr, reason: String },
    #[error("writing the received bytes: {0}")]
    Sink(#[source] io::Error),
    #[error("{0}")]
    Usage(&'static str),
}

struct Session<'a> {
    conn: Conn,
    peer: SocketAddr,
    sink: Option<&'a mut dyn Write>,
    summary: ReplaySummary,
    /// Bytes read past the end of an awaited turn, kept for the next one.
    carry: Vec<u8>,
    closed: bool,
    turn: usize,
}

impl Session<'_> {
    fn io_err(&self, e: io::Error, what: &'static str) -> ReplayError {
        if let Some(reason) = tls::io_error_reason(&e) {
            return ReplayError::TlsData {
                addr: self.peer,
                reason,
            };
        }
        match e.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                ReplayError::Reset {
                    addr: self.peer,
                    turn: self.turn,
                }
            }
            _ => ReplayError::Net(NetError::from_io(self.peer, what, e)),
        }
    }

    fn send(&mut self, data: &[u8]) -> Result<bool, ReplayError> {
        match self.conn.write_all(data).and_then(|()| self.conn.flush()) {
            Ok(()) => {
                self.summary.sent += data.len() as u64;
                Ok(true)
            }
            // The peer went away: the report says so; not an error of ours.
            Err(e) if matches!(e.kind(), io::ErrorKind::BrokenPipe) => {
                self.closed = true;
                Ok(false)
            }
            Err(e) => Err(self.io_err(e, "send")),
        }
    }

    fn got(&mut self, data: &[u8]) -> Result<(), ReplayError> {
        self.summary.received += data.len() as u64;
        if let Some(s) = self.sink.as_mut() {
            s.write_all(data).map_err(ReplayError::Sink)?;
        }
        Ok(())
    }

    /// Reads up to `want` bytes, until quiet for `quiet`, or the peer closes.
    fn await_bytes(
        &mut self,
        want: usize,
        quiet: Duration,
    ) -> Result<(Vec<u8>, TurnEnd), ReplayError> {
        let mut got = Vec::with_capacity(want.min(1 << 20));
        let take = self.carry.len().min(want);
        got.extend(self.carry.drain(..take));
        if got.len() >= want {
            return Ok((got, TurnEnd::Complete));
        }
        if self.closed {
            return Ok((got, TurnEnd::PeerClosed));
        }
        let _ = self.conn.set_read_timeout(Some(quiet));
        let mut buf = vec![0u8; 64 * 1024];
        let mut last = Instant::now();
        loop {
            let room = (want - got.len()).min(buf.len());
            match self.conn.read(&mut buf[..room]) {
                Ok(0) => {
                    self.closed = true;
                    return Ok((got, TurnEnd::PeerClosed));
                }
                Ok(n) => {
                    self.got(&buf[..n])?;
                    got.extend_from_slice(&buf[..n]);
                    if got.len() >= want {
                        return Ok((got, TurnEnd::Complete));
                    }
                    last = Instant::now();
                }
                Err(e) if is_timeout(&e) => {
                    if last.elapsed() >= quiet {
                        return Ok((got, TurnEnd::Idle));
                    }
                }
                Err(e) => return Err(self.io_err(e, "receive")),
            }
        }
    }
}

fn connect(
    o: &StreamReplayOptions,
    log: &mut dyn FnMut(&str),
) -> Result<(Conn, SocketAddr), ReplayError> {
    match &o.role {
        Role::Client { target, tls } => {
            let addrs = net::resolve(target)?;
            let sock = net::connect_tcp(&addrs, o.connect_timeout)?;
            let peer = sock.peer_addr().unwrap_or(addrs[0]);
            log(&format!("connected to {peer}"));
            let conn = match tls {
                Some(t) => {
                    let cfg = tls::client_config(t)?;
                    let name = tls::server_name(t, net::host_part(target))?;
                    let c = Conn::Tls(Box::new(tls::handshake(
                        sock,
                        cfg,
                        name,
                        o.connect_timeout,
                    )?));
                    if let Some(s) = c.tls_summary() {
                        log(&format!("TLS: {s}"));
                    }
                    c
                }
                None => Conn::Plain(sock),
            };
            Ok((conn, peer))
        }
        Role::Server {
            bind,
            port,
            accept_timeout,
        } => {
            let (l, addr) = net::listen_tcp(&net::listen_addrs(*bind, *port))?;
            log(&format!("listening on {addr}"));
            let (s, peer) = net::accept_one(&l, addr, *accept_timeout)?;
            log(&format!("client {peer}"));
            Ok((Conn::Plain(s), peer))
        }
    }
}

/// Plays our side of `conv`. `sink` gets every byte the peer sent; `report` one call per turn.
pub fn run(
    conv: &Conversation,
    o: &StreamReplayOptions,
    sink: Option<&mut dyn Write>,
    log: &mut dyn FnMut(&str),
    report: &mut dyn FnMut(&TurnReport),
) -> Result<ReplaySummary, ReplayError> {
    let we = match o.role {
        Role::Client { .. } => Side::Client,
        Role::Server { .. } => Side::Server,
    };
    let (conn, peer) = connect(o, log)?;
    let _ = conn.set_write_timeout(Some(o.turn_timeout.max(Duration::from_secs(5))));
    let mut s = Session {
        conn,
        peer,
        sink,
        summary: ReplaySummary {
            peer: Some(peer),
            expected: conv.bytes(we.other()),
            ..ReplaySummary::default()
        },
        carry: Vec::new(),
        closed: false,
        turn: 0,
    };
    match &conv.script {
        Script::Turns(turns) => play_turns(&mut s, turns, we, o, report)?,
        Script::Untimed { c2s, s2c } => {
            let (ours, theirs) = match we {
                Side::Client => (c2s, s2c),
                Side::Server => (s2c, c2s),
            };
            play_untimed(&mut s, ours, theirs, we, o, report)?
        }
    }
    // Our side is done: say so, as the recorded peer saw it.
    if !s.closed {
        let _ = s.conn.shutdown_write();
    }
    Ok(s.summary)
}

fn play_turns(
    s: &mut Session<'_>,
    turns: &[Turn],
    we: Side,
    o: &StreamReplayOptions,
    report: &mut dyn FnMut(&TurnReport),
) -> Result<(), ReplayError> {
    let mut prev_end: Option<i64> = None;
    for (i, t) in turns.iter().enumerate() {
        s.turn = i + 1;
        s.summary.turns = i + 1;
        if t.from == we {
            if s.closed {
                s.summary.cut_short = true;
                break;
            }
            if o.timing == Timing::Original
                && let Some(p) = prev_end
            {
                let gap = Duration::from_nanos(t.first_ts.saturating_sub(p).max(0) as u64);
                std::thread::sleep(gap.min(o.max_think));
            }
            let ok = s.send(&t.data)?;
            report(&TurnReport {
                index: i + 1,
                from: we,
                played: true,
                recorded: t.data.len(),
                bytes: if ok { t.data.len() } else { 0 },
                diff: None,
                end: if ok {
                    TurnEnd::Complete
                } else {
                    TurnEnd::PeerClosed
                },
            });
            if !ok {
                s.summary.cut_short = true;
                break;
            }
        } else {
            let (got, end) = s.await_bytes(t.data.len(), o.turn_timeout)?;
            let diff = first_diff(&t.data, &got);
            if diff.is_some() {
                s.summary.differing_turns += 1;
            }
            if end == TurnEnd::Idle {
                s.summary.idle_turns += 1;
            }
            report(&TurnReport {
                index: i + 1,
                from: t.from,
                played: false,
                recorded: t.data.len(),
                bytes: got.len(),
                diff,
                end,
            });
        }
        prev_end = Some(t.last_ts);
    }
    Ok(())
}

/// Our bytes as lines (each with its line feed), or whole when they look binary.
fn lines(data: &[u8]) -> Vec<&[u8]> {
    let head = &data[..data.len().min(4096)];
    if data.is_empty() || head.contains(&0) || !head.contains(&b'\n') {
        return if data.is_empty() {
            Vec::new()
        } else {
            vec![data]
        };
    }
    data.split_inclusive(|&b| b == b'\n').collect()
}

/// Untimed replay (see the module documentation).
fn play_untimed(
    s: &mut Session<'_>,
    ours: &[u8],
    theirs: &[u8],
    we: Side,
    o: &StreamReplayOptions,
    report: &mut dyn FnMut(&TurnReport),
) -> Result<(), ReplayError> {
    const STRIKES: u32 = 3;
    const MAX_ANSWER: usize = 16 * 1024 * 1024;
    let mut cursor = 0usize; // position in `theirs` of the next byte we expect
    let mut index = 0usize;
    let mut pending_sent = 0usize;
    let mut unanswered = 0u32;
    // Reads an answer (if any) and reports it against the recording at `cursor`.
    let mut answer = |s: &mut Session<'_>,
                      wait: Duration,
                      cursor: &mut usize,
                      index: &mut usize,
                      pending_sent: &mut usize|
     -> Result<bool, ReplayError> {
        // Up to the end of the recording (so answers stay aligned with it); past its end, in
        // 64 KiB pieces.
        let remaining = theirs.len().saturating_sub(*cursor);
        let want = if remaining == 0 {
            64 * 1024
        } else {
            remaining.min(MAX_ANSWER)
        };
        // First byte within `wait`, then until quiet for `wait`.
        let (got, end) = s.await_bytes(want, wait)?;
        if got.is_empty() {
            return Ok(false);
        }
        if *pending_sent > 0 {
            *index += 1;
            report(&TurnReport {
                index: *index,
                from: we,
                played: true,
                recorded: *pending_sent,
                bytes: *pending_sent,
                diff: None,
                end: TurnEnd::Complete,
            });
            *pending_sent = 0;
        }
        let rec_end = (*cursor + got.len()).min(theirs.len());
        let recorded = theirs.get(*cursor..rec_end).unwrap_or_default();
        let diff = first_diff(recorded, &got);
        if diff.is_some() {
            s.summary.differing_turns += 1;
        }
        *index += 1;
        report(&TurnReport {
            index: *index,
            from: we.other(),
            played: false,
            recorded: recorded.len(),
            bytes: got.len(),
            diff,
            end,
        });
        *cursor += got.len();
        Ok(true)
    };
    // A greeting, if the peer speaks first.
    answer(s, o.line_wait, &mut cursor, &mut index, &mut pending_sent)?;
    for line in lines(ours) {
        if s.closed {
            s.summary.cut_short = true;
            break;
        }
        if !s.send(line)? {
            s.summary.cut_short = true;
            break;
        }
        pending_sent += line.len();
        let wait = if unanswered < STRIKES {
            o.line_wait
        } else {
            Duration::from_millis(1)
        };
        if answer(s, wait, &mut cursor, &mut index, &mut pending_sent)? {
            unanswered = 0;
        } else {
            unanswered += 1;
        }
    }
    // The rest of the recorded answer.
    while cursor < theirs.len() && !s.closed {
        if !answer(
            s,
            o.turn_timeout,
            &mut cursor,
            &mut index,
            &mut pending_sent,
        )? {
            s.summary.idle_turns += 1;
            break;
        }
    }
    if pending_sent > 0 {
        index += 1;
        report(&TurnReport {
            index,
            from: we,
            played: true,
            recorded: pending_sent,
            bytes: pending_sent,
            diff: None,
            end: TurnEnd::Complete,
        });
    }
    s.summary.turns = index;
    Ok(())
}

/// One report line: `turn 3  server  recorded 98 B  received 98 B  same`.
pub fn format_report(r: &TurnReport) -> String {
    let mut s = if r.played {
        format!(
            "turn {:<3} {:<6}  sent {} B",
            r.index,
            r.from.as_str(),
            r.bytes
        )
    } else {
        format!(
            "turn {:<3} {:<6}  recorded {} B  received {} B  {}",
            r.index,
            r.from.as_str(),
            r.recorded,
            r.bytes,
            match (&r.diff, r.end) {
                (None, _) => "same".to_string(),
                (Some(d), _) => format!("differs at line {}", d.line),
            }
        )
    };
    match r.end {
        TurnEnd::Complete => {}
        TurnEnd::Idle => s.push_str("  (peer idle)"),
        TurnEnd::PeerClosed => s.push_str("  (peer closed)"),
    }
    if let Some(d) = &r.diff {
        s.push_str(&format!(
            "\n    recorded: {}\n    received: {}",
            d.recorded, d.received
        ));
    }
    s
}

/// The closing line.
pub fn format_summary(sum: &ReplaySummary, timeout: Duration) -> String {
    let mut s = format!(
        "{} turns, {} B sent, {} B received of {} B recorded, {} turn(s) differ",
        sum.turns, sum.sent, sum.received, sum.expected, sum.differing_turns
    );
    if sum.idle_turns > 0 {
        s.push_str(&format!(
            ", {} turn(s) ended idle after {}",
            sum.idle_turns,
            fmt_secs(timeout)
        ));
    }
    if sum.cut_short {
        s.push_str(", the peer closed before the end");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::turns::Conversation;
    use std::io::BufRead;
    use std::net::TcpListener;

    fn turn(from: Side, d: &[u8], ts: i64) -> Turn {
        Turn {
            from,
            data: d.to_vec(),
            first_ts: ts,
            last_ts: ts,
        }
    }

    /// A tiny line server: greets, answers each line with `ok <line>`, closes on QUIT.
    fn line_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            w.write_all(b"220 hi\r\n").unwrap();
            for line in io::BufReader::new(s).lines() {
                let line = line.unwrap();
                w.write_all(format!("ok {line}\n").as_bytes()).unwrap();
                if line.trim() == "QUIT" {
                    break;
                }
            }
        });
        a
    }

    fn opts(a: SocketAddr) -> StreamReplayOptions {
        StreamReplayOptions {
            role: Role::Client {
                target: a.to_string(),
                tls: None,
            },
            timing: Timing::Fast,
            turn_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            line_wait: Duration::from_millis(200),
            max_think: Duration::from_secs(1),
        }
    }

    #[test]
    fn turns_against_a_line_server() {
        let a = line_server();
        let conv = Conversation {
            stream: Some(0),
            client: None,
            server: None,
            script: Script::Turns(vec![
                turn(Side::Server, b"220 hi\r\n", 0),
                turn(Side::Client, b"HELO x\n", 1),
                turn(Side::Server, b"ok HELO x\n", 2),
                turn(Side::Client, b"QUIT\n", 3),
                turn(Side::Server, b"bye QUIT\n", 4),
            ]),
            gap_bytes: [0; 2],
        };
        let mut reports = Vec::new();
        let mut got = Vec::new();
        let sum = run(&conv, &opts(a), Some(&mut got), &mut |_| {}, &mut |r| {
            reports.push(r.clone())
        })
        .unwrap();
        assert_eq!(reports.len(), 5);
        assert!(reports[0].diff.is_none() && reports[2].diff.is_none());
        let d = reports[4].diff.as_ref().unwrap();
        assert_eq!(
            (d.recorded.as_str(), d.received.as_str()),
            ("bye QUIT", "ok QUIT")
        );
        assert_eq!(sum.differing_turns, 1);
        assert_eq!(got, b"220 hi\r\nok HELO x\nok QUIT\n");
    }

    #[test]
    fn untimed_lines() {
        let a = line_server();
        let conv = Conversation {
            stream: None,
            client: None,
            server: None,
            script: Script::Untimed {
                c2s: b"A\nB\nQUIT\n".to_vec(),
                s2c: b"220 hi\r\nok A\nok B\nok QUIT\n".to_vec(),
            },
            gap_bytes: [0; 2],
        };
        let mut got = Vec::new();
        let sum = run(&conv, &opts(a), Some(&mut got), &mut |_| {}, &mut |_| {}).unwrap();
        assert_eq!(got, b"220 hi\r\nok A\nok B\nok QUIT\n");
        assert_eq!(sum.differing_turns, 0);
        assert_eq!(sum.sent, 9);
    }
}
