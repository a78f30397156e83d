//! `wiresift ui`: the browser UI (crate `wiresift-web`). Prints one line, the URL with the
//! access token, and serves until Ctrl-C/SIGTERM.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::Outcome;

#[derive(Args, Debug)]
pub struct UiArgs {
    /// Captures to open at start (relative to the current directory; they must be under --root)
    pub files: Vec<PathBuf>,
    /// Address and port to listen on (port 0: any free port, printed). Anything but loopback
    /// exposes the captures to the network (the token is still required)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// The browser may open captures only under this directory (default: the current directory)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Open the URL in the default web browser
    #[arg(long)]
    pub open: bool,
    /// Largest capture the browser may upload (bytes; suffixes k, M, G, KiB, MiB, GiB)
    #[arg(long = "max-upload", value_name = "SIZE", default_value = "4GiB", value_parser = parse_size)]
    pub max_upload: u64,
    /// Where uploads and decompressed captures are kept while the server runs (a private
    /// directory made inside it, removed at exit; default: the system's temporary directory)
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
}

/// `1000`, `64k`, `10M`, `4G`, `512KiB`, `10MiB`, `4GiB` (k/M/G are powers of 1000).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a size such as 100M or 4GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => return Err(format!("{s:?}: unknown unit (k, M, G, KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?}: too large"))
}

fn parse_listen(s: &str) -> Result<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    // localhost:PORT and other names: the first address they resolve to.
    let mut it = s
        .to_socket_addrs()
        .with_context(|| format!("--listen {s}: expected HOST:PORT, e.g. 127.0.0.1:8090"))?;
    match it.next() {
        Some(a) => Ok(a),
        None => bail!("--listen {s}: no address"),
    }
}

/// Starts the system's browser on `url` (argv only, no shell).
fn open_browser(url: &str) {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/c", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match cmd.spawn() {
        // Reaped on a thread of its own, so it does not linger as a zombie.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("wiresift ui: cannot start a browser ({e}); open the URL yourself"),
    }
}

pub fn run(a: UiArgs) -> Result<Outcome> {
    let listen = parse_listen(&a.listen)?;
    let root = match a.root {
        Some(r) => r,
        None => std::env::current_dir().context("the current directory")?,
    };
    let mut cfg = wiresift_web::Config::new(listen, root);
    cfg.files = a.files;
    cfg.max_upload = a.max_upload;
    cfg.spool = a.spool;
    let server = wiresift_web::Server::new(cfg)?;
    if !listen.ip().is_loopback() {
        eprintln!(
            "wiresift ui: warning: listening on {}: this exposes your captures to the network \
             (anyone who gets the URL's token can read them)",
            server.local_addr().unwrap_or(listen)
        );
    }
    let open = a.open;
    server.run(|url| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "wiresift ui: {url}");
        let _ = out.flush();
        if open {
            open_browser(url);
        }
    })?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("10M"), Ok(10_000_000));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert!(parse_size("x").is_err());
        assert!(parse_size("10Q").is_err());
        assert!(parse_size("99999999999999999999").is_err());
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("127.0.0.1:0").unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert_eq!(parse_listen("[::1]:80").unwrap().port(), 80);
        assert!(parse_listen("nonsense").is_err());
    }
}
