//! Fields of SMTP, IMF (the message headers), POP and IMAP, named as Wireshark names them, at id
//! base [`BASE`] (mail owns 3000..3999), and the per-frame store that answers them.

use std::ops::ControlFlow;

use wiresift_field::{Base, FieldId, FieldKind, FieldSource, Value};

pub const BASE: FieldId = 3000;

const P: FieldKind = FieldKind::Protocol;
const B: FieldKind = FieldKind::Bool;
const S: FieldKind = FieldKind::String;
const U32: FieldKind = FieldKind::UInt {
    bits: 32,
    base: Base::Dec,
};

wiresift_field::field_table! {
    SMTP = "smtp", P, "Simple Mail Transfer Protocol";
    SMTP_REQ = "smtp.req", B, "Request";
    SMTP_RSP = "smtp.rsp", B, "Response";
    SMTP_COMMAND_LINE = "smtp.command_line", S, "Command Line";
    SMTP_REQ_COMMAND = "smtp.req.command", S, "Command";
    SMTP_REQ_PARAMETER = "smtp.req.parameter", S, "Request parameter";
    SMTP_RESPONSE = "smtp.response", S, "Response";
    SMTP_RESPONSE_CODE = "smtp.response.code", U32, "Response code";
    SMTP_RSP_PARAMETER = "smtp.rsp.parameter", S, "Response parameter";
    SMTP_AUTH_USERNAME = "smtp.auth.username", S, "Username";
    SMTP_AUTH_PASSWORD = "smtp.auth.password", S, "Password (redacted unless --show-secrets)";
    SMTP_EOM = "smtp.eom", P, "End of message";
    IMF = "imf", P, "Internet Message Format";
    IMF_FROM = "imf.from", S, "From";
    IMF_TO = "imf.to", S, "To";
    IMF_CC = "imf.cc", S, "Cc";
    IMF_SUBJECT = "imf.subject", S, "Subject";
    IMF_DATE = "imf.date", S, "Date";
    IMF_MESSAGE_ID = "imf.message_id", S, "Message-ID";
    IMF_CONTENT_TYPE = "imf.content.type", S, "Content-Type";
    POP = "pop", P, "Post Office Protocol";
    POP_REQUEST = "pop.request", S, "Request";
    POP_REQUEST_COMMAND = "pop.request.command", S, "Request command";
    POP_REQUEST_PARAMETER = "pop.request.parameter", S, "Request parameter";
    POP_RESPONSE = "pop.response", S, "Response";
    POP_RESPONSE_INDICATOR = "pop.response.indicator", S, "Response indicator";
    POP_RESPONSE_DESCRIPTION = "pop.response.description", S, "Response description";
    IMAP = "imap", P, "Internet Message Access Protocol";
    IMAP_ISREQUEST = "imap.isrequest", B, "Request";
    IMAP_REQUEST = "imap.request", S, "Request";
    IMAP_REQUEST_TAG = "imap.request_tag", S, "Request Tag";
    IMAP_REQUEST_COMMAND = "imap.request.command", S, "Request Command";
    IMAP_RESPONSE = "imap.response", S, "Response";
    IMAP_RESPONSE_TAG = "imap.response_tag", S, "Response Tag";
    IMAP_RESPONSE_STATUS = "imap.response.status", S, "Response Status";
}

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Present,
    Bool(bool),
    UInt(u64),
    Str(String),
}

/// Mail fields of the frame just processed.
#[derive(Debug, Default)]
pub struct FrameFields {
    items: Vec<(FieldId, Val)>,
}

impl FrameFields {
    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Marks a protocol present (once per frame).
    pub fn proto(&mut self, id: FieldId) {
        if !self.items.iter().any(|(i, _)| *i == id) {
            self.items.push((id, Val::Present));
        }
    }

    pub fn flag(&mut self, id: FieldId, b: bool) {
        self.items.push((id, Val::Bool(b)));
    }

    pub fn uint(&mut self, id: FieldId, v: u64) {
        self.items.push((id, Val::UInt(v)));
    }

    pub fn str(&mut self, id: FieldId, s: &[u8]) {
        self.items
            .push((id, Val::Str(String::from_utf8_lossy(s).into_owned())));
    }

    pub fn string(&mut self, id: FieldId, s: String) {
        self.items.push((id, Val::Str(s)));
    }

    pub fn has_id(&self, id: FieldId) -> bool {
        self.items.iter().any(|(i, _)| *i == id)
    }
}

impl FieldSource for FrameFields {
    fn visit(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) {
        for (i, v) in &self.items {
            if *i != id {
                continue;
            }
            let r = match v {
                Val::Present => f(Value::Protocol(&[])),
                Val::Bool(b) => f(Value::Bool(*b)),
                Val::UInt(u) => f(Value::UInt(*u)),
                Val::Str(s) => f(Value::Str(s)),
            };
            if r.is_break() {
                return;
            }
        }
    }
}
