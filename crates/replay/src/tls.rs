//! TLS client side (rustls 0.23, ring provider): configuration from the command line
//! (`--sni`, `--alpn`, `--ca`, `--insecure`), a bounded handshake, and TLS failures explained
//! ("certificate verify failed: unknown issuer", "the server sent alert handshake_failure").
//! `SSLKEYLOGFILE` is honoured, so wiresift's own captures of a replay can be decrypted.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};

use crate::fmt_secs;

/// TLS options of `send` and `replay-stream`.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Server name sent in the ClientHello and checked against the certificate (default: the
    /// host of HOST:PORT).
    pub sni: Option<String>,
    /// ALPN protocols offered, in order (e.g. `h2`, `http/1.1`, `smtp`).
    pub alpn: Vec<String>,
    /// Accept any certificate (signatures of the handshake are still checked).
    pub insecure: bool,
    /// PEM file of CA certificates to trust instead of the built-in (Mozilla) roots.
    pub ca: Option<PathBuf>,
}

/// A TLS failure, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: cannot read CA file {}: {why}", path.display())]
    CaFile { path: PathBuf, why: String },
    #[error("TLS: {name:?} is not a valid server name for SNI")]
    BadServerName { name: String },
    #[error("TLS: {0}")]
    Config(String),
    #[error("TLS with {addr}: {reason}")]
    Handshake { addr: SocketAddr, reason: String },
    #[error("TLS with {addr}: handshake timed out after {}", fmt_secs(*.after))]
    Timeout { addr: SocketAddr, after: Duration },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_ca(path: &Path) -> Result<RootCertStore, TlsError> {
    let err = |why: String| TlsError::CaFile {
        path: path.to_path_buf(),
        why,
    };
    let mut roots = RootCertStore::empty();
    let mut n = 0;
    for c in CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))? {
        let c = c.map_err(|e| err(e.to_string()))?;
        roots.add(c).map_err(|e| err(e.to_string()))?;
        n += 1;
    }
    if n == 0 {
        return Err(err("no PEM certificate in it".into()));
    }
    Ok(roots)
}

/// Accepts any certificate (`--insecure`), but still checks that the handshake was signed by
/// the key in it.
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The client configuration for these options.
pub fn client_config(o: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let prov = provider();
    let algs = prov.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(prov)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut cfg = if o.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(algs)))
            .with_no_client_auth()
    } else {
        let roots = match &o.ca {
            Some(p) => load_ca(p)?,
            None => RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    cfg.alpn_protocols = o.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    cfg.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(Arc::new(cfg))
}

/// The server name to send: `--sni`, else the host of the target.
pub fn server_name(o: &TlsOptions, host: &str) -> Result<ServerName<'static>, TlsError> {
    let name = o.sni.clone().unwrap_or_else(|| host.to_string());
    ServerName::try_from(name.clone()).map_err(|_| TlsError::BadServerName { name })
}

/// A rustls error as a user reads it.
pub fn describe(e: &rustls::Error) -> String {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => {
            let why = match c {
                CertificateError::UnknownIssuer => {
                    "unknown issuer (pass --ca FILE with the server's CA, or --insecure)"
                        .to_string()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    format!("not valid for this server name ({c:?}; use --sni NAME)")
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "certificate expired".to_string()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "certificate not valid yet".to_string()
                }
                CertificateError::BadEncoding => "bad certificate encoding".to_string(),
                CertificateError::Revoked => "certificate revoked".to_string(),
                CertificateError::Other(o) if o.to_string().contains("CaUsedAsEndEntity") => {
                    "the server presents a CA certificate (basicConstraints CA:TRUE) as its own; \
                     give it a leaf certificate signed by that CA, or use --insecure"
                        .to_string()
                }
                CertificateError::Other(o) => o.to_string(),
                other => format!("{other:?}"),
            };
            format!("certificate verify failed: {why}")
        }
        E::AlertReceived(a) => format!("the server sent alert {}", alert_name(a)),
        E::InvalidMessage(m) => {
            format!("the peer does not speak TLS, or spoke it wrongly ({m:?})")
        }
        E::NoApplicationProtocol => {
            "the server accepts none of the ALPN protocols offered".to_string()
        }
        E::PeerIncompatible(p) => format!("no common TLS version or cipher suite ({p:?})"),
        other => other.to_string(),
    }
}

fn alert_name(a: &rustls::AlertDescription) -> String {
    // `HandshakeFailure` -> `handshake_failure`, as OpenSSL names alerts.
    let s = format!("{a:?}");
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn handshake_error(addr: SocketAddr, e: io::Error, after: Duration) -> TlsError {
    if crate::net::is_timeout(&e) {
        return TlsError::Timeout { addr, after };
    }
    if let Some(r) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return TlsError::Handshake {
            addr,
            reason: describe(r),
        };
    }
    let reason = match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the handshake (is it a TLS port?)".into()
        }
        io::ErrorKind::ConnectionReset => {
            "the server reset the connection during the handshake".into()
        }
        _ => e.to_string(),
    };
    TlsError::Handshake { addr, reason }
}

/// Runs the handshake on a connected socket, bounded by `timeout`.
pub fn handshake(
    mut sock: TcpStream,
    cfg: Arc<ClientConfig>,
    name: ServerName<'static>,
    timeout: Duration,
) -> Result<StreamOwned<ClientConnection, TcpStream>, TlsError> {
    let addr = sock
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut conn = ClientConnection::new(cfg, name).map_err(|e| TlsError::Handshake {
        addr,
        reason: describe(&e),
    })?;
    let _ = sock.set_read_timeout(Some(timeout));
    let _ = sock.set_write_timeout(Some(timeout));
    let start = std::time::Instant::now();
    while conn.is_handshaking() {
        if start.elapsed() > timeout {
            return Err(TlsError::Timeout {
                addr,
                after: timeout,
            });
        }
        conn.complete_io(&mut sock)
            .map_err(|e| handshake_error(addr, e, timeout))?;
    }
    Ok(StreamOwned::new(conn, sock))
}

/// A connected byte stream: plain TCP or TLS over TCP.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conn::Plain(s) => write!(f, "Plain({:?})", s.peer_addr()),
            Conn::Tls(s) => write!(f, "Tls({:?})", s.sock.peer_addr()),
        }
    }
}

impl Conn {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
    /// The negotiated ALPN protocol and TLS version, for the banner.
    pub fn tls_summary(&self) -> Option<String> {
        let Conn::Tls(s) = self else { return None };
        let v = s
            .conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        let suite = s
            .conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))
            .unwrap_or_default();
        let alpn = s
            .conn
            .alpn_protocol()
            .map(|p| format!(", ALPN {}", String::from_utf8_lossy(p)))
            .unwrap_or_default();
        Some(format!("{v} {suite}{alpn}"))
    }
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(t)
    }
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(t)
    }
    /// Ends our sending side: a TCP half-close, or a TLS close_notify.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.shutdown(Shutdown::Write),
            Conn::Tls(s) => {
                s.conn.send_close_notify();
                s.flush()
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => match s.read(buf) {
                // A peer that closes without close_notify: treat as the end (as most clients do).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// A TLS error that surfaced after the handshake (inside an `io::Error`), described.
pub fn io_error_reason(e: &io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .map(describe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_like_openssl() {
        assert_eq!(
            alert_name(&rustls::AlertDescription::HandshakeFailure),
            "handshake_failure"
        );
    }

    #[test]
    fn unknown_issuer_explained() {
        let s = describe(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(
            s.starts_with("certificate verify failed: unknown issuer"),
            "{s}"
        );
    }

    #[test]
    fn missing_ca_file() {
        let e = client_config(&TlsOptions {
            ca: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("cannot read CA file"), "{e}");
    }
}
