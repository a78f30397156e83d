//! `wiresift export smtp` against ground truth, live: in a network namespace pair, Python's
//! smtplib (and raw sockets, for PIPELINING and BDAT) sends 50 messages — plain, HTML, binary
//! attachments, non-ASCII subjects and file names, AUTH PLAIN, one rejected recipient, several
//! messages per connection, RSET — to a small SMTP server of the test's own (stdlib Python,
//! with CHUNKING, which aiosmtpd lacks) that stores what it receives. `wiresift capture`
//! records the traffic; each exported `.eml` must equal the stored message byte for byte, each
//! attachment the original file, and the manifest's envelope what was sent.
//!
//! `export pop3` and `export imap` likewise: 11 prepared messages served by a POP3 and an IMAP
//! server of the test's own, fetched by poplib / imaplib (and a raw socket for POP3 AUTH and
//! pipelining); every RETR/TOP response and FETCH literal must come out as the client got it.
//! The corpus test compares `export mail` and the mail filters with tshark.

mod common;
#[path = "common/netns.rs"]
#[allow(dead_code)]
mod netns;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netns::Netns;
use serde_json::Value;

const SERVER: &str = r#"
import socketserver, sys, os, json, hashlib, threading
HOST, OUT = sys.argv[1], sys.argv[2]
lock = threading.Lock()
count = [0]
def addr(cmd):
    s = cmd.decode('utf-8', 'replace')
    a = s.split(':', 1)[1].strip()
    return a[1:a.index('>')] if a.startswith('<') else a.split(' ')[0]
def store(mail, rcpts, content):
    with lock:
        count[0] += 1
        n = count[0]
        open(os.path.join(OUT, '%d.eml' % n), 'wb').write(content)
        with open(os.path.join(OUT, 'envelopes.jsonl'), 'a') as f:
            f.write(json.dumps({'n': n, 'mail_from': mail, 'rcpt_to': rcpts,
                                'sha256': hashlib.sha256(content).hexdigest()}) + '\n')
class H(socketserver.StreamRequestHandler):
    def handle(self):
        w = self.wfile
        def reply(s):
            w.write(s.encode() + b'\r\n'); w.flush()
        reply('220 test.example ESMTP wiresift-test')
        mail, rcpts, buf = None, [], b''
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            cmd = line.rstrip(b'\r\n')
            verb = cmd.split(b' ')[0].upper()
            if verb == b'EHLO':
                w.write(b'250-test.example\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n'
                        b'250-8BITMIME\r\n250-CHUNKING\r\n250 AUTH PLAIN LOGIN\r\n'); w.flush()
            elif verb == b'HELO':
                reply('250 test.example')
            elif verb == b'AUTH':
                if len(cmd.split(b' ')) < 3:
                    reply('334 ')
                    self.rfile.readline()
                reply('235 2.7.0 Authentication successful')
            elif verb == b'MAIL':
                mail, rcpts, buf = addr(cmd), [], b''
                reply('250 2.1.0 OK')
            elif verb == b'RCPT':
                a = addr(cmd)
                if a.startswith('reject'):
                    reply('550 5.1.1 <%s>: no such user' % a)
                else:
                    rcpts.append(a); reply('250 2.1.5 OK')
            elif verb == b'DATA':
                reply('354 End data with <CR><LF>.<CR><LF>')
                lines = []
                while True:
                    l = self.rfile.readline()
                    if l == b'.\r\n' or not l:
                        break
                    if l.startswith(b'.'):
                        l = l[1:]
                    lines.append(l)
                store(mail, rcpts, b''.join(lines)); reply('250 2.0.0 OK queued')
            elif verb == b'BDAT':
                parts = cmd.split()
                buf += self.rfile.read(int(parts[1]))
                if len(parts) > 2 and parts[2].upper() == b'LAST':
                    store(mail, rcpts, buf); buf = b''
                    reply('250 2.0.0 OK message queued')
                else:
                    reply('250 2.0.0 chunk received')
            elif verb == b'RSET':
                mail, rcpts, buf = None, [], b''
                reply('250 2.0.0 OK')
            elif verb == b'QUIT':
                reply('221 2.0.0 Bye'); return
            else:
                reply('250 OK')
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S((HOST, 25), H).serve_forever()
"#;

const CLIENT: &str = r#"
import smtplib, socket, sys, os, json, hashlib, random, email.policy, base64
from email.message import EmailMessage
HOST, OUT = sys.argv[1], sys.argv[2]
USER, PASSWORD = 'alice@example.org', 's3cret-Pa55'
rnd = random.Random(7)
names = ['report.pdf', 'résumé ü.bin', '日本語ファイル.dat', 'photo.png', 'data (1).zip',
         'naïve café.txt', '../../etc/evil.sh']
def build(i):
    m = EmailMessage()
    rcpts = ['rcpt%d@b.example' % i, 'other%d@c.example' % i]
    if i == 7:
        rcpts.insert(1, 'reject@b.example')
    m['From'] = 'Sender %d <sender%d@a.example>' % (i, i)
    m['To'] = ', '.join(rcpts)
    m['Subject'] = ('Test %d — Grüße ✓ 日本' % i) if i % 2 else ('Plain test %d' % i)
    m['Message-ID'] = '<test-%d@wiresift>' % i
    body = 'Hello %d\n.leading dot line\n..two dots\n.\nend\n' % i
    if i % 4 == 1:
        m.set_content(body)
        m.add_alternative('<html><body><p>Hi %d</p>\n.<b>dot</b></body></html>\n' % i, subtype='html')
    else:
        m.set_content(body)
    atts = []
    if i % 4 in (2, 3) or i % 5 == 0:
        for k in range(1 + i % 3):
            size = rnd.choice([1, 100, 5000, 70000, 300000])
            data = bytes(rnd.getrandbits(8) for _ in range(size)) if size < 6000 else os.urandom(size)
            name = names[(i + k) % len(names)]
            m.add_attachment(data, maintype='application', subtype='octet-stream', filename=name)
            atts.append({'name': name, 'sha256': hashlib.sha256(data).hexdigest(), 'size': size})
    raw = m.as_bytes(policy=email.policy.SMTP)
    return m, rcpts, atts, raw
def stuff(raw):
    lines = raw.split(b'\r\n')
    out = b'\r\n'.join((b'.' + l) if l.startswith(b'.') else l for l in lines)
    if not out.endswith(b'\r\n'):
        out += b'\r\n'
    return out + b'.\r\n'
class Raw:
    def __init__(self):
        self.s = socket.create_connection((HOST, 25)); self.f = self.s.makefile('rb')
        self.reply(); self.s.sendall(b'EHLO raw.client\r\n'); self.reply()
        tok = base64.b64encode(b'\0' + USER.encode() + b'\0' + PASSWORD.encode())
        self.s.sendall(b'AUTH PLAIN ' + tok + b'\r\n'); self.reply()
    def reply(self):
        while True:
            l = self.f.readline()
            if len(l) < 4 or l[3:4] != b'-':
                return l
    def send(self, i, mail, rcpts, raw, bdat):
        cmds = b'MAIL FROM:<%s>\r\n' % mail.encode() + b''.join(b'RCPT TO:<%s>\r\n' % r.encode() for r in rcpts)
        if bdat:
            self.s.sendall(cmds)
            for _ in range(1 + len(rcpts)):
                self.reply()
            chunks = [raw[k:k + 40000] for k in range(0, len(raw), 40000)]
            for k, c in enumerate(chunks):
                last = b' LAST' if k == len(chunks) - 1 else b''
                self.s.sendall(b'BDAT %d%s\r\n' % (len(c), last) + c)
                self.reply()
        else:
            self.s.sendall(cmds + b'DATA\r\n')  # PIPELINING
            for _ in range(2 + len(rcpts)):
                self.reply()
            self.s.sendall(stuff(raw)); self.reply()
    def quit(self):
        self.s.sendall(b'QUIT\r\n'); self.reply(); self.s.close()
sent = []
smtp = None
raw_conn = None
for i in range(50):
    m, rcpts, atts, raw = build(i)
    mail = 'sender%d@a.example' % i
    mode = 'bdat' if i % 5 == 0 else 'pipelined' if i % 5 == 1 else 'smtplib'
    if mode == 'smtplib':
        if smtp is None:
            smtp = smtplib.SMTP(HOST, 25, local_hostname='smtplib.client')
            smtp.ehlo(); smtp.login(USER, PASSWORD)
        if i % 9 == 4:
            smtp.rset()
        refused = smtp.sendmail(mail, rcpts, raw)
        if i % 6 == 5:
            smtp.quit(); smtp = None
    else:
        if raw_conn is None:
            raw_conn = Raw()
        raw_conn.send(i, mail, rcpts, raw, mode == 'bdat')
        if i % 3 == 0:
            raw_conn.quit(); raw_conn = None
    sent.append({'i': i, 'mode': mode, 'mail_from': mail, 'rcpt_to': rcpts,
                 'message_id': '<test-%d@wiresift>' % i, 'attachments': atts,
                 'sha256': hashlib.sha256(raw).hexdigest()})
if smtp: smtp.quit()
if raw_conn: raw_conn.quit()
json.dump(sent, open(OUT, 'w'))
"#;

fn wait_for_port(ns: &Netns, ip: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let probe = format!("import socket; socket.create_connection(('{ip}', {port}), 1).close()");
    while !ns.run(&ns.a.clone(), &["python3", "-c", &probe]) {
        assert!(
            Instant::now() < deadline,
            "the server on port {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn live_smtp_export_equals_what_was_sent() {
    let Some(mut ns) = Netns::new(1, &[]) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let store = t.path().join("server");
    std::fs::create_dir(&store).unwrap();
    let cap_file = t.path().join("smtp.pcapng");
    let cap = ns.capture(&["-i", "vb0", "-w", cap_file.to_str().unwrap()]);
    let mut server = ns.cmd(&ns.b.clone(), "python3");
    server.args(["-c", SERVER, "10.200.0.2", store.to_str().unwrap()]);
    ns.spawn(server);
    // The probe connections are captured too: they carry no mail.
    wait_for_port(&ns, "10.200.0.2", 25);
    let sent_file = t.path().join("sent.json");
    let st = ns
        .cmd(&ns.a.clone(), "python3")
        .args(["-c", CLIENT, "10.200.0.2", sent_file.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .expect("python3 client");
    assert!(st.success(), "the SMTP client failed");
    std::thread::sleep(Duration::from_millis(300));
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(15));
    assert_eq!(code, 0, "capture: {err}");

    let out = t.path().join("out");
    let o = common::bin()
        .args(["export", "smtp"])
        .arg(&cap_file)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("wiresift export");
    assert!(
        o.status.success(),
        "export smtp: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    check(&out, &store, &sent_file);
}

fn check(out: &Path, store: &Path, sent_file: &Path) {
    let sent: Vec<Value> = serde_json::from_slice(&std::fs::read(sent_file).unwrap()).unwrap();
    assert_eq!(sent.len(), 50);
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap();
    assert!(
        !manifest.contains("s3cret-Pa55"),
        "the AUTH password leaked into the manifest"
    );
    let records: Vec<Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| r["protocol"] == "smtp")
        .collect();
    let by_id: HashMap<&str, &Value> = records
        .iter()
        .filter_map(|r| Some((r["message_id"].as_str()?, r)))
        .collect();
    assert_eq!(records.len(), 50, "one record per message");
    let stored: HashMap<String, Vec<u8>> = std::fs::read_to_string(store.join("envelopes.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let n = v["n"].as_u64().unwrap();
            let b = std::fs::read(store.join(format!("{n}.eml"))).unwrap();
            (v["sha256"].as_str().unwrap().to_string(), b)
        })
        .collect();
    assert_eq!(stored.len(), 50, "the server stored every message");
    for s in &sent {
        let id = s["message_id"].as_str().unwrap();
        let r = by_id
            .get(id)
            .unwrap_or_else(|| panic!("no record for {id}"));
        let eml = std::fs::read(out.join(r["file"].as_str().unwrap())).unwrap();
        let want = stored
            .get(s["sha256"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{id}: the server did not store what was sent"));
        assert!(
            eml == *want,
            "{id}: the .eml differs from what the server stored"
        );
        assert_eq!(r["mail_from"], s["mail_from"], "{id}");
        assert_eq!(r["rcpt_to"], s["rcpt_to"], "{id}");
        assert_eq!(r["auth_user"], "alice@example.org", "{id}");
        assert_eq!(r["reply_code"].as_u64().map(|c| c / 100), Some(2), "{id}");
        assert_eq!(r["anomalies"], Value::Array(vec![]), "{id}");
        let rejected: Vec<&str> = r["rcpt"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["reply"].as_u64().unwrap_or(0) >= 500)
            .map(|x| x["address"].as_str().unwrap())
            .collect();
        let want_rej: Vec<&str> = if s["i"] == 7 {
            vec!["reject@b.example"]
        } else {
            vec![]
        };
        assert_eq!(rejected, want_rej, "{id}");
        let mut want_atts: Vec<(String, String)> = s["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().into(),
                    a["sha256"].as_str().unwrap().into(),
                )
            })
            .collect();
        let mut got_atts: Vec<(String, String)> = r["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["content_type"] == "application/octet-stream")
            .map(|a| {
                let file = out.join(a["file"].as_str().unwrap());
                assert!(
                    file.starts_with(out),
                    "{file:?} is outside the export directory"
                );
                let data = std::fs::read(&file).unwrap();
                let sha = wiresift_sha256(&data);
                assert_eq!(a["sha256"].as_str().unwrap(), sha, "{id}: {file:?}");
                (a["name"].as_str().unwrap().into(), sha)
            })
            .collect();
        want_atts.sort();
        got_atts.sort();
        assert_eq!(got_atts, want_atts, "{id}: attachments");
    }
    eprintln!(
        "{} messages checked against the server's copies",
        sent.len()
    );
}

/// SHA-256 as lowercase hex, by `sha256sum` (the test has no hashing crate of its own).
fn wiresift_sha256(data: &[u8]) -> String {
    use std::io::Write;
    let mut c = std::process::Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    c.stdin.take().unwrap().write_all(data).unwrap();
    let o = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

/// `export mail` and `read -Y` over the shared corpus: every `.eml` tshark exports is among
/// ours (with tshark's two artefacts undone: dot-stuffing kept, and the last CRLF dropped when
/// `CRLF . CRLF` comes in one segment), and the smtp/imf/pop/imap frame counts are tshark's.
#[test]
fn corpus_export_mail_matches_tshark() {
    let Some(dir) = common::corpus() else { return };
    // tshark exports that are not the message: (capture, tshark's name).
    let known_bad = [("zeek-smtp.pcap", "SMTP.eml")]; // ICMP-quoted bytes spliced into DATA
    let mut compared = 0;
    for (cap, lines) in common::corpus_captures(&dir) {
        let want: Vec<(&str, &str)> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("imf-object: "))
            .map(|l| {
                let md5 = l.split(" md5=").nth(1).unwrap().split(' ').next().unwrap();
                (md5, l.split(" name=").nth(1).unwrap())
            })
            .collect();
        let capname = cap.file_name().unwrap().to_string_lossy().to_string();
        for k in ["smtp", "imf", "pop", "imap"] {
            let Some(n) = common::expected(&lines, &format!("dfilter \"{k}\"")) else {
                continue;
            };
            let o = common::bin()
                .arg("read")
                .arg(&cap)
                .args(["-Y", k])
                .output()
                .unwrap();
            let got = String::from_utf8_lossy(&o.stdout).lines().count();
            assert_eq!(got.to_string(), n, "{capname}: read -Y {k}");
        }
        if want.is_empty() {
            continue;
        }
        let t = tempfile::tempdir().unwrap();
        let o = common::bin()
            .args(["export", "mail"])
            .arg(&cap)
            .arg("-o")
            .arg(t.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{capname}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut ours = std::collections::HashSet::new();
        let manifest = std::fs::read_to_string(t.path().join("manifest.jsonl")).unwrap();
        for l in manifest.lines() {
            let r: Value = serde_json::from_str(l).unwrap();
            // Records without a file (e.g. a TLS session that stayed encrypted) hold no message.
            let Some(file) = r["file"].as_str() else {
                continue;
            };
            let b = std::fs::read(t.path().join(file)).unwrap();
            let cut = b.strip_suffix(b"\r\n").unwrap_or(&b).to_vec();
            for v in [restuff(&b), restuff(&cut), b, cut] {
                ours.insert(md5_hex(&v));
            }
        }
        for (md5, name) in want {
            if known_bad.contains(&(capname.as_str(), name)) {
                continue;
            }
            assert!(
                ours.contains(md5),
                "{capname}: tshark's {name} ({md5}) not among ours"
            );
            compared += 1;
        }
    }
    eprintln!("{compared} tshark .eml files matched");
}

fn restuff(b: &[u8]) -> Vec<u8> {
    let mut o = Vec::with_capacity(b.len() + 16);
    let mut start = true;
    for &c in b {
        if start && c == b'.' {
            o.push(b'.');
        }
        o.push(c);
        start = c == b'\n';
    }
    o
}

fn md5_hex(b: &[u8]) -> String {
    let mut c = std::process::Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("md5sum");
    std::io::Write::write_all(&mut c.stdin.take().unwrap(), b).unwrap();
    let o = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// POP3 and IMAP, live: the same messages served by a POP3 and an IMAP server of the test's own
// (stdlib Python), fetched by poplib / imaplib (and raw sockets for AUTH PLAIN and pipelining).

/// Writes the messages the servers serve: `DIR/N.eml` and `DIR/index.json` (per message its
/// size, SHA-256 and attachments). Every message ends in CRLF and has no bare LF, as POP3 needs.
const PREP: &str = r#"
import sys, os, json, hashlib, random, email.policy
from email.message import EmailMessage
DIR = sys.argv[1]
P = email.policy.SMTP
rnd = random.Random(110)
msgs = []
def sha(b): return hashlib.sha256(b).hexdigest()
def add(raw, atts=()):
    assert raw.endswith(b'\r\n') and b'\n' not in raw.replace(b'\r\n', b''), len(msgs)
    n = len(msgs) + 1
    open(os.path.join(DIR, '%d.eml' % n), 'wb').write(raw)
    msgs.append({'n': n, 'file': '%d.eml' % n, 'size': len(raw), 'sha256': sha(raw),
                 'attachments': list(atts)})
def base(i, subject):
    m = EmailMessage()
    m['From'] = 'Sender %d <sender%d@a.example>' % (i, i)
    m['To'] = 'Alice <alice@example.org>'
    m['Subject'] = subject
    m['Date'] = 'Mon, 02 Mar 2026 10:%02d:00 +0000' % i
    m['Message-ID'] = '<pop-%d@wiresift>' % i
    return m
def att(m, data, name, **kw):
    if not kw:
        kw = dict(maintype='application', subtype='octet-stream')
    m.add_attachment(data, filename=name, **kw)
    # Text travels in its canonical form, CRLF line ends, and is decoded so.
    return {'name': name, 'sha256': sha(data if isinstance(data, bytes) else data.encode().replace(b'\n', b'\r\n'))}
# 1: plain text.
m = base(1, 'Plain text'); m.set_content('Hello Alice,\nthis is plain text.\n'); add(m.as_bytes(policy=P))
# 2: HTML alternative, a dot at a line start in the HTML.
m = base(2, 'HTML newsletter'); m.set_content('plain part\n')
m.add_alternative('<html><body><p>Hi</p>\n.<b>dot</b>\n</body></html>\n', subtype='html')
add(m.as_bytes(policy=P))
# 3: a binary attachment of 300 kB (many segments).
m = base(3, 'Binary attachment'); m.set_content('see attached\n' + ''.join('line %d\n' % k for k in range(20)))
a = att(m, os.urandom(300000), 'blob.bin'); add(m.as_bytes(policy=P), [a])
# 4: lines beginning with dots, one of them a lone dot (the terminator, if not stuffed).
m = base(4, 'Dots'); m.set_content('.leading dot\n..two dots\n.\n...\n. space\nend\n'); add(m.as_bytes(policy=P))
# 5: non-ASCII subject (RFC 2047) and attachment names (RFC 2231, one with continuations).
m = base(5, 'Grüße — 日本語 ✓ résumé'); m.set_content('Pièces jointes ci-dessous.\n')
a1 = att(m, bytes(rnd.getrandbits(8) for _ in range(5000)), 'résumé ü.pdf')
a2 = att(m, os.urandom(70000), '日本語ファイル名がとても長いのでRFC2231の継続行になるファイル.dat')
raw = m.as_bytes(policy=P)
assert b"filename*=utf-8''" in raw and b'filename*1*=' in raw and b'=?utf-8?' in raw
add(raw, [a1, a2])
# 6: 8-bit UTF-8 body, one line of 20000 bytes (longer than poplib's and our line caps).
add(b'From: Raw <raw@a.example>\r\nTo: alice@example.org\r\nSubject: Long line\r\n'
    b'Message-ID: <pop-6@wiresift>\r\nMIME-Version: 1.0\r\n'
    b'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
    + 'ünïcödé '.encode() * 1500 + b'\r\nshort line\r\n')
# 7: no body at all.
add(b'From: Empty <empty@a.example>\r\nSubject: Empty body\r\nMessage-ID: <pop-7@wiresift>\r\n\r\n')
# 8: the last line is a lone dot; a line of a dot and a CR-less 'x'.
add(b'From: Dot <dot@a.example>\r\nSubject: Ends with a dot\r\nMessage-ID: <pop-8@wiresift>\r\n'
    b'\r\n.x\r\n..\r\n.\r\n')
# 9: text attachments (quoted-printable, 1 byte) beside a binary one.
m = base(9, 'Mixed attachments'); m.set_content('three files\n')
a1 = att(m, 'naïve café\n.dot line\n' * 40, 'notes.txt', subtype='plain', cte='quoted-printable')
a2 = att(m, b'\x00', 'one.bin')
a3 = att(m, os.urandom(1000), 'photo.png', maintype='image', subtype='png')
add(m.as_bytes(policy=P), [a1, a2, a3])
# 10: 20000 short lines of dots: stuffed dots and lone dots split at every kind of segment edge.
body = b''.join([b'.', b'..', b'.x', b'x.', b'', b'.\r'][k % 6] + b'\r\n' for k in range(20000))
add(b'From: Many <many@a.example>\r\nSubject: Many dots\r\nMessage-ID: <pop-10@wiresift>\r\n\r\n' + body)
# 11: a message/rfc822 attachment.
inner = base(31, 'Inner message'); inner.set_content('inner body\n.dot\n')
m = base(11, 'Forwarded'); m.set_content('forwarding\n'); m.add_attachment(inner)
add(m.as_bytes(policy=P))
json.dump(msgs, open(os.path.join(DIR, 'index.json'), 'w'))
"#;

/// POP3 server (RFC 1939, 2449, 5034): USER/PASS, APOP, AUTH PLAIN, CAPA, STAT, LIST, UIDL,
/// RETR, TOP, DELE, NOOP, RSET, QUIT over the prepared messages; dot-stuffs multi-line answers.
const POP3_SERVER: &str = r#"
import socketserver, sys, os, json, hashlib, base64
HOST, PORT, DIR = sys.argv[1], int(sys.argv[2]), sys.argv[3]
USER, PASSWORD = 'alice@example.org', 's3cret-Pa55'
MSGS = [open(os.path.join(DIR, m['file']), 'rb').read() for m in json.load(open(os.path.join(DIR, 'index.json')))]
def lines_of(raw):
    ls = raw.split(b'\r\n')
    assert ls[-1] == b''
    return ls[:-1]
def multi(first, lines):
    return (first.encode() + b'\r\n' + b''.join((b'.' + l if l.startswith(b'.') else l) + b'\r\n'
            for l in lines) + b'.\r\n')
class H(socketserver.StreamRequestHandler):
    def handle(self):
        stamp = '<%d.%d@test.example>' % (os.getpid(), id(self))
        def send(b):
            self.wfile.write(b); self.wfile.flush()
        def say(s):
            send(s.encode() + b'\r\n')
        say('+OK wiresift-test POP3 ready ' + stamp)
        user, authed, deleted = None, False, set()
        def msg(arg):
            try:
                n = int(arg)
            except ValueError:
                return None
            return n if 1 <= n <= len(MSGS) and n not in deleted else None
        while True:
            line = self.rfile.readline(100000)
            if not line:
                return
            words = line.rstrip(b'\r\n').decode('utf-8', 'replace').split(' ')
            verb, args = words[0].upper(), words[1:]
            if verb == 'QUIT':
                say('+OK bye'); return
            elif verb == 'CAPA':
                send(multi('+OK capability list follows', [b'USER', b'UIDL', b'TOP', b'PIPELINING', b'SASL PLAIN']))
            elif verb == 'NOOP':
                say('+OK')
            elif verb == 'USER':
                user = args[0]; say('+OK send PASS')
            elif verb == 'PASS':
                authed = user == USER and ' '.join(args) == PASSWORD
                say('+OK maildrop locked and ready' if authed else '-ERR invalid password')
            elif verb == 'APOP':
                want = hashlib.md5((stamp + PASSWORD).encode()).hexdigest()
                authed = args == [USER, want]
                say('+OK maildrop locked and ready' if authed else '-ERR authentication failed')
            elif verb == 'AUTH' and not args:
                send(multi('+OK methods follow', [b'PLAIN']))
            elif verb == 'AUTH' and args[0].upper() == 'PLAIN':
                if len(args) > 1:
                    tok = args[1]
                else:
                    say('+ ')
                    tok = self.rfile.readline().strip().decode()
                _, u, p = base64.b64decode(tok).split(b'\0')
                authed = (u.decode(), p.decode()) == (USER, PASSWORD)
                say('+OK authenticated' if authed else '-ERR authentication failed')
            elif not authed:
                say('-ERR not authenticated')
            elif verb == 'STAT':
                live = [k for k in range(1, len(MSGS) + 1) if k not in deleted]
                say('+OK %d %d' % (len(live), sum(len(MSGS[k - 1]) for k in live)))
            elif verb in ('LIST', 'UIDL'):
                val = (lambda k: b'%d' % len(MSGS[k - 1])) if verb == 'LIST' else (lambda k: b'uid-%d' % k)
                if args:
                    n = msg(args[0])
                    say('+OK %d %s' % (n, val(n).decode()) if n else '-ERR no such message')
                else:
                    send(multi('+OK', [b'%d %s' % (k, val(k)) for k in range(1, len(MSGS) + 1) if k not in deleted]))
            elif verb == 'RETR':
                n = msg(args[0])
                if n:
                    send(multi('+OK %d octets' % len(MSGS[n - 1]), lines_of(MSGS[n - 1])))
                else:
                    say('-ERR no such message')
            elif verb == 'TOP':
                n, k = msg(args[0]), int(args[1])
                if n:
                    ls = lines_of(MSGS[n - 1])
                    blank = ls.index(b'')
                    send(multi('+OK top of message follows', ls[:blank + 1 + k]))
                else:
                    say('-ERR no such message')
            elif verb == 'DELE':
                n = msg(args[0])
                if n:
                    deleted.add(n); say('+OK message %d deleted' % n)
                else:
                    say('-ERR no such message')
            elif verb == 'RSET':
                deleted.clear(); say('+OK')
            else:
                say('-ERR unknown command')
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S((HOST, PORT), H).serve_forever()
"#;

/// POP3 clients: poplib with USER/PASS (CAPA, STAT, LIST, UIDL, every message by RETR, two
/// TOPs, DELE, a RETR answered -ERR), poplib with APOP, and a raw socket with AUTH (the
/// mechanism list), AUTH PLAIN (challenge form) and three pipelined commands, one lower-case. Writes what each RETR/TOP returned to
/// `OUT/got-K.eml` and the list of them to `OUT/fetched.json`, and checks it against the
/// originals (so a difference later is ours, not the server's).
const POP3_CLIENT: &str = r#"
import poplib, socket, sys, os, json, hashlib, base64
HOST, DIR, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
USER, PASSWORD = 'alice@example.org', 's3cret-Pa55'
poplib._MAXLINE = 100000
idx = json.load(open(os.path.join(DIR, 'index.json')))
orig = [open(os.path.join(DIR, m['file']), 'rb').read() for m in idx]
fetched = []
def top_of(n, k):
    ls = orig[n - 1].split(b'\r\n')[:-1]
    blank = ls.index(b'')
    return b''.join(l + b'\r\n' for l in ls[:blank + 1 + k])
def keep(command, n, lines, want, user):
    data = b''.join(l + b'\r\n' for l in lines)
    assert data == want, (command, len(data), len(want))
    path = os.path.join(OUT, 'got-%d.eml' % len(fetched))
    open(path, 'wb').write(data)
    fetched.append({'command': command, 'n': n, 'file': path, 'user': user,
                    'whole': data == orig[n - 1]})
N = len(orig)
p = poplib.POP3(HOST, 110, timeout=20)
p.capa(); p.user(USER); p.pass_(PASSWORD)
assert p.stat()[0] == N
p.list(); p.uidl(); p.list(2); p.uidl(2); p.noop()
for n in range(1, N + 1):
    keep('RETR %d' % n, n, p.retr(n)[1], orig[n - 1], USER)
keep('TOP 4 3', 4, p.top(4, 3)[1], top_of(4, 3), USER)
keep('TOP 10 7', 10, p.top(10, 7)[1], top_of(10, 7), USER)
p.dele(1)
try:
    p.retr(1)
    raise SystemExit('RETR of a deleted message succeeded')
except poplib.error_proto:
    pass
p.quit()
p = poplib.POP3(HOST, 110, timeout=20)
p.apop(USER, PASSWORD)
keep('RETR 2', 2, p.retr(2)[1], orig[1], USER)
keep('TOP 7 2', 7, p.top(7, 2)[1], top_of(7, 2), USER)
p.quit()
s = socket.create_connection((HOST, 110), 20)
f = s.makefile('rb')
def line():
    l = f.readline(100000)
    assert l.endswith(b'\r\n'), l
    return l[:-2]
def multi():
    first = line()
    assert first.startswith(b'+OK'), first
    out = []
    while True:
        l = line()
        if l == b'.':
            return out
        out.append(l[1:] if l.startswith(b'.') else l)
line()
s.sendall(b'AUTH\r\n')
assert multi() == [b'PLAIN']
s.sendall(b'AUTH PLAIN\r\n')
assert line().startswith(b'+'), 'no SASL challenge'
s.sendall(base64.b64encode(b'\0' + USER.encode() + b'\0' + PASSWORD.encode()) + b'\r\n')
assert line().startswith(b'+OK')
s.sendall(b'RETR 5\r\nTOP 3 10\r\nretr 10\r\n')  # PIPELINING; keywords are case-insensitive
keep('RETR 5', 5, multi(), orig[4], USER)
keep('TOP 3 10', 3, multi(), top_of(3, 10), USER)
keep('retr 10', 10, multi(), orig[9], USER)
s.sendall(b'QUIT\r\n'); line(); s.close()
json.dump(fetched, open(os.path.join(OUT, 'fetched.json'), 'w'))
"#;

/// IMAP server (enough of RFC 3501 for imaplib): CAPABILITY, LOGIN, AUTHENTICATE PLAIN,
/// SELECT/EXAMINE, FETCH of a
/// sequence set with FLAGS, RFC822, BODY[] / BODY.PEEK[] and BODY[HEADER] as literals, NOOP,
/// LOGOUT.
const IMAP_SERVER: &str = r#"
import socketserver, sys, os, json, re, base64
HOST, PORT, DIR = sys.argv[1], int(sys.argv[2]), sys.argv[3]
USER, PASSWORD = 'alice@example.org', 's3cret-Pa55'
MSGS = [open(os.path.join(DIR, m['file']), 'rb').read() for m in json.load(open(os.path.join(DIR, 'index.json')))]
def astrings(s):
    out = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', s):
        out.append(re.sub(r'\\(.)', r'\1', m.group(1)) if m.group(1) is not None else m.group(2))
    return out
def seqset(s):
    out = []
    for part in s.split(','):
        a, _, b = part.partition(':')
        b = b or a
        a = len(MSGS) if a == '*' else int(a)
        b = len(MSGS) if b == '*' else int(b)
        out.extend(range(min(a, b), max(a, b) + 1))
    return out
class H(socketserver.StreamRequestHandler):
    def handle(self):
        def send(b):
            self.wfile.write(b); self.wfile.flush()
        def say(s):
            send(s.encode() + b'\r\n')
        say('* OK wiresift-test IMAP4rev1 ready')
        authed = False
        while True:
            line = self.rfile.readline(100000)
            if not line:
                return
            tag, _, rest = line.rstrip(b'\r\n').decode('utf-8', 'replace').partition(' ')
            cmd, _, args = rest.partition(' ')
            cmd = cmd.upper()
            if cmd == 'CAPABILITY':
                say('* CAPABILITY IMAP4rev1 AUTH=PLAIN'); say(tag + ' OK CAPABILITY completed')
            elif cmd == 'NOOP':
                say(tag + ' OK NOOP completed')
            elif cmd == 'LOGOUT':
                say('* BYE logging out'); say(tag + ' OK LOGOUT completed'); return
            elif cmd == 'LOGIN':
                authed = astrings(args) == [USER, PASSWORD]
                say(tag + (' OK LOGIN completed' if authed else ' NO LOGIN failed'))
            elif cmd == 'AUTHENTICATE' and args.upper() == 'PLAIN':
                say('+ ')
                tok = self.rfile.readline().strip()
                authed = base64.b64decode(tok) == ('\0%s\0%s' % (USER, PASSWORD)).encode()
                say(tag + (' OK AUTHENTICATE completed' if authed else ' NO AUTHENTICATE failed'))
            elif not authed:
                say(tag + ' BAD not authenticated')
            elif cmd in ('SELECT', 'EXAMINE'):
                say('* %d EXISTS' % len(MSGS)); say('* 0 RECENT')
                say('* FLAGS (\\Seen \\Deleted)'); say('* OK [UIDVALIDITY 7] UIDs valid')
                say(tag + ' OK [READ-WRITE] SELECT completed')
            elif cmd == 'FETCH':
                seq, _, items = args.partition(' ')
                items = items.upper()
                for n in seqset(seq):
                    raw = MSGS[n - 1]
                    out = b'* %d FETCH (' % n
                    if 'FLAGS' in items:
                        out += b'FLAGS (\\Seen) '
                    if 'HEADER]' in items:
                        name, data = b'BODY[HEADER]', raw[:raw.index(b'\r\n\r\n') + 4]
                    elif 'BODY' in items:
                        name, data = b'BODY[]', raw
                    else:
                        name, data = b'RFC822', raw
                    send(out + name + b' {%d}\r\n' % len(data) + data + b')\r\n')
                say(tag + ' OK FETCH completed')
            else:
                say(tag + ' BAD unknown command')
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S((HOST, PORT), H).serve_forever()
"#;

/// IMAP clients: imaplib LOGIN, SELECT, each message by FETCH (RFC822 and BODY[] in turn),
/// a FETCH of a range with BODY.PEEK[] and a header-only FETCH; then AUTHENTICATE PLAIN and two
/// FETCHes. Writes `fetched.json` as the POP3 client does (with the FETCH item in `command`).
const IMAP_CLIENT: &str = r#"
import imaplib, sys, os, json
HOST, DIR, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
USER, PASSWORD = 'alice@example.org', 's3cret-Pa55'
idx = json.load(open(os.path.join(DIR, 'index.json')))
orig = [open(os.path.join(DIR, m['file']), 'rb').read() for m in idx]
N = len(orig)
fetched = []
def keep(item, n, data, want):
    assert data == want, (item, n, len(data), len(want))
    path = os.path.join(OUT, 'got-%d.eml' % len(fetched))
    open(path, 'wb').write(data)
    fetched.append({'command': item, 'n': n, 'file': path, 'user': USER,
                    'whole': data == orig[n - 1]})
def fetch(seq, items, item):
    typ, data = M.fetch(seq, items)
    assert typ == 'OK', data
    for part in data:
        if isinstance(part, tuple):
            n = int(part[0].split(b' ')[0])
            want = orig[n - 1]
            if item == 'BODY[HEADER]':
                want = want[:want.index(b'\r\n\r\n') + 4]
            keep(item, n, part[1], want)
M = imaplib.IMAP4(HOST, 143, timeout=20)
M.login(USER, PASSWORD)
typ, data = M.select('INBOX')
assert typ == 'OK' and int(data[0]) == N, data
for n in range(1, N + 1):
    if n % 2:
        fetch(str(n), '(RFC822)', 'RFC822')
    else:
        fetch(str(n), '(FLAGS BODY[])', 'BODY[]')
fetch('2:4', '(BODY.PEEK[])', 'BODY[]')
fetch('5', '(BODY.PEEK[HEADER])', 'BODY[HEADER]')
M.logout()
M = imaplib.IMAP4(HOST, 143, timeout=20)
M.authenticate('PLAIN', lambda _: ('\0%s\0%s' % (USER, PASSWORD)).encode())
M.select('INBOX')
fetch('6', '(BODY.PEEK[])', 'BODY[]')
fetch('9', '(RFC822)', 'RFC822')
M.logout()
json.dump(fetched, open(os.path.join(OUT, 'fetched.json'), 'w'))
"#;

const PASSWORD: &str = "s3cret-Pa55";

/// Prepares the messages, starts `server` on `port` in `b`, runs `client` in `a` (bounded in
/// time) while `wiresift capture` records vb0. Returns the temporary directory (`msgs/`: the
/// originals, `got/`: what the client fetched, with `got/fetched.json`) and the capture, or
/// `None` when live tests cannot run here.
fn live_fetch(port: u16, server: &str, client: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let mut ns = Netns::new(1, &[])?;
    let t = tempfile::tempdir().unwrap();
    let (msgs, got) = (t.path().join("msgs"), t.path().join("got"));
    for d in [&msgs, &got] {
        std::fs::create_dir(d).unwrap();
    }
    let st = Command::new("python3")
        .args(["-c", PREP])
        .arg(&msgs)
        .status()
        .expect("python3");
    assert!(st.success(), "preparing the messages failed");
    let cap_file = t.path().join(format!("port{port}.pcapng"));
    let cap = ns.capture(&["-i", "vb0", "-w", cap_file.to_str().unwrap()]);
    let mut srv = ns.cmd(&ns.b.clone(), "python3");
    srv.args(["-c", server, "10.200.0.2", &port.to_string()])
        .arg(&msgs);
    ns.spawn(srv);
    wait_for_port(&ns, "10.200.0.2", port);
    let o = ns
        .cmd(&ns.a.clone(), "timeout")
        .args(["120", "python3", "-c", client, "10.200.0.2"])
        .arg(&msgs)
        .arg(&got)
        .output()
        .expect("python3 client");
    assert!(
        o.status.success(),
        "the client on port {port} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::thread::sleep(Duration::from_millis(300));
    cap.signal("INT");
    let (code, err) = cap.wait(Duration::from_secs(15));
    assert_eq!(code, 0, "capture: {err}");
    Some((t, cap_file))
}

/// `wiresift ARGS`: (stdout, stderr); asserts success.
fn wiresift(args: &[&str]) -> (String, String) {
    let o = common::bin().args(args).output().expect("wiresift");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "wiresift {args:?}: {err}");
    (out, err)
}

/// `wiresift export PROTO CAP -o DIR/out`: the output directory; the password (plain or inside
/// the AUTH PLAIN token) must not be in the manifest, stdout or stderr.
fn export_checked(proto: &str, cap: &Path, dir: &Path) -> PathBuf {
    let out = dir.join(format!("out-{proto}"));
    let (so, se) = wiresift(&[
        "export",
        proto,
        cap.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap();
    for (what, text) in [("manifest", &manifest), ("stdout", &so), ("stderr", &se)] {
        for secret in [PASSWORD, &plain_token()] {
            assert!(
                !text.contains(secret),
                "export {proto}: the password is in the {what}"
            );
        }
    }
    out
}

/// The AUTH PLAIN token the raw POP3 client sends (base64 of NUL user NUL password).
fn plain_token() -> String {
    let o = Command::new("python3")
        .args([
            "-c",
            "import base64; print(base64.b64encode(b'\\0alice@example.org\\0s3cret-Pa55').decode())",
        ])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Every exported message equals what the client fetched (and, for whole messages, the
/// original), one manifest record per RETR/TOP or FETCH literal, in order, with its command or
/// FETCH item, the user, size and SHA-256; attachments of whole messages equal the originals.
fn check_fetched(proto: &str, out: &Path, t: &Path) {
    let index: Vec<Value> =
        serde_json::from_slice(&std::fs::read(t.join("msgs/index.json")).unwrap()).unwrap();
    let fetched: Vec<Value> =
        serde_json::from_slice(&std::fs::read(t.join("got/fetched.json")).unwrap()).unwrap();
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap();
    let mut records: Vec<Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for r in &records {
        assert_eq!(r["protocol"], proto, "export {proto} wrote {r}");
    }
    records.sort_by_key(|r| (r["stream"].as_u64(), r["message"].as_u64()));
    let key = if proto == "pop3" {
        "command"
    } else {
        "imap_section"
    };
    let listed =
        |v: &[Value], k: &str| -> Vec<String> { v.iter().map(|r| r[k].to_string()).collect() };
    assert_eq!(
        listed(&records, key),
        listed(&fetched, "command"),
        "{proto}: one record per fetched message"
    );
    let mut whole = 0;
    for (r, f) in records.iter().zip(&fetched) {
        let what = format!("{proto} {} of message {}", f["command"], f["n"]);
        assert_eq!(r[key], f["command"], "{what}: {r}");
        if proto == "pop3" {
            assert!(r.get("imap_section").is_none(), "{what}: {r}");
        }
        assert_eq!(r["user"], f["user"], "{what}");
        assert_eq!(r["anomalies"], Value::Array(vec![]), "{what}");
        let want = std::fs::read(f["file"].as_str().unwrap()).unwrap();
        let eml = std::fs::read(out.join(r["file"].as_str().unwrap())).unwrap();
        assert!(
            eml == want,
            "{what}: the .eml ({} bytes) differs from what the client got ({} bytes)",
            eml.len(),
            want.len()
        );
        assert_eq!(r["size"].as_u64(), Some(want.len() as u64), "{what}");
        assert_eq!(
            r["sha256"].as_str(),
            Some(wiresift_sha256(&want).as_str()),
            "{what}"
        );
        if f["whole"] != true {
            continue;
        }
        whole += 1;
        let n = f["n"].as_u64().unwrap() as usize;
        let orig = std::fs::read(t.join(format!("msgs/{n}.eml"))).unwrap();
        assert!(eml == orig, "{what}: the .eml differs from the original");
        let mut want_atts: Vec<(String, String)> = index[n - 1]["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().into(),
                    a["sha256"].as_str().unwrap().into(),
                )
            })
            .collect();
        let mut got_atts: Vec<(String, String)> = r["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["content_type"] != "message/rfc822")
            .map(|a| {
                let file = out.join(a["file"].as_str().unwrap());
                assert!(
                    file.starts_with(out),
                    "{file:?} is outside the export directory"
                );
                let sha = wiresift_sha256(&std::fs::read(&file).unwrap());
                assert_eq!(a["sha256"].as_str(), Some(sha.as_str()), "{what}: {file:?}");
                (a["name"].as_str().unwrap_or("").into(), sha)
            })
            .collect();
        want_atts.sort();
        got_atts.sort();
        assert_eq!(got_atts, want_atts, "{what}: attachments");
    }
    eprintln!(
        "{proto}: {} records checked ({whole} whole messages against the originals)",
        records.len()
    );
}

/// `wiresift read CAP -Y FILTER -T fields -e FIELD` and the same by tshark, frame for frame.
/// Two differences are allowed: when a segment carries several commands (pipelining), tshark
/// shows only the first; and a SASL response (one of `secrets`), which tshark shows as a
/// command, is redacted by us. Returns our lines.
fn commands_match_tshark(cap: &Path, filter: &str, field: &str, secrets: &[&str]) -> Vec<String> {
    let (ours, _) = wiresift(&[
        "read",
        cap.to_str().unwrap(),
        "-Y",
        filter,
        "-T",
        "fields",
        "-e",
        field,
    ]);
    let ours: Vec<String> = ours.lines().map(str::to_string).collect();
    let theirs: Vec<String> = netns::tshark_fields(cap, &[field], Some(filter))
        .into_iter()
        .map(|v| v.join("\t"))
        .collect();
    assert!(!theirs.is_empty(), "tshark shows no {filter} frames");
    assert_eq!(ours.len(), theirs.len(), "{filter}: frames shown");
    let (mut pipelined, mut redacted) = (0, 0);
    for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        if a != b && a.contains(',') && a.split(',').next() == Some(b.as_str()) {
            pipelined += 1;
            continue;
        }
        if a.is_empty() && secrets.contains(&b.as_str()) {
            redacted += 1;
            continue;
        }
        assert_eq!(a, b, "{filter}: {k}th frame's {field} (ours, tshark's)");
    }
    eprintln!(
        "{filter}: {field} of {} frames equal to tshark's ({pipelined} with several commands, \
         of which tshark shows the first; {redacted} SASL responses redacted)",
        ours.len()
    );
    ours
}

#[test]
fn live_pop3_export_equals_what_was_served() {
    let Some((t, cap)) = live_fetch(110, POP3_SERVER, POP3_CLIENT) else {
        return;
    };
    let out = export_checked("pop3", &cap, t.path());
    check_fetched("pop3", &out, t.path());
    // Nothing of it is IMAP or SMTP.
    let (so, _) = wiresift(&["read", cap.to_str().unwrap(), "-Y", "imap || smtp"]);
    assert_eq!(so, "", "POP3 taken for another protocol");
    let commands = commands_match_tshark(&cap, "pop", "pop.request.command", &[&plain_token()]);
    for c in [
        "USER",
        "PASS",
        "APOP",
        "AUTH",
        "CAPA",
        "STAT",
        "LIST",
        "UIDL",
        "RETR",
        "TOP",
        "DELE",
        "NOOP",
        "QUIT",
        "RETR,TOP,retr",
    ] {
        assert!(commands.iter().any(|l| l == c), "no {c} among {commands:?}");
    }
    let (shown, _) = wiresift(&[
        "read",
        cap.to_str().unwrap(),
        "-Y",
        "pop.request",
        "-T",
        "fields",
        "-e",
        "pop.request",
        "-e",
        "pop.request.parameter",
    ]);
    for secret in [PASSWORD, &plain_token()] {
        assert!(
            !shown.contains(secret),
            "pop.request shows the password: {shown}"
        );
    }
    for redacted in ["PASS <redacted>\t<redacted>", "<redacted>\t"] {
        assert!(
            shown.lines().any(|l| l == redacted),
            "{redacted:?} not in {shown}"
        );
    }
}

#[test]
fn live_imap_export_equals_what_was_served() {
    let Some((t, cap)) = live_fetch(143, IMAP_SERVER, IMAP_CLIENT) else {
        return;
    };
    let out = export_checked("imap", &cap, t.path());
    check_fetched("imap", &out, t.path());
    let (shown, _) = wiresift(&[
        "read",
        cap.to_str().unwrap(),
        "-Y",
        "imap.request",
        "-T",
        "fields",
        "-e",
        "imap.request",
    ]);
    for secret in [PASSWORD, &plain_token()] {
        assert!(
            !shown.contains(secret),
            "imap.request shows the password: {shown}"
        );
    }
    assert!(
        shown.contains(" LOGIN alice@example.org <redacted>\n"),
        "{shown}"
    );
    assert!(shown.lines().any(|l| l == "<redacted>"), "{shown}");
    commands_match_tshark(
        &cap,
        "imap.request",
        "imap.request.command",
        &[&plain_token()],
    );
}
