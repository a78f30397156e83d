//! Addresses, connecting and listening with timeouts, and errors that say what went wrong on
//! the network (refused, unreachable, timed out) rather than an errno.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::fmt_secs;

/// Why talking to the peer failed. Each message names the address and who is at fault.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(
        "bad address {target:?}: {why} (expected HOST:PORT, e.g. example.com:25 or [::1]:8080)"
    )]
    BadTarget { target: String, why: &'static str },
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("{host} has no address")]
    NoAddress { host: String },
    #[error(
        "{addr}: connection refused (nothing listening on that port, or a firewall rejected it)"
    )]
    Refused { addr: SocketAddr },
    #[error("{addr}: {what} unreachable")]
    Unreachable {
        addr: SocketAddr,
        what: &'static str,
    },
    #[error("{addr}: connect timed out after {}", fmt_secs(*.after))]
    ConnectTimeout { addr: SocketAddr, after: Duration },
    #[error("{addr}: {what}: {source}")]
    Io {
        addr: SocketAddr,
        what: &'static str,
        source: io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("no client connected to {addr} within {}", fmt_secs(*.after))]
    AcceptTimeout { addr: SocketAddr, after: Duration },
}

impl NetError {
    /// Maps an I/O error of an established conversation (or of connecting) to a clear message.
    pub fn from_io(addr: SocketAddr, what: &'static str, e: io::Error) -> NetError {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => NetError::Refused { addr },
            io::ErrorKind::HostUnreachable => NetError::Unreachable { addr, what: "host" },
            io::ErrorKind::NetworkUnreachable => NetError::Unreachable {
                addr,
                what: "network",
            },
            _ => NetError::Io {
                addr,
                what,
                source: e,
            },
        }
    }
}

/// Splits `HOST:PORT` (`[v6]:PORT` for IPv6 literals) and resolves it.
pub fn resolve(target: &str) -> Result<Vec<SocketAddr>, NetError> {
    let bad = |why| NetError::BadTarget {
        target: target.to_string(),
        why,
    };
    if let Ok(a) = target.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    let (host, port) = target.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    if host.contains(':') && !host.starts_with('[') {
        return Err(bad("IPv6 addresses go in brackets"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| bad("the port is not a number 0-65535"))?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| NetError::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(NetError::NoAddress {
            host: host.to_string(),
        });
    }
    Ok(addrs)
}

/// The host part of `HOST:PORT` (for the TLS server name).
pub fn host_part(target: &str) -> &str {
    let host = match target.rsplit_once(':') {
        Some((h, _)) => h,
        None => target,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Connects to the first address that answers, each attempt bounded by `timeout`; the error is
/// the last attempt's.
pub fn connect_tcp(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, NetError> {
    let mut last = None;
    for &addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                last = Some(NetError::ConnectTimeout {
                    addr,
                    after: timeout,
                })
            }
            Err(e) => last = Some(NetError::from_io(addr, "connect", e)),
        }
    }
    Err(last.unwrap_or(NetError::BadTarget {
        target: String::new(),
        why: "no address",
    }))
}

/// A UDP socket connected to the first address (of a family we can open).
pub fn connect_udp(addrs: &[SocketAddr]) -> Result<(UdpSocket, SocketAddr), NetError> {
    let mut last = None;
    for &addr in addrs {
        let local: SocketAddr = if addr.is_ipv6() {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            ([0, 0, 0, 0], 0).into()
        };
        let r = UdpSocket::bind(local).and_then(|s| s.connect(addr).map(|()| s));
        match r {
            Ok(s) => return Ok((s, addr)),
            Err(e) => last = Some(NetError::from_io(addr, "connect", e)),
        }
    }
    Err(last.unwrap_or(NetError::BadTarget {
        target: String::new(),
        why: "no address",
    }))
}

/// Where `--listen` binds: the given address, or `[::]` (dual stack) falling back to `0.0.0.0`.
pub fn listen_addrs(bind: Option<IpAddr>, port: u16) -> Vec<SocketAddr> {
    match bind {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => vec![
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port),
            SocketAddr::new([0, 0, 0, 0].into(), port),
        ],
    }
}

fn socket_for(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // Dual stack: IPv4 clients too.
        let _ = s.set_only_v6(false);
    }
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

/// A TCP listener on the first address that can be bound.
pub fn listen_tcp(addrs: &[SocketAddr]) -> Result<(TcpListener, SocketAddr), NetError> {
    let mut last = None;
    for &addr in addrs {
        let r = socket_for(addr, Type::STREAM, Protocol::TCP).and_then(|s| {
            s.listen(16)?;
            Ok(TcpListener::from(s))
        });
        match r {
            Ok(l) => {
                let a = l.local_addr().unwrap_or(addr);
                return Ok((l, a));
            }
            Err(source) => last = Some(NetError::Listen { addr, source }),
        }
    }
    Err(last.expect("at least one listen address"))
}

/// A bound UDP socket on the first address that can be bound.
pub fn listen_udp(addrs: &[SocketAddr]) -> Result<(UdpSocket, SocketAddr), NetError> {
    let mut last = None;
    for &addr in addrs {
        match socket_for(addr, Type::DGRAM, Protocol::UDP) {
            Ok(s) => {
                let u = UdpSocket::from(s);
                let a = u.local_addr().unwrap_or(addr);
                return Ok((u, a));
            }
            Err(source) => last = Some(NetError::Listen { addr, source }),
        }
    }
    Err(last.expect("at least one listen address"))
}

/// Waits (bounded) for the first client.
pub fn accept_one(
    l: &TcpListener,
    addr: SocketAddr,
    timeout: Option<Duration>,
) -> Result<(TcpStream, SocketAddr), NetError> {
    l.set_nonblocking(true)
        .map_err(|e| NetError::from_io(addr, "listen", e))?;
    let start = Instant::now();
    loop {
        match l.accept() {
            Ok((s, peer)) => {
                s.set_nonblocking(false)
                    .map_err(|e| NetError::from_io(peer, "accept", e))?;
                let _ = s.set_nodelay(true);
                return Ok((s, peer));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Some(t) = timeout
                    && start.elapsed() >= t
                {
                    return Err(NetError::AcceptTimeout { addr, after: t });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(NetError::from_io(addr, "accept", e)),
        }
    }
}

/// True for the errors a read with a timeout returns when nothing arrived.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            resolve("127.0.0.1:25").unwrap(),
            vec!["127.0.0.1:25".parse().unwrap()]
        );
        assert_eq!(
            resolve("[::1]:8080").unwrap(),
            vec!["[::1]:8080".parse().unwrap()]
        );
        assert!(matches!(resolve("::1:80"), Err(NetError::BadTarget { .. })));
        assert!(matches!(resolve("host"), Err(NetError::BadTarget { .. })));
        assert!(matches!(
            resolve("host:http"),
            Err(NetError::BadTarget { .. })
        ));
        assert_eq!(host_part("[::1]:443"), "::1");
        assert_eq!(host_part("example.com:443"), "example.com");
    }

    #[test]
    fn refused_is_named() {
        // Bind and drop to find a port nobody listens on.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let e = connect_tcp(&[addr], Duration::from_secs(2)).unwrap_err();
        assert!(matches!(e, NetError::Refused { .. }), "{e}");
        assert!(e.to_string().contains("connection refused"));
    }
}
