//! Fast text formatting into a byte buffer: the summary line is printed for every frame, so
//! numbers and addresses are formatted by hand rather than through `fmt` machinery.

/// Appends the decimal digits of `v`.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` zero-padded to `width` digits.
#[inline]
pub fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = v;
    while v > 0 && i > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = buf.len() - width.max(buf.len() - i).min(20);
    out.extend_from_slice(&buf[start..]);
}

#[inline]
pub fn push_ipv4(out: &mut Vec<u8>, a: [u8; 4]) {
    for (i, b) in a.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(*b));
    }
}

pub fn push_ipv6(out: &mut Vec<u8>, a: [u8; 16]) {
    use std::io::Write;
    let _ = write!(out, "{}", std::net::Ipv6Addr::from(a));
}

pub fn push_mac(out: &mut Vec<u8>, m: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// How to print timestamps (`--time`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// Time of day, UTC (`12:00:01.123456`), as tcpdump prints with `TZ=UTC`.
    #[default]
    Absolute,
    /// Seconds since the first frame.
    Relative,
    /// Seconds since the previous frame.
    Delta,
    /// Seconds since the Unix epoch.
    Epoch,
    /// Date and time, UTC (`2026-11-24 12:00:01.123456`).
    Date,
}

/// Appends `secs.frac` with `digits` fractional digits (truncated, as tcpdump does).
pub fn push_secs(out: &mut Vec<u8>, ns: i64, digits: u8) {
    if ns < 0 {
        out.push(b'-');
    }
    let a = ns.unsigned_abs();
    push_u64(out, a / 1_000_000_000);
    push_frac(out, a % 1_000_000_000, digits);
}

fn push_frac(out: &mut Vec<u8>, frac_ns: u64, digits: u8) {
    if digits == 0 {
        return;
    }
    out.push(b'.');
    let d = u32::from(digits.min(9));
    push_padded(out, frac_ns / 10u64.pow(9 - d), d as usize);
}

pub use wiresift_field::civil_from_days as civil;

/// Appends a timestamp in the chosen format; `first` and `prev` are for relative and delta.
pub fn push_time(out: &mut Vec<u8>, fmt: TimeFormat, ts: i64, first: i64, prev: i64, digits: u8) {
    match fmt {
        TimeFormat::Absolute | TimeFormat::Date => {
            let secs = ts.div_euclid(1_000_000_000);
            let frac = ts.rem_euclid(1_000_000_000) as u64;
            let days = secs.div_euclid(86_400);
            let sod = secs.rem_euclid(86_400) as u64;
            if fmt == TimeFormat::Date {
                let (y, m, d) = civil(days);
                push_padded(out, y.max(0) as u64, 4);
                out.push(b'-');
                push_padded(out, u64::from(m), 2);
                out.push(b'-');
                push_padded(out, u64::from(d), 2);
                out.push(b' ');
            }
            push_padded(out, sod / 3600, 2);
            out.push(b':');
            push_padded(out, sod / 60 % 60, 2);
            out.push(b':');
            push_padded(out, sod % 60, 2);
            push_frac(out, frac, digits);
        }
        TimeFormat::Epoch => push_secs(out, ts, digits),
        TimeFormat::Relative => push_secs(out, ts - first, digits),
        TimeFormat::Delta => push_secs(out, ts - prev, digits),
    }
}

/// `-x`: hex and ASCII, 16 bytes a line, tcpdump `-X` layout.
pub fn push_hexdump(out: &mut Vec<u8>, data: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (row, chunk) in data.chunks(16).enumerate() {
        out.extend_from_slice(b"\t0x");
        let off = row * 16;
        for shift in [12, 8, 4, 0] {
            out.push(HEX[(off >> shift) & 15]);
        }
        out.extend_from_slice(b":  ");
        for i in 0..16 {
            if i < chunk.len() {
                out.push(HEX[usize::from(chunk[i] >> 4)]);
                out.push(HEX[usize::from(chunk[i] & 15)]);
            } else {
                out.extend_from_slice(b"  ");
            }
            if i % 2 == 1 {
                out.push(b' ');
            }
        }
        out.push(b' ');
        for &c in chunk {
            out.push(if (0x20..0x7f).contains(&c) { c } else { b'.' });
        }
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let mut o = Vec::new();
        push_time(
            &mut o,
            TimeFormat::Absolute,
            1_363_624_631_382_875_000,
            0,
            0,
            6,
        );
        assert_eq!(String::from_utf8(o).unwrap(), "16:37:11.382875");
        let mut o = Vec::new();
        push_time(&mut o, TimeFormat::Date, 1_363_624_631_382_875_000, 0, 0, 9);
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "2013-03-18 16:37:11.382875000"
        );
        let mut o = Vec::new();
        push_time(
            &mut o,
            TimeFormat::Delta,
            5_000_000_100,
            0,
            6_000_000_000,
            6,
        );
        assert_eq!(String::from_utf8(o).unwrap(), "-0.999999");
        let mut o = Vec::new();
        push_padded(&mut o, 7, 3);
        push_u64(&mut o, 0);
        push_u64(&mut o, u64::MAX);
        assert_eq!(String::from_utf8(o).unwrap(), "007018446744073709551615");
    }
}
