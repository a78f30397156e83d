//! Flows: one record per request/response exchange, completed when the response body ends (or
//! the exchange fails). Bodies stream through [`Tap`], which counts them, keeps the first bytes
//! for HAR (up to a cap) and copies them to the pcapng; nothing else is buffered.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Version};
use hyper::body::{Body, Frame, SizeHint};
use wiresift_field::Registry;
use wiresift_filter::Filter;
use wiresift_http::fields::{FrameFields, Msg};
use wiresift_http::har::{HarBody, HarEntry, HarRequest, HarResponse, HarWriter};

use crate::ProxyError;
use crate::pcap::{Conv, PcapSink};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The registry `-Y` compiles against: the `http.*` and `http2.*` fields.
pub fn registry() -> Registry {
    use wiresift_http::fields as f;
    Registry::from_sets(&[(f::BASE, f::FIELDS), (f::H2_BASE, f::H2_FIELDS)])
}

/// Where completed flows go.
pub struct Recorder {
    pub quiet: bool,
    pub filter: Option<Filter>,
    pub har: Option<Mutex<Option<HarWriter<BufWriter<File>>>>>,
    pub har_cap: usize,
    pub pcap: Option<Arc<PcapSink>>,
    pub out: Mutex<Box<dyn Write + Send>>,
    pub flows: std::sync::atomic::AtomicU64,
}

impl Recorder {
    /// Whether flows need their headers kept (HAR, filter).
    pub fn wants_headers(&self) -> bool {
        self.har.is_some() || self.filter.is_some()
    }

    /// A console line (unless `-q`).
    pub fn line(&self, s: &str) {
        if self.quiet {
            return;
        }
        if let Ok(mut o) = self.out.lock() {
            let _ = o.write_all(s.as_bytes());
            let _ = o.write_all(b"\n");
            let _ = o.flush();
        }
    }

    /// A notice that `-q` does not hide (errors the user must see).
    pub fn notice(&self, s: &str) {
        eprintln!("{} {s}", clock(now_ns()));
    }

    pub fn open_har(path: &std::path::Path) -> Result<HarWriter<BufWriter<File>>, ProxyError> {
        let f =
            File::create(path).map_err(|e| ProxyError::Io(format!("{}: {e}", path.display())))?;
        HarWriter::new(BufWriter::new(f), "wiresift", env!("CARGO_PKG_VERSION"))
            .map_err(|e| ProxyError::Io(format!("{}: {e}", path.display())))
    }

    /// Writes the HAR tail and flushes the pcapng.
    pub fn finish(&self) -> Result<(), ProxyError> {
        if let Some(h) = &self.har
            && let Some(w) = h.lock().ok().and_then(|mut g| g.take())
        {
            let mut f = w
                .finish()
                .map_err(|e| ProxyError::Io(format!("HAR: {e}")))?;
            f.flush().map_err(|e| ProxyError::Io(format!("HAR: {e}")))?;
        }
        if let Some(p) = &self.pcap {
            p.flush();
        }
        Ok(())
    }
}

/// What is known about one exchange.
pub struct Flow {
    pub started: i64,
    pub start: Instant,
    pub client: SocketAddr,
    pub method: String,
    pub url: String,
    pub req_version: Version,
    pub req_headers: Vec<(String, String)>,
    pub req_size: u64,
    pub req_body: Vec<u8>,
    pub req_end: Option<i64>,
    pub status: u16,
    pub resp_version: Version,
    pub resp_headers: Vec<(String, String)>,
    pub resp_size: u64,
    pub resp_body: Vec<u8>,
    pub resp_start: Option<i64>,
    pub tls: bool,
    pub upstream_alpn_h2: bool,
    pub server_ip: String,
    pub error: Option<String>,
    pub note: Option<String>,
    pub conn_id: u64,
    pub conv_client: Option<Conv>,
    pub conv_up: Option<Conv>,
    pub chunked_req: bool,
    pub chunked_resp: bool,
    done: bool,
}

pub type SharedFlow = Arc<Mutex<Flow>>;

fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

pub fn header_list(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// An HTTP/1.1 rendering of a message head for the pcapng; `chunked` when the body has no
/// Content-Length (it is then written with chunked framing).
pub fn render_head(first_line: &str, h: &HeaderMap, host: Option<&str>, chunked: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(256);
    v.extend_from_slice(first_line.as_bytes());
    v.extend_from_slice(b"\r\n");
    if let Some(host) = host
        && !h.contains_key(http::header::HOST)
    {
        v.extend_from_slice(b"host: ");
        v.extend_from_slice(host.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    for (n, val) in h {
        if n == http::header::TRANSFER_ENCODING {
            continue;
        }
        v.extend_from_slice(n.as_str().as_bytes());
        v.extend_from_slice(b": ");
        v.extend_from_slice(val.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    if chunked {
        v.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    v.extend_from_slice(b"\r\n");
    v
}

impl Flow {
    pub fn new(
        client: SocketAddr,
        method: &str,
        url: String,
        version: Version,
        tls: bool,
        conn_id: u64,
    ) -> Flow {
        Flow {
            started: now_ns(),
            start: Instant::now(),
            client,
            method: method.to_string(),
            url,
            req_version: version,
            req_headers: Vec::new(),
            req_size: 0,
            req_body: Vec::new(),
            req_end: None,
            status: 0,
            resp_version: Version::HTTP_11,
            resp_headers: Vec::new(),
            resp_size: 0,
            resp_body: Vec::new(),
            resp_start: None,
            tls,
            upstream_alpn_h2: false,
            server_ip: String::new(),
            error: None,
            note: None,
            conn_id,
            conv_client: None,
            conv_up: None,
            chunked_req: false,
            chunked_resp: false,
            done: false,
        }
    }

    /// Writes request (`req`) or response bytes to both legs of the pcapng.
    pub fn pcap_both(&mut self, pcap: &PcapSink, req: bool, data: &[u8], chunked: bool) {
        let mut framed;
        let data = if chunked && !data.is_empty() {
            framed = format!("{:x}\r\n", data.len()).into_bytes();
            framed.extend_from_slice(data);
            framed.extend_from_slice(b"\r\n");
            &framed[..]
        } else {
            data
        };
        if let Some(c) = self.conv_client.as_mut() {
            pcap.data(c, req, data);
        }
        if let Some(c) = self.conv_up.as_mut() {
            pcap.data(c, req, data);
        }
    }

    fn pcap_end(&mut self, pcap: &PcapSink, req: bool) {
        let chunked = if req {
            self.chunked_req
        } else {
            self.chunked_resp
        };
        if chunked {
            self.pcap_both(pcap, req, b"0\r\n\r\n", false);
        }
        if !req {
            if let Some(c) = self.conv_client.as_mut() {
                pcap.close(c);
            }
            if let Some(c) = self.conv_up.as_mut() {
                pcap.close(c);
            }
        }
    }
}

/// Completes a flow: console line, filter, HAR. Idempotent.
pub fn complete(rec: &Recorder, flow: &SharedFlow) {
    let Ok(mut f) = flow.lock() else { return };
    if f.done {
        return;
    }
    f.done = true;
    if let Some(p) = &rec.pcap {
        if f.resp_start.is_some() {
            f.pcap_end(p, false);
        } else {
            if let Some(c) = f.conv_client.as_mut() {
                p.close(c);
            }
            if let Some(c) = f.conv_up.as_mut() {
                p.close(c);
            }
        }
    }
    rec.flows.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(filter) = &rec.filter
        && !filter.matches(&frame_fields(&f))
    {
        return;
    }
    if !rec.quiet {
        rec.line(&console_line(&f));
    }
    if let Some(h) = &rec.har {
        let e = har_entry(&f, rec.har_cap);
        if let Ok(mut g) = h.lock()
            && let Some(w) = g.as_mut()
        {
            let _ = w.entry(&e);
        }
    }
}

fn frame_fields(f: &Flow) -> FrameFields {
    let (path, host) = split_url(&f.url);
    let mut req = Msg {
        request: true,
        method: f.method.clone(),
        uri: path.to_string(),
        full_uri: f.url.clone(),
        version: version_str(f.req_version).to_string(),
        headers: f
            .req_headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect(),
        content_length: Some(f.req_size),
        ..Msg::default()
    };
    if !req.headers.iter().any(|(n, _)| n == "host") {
        req.headers.push(("host".into(), host.to_string()));
    }
    let mut fields = FrameFields::default();
    fields.msgs.push(req);
    if f.resp_start.is_some() {
        fields.msgs.push(Msg {
            request: false,
            version: version_str(f.resp_version).to_string(),
            code: f.status,
            phrase: http::StatusCode::from_u16(f.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
                .to_string(),
            for_uri: Some(path.to_string()),
            time: f.resp_start.map(|t| t - f.started),
            headers: f
                .resp_headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect(),
            content_length: Some(f.resp_size),
            ..Msg::default()
        });
    }
    fields
}

/// (path and query, authority) of an absolute URL.
fn split_url(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map(|x| x.1).unwrap_or(url);
    match rest.find('/') {
        Some(i) => (&rest[i..], &rest[..i]),
        None => ("/", rest),
    }
}

/// `HH:MM:SS.mmm` (UTC).
pub fn clock(ns: i64) -> String {
    let ms = ns / 1_000_000;
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

pub fn human_size(n: u64) -> String {
    if n < 1024 {
        format!("{n}b")
    } else if n < 1024 * 1024 {
        format!("{:.1}k", n as f64 / 1024.0)
    } else if n < 1024 * 1024 * 1024 {
        format!("{:.1}m", n as f64 / 1048576.0)
    } else {
        format!("{:.2}g", n as f64 / 1073741824.0)
    }
}

fn human_dur(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

/// `time client method url status size duration [flags]`.
pub fn console_line(f: &Flow) -> String {
    let mut flags = Vec::new();
    if f.tls {
        flags.push("tls");
    }
    if f.req_version == Version::HTTP_2 {
        flags.push("h2");
    }
    if f.resp_start.is_some() && f.upstream_alpn_h2 {
        flags.push("up:h2");
    }
    let status = if f.resp_start.is_some() {
        f.status.to_string()
    } else {
        "---".to_string()
    };
    let mut s = format!(
        "{} {} {} {} {} {} {} [{}]",
        clock(now_ns()),
        f.client,
        f.method,
        f.url,
        status,
        human_size(f.resp_size),
        human_dur(f.start.elapsed()),
        flags.join(",")
    );
    if let Some(n) = &f.note {
        s.push_str(" (");
        s.push_str(n);
        s.push(')');
    }
    if let Some(e) = &f.error {
        s.push_str(" error: ");
        s.push_str(e);
    }
    s
}

fn mime_of(h: &[(String, String)]) -> String {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn har_entry(f: &Flow, cap: usize) -> HarEntry {
    let req_body = if f.req_size > 0 {
        Some(HarBody {
            size: f.req_size,
            mime: mime_of(&f.req_headers),
            bytes: f.req_body.iter().copied().take(cap).collect(),
            encoded_size: None,
            comment: None,
        })
    } else {
        None
    };
    let response = f.resp_start.map(|_| HarResponse {
        status: f.status,
        status_text: http::StatusCode::from_u16(f.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_string(),
        http_version: version_str(f.resp_version).to_string(),
        headers: f.resp_headers.clone(),
        headers_size: -1,
        body: HarBody {
            size: f.resp_size,
            mime: mime_of(&f.resp_headers),
            bytes: f.resp_body.clone(),
            encoded_size: None,
            comment: if f.error.is_some() && f.resp_start.is_some() {
                Some("body incomplete".into())
            } else {
                None
            },
        },
        body_size: f.resp_size as i64,
    });
    let end = f.started + f.start.elapsed().as_nanos() as i64;
    let mut comment = f.error.clone();
    if let Some(n) = &f.note {
        comment = Some(match comment {
            Some(c) => format!("{n}; {c}"),
            None => n.clone(),
        });
    }
    HarEntry {
        started: f.started,
        request_end: f.req_end.unwrap_or(f.started),
        response_start: f.resp_start,
        response_end: f.resp_start.map(|_| end),
        server_ip: f.server_ip.clone(),
        connection: f.conn_id.to_string(),
        request: HarRequest {
            method: f.method.clone(),
            url: f.url.clone(),
            http_version: version_str(f.req_version).to_string(),
            headers: f.req_headers.clone(),
            headers_size: -1,
            body: req_body,
        },
        response,
        comment,
    }
}

/// Which side of the exchange a [`Tap`] carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// A body passed through unchanged while being counted, sampled for HAR and copied to the
/// pcapng. A response tap completes the flow at its end, or when dropped early.
pub struct Tap<B> {
    inner: B,
    flow: SharedFlow,
    rec: Arc<Recorder>,
    side: Side,
    ended: bool,
}

impl<B: Body> Tap<B> {
    /// An empty body (`is_end_stream` already) ends the side at once: hyper never polls it.
    pub fn new(inner: B, flow: SharedFlow, rec: Arc<Recorder>, side: Side) -> Self {
        let empty = inner.is_end_stream();
        let mut t = Tap {
            inner,
            flow,
            rec,
            side,
            ended: false,
        };
        if empty {
            t.on_end(None);
        }
        t
    }
}

impl<B> Tap<B> {
    fn on_end(&mut self, error: Option<String>) {
        if self.ended {
            return;
        }
        self.ended = true;
        match self.side {
            Side::Request => {
                if let Ok(mut f) = self.flow.lock() {
                    f.req_end = Some(now_ns());
                    if let Some(e) = error {
                        f.error = Some(format!("request body: {e}"));
                    }
                    if let Some(p) = &self.rec.pcap {
                        f.pcap_end(p, true);
                    }
                }
            }
            Side::Response => {
                if let Some(e) = error
                    && let Ok(mut f) = self.flow.lock()
                {
                    f.error = Some(format!("response body: {e}"));
                }
                complete(&self.rec, &self.flow);
            }
        }
    }
}

impl<B> Body for Tap<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    let cap = self.rec.har_cap;
                    let keep = self.rec.har.is_some();
                    if let Ok(mut f) = self.flow.lock() {
                        let f = &mut *f;
                        let (size, body) = match self.side {
                            Side::Request => (&mut f.req_size, &mut f.req_body),
                            Side::Response => (&mut f.resp_size, &mut f.resp_body),
                        };
                        *size += d.len() as u64;
                        if keep && body.len() < cap {
                            let n = (cap - body.len()).min(d.len());
                            body.extend_from_slice(&d[..n]);
                        }
                        if let Some(p) = &self.rec.pcap {
                            let chunked = match self.side {
                                Side::Request => f.chunked_req,
                                Side::Response => f.chunked_resp,
                            };
                            f.pcap_both(p, self.side == Side::Request, d, chunked);
                        }
                    }
                }
                if self.inner.is_end_stream() {
                    self.on_end(None);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                let e = e.to_string();
                self.on_end(Some(e));
            }
            Poll::Ready(None) => self.on_end(None),
            Poll::Pending => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Tap<B> {
    fn drop(&mut self) {
        if !self.ended {
            if self.side == Side::Response
                && let Ok(mut f) = self.flow.lock()
                && f.error.is_none()
            {
                f.error = Some("client went away before the response ended".into());
            }
            self.on_end(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_split() {
        assert_eq!(split_url("https://a.b:8443/x?y"), ("/x?y", "a.b:8443"));
        assert_eq!(split_url("http://a"), ("/", "a"));
    }

    #[test]
    fn filter_over_flow() {
        let reg = registry();
        let flt = Filter::compile(
            "http.request.method == \"GET\" && http.response.code == 404",
            &reg,
        )
        .unwrap();
        let mut f = Flow::new(
            "127.0.0.1:1".parse().unwrap(),
            "GET",
            "https://h/x".into(),
            Version::HTTP_11,
            true,
            0,
        );
        f.resp_start = Some(1);
        f.status = 404;
        assert!(flt.matches(&frame_fields(&f)));
        f.status = 200;
        assert!(!flt.matches(&frame_fields(&f)));
        assert!(Filter::compile("ip.src == 1.2.3.4", &reg).is_err());
    }
}
