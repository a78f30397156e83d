//! `wiresift info`: what capinfos tells, in one streaming pass.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wiresift_session::info::CapInfo;

use crate::Outcome;

#[derive(Args)]
pub struct InfoArgs {
    /// Capture file(s); `-` reads standard input
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run(a: InfoArgs) -> Result<Outcome> {
    let mut worst = Outcome::Ok;
    for (i, path) in a.files.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match info_one(path) {
            Outcome::Ok => {}
            Outcome::Partial => {
                if matches!(worst, Outcome::Ok) {
                    worst = Outcome::Partial;
                }
            }
            Outcome::Failed => worst = Outcome::Failed,
        }
    }
    Ok(worst)
}

fn info_one(path: &PathBuf) -> Outcome {
    let mut r = match crate::output::open_capture(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wiresift: {}: {e}", path.display());
            return Outcome::Failed;
        }
    };
    // The session crate's counts and text (the UI's capture file properties are the same).
    let mut info = CapInfo::default();
    let mut error = None;
    loop {
        match r.advance() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        let Some(f) = r.current() else { break };
        info.add(&f);
    }
    info.finish(&r, error.as_ref().map(|e| e.to_string()));
    let file_size = std::fs::metadata(path).map(|m| m.len()).ok();
    print!("{}", info.render(&path.display().to_string(), file_size));
    if let Some(e) = error {
        let n = info.frames;
        eprintln!("wiresift: {}: damaged after frame {n}: {e}", path.display());
        return if n == 0 {
            Outcome::Failed
        } else {
            Outcome::Partial
        };
    }
    Outcome::Ok
}
