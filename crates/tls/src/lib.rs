//! TLS in captures: secrets (NSS key log, RSA private keys, pcapng Decryption Secrets Blocks),
//! record and handshake parsing over reassembled TCP streams, and decryption of TLS 1.0–1.3.
//!
//! Sans-I/O: [`TlsLayer`] watches every stream the flow engine pushes; streams that turn out
//! to be TLS are parsed and, when keys exist, their decrypted application data is forwarded to
//! the inner [`wiresift_flow::FlowHandler`] as `on_data` of the same flow and direction, so HTTP,
//! mail and follow see plaintext. Plaintext streams pass through unchanged; TLS streams without
//! keys are not forwarded (their [`SessionReport`] says why).
#![forbid(unsafe_code)]

pub mod cipher;
pub mod decrypting;
pub mod fields;
pub mod handshake;
pub mod ja4;
pub mod keylog;
pub mod prf;
pub mod record;
pub mod rsa_key;
pub mod session;

pub use decrypting::{TlsLayer, TlsWrap};
pub use fields::{FIELDS, TlsFrameFields};
pub use keylog::{KeyLog, SECRETS_TYPE_TLS};
pub use rsa_key::RsaKey;
pub use session::{SessionReport, SessionStatus};

/// Secrets for decryption: key log entries (files and DSBs) and RSA private keys.
#[derive(Default)]
pub struct KeyStore {
    pub keylog: KeyLog,
    pub rsa: Vec<RsaKey>,
}

impl KeyStore {
    pub fn new() -> KeyStore {
        KeyStore::default()
    }
    /// True when there is nothing to decrypt with.
    pub fn is_empty(&self) -> bool {
        self.keylog.is_empty() && self.rsa.is_empty()
    }
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("keylog_sessions", &self.keylog.sessions())
            .field("rsa_keys", &self.rsa.len())
            .finish()
    }
}

/// Errors loading secrets.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an RSA private key in PEM (PKCS#1 or PKCS#8): {why}")]
    BadKey { path: String, why: String },
    #[error("--tls-key {spec:?}: {why}")]
    BadKeySpec { spec: String, why: String },
}

/// Lower-case hex of `b` (client randoms in reasons and key logs).
pub fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[usize::from(x >> 4)] as char);
        s.push(H[usize::from(x & 15)] as char);
    }
    s
}
