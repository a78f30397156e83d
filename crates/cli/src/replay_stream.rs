//! `wiresift replay-stream`: a recorded TCP conversation's client side re-sent to a live server
//! over a new connection, turn by turn, with a per-turn comparison of what the server answers
//! (or, with `--as-server`, the recorded server side played to a client).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use wiresift_replay::stream_replay::{
    self, Role, StreamReplayOptions, Timing, format_report, format_summary,
};
use wiresift_replay::turns::{self, Conversation};

use crate::Outcome;
use crate::send::{TlsArgs, parse_duration};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TimingArg {
    /// Pause before each turn as long as the recording did (at most --max-think)
    Original,
    /// Send each turn as soon as the previous one is complete
    Fast,
}

/// `256M`, `1G`, `4096`: a byte count.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("{s:?}: unknown unit (use K, M or G)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("{s:?} is not a byte count (e.g. 4096, 64K, 256M)"))
}

#[derive(Args)]
pub struct ReplayStreamArgs {
    /// Capture file (with --stream), or a .c2s/.s2c file written by `follow --split`
    pub file: PathBuf,
    /// TCP stream number (tcp.stream) of the conversation in the capture
    #[arg(short = 's', long, value_name = "N")]
    pub stream: Option<u64>,
    /// Server to connect to (HOST:PORT)
    #[arg(long, value_name = "HOST:PORT", required_unless_present = "as_server")]
    pub to: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Pacing of our turns
    #[arg(long, value_enum, default_value = "fast")]
    pub timing: TimingArg,
    /// Stop waiting for a turn of the peer when it has been quiet this long
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub turn_timeout: Duration,
    /// Give up connecting (and on the TLS handshake) after this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Split files: how long to wait for the answer to one line
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub line_wait: Duration,
    /// --timing original: longest pause between turns
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub max_think: Duration,
    /// Most bytes of the conversation kept in memory (both sides); more is an error
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = parse_bytes)]
    pub max_bytes: u64,
    /// Play the recorded server side to one client that connects to -p PORT
    #[arg(long, requires = "port", conflicts_with_all = ["to", "tls"])]
    pub as_server: bool,
    /// Port to listen on (with --as-server)
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Address to listen on (default: all)
    #[arg(long, value_name = "ADDR", requires = "as_server")]
    pub bind: Option<IpAddr>,
    /// With --as-server: give up if no client came within this long (default: wait)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "as_server")]
    pub accept_timeout: Option<Duration>,
    /// Write every byte the peer sent to this file
    #[arg(short = 'o', long = "save", value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Only the closing summary
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

fn load(a: &ReplayStreamArgs) -> Result<Conversation, String> {
    let ext = a.file.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext == "c2s" || ext == "s2c" {
        if a.stream.is_some() {
            eprintln!("wiresift: note: --stream is ignored for a split file");
        }
        return turns::from_split(&a.file, a.max_bytes).map_err(|e| e.to_string());
    }
    let Some(stream) = a.stream else {
        return Err(format!(
            "{}: which conversation? Give --stream N (tcp.stream; `wiresift conversations` lists them)",
            a.file.display()
        ));
    };
    turns::from_capture(&a.file, stream, a.max_bytes).map_err(|e| e.to_string())
}

pub fn run(a: ReplayStreamArgs) -> Result<Outcome> {
    let conv = match load(&a) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wiresift: {e}");
            return Ok(Outcome::Failed);
        }
    };
    if let (Some(c), Some(s)) = (conv.client, conv.server)
        && !a.quiet
    {
        eprintln!(
            "wiresift: recorded {c} -> {s}: client {} B, server {} B",
            conv.bytes(turns::Side::Client),
            conv.bytes(turns::Side::Server)
        );
    }
    if conv.gap_bytes.iter().any(|&g| g > 0) {
        eprintln!(
            "wiresift: warning: the capture misses {} client and {} server bytes of this stream; they are not replayed",
            conv.gap_bytes[0], conv.gap_bytes[1]
        );
    }
    let role = if a.as_server {
        Role::Server {
            bind: a.bind,
            port: a.port.unwrap_or(0),
            accept_timeout: a.accept_timeout,
        }
    } else {
        Role::Client {
            target: a.to.clone().unwrap_or_default(),
            tls: a.tls.options(),
        }
    };
    let o = StreamReplayOptions {
        role,
        timing: match a.timing {
            TimingArg::Original => Timing::Original,
            TimingArg::Fast => Timing::Fast,
        },
        turn_timeout: a.turn_timeout,
        connect_timeout: a.connect_timeout,
        line_wait: a.line_wait,
        max_think: a.max_think,
    };
    let mut save = match &a.save {
        Some(p) => match File::create(p) {
            Ok(f) => Some(BufWriter::new(f)),
            Err(e) => {
                eprintln!("wiresift: cannot create {}: {e}", p.display());
                return Ok(Outcome::Failed);
            }
        },
        None => None,
    };
    let quiet = a.quiet;
    let mut out = std::io::stdout().lock();
    let mut log = |s: &str| {
        if !quiet {
            eprintln!("wiresift: {s}");
        }
    };
    let mut report = |r: &stream_replay::TurnReport| {
        if !quiet {
            let _ = writeln!(out, "{}", format_report(r));
            let _ = out.flush();
        }
    };
    let r = stream_replay::run(
        &conv,
        &o,
        save.as_mut().map(|w| w as &mut dyn Write),
        &mut log,
        &mut report,
    );
    if let Some(mut w) = save
        && let Err(e) = w.flush()
    {
        eprintln!("wiresift: writing the received bytes: {e}");
        return Ok(Outcome::Failed);
    }
    match r {
        Ok(sum) => {
            println!("{}", format_summary(&sum, a.turn_timeout));
            Ok(if sum.cut_short {
                Outcome::Partial
            } else {
                Outcome::Ok
            })
        }
        Err(e) => {
            eprintln!("wiresift: replay-stream: {e}");
            Ok(Outcome::Failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiresift_replay::turns::DEFAULT_MAX_BYTES;

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert_eq!(parse_bytes("64K").unwrap(), 65536);
        assert_eq!(parse_bytes("256M").unwrap(), DEFAULT_MAX_BYTES);
        assert!(parse_bytes("1X").is_err());
    }
}
