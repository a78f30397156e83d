//! `wiresift inject-secrets IN OUT --tls-keylog F`: writes a pcapng copy of IN with a
//! Decryption Secrets Block holding the key log lines of the TLS sessions in the capture (like
//! `editcap --inject-secrets tls,F`, but keeping only the secrets that belong to the capture).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use wiresift_capfile::{CaptureReader, OutputFormat, Writer};
use wiresift_engine::{Engine, EngineOptions};
use wiresift_flow::NullHandler;
use wiresift_tls::{KeyStore, SECRETS_TYPE_TLS, TlsLayer};

use crate::Outcome;

#[derive(Args)]
pub struct InjectArgs {
    /// Capture to read (pcap or pcapng)
    pub input: PathBuf,
    /// pcapng file to write
    pub output: PathBuf,
    /// Key log with the secrets (repeatable)
    #[arg(long = "tls-keylog", value_name = "FILE", required = true)]
    pub tls_keylog: Vec<PathBuf>,
    /// Keep every key log line, not only those of sessions in the capture
    #[arg(long)]
    pub all: bool,
}

pub fn run(a: InjectArgs) -> Result<Outcome> {
    let mut text = Vec::new();
    for p in &a.tls_keylog {
        let t = std::fs::read(p).with_context(|| format!("--tls-keylog {}", p.display()))?;
        text.extend_from_slice(&t);
        if !text.ends_with(b"\n") {
            text.push(b'\n');
        }
    }
    // Pass 1: the client randoms (and RSA pre-master prefixes) of the capture's sessions.
    let mut reader = match CaptureReader::open(&a.input) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wiresift: {}: {e}", a.input.display());
            return Ok(Outcome::Failed);
        }
    };
    let mut engine = Engine::new(EngineOptions::default());
    let mut layer = TlsLayer::new(KeyStore::new());
    let mut damaged = None;
    loop {
        match reader.advance() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                damaged = Some(e);
                break;
            }
        }
        let Some(f) = reader.current() else { break };
        engine.process(&f, &mut layer.wrap(&mut NullHandler));
    }
    engine.finish(&mut layer.wrap(&mut NullHandler));
    let randoms: HashSet<[u8; 32]> = layer
        .reports()
        .iter()
        .filter_map(|r| r.client_random)
        .collect();
    let prefixes: HashSet<[u8; 8]> = layer
        .reports()
        .iter()
        .filter_map(|r| r.rsa_prefix)
        .collect();
    let (kept, lines) = if a.all {
        let (all, n) = {
            let mut k = wiresift_tls::KeyLog::new();
            let n = k.add_text(&text);
            (String::from_utf8_lossy(&text).into_owned(), n)
        };
        (all, n)
    } else {
        wiresift_tls::keylog::filter_text(&text, &randoms, &prefixes)
    };
    // Pass 2: copy, with the DSB before the first packet.
    let mut reader =
        CaptureReader::open(&a.input).with_context(|| a.input.display().to_string())?;
    let out: Box<dyn Write> = Box::new(BufWriter::with_capacity(
        1 << 20,
        File::create(&a.output).with_context(|| format!("cannot create {}", a.output.display()))?,
    ));
    let mut w =
        Writer::new(OutputFormat::PcapNg, out, true).context("writing the pcapng header")?;
    if let Writer::PcapNg { inner, .. } = &mut w {
        // Secrets already embedded in the input are carried over.
        for s in reader.secrets() {
            inner.write_secrets(s.secrets_type, &s.data)?;
        }
        if !kept.is_empty() {
            inner.write_secrets(SECRETS_TYPE_TLS, kept.as_bytes())?;
        }
    }
    let mut carried = reader.secrets().len();
    let mut frames = 0u64;
    while let Ok(true) = reader.advance() {
        if reader.secrets().len() > carried {
            if let Writer::PcapNg { inner, .. } = &mut w {
                for s in &reader.secrets()[carried..] {
                    inner.write_secrets(s.secrets_type, &s.data)?;
                }
            }
            carried = reader.secrets().len();
        }
        let Some(f) = reader.current() else { break };
        w.write_frame(&f, reader.interfaces())
            .with_context(|| format!("writing frame {}", f.number))?;
        frames += 1;
    }
    w.finish(reader.interfaces())
        .context("finishing the output file")?;
    eprintln!(
        "wiresift: inject-secrets: {frames} frames, {} TLS sessions, {lines} key log lines kept in the DSB",
        layer.reports().len()
    );
    if let Some(e) = damaged {
        eprintln!(
            "wiresift: {}: damaged after frame {}: {e}",
            a.input.display(),
            frames
        );
        return Ok(Outcome::Partial);
    }
    if lines == 0 {
        eprintln!("wiresift: warning: no key log line matches a session of the capture");
        return Ok(Outcome::Partial);
    }
    Ok(Outcome::Ok)
}
