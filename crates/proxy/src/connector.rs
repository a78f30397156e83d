//! Connections toward upstream servers for hyper-util's pooled client: TCP (directly or through
//! an upstream proxy's CONNECT), then TLS with verification (or not, `--insecure`), ALPN, and
//! the key log.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::flow::BoxError;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// What the response of a request carries about the connection it used.
#[derive(Clone, Debug)]
pub struct UpInfo {
    pub peer: SocketAddr,
    pub h2: bool,
}

/// A plain or TLS stream toward the upstream.
pub enum MaybeTls {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, b),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, b),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(s) => s.is_write_vectored(),
            MaybeTls::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// The connection handed to hyper-util's pool.
pub struct UpConn {
    io: TokioIo<MaybeTls>,
    info: UpInfo,
    proxied: bool,
}

impl Connection for UpConn {
    fn connected(&self) -> Connected {
        let mut c = Connected::new().extra(self.info.clone());
        if self.info.h2 {
            c = c.negotiated_h2();
        }
        if self.proxied {
            c = c.proxy(true);
        }
        c
    }
}

impl hyper::rt::Read for UpConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for UpConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, b)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// An upstream proxy (`--mode upstream:URL`).
#[derive(Clone, Debug)]
pub struct UpstreamProxy {
    pub host: String,
    pub port: u16,
}

#[derive(Clone)]
pub struct Connector {
    pub tls: TlsConnector,
    pub via: Option<UpstreamProxy>,
}

/// `host` without IPv6 brackets.
pub fn bare_host(h: &str) -> &str {
    h.trim_start_matches('[').trim_end_matches(']')
}

/// Connects TCP to `host:port`, directly or through the upstream proxy's CONNECT.
pub async fn tcp_to(via: Option<&UpstreamProxy>, host: &str, port: u16) -> io::Result<TcpStream> {
    let fut = async {
        match via {
            None => TcpStream::connect((bare_host(host), port)).await,
            Some(p) => {
                let mut s = TcpStream::connect((bare_host(&p.host), p.port)).await?;
                let target = if bare_host(host).contains(':') {
                    format!("[{}]:{port}", bare_host(host))
                } else {
                    format!("{host}:{port}")
                };
                let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
                s.write_all(req.as_bytes()).await?;
                // Read the response head byte by byte-ish (bounded); no body follows a 2xx.
                let mut head = Vec::with_capacity(256);
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if head.len() > 16 * 1024 {
                        return Err(io::Error::other(
                            "upstream proxy sent an oversized CONNECT response",
                        ));
                    }
                    if s.read(&mut b).await? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "upstream proxy closed during CONNECT",
                        ));
                    }
                    head.push(b[0]);
                }
                let line = String::from_utf8_lossy(&head);
                let status = line.split_whitespace().nth(1).unwrap_or("");
                if !status.starts_with('2') {
                    return Err(io::Error::other(format!(
                        "upstream proxy refused CONNECT {target}: {}",
                        line.lines().next().unwrap_or("").trim()
                    )));
                }
                Ok(s)
            }
        }
    };
    let s = tokio::time::timeout(CONNECT_TIMEOUT, fut)
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connecting to {host}:{port} timed out"),
            )
        })??;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// A connection error with the whole cause chain, e.g. the certificate verification failure.
#[derive(Debug)]
pub struct ConnectError(pub String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

impl tower_service::Service<Uri> for Connector {
    type Response = UpConn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<UpConn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let me = self.clone();
        Box::pin(async move {
            let https = uri.scheme_str() == Some("https");
            let host = uri.host().unwrap_or("").to_string();
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let tcp = tcp_to(me.via.as_ref(), &host, port)
                .await
                .map_err(|e| ConnectError(format!("connecting to {host}:{port}: {e}")))?;
            let peer = tcp
                .peer_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], port)));
            if !https {
                return Ok(UpConn {
                    io: TokioIo::new(MaybeTls::Plain(tcp)),
                    info: UpInfo { peer, h2: false },
                    proxied: me.via.is_some(),
                });
            }
            let name = ServerName::try_from(bare_host(&host).to_string())
                .map_err(|e| ConnectError(format!("{host}: not a valid TLS server name: {e}")))?;
            let tls = tokio::time::timeout(CONNECT_TIMEOUT, me.tls.connect(name, tcp))
                .await
                .map_err(|_| ConnectError(format!("TLS handshake with {host}:{port} timed out")))?
                .map_err(|e| {
                    ConnectError(format!("TLS handshake with {host}:{port} failed: {e}"))
                })?;
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            Ok(UpConn {
                io: TokioIo::new(MaybeTls::Tls(Box::new(tls))),
                info: UpInfo { peer, h2 },
                proxied: false,
            })
        })
    }
}
