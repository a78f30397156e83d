//! JA4 TLS client fingerprint, as FoxIO defines it (`t13d1516h2_8daaf6152771_e5627efa2ab1`):
//! protocol, version, SNI, cipher and extension counts and ALPN; then truncated SHA-256 of the
//! sorted cipher suites and of the sorted extensions (without SNI and ALPN) with the signature
//! algorithms in their original order. GREASE values are ignored everywhere.

use sha2::{Digest, Sha256};

use crate::handshake::{ClientHello, ext, is_grease};

fn version_str(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_string();
    }
    let d = Sha256::digest(s.as_bytes());
    crate::hex(&d[..6])
}

fn alpn_chars(alpn: Option<&str>) -> String {
    let Some(a) = alpn.filter(|a| !a.is_empty()) else {
        return "00".to_string();
    };
    let b = a.as_bytes();
    let (first, last) = (b[0], b[b.len() - 1]);
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        format!("{}{}", first as char, last as char)
    } else {
        let h = crate::hex(&[first, last]);
        let hb = h.as_bytes();
        format!("{}{}", hb[0] as char, hb[3] as char)
    }
}

/// JA4 of a ClientHello over TCP.
pub fn ja4(ch: &ClientHello) -> String {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(ch.version);
    let sni = if ch.extensions.contains(&ext::SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let mut suites: Vec<u16> = ch
        .cipher_suites
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let a = format!(
        "t{}{}{:02}{:02}{}",
        version_str(version),
        sni,
        suites.len().min(99),
        exts.len().min(99),
        alpn_chars(ch.alpn.first().map(String::as_str))
    );
    suites.sort_unstable();
    let b = hash12(
        &suites
            .iter()
            .map(|c| format!("{c:04x}"))
            .collect::<Vec<_>>()
            .join(","),
    );
    let mut sorted: Vec<u16> = exts
        .into_iter()
        .filter(|e| *e != ext::SERVER_NAME && *e != ext::ALPN)
        .collect();
    sorted.sort_unstable();
    let c = if sorted.is_empty() {
        "000000000000".to_string()
    } else {
        let mut s = sorted
            .iter()
            .map(|e| format!("{e:04x}"))
            .collect::<Vec<_>>()
            .join(",");
        let sigs: Vec<String> = ch
            .signature_algorithms
            .iter()
            .filter(|s| !is_grease(**s))
            .map(|s| format!("{s:04x}"))
            .collect();
        if !sigs.is_empty() {
            s.push('_');
            s.push_str(&sigs.join(","));
        }
        hash12(&s)
    };
    format!("{a}_{b}_{c}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foxio_example() {
        // The ClientHello of FoxIO's JA4 technical details (Chrome): t13d1516h2_8daaf6152771_e5627efa2ab1.
        let ch = ClientHello {
            version: 0x0303,
            cipher_suites: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
                0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
            ],
            alpn: vec!["h2".into(), "http/1.1".into()],
            supported_versions: vec![0x0304, 0x0303],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            ..Default::default()
        };
        assert_eq!(ja4(&ch), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }
}
