//! [`TlsLayer`]: the integration piece. Wrapped around any [`FlowHandler`] (see
//! [`TlsLayer::wrap`]), it watches every TCP stream:
//!
//! * a stream whose first bytes (either direction) are a TLS handshake record header is TLS,
//!   on any port; its records are parsed and, with keys, decrypted application data is
//!   forwarded to the inner handler as `on_data` of the same flow and direction;
//! * STARTTLS (SMTP/IMAP `STARTTLS`, POP3 `STLS`, FTP `AUTH TLS`): once the client has sent such
//!   a command, a later client segment that starts with a ClientHello record switches the
//!   stream to TLS; what came before was forwarded as plaintext, what comes after is decrypted
//!   and forwarded the same way, so the mail parsers continue on the plaintext;
//! * other streams (and UDP) are forwarded unchanged;
//! * TLS streams without keys are not forwarded as plaintext: their [`SessionReport`] says why.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use wiresift_flow::{Direction, FlowHandler, FlowId, FlowInfo, FlowSummary, Gap, Nanos, Proto};

use crate::KeyStore;
use crate::fields::{RecordEvent, TlsFrameFields};
use crate::record::{looks_like_client_hello, looks_like_record};
use crate::session::{Ctx, ResumptionCache, Session, SessionReport, SessionStatus};

/// Reports kept (the rest are counted only).
pub const MAX_REPORTS: usize = 1 << 20;

enum Mode {
    /// No payload yet.
    Undecided,
    /// Not TLS; `starttls` once the client asked to upgrade.
    Plain {
        starttls: bool,
    },
    Tls(Box<Session>),
}

struct FlowState {
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    mode: Mode,
}

/// Counts over the whole input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsStats {
    pub sessions: u64,
    pub decrypted: u64,
    pub no_key: u64,
    pub failed: u64,
    pub incomplete: u64,
    pub starttls: u64,
    pub reports_dropped: u64,
}

/// TLS detection, parsing and decryption over the flow engine's streams.
pub struct TlsLayer {
    keys: KeyStore,
    cache: ResumptionCache,
    /// Looked up for every delivered segment: a fast hash (flow ids are not chosen by the
    /// capture's author alone: stream numbers are ours, so collisions cannot be forced).
    flows: HashMap<FlowId, FlowState, foldhash::fast::RandomState>,
    reports: Vec<SessionReport>,
    stats: TlsStats,
    collect: bool,
    events: Vec<RecordEvent>,
    events_frame: u64,
    alpn: HashMap<FlowId, String>,
    forward_plain: bool,
}

impl TlsLayer {
    pub fn new(keys: KeyStore) -> TlsLayer {
        TlsLayer {
            keys,
            cache: ResumptionCache::default(),
            flows: HashMap::default(),
            reports: Vec::new(),
            stats: TlsStats::default(),
            collect: false,
            events: Vec::new(),
            events_frame: 0,
            alpn: HashMap::new(),
            forward_plain: true,
        }
    }

    /// Forward streams that are not TLS unchanged (default) or drop them (`follow --proto
    /// tls` shows decrypted TLS only).
    pub fn forward_plaintext(&mut self, on: bool) {
        self.forward_plain = on;
    }

    /// Describe the records of each frame for the fields (`read -Y tls...`, `-T fields`).
    pub fn collect_fields(&mut self, on: bool) {
        self.collect = on;
    }

    /// Secrets, e.g. to add a DSB found later in the file.
    pub fn keys_mut(&mut self) -> &mut KeyStore {
        &mut self.keys
    }

    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// A handler that runs this layer in front of `inner`.
    pub fn wrap<'a>(&'a mut self, inner: &'a mut dyn FlowHandler) -> TlsWrap<'a> {
        TlsWrap { layer: self, inner }
    }

    /// TLS fields of `frame` (records completed on it), when collecting.
    pub fn frame_fields(&self, frame: u64) -> TlsFrameFields<'_> {
        let records: &[RecordEvent] = if self.events_frame == frame {
            &self.events
        } else {
            &[]
        };
        TlsFrameFields { records }
    }

    /// The ALPN protocol the server selected on a TLS flow (`h2`, `http/1.1`), while the
    /// flow is open and after it closed.
    pub fn alpn(&self, id: FlowId) -> Option<&str> {
        if let Some(FlowState {
            mode: Mode::Tls(s), ..
        }) = self.flows.get(&id)
            && let Some(a) = s.alpn()
        {
            return Some(a);
        }
        self.alpn.get(&id).map(String::as_str)
    }

    /// Whether a flow is (currently) TLS.
    pub fn is_tls(&self, id: FlowId) -> bool {
        matches!(
            self.flows.get(&id),
            Some(FlowState {
                mode: Mode::Tls(_),
                ..
            })
        ) || self.reports.iter().any(|r| r.flow == id)
    }

    /// Reports of the TLS sessions closed so far, in closing order.
    pub fn reports(&self) -> &[SessionReport] {
        &self.reports
    }

    /// The report of an open or closed session.
    pub fn report(&self, id: FlowId) -> Option<SessionReport> {
        if let Some(FlowState {
            mode: Mode::Tls(s), ..
        }) = self.flows.get(&id)
        {
            return Some(s.report());
        }
        self.reports.iter().rev().find(|r| r.flow == id).cloned()
    }

    pub fn stats(&self) -> TlsStats {
        self.stats
    }

    fn begin_frame(&mut self, frame: u64) {
        if self.events_frame != frame {
            self.events.clear();
            self.events_frame = frame;
        }
    }

    fn close(&mut self, id: FlowId) {
        let Some(st) = self.flows.remove(&id) else {
            return;
        };
        let Mode::Tls(s) = st.mode else { return };
        let r = s.report();
        match r.status {
            SessionStatus::Decrypted => self.stats.decrypted += 1,
            SessionStatus::NoKey => self.stats.no_key += 1,
            SessionStatus::Failed => self.stats.failed += 1,
            SessionStatus::Incomplete => self.stats.incomplete += 1,
        }
        if let Some(a) = &r.alpn
            && self.alpn.len() < MAX_REPORTS
        {
            self.alpn.insert(id, a.clone());
        }
        if self.reports.len() < MAX_REPORTS {
            self.reports.push(r);
        } else {
            self.stats.reports_dropped += 1;
        }
    }
}

/// Whether a client's plaintext asks to upgrade to TLS.
fn is_starttls_command(data: &[u8]) -> bool {
    if data.len() > 256 {
        return false;
    }
    let up: Vec<u8> = data.iter().map(u8::to_ascii_uppercase).collect();
    let has = |n: &[u8]| up.windows(n.len()).any(|w| w == n);
    has(b"STARTTLS")
        || up.starts_with(b"STLS")
        || up.starts_with(b"AUTH TLS")
        || up.starts_with(b"AUTH SSL")
}

/// [`TlsLayer`] in front of an inner handler, for one call of the engine.
pub struct TlsWrap<'a> {
    layer: &'a mut TlsLayer,
    inner: &'a mut dyn FlowHandler,
}

impl TlsWrap<'_> {
    fn push_tls(&mut self, id: FlowId, dir: Direction, data: &[u8], ts: Nanos, frame: u64) {
        let l = &mut *self.layer;
        let Some(FlowState {
            mode: Mode::Tls(s), ..
        }) = l.flows.get_mut(&id)
        else {
            return;
        };
        let mut ctx = Ctx {
            keys: &l.keys,
            cache: &mut l.cache,
            events: if l.collect { Some(&mut l.events) } else { None },
            frame,
        };
        let inner = &mut *self.inner;
        s.push(dir, data, &mut ctx, &mut |d, plain| {
            inner.on_data(id, d, plain, ts, frame)
        });
    }
}

impl FlowHandler for TlsWrap<'_> {
    fn on_open(&mut self, id: FlowId, info: &FlowInfo) {
        let mode = if id.proto == Proto::Tcp {
            Mode::Undecided
        } else {
            Mode::Plain { starttls: false }
        };
        self.layer.flows.insert(
            id,
            FlowState {
                client: info.client,
                server: info.server,
                mode,
            },
        );
        self.inner.on_open(id, info);
    }

    /// With keys, any flow may turn out to be TLS to decrypt; without, only what the handler
    /// behind wants matters (sessions it does not read need no report).
    fn wants_data(&mut self, id: FlowId, info: &FlowInfo) -> bool {
        let inner = self.inner.wants_data(id, info);
        inner || !self.layer.keys.is_empty()
    }

    fn on_data(&mut self, id: FlowId, dir: Direction, data: &[u8], ts: Nanos, frame: u64) {
        self.layer.begin_frame(frame);
        let st = self.layer.flows.entry(id).or_insert_with(|| FlowState {
            client: (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            server: (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            mode: if id.proto == Proto::Tcp {
                Mode::Undecided
            } else {
                Mode::Plain { starttls: false }
            },
        });
        let to_tls = match &mut st.mode {
            Mode::Undecided => {
                if data.first() == Some(&22) && looks_like_record(data) {
                    true
                } else {
                    st.mode = Mode::Plain {
                        starttls: dir == Direction::ClientToServer && is_starttls_command(data),
                    };
                    false
                }
            }
            Mode::Plain { starttls } => {
                if *starttls && dir == Direction::ClientToServer && looks_like_client_hello(data) {
                    self.layer.stats.starttls += 1;
                    true
                } else {
                    if dir == Direction::ClientToServer && !*starttls {
                        *starttls = is_starttls_command(data);
                    }
                    false
                }
            }
            Mode::Tls(_) => {
                self.push_tls(id, dir, data, ts, frame);
                return;
            }
        };
        if to_tls {
            st.mode = Mode::Tls(Box::new(Session::new(id, st.client, st.server)));
            self.layer.stats.sessions += 1;
            self.push_tls(id, dir, data, ts, frame);
        } else if self.layer.forward_plain {
            self.inner.on_data(id, dir, data, ts, frame);
        }
    }

    fn on_gap(&mut self, id: FlowId, dir: Direction, gap: &Gap) {
        if let Some(FlowState {
            mode: Mode::Tls(s), ..
        }) = self.layer.flows.get_mut(&id)
        {
            s.gap(dir, gap.missing, gap.frame);
        }
        self.inner.on_gap(id, dir, gap);
    }

    fn on_close(&mut self, id: FlowId, summary: &FlowSummary) {
        self.layer.close(id);
        self.inner.on_close(id, summary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttls_commands() {
        assert!(is_starttls_command(b"STARTTLS\r\n"));
        assert!(is_starttls_command(b"a001 starttls\r\n"));
        assert!(is_starttls_command(b"STLS\r\n"));
        assert!(!is_starttls_command(b"MAIL FROM:<a@b>\r\n"));
    }
}
