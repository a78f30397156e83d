//! A certificate-only PKCS#12 file (no key, no password), the form mitmproxy offers for
//! Windows and Android certificate import.

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let b = len.to_be_bytes();
        let skip = b.iter().take_while(|&&x| x == 0).count();
        out.push(0x80 | (b.len() - skip) as u8);
        out.extend_from_slice(&b[skip..]);
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 6);
    v.push(tag);
    der_len(&mut v, body.len());
    v.extend_from_slice(body);
    v
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(bytes: &[u8]) -> Vec<u8> {
    tlv(0x06, bytes)
}

// 1.2.840.113549.1.7.1 (data)
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
// 1.2.840.113549.1.12.10.1.3 (certBag)
const OID_CERT_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x03,
];
// 1.2.840.113549.1.9.22.1 (x509Certificate)
const OID_X509: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01];

/// PFX { version 3, authSafe = data { [ data { SafeContents { certBag } } ] } }.
pub fn cert_only(cert_der: &[u8]) -> Vec<u8> {
    let cert_bag = seq(&[&oid(OID_X509), &tlv(0xa0, &tlv(0x04, cert_der))]);
    let safe_bag = seq(&[&oid(OID_CERT_BAG), &tlv(0xa0, &cert_bag)]);
    let safe_contents = seq(&[&safe_bag]);
    let ci = seq(&[&oid(OID_DATA), &tlv(0xa0, &tlv(0x04, &safe_contents))]);
    let auth_safe = seq(&[&ci]);
    let outer = seq(&[&oid(OID_DATA), &tlv(0xa0, &tlv(0x04, &auth_safe))]);
    seq(&[&[0x02, 0x01, 0x03], &outer])
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_lengths() {
        let mut v = Vec::new();
        super::der_len(&mut v, 300);
        assert_eq!(v, [0x82, 0x01, 0x2c]);
        let p = super::cert_only(&[0x30, 0x00]);
        assert_eq!(p[0], 0x30);
    }
}
