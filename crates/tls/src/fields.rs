//! TLS fields (ids at [`BASE`] = 4000), named as Wireshark names them, answered from the
//! records and handshake messages completed on the current frame ([`TlsFrameFields`]).

use std::ops::ControlFlow;

use wiresift_field::{Base, FieldId, FieldKind, FieldSource, Value};

use crate::handshake::msg_name;

pub const BASE: FieldId = 4000;

const P: FieldKind = FieldKind::Protocol;
const U8: FieldKind = FieldKind::UInt {
    bits: 8,
    base: Base::Dec,
};
const U16D: FieldKind = FieldKind::UInt {
    bits: 16,
    base: Base::Dec,
};
const U16H: FieldKind = FieldKind::UInt {
    bits: 16,
    base: Base::Hex,
};
const S: FieldKind = FieldKind::String;
const B: FieldKind = FieldKind::Bytes;

wiresift_field::field_table! {
    TLS = "tls", P, "Transport Layer Security";
    TLS_RECORD = "tls.record", P, "TLS record";
    TLS_RECORD_CONTENT_TYPE = "tls.record.content_type", U8, "Content Type";
    TLS_RECORD_VERSION = "tls.record.version", U16H, "Version";
    TLS_RECORD_LENGTH = "tls.record.length", U16D, "Length";
    TLS_HANDSHAKE = "tls.handshake", P, "Handshake Protocol";
    TLS_HANDSHAKE_TYPE = "tls.handshake.type", U8, "Handshake Type";
    TLS_HANDSHAKE_VERSION = "tls.handshake.version", U16H, "Version";
    TLS_HANDSHAKE_CIPHERSUITE = "tls.handshake.ciphersuite", U16H, "Cipher Suite";
    TLS_HANDSHAKE_SNI = "tls.handshake.extensions_server_name", S, "Server Name";
    TLS_HANDSHAKE_ALPN = "tls.handshake.extensions_alpn_str", S, "ALPN Next Protocol";
    TLS_HANDSHAKE_SUPPORTED_VERSION = "tls.handshake.extensions.supported_version", U16H, "Supported Version";
    TLS_HANDSHAKE_SESSION_ID = "tls.handshake.session_id", B, "Session ID";
    TLS_HANDSHAKE_RANDOM = "tls.handshake.random", B, "Random";
    TLS_HANDSHAKE_JA4 = "tls.handshake.ja4", S, "JA4";
    JA4 = "ja4.ja4", S, "JA4 (FoxIO)";
    TLS_APP_DATA = "tls.app_data", B, "Encrypted Application Data";
    TLS_ALERT_MESSAGE = "tls.alert_message", P, "Alert Message";
    TLS_ALERT_LEVEL = "tls.alert_message.level", U8, "Level";
    TLS_ALERT_DESC = "tls.alert_message.desc", U8, "Description";
    TLS_CHANGE_CIPHER_SPEC = "tls.change_cipher_spec", P, "Change Cipher Spec Message";
    TLS_DECRYPTED = "tls.decrypted", FieldKind::Bool, "Record decrypted by wiresift";
    TLS_SEGMENT_DATA = "tls.segment.data", B, "Decrypted application data";
}

/// One handshake message completed on the frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HsEvent {
    pub msg_type: u8,
    /// ClientHello/ServerHello legacy version.
    pub version: Option<u16>,
    /// Offered suites (ClientHello) or the selected one (ServerHello).
    pub suites: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub supported_versions: Vec<u16>,
    pub session_id: Vec<u8>,
    pub random: Vec<u8>,
    pub ja4: Option<String>,
    /// HelloRetryRequest.
    pub hrr: bool,
}

/// One record completed on the frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordEvent {
    pub frame: u64,
    pub content_type: u8,
    pub version: u16,
    pub length: u16,
    /// The content type after decryption (TLS 1.3 inner type; the record's own otherwise).
    pub inner_type: Option<u8>,
    pub decrypted: bool,
    pub handshakes: Vec<HsEvent>,
    /// An alert record; level and description when readable.
    pub alert: Option<Option<(u8, u8)>>,
    /// The record's encrypted application data (tls.app_data), capped.
    pub app_data: Option<Vec<u8>>,
    /// Decrypted application data, capped.
    pub plaintext: Option<Vec<u8>>,
    /// Encrypted handshake message that could not be read.
    pub encrypted_handshake: bool,
}

/// Fields of the TLS records completed on one frame.
#[derive(Clone, Copy, Debug)]
pub struct TlsFrameFields<'a> {
    pub records: &'a [RecordEvent],
}

impl TlsFrameFields<'_> {
    /// Wireshark-like Info text: `Client Hello (SNI=example.com)`, `Server Hello, Change Cipher
    /// Spec, Application Data`, ... `None` when no record completed on the frame.
    pub fn summary(&self) -> Option<String> {
        if self.records.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = Vec::new();
        for r in self.records {
            let t = r.inner_type.unwrap_or(r.content_type);
            let s = match t {
                20 => "Change Cipher Spec".to_string(),
                21 => match r.alert {
                    Some(Some((l, d))) => format!(
                        "Alert (Level: {}, Description: {})",
                        alert_level(l),
                        alert_desc(d)
                    ),
                    _ => "Encrypted Alert".to_string(),
                },
                22 if !r.handshakes.is_empty() => r
                    .handshakes
                    .iter()
                    .map(|h| {
                        let n = if h.hrr {
                            "Hello Retry Request"
                        } else {
                            msg_name(h.msg_type)
                        };
                        match &h.sni {
                            Some(sni) if h.msg_type == 1 => format!("{n} (SNI={sni})"),
                            _ => n.to_string(),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                22 => "Encrypted Handshake Message".to_string(),
                23 => "Application Data".to_string(),
                24 => "Heartbeat".to_string(),
                _ => "Ignored Unknown Record".to_string(),
            };
            if parts.last() != Some(&s) {
                parts.push(s);
            }
        }
        Some(parts.join(", "))
    }
}

fn alert_level(l: u8) -> &'static str {
    match l {
        1 => "Warning",
        2 => "Fatal",
        _ => "Unknown",
    }
}

fn alert_desc(d: u8) -> &'static str {
    match d {
        0 => "Close Notify",
        10 => "Unexpected Message",
        20 => "Bad Record MAC",
        40 => "Handshake Failure",
        42 => "Bad Certificate",
        46 => "Certificate Unknown",
        48 => "Unknown CA",
        50 => "Decode Error",
        51 => "Decrypt Error",
        70 => "Protocol Version",
        80 => "Internal Error",
        90 => "User Canceled",
        112 => "Unrecognized Name",
        120 => "No Application Protocol",
        _ => "Unknown",
    }
}

impl FieldSource for TlsFrameFields<'_> {
    fn visit(&self, id: FieldId, f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>) {
        let _ = self.visit_inner(id, f);
    }
}

impl TlsFrameFields<'_> {
    fn visit_inner(
        &self,
        id: FieldId,
        f: &mut dyn FnMut(Value<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if self.records.is_empty() {
            return ControlFlow::Continue(());
        }
        let u = |v: u64| Value::UInt(v);
        match id {
            TLS => f(Value::Protocol(&[]))?,
            TLS_RECORD => {
                for _ in self.records {
                    f(Value::Protocol(&[]))?;
                }
            }
            TLS_RECORD_CONTENT_TYPE | TLS_RECORD_VERSION | TLS_RECORD_LENGTH => {
                for r in self.records {
                    f(u(match id {
                        TLS_RECORD_CONTENT_TYPE => u64::from(r.content_type),
                        TLS_RECORD_VERSION => u64::from(r.version),
                        _ => u64::from(r.length),
                    }))?;
                }
            }
            TLS_DECRYPTED => {
                for r in self.records {
                    f(Value::Bool(r.decrypted))?;
                }
            }
            TLS_CHANGE_CIPHER_SPEC => {
                for r in self.records.iter().filter(|r| r.content_type == 20) {
                    let _ = r;
                    f(Value::Protocol(&[]))?;
                }
            }
            TLS_APP_DATA => {
                for r in self.records {
                    if let Some(d) = &r.app_data {
                        f(Value::Bytes(d))?;
                    }
                }
            }
            TLS_SEGMENT_DATA => {
                for r in self.records {
                    if let Some(d) = &r.plaintext {
                        f(Value::Bytes(d))?;
                    }
                }
            }
            TLS_ALERT_MESSAGE | TLS_ALERT_LEVEL | TLS_ALERT_DESC => {
                for r in self.records {
                    match (id, r.alert) {
                        (TLS_ALERT_MESSAGE, Some(_)) => f(Value::Protocol(&[]))?,
                        (TLS_ALERT_LEVEL, Some(Some((l, _)))) => f(u(u64::from(l)))?,
                        (TLS_ALERT_DESC, Some(Some((_, d)))) => f(u(u64::from(d)))?,
                        _ => {}
                    }
                }
            }
            TLS_HANDSHAKE => {
                for r in self.records {
                    if r.encrypted_handshake {
                        f(Value::Protocol(&[]))?;
                    }
                    for _ in &r.handshakes {
                        f(Value::Protocol(&[]))?;
                    }
                }
            }
            _ => {
                for h in self.records.iter().flat_map(|r| &r.handshakes) {
                    match id {
                        TLS_HANDSHAKE_TYPE => f(u(u64::from(h.msg_type)))?,
                        TLS_HANDSHAKE_VERSION => {
                            if let Some(v) = h.version {
                                f(u(u64::from(v)))?;
                            }
                        }
                        TLS_HANDSHAKE_CIPHERSUITE => {
                            for &s in &h.suites {
                                f(u(u64::from(s)))?;
                            }
                        }
                        TLS_HANDSHAKE_SNI => {
                            if let Some(s) = &h.sni {
                                f(Value::Str(s))?;
                            }
                        }
                        TLS_HANDSHAKE_ALPN => {
                            for a in &h.alpn {
                                f(Value::Str(a))?;
                            }
                        }
                        TLS_HANDSHAKE_SUPPORTED_VERSION => {
                            for &v in &h.supported_versions {
                                f(u(u64::from(v)))?;
                            }
                        }
                        TLS_HANDSHAKE_SESSION_ID => {
                            if h.msg_type <= 2 {
                                f(Value::Bytes(&h.session_id))?;
                            }
                        }
                        TLS_HANDSHAKE_RANDOM => {
                            if !h.random.is_empty() {
                                f(Value::Bytes(&h.random))?;
                            }
                        }
                        TLS_HANDSHAKE_JA4 | JA4 => {
                            if let Some(j) = &h.ja4 {
                                f(Value::Str(j))?;
                            }
                        }
                        _ => return ControlFlow::Continue(()),
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_fields() {
        let recs = [RecordEvent {
            content_type: 22,
            version: 0x0301,
            length: 100,
            handshakes: vec![HsEvent {
                msg_type: 1,
                sni: Some("example.com".into()),
                suites: vec![0x1301, 0x1302],
                ..Default::default()
            }],
            ..Default::default()
        }];
        let t = TlsFrameFields { records: &recs };
        assert_eq!(
            t.summary().as_deref(),
            Some("Client Hello (SNI=example.com)")
        );
        let mut n = 0;
        t.visit(TLS_HANDSHAKE_CIPHERSUITE, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        });
        assert_eq!(n, 2);
        assert!(t.has(TLS_HANDSHAKE_SNI));
        assert!(!t.has(TLS_APP_DATA));
        assert_eq!(FIELDS.len() as u32, SEGMENT_COUNT);
    }
    const SEGMENT_COUNT: u32 = TLS_SEGMENT_DATA - BASE + 1;
}
