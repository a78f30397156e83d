//! Key derivation: the TLS 1.0/1.1 PRF (P_MD5 ⊕ P_SHA1), the TLS 1.2 PRF (P_SHA256/P_SHA384),
//! HMAC, and TLS 1.3 HKDF-Expand-Label.

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};

/// A hash function used by TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    Md5,
    Sha1,
    Sha256,
    Sha384,
}

impl HashAlg {
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        match self {
            HashAlg::Md5 => 16,
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }

    /// HMAC over the concatenation of `parts`.
    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        macro_rules! run {
            ($h:ty) => {{
                let Ok(mut m) = <Hmac<$h> as KeyInit>::new_from_slice(key) else {
                    return Vec::new();
                };
                for p in parts {
                    m.update(p);
                }
                m.finalize().into_bytes().to_vec()
            }};
        }
        match self {
            HashAlg::Md5 => run!(Md5),
            HashAlg::Sha1 => run!(Sha1),
            HashAlg::Sha256 => run!(Sha256),
            HashAlg::Sha384 => run!(Sha384),
        }
    }

    /// Hash of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Md5 => Md5::digest(data).to_vec(),
            HashAlg::Sha1 => Sha1::digest(data).to_vec(),
            HashAlg::Sha256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => Sha384::digest(data).to_vec(),
        }
    }
}

/// P_hash (RFC 5246 §5): fills `out`.
pub fn p_hash(alg: HashAlg, secret: &[u8], seed: &[u8], out: &mut [u8]) {
    let mut a = alg.hmac(secret, &[seed]);
    let mut pos = 0;
    while pos < out.len() {
        let block = alg.hmac(secret, &[&a, seed]);
        if block.is_empty() {
            return;
        }
        let n = block.len().min(out.len() - pos);
        out[pos..pos + n].copy_from_slice(&block[..n]);
        pos += n;
        a = alg.hmac(secret, &[&a]);
    }
}

/// The TLS 1.0/1.1 PRF: P_MD5(S1) ⊕ P_SHA1(S2), the secret halves overlapping when odd.
pub fn prf_tls10(secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let half = secret.len().div_ceil(2);
    let s1 = &secret[..half];
    let s2 = &secret[secret.len() - half..];
    let mut full_seed = Vec::with_capacity(label.len() + seed.len());
    full_seed.extend_from_slice(label);
    full_seed.extend_from_slice(seed);
    let mut md5_out = vec![0u8; out.len()];
    p_hash(HashAlg::Md5, s1, &full_seed, &mut md5_out);
    p_hash(HashAlg::Sha1, s2, &full_seed, out);
    for (o, m) in out.iter_mut().zip(md5_out) {
        *o ^= m;
    }
}

/// The TLS 1.2 PRF with the suite's hash (SHA-256 unless the suite says SHA-384).
pub fn prf_tls12(alg: HashAlg, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let mut full_seed = Vec::with_capacity(label.len() + seed.len());
    full_seed.extend_from_slice(label);
    full_seed.extend_from_slice(seed);
    p_hash(alg, secret, &full_seed, out);
}

/// The PRF of a protocol version: TLS 1.2 uses `alg`, earlier versions MD5+SHA1.
pub fn prf(version: u16, alg: HashAlg, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    if version >= 0x0303 {
        prf_tls12(alg, secret, label, seed, out)
    } else {
        prf_tls10(secret, label, seed, out)
    }
}

/// HKDF-Expand (RFC 5869) with `prk`.
pub fn hkdf_expand(alg: HashAlg, prk: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut t: Vec<u8> = Vec::new();
    let mut i: u8 = 1;
    while out.len() < len {
        t = alg.hmac(prk, &[&t, info, &[i]]);
        if t.is_empty() {
            break;
        }
        let n = t.len().min(len - out.len());
        out.extend_from_slice(&t[..n]);
        i = i.wrapping_add(1);
    }
    out
}

/// TLS 1.3 HKDF-Expand-Label(secret, "tls13 " + label, context, len).
pub fn hkdf_expand_label(
    alg: HashAlg,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Vec<u8> {
    let mut info = Vec::with_capacity(4 + 6 + label.len() + context.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(context.len() as u8);
    info.extend_from_slice(context);
    hkdf_expand(alg, secret, &info, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    #[test]
    fn tls12_prf_sha256_vector() {
        // Test vector from the IETF TLS WG mailing list (PRF with SHA-256).
        let secret = [
            0x9b, 0xbe, 0x43, 0x6b, 0xa9, 0x40, 0xf0, 0x17, 0xb1, 0x76, 0x52, 0x84, 0x9a, 0x71,
            0xdb, 0x35,
        ];
        let seed = [
            0xa0, 0xba, 0x9f, 0x93, 0x6c, 0xda, 0x31, 0x18, 0x27, 0xa6, 0xf7, 0x96, 0xff, 0xd5,
            0x19, 0x8c,
        ];
        let mut out = [0u8; 100];
        prf_tls12(HashAlg::Sha256, &secret, b"test label", &seed, &mut out);
        assert_eq!(hex(&out[..16]), "e3f229ba727be17b8d122620557cd453");
    }

    #[test]
    fn hkdf_expand_label_rfc8448() {
        // RFC 8448 simple 1-RTT: server handshake traffic secret → key and iv.
        let secret: Vec<u8> = (0..32)
            .map(|i| {
                u8::from_str_radix(
                    &"b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
                        [i * 2..i * 2 + 2],
                    16,
                )
                .unwrap()
            })
            .collect();
        let key = hkdf_expand_label(HashAlg::Sha256, &secret, b"key", b"", 16);
        let iv = hkdf_expand_label(HashAlg::Sha256, &secret, b"iv", b"", 12);
        assert_eq!(hex(&key), "3fce516009c21727d0f2e4e86ee403bc");
        assert_eq!(hex(&iv), "5d313eb2671276ee13000b30");
    }
}
