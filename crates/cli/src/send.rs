//! `wiresift send`: netcat-like sending of a file or standard input to HOST:PORT over TCP, UDP
//! or TLS, printing what the peer answers; `--listen` serves the file to the first client.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use wiresift_replay::send::{self, End, Mode, SendError, SendOptions};
use wiresift_replay::tls::TlsOptions;

use crate::Outcome;

/// `2`, `2s`, `1.5`, `500ms`, `2m`: a duration on the command line.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 2, 2s, 500ms, 1m)"))?;
    if !(v >= 0.0 && v.is_finite()) || v * scale > 1e9 {
        return Err(format!("{s:?} is not a duration (e.g. 2, 2s, 500ms, 1m)"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// TLS options shared by `send` and `replay-stream`.
#[derive(Args, Clone, Debug)]
pub struct TlsArgs {
    /// Speak TLS over the TCP connection
    #[arg(long)]
    pub tls: bool,
    /// TLS server name (SNI) to send and verify (default: the host of HOST:PORT)
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub sni: Option<String>,
    /// ALPN protocols to offer, comma-separated (e.g. h2,http/1.1)
    #[arg(long, value_name = "PROTOS", value_delimiter = ',', requires = "tls")]
    pub alpn: Vec<String>,
    /// Accept any server certificate (no verification of the chain or name)
    #[arg(long, requires = "tls")]
    pub insecure: bool,
    /// Trust the CA certificates in this PEM file instead of the built-in roots
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca: Option<PathBuf>,
}

impl TlsArgs {
    pub fn options(&self) -> Option<TlsOptions> {
        self.tls.then(|| TlsOptions {
            sni: self.sni.clone(),
            alpn: self.alpn.clone(),
            insecure: self.insecure,
            ca: self.ca.clone(),
        })
    }
}

#[derive(Args)]
pub struct SendArgs {
    /// HOST:PORT to connect to ([ADDR]:PORT for IPv6); not with --listen
    #[arg(value_name = "HOST:PORT")]
    pub target: Option<String>,
    /// File to send; `-` or nothing: standard input
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// UDP instead of TCP: each chunk of input is one datagram
    #[arg(short = 'u', long)]
    pub udp: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Send LF as CRLF (like ncat -C), for SMTP, HTTP and other line protocols
    #[arg(short = 'C', long)]
    pub crlf: bool,
    /// After the input ends, stop when the peer has been quiet this long
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Give up connecting (and on the TLS handshake) after this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Wait for one client on -p PORT, send it FILE and print what it sends
    #[arg(short = 'l', long, requires = "port")]
    pub listen: bool,
    /// Port to listen on (with --listen)
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Address to listen on (default: all, IPv6 and IPv4)
    #[arg(long, value_name = "ADDR", requires = "listen")]
    pub bind: Option<IpAddr>,
    /// With --listen: give up if no client came within this long (default: wait)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "listen")]
    pub accept_timeout: Option<Duration>,
    /// Do not half-close our side when the input ends (for peers that hang up on FIN)
    #[arg(long)]
    pub keep_open: bool,
    /// No notes on stderr (connected to, byte counts)
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(a: SendArgs) -> Result<Outcome> {
    // With --listen the one positional argument is the file.
    let (mode, file) = if a.listen {
        if a.target.is_some() && a.file.is_some() {
            eprintln!("wiresift: send --listen takes no HOST:PORT, only -p PORT [FILE]");
            return Ok(Outcome::Failed);
        }
        (
            Mode::Listen {
                bind: a.bind,
                port: a.port.unwrap_or(0),
                accept_timeout: a.accept_timeout,
            },
            a.target.clone().map(PathBuf::from),
        )
    } else {
        let Some(t) = a.target.clone() else {
            eprintln!("wiresift: send needs HOST:PORT (or --listen -p PORT)");
            return Ok(Outcome::Failed);
        };
        (Mode::Connect(t), a.file.clone())
    };
    let input: Box<dyn Read + Send> = match &file {
        Some(p) if p.as_os_str() != "-" => match File::open(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("wiresift: {}: {e}", p.display());
                return Ok(Outcome::Failed);
            }
        },
        _ => Box::new(io::stdin()),
    };
    let o = SendOptions {
        mode,
        udp: a.udp,
        tls: a.tls.options(),
        crlf: a.crlf,
        idle_timeout: a.idle_timeout,
        connect_timeout: a.connect_timeout,
        keep_open: a.keep_open,
    };
    let quiet = a.quiet;
    let mut log = |s: &str| {
        if !quiet {
            eprintln!("wiresift: {s}");
        }
    };
    let mut out = io::stdout().lock();
    match send::run(&o, input, &mut out, &mut log) {
        Ok(r) => {
            let _ = out.flush();
            if !quiet {
                let end = match r.end {
                    End::PeerClosed => "the peer closed the connection".to_string(),
                    End::Idle(d) => {
                        format!("the peer was quiet for {}", wiresift_replay::fmt_secs(d))
                    }
                };
                let dg = if a.udp {
                    format!(
                        " ({} datagrams sent, {} received)",
                        r.datagrams_sent, r.datagrams_received
                    )
                } else {
                    String::new()
                };
                eprintln!(
                    "wiresift: {}: sent {} bytes, received {} bytes{dg}; {end}",
                    r.peer, r.sent, r.received
                );
            }
            Ok(Outcome::Ok)
        }
        Err(SendError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Outcome::Ok),
        Err(e) => {
            eprintln!("wiresift: send: {e}");
            Ok(Outcome::Failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
