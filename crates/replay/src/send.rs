//! `wiresift send`: a netcat-like client (or one-shot server) over TCP, UDP or TLS.
//!
//! One thread reads the input (a file or standard input) in chunks into a small bounded
//! channel; the calling thread owns the connection and alternates between writing the next
//! chunk and reading what the peer sent (reads wait at most [`POLL`]). That works the same for
//! plain TCP, TLS (one rustls connection, no locking) and UDP. When the input ends, our side is
//! half-closed (TCP FIN / TLS close_notify) unless `keep_open`, and the peer's answer is printed
//! until it closes or has been idle for `idle_timeout`.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

use crate::fmt_secs;
use crate::net::{self, NetError, is_timeout};
use crate::tls::{self, Conn, TlsError, TlsOptions};

/// How long one read of the connection waits before the input is looked at again.
pub const POLL: Duration = Duration::from_millis(20);
/// Input chunk size over TCP/TLS.
const CHUNK: usize = 64 * 1024;
/// Largest UDP payload (IPv4).
pub const MAX_DATAGRAM: usize = 65_507;

/// What `send` does.
#[derive(Clone, Debug)]
pub struct SendOptions {
    pub mode: Mode,
    pub udp: bool,
    pub tls: Option<TlsOptions>,
    /// Turn every LF not preceded by CR into CRLF (ncat -C).
    pub crlf: bool,
    /// After the input ended: stop when the peer has sent nothing for this long.
    pub idle_timeout: Duration,
    /// Bound on connecting and on the TLS handshake.
    pub connect_timeout: Duration,
    /// Do not half-close our side when the input ends (for peers that close on FIN).
    pub keep_open: bool,
}

#[derive(Clone, Debug)]
pub enum Mode {
    /// Connect to HOST:PORT.
    Connect(String),
    /// Wait for the first client (TCP) or datagram (UDP) on this address/port, at most
    /// `accept_timeout` (None: forever).
    Listen {
        bind: Option<IpAddr>,
        port: u16,
        accept_timeout: Option<Duration>,
    },
}

/// Why the exchange ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    PeerClosed,
    Idle(Duration),
}

/// What happened, for the closing line on stderr.
#[derive(Clone, Debug)]
pub struct SendReport {
    pub peer: SocketAddr,
    pub sent: u64,
    pub received: u64,
    pub datagrams_sent: u64,
    pub datagrams_received: u64,
    pub end: End,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("reading the input: {0}")]
    Input(#[source] io::Error),
    #[error("writing the output: {0}")]
    Output(#[source] io::Error),
    #[error("{addr}: write timed out after {} (the peer stopped reading)", fmt_secs(*.after))]
    WriteTimeout { addr: SocketAddr, after: Duration },
    #[error("{addr}: the peer reset the connection")]
    Reset { addr: SocketAddr },
    #[error("TLS with {addr}: {reason}")]
    TlsData { addr: SocketAddr, reason: String },
    #[error("{0}")]
    Usage(&'static str),
}

/// Turns LF into CRLF, keeping state across chunk boundaries.
#[derive(Clone, Copy, Debug, Default)]
pub struct Crlf {
    prev_cr: bool,
}

impl Crlf {
    pub fn apply(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 1);
        for &b in data {
            if b == b'\n' && !self.prev_cr {
                out.push(b'\r');
            }
            out.push(b);
            self.prev_cr = b == b'\r';
        }
        out
    }
}

enum Msg {
    Data(Vec<u8>),
    Eof,
    Err(io::Error),
}

/// Reads the input on its own thread into a channel of at most 4 chunks (bounded memory).
/// The thread ends at end of input; if the exchange ends first it is left blocked in `read`
/// (standard input) and goes away with the process.
fn spawn_reader(mut input: Box<dyn Read + Send>, chunk: usize) -> Receiver<Msg> {
    let (tx, rx): (SyncSender<Msg>, Receiver<Msg>) = sync_channel(4);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; chunk];
        loop {
            match input.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send(Msg::Eof);
                    return;
                }
                Ok(n) => {
                    if tx.send(Msg::Data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Msg::Err(e));
                    return;
                }
            }
        }
    });
    rx
}

fn out_write(out: &mut dyn Write, data: &[u8]) -> Result<(), SendError> {
    out.write_all(data)
        .and_then(|()| out.flush())
        .map_err(SendError::Output)
}

/// Runs `send`: connects (or waits for a client), sends `input`, writes the peer's bytes to
/// `out`. `log` receives one-line notes for stderr (connected to, TLS parameters).
pub fn run(
    o: &SendOptions,
    input: Box<dyn Read + Send>,
    out: &mut dyn Write,
    log: &mut dyn FnMut(&str),
) -> Result<SendReport, SendError> {
    if o.udp {
        if o.tls.is_some() {
            return Err(SendError::Usage(
                "--tls works over TCP only (DTLS is not supported)",
            ));
        }
        return run_udp(o, input, out, log);
    }
    let (mut conn, peer) = match &o.mode {
        Mode::Connect(target) => {
            let addrs = net::resolve(target)?;
            let sock = net::connect_tcp(&addrs, o.connect_timeout)?;
            let peer = sock.peer_addr().unwrap_or(addrs[0]);
            log(&format!("connected to {peer}"));
            let conn = match &o.tls {
                Some(t) => {
                    let cfg = tls::client_config(t)?;
                    let name = tls::server_name(t, net::host_part(target))?;
                    let s = tls::handshake(sock, cfg, name, o.connect_timeout)?;
                    let c = Conn::Tls(Box::new(s));
                    if let Some(sum) = c.tls_summary() {
                        log(&format!("TLS: {sum}"));
                    }
                    c
                }
                None => Conn::Plain(sock),
            };
            (conn, peer)
        }
        Mode::Listen {
            bind,
            port,
            accept_timeout,
        } => {
            if o.tls.is_some() {
                return Err(SendError::Usage(
                    "--listen with --tls is not supported (it would need a certificate)",
                ));
            }
            let (l, addr) = net::listen_tcp(&net::listen_addrs(*bind, *port))?;
            log(&format!("listening on {addr}"));
            let (s, peer) = net::accept_one(&l, addr, *accept_timeout)?;
            log(&format!("client {peer}"));
            (Conn::Plain(s), peer)
        }
    };
    let rx = spawn_reader(input, CHUNK);
    stream_loop(o, &mut conn, peer, rx, out)
}

fn stream_loop(
    o: &SendOptions,
    conn: &mut Conn,
    peer: SocketAddr,
    rx: Receiver<Msg>,
    out: &mut dyn Write,
) -> Result<SendReport, SendError> {
    let write_timeout = o.idle_timeout.max(Duration::from_secs(5));
    let _ = conn.set_read_timeout(Some(POLL));
    let _ = conn.set_write_timeout(Some(write_timeout));
    let mut crlf = Crlf::default();
    let mut report = SendReport {
        peer,
        sent: 0,
        received: 0,
        datagrams_sent: 0,
        datagrams_received: 0,
        end: End::PeerClosed,
    };
    let mut input_done = false;
    let mut last_rx = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    let map_err = |e: io::Error, what: &'static str| -> SendError {
        if let Some(reason) = tls::io_error_reason(&e) {
            return SendError::TlsData { addr: peer, reason };
        }
        match e.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                SendError::Reset { addr: peer }
            }
            _ if what == "write" && is_timeout(&e) => SendError::WriteTimeout {
                addr: peer,
                after: write_timeout,
            },
            _ => SendError::Net(NetError::from_io(peer, what, e)),
        }
    };
    // Set when the peer half-closed: what is left of the input is still sent (the peer may
    // be waiting for it, as a server that reads a request after the client's FIN does), with
    // at most `idle_timeout` between chunks, and nothing more is read.
    let mut peer_done = false;
    loop {
        if !input_done {
            let msg = if peer_done {
                match rx.recv_timeout(o.idle_timeout) {
                    Ok(m) => Ok(m),
                    Err(RecvTimeoutError::Timeout) => {
                        report.end = End::PeerClosed;
                        return Ok(report);
                    }
                    Err(RecvTimeoutError::Disconnected) => Err(TryRecvError::Disconnected),
                }
            } else {
                rx.try_recv()
            };
            match msg {
                Ok(Msg::Data(d)) => {
                    let d = if o.crlf { crlf.apply(&d) } else { d };
                    match conn.write_all(&d).and_then(|()| conn.flush()) {
                        Ok(()) => report.sent += d.len() as u64,
                        // The peer is gone altogether.
                        Err(e)
                            if peer_done
                                && matches!(
                                    e.kind(),
                                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                                ) =>
                        {
                            report.end = End::PeerClosed;
                            return Ok(report);
                        }
                        Err(e) => return Err(map_err(e, "write")),
                    }
                }
                Ok(Msg::Eof) | Err(TryRecvError::Disconnected) => {
                    input_done = true;
                    last_rx = Instant::now();
                    if !o.keep_open || peer_done {
                        // A peer that already closed makes this fail; reading tells the rest.
                        let _ = conn.shutdown_write();
                    }
                    if peer_done {
                        report.end = End::PeerClosed;
                        return Ok(report);
                    }
                }
                Ok(Msg::Err(e)) => return Err(SendError::Input(e)),
                Err(TryRecvError::Empty) => {}
            }
        }
        if peer_done {
            continue;
        }
        match conn.read(&mut buf) {
            Ok(0) => {
                if input_done {
                    report.end = End::PeerClosed;
                    return Ok(report);
                }
                peer_done = true;
            }
            Ok(n) => {
                report.received += n as u64;
                last_rx = Instant::now();
                out_write(out, &buf[..n])?;
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(map_err(e, "read")),
        }
        if input_done && last_rx.elapsed() >= o.idle_timeout {
            report.end = End::Idle(o.idle_timeout);
            return Ok(report);
        }
    }
}

fn run_udp(
    o: &SendOptions,
    input: Box<dyn Read + Send>,
    out: &mut dyn Write,
    log: &mut dyn FnMut(&str),
) -> Result<SendReport, SendError> {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut first: Option<Vec<u8>> = None;
    let (sock, peer): (UdpSocket, SocketAddr) = match &o.mode {
        Mode::Connect(target) => {
            let addrs = net::resolve(target)?;
            let (s, a) = net::connect_udp(&addrs)?;
            log(&format!("sending UDP to {a}"));
            (s, a)
        }
        Mode::Listen {
            bind,
            port,
            accept_timeout,
        } => {
            let (s, addr) = net::listen_udp(&net::listen_addrs(*bind, *port))?;
            log(&format!("listening on {addr} (UDP)"));
            let start = Instant::now();
            let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
            let peer = loop {
                match s.recv_from(&mut buf) {
                    Ok((n, peer)) => {
                        first = Some(buf[..n].to_vec());
                        break peer;
                    }
                    Err(e) if is_timeout(&e) => {
                        if let Some(t) = accept_timeout
                            && start.elapsed() >= *t
                        {
                            return Err(NetError::AcceptTimeout { addr, after: *t }.into());
                        }
                    }
                    Err(e) => return Err(NetError::from_io(addr, "receive", e).into()),
                }
            };
            s.connect(peer)
                .map_err(|e| NetError::from_io(peer, "connect", e))?;
            log(&format!("client {peer}"));
            (s, peer)
        }
    };
    let mut report = SendReport {
        peer,
        sent: 0,
        received: 0,
        datagrams_sent: 0,
        datagrams_received: 0,
        end: End::Idle(o.idle_timeout),
    };
    if let Some(d) = first {
        report.received += d.len() as u64;
        report.datagrams_received += 1;
        out_write(out, &d)?;
    }
    // With --crlf a chunk can double in size: read half a datagram at a time then.
    let chunk = if o.crlf {
        MAX_DATAGRAM / 2
    } else {
        MAX_DATAGRAM
    };
    let rx = spawn_reader(input, chunk);
    let _ = sock.set_read_timeout(Some(POLL));
    let mut crlf = Crlf::default();
    let mut input_done = false;
    let mut last_rx = Instant::now();
    loop {
        if !input_done {
            // Wait briefly for input only if nothing is expected back yet.
            match rx.recv_timeout(Duration::from_millis(1)) {
                Ok(Msg::Data(d)) => {
                    let d = if o.crlf { crlf.apply(&d) } else { d };
                    sock.send(&d)
                        .map_err(|e| NetError::from_io(peer, "send", e))?;
                    report.sent += d.len() as u64;
                    report.datagrams_sent += 1;
                }
                Ok(Msg::Eof) | Err(RecvTimeoutError::Disconnected) => {
                    input_done = true;
                    last_rx = Instant::now();
                }
                Ok(Msg::Err(e)) => return Err(SendError::Input(e)),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        match sock.recv(&mut buf) {
            Ok(n) => {
                report.received += n as u64;
                report.datagrams_received += 1;
                last_rx = Instant::now();
                out_write(out, &buf[..n])?;
            }
            Err(e) if is_timeout(&e) => {}
            // ICMP port unreachable for an earlier datagram.
            Err(e) => return Err(NetError::from_io(peer, "receive", e).into()),
        }
        if input_done && last_rx.elapsed() >= o.idle_timeout {
            return Ok(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn crlf_across_chunks() {
        let mut c = Crlf::default();
        let mut out = c.apply(b"a\nb\r");
        out.extend(c.apply(b"\nc\n"));
        assert_eq!(out, b"a\r\nb\r\nc\r\n");
    }

    fn opts(target: String) -> SendOptions {
        SendOptions {
            mode: Mode::Connect(target),
            udp: false,
            tls: None,
            crlf: false,
            idle_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            keep_open: false,
        }
    }

    #[test]
    fn tcp_echo_round_trip() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let srv = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut v = Vec::new();
            s.read_to_end(&mut v).unwrap();
            s.write_all(&v).unwrap();
        });
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        let r = run(
            &opts(addr.to_string()),
            Box::new(io::Cursor::new(data.clone())),
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        srv.join().unwrap();
        assert_eq!(r.end, End::PeerClosed);
        assert_eq!(r.sent, data.len() as u64);
        assert_eq!(out, data);
    }

    #[test]
    fn udp_echo_round_trip() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = s.local_addr().unwrap();
        let srv = std::thread::spawn(move || {
            let mut b = [0u8; 2048];
            let (n, p) = s.recv_from(&mut b).unwrap();
            s.send_to(&b[..n], p).unwrap();
        });
        let mut o = opts(addr.to_string());
        o.udp = true;
        o.idle_timeout = Duration::from_millis(300);
        let mut out = Vec::new();
        let r = run(
            &o,
            Box::new(io::Cursor::new(b"ping".to_vec())),
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        srv.join().unwrap();
        assert_eq!(out, b"ping");
        assert_eq!(r.datagrams_received, 1);
    }
}
