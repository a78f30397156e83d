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

/// Master secrets of sessions seen earlier in the capture, for abbreviated handshakes.
#[derive(Default)]
pub struct ResumptionCache {
    by_id: HashMap<Vec<u8>, Vec<u8>>,
    by_ticket: HashMap<Vec<u8>, Vec<u8>>,
}

impl ResumptionCache {
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
        self.dirs[d].rec.push(data);
        loop {
            let (hdr, payload) = match self.dirs[d].rec.next_record() {
                Next::Record(h, p) => (h, p.to_vec()),
                Next::Incomplete => break,
                Next::NotTls => {
                    let n = self.dirs[d].records;
                    self.set_failure(format!(
                        "{}: data after record {n} is not a TLS record (garbage or a non-TLS protocol); this direction is not parsed further",
                        dir_name(dir)
                    ));
                    self.dirs[d].stopped = true;
                    self.dirs[d].rec.clear();
                    break;
                }
            };
            self.record(dir, hdr, &payload, ctx, out);
            if self.dirs[d].stopped {
                break;
            }
        }
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
        let tls13 = self.version() == Some(0x0304);
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
                ct::CHANGE_CIPHER_SPEC if !tls13 => self.activate(dir, ctx),
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
        let tls13 = self.version() == Some(0x0304);
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
        let why = if self.resumed {
            format!(
                "no key for client random {crx} (resumed session whose full handshake is not in the capture)"
            )
        } else if suite.kx == Kx::Rsa {
            if ctx.keys.rsa.iter().any(|k| k.applies_to(self.server)) {
                if self.encrypted_pms.is_none() {
                    format!("no key for client random {crx} (no ClientKeyExchange seen)")
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
            || self
                .dirs
                .iter()
                .all(|d| d.cipher.is_none() && d.decrypted == 0)
        {
            SessionStatus::Incomplete
        } else {
            SessionStatus::Decrypted
        };
        let reason = match status {
            SessionStatus::Decrypted => self.failure.clone(),
            SessionStatus::NoKey => self.no_key.clone(),
            SessionStatus::Failed => self.failure.clone(),
            SessionStatus::Incomplete => Some(if self.ch.is_none() {
                "no ClientHello in the capture (started mid-session?)".to_string()
            } else if self.sh.is_none() {
                "no ServerHello in the capture".to_string()
            } else {
                "handshake did not finish in the capture".to_string()
            }),
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
