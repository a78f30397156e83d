//! The `wiresift` binary: argument parsing, one module per subcommand, exit codes.
//!
//! Exit status: 0 success; 1 completed but something was skipped, truncated or damaged (stderr
//! says what); 2 usage or input error (bad filter, unreadable file).

mod ca;
mod capture;
mod conversations;
mod export;
mod fastmap;
mod fields;
mod follow;
mod info;
mod inject_secrets;
mod interfaces;
mod output;
mod proxy;
mod read;
mod registry;
mod replay;
mod replay_stream;
mod send;
mod split_writer;
mod stats;
mod structured;
mod tls_opts;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "wiresift",
    version,
    about = "Troubleshoot networks from the packets up: capture, filter, follow, extract, send, decrypt"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print, filter and rewrite a saved capture (one line per frame, tcpdump style)
    Read(read::ReadArgs),
    /// Summarize a capture file, like capinfos
    Info(info::InfoArgs),
    /// Capture live traffic to pcapng/pcap files (optionally a ring of them) or summary lines
    Capture(capture::CaptureArgs),
    /// List the interfaces that can be captured on, like tcpdump -D
    Interfaces(interfaces::InterfacesArgs),
    /// List the fields of the display filter language and structured output (like tshark -G fields)
    Fields(fields::FieldsArgs),
    /// Reassembled TCP/UDP streams as tshark -z follow prints them, or split into files
    Follow(follow::FollowArgs),
    /// Conversation tables (frames and bytes each way), like tshark -z conv,TYPE
    Conversations(conversations::ConvArgs),
    /// Endpoint tables (frames and bytes sent and received), like tshark -z endpoints,TYPE
    Endpoints(conversations::ConvArgs),
    /// Protocol hierarchy (frames and bytes per protocol path), like tshark -z io,phs
    Stats(stats::StatsArgs),
    /// Send a file or standard input to HOST:PORT over TCP, UDP or TLS and print the answer (like ncat)
    Send(send::SendArgs),
    /// Re-send one side of a recorded TCP conversation to a live peer, turn by turn, and compare the answers
    ReplayStream(replay_stream::ReplayStreamArgs),
    /// Put the frames of a capture onto an interface at recorded timing or a given rate (like tcpreplay)
    Replay(replay::ReplayArgs),
    /// Export objects from a capture into a directory (HTTP bodies), with a manifest and HAR
    Export(export::ExportArgs),
    /// Intercepting HTTP(S) proxy: regular, reverse, upstream or SOCKS5 mode; flows to console, HAR, pcapng
    Proxy(proxy::ProxyArgs),
    /// The proxy's certificate authority: init, export (pem/der/p12), install-help
    Ca(ca::CaArgs),
    /// Copy a capture to pcapng with the TLS secrets of its sessions embedded (Decryption Secrets Block)
    InjectSecrets(inject_secrets::InjectArgs),
    /// The browser UI: packet list, filters, detail, follow, statistics (prints the URL to open)
    Ui(ui::UiArgs),
}

/// What a subcommand reports: the exit status it wants.
pub enum Outcome {
    Ok,
    /// Finished, but something was damaged or skipped (already reported on stderr).
    Partial,
    /// Input or usage error (already reported on stderr).
    Failed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Read(a) => read::run(a),
        Command::Info(a) => info::run(a),
        Command::Capture(a) => capture::run(a),
        Command::Interfaces(a) => interfaces::run(a),
        Command::Fields(a) => fields::run(a),
        Command::Follow(a) => follow::run(a),
        Command::Conversations(a) => conversations::run(a, conversations::Kind::Conversations),
        Command::Endpoints(a) => conversations::run(a, conversations::Kind::Endpoints),
        Command::Stats(a) => stats::run(a),
        Command::Send(a) => send::run(a),
        Command::ReplayStream(a) => replay_stream::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Export(a) => export::run(a),
        Command::Proxy(a) => proxy::run(a),
        Command::Ca(a) => ca::run(a),
        Command::InjectSecrets(a) => inject_secrets::run(a),
        Command::Ui(a) => ui::run(a),
    };
    match r {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Partial) => ExitCode::from(1),
        Ok(Outcome::Failed) => ExitCode::from(2),
        Err(e) => {
            if output::is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("wiresift: {e:#}");
            ExitCode::from(2)
        }
    }
}
