// A stand-in for `wiresift ui` that serves static/ and canned JSON per docs/ui-api.md, for
// front-end work and front-end-only tests without the Rust binary.
//
//   node e2e/mock-server.mjs [--port 8091] [--root ../../../tests/data] [FILE...]
//   node e2e/mock-server.mjs --proxy 'http://127.0.0.1:8090/?token=T' [--port 8091]
//
// The second form serves static/ from disk and forwards /api/ to a real server (no rebuild of
// the binary, which embeds static/, between front-end changes).
//
// Prints `wiresift ui: http://127.0.0.1:PORT/?token=T` like the real server. Data: for a capture
// X with a `X.tcpdump.txt` beside it, rows come from that text; `big.pcap` is 1.2 million
// synthetic rows indexed over ~4 s; `hostile.pcap` carries markup in every text field.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const STATIC = path.join(here, '..', 'static');

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml' };

export const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
// A 1x1 PNG (red).
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

const COLORS = [
  { name: 'Bad TCP', filter: 'tcp.analysis.flags && !tcp.analysis.window_update', fg: '#f78787', bg: '#000000' },
  { name: 'HTTP', filter: 'http || tcp.port == 80 || http2', fg: '#12272e', bg: '#e4ffc7' },
  { name: 'TCP SYN/FIN', filter: 'tcp.flags & 0x02 || tcp.flags.fin == 1', fg: '#12272e', bg: '#a0a0a0' },
  { name: 'TCP', filter: 'tcp', fg: '#12272e', bg: '#e7e6ff' },
  { name: 'UDP', filter: 'udp', fg: '#12272e', bg: '#daeeff' },
  { name: 'ARP', filter: 'arp', fg: '#12272e', bg: '#faf0d7' },
];

const FIELDS = [
  ['frame', 'FT_PROTOCOL', 'Frame'], ['frame.number', 'FT_UINT32', 'Frame Number'], ['frame.len', 'FT_UINT32', 'Frame length on the wire'],
  ['eth', 'FT_PROTOCOL', 'Ethernet'], ['eth.src', 'FT_ETHER', 'Source'], ['eth.dst', 'FT_ETHER', 'Destination'], ['eth.addr', 'FT_ETHER', 'Address'],
  ['ip', 'FT_PROTOCOL', 'Internet Protocol Version 4'], ['ip.src', 'FT_IPv4', 'Source Address'], ['ip.dst', 'FT_IPv4', 'Destination Address'], ['ip.addr', 'FT_IPv4', 'Source or Destination Address'], ['ip.ttl', 'FT_UINT8', 'Time to Live'],
  ['tcp', 'FT_PROTOCOL', 'Transmission Control Protocol'], ['tcp.port', 'FT_UINT16', 'Source or Destination Port'], ['tcp.srcport', 'FT_UINT16', 'Source Port'], ['tcp.dstport', 'FT_UINT16', 'Destination Port'], ['tcp.stream', 'FT_UINT32', 'Stream index'], ['tcp.flags', 'FT_UINT16', 'Flags'], ['tcp.len', 'FT_UINT32', 'TCP Segment Len'],
  ['udp', 'FT_PROTOCOL', 'User Datagram Protocol'], ['udp.port', 'FT_UINT16', 'Source or Destination Port'], ['udp.stream', 'FT_UINT32', 'Stream index'],
  ['http', 'FT_PROTOCOL', 'Hypertext Transfer Protocol'], ['http.request', 'FT_BOOLEAN', 'Request'], ['http.request.method', 'FT_STRING', 'Request Method'], ['http.request.uri', 'FT_STRING', 'Request URI'], ['http.host', 'FT_STRING', 'Host'], ['http.response.code', 'FT_UINT16', 'Status Code'], ['http.user_agent', 'FT_STRING', 'User-Agent'],
  ['tls', 'FT_PROTOCOL', 'Transport Layer Security'], ['dns', 'FT_PROTOCOL', 'Domain Name System'], ['dns.qry.name', 'FT_STRING', 'Name'],
].map(([name, kind, desc]) => ({ name, kind, desc }));

/** Rows from a tcpdump text file. */
function rowsFromTcpdump(text) {
  const out = [];
  let prev = null;
  let first = null;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^(\d\d:\d\d:\d\d\.\d+) (IP6?|ARP|[A-Za-z0-9]+),? (.*)$/.exec(line);
    if (!m) continue;
    const [, time, kind, rest] = m;
    let src = '';
    let dst = '';
    let info = rest;
    let proto = kind === 'IP' || kind === 'IP6' ? 'IP' : kind;
    const a = /^(\S+) > (\S+?):\s(.*)$/.exec(rest);
    if (a) {
      const strip = (x) => x.replace(/\.(\d+)$/, '');
      src = strip(a[1]);
      dst = strip(a[2]);
      info = a[3];
      proto = /Flags \[/.test(info) ? 'TCP' : /UDP|udp/.test(info) ? 'UDP' : proto;
      if (/HTTP/.test(info)) proto = 'HTTP';
      if (/\b(A|AAAA|PTR|CNAME)\?/.test(info)) proto = 'DNS';
    }
    const t = time.split(':').reduce((acc, x) => acc * 60 + Number(x), 0);
    first ??= t;
    const len = Number(/length (\d+)/.exec(info)?.[1] ?? 0) + 54;
    out.push({ no: out.length + 1, timeAbs: time, rel: t - first, delta: prev == null ? 0 : t - prev, src, dst, proto, len, info, line });
    prev = t;
  }
  return out;
}

function bigRow(i) {
  const no = i + 1;
  const tcp = no % 5 !== 0;
  const t = no * 0.000731;
  const s = `10.${(no >> 16) & 255}.${(no >> 8) & 255}.${no & 255}`;
  return {
    no, timeAbs: `12:00:${String(Math.floor(t % 60)).padStart(2, '0')}.${String(Math.floor((t % 1) * 1e6)).padStart(6, '0')}`,
    rel: t, delta: 0.000731, src: s, dst: '192.0.2.1', proto: tcp ? 'TCP' : 'UDP', len: 60 + (no % 1400),
    info: tcp ? `Flags [.], ack ${no}, win 512, length 0` : `UDP, length ${no % 512}`, line: '',
  };
}

function makeSession(id, name, rel, root) {
  const s = { id, name, path: rel, marks: new Set(), filters: new Map(), keys: { keylog: 0, rsa: 0 }, started: Date.now(), objectsStarted: false, decrypted: false };
  if (name === 'big.pcap') {
    s.total = 10_000_000;
    s.rowAt = bigRow;
    s.indexMs = 4000;
  } else {
    let rows = [];
    const txt = path.join(root, `${rel}.tcpdump.txt`);
    if (fs.existsSync(txt)) rows = rowsFromTcpdump(fs.readFileSync(txt, 'utf8'));
    if (/hostile/.test(name) || !rows.length) {
      rows = Array.from({ length: 12 }, (_, i) => ({
        no: i + 1, timeAbs: `10:00:0${Math.floor(i / 2)}.${String(i * 1000).padStart(6, '0')}`, rel: i * 0.5, delta: 0.5,
        src: /hostile/.test(name) ? `10.0.0.1${HOSTILE}` : '10.0.0.1', dst: '10.0.0.2', proto: i % 3 ? 'TCP' : 'HTTP', len: 100 + i,
        info: /hostile/.test(name) ? `GET /${HOSTILE} HTTP/1.1` : `Flags [P.], seq ${i}, length 10`, line: '',
      }));
    }
    s.rows = rows;
    s.total = rows.length;
    s.rowAt = (i) => s.rows[i];
    s.indexMs = 600;
  }
  return s;
}

function indexed(s) {
  const f = Math.min(1, (Date.now() - s.started) / s.indexMs);
  return { frames: Math.floor(s.total * f), done: f >= 1 };
}

/** A tiny filter "engine" for the mock: enough forms for the front-end tests. */
function matcher(expr) {
  expr = expr.trim();
  if (!expr) return () => true;
  let m;
  if ((m = /^!\s*\((.*)\)$/.exec(expr)) || (m = /^not\s+(.*)$/.exec(expr))) {
    const inner = matcher(m[1]);
    return (r) => !inner(r);
  }
  if ((m = /^(.*?)\s+(?:and|&&)\s+(.*)$/.exec(expr))) {
    const a = matcher(m[1]);
    const b = matcher(m[2]);
    return (r) => a(r) && b(r);
  }
  if ((m = /^(tcp|udp)\.port\s*(?:==|eq)\s*(\d+)$/.exec(expr))) {
    const p = m[2];
    return (r) => (r.line ? new RegExp(`\\.${p}[ :]`).test(r.line) : (r.no % 2 === 0));
  }
  if ((m = /^(tcp|udp)\.stream\s*(?:==|eq)\s*(\d+)$/.exec(expr))) {
    const proto = m[1].toUpperCase();
    return (r) => (proto === 'TCP' ? r.proto === 'TCP' || r.proto === 'HTTP' : r.proto === proto);
  }
  if ((m = /^frame\.number\s*(==|>|<|>=|<=)\s*(\d+)$/.exec(expr))) {
    const n = Number(m[2]);
    const op = m[1];
    return (r) => (op === '==' ? r.no === n : op === '>' ? r.no > n : op === '<' ? r.no < n : op === '>=' ? r.no >= n : r.no <= n);
  }
  if (/^http(\.request)?$/.test(expr)) return (r) => r.proto === 'HTTP';
  if (/^[a-z0-9]+$/.test(expr)) return (r) => r.proto.toLowerCase().startsWith(expr) || (expr === 'tcp' && r.proto === 'HTTP') || (expr === 'ip');
  return () => true;
}

function check(expr) {
  if (!expr.trim()) return { ok: true };
  const re = /[A-Za-z_][A-Za-z0-9_.-]*/g;
  let m;
  const known = new Set(FIELDS.map((f) => f.name));
  const words = new Set(['and', 'or', 'not', 'xor', 'eq', 'ne', 'contains', 'matches', 'in', 'gt', 'lt', 'ge', 'le', 'true', 'false']);
  while ((m = re.exec(expr))) {
    const w = m[0];
    if (words.has(w) || /^[0-9a-f:.]+$/i.test(w)) continue;
    const before = expr.slice(0, m.index);
    if ((before.match(/"/g) ?? []).length % 2) continue;
    if (/(==|!=|eq|ne|contains|matches)\s*$/.test(before)) continue;
    if (!known.has(w)) {
      const col = m.index;
      const message = `"${w}" is neither a field nor a protocol name.`;
      return { ok: false, column: col, message, rendered: `${expr}\n${' '.repeat(col)}${'^'.repeat(w.length)}\n${message}` };
    }
  }
  if (/==\s*$/.test(expr)) return { ok: false, column: expr.length, message: 'Missing value.', rendered: `${expr}\n${' '.repeat(expr.length)}^\nMissing value.` };
  return { ok: true };
}

function view(s, filter) {
  const { frames } = indexed(s);
  if (!filter) return { total: frames, at: (i) => s.rowAt(i) };
  let v = s.filters.get(filter);
  if (!v || v.frames !== frames) {
    const f = matcher(filter);
    const idx = [];
    for (let i = 0; i < frames; i++) if (f(s.rowAt(i))) idx.push(i);
    v = { frames, idx };
    s.filters.set(filter, v);
  }
  return { total: v.idx.length, at: (i) => s.rowAt(v.idx[i]), idx: v.idx };
}

function colorOf(r) {
  if (/Flags \[S|Flags \[F/.test(r.info)) return 'TCP SYN/FIN';
  if (r.proto === 'HTTP') return 'HTTP';
  if (r.proto === 'TCP') return 'TCP';
  if (r.proto === 'UDP' || r.proto === 'DNS') return 'UDP';
  return null;
}

function timeText(r, fmt, prevShown) {
  switch (fmt) {
    case 'date': return `2013-03-18 ${r.timeAbs}`;
    case 'relative': return r.rel.toFixed(6);
    case 'delta': return r.delta.toFixed(6);
    case 'delta_displayed': return prevShown == null ? '0.000000' : (r.rel - prevShown.rel).toFixed(6);
    case 'epoch': return (1363624631 + r.rel).toFixed(6);
    default: return r.timeAbs;
  }
}

function frameBytes(r) {
  const b = Buffer.alloc(Math.max(60, Math.min(r.len, 400)));
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + r.no) & 255;
  Buffer.from('GET /gzip HTTP/1.1\r\nHost: example\r\n').copy(b, 54);
  return b;
}

function tree(s, r) {
  const hostile = /hostile/.test(s.name);
  const label = (x) => (hostile ? `${x} ${HOSTILE}` : x);
  const tcp = r.proto === 'TCP' || r.proto === 'HTTP';
  const nodes = [
    { label: `Frame ${r.no}: ${r.len} bytes on wire`, field: 'frame', start: 0, end: r.len, children: [
      { label: `Frame Number: ${r.no}`, field: 'frame.number', value: String(r.no) },
      { label: `Frame Length: ${r.len} bytes`, field: 'frame.len', value: String(r.len) },
    ] },
    { label: 'Ethernet II, Src: 00:11:22:33:44:55, Dst: 66:77:88:99:aa:bb', field: 'eth', start: 0, end: 14, children: [
      { label: 'Destination: 66:77:88:99:aa:bb', field: 'eth.dst', value: '66:77:88:99:aa:bb', start: 0, end: 6 },
      { label: 'Source: 00:11:22:33:44:55', field: 'eth.src', value: '00:11:22:33:44:55', start: 6, end: 12 },
      { label: 'Type: IPv4 (0x0800)', field: 'eth.type', value: '0x0800', start: 12, end: 14 },
    ] },
    { label: label(`Internet Protocol Version 4, Src: ${r.src}, Dst: ${r.dst}`), field: 'ip', start: 14, end: 34, children: [
      { label: 'Time to Live: 64', field: 'ip.ttl', value: '64', start: 22, end: 23 },
      { label: label(`Source Address: ${r.src}`), field: 'ip.src', value: r.src, start: 26, end: 30 },
      { label: `Destination Address: ${r.dst}`, field: 'ip.dst', value: r.dst, start: 30, end: 34 },
    ] },
  ];
  if (tcp) {
    nodes.push({ label: 'Transmission Control Protocol, Src Port: 50153, Dst Port: 80', field: 'tcp', start: 34, end: 54, children: [
      { label: 'Source Port: 50153', field: 'tcp.srcport', value: '50153', start: 34, end: 36 },
      { label: 'Destination Port: 80', field: 'tcp.dstport', value: '80', start: 36, end: 38 },
      { label: '[Stream index: 0]', field: 'tcp.stream', value: '0' },
      { label: 'Flags: 0x018 (PSH, ACK)', field: 'tcp.flags', value: '0x018', start: 46, end: 48, children: [
        { label: '.... .... 1... = Push: Set', field: 'tcp.flags.push', value: '1', start: 46, end: 48 },
      ] },
    ] });
  }
  if (r.proto === 'HTTP' || hostile) {
    nodes.push({ label: 'Hypertext Transfer Protocol', field: 'http', start: 54, end: Math.min(r.len, 90), children: [
      { label: label('GET /gzip HTTP/1.1\\r\\n'), field: 'http.request.method', value: 'GET', string: true, start: 54, end: 57 },
      { label: label('Host: example\\r\\n'), field: 'http.host', value: hostile ? `example${HOSTILE}` : 'example', string: true, start: 74, end: 89 },
    ] });
  }
  return nodes;
}

function followData(s) {
  const hostile = /hostile/.test(s.name);
  const req = `GET /gzip HTTP/1.1\r\nHost: httpbin.org\r\nUser-Agent: ${hostile ? HOSTILE : 'curl/7.24.0'}\r\nAccept: */*\r\n\r\n`;
  const resp = `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${hostile ? HOSTILE.length + 6 : 20}\r\n\r\n${hostile ? `<p>${HOSTILE}</p>` : 'hello, \u00e9t\u00e9 \x01\x02 world'}`;
  const a = Buffer.from(req);
  const b = Buffer.from(resp, 'latin1');
  return { a, b };
}

function objectsOf(s) {
  const hostile = /hostile/.test(s.name);
  const html = Buffer.from(hostile ? `<html><body>${HOSTILE}</body></html>` : '<html><body><h1>gzip</h1></body></html>\n');
  const list = [
    { id: 0, kind: 'http', stream: 0, frames: [6, 8], url: hostile ? `http://ex${HOSTILE}/x` : 'http://httpbin.org/gzip', content_type: 'text/html', file: hostile ? `a${HOSTILE}.html` : 'gzip.html', body: html },
    { id: 1, kind: 'http', stream: 0, frames: [9, 9], url: 'http://httpbin.org/pixel.png', content_type: 'image/png', file: 'pixel.png', body: PNG },
    { id: 2, kind: 'smtp', protocol: 'smtp', stream: 1, first_frame: 11, server: '192.0.2.25:25', content_type: 'message/rfc822', file: '1-1-hello.eml', body: Buffer.from('Subject: hello\r\n\r\nbody\r\n') },
  ];
  return list.map((o) => ({ ...o, size: o.body.length, sha256: crypto.createHash('sha256').update(o.body).digest('hex') }));
}

/**
 * `--proxy URL`: static/ from disk, /api/ forwarded to a real `wiresift ui` (its URL with the
 * token), so the front end can be changed without rebuilding the binary that embeds it.
 * @param {string} target
 * @param {number} port
 */
function startProxy(target, port) {
  const t = new URL(target);
  const upstreamToken = t.searchParams.get('token') ?? '';
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (!u.pathname.startsWith('/api/')) {
      const name = u.pathname === '/' ? 'index.html' : u.pathname.slice(1);
      const file = path.join(STATIC, name);
      if (name.includes('/') || name.includes('..') || !fs.existsSync(file)) {
        res.writeHead(404);
        res.end('not found');
        return;
      }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(name)] ?? 'application/octet-stream', 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' });
      res.end(fs.readFileSync(file));
      return;
    }
    const headers = { ...req.headers, host: t.host, authorization: `Bearer ${upstreamToken}` };
    delete headers.cookie;
    if (headers.origin) headers.origin = `${t.protocol}//${t.host}`;
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(up);
  });
  server.listen(port, '127.0.0.1', () => {
    const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
    console.log(`wiresift ui (proxy to ${t.host}): http://127.0.0.1:${addr.port}/`);
  });
}

/** @param {{port?: number, root?: string, files?: string[], quiet?: boolean}} opts */
export function startMock(opts = {}) {
  const root = path.resolve(opts.root ?? path.join(here, '..', '..', '..', '..', 'tests', 'data'));
  const token = crypto.randomBytes(16).toString('hex');
  const sessions = new Map();
  const recent = [];
  let nextId = 1;
  const open = (rel, name = path.basename(rel)) => {
    const id = `s${nextId++}`;
    const s = makeSession(id, name, rel, root);
    sessions.set(id, s);
    recent.unshift({ path: rel, name, opened: Math.floor(Date.now() / 1000) });
    recent.splice(10);
    return s;
  };
  for (const f of opts.files ?? []) open(f);

  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const send = (status, body, type = 'application/json', extra = {}) => {
      res.writeHead(status, { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-store', 'Content-Type': type, ...extra });
      res.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    };
    const err = (status, msg, more = {}) => send(status, { error: msg, ...more });
    const body = () => new Promise((resolve) => {
      const parts = [];
      req.on('data', (c) => parts.push(c));
      req.on('end', () => resolve(Buffer.concat(parts)));
    });
    if (u.searchParams.get('token') === token) {
      u.searchParams.delete('token');
      res.writeHead(303, { 'Set-Cookie': `wiresift_token=${token}; HttpOnly; SameSite=Strict; Path=/`, Location: u.pathname + (u.search || '') });
      res.end();
      return;
    }
    const cookie = req.headers.cookie ?? '';
    const authed = cookie.split(/;\s*/).includes(`wiresift_token=${token}`) || req.headers.authorization === `Bearer ${token}`;
    if (!authed) return err(401, 'not authenticated');
    const p = u.pathname;
    const q = (k) => u.searchParams.get(k);
    if (!p.startsWith('/api/')) {
      const name = p === '/' ? 'index.html' : p.slice(1);
      if (name.includes('/') || name.includes('..')) return err(404, 'not found');
      const file = path.join(STATIC, name);
      if (!fs.existsSync(file)) return err(404, 'not found');
      return send(200, fs.readFileSync(file), TYPES[path.extname(name)] ?? 'application/octet-stream');
    }
    try {
      if (p === '/api/files') {
        const dir = q('dir') ?? '';
        if (dir.includes('..') || path.isAbsolute(dir)) return err(403, 'outside the root');
        const abs = path.join(root, dir);
        const entries = fs.readdirSync(abs, { withFileTypes: true })
          .filter((e) => e.isDirectory() || /\.(pcap|pcapng|cap)(\.gz)?$/.test(e.name))
          .map((e) => {
            const st = fs.statSync(path.join(abs, e.name));
            return { name: e.name, path: path.posix.join(dir, e.name), dir: e.isDirectory(), size: st.size, mtime: Math.floor(st.mtimeMs / 1000) };
          })
          .sort((a, b) => (a.dir === b.dir ? a.name.localeCompare(b.name) : a.dir ? -1 : 1));
        return send(200, { dir, entries });
      }
      if (p === '/api/recent') return send(200, { files: recent });
      if (p === '/api/colors') return send(200, { rules: COLORS });
      if (p === '/api/filter/check') return send(200, check(q('expr') ?? ''));
      if (p === '/api/fields') {
        const pre = q('prefix') ?? '';
        const lim = Number(q('limit') ?? 50);
        return send(200, { fields: FIELDS.filter((f) => f.name.startsWith(pre)).slice(0, lim) });
      }
      if (p === '/api/upload' && req.method === 'POST') {
        const b = await body();
        const name = q('name') ?? 'upload.pcap';
        const s = open(`upload/${name}`, name);
        s.uploaded = b.length;
        return send(200, { id: s.id, name: s.name, path: s.path });
      }
      if (p === '/api/sessions' && req.method === 'GET') return send(200, { sessions: [...sessions.values()].map((s) => ({ id: s.id, name: s.name, path: s.path })) });
      if (p === '/api/sessions' && req.method === 'POST') {
        const { path: rel } = JSON.parse((await body()).toString() || '{}');
        if (!rel || rel.includes('..')) return err(403, 'outside the root');
        if (!fs.existsSync(path.join(root, rel)) && !/big|hostile/.test(rel)) return err(404, `no such file: ${rel}`);
        const s = open(rel);
        return send(200, { id: s.id, name: s.name, path: s.path });
      }
      const m = /^\/api\/sessions\/([^/]+)(\/.*)?$/.exec(p);
      if (!m) return err(404, 'no such endpoint');
      const s = sessions.get(m[1]);
      if (!s) return err(404, 'unknown session');
      const sub = m[2] ?? '';
      const filter = q('filter') ?? '';
      if (sub === '' && req.method === 'DELETE') {
        sessions.delete(s.id);
        return send(200, { closed: s.id });
      }
      if (sub === '/status') {
        const ix = indexed(s);
        return send(200, { frames: ix.frames, bytes: ix.frames * 100, total_bytes: s.total * 100, done: ix.done, error: null, elapsed_ms: Math.min(Date.now() - s.started, s.indexMs), keys: s.keys, marked: s.marks.size });
      }
      if (sub === '/info') {
        return send(200, { format: 'pcap', encapsulations: ['Ethernet'], interfaces: [{ name: 'eth0', description: null, link: 'Ethernet', snaplen: 65535, filter: null, os: null, received: null, dropped: null }], frames: s.total, bytes: s.total * 100, first_ns: 1363624631382875000, last_ns: 1363624631441632000, duration_s: 0.058757, avg_size: 100, avg_pps: 238.3, avg_bps: 190640, secrets: 0, damage: null });
      }
      if (sub === '/rows') {
        const v = view(s, filter);
        const start = Number(q('start') ?? 0);
        const count = Math.min(1000, Number(q('count') ?? 100));
        const rows = [];
        for (let i = start; i < Math.min(v.total, start + count); i++) {
          const r = v.at(i);
          const prev = i > 0 ? v.at(i - 1) : null;
          const transport = r.proto === 'TCP' || r.proto === 'HTTP' ? 'tcp' : r.proto === 'UDP' || r.proto === 'DNS' ? 'udp' : null;
          rows.push({ no: r.no, time: timeText(r, q('time') ?? 'absolute', prev), src: r.src, dst: r.dst, proto: r.proto, len: r.len, info: r.info, color: colorOf(r), marked: s.marks.has(r.no), line: r.line, stream: transport ? 0 : null, transport });
        }
        const ix = indexed(s);
        return send(200, { total: v.total, indexed: ix.frames, done: ix.done, rows });
      }
      if (sub === '/position') {
        const n = Number(q('frame'));
        const v = view(s, filter);
        if (!v.idx) return send(200, { position: n >= 1 && n <= v.total ? n - 1 : null, nearest: n <= v.total ? Math.max(0, n - 1) : null });
        const pos = v.idx.findIndex((i) => s.rowAt(i).no === n);
        const nearest = v.idx.findIndex((i) => s.rowAt(i).no >= n);
        return send(200, { position: pos < 0 ? null : pos, nearest: nearest < 0 ? null : nearest });
      }
      if (sub === '/marks' && req.method === 'POST') {
        const b = JSON.parse((await body()).toString());
        if (b.all) s.marks.clear();
        for (const f of b.frames ?? []) (b.marked ? s.marks.add(f) : s.marks.delete(f));
        return send(200, { marked: s.marks.size });
      }
      if (sub === '/filter' && req.method === 'POST') {
        const { expr } = JSON.parse((await body()).toString());
        const c = check(expr);
        if (!c.ok) return err(400, c.message, c);
        const t0 = Date.now();
        const cached = s.filters.has(expr);
        const v = view(s, expr);
        return send(200, { expr, count: v.total, ms: Date.now() - t0, cached });
      }
      let fm;
      if ((fm = /^\/frames\/(\d+)$/.exec(sub))) {
        const no = Number(fm[1]);
        if (no < 1 || no > s.total) return err(404, 'no such frame');
        const r = s.rowAt(no - 1);
        const tabs = [{ name: `Frame (${frameBytes(r).length} bytes)`, hex: frameBytes(r).toString('hex') }];
        if (r.proto === 'HTTP') tabs.push({ name: 'Reassembled TCP (40 bytes)', hex: Buffer.from('GET /gzip HTTP/1.1\r\nHost: httpbin.org\r\n\r\n').toString('hex') });
        return send(200, { no, tree: tree(s, r), tabs });
      }
      if (sub === '/follow') {
        const { a, b } = followData(s);
        const stream = Number(q('stream') ?? 0);
        return send(200, { proto: q('proto'), stream, client: '141.142.228.5:50153', server: '54.243.118.187:80', chunks: [{ dir: 0, frame: 4, data: a.toString('base64') }, { dir: 1, frame: 6, data: b.toString('base64') }], bytes: [a.length, b.length], truncated: false, streams: 3 });
      }
      if (sub === '/follow/text') {
        const { a, b } = followData(s);
        const fmt = q('format');
        const text = fmt === 'yaml' ? `peers:\n  - peer: 0\n    host: 141.142.228.5\n    port: 50153\npackets:\n  - packet: 4\n    peer: 0\n    data: !!binary |\n      ${a.toString('base64')}\n`
          : fmt === 'raw' ? `${a.toString('hex')}\n\t${b.toString('hex')}\n` : `00000000  ${[...a.subarray(0, 16)].map((x) => x.toString(16).padStart(2, '0')).join(' ')}\n`;
        return send(200, `===================================================================\nFollow: ${q('proto')},${fmt}\nFilter: tcp.stream eq ${q('stream')}\n${text}===================================================================\n`, 'text/plain; charset=utf-8');
      }
      if (sub === '/follow/bytes') {
        const { a, b } = followData(s);
        const dir = q('dir') ?? 'both';
        const bytes = dir === '0' ? a : dir === '1' ? b : Buffer.concat([a, b]);
        return send(200, bytes, 'application/octet-stream', { 'Content-Disposition': `attachment; filename="stream-${q('stream')}.bin"` });
      }
      if (sub === '/objects' && req.method === 'POST') {
        s.objectsStarted = Date.now();
        return send(202, { started: true });
      }
      if (sub === '/objects') {
        const done = !!s.objectsStarted && Date.now() - s.objectsStarted > 300;
        const list = objectsOf(s).map(({ body: _b, ...rec }) => rec);
        return send(200, { done, objects: done ? list : list.slice(0, 1) });
      }
      if ((fm = /^\/objects\/(\d+)$/.exec(sub))) {
        const o = objectsOf(s).find((x) => x.id === Number(fm[1]));
        if (!o) return err(404, 'no such object');
        if (q('inline')) return send(200, o.body, o.content_type.startsWith('image/') ? o.content_type : 'text/plain; charset=utf-8');
        return send(200, o.body, 'application/octet-stream', { 'Content-Disposition': `attachment; filename="object-${o.id}"` });
      }
      if (sub === '/objects.zip') return send(200, Buffer.from('PK\x05\x06' + '\0'.repeat(18), 'latin1'), 'application/zip', { 'Content-Disposition': 'attachment; filename="objects.zip"' });
      if (sub === '/stats/hierarchy') {
        return send(200, { frames: s.total, bytes: s.total * 100, children: [{ name: 'eth', frames: s.total, bytes: s.total * 100, children: [{ name: 'ip', frames: s.total, bytes: s.total * 100, children: [{ name: 'tcp', frames: s.total - 2, bytes: s.total * 90, children: [{ name: 'http', frames: 2, bytes: 600, children: [] }] }, { name: 'udp', frames: 2, bytes: 200, children: [] }] }] }] });
      }
      if (sub === '/stats/conversations') {
        const t = q('type');
        const ports = t === 'tcp' || t === 'udp';
        const row = (a, pa, b, pb, fab, bab, fba, bba, start, dur, stream) => ({
          address_a: a, port_a: ports ? pa : null, address_b: b, port_b: ports ? pb : null, packets: fab + fba, bytes: bab + bba,
          packets_a_to_b: fab, bytes_a_to_b: bab, packets_b_to_a: fba, bytes_b_to_a: bba, rel_start: start, duration: dur,
          stream: ports ? stream : null, filter: ports ? `${t}.stream eq ${stream}` : `ip.addr==${a} && ip.addr==${b}`,
        });
        return send(200, { kind: t, title: t.toUpperCase(), limit: 100000, overflow: { frames: 0, bytes: 0 }, rows: [
          row(t === 'eth' ? '00:11:22:33:44:55' : '141.142.228.5', 50153, t === 'eth' ? '66:77:88:99:aa:bb' : '54.243.118.187', 80, 7, 600, 7, 900, 0, 0.0588, 0),
          row('10.0.0.1', 1234, '10.0.0.2', 53, 1, 80, 1, 120, 0.01, 0.001, 1),
        ] });
      }
      if (sub === '/stats/endpoints') {
        const t = q('type');
        const ports = t === 'tcp' || t === 'udp';
        const row = (address, port, txp, txb, rxp, rxb) => ({ address, port: ports ? port : null, packets: txp + rxp, bytes: txb + rxb, tx_packets: txp, tx_bytes: txb, rx_packets: rxp, rx_bytes: rxb, filter: ports ? `ip.addr==${address} && ${t}.port==${port}` : `ip.addr==${address}` });
        return send(200, { kind: t, title: t, limit: 100000, overflow: { frames: 0, bytes: 0 }, rows: [row('141.142.228.5', 50153, 7, 600, 7, 900), row('54.243.118.187', 80, 7, 900, 7, 600)] });
      }
      if (sub === '/stats/io') {
        const ms = Number(q('interval_ms') ?? 1000);
        const n = Math.max(1, Math.ceil(60000 / ms));
        const filters = (q('filters') ?? '').split(',');
        return send(200, { interval_ms: ms, widened_from: null, start_ns: 1363624631382875000, intervals: n, series: filters.map((f) => {
          const k = f ? 0.4 : 1;
          const packets = Array.from({ length: n }, (_, i) => Math.round(k * (20 + 15 * Math.sin(i / 4) + (i % 7))));
          return { filter: f || null, packets, bytes: packets.map((x) => x * 700), first_frame: packets.map((x, i) => (x ? Math.min(s.total, i + 1) : 0)), total_packets: packets.reduce((a, b) => a + b, 0), total_bytes: 0 };
        }) });
      }
      if (sub === '/stats/expert') {
        return send(200, { counts: { error: 0, warning: 2, note: 1, chat: 1 }, groups: [
          { severity: 'warning', group: 'Sequence', protocol: 'TCP', summary: 'Previous segment(s) not captured (common at capture start)', filter: 'tcp.analysis.lost_segment', count: 2, frames: [5, 8] },
          { severity: 'note', group: 'Sequence', protocol: 'TCP', summary: 'Duplicate ACK', filter: 'tcp.analysis.duplicate_ack', count: 1, frames: [7] },
          { severity: 'chat', group: 'Sequence', protocol: 'TCP', summary: 'Connection establish request (SYN)', filter: null, count: 1, frames: [1] },
        ] });
      }
      if (sub === '/keys' && req.method === 'POST') {
        await body();
        s.keys[q('kind') === 'rsa' ? 'rsa' : 'keylog'] += 1;
        s.started = Date.now();
        s.filters.clear();
        if (s.rows) s.rows = s.rows.map((r) => (r.proto === 'TCP' && /length [1-9]/.test(r.info) ? { ...r, proto: 'HTTP', info: `${r.info} [decrypted] GET / HTTP/1.1` } : r));
        return send(200, { ok: true, keys: s.keys });
      }
      if (sub === '/save') {
        return send(200, Buffer.from([0x0a, 0x0d, 0x0d, 0x0a]), 'application/octet-stream', { 'Content-Disposition': `attachment; filename="export.${q('format') ?? 'pcapng'}"` });
      }
      return err(404, 'no such endpoint');
    } catch (e) {
      return err(500, String(e?.stack ?? e));
    }
  });
  return new Promise((resolve) => {
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
      const url = `http://127.0.0.1:${addr.port}/?token=${token}`;
      if (!opts.quiet) console.log(`wiresift ui: ${url}`);
      resolve({ url, token, server, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const files = [];
  const opts = {};
  let proxy = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') opts.port = Number(args[++i]);
    else if (args[i] === '--root') opts.root = args[++i];
    else if (args[i] === '--proxy') proxy = args[++i];
    else files.push(args[i]);
  }
  if (proxy) startProxy(proxy, opts.port ?? 0);
  else startMock({ ...opts, files });
}
