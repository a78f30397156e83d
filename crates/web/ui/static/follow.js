// Follow Stream (TCP/UDP/TLS/HTTP), like Wireshark's dialog: the conversation as text, client
// data red and server data blue; one direction or both; ASCII / Hex Dump / Raw / YAML / UTF-8;
// another stream number; filter this stream out; save.

import { h, clear, fromBase64, download, size } from './dom.js';
import { api } from './api.js';
import { Dialog, showError } from './dialogs.js';

/** @typedef {import('./app.js').App} App */
/** @typedef {import('./app.js').Session} Session */
/** @typedef {import('./api.js').FollowResp} FollowResp */

/** @typedef {'ascii' | 'hex' | 'raw' | 'yaml' | 'utf8'} ShowAs */

/**
 * ASCII as Wireshark's follow shows it: printable bytes and \n \r \t as they are, '.' else.
 * @param {Uint8Array} b
 */
export function asciiText(b) {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    s += (c >= 0x20 && c < 0x7f) || c === 10 || c === 13 || c === 9 ? String.fromCharCode(c) : '.';
  }
  return s;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** The display filter that selects a stream. @param {string} proto @param {number} stream */
export function streamFilter(proto, stream) {
  return `${proto === 'udp' ? 'udp' : 'tcp'}.stream eq ${stream}`;
}

export class FollowDialog {
  /**
   * @param {App} app
   * @param {Session} session
   * @param {string} proto tcp | udp | tls | http
   * @param {number} stream
   * @param {string} previousFilter what to go back to with "Back"
   */
  constructor(app, session, proto, stream, previousFilter) {
    this.app = app;
    this.s = session;
    this.proto = proto;
    this.stream = stream;
    this.previousFilter = previousFilter;
    /** @type {FollowResp | null} */
    this.data = null;
    /** @type {Uint8Array[]} */
    this.decoded = [];
    /** The text shown now (for Save as…). */
    this.shown = '';
    this.d = new Dialog({ title: this.title(), className: 'follow' });
    this.text = h('pre', { class: 'follow-text mono', tabindex: '0', 'aria-label': 'Stream content' });
    this.summary = h('div', { class: 'follow-summary' });
    this.dir = h('select', { 'aria-label': 'Direction' });
    this.showAs = h('select', { 'aria-label': 'Show data as' },
      ...[['ascii', 'ASCII'], ['hex', 'Hex Dump'], ['raw', 'Raw'], ['yaml', 'YAML'], ['utf8', 'UTF-8']].map(([v, l]) => h('option', { value: v }, l)));
    this.streamNo = h('input', { type: 'number', min: '0', value: String(stream), class: 'stream-no', 'aria-label': 'Stream' });
    this.find = h('input', { type: 'search', placeholder: 'Find', 'aria-label': 'Find', class: 'follow-find' });
    this.d.body.append(
      this.text,
      this.summary,
      h('div', { class: 'follow-controls' },
        this.dir,
        h('label', null, 'Show data as ', this.showAs),
        h('label', null, 'Stream ', this.streamNo),
        this.find),
    );
    this.dir.addEventListener('change', () => this.render());
    this.showAs.addEventListener('change', () => this.render());
    this.streamNo.addEventListener('change', () => this.load(Number(this.streamNo.value)));
    this.find.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.findNext(this.find.value);
      }
    });
    this.d.button('Filter Out This Stream', () => this.filterOut(), { left: true });
    this.d.button('Save as…', () => this.save());
    this.d.button('Back', () => this.back(), { title: 'Close and restore the previous display filter' });
    this.d.button('Close', () => this.d.close(), { primary: true });
  }

  title() {
    const p = this.proto.toUpperCase();
    const c = this.data ? ` (${this.data.client} ↔ ${this.data.server})` : '';
    return `Follow ${p} Stream (${streamFilter(this.proto, this.stream)})${c} · ${this.s.name}`;
  }

  async open() {
    this.d.show(this.text);
    await this.load(this.stream);
  }

  /** @param {number} stream */
  async load(stream) {
    if (!Number.isFinite(stream) || stream < 0) return;
    this.text.classList.add('loading');
    try {
      const data = await api.follow(this.s.id, this.proto, { stream });
      this.data = data;
      this.stream = data.stream ?? stream;
      this.streamNo.value = String(this.stream);
      if (data.streams != null) this.streamNo.max = String(data.streams);
      this.decoded = data.chunks.map((c) => fromBase64(c.data));
      this.d.setTitle(this.title());
      const [c2s, s2c] = data.bytes ?? [0, 0];
      const keep = this.dir.value || 'both';
      clear(this.dir);
      this.dir.append(
        h('option', { value: 'both' }, `Entire conversation (${size(c2s + s2c)})`),
        h('option', { value: '0' }, `${data.client} → ${data.server} (${size(c2s)})`),
        h('option', { value: '1' }, `${data.server} → ${data.client} (${size(s2c)})`),
      );
      this.dir.value = keep;
      const turns = data.chunks.length;
      const cl = data.chunks.filter((c) => c.dir === 0).length;
      this.summary.textContent = `${cl} client pkts, ${turns - cl} server pkts, ${turns} turns.${data.truncated ? ' Shown: the first 16 MiB (Save as… has all of it).' : ''}`;
      if (this.app.list && this.s === this.app.current) {
        // Like Wireshark, the packet list shows the stream being followed.
        const f = streamFilter(this.proto, this.stream);
        if (this.s.filter !== f) await this.app.applyFilter(f, { toBar: true });
      }
      await this.render();
    } catch (e) {
      clear(this.text);
      this.text.append(`Cannot follow stream ${stream}: ${e instanceof Error ? e.message : e}`);
    } finally {
      this.text.classList.remove('loading');
    }
  }

  /** @returns {ShowAs} */
  get mode() {
    return /** @type {ShowAs} */ (this.showAs.value);
  }

  async render() {
    const data = this.data;
    if (!data) return;
    const dir = this.dir.value;
    const mode = this.mode;
    clear(this.text);
    if (mode === 'ascii' || mode === 'utf8') {
      const frag = document.createDocumentFragment();
      let all = '';
      data.chunks.forEach((c, i) => {
        if (dir !== 'both' && String(c.dir) !== dir) return;
        const t = mode === 'ascii' ? asciiText(this.decoded[i]) : utf8.decode(this.decoded[i]);
        all += t;
        frag.appendChild(h('span', { class: c.dir === 0 ? 'c2s' : 's2c', 'data-frame': c.frame }, t));
        if (c.missing) {
          // A gap in the capture, as Wireshark marks it.
          const gap = `[${c.missing} bytes missing in capture file]`;
          all += gap;
          frag.appendChild(h('span', { class: 'gap' }, gap));
        }
      });
      this.text.appendChild(frag);
      this.shown = all;
      return;
    }
    // Hex Dump, Raw and YAML are the CLI's own text.
    try {
      const t = await api.followText(this.s.id, this.proto, this.stream, mode);
      if (this.mode !== mode) return;
      this.shown = t;
      this.text.append(t);
    } catch (e) {
      this.text.append(`${e instanceof Error ? e.message : e}`);
    }
  }

  /** @param {string} q */
  findNext(q) {
    if (!q) return;
    const sel = window.getSelection();
    const text = this.text.textContent ?? '';
    let from = 0;
    if (sel && sel.rangeCount && this.text.contains(sel.anchorNode)) from = this.offsetOf(sel.focusNode, sel.focusOffset);
    let at = text.indexOf(q, from);
    if (at < 0) at = text.indexOf(q);
    if (at < 0 || !sel) return;
    const a = this.nodeAt(at);
    const b = this.nodeAt(at + q.length);
    if (!a || !b) return;
    const r = document.createRange();
    r.setStart(a.node, a.offset);
    r.setEnd(b.node, b.offset);
    sel.removeAllRanges();
    sel.addRange(r);
    a.node.parentElement?.scrollIntoView({ block: 'center' });
  }

  /** @param {Node | null} node @param {number} off */
  offsetOf(node, off) {
    let n = 0;
    const w = document.createTreeWalker(this.text, NodeFilter.SHOW_TEXT);
    for (let t = w.nextNode(); t; t = w.nextNode()) {
      if (t === node) return n + off;
      n += t.textContent?.length ?? 0;
    }
    return 0;
  }

  /** @param {number} at */
  nodeAt(at) {
    let n = 0;
    const w = document.createTreeWalker(this.text, NodeFilter.SHOW_TEXT);
    for (let t = w.nextNode(); t; t = w.nextNode()) {
      const len = t.textContent?.length ?? 0;
      if (at <= n + len) return { node: t, offset: at - n };
      n += len;
    }
    return null;
  }

  async filterOut() {
    const f = `!(${streamFilter(this.proto, this.stream)})`;
    this.d.close();
    await this.app.applyFilter(f, { toBar: true });
  }

  async back() {
    this.d.close();
    await this.app.applyFilter(this.previousFilter, { toBar: true });
  }

  save() {
    const dir = this.dir.value;
    const base = `${this.s.name.replace(/\.[^.]*$/, '')}-${this.proto}-stream-${this.stream}`;
    if (this.mode === 'raw') {
      // The exact bytes, from the server.
      this.app.download(api.followBytesUrl(this.s.id, this.proto, this.stream, dir), `${base}${dir === 'both' ? '' : `-dir${dir}`}.bin`);
      return;
    }
    const ext = this.mode === 'yaml' ? 'yaml' : 'txt';
    download(new Blob([this.shown], { type: 'text/plain' }), `${base}.${ext}`);
  }
}

/**
 * Opens Follow for a stream (or for the stream of a frame).
 * @param {App} app
 * @param {string} proto
 * @param {number} stream
 */
export async function openFollow(app, proto, stream) {
  const s = app.current;
  if (!s) return;
  try {
    await new FollowDialog(app, s, proto, stream, s.filter).open();
  } catch (e) {
    showError('Follow', e);
  }
}
