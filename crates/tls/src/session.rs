//! Per-connection TLS state machine for both directions: hellos, key derivation (key log,
//! RSA pre-master, resumption), ChangeCipherSpec / TLS 1.3 key stages, KeyUpdate, record
//! decryption, and the status/reason a session ends with.

use std::collections::HashMap;
use std::net::IpAddr;

use wiresift_flow::{Direction, FlowId};

use crate::KeyStore;
use crate::cipher::{self, DirCipher, Kx, Suite};
use crate::fields::{HsEvent, RecordEvent};
use crate::handshake::{self, ClientHello, ServerHello, msg};
use crate::prf::{self, HashAlg};
use crate::record::{HandshakeBuffer, Next, RecordBuffer, content_type as ct};

/// Most records described per frame for the fields (the rest are still processed).
pub const MAX_EVENTS_PER_FRAME: usize = 256;
/// Bytes of `tls.app_data` / decrypted data kept per record for the fields.
const MAX_EVENT_BYTES: usize = 16 * 1024;
/// Handshake transcript kept for the extended master secret (RSA key exchange).
const MAX_TRANSCRIPT: usize = 1 << 20;
/// Resumption cache entries (session ids and tickets → master secrets).
const MAX_CACHE: usize = 65_536;
/// 0-RTT records kept until the ServerHello names the cipher suite (bytes, per session).
const MAX_EARLY_HELD: usize = 256 * 1024;

/// Master secrets of sessions seen earlier in the capture, for abbreviated handshakes.
#[derive(Default)]
pub struct ResumptionCache {
    by_id: HashMap<Vec<u8>, Vec<u8>>,
    by_ticket: HashMap<Vec<u8>, Vec<u8>>,
    /// Session ids and tickets of full handshakes whose master secret could not be derived,
    /// with their TCP stream: a resumption of one of them says so instead of "not in the
    /// capture".
    undecrypted_id: HashMap<Vec<u8>, u64>,
    undecrypted_ticket: HashMap<Vec<u8>, u64>,
}

impl ResumptionCache {
    fn note_undecrypted(&mut self, id: &[u8], ticket: Option<&[u8]>, stream: u64) {
        for (map, key) in [
            (&mut self.undecrypted_id, Some(id)),
            (&mut self.undecrypted_ticket, ticket),
        ] {
            let Some(key) = key.filter(|k| !k.is_empty()) else {
                continue;
            };
            if map.len() >= MAX_CACHE {
                map.clear();
            }
            map.insert(key.to_vec(), stream);
        }
    }

    fn insert_id(&mut self, id: &[u8], master: &[u8]) {
        if id.is_empty() {
            return;
        }
        if self.by_id.len() >= MAX_CACHE {
            self.by_id.clear();
        }
        self.by_id.insert(id.to_vec(), master.to_vec());
    }
    fn insert_ticket(&mut self, t: &[u8], master: &[u8]) {
        if t.is_empty() {
            return;
        }
        if self.by_ticket.len() >= MAX_CACHE {
            self.by_ticket.clear();
        }
        self.by_ticket.insert(t.to_vec(), master.to_vec());
    }
}

/// How a session ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    /// Application data was decrypted (or keys were in place and none was sent).
    Decrypted,
    /// No usable key; the reason says which one was missing.
    NoKey,
    /// Keys were there but decryption failed or the stream broke.
    Failed,
    /// The handshake was not complete enough to decide (e.g. capture started mid-session).
    Incomplete,
}

impl SessionStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionStatus::Decrypted => "decrypted",
            SessionStatus::NoKey => "no key",
            SessionStatus::Failed => "failed",
            SessionStatus::Incomplete => "incomplete",
        }
    }
}

/// What is known about a TLS session at its end (or now).
#[derive(Clone, Debug)]
pub struct SessionReport {
    pub flow: FlowId,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub version: Option<u16>,
    pub cipher_suite: Option<u16>,
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub ja4: Option<String>,
    pub resumed: bool,
    /// ClientHello.random (what key log lines are matched by; not a secret).
    pub client_random: Option<[u8; 32]>,
    /// First 8 bytes of an RSA-encrypted pre-master secret (key log `RSA` lines).
    pub rsa_prefix: Option<[u8; 8]>,
    pub status: SessionStatus,
    /// Why the session is not (fully) decrypted.
    pub reason: Option<String>,
    /// Records seen, decrypted, and plaintext application bytes, per direction.
    pub records: [u64; 2],
    pub decrypted_records: [u64; 2],
    pub plaintext_bytes: [u64; 2],
}

impl SessionReport {
    /// `TLS 1.2`, `TLS 1.3`, ...
    pub fn version_name(&self) -> Option<&'static str> {
        self.version.map(version_name)
    }
    pub fn cipher_suite_name(&self) -> Option<&'static str> {
        self.cipher_suite.and_then(cipher::suite).map(|s| s.name)
    }
}

/// Human name of a protocol version.
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "unknown version",
    }
}

fn dir_name(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "client→server",
        Direction::ServerToClient => "server→client",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage13 {
    Early,
    Handshake,
    Application,
}

#[derive(Default)]
struct Dir {
    rec: RecordBuffer,
    hs: HandshakeBuffer,
    /// Records of this direction are protected from now on.
    encrypted: bool,
    cipher: Option<DirCipher>,
    stage: Option<Stage13>,
    /// Current TLS 1.3 traffic secret (for KeyUpdate).
    secret: Option<Vec<u8>>,
    /// Parsing stopped (not TLS any more, gap, or oversized handshake).
    stopped: bool,
    /// Decryption stopped after a failure.
    failed: bool,
    records: u64,
    decrypted: u64,
    plaintext: u64,
    /// Early-data records that could not be decrypted and were skipped.
    skipped: u64,
}

/// Context a session needs to derive keys.
pub struct Ctx<'a> {
    pub keys: &'a KeyStore,
    pub cache: &'a mut ResumptionCache,
    /// Describe records for the fields of the current frame.
    pub events: Option<&'a mut Vec<RecordEvent>>,
    pub frame: u64,
}

/// One TLS connection.
pub struct Session {
    flow: FlowId,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    dirs: [Dir; 2],
    ch: Option<ClientHello>,
    sh: Option<ServerHello>,
    ja4: Option<String>,
    suite: Option<&'static Suite>,
    hrr: bool,
    master: Option<Vec<u8>>,
    key_block: [Option<cipher::DirKeys>; 2],
    transcript: Vec<u8>,
    transcript_on: bool,
    session_hash: Option<Vec<u8>>,
    encrypted_pms: Option<Vec<u8>>,
    pending_ticket: Option<Vec<u8>>,
    resumed: bool,
    /// A ClientKeyExchange was seen: a full handshake, not a resumption.
    kx_seen: bool,
    /// Client records sent before the ServerHello after offering early data (0-RTT): kept
    /// until the ServerHello gives the cipher suite, then decrypted.
    early_held: Vec<(crate::record::Header, Vec<u8>)>,
    early_held_bytes: usize,
    /// Why keys are missing (first reason wins).
    no_key: Option<String>,
    /// Why decryption failed or stopped.
    failure: Option<String>,
}

impl Session {
    pub fn new(flow: FlowId, client: (IpAddr, u16), server: (IpAddr, u16)) -> Session {
        Session {
            flow,
            client,
            server,
            dirs: [Dir::default(), Dir::default()],
            ch: None,
            sh: None,
            ja4: None,
            suite: None,
            hrr: false,
            master: None,
            key_block: [None, None],
            transcript: Vec::new(),
            transcript_on: true,
            session_hash: None,
            encrypted_pms: None,
            pending_ticket: None,
            resumed: false,
            kx_seen: false,
            early_held: Vec::new(),
            early_held_bytes: 0,
            no_key: None,
            failure: None,
        }
    }

    /// ALPN the server selected.
    pub fn alpn(&self) -> Option<&str> {
        self.sh.as_ref().and_then(|s| s.alpn.as_deref())
    }

    pub fn sni(&self) -> Option<&str> {
        self.ch.as_ref().and_then(|c| c.sni.as_deref())
    }

    /// The negotiated version (after the ServerHello).
    pub fn version(&self) -> Option<u16> {
        self.sh.as_ref().map(|s| s.version)
    }

    /// TLS 1.3 negotiated: by the ServerHello, or (before it) by a HelloRetryRequest, which
    /// only TLS 1.3 has.
    fn is_tls13(&self) -> bool {
        match &self.sh {
            Some(sh) => sh.version == 0x0304,
            None => self.hrr,
        }
    }

    /// The client offered TLS 1.3 (supported_versions), or the server already asked for a retry.
    fn offers_tls13(&self) -> bool {
        self.hrr
            || self
                .ch
                .as_ref()
                .is_some_and(|c| c.supported_versions.contains(&0x0304))
    }

    fn client_random_hex(&self) -> String {
        self.ch
            .as_ref()
            .map(|c| crate::hex(&c.random))
            .unwrap_or_else(|| "(no ClientHello seen)".into())
    }

    fn set_no_key(&mut self, why: String) {
        if self.no_key.is_none() {
            self.no_key = Some(why);
        }
    }

    fn set_failure(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some(why);
        }
    }

    /// Bytes of one direction; decrypted application data goes to `out`.
    pub fn push(
        &mut self,
        dir: Direction,
        data: &[u8],
        ctx: &mut Ctx<'_>,
        out: &mut dyn FnMut(Direction, &[u8]),
    ) {
        let d = dir.index();
        if self.dirs[d].stopped {
            return;
        }
        // The buffer is taken out while its records are processed, so that a record's
        // payload is borrowed from it instead of copied (nothing below touches it).
        let mut rec = std::mem::take(&mut self.dirs[d].rec);
        rec.push(data);
        loop {
            let (hdr, payload) = match rec.next_record() {
                Next::Record(h, p) => (h, p),
                Next::Incomplete => break,
                Next::NotTls => {
                    let n = self.dirs[d].records;
                    self.set_failure(format!(
                        "{}: data after record {n} is not a TLS record (garbage or a non-TLS protocol); this direction is not parsed further",
                        dir_name(dir)
                    ));
                    self.dirs[d].stopped = true;
                    break;
                }
            };
            self.record(dir, hdr, payload, ctx, out);
            if dir == Direction::ServerToClient && self.sh.is_some() && !self.early_held.is_empty()
            {
                // The ServerHello is in: the client's early records can be decrypted now.
                self.early_held_bytes = 0;
                for (h, p) in std::mem::take(&mut self.early_held) {
                    self.process(Direction::ClientToServer, h, &p, ctx, out, false);
                }
            }
            if self.dirs[d].stopped {
                break;
            }
        }
        if self.dirs[d].stopped {
            rec.clear();
        }
        self.dirs[d].rec = rec;
    }

    /// Bytes missing from a direction: the record layer loses its place, so that direction
    /// stops here.
    pub fn gap(&mut self, dir: Direction, missing: u64, frame: u64) {
        let d = dir.index();
        if self.dirs[d].stopped {
            return;
        }
        self.dirs[d].stopped = true;
        self.dirs[d].rec.clear();
        self.set_failure(format!(
            "{}: {missing} bytes missing in the capture (frame {frame}); decryption of this direction stopped there",
            dir_name(dir)
        ));
    }

    fn event(&self, ctx: &mut Ctx<'_>, hdr: crate::record::Header) -> bool {
        let Some(ev) = ctx.events.as_deref_mut() else {
            return false;
        };
        if ev.len() >= MAX_EVENTS_PER_FRAME {
            return false;
        }
        ev.push(RecordEvent {
            frame: ctx.frame,
            content_type: hdr.content_type,
            version: hdr.version,
            length: hdr.length,
            ..Default::default()
        });
        true
    }

    fn with_event(ctx: &mut Ctx<'_>, has: bool, f: impl FnOnce(&mut RecordEvent)) {
        if !has {
            return;
        }
        if let Some(e) = ctx.events.as_deref_mut().and_then(|v| v.last_mut()) {
            f(e);
        }
    }

    fn record(
        &mut self,
        dir: Direction,
        hdr: crate::record::Header,
        payload: &[u8],
        ctx: &mut Ctx<'_>,
        out: &mut dyn FnMut(Direction, &[u8]),
    ) {
        let d = dir.index();
        self.dirs[d].records += 1;
        let has_ev = self.event(ctx, hdr);
        let early = dir == Direction::ClientToServer
            && self.sh.is_none()
            && self.ch.as_ref().is_some_and(|c| c.early_data)
            && (hdr.content_type == ct::APPLICATION_DATA || !self.early_held.is_empty());
        if early {
            if hdr.content_type == ct::APPLICATION_DATA {
                Self::with_event(ctx, has_ev, |e| {
                    e.app_data = Some(payload[..payload.len().min(MAX_EVENT_BYTES)].to_vec())
                });
            }
            if self.hrr {
                // A HelloRetryRequest rejects early data (RFC 8446 4.2.10): the server skips it.
                self.dirs[d].skipped += 1;
            } else if self.early_held_bytes + payload.len() <= MAX_EARLY_HELD {
                self.early_held_bytes += payload.len();
                self.early_held.push((hdr, payload.to_vec()));
            } else {
                self.set_failure(format!(
                    "{}: more than {MAX_EARLY_HELD} bytes of early data before the ServerHello; this direction is not decrypted",
                    dir_name(dir)
                ));
                self.dirs[d].failed = true;
                self.early_held.clear();
            }
            return;
        }
        self.process(dir, hdr, payload, ctx, out, has_ev);
    }

    /// One record of `dir` after it was counted (and described, with `has_ev`).
    fn process(
        &mut self,
        dir: Direction,
        hdr: crate::record::Header,
        payload: &[u8],
        ctx: &mut Ctx<'_>,
        out: &mut dyn FnMut(Direction, &[u8]),
        has_ev: bool,
    ) {
        let d = dir.index();
        let tls13 = self.is_tls13();
        let protected =
            self.dirs[d].encrypted && !(tls13 && hdr.content_type == ct::CHANGE_CIPHER_SPEC);
        if hdr.content_type == ct::APPLICATION_DATA {
            Self::with_event(ctx, has_ev, |e| {
                e.app_data = Some(payload[..payload.len().min(MAX_EVENT_BYTES)].to_vec())
            });
        }
        if !protected {
            match hdr.content_type {
                ct::HANDSHAKE => self.handshake_bytes(dir, payload, ctx, has_ev),
                // A ChangeCipherSpec before the ServerHello is TLS 1.3's middlebox-compatibility
                // record (RFC 8446 D.4: after a HelloRetryRequest, or the client's before early
                // data); TLS 1.0-1.2 never sends one there. It changes nothing.
                ct::CHANGE_CIPHER_SPEC if !tls13 => {
                    let compat = self.sh.is_none() && self.offers_tls13();
                    if !compat {
                        self.activate(dir, ctx)
                    }
                }
                ct::ALERT => {
                    let a = (payload.len() == 2).then(|| (payload[0], payload[1]));
                    Self::with_event(ctx, has_ev, |e| e.alert = Some(a));
                }
                ct::APPLICATION_DATA if self.sh.is_none() => {
                    self.set_no_key(if self.ch.is_none() {
                        "no handshake in the capture (it started mid-session): keys cannot be matched".into()
                    } else {
                        "no ServerHello seen: the negotiated cipher suite is unknown".into()
                    });
                }
                _ => {}
            }
            return;
        }
        // Protected record.
        if self.dirs[d].cipher.is_none() || self.dirs[d].failed {
            if hdr.content_type == ct::HANDSHAKE {
                Self::with_event(ctx, has_ev, |e| e.encrypted_handshake = true);
            } else if hdr.content_type == ct::ALERT {
                Self::with_event(ctx, has_ev, |e| e.alert = Some(None));
            }
            return;
        }
        let res = self.decrypt_with_fallback(dir, hdr, payload, ctx);
        let (inner, plain) = match res {
            Ok(Some(x)) => x,
            Ok(None) => return,
            Err(e) => {
                let n = self.dirs[d].records;
                let suite = self.suite.map_or("?", |s| s.name);
                self.set_failure(format!(
                    "{} record {n}: {} ({suite}, client random {})",
                    dir_name(dir),
                    e.as_str(),
                    self.client_random_hex()
                ));
                self.dirs[d].failed = true;
                return;
            }
        };
        self.dirs[d].decrypted += 1;
        Self::with_event(ctx, has_ev, |e| {
            e.decrypted = true;
            e.inner_type = Some(inner);
            // Wireshark shows tls.app_data only for what is application data after decryption.
            if inner != ct::APPLICATION_DATA {
                e.app_data = None;
            }
        });
        match inner {
            ct::APPLICATION_DATA => {
                self.dirs[d].plaintext += plain.len() as u64;
                Self::with_event(ctx, has_ev, |e| {
                    e.plaintext = Some(plain[..plain.len().min(MAX_EVENT_BYTES)].to_vec())
                });
                if !plain.is_empty() {
                    out(dir, &plain);
                }
            }
            ct::HANDSHAKE => self.handshake_bytes(dir, &plain, ctx, has_ev),
            ct::ALERT => {
                let a = (plain.len() >= 2).then(|| (plain[0], plain[1]));
                Self::with_event(ctx, has_ev, |e| e.alert = Some(a));
            }
            _ => {}
        }
    }

    fn decrypt_with_fallback(
        &mut self,
        dir: Direction,
        hdr: crate::record::Header,
        payload: &[u8],
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<(u8, Vec<u8>)>, cipher::DecryptError> {
        let d = dir.index();
        let Some(c) = self.dirs[d].cipher.as_mut() else {
            return Ok(None);
        };
        match c.decrypt(hdr.content_type, hdr.version, payload) {
            Ok(x) => Ok(Some(x)),
            Err(e) => {
                // TLS 1.3 client: early data the server rejected, or an early key that is
                // not in the log: move on to the handshake key and skip what it cannot open.
                let early_possible = dir == Direction::ClientToServer
                    && self.ch.as_ref().is_some_and(|c| c.early_data)
                    && self.dirs[d].stage != Some(Stage13::Application);
                if !early_possible {
                    return Err(e);
                }
                if self.dirs[d].stage == Some(Stage13::Early) {
                    self.enter_stage13(dir, Stage13::Handshake, ctx);
                    if let Some(c) = self.dirs[d].cipher.as_mut()
                        && let Ok(x) = c.decrypt(hdr.content_type, hdr.version, payload)
                    {
                        return Ok(Some(x));
                    }
                }
                self.dirs[d].skipped += 1;
                Ok(None)
            }
        }
    }

    fn handshake_bytes(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>, has_ev: bool) {
        let d = dir.index();
        self.dirs[d].hs.push(data);
        loop {
            let m = match self.dirs[d].hs.next_message() {
                Ok(Some(m)) => m.to_vec(),
                Ok(None) => break,
                Err(len) => {
                    self.set_failure(format!(
                        "{}: handshake message of {len} bytes exceeds the limit; this direction is not parsed further",
                        dir_name(dir)
                    ));
                    self.dirs[d].stopped = true;
                    self.dirs[d].hs.clear();
                    break;
                }
            };
            self.message(dir, &m, ctx, has_ev);
        }
    }

    fn message(&mut self, dir: Direction, m: &[u8], ctx: &mut Ctx<'_>, has_ev: bool) {
        let t = m[0];
        let body = &m[4..];
        let tls13 = self.is_tls13();
        if self.transcript_on && !tls13 && t != msg::HELLO_REQUEST {
            if self.transcript.len() + m.len() <= MAX_TRANSCRIPT {
                self.transcript.extend_from_slice(m);
            } else {
                self.transcript_on = false;
                self.transcript.clear();
            }
        }
        let mut ev = HsEvent {
            msg_type: t,
            ..Default::default()
        };
        match t {
            msg::CLIENT_HELLO if dir == Direction::ClientToServer => {
                if let Some(ch) = handshake::parse_client_hello(body) {
                    let ja4 = crate::ja4::ja4(&ch);
                    ev.version = Some(ch.version);
                    ev.suites = ch.cipher_suites.clone();
                    ev.sni = ch.sni.clone();
                    ev.alpn = ch.alpn.clone();
                    ev.supported_versions = ch.supported_versions.clone();
                    ev.session_id = ch.session_id.clone();
                    ev.random = ch.random.to_vec();
                    ev.ja4 = Some(ja4.clone());
                    // After a HelloRetryRequest the second ClientHello keeps the first's random.
                    if self.ch.is_none() || !self.hrr {
                        self.ja4 = Some(ja4);
                        self.ch = Some(ch);
                    }
                }
            }
            msg::SERVER_HELLO if dir == Direction::ServerToClient => {
                if let Some(sh) = handshake::parse_server_hello(body) {
                    ev.version = Some(sh.legacy_version);
                    ev.suites = vec![sh.cipher_suite];
                    ev.alpn = sh.alpn.iter().cloned().collect();
                    ev.session_id = sh.session_id.clone();
                    ev.random = sh.random.to_vec();
                    ev.hrr = sh.hrr;
                    if sh.version == 0x0304 && sh.version != sh.legacy_version {
                        ev.supported_versions = vec![sh.version];
                    }
                    if sh.hrr {
                        self.hrr = true;
                        // Early data held for this ServerHello was rejected by the retry.
                        let rejected = std::mem::take(&mut self.early_held);
                        self.dirs[Direction::ClientToServer.index()].skipped +=
                            rejected.len() as u64;
                        self.early_held_bytes = 0;
                    } else {
                        self.server_hello(sh, ctx);
                    }
                }
            }
            msg::NEW_SESSION_TICKET if !tls13 => {
                if let Some(ticket) = handshake::parse_new_session_ticket12(body) {
                    match &self.master {
                        Some(m) => ctx.cache.insert_ticket(&ticket, m),
                        None => self.pending_ticket = Some(ticket),
                    }
                }
            }
            msg::CLIENT_KEY_EXCHANGE if dir == Direction::ClientToServer && !tls13 => {
                self.kx_seen = true;
                if self.suite.is_some_and(|s| s.kx == Kx::Rsa) {
                    self.encrypted_pms = Some(handshake::rsa_encrypted_premaster(body).to_vec());
                }
                if self.transcript_on {
                    let ems = self.ch.as_ref().is_some_and(|c| c.ems)
                        && self.sh.as_ref().is_some_and(|s| s.ems);
                    if ems {
                        self.session_hash = Some(self.transcript_hash());
                    }
                }
                self.transcript_on = false;
                self.transcript = Vec::new();
            }
            msg::FINISHED if tls13 => {
                self.enter_stage13(dir, Stage13::Application, ctx);
            }
            msg::END_OF_EARLY_DATA if tls13 && dir == Direction::ClientToServer => {
                self.enter_stage13(dir, Stage13::Handshake, ctx);
            }
            msg::KEY_UPDATE if tls13 => self.key_update(dir),
            _ => {}
        }
        Self::with_event(ctx, has_ev, |e| e.handshakes.push(ev));
    }

    fn transcript_hash(&self) -> Vec<u8> {
        let v = self.version().unwrap_or(0x0303);
        if v >= 0x0303 {
            self.suite
                .map_or(HashAlg::Sha256, |s| s.prf)
                .digest(&self.transcript)
        } else {
            let mut h = HashAlg::Md5.digest(&self.transcript);
            h.extend(HashAlg::Sha1.digest(&self.transcript));
            h
        }
    }

    fn server_hello(&mut self, sh: ServerHello, ctx: &mut Ctx<'_>) {
        let suite = cipher::suite(sh.cipher_suite);
        if suite.is_none() {
            self.set_no_key(format!(
                "cipher suite 0x{:04x} is not supported for decryption",
                sh.cipher_suite
            ));
        }
        if let Some(ch) = &self.ch
            && !ch.session_id.is_empty()
            && ch.session_id == sh.session_id
            && sh.version < 0x0304
        {
            self.resumed = true;
        }
        self.suite = suite;
        let tls13 = sh.version == 0x0304;
        self.sh = Some(sh);
        if tls13 {
            self.transcript_on = false;
            self.transcript = Vec::new();
            if self.suite.is_some() {
                // Both directions are protected from here on (TLS 1.3 encrypts after the hellos).
                self.dirs[1].encrypted = true;
                self.dirs[0].encrypted = true;
                self.enter_stage13(Direction::ServerToClient, Stage13::Handshake, ctx);
                let early = self.ch.as_ref().is_some_and(|c| c.early_data);
                let first = if early {
                    Stage13::Early
                } else {
                    Stage13::Handshake
                };
                self.enter_stage13(Direction::ClientToServer, first, ctx);
            }
        }
    }

    fn enter_stage13(&mut self, dir: Direction, stage: Stage13, ctx: &mut Ctx<'_>) {
        let d = dir.index();
        self.dirs[d].stage = Some(stage);
        self.dirs[d].cipher = None;
        let (Some(suite), Some(ch)) = (self.suite, self.ch.as_ref()) else {
            return;
        };
        let cr = ch.random;
        let Some(s) = ctx.keys.keylog.get(&cr) else {
            self.set_no_key(format!(
                "no key for client random {} (TLS 1.3 needs a key log)",
                crate::hex(&cr)
            ));
            return;
        };
        let (secret, label) = match (dir, stage) {
            (Direction::ClientToServer, Stage13::Early) => match &s.client_early {
                Some(e) => (Some(e), "CLIENT_EARLY_TRAFFIC_SECRET"),
                // No early key: the handshake key comes next, undecryptable early data is skipped.
                None => (
                    s.client_handshake.as_ref(),
                    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                ),
            },
            (Direction::ClientToServer, Stage13::Handshake) => (
                s.client_handshake.as_ref(),
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            ),
            (Direction::ServerToClient, Stage13::Handshake) => (
                s.server_handshake.as_ref(),
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            ),
            (Direction::ClientToServer, _) => {
                (s.client_traffic0.as_ref(), "CLIENT_TRAFFIC_SECRET_0")
            }
            (Direction::ServerToClient, _) => {
                (s.server_traffic0.as_ref(), "SERVER_TRAFFIC_SECRET_0")
            }
        };
        match secret {
            Some(sec) => {
                self.dirs[d].cipher = DirCipher::tls13(suite, sec);
                self.dirs[d].secret = Some(sec.clone());
            }
            None => self.set_no_key(format!(
                "no {label} for client random {} in the key log",
                crate::hex(&cr)
            )),
        }
    }

    fn key_update(&mut self, dir: Direction) {
        let d = dir.index();
        let (Some(suite), Some(secret)) = (self.suite, self.dirs[d].secret.as_ref()) else {
            return;
        };
        let next = prf::hkdf_expand_label(suite.prf, secret, b"traffic upd", b"", suite.prf.len());
        self.dirs[d].cipher = DirCipher::tls13(suite, &next);
        self.dirs[d].secret = Some(next);
    }

    fn master_secret(&mut self, ctx: &mut Ctx<'_>) -> Result<Vec<u8>, String> {
        if let Some(m) = &self.master {
            return Ok(m.clone());
        }
        let (Some(ch), Some(sh), Some(suite)) = (self.ch.as_ref(), self.sh.as_ref(), self.suite)
        else {
            return Err("handshake incomplete in the capture (no ClientHello/ServerHello): keys cannot be derived".into());
        };
        let crx = crate::hex(&ch.random);
        if let Some(m) = ctx
            .keys
            .keylog
            .get(&ch.random)
            .and_then(|s| s.master.clone())
        {
            return Ok(m);
        }
        // RSA keys for this server that were tried on its pre-master secret (for the reason).
        let mut rsa_tried = 0;
        if let Some(epms) = &self.encrypted_pms {
            let pms = ctx
                .keys
                .keylog
                .rsa_premaster(epms)
                .map(<[u8]>::to_vec)
                .or_else(|| {
                    ctx.keys
                        .rsa
                        .iter()
                        .filter(|k| k.applies_to(self.server) && k.size() == epms.len())
                        .inspect(|_| rsa_tried += 1)
                        .find_map(|k| k.decrypt_premaster(epms))
                });
            if let Some(pms) = pms {
                let mut master = vec![0u8; 48];
                match &self.session_hash {
                    Some(h) => prf::prf(
                        sh.version,
                        suite.prf,
                        &pms,
                        b"extended master secret",
                        h,
                        &mut master,
                    ),
                    None => {
                        let mut seed = ch.random.to_vec();
                        seed.extend_from_slice(&sh.random);
                        prf::prf(
                            sh.version,
                            suite.prf,
                            &pms,
                            b"master secret",
                            &seed,
                            &mut master,
                        );
                    }
                }
                return Ok(master);
            }
        }
        if self.resumed
            && let Some(m) = ctx.cache.by_id.get(&sh.session_id)
        {
            return Ok(m.clone());
        }
        if let Some(t) = ch.ticket.as_ref().filter(|t| !t.is_empty())
            && let Some(m) = ctx.cache.by_ticket.get(t)
        {
            return Ok(m.clone());
        }
        let earlier = ctx
            .cache
            .undecrypted_id
            .get(&sh.session_id)
            .filter(|_| self.resumed)
            .or_else(|| {
                ch.ticket
                    .as_ref()
                    .filter(|t| !t.is_empty())
                    .and_then(|t| ctx.cache.undecrypted_ticket.get(t))
            })
            .filter(|_| !self.kx_seen);
        let why = if let Some(stream) = earlier {
            format!(
                "no key for client random {crx} (resumed session: the full handshake it resumes, tcp.stream {stream}, could not be decrypted either)"
            )
        } else if self.resumed {
            format!(
                "no key for client random {crx} (resumed session whose full handshake is not in the capture)"
            )
        } else if suite.kx == Kx::Rsa {
            if ctx.keys.rsa.iter().any(|k| k.applies_to(self.server)) {
                if self.encrypted_pms.is_none() {
                    format!("no key for client random {crx} (no ClientKeyExchange seen)")
                } else if rsa_tried > 0 {
                    format!(
                        "no key for client random {crx} (the RSA key given for {}:{} does not decrypt the pre-master secret: a different server's key?)",
                        self.server.0, self.server.1
                    )
                } else {
                    format!(
                        "no key for client random {crx} (no RSA key of the right size for {}:{})",
                        self.server.0, self.server.1
                    )
                }
            } else {
                format!(
                    "no key for client random {crx} (RSA key exchange: give --tls-key or a key log)"
                )
            }
        } else if ch.ticket.as_ref().is_some_and(|t| !t.is_empty()) && self.encrypted_pms.is_none()
        {
            format!(
                "no key for client random {crx} (ticket resumption; the original session is not in the capture)"
            )
        } else {
            format!(
                "no key for client random {crx} ({} needs a key log)",
                suite.name
            )
        };
        Err(why)
    }

    /// ChangeCipherSpec from `dir` (TLS ≤ 1.2): that direction's records are protected from
    /// the next one on.
    fn activate(&mut self, dir: Direction, ctx: &mut Ctx<'_>) {
        let d = dir.index();
        self.dirs[d].encrypted = true;
        self.dirs[d].cipher = None;
        let Some(suite) = self.suite else {
            if self.sh.is_some() {
                return; // unsupported suite: reason already set
            }
            self.set_no_key("ChangeCipherSpec without a ServerHello in the capture".into());
            return;
        };
        let version = self.version().unwrap_or(0x0303);
        if self.key_block[d].is_none() {
            let master = match self.master_secret(ctx) {
                Ok(m) => m,
                Err(why) => {
                    if let Some(sh) = self.sh.as_ref().filter(|_| self.kx_seen) {
                        let stream = self.flow.stream;
                        ctx.cache.note_undecrypted(
                            &sh.session_id,
                            self.pending_ticket.as_deref(),
                            stream,
                        );
                    }
                    self.set_no_key(why);
                    return;
                }
            };
            if self.master.is_none() {
                if let Some(sh) = &self.sh {
                    ctx.cache.insert_id(&sh.session_id, &master);
                }
                if let Some(t) = self.pending_ticket.take() {
                    ctx.cache.insert_ticket(&t, &master);
                }
                self.master = Some(master.clone());
            }
            let (Some(ch), Some(sh)) = (&self.ch, &self.sh) else {
                return;
            };
            let mut seed = sh.random.to_vec();
            seed.extend_from_slice(&ch.random);
            let mut kb = vec![0u8; cipher::key_block_len(suite, version)];
            prf::prf(
                version,
                suite.prf,
                &master,
                b"key expansion",
                &seed,
                &mut kb,
            );
            let Some((c, s)) = cipher::split_key_block(suite, version, &kb) else {
                return;
            };
            // Each direction takes its keys once (a second CCS in the same direction would be a
            // renegotiation, which is not followed).
            if self.key_block.iter().all(Option::is_none) {
                self.key_block = [Some(c), Some(s)];
            }
        }
        let Some(keys) = self.key_block[d].take() else {
            self.set_failure(format!(
                "{}: a second ChangeCipherSpec (renegotiation is not decrypted)",
                dir_name(dir)
            ));
            self.dirs[d].failed = true;
            return;
        };
        let etm =
            self.ch.as_ref().is_some_and(|c| c.etm) && self.sh.as_ref().is_some_and(|s| s.etm);
        self.dirs[d].cipher = DirCipher::new(suite.enc, suite.mac, keys, version, etm);
    }

    /// Where the stream ends inside a record or handshake message (the capture stopped, or
    /// the connection was cut): that last piece was not decrypted.
    fn cut_short(&self) -> Option<String> {
        for (i, d) in self.dirs.iter().enumerate() {
            if d.stopped {
                continue;
            }
            let dir = if i == 0 {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            };
            if let Some((have, want)) = d.rec.partial() {
                let of = want.map(|w| format!(" of {w}")).unwrap_or_default();
                return Some(format!(
                    "{}: the stream ends inside record {} ({have}{of} bytes in the capture); that record is not decrypted",
                    dir_name(dir),
                    d.records + 1
                ));
            }
            if d.hs.pending() > 0 {
                return Some(format!(
                    "{}: the stream ends inside a handshake message ({} bytes of it in the capture)",
                    dir_name(dir),
                    d.hs.pending()
                ));
            }
        }
        if self.sh.is_some() && !self.is_tls13() {
            for (d, name) in self.dirs.iter().zip(["client→server", "server→client"]) {
                if !d.encrypted {
                    return Some(format!(
                        "{name}: no ChangeCipherSpec in the capture (the handshake did not finish)"
                    ));
                }
            }
        }
        None
    }

    /// The session's report.
    pub fn report(&self) -> SessionReport {
        let records = [self.dirs[0].records, self.dirs[1].records];
        let decrypted = [self.dirs[0].decrypted, self.dirs[1].decrypted];
        let status = if self.failure.is_some() && self.dirs.iter().any(|d| d.failed || d.stopped) {
            if decrypted.iter().sum::<u64>() > 0 || self.no_key.is_none() {
                SessionStatus::Failed
            } else {
                SessionStatus::NoKey
            }
        } else if self.no_key.is_some() {
            SessionStatus::NoKey
        } else if self.sh.is_none()
            || (decrypted.iter().sum::<u64>() == 0 && self.dirs.iter().any(|d| d.cipher.is_none()))
        {
            SessionStatus::Incomplete
        } else {
            SessionStatus::Decrypted
        };
        let reason = match status {
            SessionStatus::Decrypted => self.failure.clone().or_else(|| self.cut_short()),
            SessionStatus::NoKey => self.no_key.clone(),
            SessionStatus::Failed => self.failure.clone(),
            SessionStatus::Incomplete => {
                let base = if self.ch.is_none() {
                    "no ClientHello in the capture (started mid-session?)"
                } else if self.sh.is_none() {
                    "no ServerHello in the capture"
                } else {
                    "handshake did not finish in the capture"
                };
                Some(match self.cut_short() {
                    Some(cut) => format!("{base}; {cut}"),
                    None => base.to_string(),
                })
            }
        };
        SessionReport {
            flow: self.flow,
            client: self.client,
            server: self.server,
            version: self.version(),
            cipher_suite: self.sh.as_ref().map(|s| s.cipher_suite),
            sni: self.sni().map(str::to_string),
            alpn: self.alpn().map(str::to_string),
            ja4: self.ja4.clone(),
            resumed: self.resumed,
            client_random: self.ch.as_ref().map(|c| c.random),
            rsa_prefix: self
                .encrypted_pms
                .as_ref()
                .and_then(|e| e.get(..8))
                .and_then(|e| e.try_into().ok()),
            status,
            reason,
            records,
            decrypted_records: decrypted,
            plaintext_bytes: [self.dirs[0].plaintext, self.dirs[1].plaintext],
        }
    }
}

#[cfg(test)]
mod tests {
    //! Whole sessions built byte by byte (records sealed here with the keys a key log names),
    //! pushed through [`Session`] the way the flow engine would: what is forwarded, and the
    //! status and reason each session ends with.

    use std::net::Ipv4Addr;

    use aes_gcm::aead::AeadInOut;
    use aes_gcm::{Aes128Gcm, KeyInit};
    use wiresift_flow::Proto;

    use super::*;
    use crate::cipher::{key_block_len, split_key_block};
    use crate::handshake::HRR_RANDOM;

    const C: Direction = Direction::ClientToServer;
    const S: Direction = Direction::ServerToClient;
    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

    fn record(t: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![t, 3, 3];
        v.extend((body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn hs(t: u8, body: &[u8]) -> Vec<u8> {
        let n = body.len() as u32;
        let mut v = vec![t, (n >> 16) as u8, (n >> 8) as u8, n as u8];
        v.extend_from_slice(body);
        v
    }

    fn exts(list: &[(u16, &[u8])]) -> Vec<u8> {
        let mut e = Vec::new();
        for (t, d) in list {
            e.extend(t.to_be_bytes());
            e.extend((d.len() as u16).to_be_bytes());
            e.extend_from_slice(d);
        }
        let mut v = (e.len() as u16).to_be_bytes().to_vec();
        v.extend(e);
        v
    }

    fn client_hello(random: [u8; 32], sid: &[u8], suite: u16, ext: &[(u16, &[u8])]) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend(random);
        b.push(sid.len() as u8);
        b.extend_from_slice(sid);
        b.extend([0, 2]);
        b.extend(suite.to_be_bytes());
        b.extend([1, 0]);
        b.extend(exts(ext));
        hs(msg::CLIENT_HELLO, &b)
    }

    fn server_hello(random: [u8; 32], sid: &[u8], suite: u16, ext: &[(u16, &[u8])]) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend(random);
        b.push(sid.len() as u8);
        b.extend_from_slice(sid);
        b.extend(suite.to_be_bytes());
        b.push(0);
        b.extend(exts(ext));
        hs(msg::SERVER_HELLO, &b)
    }

    /// AES-128-GCM record protection of one direction, TLS 1.2 (explicit nonce) or 1.3.
    struct Seal {
        aead: Aes128Gcm,
        iv: Vec<u8>,
        seq: u64,
        tls13: bool,
    }

    impl Seal {
        fn tls12(key: &[u8], iv: &[u8]) -> Seal {
            Seal {
                aead: Aes128Gcm::new_from_slice(key).unwrap(),
                iv: iv.to_vec(),
                seq: 0,
                tls13: false,
            }
        }

        fn tls13(secret: &[u8]) -> Seal {
            let key = prf::hkdf_expand_label(HashAlg::Sha256, secret, b"key", b"", 16);
            let iv = prf::hkdf_expand_label(HashAlg::Sha256, secret, b"iv", b"", 12);
            Seal {
                aead: Aes128Gcm::new_from_slice(&key).unwrap(),
                iv,
                seq: 0,
                tls13: true,
            }
        }

        /// One protected record carrying `content` of type `t`.
        fn seal(&mut self, t: u8, content: &[u8]) -> Vec<u8> {
            let mut nonce = [0u8; 12];
            let (mut buf, outer, aad, explicit) = if self.tls13 {
                nonce.copy_from_slice(&self.iv);
                for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
                    *n ^= s;
                }
                let mut inner = content.to_vec();
                inner.push(t);
                let len = (inner.len() + 16) as u16;
                let mut aad = vec![ct::APPLICATION_DATA, 3, 3];
                aad.extend(len.to_be_bytes());
                (inner, ct::APPLICATION_DATA, aad, Vec::new())
            } else {
                nonce[..4].copy_from_slice(&self.iv);
                nonce[4..].copy_from_slice(&self.seq.to_be_bytes());
                let mut aad = self.seq.to_be_bytes().to_vec();
                aad.extend([t, 3, 3]);
                aad.extend((content.len() as u16).to_be_bytes());
                (content.to_vec(), t, aad, self.seq.to_be_bytes().to_vec())
            };
            let tag = self
                .aead
                .encrypt_inout_detached((&nonce).into(), &aad, (&mut buf[..]).into())
                .unwrap();
            self.seq += 1;
            let mut body = explicit;
            body.extend(buf);
            body.extend_from_slice(&tag);
            record(outer, &body)
        }
    }

    struct Conn {
        s: Session,
        keys: KeyStore,
        out: [Vec<u8>; 2],
    }

    impl Conn {
        fn new(stream: u64, keylog: &str) -> Conn {
            let mut keys = KeyStore::new();
            keys.keylog.add_text(keylog.as_bytes());
            let flow = FlowId {
                proto: Proto::Tcp,
                stream,
            };
            let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
            Conn {
                s: Session::new(flow, (lo, 40000), (lo, 443)),
                keys,
                out: [Vec::new(), Vec::new()],
            }
        }

        fn push(&mut self, cache: &mut ResumptionCache, dir: Direction, bytes: &[u8]) {
            let mut ctx = Ctx {
                keys: &self.keys,
                cache,
                events: None,
                frame: 1,
            };
            let out = &mut self.out;
            self.s.push(dir, bytes, &mut ctx, &mut |d, p| {
                out[d.index()].extend_from_slice(p)
            });
        }

        fn run(&mut self, cache: &mut ResumptionCache, wire: &[(Direction, Vec<u8>)]) {
            for (d, b) in wire {
                self.push(cache, *d, b);
            }
        }

        fn reason(&self) -> String {
            self.s.report().reason.unwrap_or_default()
        }
    }

    const SUITE12: u16 = 0x009c; // TLS_RSA_WITH_AES_128_GCM_SHA256
    const MASTER: [u8; 48] = [0x42; 48];

    fn master_line(cr: [u8; 32], master: &[u8]) -> String {
        format!("CLIENT_RANDOM {} {}\n", crate::hex(&cr), crate::hex(master))
    }

    /// A TLS 1.2 connection with RSA key exchange: a full handshake (ClientKeyExchange) with
    /// `sid` given by the server, or an abbreviated one resuming `sid`; then one request and
    /// one response, each in its own segment (last two entries).
    fn tls12(cr: [u8; 32], sr: [u8; 32], sid: &[u8], resume: bool) -> Vec<(Direction, Vec<u8>)> {
        let suite = cipher::suite(SUITE12).unwrap();
        let mut seed = sr.to_vec();
        seed.extend(cr);
        let mut kb = vec![0u8; key_block_len(suite, 0x0303)];
        prf::prf(0x0303, suite.prf, &MASTER, b"key expansion", &seed, &mut kb);
        let (ck, sk) = split_key_block(suite, 0x0303, &kb).unwrap();
        let (mut c, mut s) = (Seal::tls12(&ck.key, &ck.iv), Seal::tls12(&sk.key, &sk.iv));
        let finished = hs(msg::FINISHED, &[7; 12]);
        let ccs = record(ct::CHANGE_CIPHER_SPEC, &[1]);
        let ch = client_hello(cr, if resume { sid } else { &[] }, SUITE12, &[]);
        let sh = server_hello(sr, sid, SUITE12, &[]);
        let mut w = vec![(C, record(ct::HANDSHAKE, &ch))];
        if resume {
            let mut flight = record(ct::HANDSHAKE, &sh);
            flight.extend(&ccs);
            flight.extend(s.seal(ct::HANDSHAKE, &finished));
            w.push((S, flight));
            let mut flight = ccs.clone();
            flight.extend(c.seal(ct::HANDSHAKE, &finished));
            w.push((C, flight));
        } else {
            let mut flight = sh;
            flight.extend(hs(msg::CERTIFICATE, &[0, 0, 0]));
            flight.extend(hs(msg::SERVER_HELLO_DONE, &[]));
            w.push((S, record(ct::HANDSHAKE, &flight)));
            let cke = hs(msg::CLIENT_KEY_EXCHANGE, &[0, 4, 1, 2, 3, 4]);
            let mut flight = record(ct::HANDSHAKE, &cke);
            flight.extend(&ccs);
            flight.extend(c.seal(ct::HANDSHAKE, &finished));
            w.push((C, flight));
            let mut flight = ccs.clone();
            flight.extend(s.seal(ct::HANDSHAKE, &finished));
            w.push((S, flight));
        }
        w.push((C, c.seal(ct::APPLICATION_DATA, GET)));
        w.push((S, s.seal(ct::APPLICATION_DATA, OK)));
        w
    }

    #[test]
    fn tls12_session_decrypts_with_a_key_log_master() {
        let (cr, sr) = ([1; 32], [2; 32]);
        let mut cache = ResumptionCache::default();
        let mut conn = Conn::new(0, &master_line(cr, &MASTER));
        conn.run(&mut cache, &tls12(cr, sr, &[9; 32], false));
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::Decrypted, "{r:?}");
        assert_eq!(r.reason, None);
        assert_eq!(conn.out, [GET.to_vec(), OK.to_vec()]);
    }

    #[test]
    fn wrong_master_fails_with_a_reason_and_forwards_nothing() {
        let (cr, sr) = ([1; 32], [2; 32]);
        let mut cache = ResumptionCache::default();
        let mut conn = Conn::new(0, &master_line(cr, &[0x43; 48]));
        conn.run(&mut cache, &tls12(cr, sr, &[9; 32], false));
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::Failed, "{r:?}");
        let why = conn.reason();
        assert!(
            why.contains("client→server record 4: authentication failed")
                && why.contains(&crate::hex(&cr)),
            "{why}"
        );
        assert_eq!(conn.out, [Vec::<u8>::new(), Vec::new()]);
    }

    #[test]
    fn no_key_says_which_client_random() {
        let (cr, sr) = ([1; 32], [2; 32]);
        let mut cache = ResumptionCache::default();
        let mut conn = Conn::new(0, "");
        conn.run(&mut cache, &tls12(cr, sr, &[9; 32], false));
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::NoKey);
        assert_eq!(
            conn.reason(),
            format!(
                "no key for client random {} (RSA key exchange: give --tls-key or a key log)",
                crate::hex(&cr)
            )
        );
        assert_eq!(conn.out, [Vec::<u8>::new(), Vec::new()]);
    }

    #[test]
    fn stream_cut_inside_a_record_is_reported() {
        let (cr, sr) = ([1; 32], [2; 32]);
        let mut cache = ResumptionCache::default();
        let mut conn = Conn::new(0, &master_line(cr, &MASTER));
        let mut wire = tls12(cr, sr, &[9; 32], false);
        let (_, last) = wire.last_mut().unwrap();
        let whole = last.len();
        last.truncate(whole - 10);
        conn.run(&mut cache, &wire);
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::Decrypted, "{r:?}");
        assert_eq!(conn.out, [GET.to_vec(), Vec::new()]);
        assert_eq!(
            conn.reason(),
            format!(
                "server→client: the stream ends inside record 4 ({} of {whole} bytes in the capture); that record is not decrypted",
                whole - 10
            )
        );
    }

    #[test]
    fn record_shorter_than_its_tag_is_malformed() {
        let (cr, sr) = ([1; 32], [2; 32]);
        let mut cache = ResumptionCache::default();
        let mut conn = Conn::new(0, &master_line(cr, &MASTER));
        let mut wire = tls12(cr, sr, &[9; 32], false);
        // The response record cut to 12 bytes of payload, with a header that says so.
        let (_, last) = wire.last_mut().unwrap();
        *last = record(ct::APPLICATION_DATA, &last[5..17]);
        conn.run(&mut cache, &wire);
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::Failed, "{r:?}");
        assert!(
            conn.reason()
                .starts_with("server→client record 4: malformed encrypted record"),
            "{}",
            conn.reason()
        );
        assert_eq!(conn.out, [GET.to_vec(), Vec::new()]);
    }

    #[test]
    fn garbage_after_the_handshake_stops_that_direction_with_a_reason() {
        let (cr, sr) = ([1; 32], [2; 32]);
        let mut cache = ResumptionCache::default();
        let mut conn = Conn::new(0, &master_line(cr, &MASTER));
        let mut wire = tls12(cr, sr, &[9; 32], false);
        let resp = wire.pop().unwrap();
        wire.push((C, b"\x00\xffgarbage that is not a record".to_vec()));
        wire.push(resp);
        conn.run(&mut cache, &wire);
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::Failed, "{r:?}");
        assert_eq!(
            conn.reason(),
            "client→server: data after record 5 is not a TLS record (garbage or a non-TLS protocol); this direction is not parsed further"
        );
        // The other direction goes on.
        assert_eq!(conn.out, [GET.to_vec(), OK.to_vec()]);
    }

    #[test]
    fn gap_stops_the_direction_with_a_reason() {
        let (cr, sr) = ([1; 32], [2; 32]);
        let mut cache = ResumptionCache::default();
        let mut conn = Conn::new(0, &master_line(cr, &MASTER));
        let wire = tls12(cr, sr, &[9; 32], false);
        let (last, rest) = wire.split_last().unwrap();
        conn.run(&mut cache, rest);
        conn.s.gap(S, 1448, 37);
        conn.push(&mut cache, last.0, &last.1);
        assert_eq!(conn.s.report().status, SessionStatus::Failed);
        assert_eq!(
            conn.reason(),
            "server→client: 1448 bytes missing in the capture (frame 37); decryption of this direction stopped there"
        );
        assert_eq!(conn.out, [GET.to_vec(), Vec::new()]);
    }

    #[test]
    fn every_truncation_of_a_session_is_handled() {
        // Any prefix of the wire bytes (the capture stopping anywhere), byte by byte: no
        // panic, nothing forwarded that was not sent, and a reason whenever the cut falls
        // inside a record.
        let (cr, sr) = ([1; 32], [2; 32]);
        let wire = tls12(cr, sr, &[9; 32], false);
        let total: usize = wire.iter().map(|w| w.1.len()).sum();
        let mut boundaries = vec![0];
        let mut at = 0;
        for (_, b) in &wire {
            let mut off = 0;
            while off < b.len() {
                off += 5 + usize::from(u16::from_be_bytes([b[off + 3], b[off + 4]]));
                boundaries.push(at + off);
            }
            at += b.len();
        }
        for cut in 0..total {
            let mut cache = ResumptionCache::default();
            let mut conn = Conn::new(0, &master_line(cr, &MASTER));
            let mut left = cut;
            for (d, b) in &wire {
                let n = left.min(b.len());
                for byte in &b[..n] {
                    conn.push(&mut cache, *d, std::slice::from_ref(byte));
                }
                left -= n;
            }
            assert!(GET.starts_with(&conn.out[0]) && OK.starts_with(&conn.out[1]));
            let r = conn.s.report();
            if !boundaries.contains(&cut) {
                let why = r.reason.as_deref().unwrap_or_default();
                assert!(
                    why.contains("the stream ends inside"),
                    "cut at {cut}: {r:?}"
                );
            }
        }
    }

    #[test]
    fn session_id_resumption_reuses_the_master_or_says_why_not() {
        let sid = [9u8; 32];
        let (cr1, sr1, cr2, sr2) = ([1; 32], [2; 32], [3; 32], [4; 32]);
        // The full handshake's master is in the key log; the resumed one is found by session id.
        let mut cache = ResumptionCache::default();
        let mut full = Conn::new(0, &master_line(cr1, &MASTER));
        full.run(&mut cache, &tls12(cr1, sr1, &sid, false));
        let mut resumed = Conn::new(1, "");
        resumed.run(&mut cache, &tls12(cr2, sr2, &sid, true));
        let r = resumed.s.report();
        assert!(r.resumed);
        assert_eq!(r.status, SessionStatus::Decrypted, "{r:?}");
        assert_eq!(resumed.out, [GET.to_vec(), OK.to_vec()]);
        // Without a key for the full handshake, the resumed session names it.
        let mut cache = ResumptionCache::default();
        let mut full = Conn::new(0, "");
        full.run(&mut cache, &tls12(cr1, sr1, &sid, false));
        let mut resumed = Conn::new(1, "");
        resumed.run(&mut cache, &tls12(cr2, sr2, &sid, true));
        assert_eq!(resumed.s.report().status, SessionStatus::NoKey);
        assert_eq!(
            resumed.reason(),
            format!(
                "no key for client random {} (resumed session: the full handshake it resumes, tcp.stream 0, could not be decrypted either)",
                crate::hex(&cr2)
            )
        );
        // And without the full handshake at all.
        let mut cache = ResumptionCache::default();
        let mut resumed = Conn::new(1, "");
        resumed.run(&mut cache, &tls12(cr2, sr2, &sid, true));
        assert!(
            resumed
                .reason()
                .ends_with("(resumed session whose full handshake is not in the capture)"),
            "{}",
            resumed.reason()
        );
    }

    /// TLS 1.3 with a HelloRetryRequest and the middlebox-compatibility ChangeCipherSpecs
    /// (RFC 8446 D.4) on both sides, as OpenSSL sends them when the client's key share is not
    /// one the server takes (nghttpd with curl does this).
    #[test]
    fn tls13_after_hello_retry_request_with_compat_ccs() {
        let cr = [5u8; 32];
        let secret = |n: u8| vec![n; 32];
        let keylog = [
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 1),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", 2),
            ("CLIENT_TRAFFIC_SECRET_0", 3),
            ("SERVER_TRAFFIC_SECRET_0", 4),
        ]
        .iter()
        .map(|(l, n)| format!("{l} {} {}\n", crate::hex(&cr), crate::hex(&secret(*n))))
        .collect::<String>();
        let sv: &[u8] = &[2, 3, 4];
        let ch = client_hello(
            cr,
            &[8; 32],
            0x1301,
            &[(43, sv), (51, &[0, 4, 0, 29, 0, 0])],
        );
        let hrr = server_hello(HRR_RANDOM, &[8; 32], 0x1301, &[(43, &[3, 4])]);
        let ch2 = client_hello(
            cr,
            &[8; 32],
            0x1301,
            &[(43, sv), (51, &[0, 4, 0, 23, 0, 0])],
        );
        let sh = server_hello(
            [6; 32],
            &[8; 32],
            0x1301,
            &[(43, &[3, 4]), (51, &[0, 23, 0, 0])],
        );
        let ccs = record(ct::CHANGE_CIPHER_SPEC, &[1]);
        let (mut chs, mut shs) = (Seal::tls13(&secret(1)), Seal::tls13(&secret(2)));
        let (mut cap, mut sap) = (Seal::tls13(&secret(3)), Seal::tls13(&secret(4)));
        let mut s_flight = record(ct::HANDSHAKE, &sh);
        let mut enc = hs(msg::ENCRYPTED_EXTENSIONS, &[0, 0]);
        enc.extend(hs(msg::FINISHED, &[1; 32]));
        s_flight.extend(shs.seal(ct::HANDSHAKE, &enc));
        let mut c_flight = ccs.clone();
        c_flight.extend(record(ct::HANDSHAKE, &ch2));
        let mut hrr_flight = record(ct::HANDSHAKE, &hrr);
        hrr_flight.extend(&ccs);
        let mut c_fin = chs.seal(ct::HANDSHAKE, &hs(msg::FINISHED, &[2; 32]));
        c_fin.extend(cap.seal(ct::APPLICATION_DATA, GET));
        let wire = vec![
            (C, record(ct::HANDSHAKE, &ch)),
            (S, hrr_flight),
            (C, c_flight),
            (S, s_flight),
            (C, c_fin),
            (S, sap.seal(ct::APPLICATION_DATA, OK)),
        ];
        let mut cache = ResumptionCache::default();
        let mut conn = Conn::new(0, &keylog);
        conn.run(&mut cache, &wire);
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::Decrypted, "{r:?}");
        assert_eq!(r.version, Some(0x0304));
        assert_eq!(r.reason, None);
        assert_eq!(conn.out, [GET.to_vec(), OK.to_vec()]);
        // Wrong server secrets: the server side fails on its first protected record, the
        // client side still decrypts.
        let wrong = keylog
            .lines()
            .map(|l| {
                if l.starts_with("SERVER_") {
                    format!(
                        "{} {}\n",
                        &l[..l.rfind(' ').unwrap()],
                        crate::hex(&[0xee; 32])
                    )
                } else {
                    format!("{l}\n")
                }
            })
            .collect::<String>();
        let mut conn = Conn::new(0, &wrong);
        conn.run(&mut cache, &wire);
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::Failed, "{r:?}");
        assert!(
            conn.reason().starts_with(
                "server→client record 4: authentication failed (wrong key, or damaged/missing bytes) (TLS_AES_128_GCM_SHA256, client random 0505"
            ),
            "{}",
            conn.reason()
        );
        assert_eq!(conn.out, [GET.to_vec(), Vec::new()]);
    }

    /// 0-RTT: the client's early data (after a compatibility ChangeCipherSpec) comes before the
    /// ServerHello that names the cipher suite; it is decrypted once the ServerHello is in.
    #[test]
    fn tls13_early_data_sent_before_the_server_hello() {
        let cr = [7u8; 32];
        let secret = |n: u8| vec![n; 32];
        let keylog = [
            ("CLIENT_EARLY_TRAFFIC_SECRET", 9),
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 1),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", 2),
            ("CLIENT_TRAFFIC_SECRET_0", 3),
            ("SERVER_TRAFFIC_SECRET_0", 4),
        ]
        .iter()
        .map(|(l, n)| format!("{l} {} {}\n", crate::hex(&cr), crate::hex(&secret(*n))))
        .collect::<String>();
        let sv: &[u8] = &[2, 3, 4];
        let ch = client_hello(
            cr,
            &[8; 32],
            0x1301,
            &[
                (43, sv),
                (51, &[0, 4, 0, 29, 0, 0]),
                (42, &[]),
                (41, &[0, 0]),
            ],
        );
        let sh = server_hello(
            [6; 32],
            &[8; 32],
            0x1301,
            &[(43, &[3, 4]), (51, &[0, 29, 0, 0])],
        );
        let mut early = Seal::tls13(&secret(9));
        let (mut chs, mut shs) = (Seal::tls13(&secret(1)), Seal::tls13(&secret(2)));
        let (mut cap, mut sap) = (Seal::tls13(&secret(3)), Seal::tls13(&secret(4)));
        let mut c_first = record(ct::HANDSHAKE, &ch);
        c_first.extend(record(ct::CHANGE_CIPHER_SPEC, &[1]));
        c_first.extend(early.seal(ct::APPLICATION_DATA, b"EARLY "));
        let mut s_flight = record(ct::HANDSHAKE, &sh);
        let mut enc = hs(msg::ENCRYPTED_EXTENSIONS, &[0, 4, 0, 42, 0, 0]);
        enc.extend(hs(msg::FINISHED, &[1; 32]));
        s_flight.extend(shs.seal(ct::HANDSHAKE, &enc));
        let mut c_rest = early.seal(ct::HANDSHAKE, &hs(msg::END_OF_EARLY_DATA, &[]));
        c_rest.extend(chs.seal(ct::HANDSHAKE, &hs(msg::FINISHED, &[2; 32])));
        c_rest.extend(cap.seal(ct::APPLICATION_DATA, GET));
        let wire = vec![
            (C, c_first),
            (S, s_flight),
            (C, c_rest),
            (S, sap.seal(ct::APPLICATION_DATA, OK)),
        ];
        let mut cache = ResumptionCache::default();
        let mut conn = Conn::new(0, &keylog);
        conn.run(&mut cache, &wire);
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::Decrypted, "{r:?}");
        assert_eq!(r.reason, None);
        assert_eq!(conn.out, [[b"EARLY ", GET].concat(), OK.to_vec()]);
        // Without the ServerHello nothing is guessed: the session is incomplete.
        let mut conn = Conn::new(0, &keylog);
        conn.run(&mut cache, &wire[..1]);
        assert_eq!(conn.s.report().status, SessionStatus::Incomplete);
        assert_eq!(conn.out, [Vec::<u8>::new(), Vec::new()]);

        // A HelloRetryRequest instead: the early data is rejected (skipped, not forwarded),
        // the rest of the session decrypts.
        let mut early = Seal::tls13(&secret(9));
        let (mut chs, mut shs) = (Seal::tls13(&secret(1)), Seal::tls13(&secret(2)));
        let (mut cap, mut sap) = (Seal::tls13(&secret(3)), Seal::tls13(&secret(4)));
        let mut c_first = record(ct::HANDSHAKE, &ch);
        c_first.extend(record(ct::CHANGE_CIPHER_SPEC, &[1]));
        c_first.extend(early.seal(ct::APPLICATION_DATA, b"EARLY "));
        let hrr = server_hello(HRR_RANDOM, &[8; 32], 0x1301, &[(43, &[3, 4])]);
        let ch2 = client_hello(
            cr,
            &[8; 32],
            0x1301,
            &[(43, sv), (51, &[0, 4, 0, 23, 0, 0])],
        );
        let mut s_flight = record(ct::HANDSHAKE, &sh);
        let mut enc = hs(msg::ENCRYPTED_EXTENSIONS, &[0, 0]);
        enc.extend(hs(msg::FINISHED, &[1; 32]));
        s_flight.extend(shs.seal(ct::HANDSHAKE, &enc));
        let mut c_rest = chs.seal(ct::HANDSHAKE, &hs(msg::FINISHED, &[2; 32]));
        c_rest.extend(cap.seal(ct::APPLICATION_DATA, GET));
        let wire = vec![
            (C, c_first),
            (S, record(ct::HANDSHAKE, &hrr)),
            (C, record(ct::HANDSHAKE, &ch2)),
            (S, s_flight),
            (C, c_rest),
            (S, sap.seal(ct::APPLICATION_DATA, OK)),
        ];
        let mut conn = Conn::new(0, &keylog);
        conn.run(&mut cache, &wire);
        let r = conn.s.report();
        assert_eq!(r.status, SessionStatus::Decrypted, "{r:?}");
        assert_eq!(conn.out, [GET.to_vec(), OK.to_vec()]);
        assert_eq!(conn.s.dirs[0].skipped, 1);
    }
}
