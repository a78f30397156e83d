//! NSS key log format (`SSLKEYLOGFILE`), as written by browsers, curl, openssl and as carried
//! by pcapng Decryption Secrets Blocks of type `TLSK` (the DSB payload is the same text).
//!
//! Lines: `LABEL <client random hex> <secret hex>`; `#` comments and unknown labels are
//! skipped. `RSA <first 8 bytes of the encrypted pre-master hex> <pre-master hex>` maps an RSA
//! key exchange to its pre-master secret.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::TlsError;

/// pcapng DSB secrets type for a TLS key log (`"TLSK"`).
pub const SECRETS_TYPE_TLS: u32 = 0x544c_534b;

/// Secrets logged for one client random. Never printed (no `Debug` of the bytes).
#[derive(Clone, Default)]
pub struct SessionSecrets {
    /// `CLIENT_RANDOM`: the TLS ≤ 1.2 master secret.
    pub master: Option<Vec<u8>>,
    pub client_early: Option<Vec<u8>>,
    pub client_handshake: Option<Vec<u8>>,
    pub server_handshake: Option<Vec<u8>>,
    pub client_traffic0: Option<Vec<u8>>,
    pub server_traffic0: Option<Vec<u8>>,
    pub exporter: Option<Vec<u8>>,
}

impl std::fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let has = |o: &Option<Vec<u8>>| o.is_some();
        f.debug_struct("SessionSecrets")
            .field("master", &has(&self.master))
            .field("client_handshake", &has(&self.client_handshake))
            .field("server_handshake", &has(&self.server_handshake))
            .field("client_traffic0", &has(&self.client_traffic0))
            .field("server_traffic0", &has(&self.server_traffic0))
            .finish_non_exhaustive()
    }
}

/// All key log entries loaded so far (several files and DSBs merge).
#[derive(Default)]
pub struct KeyLog {
    by_random: HashMap<[u8; 32], SessionSecrets>,
    rsa_pms: HashMap<[u8; 8], Vec<u8>>,
    /// Lines that looked like entries but could not be parsed.
    pub bad_lines: u64,
}

/// What a key log line says.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// Label, client random, secret.
    Secret(&'a str, [u8; 32], Vec<u8>),
    /// First 8 bytes of the encrypted pre-master, pre-master.
    Rsa([u8; 8], Vec<u8>),
    /// Comment, blank or unknown label.
    Skip,
    Bad,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) || b.len() > 1024 {
        return None;
    }
    let v = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    b.chunks_exact(2)
        .map(|p| Some(v(p[0])? << 4 | v(p[1])?))
        .collect()
}

const LABELS: &[&str] = &[
    "CLIENT_RANDOM",
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EXPORTER_SECRET",
    "EARLY_EXPORTER_SECRET",
];

/// Parses one line (without its end-of-line).
pub fn parse_line(line: &str) -> Line<'_> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Line::Skip;
    }
    let mut it = line.split_ascii_whitespace();
    let (Some(label), Some(a), Some(b)) = (it.next(), it.next(), it.next()) else {
        return Line::Bad;
    };
    if label == "RSA" {
        return match (unhex(a), unhex(b)) {
            (Some(a), Some(b)) if a.len() == 8 && !b.is_empty() => {
                let mut k = [0u8; 8];
                k.copy_from_slice(&a);
                Line::Rsa(k, b)
            }
            _ => Line::Bad,
        };
    }
    let Some(&label) = LABELS.iter().find(|l| **l == label) else {
        return Line::Skip;
    };
    match (unhex(a), unhex(b)) {
        (Some(cr), Some(secret)) if cr.len() == 32 && !secret.is_empty() => {
            let mut r = [0u8; 32];
            r.copy_from_slice(&cr);
            Line::Secret(label, r, secret)
        }
        _ => Line::Bad,
    }
}

impl KeyLog {
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Number of client randoms with at least one secret.
    pub fn sessions(&self) -> usize {
        self.by_random.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty() && self.rsa_pms.is_empty()
    }

    /// Adds every entry of a key log text (a file or a DSB payload); returns the number of
    /// entries taken.
    pub fn add_text(&mut self, text: &[u8]) -> usize {
        let text = String::from_utf8_lossy(text);
        let mut n = 0;
        for line in text.lines() {
            match parse_line(line) {
                Line::Secret(label, cr, secret) => {
                    let e = self.by_random.entry(cr).or_default();
                    let slot = match label {
                        "CLIENT_RANDOM" => &mut e.master,
                        "CLIENT_EARLY_TRAFFIC_SECRET" => &mut e.client_early,
                        "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut e.client_handshake,
                        "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut e.server_handshake,
                        "CLIENT_TRAFFIC_SECRET_0" => &mut e.client_traffic0,
                        "SERVER_TRAFFIC_SECRET_0" => &mut e.server_traffic0,
                        _ => &mut e.exporter,
                    };
                    *slot = Some(secret);
                    n += 1;
                }
                Line::Rsa(k, pms) => {
                    self.rsa_pms.insert(k, pms);
                    n += 1;
                }
                Line::Skip => {}
                Line::Bad => self.bad_lines += 1,
            }
        }
        n
    }

    /// Reads a key log file.
    pub fn add_file(&mut self, path: &Path) -> Result<usize, TlsError> {
        let text = std::fs::read(path).map_err(|source| TlsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(self.add_text(&text))
    }

    pub fn get(&self, client_random: &[u8; 32]) -> Option<&SessionSecrets> {
        self.by_random.get(client_random)
    }

    /// The pre-master secret of an RSA key exchange, by the first 8 bytes of its encryption.
    pub fn rsa_premaster(&self, encrypted: &[u8]) -> Option<&[u8]> {
        let k: [u8; 8] = encrypted.get(..8)?.try_into().ok()?;
        self.rsa_pms.get(&k).map(Vec::as_slice)
    }
}

/// Keeps only the lines of `text` that belong to sessions in a capture: secrets whose client
/// random is in `randoms`, `RSA` lines whose encrypted pre-master prefix is in `rsa_prefixes`.
/// Comments, unknown labels and damaged lines are dropped. Used by `inject-secrets`.
pub fn filter_text(
    text: &[u8],
    randoms: &HashSet<[u8; 32]>,
    rsa_prefixes: &HashSet<[u8; 8]>,
) -> (String, usize) {
    let text = String::from_utf8_lossy(text);
    let mut out = String::new();
    let mut n = 0;
    for line in text.lines() {
        let keep = match parse_line(line) {
            Line::Secret(_, cr, _) => randoms.contains(&cr),
            Line::Rsa(k, _) => rsa_prefixes.contains(&k),
            _ => false,
        };
        if keep {
            out.push_str(line.trim());
            out.push('\n');
            n += 1;
        }
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_and_skips_noise() {
        let cr = "a".repeat(64);
        let text = format!(
            "# comment\nCLIENT_RANDOM {cr} {}\nSERVER_TRAFFIC_SECRET_0 {cr} 0102\nBOGUS x y\nCLIENT_RANDOM zz 00\nRSA 0001020304050607 {}\n",
            "11".repeat(48),
            "22".repeat(48)
        );
        let mut k = KeyLog::new();
        assert_eq!(k.add_text(text.as_bytes()), 3);
        assert_eq!(k.bad_lines, 1);
        let s = k.get(&[0xaa; 32]).unwrap();
        assert_eq!(s.master.as_deref(), Some(&[0x11u8; 48][..]));
        assert_eq!(s.server_traffic0.as_deref(), Some(&[1u8, 2][..]));
        assert!(k.rsa_premaster(&[0, 1, 2, 3, 4, 5, 6, 7, 9]).is_some());
        assert!(!format!("{s:?}").contains("11"));
    }

    #[test]
    fn filter_keeps_only_known() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = format!("CLIENT_RANDOM {a} 00\nCLIENT_RANDOM {b} 00\n");
        let keep: HashSet<[u8; 32]> = [[0xaa; 32]].into_iter().collect();
        let (out, n) = filter_text(text.as_bytes(), &keep, &HashSet::new());
        assert_eq!(n, 1);
        assert!(out.contains(&a) && !out.contains(&b));
    }
}
