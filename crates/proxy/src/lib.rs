//! wiresift's intercepting HTTP(S) proxy on hyper 1 + tokio-rustls + rcgen.
//!
//! Modes: regular (HTTP proxy with CONNECT and absolute-URI requests), reverse (every request
//! to one URL), upstream (regular, chained to another proxy) and SOCKS5. TLS inside a tunnel is
//! intercepted with a leaf certificate minted per host by our CA ([`ca`]), unless the host is
//! passed through (`--ignore-hosts`, `--allow-hosts`, or automatically after the client refused
//! our certificate). Each side negotiates HTTP/1.1 or HTTP/2 by ALPN on its own. Bodies stream;
//! the only copies kept are the first bytes of each body for HAR (capped).
//!
//! Flows are printed as they complete, filtered with the display filter language over `http.*`
//! fields, written to HAR 1.2 (the writer of `wiresift-http`), to a pcapng of synthesized TCP
//! conversations with the TLS secrets of both legs in Decryption Secrets Blocks, and the secrets
//! to an NSS key log.
#![forbid(unsafe_code)]

pub mod ca;
mod connector;
pub mod flow;
pub mod p12;
pub mod pcap;
mod server;
mod socks;
pub mod tls;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use server::{Stats, run};

/// Errors of the proxy, by who is at fault.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("{0}")]
    Usage(String),
    #[error("certificate authority: {0}")]
    Ca(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Io(String),
    #[error("cannot listen on {addr}: {err}")]
    Listen {
        addr: SocketAddr,
        err: std::io::Error,
    },
}

/// How the proxy is reached and where it sends requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Regular,
    /// Every request goes to this URL's scheme and authority (`reverse:https://host:port`).
    Reverse {
        https: bool,
        host: String,
        port: u16,
    },
    /// Regular, but connections go through this HTTP proxy (`upstream:http://host:port`).
    Upstream {
        host: String,
        port: u16,
    },
    Socks5,
}

impl Mode {
    /// Parses `regular`, `reverse:URL`, `upstream:URL`, `socks5`.
    pub fn parse(s: &str) -> Result<Mode, ProxyError> {
        if s == "regular" {
            return Ok(Mode::Regular);
        }
        if s == "socks5" {
            return Ok(Mode::Socks5);
        }
        let bad = |why: &str| ProxyError::Usage(format!("--mode {s}: {why}"));
        let (kind, url) = s
            .split_once(':')
            .ok_or_else(|| bad("expected regular, socks5, reverse:URL or upstream:URL"))?;
        let uri: http::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| bad("the URL needs a scheme (http:// or https://)"))?;
        let https = match scheme {
            "https" => true,
            "http" => false,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let host = uri
            .host()
            .ok_or_else(|| bad("the URL needs a host"))?
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        match kind {
            "reverse" => Ok(Mode::Reverse { https, host, port }),
            "upstream" => {
                if https {
                    return Err(bad("an upstream proxy is reached over http://"));
                }
                Ok(Mode::Upstream { host, port })
            }
            _ => Err(bad("expected regular, socks5, reverse:URL or upstream:URL")),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Mode::Regular => "regular".into(),
            Mode::Socks5 => "socks5".into(),
            Mode::Reverse { https, host, port } => {
                format!(
                    "reverse:{}://{host}:{port}",
                    if *https { "https" } else { "http" }
                )
            }
            Mode::Upstream { host, port } => format!("upstream:http://{host}:{port}"),
        }
    }
}

/// Everything `wiresift proxy` can be told.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub mode: Mode,
    pub confdir: PathBuf,
    /// Do not verify upstream certificates.
    pub insecure: bool,
    /// Extra trusted CAs for upstream servers (PEM files).
    pub upstream_ca: Vec<PathBuf>,
    pub ignore_hosts: Vec<String>,
    pub allow_hosts: Vec<String>,
    /// Automatic pass-through after a refused handshake lasts this long (0 = off).
    pub passthrough_ttl: Duration,
    pub quiet: bool,
    /// Display filter over `http.*` fields; only matching flows are shown and saved to HAR.
    pub filter: Option<String>,
    pub har: Option<PathBuf>,
    /// HAR keeps at most this many bytes of each body.
    pub har_max_body: usize,
    pub pcap: Option<PathBuf>,
    pub keylog: Option<PathBuf>,
    pub max_connections: usize,
    /// Largest request head accepted from clients (bytes).
    pub max_header_bytes: usize,
    /// Offer HTTP/2 by ALPN (both sides).
    pub http2: bool,
    /// A client must send a complete request head (and TLS ClientHello) within this time.
    pub header_timeout: Duration,
    /// Worker threads (0 = one per core).
    pub threads: usize,
    /// Stop after this long (tests); `None` runs until SIGINT/SIGTERM.
    pub run_for: Option<Duration>,
}

impl Config {
    pub fn new(listen: SocketAddr, confdir: PathBuf) -> Config {
        Config {
            listen,
            mode: Mode::Regular,
            confdir,
            insecure: false,
            upstream_ca: Vec::new(),
            ignore_hosts: Vec::new(),
            allow_hosts: Vec::new(),
            passthrough_ttl: Duration::from_secs(600),
            quiet: false,
            filter: None,
            har: None,
            har_max_body: 1 << 20,
            pcap: None,
            keylog: None,
            max_connections: 4096,
            max_header_bytes: 64 * 1024,
            http2: true,
            header_timeout: Duration::from_secs(30),
            threads: 0,
            run_for: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Mode::parse("regular").unwrap(), Mode::Regular);
        assert_eq!(Mode::parse("socks5").unwrap(), Mode::Socks5);
        assert_eq!(
            Mode::parse("reverse:https://example.com").unwrap(),
            Mode::Reverse {
                https: true,
                host: "example.com".into(),
                port: 443
            }
        );
        assert_eq!(
            Mode::parse("upstream:http://127.0.0.1:3128").unwrap(),
            Mode::Upstream {
                host: "127.0.0.1".into(),
                port: 3128
            }
        );
        assert!(Mode::parse("reverse:example.com").is_err());
        assert!(Mode::parse("transparent").is_err());
    }
}
