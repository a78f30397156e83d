//! `wiresift proxy`: the intercepting HTTP(S) proxy (crate `wiresift-proxy`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::Outcome;

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// Port to listen on
    #[arg(short = 'p', long = "listen-port", default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on (IPv4 or IPv6, e.g. ::1 or 0.0.0.0)
    #[arg(long = "listen-host", default_value = "127.0.0.1")]
    pub listen_host: String,
    /// regular | reverse:URL | upstream:URL | socks5
    #[arg(long, default_value = "regular")]
    pub mode: String,
    /// Directory of the CA (default: $XDG_CONFIG_HOME/wiresift or ~/.config/wiresift)
    #[arg(long)]
    pub confdir: Option<PathBuf>,
    /// Do not verify upstream server certificates
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Also trust this CA (PEM) for upstream servers (repeatable)
    #[arg(long = "upstream-ca", value_name = "FILE")]
    pub upstream_ca: Vec<PathBuf>,
    /// Do not intercept TLS to hosts matching REGEX (SNI or host:port); repeatable
    #[arg(long = "ignore-hosts", value_name = "REGEX")]
    pub ignore_hosts: Vec<String>,
    /// Intercept TLS only to hosts matching REGEX; repeatable
    #[arg(long = "allow-hosts", value_name = "REGEX")]
    pub allow_hosts: Vec<String>,
    /// After a client refuses our certificate, pass its host through for this long (0 = never)
    #[arg(long = "passthrough-ttl", default_value = "10m", value_parser = parse_duration)]
    pub passthrough_ttl: Duration,
    /// No flow lines on stdout
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show and save only flows matching this display filter (http.* fields)
    #[arg(short = 'Y', long = "filter", value_name = "FILTER")]
    pub filter: Option<String>,
    /// Write flows as HAR 1.2
    #[arg(short = 'w', value_name = "FILE.har")]
    pub har: Option<PathBuf>,
    /// Bytes of each body kept in the HAR (beyond: cut, with a comment)
    #[arg(long = "har-max-body", default_value_t = 1 << 20)]
    pub har_max_body: usize,
    /// Write decrypted traffic of both legs plus TLS secrets (DSB) to a pcapng
    #[arg(long, value_name = "FILE.pcapng")]
    pub pcap: Option<PathBuf>,
    /// Append TLS secrets of both legs to an NSS key log file
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Concurrent client connections (more wait to be accepted)
    #[arg(long = "max-connections", default_value_t = 4096)]
    pub max_connections: usize,
    /// Largest request head accepted (bytes)
    #[arg(long = "max-header-bytes", default_value_t = 65536)]
    pub max_header_bytes: usize,
    /// Speak only HTTP/1.1 (no h2 in ALPN on either side)
    #[arg(long = "no-http2")]
    pub no_http2: bool,
    /// Time a client has to send a request head or a TLS ClientHello
    #[arg(long = "header-timeout", default_value = "30s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Worker threads (0 = one per core)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Stop after this long (for scripts and tests)
    #[arg(long = "run-for", value_parser = parse_duration, hide = true)]
    pub run_for: Option<Duration>,
}

/// `90`, `90s`, `10m`, `2h`, `500ms`.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 30s, 10m or 1h"))?;
    if !(0.0..=1e9).contains(&v) {
        return Err(format!("{s:?}: out of range"));
    }
    Ok(Duration::from_secs_f64(v * mult))
}

pub fn run(a: ProxyArgs) -> Result<Outcome> {
    let host = a.listen_host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host
        .parse()
        .with_context(|| format!("--listen-host {}: not an IP address", a.listen_host))?;
    let mode = wiresift_proxy::Mode::parse(&a.mode)?;
    if a.max_connections == 0 {
        bail!("--max-connections must be at least 1");
    }
    let confdir = a
        .confdir
        .unwrap_or_else(wiresift_proxy::ca::default_confdir);
    let mut cfg = wiresift_proxy::Config::new(SocketAddr::new(ip, a.port), confdir);
    cfg.mode = mode;
    cfg.insecure = a.insecure;
    cfg.upstream_ca = a.upstream_ca;
    cfg.ignore_hosts = a.ignore_hosts;
    cfg.allow_hosts = a.allow_hosts;
    cfg.passthrough_ttl = a.passthrough_ttl;
    cfg.quiet = a.quiet;
    cfg.filter = a.filter;
    cfg.har = a.har;
    cfg.har_max_body = a.har_max_body;
    cfg.pcap = a.pcap;
    cfg.keylog = a.keylog;
    cfg.max_connections = a.max_connections;
    cfg.max_header_bytes = a.max_header_bytes;
    cfg.http2 = !a.no_http2;
    cfg.header_timeout = a.header_timeout;
    cfg.threads = a.threads;
    cfg.run_for = a.run_for;
    let stats = wiresift_proxy::run(cfg)?;
    eprintln!(
        "wiresift proxy: stopped after {} connections, {} flows",
        stats.connections, stats.flows
    );
    Ok(Outcome::Ok)
}
