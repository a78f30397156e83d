//! SMTP (RFC 5321) as a client/server state machine over the two reassembled directions:
//! greeting, EHLO/HELO and extensions, AUTH (PLAIN, LOGIN, CRAM-MD5), MAIL/RCPT with
//! parameters, DATA with dot-unstuffing, BDAT chunks (CHUNKING), RSET, pipelined commands
//! (replies are matched to commands in order), several messages per connection, multi-line
//! replies, and STARTTLS (after a 220 the rest of the connection is TLS: marked, not parsed).

use std::collections::VecDeque;

use serde_json::{Map, Value, json};
use wiresift_flow::{Direction, Nanos};

use crate::fields::*;
use crate::lines::{DotDecoder, LineBuf};
use crate::message::Msg;
use crate::{Ctx, MailOptions, Meta, REDACTED, b64, split_verb};

/// Lines of one multi-line reply kept (the rest are counted, not stored).
const MAX_REPLY_LINES: usize = 256;

#[derive(Debug)]
enum Cmd {
    Ehlo,
    Auth,
    Mail,
    Rcpt(usize),
    Data,
    Bdat {
        rec: Option<Box<Map<String, Value>>>,
    },
    /// The end of a DATA message: the server's verdict on it.
    EndData(Box<Map<String, Value>>),
    StartTls,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Command,
    /// Message content after 354, until `.` CRLF.
    Data,
    /// A BDAT chunk: bytes left, and whether it is the LAST one.
    Chunk {
        left: u64,
        last: bool,
    },
}

#[derive(Debug)]
struct Rcpt {
    addr: String,
    params: String,
    code: Option<u16>,
}

#[derive(Debug)]
struct AuthState {
    mech: String,
    /// Continuation lines the client may still send.
    left: u8,
    login_user_next: bool,
}

/// One SMTP connection.
pub struct Smtp {
    meta: Meta,
    lc: LineBuf,
    ls: LineBuf,
    resync: [bool; 2],
    mode: Mode,
    dot: DotDecoder,
    pending: VecDeque<Cmd>,
    greeted: bool,
    reply_code: Option<u16>,
    reply_lines: Vec<String>,
    reply_first: Vec<u8>,
    helo: Option<String>,
    extensions: Vec<String>,
    auth: Option<AuthState>,
    auth_mech: Option<String>,
    auth_user: Option<String>,
    auth_pass: Option<String>,
    auth_code: Option<u16>,
    mail_from: Option<String>,
    mail_params: String,
    mail_code: Option<u16>,
    rcpts: Vec<Rcpt>,
    data_code: Option<u16>,
    bdat_codes: Vec<u16>,
    msg: Option<Msg>,
    count: u64,
    show_secrets: bool,
    max_pending: usize,
}

impl Smtp {
    pub fn new(meta: Meta, o: &MailOptions) -> Smtp {
        Smtp {
            meta,
            lc: LineBuf::new(o.max_line),
            ls: LineBuf::new(o.max_line),
            resync: [false; 2],
            mode: Mode::Command,
            dot: DotDecoder::default(),
            pending: VecDeque::new(),
            greeted: false,
            reply_code: None,
            reply_lines: Vec::new(),
            reply_first: Vec::new(),
            helo: None,
            extensions: Vec::new(),
            auth: None,
            auth_mech: None,
            auth_user: None,
            auth_pass: None,
            auth_code: None,
            mail_from: None,
            mail_params: String::new(),
            mail_code: None,
            rcpts: Vec::new(),
            data_code: None,
            bdat_codes: Vec::new(),
            msg: None,
            count: 0,
            show_secrets: o.show_secrets,
            max_pending: o.max_pending.max(1),
        }
    }

    /// Bytes of one direction. Returns the offset in `data` where TLS begins, if STARTTLS was
    /// accepted in this call.
    pub fn data(
        &mut self,
        ctx: &mut Ctx,
        dir: Direction,
        data: &[u8],
        ts: Nanos,
        frame: u64,
    ) -> Option<usize> {
        match dir {
            Direction::ClientToServer => {
                self.client(ctx, data, ts, frame);
                None
            }
            Direction::ServerToClient => self.server(ctx, data, ts, frame),
        }
    }

    fn push(&mut self, ctx: &mut Ctx, c: Cmd) {
        if self.pending.len() >= self.max_pending {
            // A peer that never answers: forget the oldest (its record, if any, is emitted).
            if let Some(old) = self.pending.pop_front() {
                ctx.note_overflow();
                self.verdict(ctx, old, None, "");
            }
        }
        self.pending.push_back(c);
    }

    fn client(&mut self, ctx: &mut Ctx, mut data: &[u8], ts: Nanos, frame: u64) {
        while !data.is_empty() {
            match self.mode {
                Mode::Command => {
                    if self.resync[0] {
                        match memchr::memchr(b'\n', data) {
                            Some(p) => {
                                data = &data[p + 1..];
                                self.resync[0] = false;
                                continue;
                            }
                            None => return,
                        }
                    }
                    // Message content while DATA is still unanswered: the server's side is
                    // missing from the capture (a client waits for 354).
                    if self.lc.is_empty() && matches!(self.pending.back(), Some(Cmd::Data)) {
                        self.mode = Mode::Data;
                        self.dot = DotDecoder::default();
                        continue;
                    }
                    let (n, done) = self.lc.push(data);
                    data = &data[n..];
                    if done {
                        if self.lc.overflow {
                            ctx.note_overflow();
                        }
                        let line = std::mem::replace(&mut self.lc, LineBuf::new(0));
                        self.client_line(ctx, line.line(), line.raw(), ts, frame);
                        self.lc = line;
                        self.lc.clear();
                    }
                }
                Mode::Data => {
                    if ctx.opts.fields {
                        ctx.frame.proto(SMTP);
                    }
                    let msg = self.msg.get_or_insert_with(|| {
                        self.count += 1;
                        Msg::begin(ctx, "smtp", self.meta.stream, self.count, frame, ts)
                    });
                    msg.touch(frame, ts);
                    let end = self.dot.feed(data, &mut |b| msg.write(ctx, b));
                    match end {
                        Some(n) => {
                            data = &data[n..];
                            self.mode = Mode::Command;
                            if ctx.opts.fields {
                                ctx.frame.proto(SMTP_EOM);
                            }
                            let rec = self.finish_message(ctx, true);
                            self.push(ctx, Cmd::EndData(Box::new(rec)));
                        }
                        None => data = &[],
                    }
                }
                Mode::Chunk { left, last } => {
                    if ctx.opts.fields {
                        ctx.frame.proto(SMTP);
                    }
                    let take = (data.len() as u64).min(left) as usize;
                    let msg = self.msg.get_or_insert_with(|| {
                        self.count += 1;
                        Msg::begin(ctx, "smtp", self.meta.stream, self.count, frame, ts)
                    });
                    msg.touch(frame, ts);
                    msg.write(ctx, &data[..take]);
                    data = &data[take..];
                    let left = left - take as u64;
                    self.mode = Mode::Chunk { left, last };
                    if left == 0 {
                        self.chunk_done(ctx, last);
                    }
                }
            }
        }
    }

    fn chunk_done(&mut self, ctx: &mut Ctx, last: bool) {
        self.mode = Mode::Command;
        if !last {
            return;
        }
        if ctx.opts.fields {
            ctx.frame.proto(SMTP_EOM);
        }
        let rec = self.finish_message(ctx, true);
        // The verdict is the reply to this (last) BDAT command.
        let slot = self.pending.iter_mut().rev().find_map(|c| match c {
            Cmd::Bdat { rec } if rec.is_none() => Some(rec),
            _ => None,
        });
        match slot {
            Some(s) => *s = Some(Box::new(rec)),
            None => {
                let meta = self.meta.clone();
                ctx.emit(&meta, rec);
            }
        }
    }

    fn client_line(&mut self, ctx: &mut Ctx, line: &[u8], raw: &[u8], _ts: Nanos, _frame: u64) {
        let f = ctx.opts.fields;
        if f {
            ctx.frame.proto(SMTP);
            ctx.frame.flag(SMTP_REQ, true);
        }
        if let Some(a) = &mut self.auth {
            // A SASL continuation line.
            self.pending.push_back(Cmd::Auth);
            if line == b"*" {
                self.auth = None;
                return;
            }
            let mech = a.mech.clone();
            a.left = a.left.saturating_sub(1);
            let login_user = a.login_user_next;
            a.login_user_next = false;
            if a.left == 0 {
                self.auth = None;
            }
            self.auth_response(ctx, &mech, line, login_user);
            return;
        }
        let (verb, param) = split_verb(line);
        if f {
            ctx.frame.str(SMTP_COMMAND_LINE, raw);
            ctx.frame.string(SMTP_REQ_COMMAND, verb.clone());
            if !param.is_empty() {
                let shown: &[u8] = if verb == "AUTH" && !self.show_secrets {
                    // Keep the mechanism; an initial response may hold the password.
                    param.split(|&c| c == b' ').next().unwrap_or(param)
                } else {
                    param
                };
                ctx.frame.str(SMTP_REQ_PARAMETER, shown);
            }
        }
        match verb.as_str() {
            "HELO" | "EHLO" => {
                let name = param.split(|&c| c == b' ').next().unwrap_or(&[]);
                self.helo = Some(String::from_utf8_lossy(name).into_owned());
                self.push(ctx, Cmd::Ehlo);
            }
            "AUTH" => {
                let mut it = param.split(|&c| c == b' ').filter(|w| !w.is_empty());
                let mech = String::from_utf8_lossy(it.next().unwrap_or(&[])).to_ascii_uppercase();
                let initial = it.next();
                self.auth_mech = Some(mech.clone());
                let (left, login_user_next) = match (mech.as_str(), initial) {
                    ("PLAIN", Some(_)) => (0, false),
                    ("PLAIN", None) | ("CRAM-MD5", _) => (1, false),
                    ("LOGIN", Some(_)) => (1, false),
                    ("LOGIN", None) => (2, true),
                    _ => (4, false),
                };
                if let Some(init) = initial
                    && init != b"="
                {
                    self.auth_response(ctx, &mech, init, mech == "LOGIN");
                }
                self.auth = (left > 0).then_some(AuthState {
                    mech,
                    left,
                    login_user_next,
                });
                self.push(ctx, Cmd::Auth);
            }
            "MAIL" => {
                let (addr, params) = path_and_params(param, b"FROM:");
                self.mail_from = Some(addr);
                self.mail_params = params;
                self.mail_code = None;
                self.rcpts.clear();
                self.data_code = None;
                self.bdat_codes.clear();
                self.push(ctx, Cmd::Mail);
            }
            "RCPT" => {
                let (addr, params) = path_and_params(param, b"TO:");
                if self.rcpts.len() < 10_000 {
                    self.rcpts.push(Rcpt {
                        addr,
                        params,
                        code: None,
                    });
                    let i = self.rcpts.len() - 1;
                    self.push(ctx, Cmd::Rcpt(i));
                } else {
                    ctx.note_overflow();
                    self.push(ctx, Cmd::Other);
                }
            }
            "DATA" => self.push(ctx, Cmd::Data),
            "BDAT" => {
                let mut it = param.split(|&c| c == b' ').filter(|w| !w.is_empty());
                let size = it
                    .next()
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| s.parse::<u64>().ok());
                let last = it.next().is_some_and(|w| w.eq_ignore_ascii_case(b"LAST"));
                self.push(ctx, Cmd::Bdat { rec: None });
                match size {
                    Some(0) => self.chunk_done(ctx, last),
                    Some(left) => self.mode = Mode::Chunk { left, last },
                    None => {}
                }
            }
            "RSET" => {
                if self.msg.is_some() {
                    // A BDAT transaction abandoned.
                    let mut rec = self.finish_message(ctx, false);
                    add_anomaly(
                        &mut rec,
                        "truncated",
                        json!("reset by the client (RSET) before BDAT LAST"),
                    );
                    let meta = self.meta.clone();
                    ctx.emit(&meta, rec);
                }
                self.mail_from = None;
                self.rcpts.clear();
                self.push(ctx, Cmd::Other);
            }
            "STARTTLS" => self.push(ctx, Cmd::StartTls),
            _ => self.push(ctx, Cmd::Other),
        }
    }

    fn auth_response(&mut self, ctx: &mut Ctx, mech: &str, line: &[u8], login_user: bool) {
        let Some(dec) = b64(line) else { return };
        let (user, pass): (Option<&[u8]>, Option<&[u8]>) = match mech {
            "PLAIN" => {
                let mut p = dec.split(|&c| c == 0);
                let _authz = p.next();
                (p.next(), p.next())
            }
            "LOGIN" if login_user => (Some(&dec[..]), None),
            "LOGIN" => (None, Some(&dec[..])),
            "CRAM-MD5" => {
                let sp = dec.iter().rposition(|&c| c == b' ').unwrap_or(dec.len());
                (Some(&dec[..sp]), dec.get(sp + 1..))
            }
            _ => (None, None),
        };
        if let Some(u) = user {
            let u = String::from_utf8_lossy(u).into_owned();
            if ctx.opts.fields {
                ctx.frame.string(SMTP_AUTH_USERNAME, u.clone());
            }
            self.auth_user = Some(u);
        }
        if let Some(p) = pass {
            let p = String::from_utf8_lossy(p).into_owned();
            if ctx.opts.fields {
                ctx.frame.string(
                    SMTP_AUTH_PASSWORD,
                    if self.show_secrets {
                        p.clone()
                    } else {
                        REDACTED.into()
                    },
                );
            }
            self.auth_pass = Some(p);
        }
    }

    fn server(&mut self, ctx: &mut Ctx, mut data: &[u8], _ts: Nanos, _frame: u64) -> Option<usize> {
        let start = data.len();
        while !data.is_empty() {
            if self.resync[1] {
                match memchr::memchr(b'\n', data) {
                    Some(p) => {
                        data = &data[p + 1..];
                        self.resync[1] = false;
                        continue;
                    }
                    None => return None,
                }
            }
            let (n, done) = self.ls.push(data);
            data = &data[n..];
            if done {
                if self.ls.overflow {
                    ctx.note_overflow();
                }
                let line = std::mem::replace(&mut self.ls, LineBuf::new(0));
                let tls = self.server_line(ctx, line.line(), line.raw());
                self.ls = line;
                self.ls.clear();
                if tls {
                    return Some(start - data.len());
                }
            }
        }
        None
    }

    /// Returns true when STARTTLS was accepted.
    fn server_line(&mut self, ctx: &mut Ctx, line: &[u8], raw: &[u8]) -> bool {
        let f = ctx.opts.fields;
        if f {
            ctx.frame.proto(SMTP);
        }
        let code = line
            .get(..3)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .map(|d| d.iter().fold(0u16, |a, &c| a * 10 + u16::from(c - b'0')));
        let Some(code) = code else {
            return false;
        };
        let more = line.get(3) == Some(&b'-');
        let text = line.get(4..).unwrap_or(&[]);
        if self.reply_code.is_none() {
            self.reply_code = Some(code);
            self.reply_first.clear();
            self.reply_first.extend_from_slice(raw);
        }
        if self.reply_lines.len() < MAX_REPLY_LINES {
            self.reply_lines
                .push(String::from_utf8_lossy(text).into_owned());
        }
        if more {
            return false;
        }
        let code = self.reply_code.take().unwrap_or(code);
        let lines = std::mem::take(&mut self.reply_lines);
        if f {
            ctx.frame.flag(SMTP_RSP, true);
            ctx.frame.str(SMTP_RESPONSE, &self.reply_first);
            ctx.frame.uint(SMTP_RESPONSE_CODE, u64::from(code));
            for l in &lines {
                ctx.frame.string(SMTP_RSP_PARAMETER, l.clone());
            }
        }
        self.reply(ctx, code, lines)
    }

    fn reply(&mut self, ctx: &mut Ctx, code: u16, lines: Vec<String>) -> bool {
        if !self.greeted && self.pending.is_empty() {
            self.greeted = true;
            return false;
        }
        self.greeted = true;
        let Some(cmd) = self.pending.pop_front() else {
            return false;
        };
        let text = lines.first().cloned().unwrap_or_default();
        match cmd {
            Cmd::Ehlo => {
                if (200..300).contains(&code) {
                    self.extensions = lines.into_iter().skip(1).collect();
                }
            }
            Cmd::Auth => {
                if code != 334 {
                    self.auth = None;
                    self.auth_code = Some(code);
                }
            }
            Cmd::Mail => self.mail_code = Some(code),
            Cmd::Rcpt(i) => {
                if let Some(r) = self.rcpts.get_mut(i) {
                    r.code = Some(code);
                }
            }
            Cmd::Data => {
                self.data_code = Some(code);
                if code == 354 {
                    if self.mode == Mode::Command {
                        self.mode = Mode::Data;
                        self.dot = DotDecoder::default();
                    }
                } else if self.mode == Mode::Data && self.msg.is_none() {
                    self.mode = Mode::Command;
                }
            }
            Cmd::StartTls => {
                if code == 220 {
                    self.pending.clear();
                    return true;
                }
            }
            other => self.verdict(ctx, other, Some(code), &text),
        }
        false
    }

    /// The server's answer to the end of a message (or none at all).
    fn verdict(&mut self, ctx: &mut Ctx, cmd: Cmd, code: Option<u16>, text: &str) {
        let rec = match cmd {
            Cmd::EndData(rec) => Some(rec),
            Cmd::Bdat { rec } => {
                if let Some(c) = code {
                    self.bdat_codes.push(c);
                }
                rec
            }
            _ => None,
        };
        let Some(mut rec) = rec else { return };
        match code {
            Some(c) => {
                rec.insert("reply_code".into(), json!(c));
                rec.insert("reply_text".into(), json!(text));
                if !(200..300).contains(&c) {
                    add_anomaly(&mut rec, "rejected", json!(format!("{c} {text}")));
                }
            }
            None => add_anomaly(
                &mut rec,
                "no_reply",
                json!("no reply from the server in the capture"),
            ),
        }
        let meta = self.meta.clone();
        ctx.emit(&meta, *rec);
    }

    fn finish_message(&mut self, ctx: &mut Ctx, complete: bool) -> Map<String, Value> {
        let Some(mut msg) = self.msg.take() else {
            return Map::new();
        };
        if !complete {
            let p = self.dot.pending();
            msg.write(ctx, p);
        }
        let mut rec = msg.finish(ctx, complete).record;
        rec.insert("helo".into(), json!(self.helo));
        rec.insert("esmtp_extensions".into(), json!(self.extensions));
        rec.insert("auth_mechanism".into(), json!(self.auth_mech));
        rec.insert("auth_user".into(), json!(self.auth_user));
        if self.show_secrets && self.auth_pass.is_some() {
            rec.insert("auth_password".into(), json!(self.auth_pass));
        }
        rec.insert("auth_reply".into(), json!(self.auth_code));
        rec.insert("mail_from".into(), json!(self.mail_from));
        rec.insert("mail_from_parameters".into(), json!(self.mail_params));
        rec.insert("mail_reply".into(), json!(self.mail_code));
        let to: Vec<&str> = self.rcpts.iter().map(|r| r.addr.as_str()).collect();
        rec.insert("rcpt_to".into(), json!(to));
        let detail: Vec<Value> = self
            .rcpts
            .iter()
            .map(|r| json!({"address": r.addr, "parameters": r.params, "reply": r.code}))
            .collect();
        rec.insert("rcpt".into(), Value::Array(detail));
        let accepted: Vec<&str> = self
            .rcpts
            .iter()
            .filter(|r| r.code.is_none_or(|c| (200..300).contains(&c)))
            .map(|r| r.addr.as_str())
            .collect();
        rec.insert("rcpt_accepted".into(), json!(accepted));
        rec.insert("data_reply".into(), json!(self.data_code));
        if !self.bdat_codes.is_empty() {
            rec.insert("bdat_replies".into(), json!(self.bdat_codes));
        }
        // The next transaction starts with a new MAIL.
        self.mail_from = None;
        self.mail_params.clear();
        self.mail_code = None;
        self.rcpts.clear();
        self.data_code = None;
        self.bdat_codes.clear();
        rec
    }

    pub fn gap(&mut self, ctx: &mut Ctx, dir: Direction, missing: u64) {
        match dir {
            Direction::ClientToServer => match self.mode {
                Mode::Command => {
                    self.lc.clear();
                    self.resync[0] = true;
                }
                Mode::Data => {
                    self.dot.gap();
                    if let Some(m) = &mut self.msg {
                        m.gap(missing);
                    }
                }
                Mode::Chunk { left, last } => {
                    if let Some(m) = &mut self.msg {
                        m.gap(missing.min(left));
                    }
                    let left = left.saturating_sub(missing);
                    self.mode = Mode::Chunk { left, last };
                    if left == 0 {
                        self.chunk_done(ctx, last);
                        self.resync[0] = true;
                    }
                }
            },
            Direction::ServerToClient => {
                self.ls.clear();
                self.reply_code = None;
                self.reply_lines.clear();
                self.resync[1] = true;
            }
        }
    }

    pub fn close(&mut self, ctx: &mut Ctx) {
        if self.msg.is_some() {
            let rec = self.finish_message(ctx, false);
            let meta = self.meta.clone();
            ctx.emit(&meta, rec);
        }
        while let Some(c) = self.pending.pop_front() {
            self.verdict(ctx, c, None, "");
        }
    }
}

fn add_anomaly(rec: &mut Map<String, Value>, key: &str, v: Value) {
    let mut o = Map::new();
    o.insert(key.into(), v);
    match rec.get_mut("anomalies") {
        Some(Value::Array(a)) => a.push(Value::Object(o)),
        _ => {
            rec.insert("anomalies".into(), json!([o]));
        }
    }
}

/// `FROM:<a@b> SIZE=10` → (`a@b`, `SIZE=10`). Lenient about spaces and missing brackets.
fn path_and_params(param: &[u8], prefix: &[u8]) -> (String, String) {
    let mut p = param;
    if p.len() >= prefix.len() && p[..prefix.len()].eq_ignore_ascii_case(prefix) {
        p = &p[prefix.len()..];
    }
    while let [b' ', r @ ..] = p {
        p = r;
    }
    let (path, rest) = if p.first() == Some(&b'<') {
        match memchr::memchr(b'>', p) {
            Some(e) => (&p[1..e], &p[e + 1..]),
            None => (&p[1..], &[][..]),
        }
    } else {
        let e = p.iter().position(|&c| c == b' ').unwrap_or(p.len());
        (&p[..e], &p[e..])
    };
    (
        String::from_utf8_lossy(path).into_owned(),
        String::from_utf8_lossy(rest).trim().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            path_and_params(b"FROM:<a@b> SIZE=12 BODY=8BITMIME", b"FROM:"),
            ("a@b".into(), "SIZE=12 BODY=8BITMIME".into())
        );
        assert_eq!(
            path_and_params(b"TO: <x@y>", b"TO:"),
            ("x@y".into(), String::new())
        );
        assert_eq!(
            path_and_params(b"from:<>", b"FROM:"),
            (String::new(), String::new())
        );
    }
}
