//! `wiresift ca`: create, export and explain how to install the proxy's CA certificate.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use wiresift_proxy::ca::{self, Authority};

use crate::Outcome;

#[derive(Args, Debug)]
pub struct CaArgs {
    #[command(subcommand)]
    pub cmd: CaCmd,
    /// Directory of the CA (default: $XDG_CONFIG_HOME/wiresift or ~/.config/wiresift)
    #[arg(long, global = true)]
    pub confdir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum CaCmd {
    /// Create the CA if it does not exist yet and print where it is
    Init,
    /// Write the CA certificate (never the key) to stdout or a file
    Export {
        #[arg(long, value_enum, default_value = "pem")]
        format: Format,
        /// Output file (default: stdout)
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// How to make clients trust the CA: per OS, browser, Android, tools
    InstallHelp,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    Pem,
    Der,
    P12,
}

fn load(confdir: &Option<PathBuf>) -> Result<(Authority, bool, PathBuf)> {
    let dir = confdir.clone().unwrap_or_else(ca::default_confdir);
    let provider = rustls::crypto::ring::default_provider();
    let (a, created) = Authority::load_or_create(&dir, &provider)
        .with_context(|| format!("CA in {}", dir.display()))?;
    Ok((a, created, dir))
}

pub fn run(a: CaArgs) -> Result<Outcome> {
    match a.cmd {
        CaCmd::Init => {
            let (_, created, dir) = load(&a.confdir)?;
            println!(
                "{} {}\nkey:         {} (mode 0600; keep it private)\ncertificate: {}\nDER:         {}\nPKCS#12:     {}",
                if created {
                    "created CA in"
                } else {
                    "CA already exists in"
                },
                dir.display(),
                dir.join(ca::KEY_FILE).display(),
                dir.join(ca::CERT_FILE).display(),
                dir.join(ca::CERT_DER_FILE).display(),
                dir.join(ca::CERT_P12_FILE).display()
            );
        }
        CaCmd::Export { format, output } => {
            let (auth, created, dir) = load(&a.confdir)?;
            if created {
                eprintln!("wiresift ca: created a new CA in {}", dir.display());
            }
            let data: Vec<u8> = match format {
                Format::Pem => auth.cert_pem.clone().into_bytes(),
                Format::Der => auth.cert_der.to_vec(),
                Format::P12 => wiresift_proxy::p12::cert_only(&auth.cert_der),
            };
            match output {
                Some(p) => std::fs::write(&p, &data).with_context(|| format!("{}", p.display()))?,
                None => {
                    let mut o = std::io::stdout().lock();
                    o.write_all(&data)?;
                    o.flush()?;
                }
            }
        }
        CaCmd::InstallHelp => {
            let dir = a.confdir.clone().unwrap_or_else(ca::default_confdir);
            print!("{}", install_help(&dir));
        }
    }
    Ok(Outcome::Ok)
}

fn install_help(dir: &std::path::Path) -> String {
    let pem = dir.join(ca::CERT_FILE);
    let der = dir.join(ca::CERT_DER_FILE);
    let p12 = dir.join(ca::CERT_P12_FILE);
    let pem = pem.display();
    let der = der.display();
    let p12 = p12.display();
    format!(
        r#"Installing the wiresift CA certificate
=======================================
The proxy signs a certificate for every intercepted host with its own CA. Clients must trust
that CA, and only on machines you control. Files (created by `wiresift ca init` or the first
`wiresift proxy` run):
  PEM  {pem}
  DER  {der}
  P12  {p12}   (certificate only, no key, empty password)
Never share the key file (wiresift-ca-key.pem) in the same directory.

Linux (Debian/Ubuntu, system store: curl, wget, python requests via certifi excluded)
  sudo cp {pem} /usr/local/share/ca-certificates/wiresift.crt && sudo update-ca-certificates
Linux (Fedora/RHEL/Arch)
  sudo trust anchor --store {pem}        # or: cp to /etc/pki/ca-trust/source/anchors/ && update-ca-trust

macOS
  sudo security add-trusted-cert -d -p ssl -p basic -k /Library/Keychains/System.keychain {pem}
  (or open the file in Keychain Access, then set "When using this certificate: Always Trust")

Windows
  certutil -addstore root {der}
  (or double-click the .p12, "Place all certificates in the following store" → Trusted Root
  Certification Authorities)

iOS
  Send yourself the PEM file (AirDrop, mail), install the profile in Settings → General → VPN &
  Device Management, then enable full trust in Settings → General → About → Certificate Trust
  Settings.

Android
  Settings → Security → Encryption & credentials → Install a certificate → CA certificate, pick
  the PEM or DER file. Since Android 7, apps trust user CAs only if their network security
  config opts in (debuggable builds: <debug-overrides>); Chrome on Android does trust them.
  System store (rooted devices): the file name is the subject hash:
    openssl x509 -inform PEM -subject_hash_old -in {pem} | head -1   → HASH
    cp {pem} /system/etc/security/cacerts/HASH.0 (Android ≤ 13)
  Android 14 reads system CAs from the Conscrypt APEX (/apex/com.android.conscrypt/cacerts);
  copying to /system no longer works. Bind-mount a tmpfs with the CA over that directory in the
  zygote's and every app's mount namespace (what the mitmproxy and HTTP Toolkit helper scripts
  automate), or use a Magisk module that does the same.

Firefox (own store, all OSes)
  Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import, pick
  the PEM and tick "Trust this CA to identify websites"; or set security.enterprise_roots.enabled
  to true to use the OS store.

Chrome / Chromium
  Windows and macOS: the OS store. Linux: the NSS database:
    certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n wiresift -i {pem}
  Testing only: --ignore-certificate-errors-spki-list=BASE64(SHA-256 of the CA's SPKI).

Tools
  curl --cacert {pem} -x http://127.0.0.1:8080 https://example.com/
  python requests: REQUESTS_CA_BUNDLE={pem}    Node: NODE_EXTRA_CA_CERTS={pem}
  Java: keytool -importcert -alias wiresift -file {der} -cacerts
  Go: SSL_CERT_FILE={pem} (Linux)

Apps that pin their certificates refuse every CA you add: wiresift notices the refused
handshake (a certificate alert, or three handshakes in a row dropped without one) and passes
that host through for --passthrough-ttl (default 10 minutes).
"#
    )
}
