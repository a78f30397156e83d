//! The `wiresift` binary: argument parsing, one module per subcommand, exit codes.
//!
//! Exit status: 0 success; 1 completed but something was skipped, truncated or damaged (stderr
//! says what); 2 usage or input error (bad filter, unreadable file).

mod capture;
mod fields;
mod info;
mod interfaces;
mod output;
mod read;
mod registry;
mod structured;

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
