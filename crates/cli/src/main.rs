//! The `wiresift` binary: argument parsing, one module per subcommand, exit codes.
//!
//! Exit status: 0 success; 1 completed but something was skipped, truncated or damaged (stderr
//! says what); 2 usage or input error (bad filter, unreadable file).

mod info;
mod output;
mod read;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "wiresift",
    version,
    about = "Troubleshoot networks from the packets up: capture, filter, follow, extract, send, decrypt",
    propagate_version = true
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
