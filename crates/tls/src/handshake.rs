//! Handshake message parsing: ClientHello and ServerHello with the extensions decryption and
//! the fields need (SNI, ALPN, supported_versions, key_share, session ticket, EMS, EtM, early
//! data), HelloRetryRequest, NewSessionTicket and ClientKeyExchange. Every read is checked.

/// Handshake message types.
pub mod msg {
    pub const HELLO_REQUEST: u8 = 0;
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const END_OF_EARLY_DATA: u8 = 5;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
    pub const KEY_UPDATE: u8 = 24;
}

/// Extension types.
pub mod ext {
    pub const SERVER_NAME: u16 = 0;
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    pub const ALPN: u16 = 16;
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    pub const SESSION_TICKET: u16 = 35;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const EARLY_DATA: u16 = 42;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const KEY_SHARE: u16 = 51;
}

/// The ServerHello.random of a HelloRetryRequest (SHA-256 of "HelloRetryRequest").
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// GREASE values (RFC 8701): 0x?a?a with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

struct Cur<'a> {
    b: &'a [u8],
}

impl<'a> Cur<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&x, rest) = self.b.split_first()?;
        self.b = rest;
        Some(x)
    }
    fn u16(&mut self) -> Option<u16> {
        let v = self.take(2)?;
        Some(u16::from_be_bytes([v[0], v[1]]))
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Some(a)
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// A ClientHello, as far as wiresift uses it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    /// Extension types in order.
    pub extensions: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub supported_versions: Vec<u16>,
    pub signature_algorithms: Vec<u16>,
    pub key_share_groups: Vec<u16>,
    /// Session ticket sent for resumption (empty extension = "I support tickets").
    pub ticket: Option<Vec<u8>>,
    pub ems: bool,
    pub etm: bool,
    pub early_data: bool,
    pub psk: bool,
}

/// A ServerHello (or HelloRetryRequest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// The negotiated version: supported_versions when present, else legacy_version.
    pub version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suite: u16,
    pub extensions: Vec<u16>,
    pub alpn: Option<String>,
    pub ems: bool,
    pub etm: bool,
    pub ticket_ack: bool,
    pub key_share_group: Option<u16>,
    pub hrr: bool,
}

fn parse_alpn_list(b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut c = Cur { b };
    let Some(list) = c.vec16() else { return out };
    let mut l = Cur { b: list };
    while let Some(p) = l.vec8() {
        if out.len() < 32 {
            out.push(String::from_utf8_lossy(p).into_owned());
        }
    }
    out
}

fn parse_sni(b: &[u8]) -> Option<String> {
    let mut c = Cur { b };
    let list = c.vec16()?;
    let mut l = Cur { b: list };
    while !l.b.is_empty() {
        let t = l.u8()?;
        let name = l.vec16()?;
        if t == 0 {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    None
}

fn u16_list(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect()
}

/// Parses a ClientHello body (after the 4-byte handshake header).
pub fn parse_client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut c = Cur { b: body };
    let mut ch = ClientHello {
        version: c.u16()?,
        ..Default::default()
    };
    ch.random.copy_from_slice(c.take(32)?);
    ch.session_id = c.vec8()?.to_vec();
    ch.cipher_suites = u16_list(c.vec16()?);
    c.vec8()?; // compression methods
    if c.b.is_empty() {
        return Some(ch);
    }
    let exts = c.vec16()?;
    let mut e = Cur { b: exts };
    while !e.b.is_empty() {
        let t = e.u16()?;
        let d = e.vec16()?;
        if ch.extensions.len() < 256 {
            ch.extensions.push(t);
        }
        match t {
            ext::SERVER_NAME => ch.sni = parse_sni(d),
            ext::ALPN => ch.alpn = parse_alpn_list(d),
            ext::SUPPORTED_VERSIONS => {
                let mut x = Cur { b: d };
                if let Some(l) = x.vec8() {
                    ch.supported_versions = u16_list(l);
                }
            }
            ext::SIGNATURE_ALGORITHMS => {
                let mut x = Cur { b: d };
                if let Some(l) = x.vec16() {
                    ch.signature_algorithms = u16_list(l);
                }
            }
            ext::KEY_SHARE => {
                let mut x = Cur { b: d };
                if let Some(l) = x.vec16() {
                    let mut k = Cur { b: l };
                    while let (Some(g), Some(_)) = (k.u16(), k.vec16()) {
                        ch.key_share_groups.push(g);
                    }
                }
            }
            ext::SESSION_TICKET => ch.ticket = Some(d.to_vec()),
            ext::EXTENDED_MASTER_SECRET => ch.ems = true,
            ext::ENCRYPT_THEN_MAC => ch.etm = true,
            ext::EARLY_DATA => ch.early_data = true,
            ext::PRE_SHARED_KEY => ch.psk = true,
            _ => {}
        }
    }
    Some(ch)
}

/// Parses a ServerHello body.
pub fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut c = Cur { b: body };
    let mut sh = ServerHello {
        legacy_version: c.u16()?,
        ..Default::default()
    };
    sh.version = sh.legacy_version;
    sh.random.copy_from_slice(c.take(32)?);
    sh.hrr = sh.random == HRR_RANDOM;
    sh.session_id = c.vec8()?.to_vec();
    sh.cipher_suite = c.u16()?;
    c.u8()?; // compression
    if c.b.is_empty() {
        return Some(sh);
    }
    let exts = c.vec16()?;
    let mut e = Cur { b: exts };
    while !e.b.is_empty() {
        let t = e.u16()?;
        let d = e.vec16()?;
        if sh.extensions.len() < 256 {
            sh.extensions.push(t);
        }
        match t {
            ext::SUPPORTED_VERSIONS if d.len() == 2 => {
                sh.version = u16::from_be_bytes([d[0], d[1]])
            }
            ext::ALPN => sh.alpn = parse_alpn_list(d).into_iter().next(),
            ext::EXTENDED_MASTER_SECRET => sh.ems = true,
            ext::ENCRYPT_THEN_MAC => sh.etm = true,
            ext::SESSION_TICKET => sh.ticket_ack = true,
            ext::KEY_SHARE if d.len() >= 2 => {
                sh.key_share_group = Some(u16::from_be_bytes([d[0], d[1]]))
            }
            _ => {}
        }
    }
    Some(sh)
}

/// The ticket of a TLS ≤ 1.2 NewSessionTicket body.
pub fn parse_new_session_ticket12(body: &[u8]) -> Option<Vec<u8>> {
    let mut c = Cur { b: body };
    c.take(4)?;
    Some(c.vec16()?.to_vec())
}

/// The encrypted pre-master secret of an RSA ClientKeyExchange (TLS 1.0+: with a 2-byte
/// length; SSL 3.0 style without it is accepted when the length does not fit).
pub fn rsa_encrypted_premaster(body: &[u8]) -> &[u8] {
    let mut c = Cur { b: body };
    match c.vec16() {
        Some(v) if c.b.is_empty() => v,
        _ => body,
    }
}

/// Name of a handshake type, as Wireshark's Info column has it.
pub fn msg_name(t: u8) -> &'static str {
    match t {
        msg::HELLO_REQUEST => "Hello Request",
        msg::CLIENT_HELLO => "Client Hello",
        msg::SERVER_HELLO => "Server Hello",
        msg::NEW_SESSION_TICKET => "New Session Ticket",
        msg::END_OF_EARLY_DATA => "End of Early Data",
        msg::ENCRYPTED_EXTENSIONS => "Encrypted Extensions",
        msg::CERTIFICATE => "Certificate",
        msg::SERVER_KEY_EXCHANGE => "Server Key Exchange",
        msg::CERTIFICATE_REQUEST => "Certificate Request",
        msg::SERVER_HELLO_DONE => "Server Hello Done",
        msg::CERTIFICATE_VERIFY => "Certificate Verify",
        msg::CLIENT_KEY_EXCHANGE => "Client Key Exchange",
        msg::FINISHED => "Finished",
        msg::KEY_UPDATE => "Key Update",
        _ => "Handshake",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_client_hello() -> Vec<u8> {
        // version, random, sid, suites, compression, extensions (SNI, ALPN, supported_versions)
        let mut b = vec![3, 3];
        b.extend([0x11; 32]);
        b.push(0);
        b.extend([0, 4, 0x13, 0x01, 0x0a, 0x0a]);
        b.extend([1, 0]);
        let mut exts = Vec::new();
        let name = b"example.com";
        let mut sni = vec![0, (name.len() + 3) as u8, 0, 0, name.len() as u8];
        sni.extend(name);
        exts.extend([0, 0, 0, sni.len() as u8]);
        exts.extend(&sni);
        let alpn = [
            0u8, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
        ];
        exts.extend([0, 16, 0, alpn.len() as u8]);
        exts.extend(alpn);
        exts.extend([0, 43, 0, 5, 4, 3, 4, 3, 3]);
        b.extend((exts.len() as u16).to_be_bytes());
        b.extend(exts);
        b
    }

    #[test]
    fn client_hello_fields() {
        let ch = parse_client_hello(&sample_client_hello()).unwrap();
        assert_eq!(ch.sni.as_deref(), Some("example.com"));
        assert_eq!(ch.alpn, vec!["h2".to_string(), "http/1.1".to_string()]);
        assert_eq!(ch.supported_versions, vec![0x0304, 0x0303]);
        assert_eq!(ch.cipher_suites, vec![0x1301, 0x0a0a]);
        assert_eq!(ch.extensions, vec![0, 16, 43]);
    }

    #[test]
    fn truncated_hellos_never_panic() {
        let b = sample_client_hello();
        for n in 0..b.len() {
            let _ = parse_client_hello(&b[..n]);
            let _ = parse_server_hello(&b[..n]);
        }
    }
}
