//! TLS plumbing: reading the ClientHello before deciding (intercept or pass through), a stream
//! that replays the bytes already read, the key log of both legs, the upstream verifier.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use regex::RegexSet;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::ProxyError;

/// Largest ClientHello we read before deciding (post-quantum key shares make them ~2 KiB).
const MAX_HELLO: usize = 64 * 1024;

/// What the ClientHello told us.
#[derive(Debug, Default, Clone)]
pub struct Hello {
    pub sni: Option<String>,
    pub alpn: Vec<Vec<u8>>,
}

/// Reads from `s` until a complete ClientHello is in the returned buffer. `Ok(None)` when the
/// first byte is not a TLS handshake record (the buffer then holds what was read).
pub async fn read_client_hello<S: AsyncRead + Unpin>(
    s: &mut S,
) -> io::Result<(Vec<u8>, Option<Hello>)> {
    let mut buf = Vec::with_capacity(2048);
    let mut tmp = [0u8; 4096];
    let n = s.read(&mut tmp).await?;
    if n == 0 {
        return Ok((buf, None));
    }
    buf.extend_from_slice(&tmp[..n]);
    if buf[0] != 0x16 {
        return Ok((buf, None));
    }
    loop {
        match parse_hello(&buf) {
            Parse::Done(h) => return Ok((buf, Some(h))),
            Parse::Bad => return Ok((buf, Some(Hello::default()))),
            Parse::More => {}
        }
        if buf.len() > MAX_HELLO {
            return Ok((buf, Some(Hello::default())));
        }
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "client closed during ClientHello",
            ));
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

enum Parse {
    Done(Hello),
    More,
    Bad,
}

/// Joins handshake fragments of consecutive records and parses the ClientHello.
fn parse_hello(buf: &[u8]) -> Parse {
    let mut hs = Vec::new();
    let mut p = 0;
    loop {
        if buf.len() < p + 5 {
            return Parse::More;
        }
        if buf[p] != 0x16 {
            return Parse::Bad;
        }
        let len = u16::from_be_bytes([buf[p + 3], buf[p + 4]]) as usize;
        if buf.len() < p + 5 + len {
            return Parse::More;
        }
        hs.extend_from_slice(&buf[p + 5..p + 5 + len]);
        p += 5 + len;
        if hs.len() >= 4 {
            if hs[0] != 1 {
                return Parse::Bad;
            }
            let mlen = ((hs[1] as usize) << 16) | ((hs[2] as usize) << 8) | hs[3] as usize;
            if hs.len() >= 4 + mlen {
                return match hello_body(&hs[4..4 + mlen]) {
                    Some(h) => Parse::Done(h),
                    None => Parse::Bad,
                };
            }
        }
    }
}

struct Rd<'a>(&'a [u8]);
impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| b[0] as usize)
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
    }
}

fn hello_body(b: &[u8]) -> Option<Hello> {
    let mut r = Rd(b);
    r.take(2 + 32)?;
    let n = r.u8()?;
    r.take(n)?;
    let n = r.u16()?;
    r.take(n)?;
    let n = r.u8()?;
    r.take(n)?;
    let mut h = Hello::default();
    if r.0.is_empty() {
        return Some(h);
    }
    let n = r.u16()?;
    let mut ext = Rd(r.take(n)?);
    while !ext.0.is_empty() {
        let typ = ext.u16()?;
        let n = ext.u16()?;
        let mut e = Rd(ext.take(n)?);
        match typ {
            0 => {
                let n = e.u16()?;
                let mut l = Rd(e.take(n)?);
                while !l.0.is_empty() {
                    let kind = l.u8()?;
                    let n = l.u16()?;
                    let name = l.take(n)?;
                    if kind == 0 {
                        h.sni = std::str::from_utf8(name)
                            .ok()
                            .map(|s| s.to_ascii_lowercase());
                    }
                }
            }
            16 => {
                let n = e.u16()?;
                let mut l = Rd(e.take(n)?);
                while !l.0.is_empty() {
                    let n = l.u8()?;
                    h.alpn.push(l.take(n)?.to_vec());
                }
            }
            _ => {}
        }
    }
    Some(h)
}

/// Whether rustls accepts an SNI value: a DNS name or an IP literal (ignored), not `host:port`.
pub fn sni_acceptable(sni: &str) -> bool {
    sni.parse::<std::net::IpAddr>().is_ok()
        || matches!(ServerName::try_from(sni), Ok(ServerName::DnsName(_)))
}

/// A stream that first yields `prefix` (bytes already read from `inner`), then reads `inner`.
pub struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: impl Into<Bytes>, inner: S) -> Self {
        Prefixed {
            prefix: prefix.into(),
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let chunk = self.prefix.split_to(n);
            buf.put_slice(&chunk);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, b)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Receives every TLS secret of both legs (NSS key log lines).
pub trait SecretSink: Send + Sync {
    fn secret(&self, line: &str);
}

/// rustls `KeyLog` feeding the key log file and the pcapng Decryption Secrets Blocks.
pub struct KeyLogger {
    pub sinks: Vec<Arc<dyn SecretSink>>,
}

impl std::fmt::Debug for KeyLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyLogger")
    }
}

impl rustls::KeyLog for KeyLogger {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut line =
            String::with_capacity(label.len() + 2 + 2 * (client_random.len() + secret.len()));
        line.push_str(label);
        line.push(' ');
        hex(&mut line, client_random);
        line.push(' ');
        hex(&mut line, secret);
        line.push('\n');
        for s in &self.sinks {
            s.secret(&line);
        }
    }
    fn will_log(&self, _label: &str) -> bool {
        !self.sinks.is_empty()
    }
}

fn hex(out: &mut String, b: &[u8]) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for x in b {
        out.push(H[(x >> 4) as usize] as char);
        out.push(H[(x & 15) as usize] as char);
    }
}

/// The NSS key log file (appended to, like SSLKEYLOGFILE).
pub struct KeyLogFile(Mutex<std::fs::File>);

impl KeyLogFile {
    pub fn open(path: &PathBuf) -> Result<KeyLogFile, ProxyError> {
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| ProxyError::Io(format!("{}: {e}", path.display())))?;
        Ok(KeyLogFile(Mutex::new(f)))
    }
}

impl SecretSink for KeyLogFile {
    fn secret(&self, line: &str) {
        use std::io::Write;
        if let Ok(mut f) = self.0.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Accepts any upstream certificate (`--insecure`); handshake signatures are still checked.
#[derive(Debug)]
pub struct NoVerify(pub Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client configuration toward upstream servers: system roots (plus `extra_cas`), or no
/// verification with `insecure`. ALPN `alpn` (h2 and http/1.1 unless HTTP/2 is off).
pub fn upstream_config(
    provider: Arc<CryptoProvider>,
    insecure: bool,
    extra_cas: &[CertificateDer<'static>],
    alpn: Vec<Vec<u8>>,
    key_log: Option<Arc<dyn rustls::KeyLog>>,
) -> Result<(rustls::ClientConfig, usize), ProxyError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxyError::Tls(e.to_string()))?;
    let mut roots_n = 0;
    let mut cfg = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for c in native.certs {
            if roots.add(c).is_ok() {
                roots_n += 1;
            }
        }
        for c in extra_cas {
            roots
                .add(c.clone())
                .map_err(|e| ProxyError::Tls(format!("--upstream-ca: {e}")))?;
            roots_n += 1;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    cfg.alpn_protocols = alpn;
    if let Some(k) = key_log {
        cfg.key_log = k;
    }
    Ok((cfg, roots_n))
}

/// Hosts not intercepted: `--ignore-hosts` / `--allow-hosts` and the hosts whose clients
/// refused our certificate (for a TTL).
pub struct PassThrough {
    ignore: Option<RegexSet>,
    allow: Option<RegexSet>,
    ttl: Duration,
    auto: Mutex<HashMap<String, Instant>>,
    /// Handshakes the client closed without an alert, per host, since the last one that
    /// succeeded: (count, time of the first).
    aborts: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Handshakes closed by the client without an alert, in a row, that count as a refusal of our
/// certificate. One is not enough: browsers drop connections mid-handshake for their own
/// reasons (a cancelled preconnect, a race between two attempts), and passing a host through
/// after one of those would stop interception of that host for the whole TTL.
pub const ABORTS_BEFORE_PASS: u32 = 3;

/// What a failed client-side handshake says about our certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The client sent a certificate alert (unknown_ca, bad_certificate, ...).
    Refused,
    /// The client closed or reset the connection mid-handshake, without an alert.
    Aborted,
    /// Anything else (no common protocol version or cipher, garbage, ...).
    Other,
}

/// Why a connection is passed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassReason {
    Ignored,
    NotAllowed,
    Pinned,
}

impl PassReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PassReason::Ignored => "--ignore-hosts",
            PassReason::NotAllowed => "not in --allow-hosts",
            PassReason::Pinned => "client rejected our certificate earlier",
        }
    }
}

const MAX_AUTO: usize = 65536;

impl PassThrough {
    pub fn new(
        ignore: &[String],
        allow: &[String],
        ttl: Duration,
    ) -> Result<PassThrough, ProxyError> {
        let set = |v: &[String], what: &str| -> Result<Option<RegexSet>, ProxyError> {
            if v.is_empty() {
                return Ok(None);
            }
            regex::RegexSetBuilder::new(v)
                .case_insensitive(true)
                .build()
                .map(Some)
                .map_err(|e| ProxyError::Usage(format!("{what}: {e}")))
        };
        Ok(PassThrough {
            ignore: set(ignore, "--ignore-hosts")?,
            allow: set(allow, "--allow-hosts")?,
            ttl,
            auto: Mutex::new(HashMap::new()),
            aborts: Mutex::new(HashMap::new()),
        })
    }

    /// Whether `host` (SNI or CONNECT host, with `:port` for the regexes as mitmproxy matches
    /// `host:port`) is passed through, and why.
    pub fn check(&self, host: &str, port: u16) -> Option<PassReason> {
        let hp = format!("{host}:{port}");
        if let Some(i) = &self.ignore
            && (i.is_match(&hp) || i.is_match(host))
        {
            return Some(PassReason::Ignored);
        }
        if let Some(a) = &self.allow
            && !(a.is_match(&hp) || a.is_match(host))
        {
            return Some(PassReason::NotAllowed);
        }
        if self.ttl.is_zero() {
            return None;
        }
        let mut m = self.auto.lock().ok()?;
        match m.get(host) {
            Some(t) if t.elapsed() < self.ttl => Some(PassReason::Pinned),
            Some(_) => {
                m.remove(host);
                None
            }
            None => None,
        }
    }

    /// Records that a client aborted the handshake for `host`. Returns false when automatic
    /// pass-through is off.
    pub fn mark_pinned(&self, host: &str) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        if let Ok(mut m) = self.auto.lock() {
            if m.len() >= MAX_AUTO {
                let ttl = self.ttl;
                m.retain(|_, t| t.elapsed() < ttl);
                if m.len() >= MAX_AUTO {
                    m.clear();
                }
            }
            m.insert(host.to_string(), Instant::now());
        }
        true
    }

    /// Records a handshake for `host` that the client closed without an alert; returns true
    /// when that makes [`ABORTS_BEFORE_PASS`] in a row (within the TTL): the caller then marks
    /// the host with [`mark_pinned`](Self::mark_pinned).
    pub fn note_abort(&self, host: &str) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        let Ok(mut m) = self.aborts.lock() else {
            return false;
        };
        if m.len() >= MAX_AUTO && !m.contains_key(host) {
            let ttl = self.ttl;
            m.retain(|_, (_, t)| t.elapsed() < ttl);
            if m.len() >= MAX_AUTO {
                m.clear();
            }
        }
        let e = m.entry(host.to_string()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= self.ttl {
            *e = (0, Instant::now());
        }
        e.0 += 1;
        if e.0 >= ABORTS_BEFORE_PASS {
            m.remove(host);
            return true;
        }
        false
    }

    /// A handshake with a client for `host` succeeded: earlier aborts were not refusals.
    pub fn handshake_ok(&self, host: &str) {
        if let Ok(mut m) = self.aborts.lock()
            && !m.is_empty()
        {
            m.remove(host);
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// What a failed server-side handshake says: a certificate alert from the client is a refusal
/// of our certificate; a close or reset in the middle of the handshake may be one (clients that
/// pin certificates often just hang up) or not (browsers drop connections they no longer need);
/// any other alert (close_notify, user_canceled, protocol_version, ...) or error is neither.
pub fn classify_failure(e: &io::Error) -> HandshakeFailure {
    use rustls::AlertDescription as A;
    if let Some(inner) = e.get_ref()
        && let Some(te) = inner.downcast_ref::<rustls::Error>()
    {
        return match te {
            rustls::Error::AlertReceived(
                A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA,
            ) => HandshakeFailure::Refused,
            _ => HandshakeFailure::Other,
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe => HandshakeFailure::Aborted,
        _ => HandshakeFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_parse_sni_alpn() {
        // A minimal ClientHello: version, random, empty session id, one suite, null compression,
        // SNI "example.com" and ALPN h2,http/1.1.
        let mut ext = Vec::new();
        let name = b"Example.COM";
        let mut sni = Vec::new();
        sni.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name);
        ext.extend_from_slice(&0u16.to_be_bytes());
        ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        ext.extend_from_slice(&sni);
        let alpn_list = b"\x02h2\x08http/1.1";
        ext.extend_from_slice(&16u16.to_be_bytes());
        ext.extend_from_slice(&((alpn_list.len() + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(alpn_list.len() as u16).to_be_bytes());
        ext.extend_from_slice(alpn_list);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0u8; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
        hs.extend_from_slice(&body);
        // Split over two records to exercise joining.
        let (a, b) = hs.split_at(10);
        let mut rec = Vec::new();
        for part in [a, b] {
            rec.extend_from_slice(&[0x16, 3, 1]);
            rec.extend_from_slice(&(part.len() as u16).to_be_bytes());
            rec.extend_from_slice(part);
        }
        match parse_hello(&rec) {
            Parse::Done(h) => {
                assert_eq!(h.sni.as_deref(), Some("example.com"));
                assert_eq!(h.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
            }
            _ => panic!("not parsed"),
        }
        assert!(matches!(parse_hello(&rec[..rec.len() - 1]), Parse::More));
        assert!(
            !sni_acceptable("127.0.0.1:443")
                && sni_acceptable("::1")
                && sni_acceptable("a.example")
        );
        // Garbage never panics.
        for i in 0..rec.len() {
            let mut g = rec.clone();
            g[i] ^= 0xff;
            let _ = parse_hello(&g);
        }
    }

    #[test]
    fn pass_through_rules() {
        let p = PassThrough::new(&["^bank\\.".into()], &[], Duration::from_secs(60)).unwrap();
        assert_eq!(p.check("bank.example", 443), Some(PassReason::Ignored));
        assert_eq!(p.check("shop.example", 443), None);
        p.mark_pinned("shop.example");
        assert_eq!(p.check("shop.example", 443), Some(PassReason::Pinned));
        let a = PassThrough::new(&[], &["example\\.org".into()], Duration::ZERO).unwrap();
        assert_eq!(a.check("x.example.org", 443), None);
        assert_eq!(a.check("other.net", 443), Some(PassReason::NotAllowed));
        assert!(!a.mark_pinned("other.net"));
        assert!(!a.note_abort("other.net"));
    }

    #[test]
    fn aborts_count_only_in_a_row() {
        let p = PassThrough::new(&[], &[], Duration::from_secs(60)).unwrap();
        assert!(!p.note_abort("a.example"));
        assert!(!p.note_abort("a.example"));
        // A success in between: the aborts were not refusals.
        p.handshake_ok("a.example");
        assert!(!p.note_abort("a.example"));
        assert!(!p.note_abort("a.example"));
        assert!(!p.note_abort("b.example"));
        assert!(p.note_abort("a.example"));
        // Counting starts again.
        assert!(!p.note_abort("a.example"));
    }

    #[test]
    fn failure_kinds() {
        use rustls::AlertDescription as A;
        let alert = |a| io::Error::new(io::ErrorKind::InvalidData, rustls::Error::AlertReceived(a));
        assert_eq!(
            classify_failure(&alert(A::UnknownCA)),
            HandshakeFailure::Refused
        );
        assert_eq!(
            classify_failure(&alert(A::CertificateUnknown)),
            HandshakeFailure::Refused
        );
        assert_eq!(
            classify_failure(&alert(A::BadCertificate)),
            HandshakeFailure::Refused
        );
        assert_eq!(
            classify_failure(&alert(A::UserCanceled)),
            HandshakeFailure::Other
        );
        assert_eq!(
            classify_failure(&alert(A::CloseNotify)),
            HandshakeFailure::Other
        );
        assert_eq!(
            classify_failure(&alert(A::ProtocolVersion)),
            HandshakeFailure::Other
        );
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof");
        assert_eq!(classify_failure(&eof), HandshakeFailure::Aborted);
        let rst = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify_failure(&rst), HandshakeFailure::Aborted);
        let other = io::Error::other("something else");
        assert_eq!(classify_failure(&other), HandshakeFailure::Other);
    }
}
