//! RSA private keys for TLS_RSA_* key exchange: `--tls-key [IP:PORT=]KEY.pem`, PEM in PKCS#1
//! (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`), optionally scoped to a server
//! address (`0.0.0.0`/`::` or port 0 match any).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, PrivateKey as RsaPrivateKey};

use crate::TlsError;

/// One server key and where it applies.
pub struct RsaKey {
    /// Server address the key is for; `None` = any server.
    pub scope: Option<SocketAddr>,
    /// Where the key came from (for messages).
    pub origin: String,
    key: RsaPrivateKey,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey")
            .field("scope", &self.scope)
            .field("origin", &self.origin)
            .field("bits", &(self.key.size() * 8))
            .finish()
    }
}

/// Splits `[IP:PORT=]PATH` into its scope and path. The part before the last `=` is a scope
/// only if it parses as `IP:PORT` (`[v6]:PORT` for IPv6).
pub fn split_spec(spec: &str) -> Result<(Option<SocketAddr>, &str), TlsError> {
    if let Some((scope, path)) = spec.split_once('=') {
        if let Ok(sa) = scope.parse::<SocketAddr>() {
            if path.is_empty() {
                return Err(TlsError::BadKeySpec {
                    spec: spec.to_string(),
                    why: "no key file after '='".into(),
                });
            }
            return Ok((Some(sa), path));
        }
        if scope.contains(':') && !Path::new(spec).exists() {
            return Err(TlsError::BadKeySpec {
                spec: spec.to_string(),
                why: format!("{scope:?} is not IP:PORT (use [v6]:PORT for IPv6)"),
            });
        }
    }
    Ok((None, spec))
}

impl RsaKey {
    /// Parses a PEM text (PKCS#1 or PKCS#8).
    pub fn from_pem(
        text: &str,
        origin: &str,
        scope: Option<SocketAddr>,
    ) -> Result<RsaKey, TlsError> {
        let key = match RsaPrivateKey::from_pkcs1_pem(text) {
            Ok(k) => k,
            Err(e1) => RsaPrivateKey::from_pkcs8_pem(text).map_err(|e2| TlsError::BadKey {
                path: origin.to_string(),
                why: format!("PKCS#1: {e1}; PKCS#8: {e2}"),
            })?,
        };
        Ok(RsaKey {
            scope,
            origin: origin.to_string(),
            key,
        })
    }

    /// Loads `[IP:PORT=]KEY.pem`.
    pub fn load_spec(spec: &str) -> Result<RsaKey, TlsError> {
        let (scope, path) = split_spec(spec)?;
        let text = std::fs::read_to_string(path).map_err(|source| TlsError::Io {
            path: path.to_string(),
            source,
        })?;
        RsaKey::from_pem(&text, path, scope)
    }

    /// Whether the key applies to a server at `server`.
    pub fn applies_to(&self, server: (IpAddr, u16)) -> bool {
        match self.scope {
            None => true,
            Some(sa) => {
                (sa.ip().is_unspecified() || sa.ip() == server.0)
                    && (sa.port() == 0 || sa.port() == server.1)
            }
        }
    }

    /// Modulus size in bytes (the length of an encrypted pre-master secret).
    pub fn size(&self) -> usize {
        self.key.size()
    }

    /// Decrypts an encrypted pre-master secret (RSA PKCS#1 v1.5). A wrong key almost always
    /// fails the padding check and gives `None`, as does a result that is not 48 bytes; the
    /// rare wrong key whose padding happens to check out gives a wrong secret, found out by
    /// the record MAC/tag check.
    pub fn decrypt_premaster(&self, encrypted: &[u8]) -> Option<Vec<u8>> {
        if encrypted.len() != self.key.size() {
            return None;
        }
        let pms = self.key.decrypt(Pkcs1v15Encrypt, encrypted).ok()?;
        (pms.len() == 48).then_some(pms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_scopes() {
        let (s, p) = split_spec("10.0.0.1:443=k.pem").unwrap();
        assert_eq!(s, Some("10.0.0.1:443".parse().unwrap()));
        assert_eq!(p, "k.pem");
        let (s, p) = split_spec("[::1]:443=k.pem").unwrap();
        assert!(s.is_some());
        assert_eq!(p, "k.pem");
        let (s, p) = split_spec("dir/k.pem").unwrap();
        assert!(s.is_none());
        assert_eq!(p, "dir/k.pem");
        assert!(split_spec("1.2.3:4=k.pem").is_err());
    }

    #[test]
    fn garbage_pem_is_an_error() {
        assert!(
            RsaKey::from_pem(
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                "x",
                None
            )
            .is_err()
        );
    }
}
