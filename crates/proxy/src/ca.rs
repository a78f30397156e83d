//! The proxy's certificate authority: created on first use in the configuration directory (key
//! 0600), reused afterwards; leaf certificates minted per host on the fly and cached.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::ProxyError;

/// File names inside the configuration directory.
pub const KEY_FILE: &str = "wiresift-ca-key.pem";
pub const CERT_FILE: &str = "wiresift-ca-cert.pem";
pub const CERT_DER_FILE: &str = "wiresift-ca-cert.cer";
pub const CERT_P12_FILE: &str = "wiresift-ca-cert.p12";

/// Leaf certificates (server configurations) kept; the oldest half is dropped beyond this.
const LEAF_CACHE: usize = 4096;

/// The default configuration directory: `$XDG_CONFIG_HOME/wiresift` or `~/.config/wiresift`.
pub fn default_confdir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("wiresift");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(h).join(".config").join("wiresift");
    }
    PathBuf::from(".wiresift")
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "wiresift CA");
    dn.push(DnType::OrganizationName, "wiresift");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

fn year_now() -> i32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    1970 + (secs / 31_556_952) as i32
}

fn err(path: &Path, e: impl std::fmt::Display) -> ProxyError {
    ProxyError::Ca(format!("{}: {e}", path.display()))
}

/// The CA: its certificate, an issuer for leaves, one key shared by every leaf (as mitmproxy
/// does; minting is then one signature), and the cache of leaf certificates per host.
pub struct Authority {
    pub dir: PathBuf,
    pub cert_der: CertificateDer<'static>,
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
    leaf_key: KeyPair,
    leaf_signer: Arc<dyn rustls::sign::SigningKey>,
    cache: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    serial: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").field("dir", &self.dir).finish()
    }
}

impl Authority {
    /// Loads the CA from `dir`, creating it (and the directory) when it does not exist.
    /// Returns the authority and whether it was created now.
    pub fn load_or_create(
        dir: &Path,
        provider: &CryptoProvider,
    ) -> Result<(Authority, bool), ProxyError> {
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        let created = !key_path.exists();
        let (key, cert_pem) = if created {
            fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
            let key = KeyPair::generate().map_err(|e| err(dir, e))?;
            let mut params = ca_params();
            let y = year_now();
            params.not_before = rcgen::date_time_ymd(y - 1, 1, 1);
            params.not_after = rcgen::date_time_ymd(y + 10, 1, 1);
            let cert = params.self_signed(&key).map_err(|e| err(dir, e))?;
            write_private(&key_path, key.serialize_pem().as_bytes())?;
            fs::write(&cert_path, cert.pem()).map_err(|e| err(&cert_path, e))?;
            let der_path = dir.join(CERT_DER_FILE);
            fs::write(&der_path, cert.der()).map_err(|e| err(&der_path, e))?;
            let p12_path = dir.join(CERT_P12_FILE);
            fs::write(&p12_path, crate::p12::cert_only(cert.der()))
                .map_err(|e| err(&p12_path, e))?;
            (key, cert.pem())
        } else {
            let pem = fs::read_to_string(&key_path).map_err(|e| err(&key_path, e))?;
            let key = KeyPair::from_pem(&pem).map_err(|e| err(&key_path, e))?;
            let cert_pem = fs::read_to_string(&cert_path).map_err(|e| err(&cert_path, e))?;
            (key, cert_pem)
        };
        let cert_der =
            pem_cert(&cert_pem).ok_or_else(|| err(&cert_path, "no certificate in the file"))?;
        let leaf_key = KeyPair::generate().map_err(|e| err(dir, e))?;
        let leaf_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let leaf_signer = provider
            .key_provider
            .load_private_key(leaf_der)
            .map_err(|e| err(dir, e))?;
        Ok((
            Authority {
                dir: dir.to_path_buf(),
                cert_der,
                cert_pem,
                issuer: Issuer::new(ca_params(), key),
                leaf_key,
                leaf_signer,
                cache: Mutex::new(HashMap::new()),
                serial: std::sync::atomic::AtomicU64::new(
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_micros() as u64)
                        .unwrap_or(1),
                ),
            },
            created,
        ))
    }

    /// A certificate for `host` (a DNS name or an IP address), minted once and cached.
    pub fn leaf(&self, host: &str) -> Result<Arc<CertifiedKey>, ProxyError> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if let Ok(c) = self.cache.lock()
            && let Some(ck) = c.get(&host)
        {
            return Ok(ck.clone());
        }
        let mut p = CertificateParams::default();
        let san = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                host.clone()
                    .try_into()
                    .map_err(|e| ProxyError::Ca(format!("host {host:?}: {e}")))?,
            ),
        };
        p.subject_alt_names = vec![san];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, host.as_str());
        dn.push(DnType::OrganizationName, "wiresift");
        p.distinguished_name = dn;
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.use_authority_key_identifier_extension = true;
        let y = year_now();
        // Under 825 days, as Apple requires of leaf certificates.
        p.not_before = rcgen::date_time_ymd(y - 1, 6, 1);
        p.not_after = rcgen::date_time_ymd(y + 1, 1, 1);
        let n = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        p.serial_number = Some(SerialNumber::from_slice(&n.to_be_bytes()));
        let cert = p
            .signed_by(&self.leaf_key, &self.issuer)
            .map_err(|e| ProxyError::Ca(format!("minting a certificate for {host}: {e}")))?;
        let ck = Arc::new(CertifiedKey::new(
            vec![cert.der().clone(), self.cert_der.clone()],
            self.leaf_signer.clone(),
        ));
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= LEAF_CACHE {
                let drop: Vec<String> = c.keys().take(LEAF_CACHE / 2).cloned().collect();
                for k in drop {
                    c.remove(&k);
                }
            }
            c.insert(host, ck.clone());
        }
        Ok(ck)
    }

    /// Number of cached leaves (for tests and statistics).
    pub fn cached(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// Always the same certificate (the leaf for the host chosen before the handshake).
#[derive(Debug)]
pub struct FixedCert(pub Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), ProxyError> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(|e| err(path, e))?;
    f.write_all(data).map_err(|e| err(path, e))
}

/// The first certificate of a PEM text.
pub fn pem_cert(pem: &str) -> Option<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes()).next()?.ok()
}

/// Every certificate of a PEM file.
pub fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ProxyError> {
    use rustls::pki_types::pem::PemObject;
    let v: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(path, e))?
        .collect();
    let v = v.map_err(|e| err(path, e))?;
    if v.is_empty() {
        return Err(err(path, "no certificate in the file"));
    }
    Ok(v)
}
