//! `wiresift export smtp` against ground truth, live: in a network namespace pair, Python's
//! smtplib (and raw sockets, for PIPELINING and BDAT) sends 50 messages — plain, HTML, binary
//! attachments, non-ASCII subjects and file names, AUTH PLAIN, one rejected recipient, several
//! messages per connection, RSET — to a small SMTP server of the test's own (stdlib Python,
//! with CHUNKING, which aiosmtpd lacks) that stores what it receives. `wiresift capture`
//! records the traffic; each exported `.eml` must equal the stored message byte for byte, each
//! attachment the original file, and the manifest's envelope what was sent.

mod common;
#[path = "common/netns.rs"]
#[allow(dead_code)]
mod netns;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
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

fn wait_for_port(ns: &Netns, ip: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let probe = format!("import socket; socket.create_connection(('{ip}', 25), 1).close()");
    while !ns.run(&ns.a.clone(), &["python3", "-c", &probe]) {
        assert!(Instant::now() < deadline, "SMTP server did not start");
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
    wait_for_port(&ns, "10.200.0.2");
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
