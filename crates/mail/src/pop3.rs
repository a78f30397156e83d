//! POP3 (RFC 1939, 2449, 5034): commands and responses matched in order; RETR and TOP
//! responses are messages (multi-line, dot-unstuffed) written like SMTP's; AUTH exchanges are
//! followed (the client's answers to `+` challenges are not commands); STLS marks the rest as
//! TLS.

use std::collections::VecDeque;

use serde_json::json;
use wiresift_flow::{Direction, Nanos};

use crate::fields::*;
use crate::lines::{DotDecoder, LineProtocol, LineStep, Lines, line_step};
use crate::message::Msg;
use crate::{Ctx, MailOptions, Meta, REDACTED, split_verb};

#[derive(Debug)]
enum Cmd {
    /// RETR/TOP: the command line, for the manifest.
    Message(String),
    /// A command with a multi-line answer (LIST, UIDL without argument, CAPA).
    Multi,
    Single,
    /// AUTH: `+` challenges may come before its final response.
    Auth,
    Stls,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Line,
    /// Inside a multi-line response; `true` when it is a message.
    Multi(bool),
}

/// One POP3 connection.
pub struct Pop3 {
    meta: Meta,
    lines: Lines,
    pending: VecDeque<Cmd>,
    greeted: bool,
    mode: Mode,
    dot: DotDecoder,
    msg: Option<Msg>,
    msg_cmd: String,
    count: u64,
    user: Option<String>,
    /// The mechanism of the AUTH command awaiting its final response, and how many SASL
    /// responses the client has sent for it (initial response included).
    sasl: Option<(String, u32)>,
    /// The server sent a `+` challenge: the client's next line answers it.
    sasl_reply: bool,
    show_secrets: bool,
    max_pending: usize,
}

impl Pop3 {
    pub fn new(meta: Meta, o: &MailOptions) -> Pop3 {
        Pop3 {
            meta,
            lines: Lines::new(o.max_line),
            pending: VecDeque::new(),
            greeted: false,
            mode: Mode::Line,
            dot: DotDecoder::default(),
            msg: None,
            msg_cmd: String::new(),
            count: 0,
            user: None,
            sasl: None,
            sasl_reply: false,
            show_secrets: o.show_secrets,
            max_pending: o.max_pending.max(1),
        }
    }

    pub fn data(
        &mut self,
        ctx: &mut Ctx,
        dir: Direction,
        mut data: &[u8],
        ts: Nanos,
        frame: u64,
    ) -> Option<usize> {
        let start = data.len();
        let d = dir.index();
        while !data.is_empty() {
            if dir == Direction::ServerToClient
                && let Mode::Multi(is_msg) = self.mode
            {
                if ctx.opts.fields {
                    ctx.frame.proto(POP);
                }
                let end = if is_msg {
                    let msg = self.msg.get_or_insert_with(|| {
                        self.count += 1;
                        Msg::begin(ctx, "pop3", self.meta.stream, self.count, frame, ts)
                    });
                    msg.touch(frame, ts);
                    self.dot.feed(data, &mut |b| msg.write(ctx, b))
                } else {
                    self.dot.feed(data, &mut |_| {})
                };
                match end {
                    Some(n) => {
                        data = &data[n..];
                        self.mode = Mode::Line;
                        if is_msg {
                            self.finish(ctx, true);
                        }
                    }
                    None => data = &[],
                }
                continue;
            }
            match line_step(self, ctx, d, &mut data) {
                LineStep::Continue => {}
                LineStep::NeedMore => return None,
                LineStep::Tls => return Some(start - data.len()),
            }
        }
        None
    }

    /// A SASL response of the AUTH exchange in progress: the user name, when the mechanism
    /// carries it (PLAIN: authzid NUL authcid NUL password; LOGIN: the first response).
    fn sasl_response(&mut self, line: &[u8]) {
        let Some((mech, n)) = &mut self.sasl else {
            return;
        };
        *n += 1;
        if let Some(u) = crate::sasl_user(mech, *n, line) {
            self.user = Some(u);
        }
    }

    fn finish(&mut self, ctx: &mut Ctx, complete: bool) {
        let Some(mut msg) = self.msg.take() else {
            return;
        };
        if !complete {
            msg.write(ctx, self.dot.pending());
        }
        let mut rec = msg.finish(ctx, complete).record;
        rec.insert("user".into(), json!(self.user));
        rec.insert("command".into(), json!(self.msg_cmd));
        let meta = self.meta.clone();
        ctx.emit(&meta, rec);
    }

    pub fn gap(&mut self, _ctx: &mut Ctx, dir: Direction, missing: u64) {
        let d = dir.index();
        if d == 1
            && let Mode::Multi(_) = self.mode
        {
            self.dot.gap();
            if let Some(m) = &mut self.msg {
                m.gap(missing);
            }
            return;
        }
        self.lines.lose(d);
    }

    pub fn close(&mut self, ctx: &mut Ctx) {
        self.finish(ctx, false);
    }
}

impl LineProtocol for Pop3 {
    fn lines(&mut self) -> &mut Lines {
        &mut self.lines
    }

    fn client_line(&mut self, ctx: &mut Ctx, line: &[u8]) {
        if std::mem::take(&mut self.sasl_reply) {
            // The answer to a `+` challenge (or `*` to cancel): not a command, the AUTH stays
            // queued for its final response. It carries the credentials.
            if ctx.opts.fields {
                ctx.frame.proto(POP);
                if self.show_secrets {
                    // As tshark shows it: a request whose first word is the command.
                    let (word, param) =
                        line.split_at(line.iter().position(|&c| c == b' ').unwrap_or(line.len()));
                    ctx.frame.str(POP_REQUEST, line);
                    ctx.frame.str(POP_REQUEST_COMMAND, word);
                    if param.len() > 1 {
                        ctx.frame.str(POP_REQUEST_PARAMETER, &param[1..]);
                    }
                } else {
                    ctx.frame.string(POP_REQUEST, REDACTED.into());
                }
            }
            self.sasl_response(line);
            return;
        }
        let (verb, param) = split_verb(line);
        // Shown as sent (tshark does not change the case); matched upper-cased.
        let sent = &line[..line.iter().position(|&c| c == b' ').unwrap_or(line.len())];
        if ctx.opts.fields {
            ctx.frame.proto(POP);
            // PASS's parameter, and AUTH's initial response (after the mechanism).
            let secret = match verb.as_str() {
                "PASS" if !self.show_secrets && !param.is_empty() => Some(0),
                "AUTH" if !self.show_secrets => param
                    .iter()
                    .position(|&c| c == b' ')
                    .map(|p| p + 1)
                    .filter(|&p| p < param.len()),
                _ => None,
            };
            match secret {
                Some(keep) => {
                    let shown = format!("{}{REDACTED}", String::from_utf8_lossy(&param[..keep]));
                    ctx.frame.string(
                        POP_REQUEST,
                        format!("{} {shown}", String::from_utf8_lossy(sent)),
                    );
                    ctx.frame.str(POP_REQUEST_COMMAND, sent);
                    ctx.frame.string(POP_REQUEST_PARAMETER, shown);
                }
                None => {
                    ctx.frame.str(POP_REQUEST, line);
                    ctx.frame.str(POP_REQUEST_COMMAND, sent);
                    if !param.is_empty() {
                        ctx.frame.str(POP_REQUEST_PARAMETER, param);
                    }
                }
            }
        }
        let cmd = match verb.as_str() {
            "USER" | "APOP" => {
                let u = param.split(|&c| c == b' ').next().unwrap_or(&[]);
                self.user = Some(String::from_utf8_lossy(u).into_owned());
                Cmd::Single
            }
            "AUTH" if !param.is_empty() => {
                let mut w = param.splitn(2, |&c| c == b' ');
                let mech = String::from_utf8_lossy(w.next().unwrap_or(&[])).to_ascii_uppercase();
                self.sasl = Some((mech, 0));
                if let Some(initial) = w.next().filter(|r| *r != b"=") {
                    self.sasl_response(initial);
                }
                Cmd::Auth
            }
            "RETR" | "TOP" => Cmd::Message(String::from_utf8_lossy(line).into_owned()),
            // AUTH without a mechanism lists them (as CAPA does), as many servers answer it.
            "LIST" | "UIDL" | "AUTH" if param.is_empty() => Cmd::Multi,
            "CAPA" => Cmd::Multi,
            "STLS" => Cmd::Stls,
            _ => Cmd::Single,
        };
        if self.pending.len() >= self.max_pending {
            self.pending.pop_front();
            ctx.note_overflow();
        }
        self.pending.push_back(cmd);
    }

    fn server_line(&mut self, ctx: &mut Ctx, line: &[u8]) -> bool {
        let (ind, desc) = split_verb(line);
        if ctx.opts.fields {
            ctx.frame.proto(POP);
            ctx.frame.str(POP_RESPONSE, line);
            ctx.frame.string(POP_RESPONSE_INDICATOR, ind.clone());
            if !desc.is_empty() {
                ctx.frame.str(POP_RESPONSE_DESCRIPTION, desc);
            }
        }
        if ind == "+" {
            // A SASL challenge: the client's next line answers it; the AUTH command still
            // waits for its final response.
            self.sasl_reply = matches!(self.pending.front(), Some(Cmd::Auth));
            return false;
        }
        if !self.greeted && self.pending.is_empty() {
            self.greeted = true;
            return false;
        }
        self.greeted = true;
        let ok = ind == "+OK";
        match self.pending.pop_front() {
            Some(Cmd::Message(c)) if ok => {
                self.msg_cmd = c;
                self.mode = Mode::Multi(true);
                self.dot = DotDecoder::default();
            }
            Some(Cmd::Multi) if ok => {
                self.mode = Mode::Multi(false);
                self.dot = DotDecoder::default();
            }
            Some(Cmd::Stls) if ok => return true,
            Some(Cmd::Auth) => self.sasl = None,
            _ => {}
        }
        false
    }
}
