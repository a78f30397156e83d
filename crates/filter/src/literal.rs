//! Literals, parsed for the type of the other operand (as Wireshark does: `80` is a port,
//! `00:11` a byte string, `10.0.0.0/8` a subnet, `GET` a string, depending on the field).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::ir::{Const, Ty};

/// A literal as written.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lit<'a> {
    Word(&'a str),
    Str(&'a [u8]),
    Char(u8),
}

/// Parses `lit` as a value of type `ty`; the error says what was expected.
pub(crate) fn parse(lit: Lit<'_>, ty: Ty) -> Result<Const, String> {
    let text = match lit {
        Lit::Word(w) => w,
        Lit::Str(s) => match ty {
            Ty::Str => return Ok(Const::Str(s.to_vec())),
            Ty::Bytes | Ty::Protocol => return Ok(Const::Bytes(s.to_vec())),
            _ => std::str::from_utf8(s).map_err(|_| format!("not a valid {}", ty.name()))?,
        },
        Lit::Char(c) => {
            return match ty {
                Ty::UInt(_) | Ty::Int => check_uint(u64::from(c), ty),
                Ty::Bytes | Ty::Protocol => Ok(Const::Bytes(vec![c])),
                Ty::Str => Ok(Const::Str(vec![c])),
                _ => Err(format!("a character constant cannot be {}", ty.a())),
            };
        }
    };
    let bad = || format!("\"{text}\" is not a valid {}", ty.name());
    match ty {
        Ty::Bool => match text {
            "true" | "True" | "TRUE" => Ok(Const::Bool(true)),
            "false" | "False" | "FALSE" => Ok(Const::Bool(false)),
            // tshark 4.0 takes any integer, non-zero meaning true (`tcp.flags.syn == 2`).
            _ => parse_int(text).map(|v| Const::Bool(v != 0)).ok_or_else(bad),
        },
        Ty::UInt(_) => {
            let v = parse_int(text).ok_or_else(bad)?;
            let v = u64::try_from(v).map_err(|_| format!("{text} is too small for an unsigned integer"))?;
            check_uint(v, ty)
        }
        Ty::Int => {
            let v = parse_int(text).ok_or_else(bad)?;
            i64::try_from(v)
                .map(Const::Int)
                .map_err(|_| format!("{text} does not fit in a signed 64-bit integer"))
        }
        Ty::Float => parse_float(text).map(Const::Float).ok_or_else(bad),
        Ty::Ipv4 => parse_ipv4(text).ok_or_else(bad),
        Ty::Ipv6 => parse_ipv6(text).ok_or_else(bad),
        Ty::Ether => parse_ether(text).map(Const::Ether).ok_or_else(bad),
        Ty::Bytes | Ty::Protocol => parse_bytes(text).map(Const::Bytes).ok_or_else(bad),
        // A bare word compared with a string is that string (`http.request.method == GET`).
        Ty::Str => Ok(Const::Str(text.as_bytes().to_vec())),
        Ty::AbsTime => parse_abs_time(text).map(Const::Time).ok_or_else(|| {
            format!(
                "\"{text}\" is not a valid absolute time; expected e.g. \"2013-03-18 16:37:11.382875\", \"Mar 18, 2013 16:37:11\" or seconds since the epoch"
            )
        }),
        Ty::RelTime => parse_seconds_ns(text)
            .map(Const::RelTime)
            .ok_or_else(|| format!("\"{text}\" is not a valid time offset; expected seconds, e.g. 0.5")),
    }
}

fn check_uint(v: u64, ty: Ty) -> Result<Const, String> {
    match ty {
        Ty::UInt(bits) if bits < 64 && v >> bits != 0 => {
            Err(format!("{v} is too big for a {bits}-bit unsigned integer"))
        }
        Ty::Int => i64::try_from(v)
            .map(Const::Int)
            .map_err(|_| format!("{v} is too big for a signed integer")),
        _ => Ok(Const::UInt(v)),
    }
}

/// Decimal, `0x` hex, `0b` binary or leading-`0` octal, optionally negative.
pub(crate) fn parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, h)
        } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, b)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || digits.len() > 40 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u128::from_str_radix(digits, radix).ok()?;
    let v = i128::try_from(v).ok()?;
    Some(if neg { -v } else { v })
}

fn parse_float(s: &str) -> Option<f64> {
    // Rust also takes "inf"/"nan"/"infinity"; Wireshark's strtod would too, but a filter has no
    // use for them and accepting words here would hide typos of field names.
    if s.is_empty()
        || !s
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return None;
    }
    if let Some(v) = parse_int(s).filter(|_| !s.contains(['.', 'e', 'E'])) {
        return Some(v as f64);
    }
    s.parse().ok()
}

fn split_prefix(s: &str, max: u8) -> Option<(&str, u8)> {
    match s.split_once('/') {
        None => Some((s, max)),
        Some((a, p)) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let p: u8 = p.parse().ok()?;
            (p <= max).then_some((a, p))
        }
    }
}

fn parse_ipv4(s: &str) -> Option<Const> {
    let (a, p) = split_prefix(s, 32)?;
    let addr: Ipv4Addr = a.parse().ok()?;
    Some(Const::Ipv4(u32::from(addr), p))
}

fn parse_ipv6(s: &str) -> Option<Const> {
    let (a, p) = split_prefix(s, 128)?;
    let addr: Ipv6Addr = a.parse().ok()?;
    Some(Const::Ipv6(u128::from(addr), p))
}

fn parse_ether(s: &str) -> Option<[u8; 6]> {
    // Cisco style xxxx.xxxx.xxxx.
    let groups: Vec<&str> = s.split('.').collect();
    if groups.len() == 3 && groups.iter().all(|g| g.len() == 4) {
        let joined: String = groups.concat();
        return parse_bytes(&joined)?.try_into().ok();
    }
    parse_bytes(s)?.try_into().ok()
}

/// `aa:bb:cc`, `aa-bb-cc`, `aa.bb.cc` (one or two hex digits per byte, one separator kind), or
/// `aabbcc` (an even number of hex digits, or a single digit for one byte).
pub(crate) fn parse_bytes(s: &str) -> Option<Vec<u8>> {
    let sep = s.bytes().find(|c| matches!(c, b':' | b'-' | b'.'));
    match sep {
        Some(sep) => s
            .split(sep as char)
            .map(|g| {
                if g.is_empty() || g.len() > 2 {
                    None
                } else {
                    u8::from_str_radix(g, 16).ok()
                }
            })
            .collect(),
        None => {
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            if s.len() == 1 {
                return u8::from_str_radix(s, 16).ok().map(|b| vec![b]);
            }
            if !s.len().is_multiple_of(2) {
                return None;
            }
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                .collect()
        }
    }
}

/// Seconds with an optional fraction (`-1.5`, `0.000001`) to nanoseconds, without going through
/// a float so `0.022791` is exact.
pub(crate) fn parse_seconds_ns(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
        || int.len() > 11
    {
        // Fall back for exponents (1e-3).
        let v: f64 = parse_float(s)?;
        let ns = v * 1e9;
        return (ns.is_finite() && ns.abs() < 9.2e18).then_some(ns.round() as i64);
    }
    let secs: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut ns: i64 = 0;
    for (i, d) in frac.bytes().take(9).enumerate() {
        ns += i64::from(d - b'0') * 10i64.pow(8 - i as u32);
    }
    let v = secs.checked_mul(1_000_000_000)?.checked_add(ns)?;
    Some(if neg { -v } else { v })
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Absolute times, interpreted as **UTC** (Wireshark uses local time unless the string ends in
/// "UTC"): `2013-03-18 16:37:11.382875`, `2013-03-18T16:37:11Z`, `Mar 18, 2013 16:37:11.38`,
/// a date alone, or seconds since the epoch (`1363624631.38`).
pub(crate) fn parse_abs_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s
        .strip_suffix("UTC")
        .or_else(|| s.strip_suffix('Z'))
        .unwrap_or(s)
        .trim_end();
    if s.bytes()
        .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-')
        && !s[1.min(s.len())..].contains('-')
    {
        return parse_seconds_ns(s);
    }
    let (date, time) = match s.find(['T', ' ']) {
        // "Mar 18, 2013 16:37:11": the date itself holds spaces.
        _ if s
            .get(..3)
            .is_some_and(|m| m.bytes().all(|c| c.is_ascii_alphabetic())) =>
        {
            let mut parts = s.splitn(4, ' ');
            let mon = parts.next()?;
            let day = parts.next()?.trim_end_matches(',');
            let year = parts.next()?;
            let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(mon))? as u32 + 1;
            let days = days_from_civil(year.parse().ok()?, month, day.parse().ok()?)?;
            return combine(days, parts.next().unwrap_or("00:00:00"));
        }
        Some(i) => (&s[..i], s[i + 1..].trim_start()),
        None => (s, "00:00:00"),
    };
    let mut it = date.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    combine(days_from_civil(y, m, d)?, time)
}

fn combine(days: i64, time: &str) -> Option<i64> {
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut it = hms.split(':');
    let h: i64 = it.next()?.parse().ok()?;
    let mi: i64 = it.next()?.parse().ok()?;
    let sec: i64 = match it.next() {
        Some(x) => x.parse().ok()?,
        None => 0,
    };
    if it.next().is_some() || h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0 {
        return None;
    }
    let frac_ns = parse_seconds_ns(&format!("0.{frac}"))?;
    let secs = days.checked_mul(86_400)? + h * 3600 + mi * 60 + sec;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(-100_000..=100_000).contains(&y) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}
