//! E-mail over SMTP, POP3 and IMAP, from reassembled TCP streams.
//!
//! [`MailExtractor`] is a [`FlowHandler`]: it recognises mail connections by port, runs a
//! sans-I/O state machine per connection ([`smtp`], [`pop3`], [`imap`]) and streams every
//! message to disk as it arrives — SMTP DATA after dot-unstuffing (state kept across
//! segments), BDAT chunks as sent, POP3 RETR/TOP after dot-unstuffing, IMAP FETCH literals as
//! sent — so memory stays bounded whatever the message size. When a message is complete it
//! gets its final name (`<stream>-<n>-<subject>.eml`), its attachments are decoded beside it
//! (mail-parser, up to `max_parse_size`), and a manifest record with the envelope waits for
//! the server's verdict (SMTP) before it is handed to the driver.
//!
//! For `read`, the same machines fill the frame's `smtp.*`/`imf.*`/`pop.*`/`imap.*` fields
//! ([`fields`]) on the frame that completes a command, a reply or a message, as tshark does.
//!
//! Hostile input: every line is capped ([`MailOptions::max_line`]), pending commands are
//! capped, nothing panics on any byte sequence (fuzzed: `fuzz/fuzz_targets/smtp_parse.rs`).
#![forbid(unsafe_code)]

pub mod fields;
pub mod imap;
pub mod lines;
pub mod message;
pub mod pop3;
pub mod smtp;

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};
use wiresift_export::{ExportError, ExportSummary, Extractor, ObjectDir};
use wiresift_field::FieldSource;
use wiresift_flow::{
    Direction, FlowHandler, FlowId, FlowInfo, FlowSummary, Gap, GapCause, Nanos, Proto,
};

pub use fields::{BASE, FIELDS, FrameFields};

/// What to extract and the limits that bound it.
#[derive(Clone, Debug)]
pub struct MailOptions {
    pub smtp: bool,
    pub pop3: bool,
    pub imap: bool,
    /// Server ports of each protocol (the connection's server side, or either side when the
    /// capture starts mid-connection).
    pub smtp_ports: Vec<u16>,
    pub pop3_ports: Vec<u16>,
    pub imap_ports: Vec<u16>,
    /// Show AUTH/PASS/LOGIN passwords in fields and the manifest (redacted otherwise).
    pub show_secrets: bool,
    /// Decode attachments into a folder per message.
    pub attachments: bool,
    /// Messages larger than this are written but their attachments are not extracted (the
    /// manifest says so).
    pub max_parse_size: u64,
    /// Bytes written per message at most; beyond it the message is marked truncated.
    pub max_message_size: u64,
    /// Longest command, reply or response line kept (longer lines are cut, marked).
    pub max_line: usize,
    /// Commands awaiting a reply kept per connection (pipelining).
    pub max_pending: usize,
    /// Collect per-frame fields (for `read`); export alone does not need them.
    pub fields: bool,
}

impl Default for MailOptions {
    fn default() -> Self {
        MailOptions {
            smtp: true,
            pop3: true,
            imap: true,
            smtp_ports: vec![25, 587, 2525],
            pop3_ports: vec![110],
            imap_ports: vec![143],
            show_secrets: false,
            attachments: true,
            max_parse_size: 64 << 20,
            max_message_size: 4 << 30,
            max_line: 16 * 1024,
            max_pending: 1024,
            fields: false,
        }
    }
}

/// Shared state the protocol machines write into.
pub struct Ctx {
    pub opts: MailOptions,
    pub dir: Option<ObjectDir>,
    /// Attachments go through the directory's writer thread (see [`MailExtractor::with_dir`]).
    pub background: bool,
    pub frame: FrameFields,
    records: Vec<Value>,
    pub summary: ExportSummary,
    rejected: u64,
    gaps: u64,
    starttls: u64,
    overflow: u64,
    /// Flows that switched to TLS (STARTTLS/STLS accepted): stream offsets where TLS begins in
    /// each direction (index with [`Direction::index`]).
    pub tls_flows: Vec<(FlowId, [u64; 2])>,
}

/// Facts about a connection repeated in each of its records.
#[derive(Clone, Debug)]
pub struct Meta {
    pub id: FlowId,
    pub stream: u64,
    pub client: String,
    pub server: String,
}

impl Ctx {
    /// Hands a finished record to the driver (adds the connection's endpoints).
    pub fn emit(&mut self, meta: &Meta, mut rec: serde_json::Map<String, Value>) {
        rec.insert("client".into(), json!(meta.client));
        rec.insert("server".into(), json!(meta.server));
        let rejected = rec
            .get("anomalies")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|s| s.get("rejected").is_some()));
        if rejected {
            self.rejected += 1;
        }
        if self.dir.is_some() {
            self.records.push(Value::Object(rec));
        }
    }

    pub fn note_overflow(&mut self) {
        self.overflow += 1;
    }
}

enum Conn {
    Smtp(Box<smtp::Smtp>),
    Pop3(Box<pop3::Pop3>),
    Imap(Box<imap::Imap>),
}

struct Flow {
    /// The capture started mid-connection and the flow engine took the server for the client.
    swapped: bool,
    conn: Conn,
    delivered: [u64; 2],
    tls: bool,
}

/// Hashes a TCP stream number (unique, dense): one multiply, no SipHash on every segment of
/// every flow of the capture.
#[derive(Default, Clone, Copy)]
struct StreamHasher(u64);

impl std::hash::Hasher for StreamHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0.rotate_left(8) ^ u64::from(x)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type StreamMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<StreamHasher>>;

/// The mail extractor: a [`FlowHandler`] for `export smtp|pop3|imap|mail` and `read`.
pub struct MailExtractor {
    ctx: Ctx,
    /// TCP mail connections by stream number.
    flows: StreamMap<Flow>,
}

impl MailExtractor {
    /// `out`: the export directory (created if needed); `None` for fields only.
    pub fn new(opts: MailOptions, out: Option<&Path>) -> Result<MailExtractor, ExportError> {
        let dir = match out {
            Some(p) => Some(ObjectDir::create(p)?),
            None => None,
        };
        Ok(MailExtractor::build(opts, dir, false))
    }

    /// Exports into `dir`, whose writer thread (and manifest) the caller shares: attachments
    /// are written and hashed there, and records carry placeholders for their final names and
    /// digests ([`wiresift_export::fact`]), so they must go to that directory's manifest.
    pub fn with_dir(opts: MailOptions, dir: ObjectDir) -> MailExtractor {
        MailExtractor::build(opts, Some(dir), true)
    }

    fn build(opts: MailOptions, dir: Option<ObjectDir>, background: bool) -> MailExtractor {
        MailExtractor {
            ctx: Ctx {
                opts,
                dir,
                background,
                frame: FrameFields::default(),
                records: Vec::new(),
                summary: ExportSummary {
                    kind: "mail",
                    ..ExportSummary::default()
                },
                rejected: 0,
                gaps: 0,
                starttls: 0,
                overflow: 0,
                tls_flows: Vec::new(),
            },
            flows: StreamMap::default(),
        }
    }

    /// Flows whose rest is TLS (for a TLS decryptor to take over), with the stream offset of
    /// the first TLS byte in each direction.
    pub fn tls_flows(&self) -> &[(FlowId, [u64; 2])] {
        &self.ctx.tls_flows
    }

    /// Wireshark parity for the frame just processed, for `read`: a retransmitted segment is
    /// not handed to the application dissectors (its fields are dropped), and a TCP segment
    /// quoted in an ICMP error (`quoted`: the quoted IP packet, of TCP stream `stream`) is
    /// dissected by port, so tshark shows `smtp`/`pop`/`imap` on such frames when the quote
    /// holds payload.
    pub fn frame_context(&mut self, retransmission: bool, icmp_quote: Option<(u64, &[u8])>) {
        if retransmission {
            self.ctx.frame.clear();
        }
        let Some((stream, ip)) = icmp_quote else {
            return;
        };
        if !self.ctx.opts.fields || quoted_tcp_payload(ip) == 0 {
            return;
        }
        if let Some(f) = self.flows.get(&stream) {
            self.ctx.frame.proto(match f.conn {
                Conn::Smtp(_) => fields::SMTP,
                Conn::Pop3(_) => fields::POP,
                Conn::Imap(_) => fields::IMAP,
            });
        }
    }

    fn classify(&self, info: &FlowInfo) -> Option<(Conn, bool)> {
        let o = &self.ctx.opts;
        let (sp, cp) = (info.server.1, info.client.1);
        let kinds: [(bool, &Vec<u16>, u8); 3] = [
            (o.smtp, &o.smtp_ports, 0),
            (o.pop3, &o.pop3_ports, 1),
            (o.imap, &o.imap_ports, 2),
        ];
        for swapped in [false, true] {
            let port = if swapped { cp } else { sp };
            for (on, ports, k) in kinds {
                if on && ports.contains(&port) {
                    let (client, server) = if swapped {
                        (info.server, info.client)
                    } else {
                        (info.client, info.server)
                    };
                    let meta = Meta {
                        id: FlowId {
                            proto: info.proto,
                            stream: info.stream,
                        },
                        stream: info.stream,
                        client: endpoint(client),
                        server: endpoint(server),
                    };
                    let conn = match k {
                        0 => Conn::Smtp(Box::new(smtp::Smtp::new(meta, o))),
                        1 => Conn::Pop3(Box::new(pop3::Pop3::new(meta, o))),
                        _ => Conn::Imap(Box::new(imap::Imap::new(meta, o))),
                    };
                    return Some((conn, swapped));
                }
            }
        }
        None
    }
}

fn endpoint((ip, port): (std::net::IpAddr, u16)) -> String {
    match ip {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

impl FlowHandler for MailExtractor {
    /// Mail lives on its configured ports: every other stream need not be reassembled.
    fn wants_data(&mut self, id: FlowId, _info: &FlowInfo) -> bool {
        id.proto == Proto::Tcp && self.flows.contains_key(&id.stream)
    }

    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        if id.proto != Proto::Tcp {
            return;
        }
        if let Some((conn, swapped)) = self.classify(info) {
            self.flows.insert(
                id.stream,
                Flow {
                    swapped,
                    conn,
                    delivered: [0; 2],
                    tls: false,
                },
            );
        }
    }

    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], ts: Nanos, frame: u64) {
        if id.proto != Proto::Tcp {
            return;
        }
        let Some(f) = self.flows.get_mut(&id.stream) else {
            return;
        };
        let dir = if f.swapped { dir.reverse() } else { dir };
        if f.tls {
            f.delivered[dir.index()] += data.len() as u64;
            return;
        }
        let tls_at = match &mut f.conn {
            Conn::Smtp(c) => c.data(&mut self.ctx, dir, data, ts, frame),
            Conn::Pop3(c) => c.data(&mut self.ctx, dir, data, ts, frame),
            Conn::Imap(c) => c.data(&mut self.ctx, dir, data, ts, frame),
        };
        if let Some(at) = tls_at {
            f.tls = true;
            self.ctx.starttls += 1;
            let mut off = f.delivered;
            off[dir.index()] += at as u64;
            self.ctx.tls_flows.push((id, off));
        }
        f.delivered[dir.index()] += data.len() as u64;
    }

    fn on_gap(&mut self, id: FlowId, dir: Direction, gap: &Gap) {
        if id.proto != Proto::Tcp {
            return;
        }
        let Some(f) = self.flows.get_mut(&id.stream) else {
            return;
        };
        if f.tls {
            return;
        }
        let dir = if f.swapped { dir.reverse() } else { dir };
        if gap.cause != GapCause::Close || gap.missing > 0 {
            self.ctx.gaps += 1;
        }
        match &mut f.conn {
            Conn::Smtp(c) => c.gap(&mut self.ctx, dir, gap.missing),
            Conn::Pop3(c) => c.gap(&mut self.ctx, dir, gap.missing),
            Conn::Imap(c) => c.gap(&mut self.ctx, dir, gap.missing),
        }
    }

    fn on_close(&mut self, id: FlowId, _summary: &FlowSummary) {
        if id.proto != Proto::Tcp {
            return;
        }
        let Some(f) = self.flows.remove(&id.stream) else {
            return;
        };
        match f.conn {
            Conn::Smtp(mut c) => c.close(&mut self.ctx),
            Conn::Pop3(mut c) => c.close(&mut self.ctx),
            Conn::Imap(mut c) => c.close(&mut self.ctx),
        }
    }
}

impl Extractor for MailExtractor {
    fn frame_fields(&self) -> &dyn FieldSource {
        &self.ctx.frame
    }

    fn end_frame(&mut self) {
        if !self.ctx.frame.is_empty() {
            self.ctx.frame.clear();
        }
    }

    fn drain_records(&mut self, out: &mut Vec<Value>) {
        out.append(&mut self.ctx.records);
    }

    fn summary(&self) -> ExportSummary {
        let mut s = self.ctx.summary.clone();
        let c = &self.ctx;
        if c.rejected > 0 {
            s.notes
                .push(format!("{} message(s) rejected by the server", c.rejected));
        }
        if c.gaps > 0 {
            s.notes.push(format!(
                "{} gap(s) in mail streams (bytes not captured)",
                c.gaps
            ));
        }
        if c.starttls > 0 {
            s.notes.push(format!(
                "{} mail connection(s) switched to TLS (STARTTLS): not decrypted",
                c.starttls
            ));
        }
        if c.overflow > 0 {
            s.notes.push(format!(
                "{} over-long line(s) or command backlog(s) cut at their limits",
                c.overflow
            ));
        }
        s
    }
}

/// Captured TCP payload bytes of a quoted IPv4/IPv6 packet (0 when not TCP or cut short).
fn quoted_tcp_payload(ip: &[u8]) -> usize {
    let Some(&v) = ip.first() else { return 0 };
    let (tcp, proto) = match v >> 4 {
        4 => (usize::from(v & 15) * 4, ip.get(9).copied()),
        6 => (40, ip.get(6).copied()),
        _ => return 0,
    };
    if proto != Some(6) {
        return 0;
    }
    let Some(&off) = ip.get(tcp + 12) else {
        return 0;
    };
    ip.len().saturating_sub(tcp + usize::from(off >> 4) * 4)
}

/// Decodes base64 (whitespace tolerated); `None` if it is not base64.
/// The user name in the `n`-th (from 1) base64 response of a SASL exchange, when the
/// mechanism carries it: PLAIN (authzid NUL authcid NUL password) and LOGIN (the first
/// response). Used by POP3 AUTH and IMAP AUTHENTICATE.
pub(crate) fn sasl_user(mech: &str, n: u32, line: &[u8]) -> Option<String> {
    let dec = b64(line)?;
    let user = match (mech, n) {
        ("PLAIN", _) => dec.split(|&c| c == 0).nth(1).map(<[u8]>::to_vec),
        ("LOGIN", 1) => Some(dec),
        _ => None,
    }?;
    Some(String::from_utf8_lossy(&user).into_owned())
}

pub(crate) fn b64(s: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let t: Vec<u8> = s
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&t)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&t))
        .ok()
}

/// Splits a command line into its verb (upper-cased) and the rest.
pub(crate) fn split_verb(line: &[u8]) -> (String, &[u8]) {
    let sp = line.iter().position(|&c| c == b' ').unwrap_or(line.len());
    let verb = String::from_utf8_lossy(&line[..sp]).to_ascii_uppercase();
    let mut rest = line.get(sp + 1..).unwrap_or(&[]);
    while let [b' ', r @ ..] = rest {
        rest = r;
    }
    (verb, rest)
}

pub(crate) const REDACTED: &str = "<redacted>";
