// Statistics windows: Capture File Properties, Protocol Hierarchy, Conversations, Endpoints
// and Expert Information. Each view reads its endpoint's JSON through one small parse function
// (parse*), so a change of the server's JSON touches one place.

import { h, clear, num, size, copyText, plural } from './dom.js';
import { api } from './api.js';
import { Dialog } from './dialogs.js';
import { contextMenu } from './menu.js';
import { DetailTree } from './detail.js';
import { openFollow } from './follow.js';

/** @typedef {import('./app.js').App} App */
/** @typedef {import('./api.js').TreeNode} TreeNode */

/** @param {unknown} e */
const errText = (e) => (e instanceof Error ? e.message : String(e));

/** @param {any} v @returns {number | null} */
const n = (v) => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : null);

/** @param {number | null | undefined} ns */
export function nsTime(ns) {
  if (ns == null) return '';
  // Nanoseconds since 1970 do not fit a double exactly: round to microseconds.
  const us = Math.round(ns / 1e3);
  const d = new Date(Math.floor(us / 1e6) * 1000);
  if (Number.isNaN(d.getTime())) return String(ns);
  const frac = String(us % 1e6).padStart(6, '0');
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}.${frac} UTC`;
}

/** @param {number | null | undefined} s */
function duration(s) {
  if (s == null) return '';
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  return `${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:${ss.toFixed(6).padStart(9, '0')}`;
}

// ---------------------------------------------------------------- Capture File Properties

/**
 * @param {Record<string, any>} j the `/info` answer
 * @returns {{title: string, rows: [string, string][]}[]}
 */
export function parseInfo(j) {
  /** @type {{title: string, rows: [string, string][]}[]} */
  const sec = [];
  /** @type {Set<string>} */
  const used = new Set();
  /** @param {string} k */
  const get = (k) => {
    used.add(k);
    return j[k];
  };
  /** @param {[string, string][]} rows */
  const keep = (rows) => rows.filter(([, v]) => v !== '');
  sec.push({ title: 'File', rows: keep([
    ['Name', String(get('name') ?? get('path') ?? '')],
    ['Length', n(get('file_size') ?? get('size')) == null ? '' : `${size(Number(j.file_size ?? j.size))} (${num(Number(j.file_size ?? j.size))} bytes)`],
    ['Format', String(get('format') ?? '')],
    ['Encapsulation', Array.isArray(get('encapsulations')) ? j.encapsulations.join(', ') : String(j.encapsulations ?? '')],
    ['Time precision', n(get('precision')) == null ? '' : `${j.precision} digits (${['seconds', '', '', 'milliseconds', '', '', 'microseconds', '', '', 'nanoseconds'][Number(j.precision)] || 'fraction'})`],
    ['Packets in time order', get('strict_order') == null ? '' : j.strict_order ? 'yes' : 'no'],
  ]) });
  sec.push({ title: 'Time', rows: keep([
    ['First packet', nsTime(n(get('first_ns')))],
    ['Last packet', nsTime(n(get('last_ns')))],
    ['Elapsed', duration(n(get('duration_s')))],
  ]) });
  for (const [i, it] of (Array.isArray(get('interfaces')) ? j.interfaces : []).entries()) {
    sec.push({ title: `Interface ${i}${it.name ? `: ${it.name}` : ''}`, rows: Object.entries(it).filter(([, v]) => v != null && v !== '').map(([k, v]) => [k, String(v)]) });
  }
  sec.push({ title: 'Statistics', rows: keep([
    ['Packets', num(n(get('frames')))],
    ['Bytes (captured)', num(n(get('bytes')))],
    ['Bytes (on the wire)', num(n(get('wire_bytes')))],
    ['Average packet size', n(get('avg_size')) == null ? '' : `${Number(j.avg_size).toFixed(1)} bytes`],
    ['Smallest / largest packet', n(get('min_len')) == null ? '' : `${j.min_len} / ${get('max_len')} bytes`],
    ['Average packets/s', n(get('avg_pps')) == null ? '' : Number(j.avg_pps).toFixed(1)],
    ['Average bits/s', n(get('avg_bps')) == null ? '' : num(Math.round(Number(j.avg_bps)))],
    ['TLS secrets in the file', String(get('secrets') ?? 0)],
    ['Damage', get('damage') == null ? 'none' : String(j.damage)],
  ]) });
  const other = Object.entries(j).filter(([k]) => !used.has(k));
  if (other.length) sec.push({ title: 'Other', rows: other.map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]) });
  return sec;
}

/** @param {App} app */
export async function capturePropertiesDialog(app) {
  const s = app.current;
  if (!s) return;
  const d = new Dialog({ title: `Capture File Properties · ${s.name}`, className: 'props', modal: false });
  const body = h('div', { class: 'props-body', tabindex: '0' }, 'Loading…');
  d.body.append(body);
  let text = '';
  d.button('Copy To Clipboard', () => copyText(text), { left: true });
  d.button('Close', () => d.close(), { primary: true });
  d.show();
  try {
    const secs = parseInfo(await api.info(s.id));
    clear(body);
    const table = h('table', { class: 'kv' });
    for (const sec of secs) {
      table.append(h('tr', { class: 'kv-head' }, h('th', { colspan: '2' }, sec.title)));
      text += `${sec.title}\n`;
      for (const [k, v] of sec.rows) {
        table.append(h('tr', null, h('td', { class: 'kv-k' }, k), h('td', { class: 'kv-v' }, v)));
        text += `  ${k}: ${v}\n`;
      }
    }
    body.append(table);
  } catch (e) {
    body.textContent = `Cannot read the properties: ${errText(e)}`;
  }
}

// ---------------------------------------------------------------- Protocol Hierarchy

/** @typedef {{name: string, frames: number, bytes: number, children: PhsNode[]}} PhsNode */

/**
 * @param {any} j the `/stats/hierarchy` answer: `{"frames", "bytes", "tree": [{"name", "frames", "bytes", "children"}]}`
 * @returns {{frames: number, bytes: number, tree: PhsNode[]}}
 */
export function parseHierarchy(j) {
  /** @param {any} x @returns {PhsNode} */
  const node = (x) => ({
    name: String(x.name ?? x.protocol ?? x.proto ?? '?'),
    frames: n(x.frames ?? x.packets) ?? 0,
    bytes: n(x.bytes) ?? 0,
    children: (x.children ?? x.nodes ?? []).map(node),
  });
  const list = Array.isArray(j) ? j : (j.tree ?? j.nodes ?? j.children ?? j.protocols ?? []);
  const tree = /** @type {PhsNode[]} */ (list.map(node));
  const frames = n(j.frames ?? j.total_frames) ?? tree.reduce((a, t) => Math.max(a, t.frames), 0);
  const bytes = n(j.bytes ?? j.total_bytes) ?? tree.reduce((a, t) => Math.max(a, t.bytes), 0);
  return { frames, bytes, tree };
}

/** @param {App} app */
export async function hierarchyDialog(app) {
  const s = app.current;
  if (!s) return;
  const d = new Dialog({ title: `Protocol Hierarchy Statistics · ${s.name}`, className: 'phs', modal: false });
  const tbody = h('tbody');
  const table = h('table', { class: 'grid phs-table', tabindex: '0' },
    h('thead', null, h('tr', null, ...['Protocol', 'Percent Packets', 'Packets', 'Percent Bytes', 'Bytes'].map((t) => h('th', null, t)))), tbody);
  const note = h('div', { class: 'muted' }, 'All packets of the capture.');
  d.body.append(h('div', { class: 'table-wrap' }, table), note);
  d.button('Close', () => d.close(), { primary: true });
  d.show();
  try {
    const j = parseHierarchy(await api.stats(s.id, 'hierarchy', { filter: s.filter || undefined }));
    /** @type {{tr: HTMLElement, depth: number, open: boolean, hasKids: boolean}[]} */
    const rows = [];
    /** @param {PhsNode} p @param {number} depth */
    const add = (p, depth) => {
      const tw = h('span', { class: 'tw' }, p.children.length ? '▾' : ' ');
      const pct = (/** @type {number} */ a, /** @type {number} */ b) => (b ? `${((100 * a) / b).toFixed(1)} %` : '');
      const bar = h('div', { class: 'pct-bar' });
      bar.style.width = `${j.frames ? (100 * p.frames) / j.frames : 0}%`;
      const name = h('td', { class: 'phs-name' }, tw, p.name);
      name.style.paddingLeft = `${depth * 16 + 4}px`;
      const tr = h('tr', null, name, h('td', { class: 'right pct' }, bar, h('span', null, pct(p.frames, j.frames))), h('td', { class: 'right' }, num(p.frames)), h('td', { class: 'right' }, pct(p.bytes, j.bytes)), h('td', { class: 'right' }, num(p.bytes)));
      const row = { tr, depth, open: true, hasKids: p.children.length > 0 };
      rows.push(row);
      tbody.append(tr);
      tw.addEventListener('click', () => {
        row.open = !row.open;
        tw.textContent = row.open ? '▾' : '▸';
        const i = rows.indexOf(row);
        /** @type {number[]} */
        const closedAt = [];
        for (let k = i + 1; k < rows.length && rows[k].depth > depth; k++) {
          while (closedAt.length && closedAt[closedAt.length - 1] >= rows[k].depth) closedAt.pop();
          rows[k].tr.hidden = !row.open || closedAt.length > 0;
          if (!rows[k].open) closedAt.push(rows[k].depth);
        }
      });
      tr.addEventListener('contextmenu', (e) => {
        e.preventDefault();
        contextMenu(e.clientX, e.clientY, [
          { label: `Apply as Filter: ${p.name}`, action: () => app.applyFilter(p.name, { toBar: true }) },
          { label: `Prepare as Filter: ${p.name}`, action: () => app.filterBar.set(p.name) },
        ]);
      });
      for (const c of p.children) add(c, depth + 1);
    };
    for (const t of j.tree) add(t, 0);
    if (!j.tree.length) tbody.append(h('tr', null, h('td', { colspan: '5' }, 'No packets.')));
  } catch (e) {
    tbody.append(h('tr', null, h('td', { colspan: '5' }, `Cannot compute: ${errText(e)}`)));
  }
}

// ---------------------------------------------------------------- Conversations / Endpoints

export const CONV_TYPES = /** @type {const} */ ([
  ['eth', 'Ethernet'], ['ip', 'IPv4'], ['ipv6', 'IPv6'], ['tcp', 'TCP'], ['udp', 'UDP'],
]);

/**
 * @typedef {{a: string, pa: number | null, b: string, pb: number | null, frames: number, bytes: number,
 *   fab: number, bab: number, fba: number, bba: number, start: number | null, dur: number | null,
 *   stream: number | null, filter: string | null}} Conv
 */

/** Splits `1.2.3.4:80` / `[::1]:80` when the port is not separate. @param {any} addr @param {any} port */
function addrPort(addr, port) {
  const a = String(addr ?? '');
  if (port != null) return { addr: a, port: n(port) };
  const m = /^\[(.+)\]:(\d+)$/.exec(a) ?? /^([^:]+):(\d+)$/.exec(a);
  return m ? { addr: m[1], port: Number(m[2]) } : { addr: a, port: null };
}

/**
 * @param {any} j the `/stats/conversations?type=` answer: `{"kind", "title", "rows": [{"address_a",
 *   "port_a", "address_b", "port_b", "packets", "bytes", "packets_a_to_b", "bytes_a_to_b",
 *   "packets_b_to_a", "bytes_b_to_a", "rel_start", "duration", "stream", "filter"}], "limit", "overflow"}`
 * @returns {Conv[]}
 */
export function parseConversations(j) {
  const list = Array.isArray(j) ? j : (j.rows ?? j.conversations ?? []);
  return list.map((/** @type {any} */ r) => {
    const A = addrPort(r.address_a ?? r.a ?? r.addr_a, r.port_a);
    const B = addrPort(r.address_b ?? r.b ?? r.addr_b, r.port_b);
    const fab = n(r.packets_a_to_b ?? r.frames_ab) ?? 0;
    const bab = n(r.bytes_a_to_b ?? r.bytes_ab) ?? 0;
    const fba = n(r.packets_b_to_a ?? r.frames_ba) ?? 0;
    const bba = n(r.bytes_b_to_a ?? r.bytes_ba) ?? 0;
    return {
      a: A.addr, pa: A.port, b: B.addr, pb: B.port,
      frames: n(r.packets ?? r.frames) ?? fab + fba, bytes: n(r.bytes) ?? bab + bba,
      fab, bab, fba, bba,
      start: n(r.rel_start ?? r.start_s), dur: n(r.duration ?? r.duration_s),
      stream: n(r.stream),
      filter: typeof r.filter === 'string' && r.filter ? r.filter : null,
    };
  });
}

/**
 * @typedef {{addr: string, port: number | null, frames: number, bytes: number, txf: number, txb: number,
 *   rxf: number, rxb: number, filter: string | null}} Endpoint
 */

/**
 * @param {any} j the `/stats/endpoints?type=` answer: `{"kind", "title", "rows": [{"address", "port",
 *   "packets", "bytes", "tx_packets", "tx_bytes", "rx_packets", "rx_bytes", "filter"}], ...}`
 * @returns {Endpoint[]}
 */
export function parseEndpoints(j) {
  const list = Array.isArray(j) ? j : (j.rows ?? j.endpoints ?? []);
  return list.map((/** @type {any} */ r) => {
    const A = addrPort(r.address ?? r.addr, r.port);
    const txf = n(r.tx_packets ?? r.tx_frames) ?? 0;
    const txb = n(r.tx_bytes) ?? 0;
    const rxf = n(r.rx_packets ?? r.rx_frames) ?? 0;
    const rxb = n(r.rx_bytes) ?? 0;
    return {
      addr: A.addr, port: A.port, frames: n(r.packets ?? r.frames) ?? txf + rxf, bytes: n(r.bytes) ?? txb + rxb, txf, txb, rxf, rxb,
      filter: typeof r.filter === 'string' && r.filter ? r.filter : null,
    };
  });
}

/**
 * What the table could not hold (`overflow`), as a note.
 * @param {any} j
 */
function overflowNote(j) {
  const o = j?.overflow;
  return o && Number(o.frames) > 0 ? ` · ${num(Number(o.frames))} packets beyond the table's ${num(Number(j.limit))} rows are not shown` : '';
}

/** @param {string} type @param {string} addr */
function addrField(type, addr) {
  if (type === 'eth') return 'eth.addr';
  if (type === 'ipv6' || addr.includes(':')) return 'ipv6.addr';
  return 'ip.addr';
}

/**
 * The display filter for one conversation (Wireshark's "Apply as Filter > A ↔ B").
 * @param {string} type
 * @param {Conv} c
 */
export function convFilter(type, c) {
  if (c.filter) return c.filter;
  if ((type === 'tcp' || type === 'udp') && c.stream != null) return `${type}.stream eq ${c.stream}`;
  const f = addrField(type, c.a);
  if (type === 'tcp' || type === 'udp') return `${f}==${c.a} && ${type}.port==${c.pa} && ${f}==${c.b} && ${type}.port==${c.pb}`;
  return `${f}==${c.a} && ${f}==${c.b}`;
}

/** @param {string} type @param {Endpoint} e */
export function endpointFilter(type, e) {
  if (e.filter) return e.filter;
  const f = addrField(type, e.addr);
  return type === 'tcp' || type === 'udp' ? `${f}==${e.addr} && ${type}.port==${e.port}` : `${f}==${e.addr}`;
}

/**
 * A sortable table: columns of [title, value getter, numeric, formatter].
 * @template T
 * @param {{title: string, get: (r: T) => string | number | null, numeric?: boolean, fmt?: (v: any) => string}[]} cols
 * @param {T[]} data
 * @param {{onSelect?: (r: T) => void, onContext?: (r: T, x: number, y: number) => void, onActivate?: (r: T) => void}} on
 */
export function sortableTable(cols, data, on) {
  let sortCol = -1;
  let asc = true;
  let sel = -1;
  /** @type {T[]} */
  const rows = data.slice();
  const tbody = h('tbody');
  const ths = cols.map((c, i) => {
    const th = h('th', { class: c.numeric ? 'right' : '', tabindex: '-1', 'aria-sort': 'none' }, c.title);
    th.addEventListener('click', () => {
      if (sortCol === i) asc = !asc;
      else {
        sortCol = i;
        asc = !c.numeric;
      }
      const k = c.get;
      rows.sort((x, y) => {
        const a = k(x);
        const b = k(y);
        const r = c.numeric ? (Number(a) || 0) - (Number(b) || 0) : String(a ?? '').localeCompare(String(b ?? ''), undefined, { numeric: true });
        return asc ? r : -r;
      });
      ths.forEach((t, j) => t.setAttribute('aria-sort', j === i ? (asc ? 'ascending' : 'descending') : 'none'));
      const cur = sel >= 0 ? rows[sel] : null;
      draw();
      if (cur) select(rows.indexOf(cur));
    });
    return th;
  });
  const table = h('table', { class: 'grid', tabindex: '0' }, h('thead', null, h('tr', null, ths)), tbody);
  const draw = () => {
    clear(tbody);
    rows.forEach((r, i) => {
      tbody.append(h('tr', { 'data-i': i, class: i === sel ? 'selected' : '' }, cols.map((c) => {
        const v = c.get(r);
        return h('td', { class: c.numeric ? 'right' : '' }, c.fmt ? c.fmt(v) : v == null ? '' : String(v));
      })));
    });
  };
  /** @param {number} i */
  const select = (i) => {
    if (i < 0 || i >= rows.length) return;
    sel = i;
    [...tbody.children].forEach((tr, j) => tr.classList.toggle('selected', j === i));
    tbody.children[i]?.scrollIntoView({ block: 'nearest' });
    on.onSelect?.(rows[i]);
  };
  /** @param {EventTarget | null} t */
  const idx = (t) => {
    const tr = t instanceof Element ? t.closest('tr') : null;
    return tr instanceof HTMLElement && tr.dataset.i != null ? Number(tr.dataset.i) : -1;
  };
  tbody.addEventListener('click', (e) => select(idx(e.target)));
  tbody.addEventListener('dblclick', (e) => {
    const i = idx(e.target);
    if (i >= 0) on.onActivate?.(rows[i]);
  });
  tbody.addEventListener('contextmenu', (e) => {
    const i = idx(e.target);
    if (i < 0) return;
    e.preventDefault();
    select(i);
    on.onContext?.(rows[i], e.clientX, e.clientY);
  });
  table.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') select(Math.min(rows.length - 1, sel + 1));
    else if (e.key === 'ArrowUp') select(Math.max(0, sel - 1));
    else if (e.key === 'Home') select(0);
    else if (e.key === 'End') select(rows.length - 1);
    else if (e.key === 'Enter' && sel >= 0) on.onActivate?.(rows[sel]);
    else if ((e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey)) && sel >= 0) {
      const r = tbody.children[sel]?.getBoundingClientRect();
      if (r) on.onContext?.(rows[sel], r.left + 40, r.bottom);
    } else return;
    e.preventDefault();
  });
  draw();
  return { table, selected: () => (sel >= 0 ? rows[sel] : null), rows: () => rows };
}

/**
 * Statistics > Conversations / Endpoints.
 * @param {App} app
 * @param {'conversations' | 'endpoints'} what
 * @param {string} [firstType]
 */
export function conversationsDialog(app, what, firstType = 'tcp') {
  const s = app.current;
  if (!s) return;
  const conv = what === 'conversations';
  const d = new Dialog({ title: `${conv ? 'Conversations' : 'Endpoints'} · ${s.name}`, className: 'conv', modal: false });
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const panel = h('div', { class: 'table-wrap conv-panel' });
  const status = h('div', { class: 'muted', role: 'status' });
  d.body.append(tabs, panel, status);
  const followBtn = conv ? d.button('Follow Stream…', () => follow(), { left: true }) : null;
  const applyBtn = d.button('Apply as Filter', () => applySel(true), { left: true });
  d.button('Prepare as Filter', () => applySel(false), { left: true });
  d.button('Copy as CSV', () => copyText(csv()), { left: true });
  d.button('Close', () => d.close(), { primary: true });
  /** @type {string} */
  let type = firstType;
  /** @type {{selected: () => any, rows: () => any[]} | null} */
  let tbl = null;
  /** @type {{title: string, get: (r: any) => any, numeric?: boolean, fmt?: (v: any) => string}[]} */
  let cols = [];

  const follow = () => {
    const r = tbl?.selected();
    if (!conv || !r || (type !== 'tcp' && type !== 'udp')) return;
    if (r.stream == null) {
      status.textContent = 'The server did not give this conversation a stream number.';
      return;
    }
    openFollow(app, type, r.stream);
  };
  /** @param {boolean} apply */
  const applySel = (apply) => {
    const r = tbl?.selected();
    if (!r) {
      status.textContent = 'Select a row first.';
      return;
    }
    const f = conv ? convFilter(type, r) : endpointFilter(type, r);
    if (apply) app.applyFilter(f, { toBar: true });
    else app.filterBar.set(f);
  };
  const csv = () => {
    if (!tbl) return '';
    /** @param {any} v */
    const q = (v) => `"${String(v ?? '').replace(/"/g, '""')}"`;
    return [cols.map((c) => q(c.title)).join(','), ...tbl.rows().map((r) => cols.map((c) => q(c.get(r))).join(','))].join('\n') + '\n';
  };

  /** @param {string} t */
  const load = async (t) => {
    type = t;
    [...tabs.children].forEach((b) => {
      const on = /** @type {HTMLElement} */ (b).dataset.type === t;
      b.classList.toggle('active', on);
      b.setAttribute('aria-selected', String(on));
    });
    if (followBtn) followBtn.disabled = !(t === 'tcp' || t === 'udp');
    clear(panel);
    panel.append('Loading…');
    status.textContent = '';
    try {
      const j = await api.stats(s.id, what, { type: t, filter: s.filter || undefined });
      const ports = t === 'tcp' || t === 'udp';
      clear(panel);
      if (conv) {
        const data = parseConversations(j);
        cols = [
          { title: 'Address A', get: (r) => r.a },
          ...(ports ? [{ title: 'Port A', get: (/** @type {Conv} */ r) => r.pa, numeric: true }] : []),
          { title: 'Address B', get: (r) => r.b },
          ...(ports ? [{ title: 'Port B', get: (/** @type {Conv} */ r) => r.pb, numeric: true }] : []),
          { title: 'Packets', get: (r) => r.frames, numeric: true, fmt: num },
          { title: 'Bytes', get: (r) => r.bytes, numeric: true, fmt: num },
          ...(ports ? [{ title: 'Stream ID', get: (/** @type {Conv} */ r) => r.stream, numeric: true }] : []),
          { title: 'Packets A → B', get: (r) => r.fab, numeric: true, fmt: num },
          { title: 'Bytes A → B', get: (r) => r.bab, numeric: true, fmt: num },
          { title: 'Packets B → A', get: (r) => r.fba, numeric: true, fmt: num },
          { title: 'Bytes B → A', get: (r) => r.bba, numeric: true, fmt: num },
          { title: 'Rel Start', get: (r) => r.start, numeric: true, fmt: (v) => (v == null ? '' : Number(v).toFixed(6)) },
          { title: 'Duration', get: (r) => r.dur, numeric: true, fmt: (v) => (v == null ? '' : Number(v).toFixed(4)) },
        ];
        tbl = sortableTable(cols, data, {
          onActivate: () => (ports ? follow() : applySel(true)),
          onContext: (r, x, y) => contextMenu(x, y, [
            { label: 'Apply as Filter (A ↔ B)', action: () => app.applyFilter(convFilter(type, r), { toBar: true }) },
            { label: 'Prepare as Filter (A ↔ B)', action: () => app.filterBar.set(convFilter(type, r)) },
            ...(ports ? [{ label: `Follow ${type.toUpperCase()} Stream`, enabled: () => r.stream != null, action: () => follow() }] : []),
            'sep',
            { label: 'Copy as CSV', action: () => copyText(csv()) },
          ]),
        });
        status.textContent = `${plural(data.length, 'conversation')}${overflowNote(j)}`;
        setCount(t, data.length);
      } else {
        const data = parseEndpoints(j);
        cols = [
          { title: 'Address', get: (r) => r.addr },
          ...(ports ? [{ title: 'Port', get: (/** @type {Endpoint} */ r) => r.port, numeric: true }] : []),
          { title: 'Packets', get: (r) => r.frames, numeric: true, fmt: num },
          { title: 'Bytes', get: (r) => r.bytes, numeric: true, fmt: num },
          { title: 'Tx Packets', get: (r) => r.txf, numeric: true, fmt: num },
          { title: 'Tx Bytes', get: (r) => r.txb, numeric: true, fmt: num },
          { title: 'Rx Packets', get: (r) => r.rxf, numeric: true, fmt: num },
          { title: 'Rx Bytes', get: (r) => r.rxb, numeric: true, fmt: num },
        ];
        tbl = sortableTable(cols, data, {
          onActivate: () => applySel(true),
          onContext: (r, x, y) => contextMenu(x, y, [
            { label: 'Apply as Filter', action: () => app.applyFilter(endpointFilter(type, r), { toBar: true }) },
            { label: 'Prepare as Filter', action: () => app.filterBar.set(endpointFilter(type, r)) },
            'sep',
            { label: 'Copy as CSV', action: () => copyText(csv()) },
          ]),
        });
        status.textContent = `${plural(data.length, 'endpoint')}${overflowNote(j)}`;
        setCount(t, data.length);
      }
      panel.append(/** @type {NonNullable<typeof tbl> & {table: HTMLElement}} */ (tbl).table);
    } catch (e) {
      clear(panel);
      panel.append(`Cannot compute: ${errText(e)}`);
    }
  };
  /** @param {string} t @param {number} count */
  const setCount = (t, count) => {
    const b = /** @type {HTMLElement | undefined} */ ([...tabs.children].find((x) => /** @type {HTMLElement} */ (x).dataset.type === t));
    const label = CONV_TYPES.find(([k]) => k === t)?.[1] ?? t;
    if (b) b.textContent = `${label} · ${count}`;
  };
  for (const [t, label] of CONV_TYPES) {
    const b = h('button', { type: 'button', class: 'tab', role: 'tab', 'data-type': t, 'aria-selected': 'false', onclick: () => load(t) }, label);
    tabs.append(b);
  }
  tabs.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    e.preventDefault();
    const i = CONV_TYPES.findIndex(([k]) => k === type);
    const j = (i + (e.key === 'ArrowRight' ? 1 : CONV_TYPES.length - 1)) % CONV_TYPES.length;
    load(CONV_TYPES[j][0]).then(() => /** @type {HTMLElement} */ (tabs.children[j]).focus());
  });
  applyBtn.title = 'Apply the selected row as the display filter';
  d.show();
  load(firstType);
}

// ---------------------------------------------------------------- Expert Information

/** @typedef {{severity: string, group: string, summary: string, count: number, frames: number[], protocol: string, filter: string | null}} ExpertGroup */

const SEVERITIES = ['error', 'warning', 'note', 'chat', 'comment'];

/**
 * @param {any} j the `/stats/expert` answer: `{"groups": [{"severity", "group", "summary", "count", "frames"}]}`
 * @returns {ExpertGroup[]}
 */
export function parseExpert(j) {
  const list = Array.isArray(j) ? j : (j.groups ?? j.items ?? []);
  return list.map((/** @type {any} */ g) => ({
    severity: String(g.severity ?? 'note').toLowerCase(),
    group: String(g.group ?? ''),
    summary: String(g.summary ?? g.message ?? ''),
    count: n(g.count) ?? (Array.isArray(g.frames) ? g.frames.length : 0),
    frames: (Array.isArray(g.frames) ? g.frames : []).map(Number).filter((/** @type {number} */ x) => Number.isFinite(x)),
    protocol: String(g.protocol ?? g.proto ?? ''),
    filter: typeof g.filter === 'string' && g.filter ? g.filter : null,
  }));
}

/** @param {App} app */
export async function expertDialog(app) {
  const s = app.current;
  if (!s) return;
  const d = new Dialog({ title: `Expert Information · ${s.name}`, className: 'expert', modal: false });
  const box = h('div', { class: 'expert-tree' }, 'Loading…');
  d.body.append(box, h('div', { class: 'muted' }, 'Select a packet number to go to it in the packet list; right-click an item to filter on it.'));
  d.button('Close', () => d.close(), { primary: true });
  d.show();
  try {
    const groups = parseExpert(await api.stats(s.id, 'expert', { filter: s.filter || undefined }));
    clear(box);
    /** @type {TreeNode[]} */
    const tree = [];
    const sevs = [...new Set([...SEVERITIES, ...groups.map((g) => g.severity)])];
    for (const sev of sevs) {
      const gs = groups.filter((g) => g.severity === sev);
      if (!gs.length) continue;
      const total = gs.reduce((a, g) => a + g.count, 0);
      tree.push({
        label: `${sev[0].toUpperCase()}${sev.slice(1)} (${num(total)})`,
        field: `expert.severity.${sev}`,
        children: gs.map((g) => ({
          label: `${g.summary}  —  ${g.group}${g.protocol ? ` · ${g.protocol}` : ''} · ${num(g.count)}`,
          field: g.filter ? 'expert.filter' : null,
          value: g.filter,
          children: g.frames.map((f) => ({ label: `Packet ${f}`, field: 'frame.number', value: String(f) })),
        })),
      });
    }
    if (!tree.length) {
      box.append('No expert information.');
      return;
    }
    const dt = new DetailTree(box, {
      onSelect: (node) => {
        if (node?.field === 'frame.number' && node.value) app.goToFrame(Number(node.value));
      },
      onContext: (node, x, y) => {
        const f = node.field === 'expert.filter' ? node.value : node.field === 'frame.number' ? `frame.number == ${node.value}` : null;
        if (!f) return;
        contextMenu(x, y, [
          { label: `Apply as Filter: ${f}`, action: () => app.applyFilter(f, { toBar: true }) },
          { label: 'Prepare as Filter', action: () => app.filterBar.set(f) },
        ]);
      },
    });
    dt.show({ no: 0, tree, tabs: [] });
    // Severity levels open.
    for (const it of dt.top) dt.setExpanded(it, true);
    box.classList.add(...SEVERITIES.map((x) => `has-${x}`));
    [...box.querySelectorAll('.tree > li.tn')].forEach((li, i) => li.classList.add(`sev-${sevs.filter((x) => groups.some((g) => g.severity === x))[i]}`));
  } catch (e) {
    clear(box);
    box.append(`Cannot compute: ${errText(e)}`);
  }
}
