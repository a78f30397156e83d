//! Cipher suites (what the key block holds for each) and record protection: AEAD (AES-GCM,
//! AES-CCM, ChaCha20-Poly1305; TLS 1.2 and 1.3 nonces), CBC with HMAC (MAC-then-encrypt and
//! encrypt-then-MAC, TLS 1.0 chained IVs), RC4 and NULL.

use aes::cipher::BlockCipherDecrypt;
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use ccm::Ccm;
use ccm::consts::{U8, U12, U16};
use chacha20poly1305::ChaCha20Poly1305;

use crate::prf::HashAlg;

/// Key exchange, as far as decryption cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kx {
    /// The client encrypts the pre-master secret to the server's RSA key.
    Rsa,
    /// (EC)DHE, PSK, ...: only a key log helps.
    Ephemeral,
    /// TLS 1.3 suites.
    Tls13,
}

/// Bulk encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enc {
    Null,
    Rc4_128,
    Aes128Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes256Gcm,
    Aes128Ccm,
    Aes256Ccm,
    Aes128Ccm8,
    Aes256Ccm8,
    Chacha20Poly1305,
}

impl Enc {
    pub fn key_len(self) -> usize {
        match self {
            Enc::Null => 0,
            Enc::Rc4_128 | Enc::Aes128Cbc | Enc::Aes128Gcm | Enc::Aes128Ccm | Enc::Aes128Ccm8 => 16,
            _ => 32,
        }
    }
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            Enc::Aes128Gcm
                | Enc::Aes256Gcm
                | Enc::Aes128Ccm
                | Enc::Aes256Ccm
                | Enc::Aes128Ccm8
                | Enc::Aes256Ccm8
                | Enc::Chacha20Poly1305
        )
    }
    pub fn is_cbc(self) -> bool {
        matches!(self, Enc::Aes128Cbc | Enc::Aes256Cbc)
    }
    /// The implicit IV from the key block (TLS 1.2) / key schedule (TLS 1.3).
    pub fn fixed_iv_len(self, version: u16) -> usize {
        match self {
            Enc::Chacha20Poly1305 => 12,
            e if e.is_aead() => {
                if version >= 0x0304 {
                    12
                } else {
                    4
                }
            }
            e if e.is_cbc() && version <= 0x0301 => 16,
            _ => 0,
        }
    }
    fn tag_len(self) -> usize {
        match self {
            Enc::Aes128Ccm8 | Enc::Aes256Ccm8 => 8,
            e if e.is_aead() => 16,
            _ => 0,
        }
    }
}

/// One cipher suite.
#[derive(Clone, Copy, Debug)]
pub struct Suite {
    pub id: u16,
    pub name: &'static str,
    pub kx: Kx,
    pub enc: Enc,
    /// Record MAC (`None` for AEAD).
    pub mac: Option<HashAlg>,
    /// PRF / transcript hash for TLS 1.2 and 1.3.
    pub prf: HashAlg,
}

macro_rules! suites {
    ($( $id:literal $name:literal $kx:ident $enc:ident $mac:tt $prf:ident; )*) => {
        static SUITES: &[Suite] = &[ $( Suite { id: $id, name: $name, kx: Kx::$kx, enc: Enc::$enc, mac: suites!(@mac $mac), prf: HashAlg::$prf } ),* ];
    };
    (@mac AEAD) => { None };
    (@mac $m:ident) => { Some(HashAlg::$m) };
}

suites! {
    0x1301 "TLS_AES_128_GCM_SHA256" Tls13 Aes128Gcm AEAD Sha256;
    0x1302 "TLS_AES_256_GCM_SHA384" Tls13 Aes256Gcm AEAD Sha384;
    0x1303 "TLS_CHACHA20_POLY1305_SHA256" Tls13 Chacha20Poly1305 AEAD Sha256;
    0x1304 "TLS_AES_128_CCM_SHA256" Tls13 Aes128Ccm AEAD Sha256;
    0x1305 "TLS_AES_128_CCM_8_SHA256" Tls13 Aes128Ccm8 AEAD Sha256;
    0x0001 "TLS_RSA_WITH_NULL_MD5" Rsa Null Md5 Sha256;
    0x0002 "TLS_RSA_WITH_NULL_SHA" Rsa Null Sha1 Sha256;
    0x003b "TLS_RSA_WITH_NULL_SHA256" Rsa Null Sha256 Sha256;
    0x0004 "TLS_RSA_WITH_RC4_128_MD5" Rsa Rc4_128 Md5 Sha256;
    0x0005 "TLS_RSA_WITH_RC4_128_SHA" Rsa Rc4_128 Sha1 Sha256;
    0x002f "TLS_RSA_WITH_AES_128_CBC_SHA" Rsa Aes128Cbc Sha1 Sha256;
    0x0035 "TLS_RSA_WITH_AES_256_CBC_SHA" Rsa Aes256Cbc Sha1 Sha256;
    0x003c "TLS_RSA_WITH_AES_128_CBC_SHA256" Rsa Aes128Cbc Sha256 Sha256;
    0x003d "TLS_RSA_WITH_AES_256_CBC_SHA256" Rsa Aes256Cbc Sha256 Sha256;
    0x009c "TLS_RSA_WITH_AES_128_GCM_SHA256" Rsa Aes128Gcm AEAD Sha256;
    0x009d "TLS_RSA_WITH_AES_256_GCM_SHA384" Rsa Aes256Gcm AEAD Sha384;
    0xc09c "TLS_RSA_WITH_AES_128_CCM" Rsa Aes128Ccm AEAD Sha256;
    0xc09d "TLS_RSA_WITH_AES_256_CCM" Rsa Aes256Ccm AEAD Sha256;
    0xc0a0 "TLS_RSA_WITH_AES_128_CCM_8" Rsa Aes128Ccm8 AEAD Sha256;
    0xc0a1 "TLS_RSA_WITH_AES_256_CCM_8" Rsa Aes256Ccm8 AEAD Sha256;
    0x0032 "TLS_DHE_DSS_WITH_AES_128_CBC_SHA" Ephemeral Aes128Cbc Sha1 Sha256;
    0x0038 "TLS_DHE_DSS_WITH_AES_256_CBC_SHA" Ephemeral Aes256Cbc Sha1 Sha256;
    0x0040 "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256" Ephemeral Aes128Cbc Sha256 Sha256;
    0x006a "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256" Ephemeral Aes256Cbc Sha256 Sha256;
    0x00a2 "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256" Ephemeral Aes128Gcm AEAD Sha256;
    0x00a3 "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384" Ephemeral Aes256Gcm AEAD Sha384;
    0x0033 "TLS_DHE_RSA_WITH_AES_128_CBC_SHA" Ephemeral Aes128Cbc Sha1 Sha256;
    0x0039 "TLS_DHE_RSA_WITH_AES_256_CBC_SHA" Ephemeral Aes256Cbc Sha1 Sha256;
    0x0067 "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256" Ephemeral Aes128Cbc Sha256 Sha256;
    0x006b "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256" Ephemeral Aes256Cbc Sha256 Sha256;
    0x009e "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" Ephemeral Aes128Gcm AEAD Sha256;
    0x009f "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" Ephemeral Aes256Gcm AEAD Sha384;
    0xccaa "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256" Ephemeral Chacha20Poly1305 AEAD Sha256;
    0xc09e "TLS_DHE_RSA_WITH_AES_128_CCM" Ephemeral Aes128Ccm AEAD Sha256;
    0xc09f "TLS_DHE_RSA_WITH_AES_256_CCM" Ephemeral Aes256Ccm AEAD Sha256;
    0xc0a2 "TLS_DHE_RSA_WITH_AES_128_CCM_8" Ephemeral Aes128Ccm8 AEAD Sha256;
    0xc0a3 "TLS_DHE_RSA_WITH_AES_256_CCM_8" Ephemeral Aes256Ccm8 AEAD Sha256;
    0xc007 "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA" Ephemeral Rc4_128 Sha1 Sha256;
    0xc009 "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" Ephemeral Aes128Cbc Sha1 Sha256;
    0xc00a "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA" Ephemeral Aes256Cbc Sha1 Sha256;
    0xc023 "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256" Ephemeral Aes128Cbc Sha256 Sha256;
    0xc024 "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384" Ephemeral Aes256Cbc Sha384 Sha384;
    0xc02b "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" Ephemeral Aes128Gcm AEAD Sha256;
    0xc02c "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" Ephemeral Aes256Gcm AEAD Sha384;
    0xcca9 "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" Ephemeral Chacha20Poly1305 AEAD Sha256;
    0xc0ac "TLS_ECDHE_ECDSA_WITH_AES_128_CCM" Ephemeral Aes128Ccm AEAD Sha256;
    0xc0ad "TLS_ECDHE_ECDSA_WITH_AES_256_CCM" Ephemeral Aes256Ccm AEAD Sha256;
    0xc0ae "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8" Ephemeral Aes128Ccm8 AEAD Sha256;
    0xc0af "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8" Ephemeral Aes256Ccm8 AEAD Sha256;
    0xc011 "TLS_ECDHE_RSA_WITH_RC4_128_SHA" Ephemeral Rc4_128 Sha1 Sha256;
    0xc013 "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" Ephemeral Aes128Cbc Sha1 Sha256;
    0xc014 "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" Ephemeral Aes256Cbc Sha1 Sha256;
    0xc027 "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" Ephemeral Aes128Cbc Sha256 Sha256;
    0xc028 "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384" Ephemeral Aes256Cbc Sha384 Sha384;
    0xc02f "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" Ephemeral Aes128Gcm AEAD Sha256;
    0xc030 "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" Ephemeral Aes256Gcm AEAD Sha384;
    0xcca8 "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" Ephemeral Chacha20Poly1305 AEAD Sha256;
    0x00a8 "TLS_PSK_WITH_AES_128_GCM_SHA256" Ephemeral Aes128Gcm AEAD Sha256;
    0x00a9 "TLS_PSK_WITH_AES_256_GCM_SHA384" Ephemeral Aes256Gcm AEAD Sha384;
    0xccab "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256" Ephemeral Chacha20Poly1305 AEAD Sha256;
}

/// The suite with this id, if wiresift can decrypt it.
pub fn suite(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

/// Key material of one direction.
pub struct DirKeys {
    pub mac_key: Vec<u8>,
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
}

/// Splits a TLS ≤ 1.2 key block into (client, server) keys.
pub fn split_key_block(s: &Suite, version: u16, kb: &[u8]) -> Option<(DirKeys, DirKeys)> {
    let m = s.mac.map_or(0, HashAlg::len);
    let k = s.enc.key_len();
    let i = s.enc.fixed_iv_len(version);
    if kb.len() < 2 * (m + k + i) {
        return None;
    }
    let mut at = 0;
    let mut take = |n: usize| {
        let v = kb[at..at + n].to_vec();
        at += n;
        v
    };
    let (cm, sm, ck, sk, ci, si) = (take(m), take(m), take(k), take(k), take(i), take(i));
    Some((
        DirKeys {
            mac_key: cm,
            key: ck,
            iv: ci,
        },
        DirKeys {
            mac_key: sm,
            key: sk,
            iv: si,
        },
    ))
}

/// Length of the TLS ≤ 1.2 key block for a suite.
pub fn key_block_len(s: &Suite, version: u16) -> usize {
    2 * (s.mac.map_or(0, HashAlg::len) + s.enc.key_len() + s.enc.fixed_iv_len(version))
}

/// RC4 (for TLS_*_RC4_128_* suites, which tshark still decrypts).
#[derive(Clone)]
pub struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    pub fn new(key: &[u8]) -> Rc4 {
        let mut s = [0u8; 256];
        for (i, x) in s.iter_mut().enumerate() {
            *x = i as u8;
        }
        let mut j: u8 = 0;
        if !key.is_empty() {
            for i in 0..256 {
                j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
                s.swap(i, usize::from(j));
            }
        }
        Rc4 { s, i: 0, j: 0 }
    }
    pub fn apply(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[usize::from(self.i)]);
            self.s.swap(usize::from(self.i), usize::from(self.j));
            let k = self.s[usize::from(
                self.s[usize::from(self.i)].wrapping_add(self.s[usize::from(self.j)]),
            )];
            *b ^= k;
        }
    }
}

enum Aead {
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
    Ccm128(Box<Ccm<aes::Aes128, U16, U12>>),
    Ccm256(Box<Ccm<aes::Aes256, U16, U12>>),
    Ccm128_8(Box<Ccm<aes::Aes128, U8, U12>>),
    Ccm256_8(Box<Ccm<aes::Aes256, U8, U12>>),
    Chacha(Box<ChaCha20Poly1305>),
}

enum Block {
    A128(Box<aes::Aes128>),
    A256(Box<aes::Aes256>),
}

enum Bulk {
    Null,
    Rc4(Box<Rc4>),
    Cbc { block: Block, iv: [u8; 16] },
    Aead(Aead),
}

/// Why a record could not be decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// Authentication tag or MAC mismatch: wrong key, or bytes missing/damaged.
    BadMac,
    /// The record is too short or its padding is invalid.
    Malformed,
}

impl DecryptError {
    pub fn as_str(self) -> &'static str {
        match self {
            DecryptError::BadMac => "authentication failed (wrong key, or damaged/missing bytes)",
            DecryptError::Malformed => "malformed encrypted record (bad length or padding)",
        }
    }
}

/// Record protection of one direction, with its sequence number.
pub struct DirCipher {
    bulk: Bulk,
    enc: Enc,
    mac: Option<HashAlg>,
    mac_key: Vec<u8>,
    iv: Vec<u8>,
    version: u16,
    etm: bool,
    pub seq: u64,
}

impl DirCipher {
    /// `version` is the negotiated protocol version (0x0304 for TLS 1.3); `etm` the
    /// encrypt_then_mac extension (CBC suites only).
    pub fn new(
        enc: Enc,
        mac: Option<HashAlg>,
        keys: DirKeys,
        version: u16,
        etm: bool,
    ) -> Option<DirCipher> {
        let k = &keys.key[..];
        let bulk = match enc {
            Enc::Null => Bulk::Null,
            Enc::Rc4_128 => Bulk::Rc4(Box::new(Rc4::new(k))),
            Enc::Aes128Cbc | Enc::Aes256Cbc => {
                let block = if enc == Enc::Aes128Cbc {
                    Block::A128(Box::new(aes::Aes128::new_from_slice(k).ok()?))
                } else {
                    Block::A256(Box::new(aes::Aes256::new_from_slice(k).ok()?))
                };
                let mut iv = [0u8; 16];
                if keys.iv.len() == 16 {
                    iv.copy_from_slice(&keys.iv);
                }
                Bulk::Cbc { block, iv }
            }
            Enc::Aes128Gcm => {
                Bulk::Aead(Aead::Gcm128(Box::new(Aes128Gcm::new_from_slice(k).ok()?)))
            }
            Enc::Aes256Gcm => {
                Bulk::Aead(Aead::Gcm256(Box::new(Aes256Gcm::new_from_slice(k).ok()?)))
            }
            Enc::Aes128Ccm => Bulk::Aead(Aead::Ccm128(Box::new(KeyInit::new_from_slice(k).ok()?))),
            Enc::Aes256Ccm => Bulk::Aead(Aead::Ccm256(Box::new(KeyInit::new_from_slice(k).ok()?))),
            Enc::Aes128Ccm8 => {
                Bulk::Aead(Aead::Ccm128_8(Box::new(KeyInit::new_from_slice(k).ok()?)))
            }
            Enc::Aes256Ccm8 => {
                Bulk::Aead(Aead::Ccm256_8(Box::new(KeyInit::new_from_slice(k).ok()?)))
            }
            Enc::Chacha20Poly1305 => Bulk::Aead(Aead::Chacha(Box::new(
                ChaCha20Poly1305::new_from_slice(k).ok()?,
            ))),
        };
        Some(DirCipher {
            bulk,
            enc,
            mac,
            mac_key: keys.mac_key,
            iv: keys.iv,
            version,
            etm: etm && enc.is_cbc(),
            seq: 0,
        })
    }

    /// TLS 1.3 traffic keys from a traffic secret.
    pub fn tls13(s: &Suite, secret: &[u8]) -> Option<DirCipher> {
        let key = crate::prf::hkdf_expand_label(s.prf, secret, b"key", b"", s.enc.key_len());
        let iv = crate::prf::hkdf_expand_label(s.prf, secret, b"iv", b"", 12);
        DirCipher::new(
            s.enc,
            None,
            DirKeys {
                mac_key: Vec::new(),
                key,
                iv,
            },
            0x0304,
            false,
        )
    }

    fn mac_of(&self, ctype: u8, rversion: u16, content: &[u8]) -> Vec<u8> {
        let Some(alg) = self.mac else {
            return Vec::new();
        };
        let mut hdr = [0u8; 13];
        hdr[..8].copy_from_slice(&self.seq.to_be_bytes());
        hdr[8] = ctype;
        hdr[9..11].copy_from_slice(&rversion.to_be_bytes());
        hdr[11..13].copy_from_slice(&(content.len() as u16).to_be_bytes());
        alg.hmac(&self.mac_key, &[&hdr, content])
    }

    fn nonce(&self, explicit: Option<&[u8]>) -> [u8; 12] {
        let mut n = [0u8; 12];
        match explicit {
            Some(e) => {
                n[..4].copy_from_slice(&self.iv[..4.min(self.iv.len())]);
                n[4..].copy_from_slice(e);
            }
            None => {
                let l = self.iv.len().min(12);
                n[12 - l..].copy_from_slice(&self.iv[..l]);
                let s = self.seq.to_be_bytes();
                for i in 0..8 {
                    n[4 + i] ^= s[i];
                }
            }
        }
        n
    }

    /// Decrypts one record payload. `ctype`/`rversion` come from the record header. Returns
    /// the content type (the inner one for TLS 1.3) and the plaintext; the sequence number
    /// advances on success.
    pub fn decrypt(
        &mut self,
        ctype: u8,
        rversion: u16,
        payload: &[u8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        let r = self.decrypt_inner(ctype, rversion, payload);
        if r.is_ok() {
            self.seq = self.seq.wrapping_add(1);
        }
        r
    }

    fn decrypt_inner(
        &mut self,
        ctype: u8,
        rversion: u16,
        payload: &[u8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        let tls13 = self.version >= 0x0304;
        match &mut self.bulk {
            Bulk::Null => {
                let ml = self.mac.map_or(0, HashAlg::len);
                let n = payload
                    .len()
                    .checked_sub(ml)
                    .ok_or(DecryptError::Malformed)?;
                let (content, mac) = payload.split_at(n);
                if self.mac_of(ctype, rversion, content) != mac {
                    return Err(DecryptError::BadMac);
                }
                Ok((ctype, content.to_vec()))
            }
            Bulk::Rc4(rc4) => {
                let ml = self.mac.map_or(0, HashAlg::len);
                if payload.len() < ml {
                    return Err(DecryptError::Malformed);
                }
                // The keystream advances even when the MAC check fails: keep a copy to roll back.
                let saved = rc4.clone();
                let mut buf = payload.to_vec();
                rc4.apply(&mut buf);
                let n = buf.len() - ml;
                let ok = self.mac_of(ctype, rversion, &buf[..n]) == buf[n..];
                if !ok {
                    if let Bulk::Rc4(r) = &mut self.bulk {
                        *r = saved;
                    }
                    return Err(DecryptError::BadMac);
                }
                buf.truncate(n);
                Ok((ctype, buf))
            }
            Bulk::Cbc { block, iv } => {
                let ml = self.mac.map_or(0, HashAlg::len);
                let (ct, mac_tail) = if self.etm {
                    let n = payload
                        .len()
                        .checked_sub(ml)
                        .ok_or(DecryptError::Malformed)?;
                    payload.split_at(n)
                } else {
                    (payload, &[][..])
                };
                if ct.is_empty() || ct.len() % 16 != 0 {
                    return Err(DecryptError::Malformed);
                }
                if self.etm {
                    let mut hdr = [0u8; 13];
                    hdr[..8].copy_from_slice(&self.seq.to_be_bytes());
                    hdr[8] = ctype;
                    hdr[9..11].copy_from_slice(&rversion.to_be_bytes());
                    hdr[11..13].copy_from_slice(&(ct.len() as u16).to_be_bytes());
                    let alg = self.mac.ok_or(DecryptError::Malformed)?;
                    if alg.hmac(&self.mac_key, &[&hdr, ct]) != mac_tail {
                        return Err(DecryptError::BadMac);
                    }
                }
                let mut buf = ct.to_vec();
                let mut prev = *iv;
                for chunk in buf.chunks_exact_mut(16) {
                    let mut c = [0u8; 16];
                    c.copy_from_slice(chunk);
                    let b: &mut aes::Block =
                        chunk.try_into().map_err(|_| DecryptError::Malformed)?;
                    match block {
                        Block::A128(k) => k.decrypt_block(b),
                        Block::A256(k) => k.decrypt_block(b),
                    }
                    for (x, p) in chunk.iter_mut().zip(prev) {
                        *x ^= p;
                    }
                    prev = c;
                }
                let explicit_iv = self.version >= 0x0302;
                let next_iv = prev;
                let start = if explicit_iv { 16 } else { 0 };
                let pad = usize::from(*buf.last().ok_or(DecryptError::Malformed)?);
                let after_pad = buf
                    .len()
                    .checked_sub(pad + 1)
                    .ok_or(DecryptError::Malformed)?;
                if after_pad < start
                    || buf[after_pad..buf.len() - 1]
                        .iter()
                        .any(|&p| usize::from(p) != pad)
                {
                    return Err(DecryptError::Malformed);
                }
                let content_end = if self.etm {
                    after_pad
                } else {
                    after_pad
                        .checked_sub(ml)
                        .filter(|&e| e >= start)
                        .ok_or(DecryptError::Malformed)?
                };
                let content = &buf[start..content_end];
                if !self.etm && self.mac_of(ctype, rversion, content) != buf[content_end..after_pad]
                {
                    return Err(DecryptError::BadMac);
                }
                let out = content.to_vec();
                if let Bulk::Cbc { iv, .. } = &mut self.bulk {
                    *iv = next_iv;
                }
                Ok((ctype, out))
            }
            Bulk::Aead(_) => {
                let tag_len = self.enc.tag_len();
                let explicit = !tls13 && self.enc != Enc::Chacha20Poly1305;
                let (nonce, body) = if explicit {
                    if payload.len() < 8 {
                        return Err(DecryptError::Malformed);
                    }
                    let (e, b) = payload.split_at(8);
                    (self.nonce(Some(e)), b)
                } else {
                    (self.nonce(None), payload)
                };
                let n = body
                    .len()
                    .checked_sub(tag_len)
                    .ok_or(DecryptError::Malformed)?;
                let (ct, tag) = body.split_at(n);
                let mut aad = [0u8; 13];
                let aad: &[u8] = if tls13 {
                    aad[0] = ctype;
                    aad[1..3].copy_from_slice(&rversion.to_be_bytes());
                    aad[3..5].copy_from_slice(&(payload.len() as u16).to_be_bytes());
                    &aad[..5]
                } else {
                    aad[..8].copy_from_slice(&self.seq.to_be_bytes());
                    aad[8] = ctype;
                    aad[9..11].copy_from_slice(&rversion.to_be_bytes());
                    aad[11..13].copy_from_slice(&(ct.len() as u16).to_be_bytes());
                    &aad[..]
                };
                let mut buf = ct.to_vec();
                let Bulk::Aead(a) = &self.bulk else {
                    return Err(DecryptError::Malformed);
                };
                macro_rules! open {
                    ($c:expr) => {{
                        let nonce = (&nonce[..])
                            .try_into()
                            .map_err(|_| DecryptError::Malformed)?;
                        let tag = tag.try_into().map_err(|_| DecryptError::Malformed)?;
                        $c.decrypt_inout_detached(nonce, aad, (&mut buf[..]).into(), tag)
                            .map_err(|_| DecryptError::BadMac)?
                    }};
                }
                match a {
                    Aead::Gcm128(c) => open!(c),
                    Aead::Gcm256(c) => open!(c),
                    Aead::Ccm128(c) => open!(c),
                    Aead::Ccm256(c) => open!(c),
                    Aead::Ccm128_8(c) => open!(c),
                    Aead::Ccm256_8(c) => open!(c),
                    Aead::Chacha(c) => open!(c),
                }
                if tls13 {
                    // TLSInnerPlaintext: content, type, zero padding.
                    let end = buf
                        .iter()
                        .rposition(|&b| b != 0)
                        .ok_or(DecryptError::Malformed)?;
                    let inner = buf[end];
                    buf.truncate(end);
                    Ok((inner, buf))
                } else {
                    Ok((ctype, buf))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc4_vector() {
        let mut b = *b"Plaintext";
        Rc4::new(b"Key").apply(&mut b);
        assert_eq!(crate::hex(&b), "bbf316e8d940af0ad3");
    }

    #[test]
    fn every_suite_has_consistent_lengths() {
        for s in SUITES {
            assert!(
                s.mac.is_some() != s.enc.is_aead() || s.enc == Enc::Null,
                "{}",
                s.name
            );
            let _ = key_block_len(s, 0x0303);
        }
    }

    #[test]
    fn short_and_garbage_records_are_errors() {
        for &id in &[0x1301u16, 0xc02f, 0xc013, 0x0005, 0xcca8, 0xc09c, 0x0002] {
            let s = suite(id).unwrap();
            let v = if s.kx == Kx::Tls13 { 0x0304 } else { 0x0303 };
            for ver in [v, 0x0301] {
                let kb = vec![7u8; key_block_len(s, ver)];
                let (c, _) = split_key_block(s, ver, &kb).unwrap();
                let mut d = DirCipher::new(s.enc, s.mac, c, ver, false).unwrap();
                for len in [0usize, 1, 8, 15, 16, 31, 32, 64, 100] {
                    let p = vec![0x5au8; len];
                    assert!(d.decrypt(23, 0x0303, &p).is_err(), "{} {len}", s.name);
                }
            }
        }
    }
}
