//! HAR 1.2 (<http://www.softwareishard.com/blog/har-12-spec/>) written as entries complete:
//! the log's head, then one entry at a time, then the tail. Memory is one entry.
//!
//! Public so that other producers of transactions (the proxy) can write the same files.

use std::io::{self, Write};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::util;

/// A body as HAR carries it (`postData` / `content`).
#[derive(Clone, Debug, Default)]
pub struct HarBody {
    /// Size of the whole (decoded) body.
    pub size: u64,
    pub mime: String,
    /// The first bytes of the body (at most the writer's cap).
    pub bytes: Vec<u8>,
    /// Bytes of the encoded body when a content coding was undone (`compression` = saved bytes).
    pub encoded_size: Option<u64>,
    /// Set when the body is incomplete or could not be decoded.
    pub comment: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct HarRequest {
    pub method: String,
    pub url: String,
    pub http_version: String,
    pub headers: Vec<(String, String)>,
    pub headers_size: i64,
    pub body: Option<HarBody>,
}

#[derive(Clone, Debug, Default)]
pub struct HarResponse {
    pub status: u16,
    pub status_text: String,
    pub http_version: String,
    pub headers: Vec<(String, String)>,
    pub headers_size: i64,
    pub body: HarBody,
    /// The transferred body size (-1 unknown).
    pub body_size: i64,
}

#[derive(Clone, Debug, Default)]
pub struct HarEntry {
    /// First byte of the request, ns since the epoch.
    pub started: i64,
    /// Last byte of the request, first and last byte of the response (ns); `None` = unknown.
    pub request_end: i64,
    pub response_start: Option<i64>,
    pub response_end: Option<i64>,
    pub server_ip: String,
    /// `tcp.stream` (and the HTTP/2 stream id).
    pub connection: String,
    pub request: HarRequest,
    pub response: Option<HarResponse>,
    pub comment: Option<String>,
}

/// Streams a HAR log.
pub struct HarWriter<W: Write> {
    w: W,
    entries: u64,
    /// Bodies are cut to this many bytes (with a comment saying so).
    pub max_body: usize,
}

fn ms(ns: i64) -> f64 {
    (ns.max(0) as f64 / 1e6 * 1000.0).round() / 1000.0
}

fn headers(h: &[(String, String)]) -> Value {
    Value::Array(
        h.iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

fn cookies(h: &[(String, String)], request: bool) -> Value {
    let mut out = Vec::new();
    for (n, v) in h {
        if request && n.eq_ignore_ascii_case("cookie") {
            for c in v.split(';') {
                if let Some((k, val)) = c.trim().split_once('=') {
                    out.push(json!({"name": k.trim(), "value": val.trim()}));
                }
            }
        } else if !request && n.eq_ignore_ascii_case("set-cookie") {
            let first = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = first.trim().split_once('=') {
                out.push(json!({"name": k.trim(), "value": val.trim()}));
            }
        }
    }
    Value::Array(out)
}

impl<W: Write> HarWriter<W> {
    pub fn new(mut w: W, creator: &str, version: &str) -> io::Result<HarWriter<W>> {
        let head = json!({"name": creator, "version": version});
        write!(
            w,
            "{{\"log\":{{\"version\":\"1.2\",\"creator\":{head},\"pages\":[],\"entries\":["
        )?;
        Ok(HarWriter {
            w,
            entries: 0,
            max_body: 1 << 20,
        })
    }

    /// `content` / `postData` text: UTF-8 text as is, anything else base64.
    fn body_text(&self, b: &HarBody) -> (String, Option<&'static str>, Option<String>) {
        let cut = b.bytes.len().min(self.max_body);
        let bytes = &b.bytes[..cut];
        let mut comment = b.comment.clone();
        if (cut as u64) < b.size {
            let note = format!(
                "body cut to its first {cut} of {} bytes (--har-max-body)",
                b.size
            );
            comment = Some(match comment {
                Some(c) => format!("{c}; {note}"),
                None => note,
            });
        }
        match std::str::from_utf8(bytes) {
            Ok(t) if util::is_textual(&b.mime) || !t.contains('\0') => {
                (t.to_string(), None, comment)
            }
            _ => (
                base64::engine::general_purpose::STANDARD.encode(bytes),
                Some("base64"),
                comment,
            ),
        }
    }

    pub fn entry(&mut self, e: &HarEntry) -> io::Result<()> {
        let r = &e.request;
        let query: Vec<Value> = util::query_of(&r.url)
            .map(util::query_pairs)
            .unwrap_or_default()
            .into_iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        let mut req = json!({
            "method": r.method,
            "url": r.url,
            "httpVersion": r.http_version,
            "cookies": cookies(&r.headers, true),
            "headers": headers(&r.headers),
            "queryString": query,
            "headersSize": r.headers_size,
            "bodySize": r.body.as_ref().map(|b| b.size as i64).unwrap_or(0),
        });
        if let Some(b) = &r.body {
            let (text, enc, comment) = self.body_text(b);
            let mut pd = json!({"mimeType": b.mime, "text": text});
            if b.mime
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
                && enc.is_none()
            {
                pd["params"] = Value::Array(
                    util::query_pairs(pd["text"].as_str().unwrap_or(""))
                        .into_iter()
                        .map(|(n, v)| json!({"name": n, "value": v}))
                        .collect(),
                );
            } else {
                pd["params"] = json!([]);
            }
            if let Some(enc) = enc {
                // HAR 1.2 has no encoding for postData; say so in a comment.
                pd["comment"] = json!(format!("text is {enc}"));
                pd["_encoding"] = json!(enc);
            }
            if let Some(c) = comment {
                pd["comment"] = json!(c);
            }
            req["postData"] = pd;
        }
        let (resp, wait, receive) = match &e.response {
            Some(p) => {
                let (text, enc, comment) = self.body_text(&p.body);
                let mut content = json!({
                    "size": p.body.size,
                    "mimeType": p.body.mime,
                    "text": text,
                });
                if let Some(es) = p.body.encoded_size {
                    content["compression"] = json!(p.body.size as i64 - es as i64);
                }
                if let Some(enc) = enc {
                    content["encoding"] = json!(enc);
                }
                if let Some(c) = comment {
                    content["comment"] = json!(c);
                }
                let redirect = p
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("location"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let wait = e
                    .response_start
                    .map(|s| ms(s - e.request_end))
                    .unwrap_or(0.0);
                let receive = match (e.response_start, e.response_end) {
                    (Some(a), Some(b)) => ms(b - a),
                    _ => 0.0,
                };
                (
                    json!({
                        "status": p.status,
                        "statusText": p.status_text,
                        "httpVersion": p.http_version,
                        "cookies": cookies(&p.headers, false),
                        "headers": headers(&p.headers),
                        "content": content,
                        "redirectURL": redirect,
                        "headersSize": p.headers_size,
                        "bodySize": p.body_size,
                    }),
                    wait,
                    receive,
                )
            }
            None => (
                json!({
                    "status": 0,
                    "statusText": "",
                    "httpVersion": r.http_version,
                    "cookies": [],
                    "headers": [],
                    "content": {"size": 0, "mimeType": "x-unknown", "comment": "no response in the capture"},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": -1,
                    "comment": "no response in the capture",
                }),
                0.0,
                0.0,
            ),
        };
        let send = ms(e.request_end - e.started);
        let mut entry = json!({
            "startedDateTime": util::iso8601(e.started, 3),
            "time": send + wait + receive,
            "request": req,
            "response": resp,
            "cache": {},
            "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": send, "wait": wait, "receive": receive, "ssl": -1},
            "serverIPAddress": e.server_ip,
            "connection": e.connection,
        });
        if let Some(c) = &e.comment {
            entry["comment"] = json!(c);
        }
        if self.entries > 0 {
            self.w.write_all(b",\n")?;
        } else {
            self.w.write_all(b"\n")?;
        }
        serde_json::to_writer(&mut self.w, &entry)?;
        self.entries += 1;
        Ok(())
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Closes the log; returns the writer (flushed).
    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_all(b"\n]}}\n")?;
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json() {
        let mut w = HarWriter::new(Vec::new(), "wiresift", "0").unwrap();
        w.entry(&HarEntry {
            started: 1_000_000_000,
            request_end: 1_001_000_000,
            response_start: Some(1_002_000_000),
            response_end: Some(1_004_000_000),
            server_ip: "10.0.0.1".into(),
            connection: "0".into(),
            request: HarRequest {
                method: "GET".into(),
                url: "http://h/a?x=1&y=%20".into(),
                http_version: "HTTP/1.1".into(),
                headers: vec![("Cookie".into(), "a=b; c=d".into())],
                headers_size: 40,
                body: None,
            },
            response: Some(HarResponse {
                status: 200,
                status_text: "OK".into(),
                http_version: "HTTP/1.1".into(),
                headers: vec![],
                headers_size: 20,
                body: HarBody {
                    size: 3,
                    mime: "application/octet-stream".into(),
                    bytes: vec![0, 1, 2],
                    ..HarBody::default()
                },
                body_size: 3,
            }),
            comment: None,
        })
        .unwrap();
        let out = w.finish().unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let e = &v["log"]["entries"][0];
        assert_eq!(e["time"], json!(4.0));
        assert_eq!(e["request"]["queryString"][1]["value"], json!(" "));
        assert_eq!(e["request"]["cookies"][1]["name"], json!("c"));
        assert_eq!(e["response"]["content"]["encoding"], json!("base64"));
        assert_eq!(e["response"]["content"]["text"], json!("AAEC"));
    }
}
