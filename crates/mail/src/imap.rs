//! IMAP (RFC 9051/3501): tagged commands, untagged and tagged responses, and literals
//! (`{N}` CRLF then N bytes) on both sides. A literal of a FETCH response whose item is
//! `BODY[...]`, `BINARY[...]` or `RFC822[.HEADER|.TEXT]` is written as a message, exactly as
//! sent (tshark exports those literals too, header-only fetches included); other literals are
//! skipped by length. AUTHENTICATE: the client's lines until the tagged response are SASL
//! responses (redacted; the user taken from PLAIN/LOGIN). STARTTLS accepted (tagged OK) marks
//! the rest as TLS.

use serde_json::json;
use wiresift_flow::{Direction, Nanos};

use crate::fields::*;
use crate::lines::{LineProtocol, LineStep, Lines, line_step};
use crate::message::Msg;
use crate::{Ctx, MailOptions, Meta, REDACTED};

/// Text of one response kept across its literals (to find the FETCH item before a literal).
const MAX_LOGICAL: usize = 8 * 1024;

/// One IMAP connection.
pub struct Imap {
    meta: Meta,
    lines: Lines,
    /// Literal bytes still to come, per direction, and whether the server's is a message.
    literal: [u64; 2],
    literal_msg: Option<String>,
    /// The server response so far (across literals).
    logical: Vec<u8>,
    msg: Option<Msg>,
    count: u64,
    user: Option<String>,
    starttls_tag: Option<Vec<u8>>,
    /// AUTHENTICATE awaiting its tagged response: tag, mechanism, SASL responses so far.
    auth: Option<(Vec<u8>, String, u32)>,
    /// The client's command whose line goes on after its literal (`a LOGIN {5}` ...).
    client_cont: Option<String>,
    show_secrets: bool,
}

impl Imap {
    pub fn new(meta: Meta, o: &MailOptions) -> Imap {
        Imap {
            meta,
            lines: Lines::new(o.max_line),
            literal: [0; 2],
            literal_msg: None,
            logical: Vec::new(),
            msg: None,
            count: 0,
            user: None,
            starttls_tag: None,
            auth: None,
            client_cont: None,
            show_secrets: o.show_secrets,
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
            if self.literal[d] > 0 {
                let take = (data.len() as u64).min(self.literal[d]) as usize;
                if ctx.opts.fields {
                    ctx.frame.proto(IMAP);
                }
                if d == 1 && self.literal_msg.is_some() {
                    let msg = self.msg.get_or_insert_with(|| {
                        self.count += 1;
                        let mut m =
                            Msg::begin(ctx, "imap", self.meta.stream, self.count, frame, ts);
                        m.section = self.literal_msg.clone();
                        m
                    });
                    msg.touch(frame, ts);
                    msg.write(ctx, &data[..take]);
                }
                self.literal[d] -= take as u64;
                data = &data[take..];
                if self.literal[d] == 0 && d == 1 && self.literal_msg.take().is_some() {
                    self.finish(ctx, true);
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

    /// A SASL response of the AUTHENTICATE in progress: the user name, when the mechanism
    /// carries it (PLAIN: authzid NUL authcid NUL password; LOGIN: the first response).
    fn sasl_response(&mut self, line: &[u8]) {
        let Some((_, mech, n)) = &mut self.auth else {
            return;
        };
        *n += 1;
        if let Some(u) = crate::sasl_user(mech, *n, line) {
            self.user = Some(u);
        }
    }

    fn finish(&mut self, ctx: &mut Ctx, complete: bool) {
        let Some(msg) = self.msg.take() else {
            return;
        };
        let mut rec = msg.finish(ctx, complete).record;
        rec.insert("user".into(), json!(self.user));
        let meta = self.meta.clone();
        ctx.emit(&meta, rec);
    }

    pub fn gap(&mut self, _ctx: &mut Ctx, dir: Direction, missing: u64) {
        let d = dir.index();
        if self.literal[d] > 0 {
            if d == 1
                && let Some(m) = &mut self.msg
            {
                m.gap(missing.min(self.literal[d]));
            }
            self.literal[d] = self.literal[d].saturating_sub(missing);
            if self.literal[d] > 0 {
                return;
            }
        }
        self.lines.lose(d);
        if d == 1 {
            self.logical.clear();
        }
    }

    pub fn close(&mut self, ctx: &mut Ctx) {
        self.finish(ctx, false);
    }
}

/// `... {123}` or `{123+}` at the end of a line.
fn literal_len(line: &[u8]) -> Option<u64> {
    let l = line.strip_suffix(b"}")?;
    let open = memchr::memrchr(b'{', l)?;
    let mut digits = &l[open + 1..];
    if let Some(d) = digits.strip_suffix(b"+") {
        digits = d;
    }
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// For `* 3 FETCH (... BODY[HEADER.FIELDS (A B)] {120}`: the item before the literal, when it
/// carries message text.
fn fetch_item(logical: &[u8]) -> Option<String> {
    let mut w = logical.split(|&c| c == b' ');
    if w.next()? != b"*" {
        return None;
    }
    let _n = w.next()?;
    if !w.next()?.eq_ignore_ascii_case(b"FETCH") {
        return None;
    }
    let open = memchr::memrchr(b'{', logical)?;
    let mut end = open;
    while end > 0 && logical[end - 1] == b' ' {
        end -= 1;
    }
    let mut item_end = end;
    // A partial fetch: BODY[]<0>.
    if end > 0 && logical[end - 1] == b'>' {
        end = memchr::memrchr(b'<', &logical[..end])?;
    }
    let start = if end > 0 && logical[end - 1] == b']' {
        let lb = memchr::memrchr(b'[', &logical[..end])?;
        logical[..lb]
            .iter()
            .rposition(|&c| c == b' ' || c == b'(')
            .map_or(0, |p| p + 1)
    } else {
        logical[..end]
            .iter()
            .rposition(|&c| c == b' ' || c == b'(')
            .map_or(0, |p| p + 1)
    };
    item_end = item_end.max(start);
    let item = &logical[start..item_end];
    let up = item.to_ascii_uppercase();
    let ok = up.starts_with(b"BODY[")
        || up.starts_with(b"BODY.PEEK[")
        || up.starts_with(b"BINARY[")
        || up.starts_with(b"BINARY.PEEK[")
        || up == b"RFC822"
        || up == b"RFC822.HEADER"
        || up == b"RFC822.TEXT";
    ok.then(|| String::from_utf8_lossy(item).into_owned())
}

impl LineProtocol for Imap {
    fn lines(&mut self) -> &mut Lines {
        &mut self.lines
    }

    fn client_line(&mut self, ctx: &mut Ctx, line: &[u8]) {
        if self.auth.is_some() {
            // A SASL response (or `*` to cancel) of the AUTHENTICATE in progress: it carries
            // the credentials.
            if ctx.opts.fields {
                ctx.frame.proto(IMAP);
                ctx.frame.flag(IMAP_ISREQUEST, true);
                if self.show_secrets {
                    ctx.frame.str(IMAP_REQUEST, line);
                } else {
                    ctx.frame.string(IMAP_REQUEST, REDACTED.into());
                }
            }
            self.sasl_response(line);
            return;
        }
        if let Some(cmd) = self.client_cont.take() {
            // The rest of a command after a literal; LOGIN's may hold the password.
            if ctx.opts.fields {
                ctx.frame.proto(IMAP);
                ctx.frame.flag(IMAP_ISREQUEST, true);
                if cmd == "LOGIN" && !self.show_secrets {
                    ctx.frame.string(IMAP_REQUEST, REDACTED.into());
                } else {
                    ctx.frame.str(IMAP_REQUEST, line);
                }
            }
            if let Some(n) = literal_len(line) {
                self.literal[0] = n;
                self.client_cont = Some(cmd);
            }
            return;
        }
        let mut words = line.split(|&c| c == b' ');
        let tag = words.next().unwrap_or(&[]);
        let cmd = String::from_utf8_lossy(words.next().unwrap_or(&[])).to_ascii_uppercase();
        if ctx.opts.fields {
            ctx.frame.proto(IMAP);
            ctx.frame.flag(IMAP_ISREQUEST, true);
            let mut w = words.clone();
            let (first, rest) = (w.next().unwrap_or(&[]), w.next());
            let shown = match cmd.as_str() {
                // LOGIN user password; AUTHENTICATE mechanism [initial-response] (RFC 4959).
                "LOGIN" | "AUTHENTICATE" if !self.show_secrets && rest.is_some() => format!(
                    "{} {cmd} {} {REDACTED}",
                    String::from_utf8_lossy(tag),
                    String::from_utf8_lossy(first)
                ),
                _ => String::from_utf8_lossy(line).into_owned(),
            };
            ctx.frame.string(IMAP_REQUEST, shown);
            ctx.frame.str(IMAP_REQUEST_TAG, tag);
            if !cmd.is_empty() {
                ctx.frame.string(IMAP_REQUEST_COMMAND, cmd.clone());
            }
        }
        match cmd.as_str() {
            "LOGIN" => {
                let u = words.next().unwrap_or(&[]);
                let u = u.strip_prefix(b"\"").unwrap_or(u);
                let u = u.strip_suffix(b"\"").unwrap_or(u);
                self.user = Some(String::from_utf8_lossy(u).into_owned());
            }
            "STARTTLS" => self.starttls_tag = Some(tag.to_vec()),
            "AUTHENTICATE" => {
                let mech =
                    String::from_utf8_lossy(words.next().unwrap_or(&[])).to_ascii_uppercase();
                self.auth = Some((tag.to_vec(), mech, 0));
                if let Some(initial) = words.next().filter(|r| *r != b"=") {
                    self.sasl_response(initial);
                }
                return;
            }
            _ => {}
        }
        if let Some(n) = literal_len(line) {
            self.literal[0] = n;
            self.client_cont = Some(cmd);
        }
    }

    fn server_line(&mut self, ctx: &mut Ctx, line: &[u8]) -> bool {
        if ctx.opts.fields {
            ctx.frame.proto(IMAP);
            ctx.frame.flag(IMAP_ISREQUEST, false);
            ctx.frame.str(IMAP_RESPONSE, line);
        }
        let continuing = !self.logical.is_empty();
        let room = MAX_LOGICAL.saturating_sub(self.logical.len());
        self.logical
            .extend_from_slice(&line[..line.len().min(room)]);
        if !continuing {
            let mut w = line.split(|&c| c == b' ');
            let tag = w.next().unwrap_or(&[]);
            let status = w.next().unwrap_or(&[]);
            if ctx.opts.fields && tag != b"*" && tag != b"+" {
                ctx.frame.str(IMAP_RESPONSE_TAG, tag);
                ctx.frame.str(IMAP_RESPONSE_STATUS, status);
            }
            if self.auth.as_ref().is_some_and(|a| a.0 == tag) {
                self.auth = None;
            }
            if self.starttls_tag.as_deref() == Some(tag) {
                self.starttls_tag = None;
                if status.eq_ignore_ascii_case(b"OK") {
                    return true;
                }
            }
        }
        match literal_len(line) {
            Some(n) => {
                self.literal[1] = n;
                self.literal_msg = fetch_item(&self.logical);
                if n == 0 && self.literal_msg.take().is_some() {
                    // An empty message: nothing to write.
                }
            }
            None => self.logical.clear(),
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_items() {
        assert_eq!(literal_len(b"* 1 FETCH (RFC822 {3339}"), Some(3339));
        assert_eq!(literal_len(b"a LOGIN {5+}"), Some(5));
        assert_eq!(literal_len(b"x {}"), None);
        assert_eq!(
            fetch_item(b"* 1 FETCH (FLAGS (\\Seen) BODY[HEADER.FIELDS (DATE FROM)] {12}")
                .as_deref(),
            Some("BODY[HEADER.FIELDS (DATE FROM)]")
        );
        assert_eq!(
            fetch_item(b"* 12 FETCH (RFC822 {3339}").as_deref(),
            Some("RFC822")
        );
        assert_eq!(
            fetch_item(b"* 2 FETCH (BODY[]<0> {10}").as_deref(),
            Some("BODY[]<0>")
        );
        assert_eq!(fetch_item(b"* 2 FETCH (ENVELOPE (\"x\" {3}"), None);
        assert_eq!(fetch_item(b"* LIST () \"/\" {3}"), None);
    }
}
