//! `http.*` (id base [`BASE`]) and `http2.*` (id base [`H2_BASE`]) fields, with Wireshark's
//! names and types, answered for the frame on which a message (head and body) completed.

use std::ops::ControlFlow;

use wiresift_field::{Base, FieldId, FieldKind, FieldSource, Value};

pub const BASE: FieldId = 2000;
pub const H2_BASE: FieldId = 2500;

const P: FieldKind = FieldKind::Protocol;
const B: FieldKind = FieldKind::Bool;
const S: FieldKind = FieldKind::String;
const U8H: FieldKind = FieldKind::UInt {
    bits: 8,
    base: Base::Hex,
};
const U8: FieldKind = FieldKind::UInt {
    bits: 8,
    base: Base::Dec,
};
const U16: FieldKind = FieldKind::UInt {
    bits: 16,
    base: Base::Dec,
};
const U24: FieldKind = FieldKind::UInt {
    bits: 24,
    base: Base::Dec,
};
const U32: FieldKind = FieldKind::UInt {
    bits: 32,
    base: Base::Dec,
};
const U64: FieldKind = FieldKind::UInt {
    bits: 64,
    base: Base::Dec,
};

wiresift_field::field_table! { FIELDS, BASE, Idx;
    HTTP = "http", P, "Hypertext Transfer Protocol";
    HTTP_REQUEST = "http.request", B, "Request";
    HTTP_RESPONSE = "http.response", B, "Response";
    HTTP_REQUEST_METHOD = "http.request.method", S, "Request Method";
    HTTP_REQUEST_URI = "http.request.uri", S, "Request URI";
    HTTP_REQUEST_URI_PATH = "http.request.uri.path", S, "Request URI Path";
    HTTP_REQUEST_URI_QUERY = "http.request.uri.query", S, "Request URI Query";
    HTTP_REQUEST_FULL_URI = "http.request.full_uri", S, "Full request URI";
    HTTP_REQUEST_VERSION = "http.request.version", S, "Request Version";
    HTTP_RESPONSE_VERSION = "http.response.version", S, "Response Version";
    HTTP_RESPONSE_CODE = "http.response.code", U16, "Status Code";
    HTTP_RESPONSE_PHRASE = "http.response.phrase", S, "Response Phrase";
    HTTP_RESPONSE_FOR_URI = "http.response_for.uri", S, "Request URI";
    HTTP_HOST = "http.host", S, "Host";
    HTTP_USER_AGENT = "http.user_agent", S, "User-Agent";
    HTTP_REFERER = "http.referer", S, "Referer";
    HTTP_COOKIE = "http.cookie", S, "Cookie";
    HTTP_SET_COOKIE = "http.set_cookie", S, "Set-Cookie";
    HTTP_AUTHORIZATION = "http.authorization", S, "Authorization";
    HTTP_CONTENT_TYPE = "http.content_type", S, "Content-Type";
    HTTP_CONTENT_LENGTH_HEADER = "http.content_length_header", S, "Content-Length";
    HTTP_CONTENT_LENGTH = "http.content_length", U64, "Content length";
    HTTP_CONTENT_ENCODING = "http.content_encoding", S, "Content-Encoding";
    HTTP_TRANSFER_ENCODING = "http.transfer_encoding", S, "Transfer-Encoding";
    HTTP_LOCATION = "http.location", S, "Location";
    HTTP_SERVER = "http.server", S, "Server";
    HTTP_CONNECTION = "http.connection", S, "Connection";
    HTTP_UPGRADE = "http.upgrade", S, "Upgrade";
    HTTP_ACCEPT = "http.accept", S, "Accept";
    HTTP_ACCEPT_ENCODING = "http.accept_encoding", S, "Accept Encoding";
    HTTP_DATE = "http.date", S, "Date";
    HTTP_LAST_MODIFIED = "http.last_modified", S, "Last-Modified";
    HTTP_FILE_DATA = "http.file_data", S, "File Data";
    HTTP_TIME = "http.time", FieldKind::RelTime, "Time since request";
    HTTP_REQUEST_IN = "http.request_in", FieldKind::FrameNum, "Request in frame";
}

wiresift_field::field_table! { H2_FIELDS, H2_BASE, H2Idx;
    HTTP2 = "http2", P, "HyperText Transfer Protocol 2";
    HTTP2_MAGIC = "http2.magic", S, "Magic";
    HTTP2_LENGTH = "http2.length", U24, "Length";
    HTTP2_TYPE = "http2.type", U8, "Type";
    HTTP2_FLAGS = "http2.flags", U8H, "Flags";
    HTTP2_STREAMID = "http2.streamid", U32, "Stream Identifier";
    HTTP2_HEADER_NAME = "http2.header.name", S, "Name";
    HTTP2_HEADER_VALUE = "http2.header.value", S, "Value";
    HTTP2_HEADERS_METHOD = "http2.headers.method", S, ":method";
    HTTP2_HEADERS_PATH = "http2.headers.path", S, ":path";
    HTTP2_HEADERS_AUTHORITY = "http2.headers.authority", S, ":authority";
    HTTP2_HEADERS_SCHEME = "http2.headers.scheme", S, ":scheme";
    HTTP2_HEADERS_STATUS = "http2.headers.status", U16, ":status";
    HTTP2_HEADERS_CONTENT_TYPE = "http2.headers.content_type", S, "content-type";
    HTTP2_REQUEST_FULL_URI = "http2.request.full_uri", S, "Full request URI";
}

/// One HTTP message completed on the frame.
#[derive(Clone, Debug, Default)]
pub struct Msg {
    pub request: bool,
    pub method: String,
    pub uri: String,
    pub full_uri: String,
    pub version: String,
    pub code: u16,
    pub phrase: String,
    /// Response: the request's URI and frame, time since the request.
    pub for_uri: Option<String>,
    pub request_in: Option<u64>,
    pub time: Option<i64>,
    /// Headers (name lowercased); credentials already redacted when asked.
    pub headers: Vec<(String, String)>,
    pub content_length: Option<u64>,
    pub file_data: Option<String>,
    /// The flow and direction it came from (for retransmitted copies).
    pub stream: u64,
    pub from_server: bool,
}

impl Msg {
    fn header(
        &self,
        name: &str,
        f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        for (n, v) in &self.headers {
            if n == name {
                f(Value::Str(v))?;
            }
        }
        ControlFlow::Continue(())
    }
}

/// One HTTP/2 frame completed on the TCP frame.
#[derive(Clone, Debug, Default)]
pub struct H2Frame {
    pub length: u32,
    pub typ: u8,
    pub flags: u8,
    pub stream: u32,
    /// Decoded header list of a HEADERS/PUSH_PROMISE block (names lowercase).
    pub headers: Vec<(String, String)>,
    pub full_uri: Option<String>,
}

/// Everything completed on the frame just processed.
#[derive(Debug, Default)]
pub struct FrameFields {
    pub msgs: Vec<Msg>,
    pub h2_magic: bool,
    pub h2: Vec<H2Frame>,
}

/// Messages / HTTP/2 frames kept per TCP frame (more are not shown as fields).
pub const MAX_PER_FRAME: usize = 64;

impl FrameFields {
    pub fn clear(&mut self) {
        self.msgs.clear();
        self.h2.clear();
        self.h2_magic = false;
    }
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty() && self.h2.is_empty() && !self.h2_magic
    }
}

fn s(v: &str) -> Value<'_> {
    Value::Str(v)
}

impl FieldSource for FrameFields {
    fn visit(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) {
        let _ = if id >= H2_BASE {
            self.visit_h2(id, f)
        } else {
            self.visit_h1(id, f)
        };
    }
}

impl FrameFields {
    fn visit_h1(
        &self,
        id: FieldId,
        f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if id == HTTP {
            if !self.msgs.is_empty() {
                f(Value::Protocol(&[]))?;
            }
            return ControlFlow::Continue(());
        }
        for m in &self.msgs {
            match id {
                HTTP_REQUEST if m.request => f(Value::Bool(true))?,
                HTTP_RESPONSE if !m.request => f(Value::Bool(true))?,
                HTTP_REQUEST_METHOD if m.request => f(s(&m.method))?,
                HTTP_REQUEST_URI if m.request => f(s(&m.uri))?,
                HTTP_REQUEST_URI_PATH if m.request => f(s(crate::util::path_of(&m.uri)))?,
                HTTP_REQUEST_URI_QUERY if m.request => {
                    if let Some(q) = crate::util::query_of(&m.uri) {
                        f(s(q))?;
                    }
                }
                HTTP_REQUEST_FULL_URI if m.request => f(s(&m.full_uri))?,
                HTTP_REQUEST_VERSION if m.request => f(s(&m.version))?,
                HTTP_RESPONSE_VERSION if !m.request => f(s(&m.version))?,
                HTTP_RESPONSE_CODE if !m.request => f(Value::UInt(u64::from(m.code)))?,
                HTTP_RESPONSE_PHRASE if !m.request => f(s(&m.phrase))?,
                HTTP_RESPONSE_FOR_URI => {
                    if let Some(u) = &m.for_uri {
                        f(s(u))?;
                    }
                }
                HTTP_HOST => m.header("host", f)?,
                HTTP_USER_AGENT => m.header("user-agent", f)?,
                HTTP_REFERER => m.header("referer", f)?,
                HTTP_COOKIE => m.header("cookie", f)?,
                HTTP_SET_COOKIE => m.header("set-cookie", f)?,
                HTTP_AUTHORIZATION => m.header("authorization", f)?,
                HTTP_CONTENT_TYPE => m.header("content-type", f)?,
                HTTP_CONTENT_LENGTH_HEADER => m.header("content-length", f)?,
                HTTP_CONTENT_LENGTH => {
                    if let Some(n) = m.content_length {
                        f(Value::UInt(n))?;
                    }
                }
                HTTP_CONTENT_ENCODING => m.header("content-encoding", f)?,
                HTTP_TRANSFER_ENCODING => m.header("transfer-encoding", f)?,
                HTTP_LOCATION => m.header("location", f)?,
                HTTP_SERVER => m.header("server", f)?,
                HTTP_CONNECTION => m.header("connection", f)?,
                HTTP_UPGRADE => m.header("upgrade", f)?,
                HTTP_ACCEPT => m.header("accept", f)?,
                HTTP_ACCEPT_ENCODING => m.header("accept-encoding", f)?,
                HTTP_DATE => m.header("date", f)?,
                HTTP_LAST_MODIFIED => m.header("last-modified", f)?,
                HTTP_FILE_DATA => {
                    if let Some(d) = &m.file_data {
                        f(s(d))?;
                    }
                }
                HTTP_TIME => {
                    if let Some(t) = m.time {
                        f(Value::RelTime(t))?;
                    }
                }
                HTTP_REQUEST_IN => {
                    if let Some(n) = m.request_in {
                        f(Value::UInt(n))?;
                    }
                }
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }

    fn visit_h2(
        &self,
        id: FieldId,
        f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        match id {
            HTTP2 => {
                if self.h2_magic || !self.h2.is_empty() {
                    f(Value::Protocol(&[]))?;
                }
                return ControlFlow::Continue(());
            }
            HTTP2_MAGIC => {
                if self.h2_magic {
                    f(s("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))?;
                }
                return ControlFlow::Continue(());
            }
            _ => {}
        }
        let pseudo = |fr: &H2Frame, name: &str, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>| {
            for (n, v) in &fr.headers {
                if n == name {
                    f(s(v))?;
                }
            }
            ControlFlow::Continue(())
        };
        for fr in &self.h2 {
            match id {
                HTTP2_LENGTH => f(Value::UInt(u64::from(fr.length)))?,
                HTTP2_TYPE => f(Value::UInt(u64::from(fr.typ)))?,
                HTTP2_FLAGS => f(Value::UInt(u64::from(fr.flags)))?,
                HTTP2_STREAMID => f(Value::UInt(u64::from(fr.stream)))?,
                HTTP2_HEADER_NAME => {
                    for (n, _) in &fr.headers {
                        f(s(n))?;
                    }
                }
                HTTP2_HEADER_VALUE => {
                    for (_, v) in &fr.headers {
                        f(s(v))?;
                    }
                }
                HTTP2_HEADERS_METHOD => pseudo(fr, ":method", f)?,
                HTTP2_HEADERS_PATH => pseudo(fr, ":path", f)?,
                HTTP2_HEADERS_AUTHORITY => pseudo(fr, ":authority", f)?,
                HTTP2_HEADERS_SCHEME => pseudo(fr, ":scheme", f)?,
                HTTP2_HEADERS_CONTENT_TYPE => pseudo(fr, "content-type", f)?,
                HTTP2_HEADERS_STATUS => {
                    for (n, v) in &fr.headers {
                        if n == ":status"
                            && let Ok(c) = v.parse::<u16>()
                        {
                            f(Value::UInt(u64::from(c)))?;
                        }
                    }
                }
                HTTP2_REQUEST_FULL_URI => {
                    if let Some(u) = &fr.full_uri {
                        f(s(u))?;
                    }
                }
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }
}
