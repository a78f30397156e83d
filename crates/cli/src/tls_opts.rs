//! TLS options shared by `read`, `follow` and `export`: `--tls-keylog FILE` (repeatable),
//! `--tls-key [IP:PORT=]KEY.pem` (repeatable), plus the capture's own Decryption Secrets
//! Blocks, which are always used. Builds the [`TlsLayer`] and reports per-session outcomes.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use wiresift_capfile::CaptureReader;
use wiresift_tls::{KeyStore, RsaKey, SECRETS_TYPE_TLS, SessionReport, SessionStatus, TlsLayer};

#[derive(Args, Clone, Debug, Default)]
pub struct TlsArgs {
    /// TLS key log (NSS format, as SSLKEYLOGFILE writes it) to decrypt TLS sessions; repeatable.
    /// Decryption Secrets Blocks in a pcapng input are used as well
    #[arg(long = "tls-keylog", value_name = "FILE")]
    pub tls_keylog: Vec<PathBuf>,
    /// RSA private key (PEM, PKCS#1 or PKCS#8) for TLS sessions with RSA key exchange,
    /// optionally only for one server: [IP:PORT=]KEY.pem; repeatable
    #[arg(long = "tls-key", value_name = "[IP:PORT=]KEY.pem")]
    pub tls_key: Vec<String>,
}

impl TlsArgs {
    /// The key store from the files named on the command line.
    pub fn key_store(&self) -> Result<KeyStore> {
        let mut keys = KeyStore::new();
        for p in &self.tls_keylog {
            let n = keys
                .keylog
                .add_file(p)
                .with_context(|| format!("--tls-keylog {}", p.display()))?;
            if n == 0 {
                eprintln!(
                    "wiresift: warning: --tls-keylog {}: no key log entries in the file",
                    p.display()
                );
            }
        }
        if keys.keylog.bad_lines > 0 {
            eprintln!(
                "wiresift: warning: {} damaged key log line(s) ignored",
                keys.keylog.bad_lines
            );
        }
        for spec in &self.tls_key {
            keys.rsa.push(RsaKey::load_spec(spec)?);
        }
        Ok(keys)
    }
}

/// Feeds Decryption Secrets Blocks to the layer as the reader meets them.
#[derive(Default, Debug)]
pub struct DsbSync {
    seen: usize,
    pub blocks: usize,
}

impl DsbSync {
    /// Call after each frame is read (DSBs come before the frames that need them).
    pub fn sync(&mut self, reader: &CaptureReader, layer: &mut TlsLayer) {
        let s = reader.secrets();
        while self.seen < s.len() {
            if s[self.seen].secrets_type == SECRETS_TYPE_TLS {
                layer.keys_mut().keylog.add_text(&s[self.seen].data);
                self.blocks += 1;
            }
            self.seen += 1;
        }
    }
}

/// One line about a session: `tcp.stream 3 10.0.0.1:5000 -> 10.0.0.2:443 TLS 1.2
/// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 SNI=example.com: no key (no key for client random ...)`.
pub fn describe(r: &SessionReport) -> String {
    let addr = |a: (std::net::IpAddr, u16)| std::net::SocketAddr::from(a).to_string();
    let mut s = format!(
        "tcp.stream {} {} -> {}",
        r.flow.stream,
        addr(r.client),
        addr(r.server)
    );
    if let Some(v) = r.version_name() {
        s.push(' ');
        s.push_str(v);
    }
    match (r.cipher_suite_name(), r.cipher_suite) {
        (Some(n), _) => {
            s.push(' ');
            s.push_str(n);
        }
        (None, Some(id)) => s.push_str(&format!(" suite 0x{id:04x}")),
        _ => {}
    }
    if let Some(sni) = &r.sni {
        s.push_str(&format!(" SNI={sni}"));
    }
    if let Some(a) = &r.alpn {
        s.push_str(&format!(" ALPN={a}"));
    }
    s.push_str(": ");
    s.push_str(r.status.as_str());
    if let Some(why) = &r.reason {
        s.push_str(&format!(" ({why})"));
    }
    s
}

/// The session as a manifest record (`"type": "tls-session"`).
pub fn report_json(r: &SessionReport) -> serde_json::Value {
    serde_json::json!({
        "type": "tls-session",
        "stream": r.flow.stream,
        "client": std::net::SocketAddr::from(r.client).to_string(),
        "server": std::net::SocketAddr::from(r.server).to_string(),
        "version": r.version_name(),
        "cipher_suite": r.cipher_suite_name().map(str::to_string).or(r.cipher_suite.map(|c| format!("0x{c:04x}"))),
        "sni": r.sni,
        "alpn": r.alpn,
        "ja4": r.ja4,
        "resumed": r.resumed,
        "status": r.status.as_str(),
        "reason": r.reason,
        "records": r.records,
        "decrypted_records": r.decrypted_records,
        "plaintext_bytes": r.plaintext_bytes,
    })
}

/// Prints what happened to the TLS sessions on stderr: with `verbose` every session,
/// otherwise those that were not decrypted (only when keys were given, so that reading a
/// capture without keys stays quiet). Returns how many were not decrypted.
pub fn print_reports(layer: &TlsLayer, verbose: bool, keys_given: bool) -> u64 {
    let mut undecrypted = 0;
    for r in layer.reports() {
        let bad = matches!(r.status, SessionStatus::NoKey | SessionStatus::Failed);
        if bad {
            undecrypted += 1;
        }
        if verbose || (bad && keys_given) {
            eprintln!("wiresift: tls: {}", describe(r));
        }
    }
    let st = layer.stats();
    if st.reports_dropped > 0 {
        eprintln!(
            "wiresift: tls: {} more sessions not described (report limit)",
            st.reports_dropped
        );
    }
    undecrypted
}

/// A TLS layer for a capture file: the command line's keys plus the Decryption Secrets
/// Blocks at the start of the file (before its first packet, where `editcap
/// --inject-secrets` and `wiresift inject-secrets` put them). Standard input is not pre-read.
pub fn layer_for_file(args: &TlsArgs, path: &std::path::Path) -> Result<TlsLayer> {
    let mut layer = TlsLayer::new(args.key_store()?);
    if path.as_os_str() != "-"
        && let Ok(mut r) = CaptureReader::open(path)
    {
        let _ = r.advance();
        DsbSync::default().sync(&r, &mut layer);
    }
    Ok(layer)
}
