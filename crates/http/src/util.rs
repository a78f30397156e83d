//! Small helpers: time formatting, URL pieces, names for exported objects.

use wiresift_field::civil_from_days;

/// ISO 8601 UTC time with `digits` fractional digits (3 for HAR, 6 for the manifest).
pub fn iso8601(ns: i64, digits: usize) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let f = format!("{frac:09}");
    let digits = digits.min(9);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}{}{}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        if digits > 0 { "." } else { "" },
        &f[..digits]
    )
}

/// Percent-decoding (invalid escapes are kept as they are), lossy UTF-8.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Form decoding: `+` is a space, then percent-decoding.
pub fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The path part of a request target (no scheme/authority, no query or fragment).
pub fn path_of(target: &str) -> &str {
    let t = match target.find("://") {
        Some(i) => {
            let rest = &target[i + 3..];
            match rest.find('/') {
                Some(j) => &rest[j..],
                None => "/",
            }
        }
        None => target,
    };
    let end = t.find(['?', '#']).unwrap_or(t.len());
    &t[..end]
}

/// The query of a request target (without `?`), if any.
pub fn query_of(target: &str) -> Option<&str> {
    let q = &target[target.find('?')? + 1..];
    Some(&q[..q.find('#').unwrap_or(q.len())])
}

/// `name=value&...` pairs, decoded.
pub fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .take(256)
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (form_decode(n), form_decode(v)),
            None => (form_decode(p), String::new()),
        })
        .collect()
}

/// File name hint for an object from its URL: the last non-empty path segment,
/// percent-decoded; `index.html` for a path that ends in `/` (or is empty); `object` if there is
/// no URL at all. The result still goes through [`wiresift_export::sanitize`].
pub fn name_from_url(target: &str) -> String {
    if target.is_empty() {
        return "object".into();
    }
    let path = path_of(target);
    if path.ends_with('/') || path.is_empty() {
        return "index.html".into();
    }
    let seg = path.rsplit('/').next().unwrap_or("");
    let d = percent_decode(seg);
    if d.is_empty() { "object".into() } else { d }
}

/// The file name of a `Content-Disposition` header value (`filename*=UTF-8''...` preferred).
pub fn disposition_filename(v: &str) -> Option<String> {
    let mut plain = None;
    for part in split_params(v) {
        let part = part.trim();
        let Some((k, val)) = part.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let val = val.trim();
        if k == "filename*" {
            // charset'lang'percent-encoded
            let enc = val.splitn(3, '\'').nth(2).unwrap_or(val);
            let d = percent_decode(enc.trim_matches('"'));
            if !d.is_empty() {
                return Some(d);
            }
        } else if k == "filename" {
            let s = unquote(val);
            if !s.is_empty() {
                plain = Some(s);
            }
        }
    }
    plain
}

/// A `name` parameter (multipart form field name) of a Content-Disposition value.
pub fn disposition_param(v: &str, key: &str) -> Option<String> {
    for part in split_params(v) {
        if let Some((k, val)) = part.trim().split_once('=')
            && k.trim().eq_ignore_ascii_case(key)
        {
            return Some(unquote(val.trim()));
        }
    }
    None
}

/// Splits a header value on `;` outside quotes.
fn split_params(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut inq = false;
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => inq = !inq,
            b'\\' if inq => i += 1,
            b';' if !inq => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start <= v.len() {
        out.push(&v[start..]);
    }
    out
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        let mut s = String::with_capacity(inner.len());
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                s.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                s.push(c);
            }
        }
        s
    } else {
        v.to_string()
    }
}

/// The `boundary` parameter of a `multipart/*` content type.
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut it = split_params(content_type).into_iter();
    let mt = it.next()?.trim().to_ascii_lowercase();
    if !mt.starts_with("multipart/") {
        return None;
    }
    for p in it {
        if let Some((k, v)) = p.trim().split_once('=')
            && k.trim().eq_ignore_ascii_case("boundary")
        {
            let b = unquote(v);
            if !b.is_empty() && b.len() <= 200 {
                return Some(b);
            }
        }
    }
    None
}

/// True for content types whose bodies HAR should carry as text.
pub fn is_textual(mime: &str) -> bool {
    let m = mime.to_ascii_lowercase();
    m.starts_with("text/")
        || m.contains("json")
        || m.contains("xml")
        || m.contains("javascript")
        || m.contains("x-www-form-urlencoded")
        || m.contains("ecmascript")
}

/// Redacts a credential header value: keeps the scheme (`Basic`, `Bearer`).
pub fn redact(v: &str) -> String {
    match v.split_once(' ') {
        Some((scheme, _)) if !scheme.is_empty() && scheme.len() < 32 => {
            format!("{scheme} [redacted]")
        }
        _ => "[redacted]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(iso8601(0, 3), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601(1_361_916_156_044_429_000, 6),
            "2013-02-26T22:02:36.044429Z"
        );
        assert_eq!(iso8601(951_782_400_000_000_000, 0), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn names() {
        assert_eq!(name_from_url("/a/b/c.png?x=1"), "c.png");
        assert_eq!(name_from_url("/"), "index.html");
        assert_eq!(name_from_url("http://h/x/"), "index.html");
        assert_eq!(name_from_url("http://h"), "index.html");
        assert_eq!(name_from_url("/%2e%2e%2fetc%2fpasswd"), "../etc/passwd");
        assert_eq!(name_from_url(""), "object");
        assert_eq!(
            disposition_filename("attachment; filename=\"a b.txt\""),
            Some("a b.txt".into())
        );
        assert_eq!(
            disposition_filename("attachment; filename=x; filename*=UTF-8''%C3%A9.txt"),
            Some("é.txt".into())
        );
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"----x\""),
            Some("----x".into())
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
        assert_eq!(
            query_pairs("a=1&b=x+y%21&c"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), String::new())
            ]
        );
    }
}
