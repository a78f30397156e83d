// The packet list: virtual scrolling over the rows of a session's view. Rows come from the
// server in pages (an LRU of a few pages here); the DOM holds the visible rows plus a small
// overscan, reused as the list scrolls.

import { h, replace } from './dom.js';
import { VScroll } from './vscroll.js';

/** @typedef {import('./api.js').Row} Row */
/** @typedef {import('./api.js').RowsResp} RowsResp */
/** @typedef {import('./api.js').ColorRule} ColorRule */
/**
 * @typedef {{key: string, fetch: (start: number, count: number, signal: AbortSignal) => Promise<RowsResp>}} RowSource
 */
/**
 * @typedef {{
 *   onSelect: (row: Row, pos: number) => void,
 *   onContext: (row: Row, pos: number, x: number, y: number) => void,
 *   onTotal: (total: number, resp: RowsResp) => void,
 *   onError: (e: unknown) => void,
 * }} ListHandlers
 */

export const PAGE = 256;
const MAX_PAGES = 12;
const OVERSCAN = 6;
export const ROW_H = 18;

/** @type {{id: keyof Row, title: string, w: number, right?: boolean}[]} */
const COLUMNS = [
  { id: 'no', title: 'No.', w: 64, right: true },
  { id: 'time', title: 'Time', w: 118 },
  { id: 'src', title: 'Source', w: 150 },
  { id: 'dst', title: 'Destination', w: 150 },
  { id: 'proto', title: 'Protocol', w: 74 },
  { id: 'len', title: 'Length', w: 60, right: true },
  { id: 'info', title: 'Info', w: 400 },
];
const WIDTHS_KEY = 'wiresift.columns';

export class PacketList {
  /**
   * @param {HTMLElement} root
   * @param {ListHandlers} on
   */
  constructor(root, on) {
    this.root = root;
    this.on = on;
    /** @type {number[]} */
    this.widths = COLUMNS.map((c) => c.w);
    try {
      const saved = JSON.parse(localStorage.getItem(WIDTHS_KEY) ?? 'null');
      if (Array.isArray(saved) && saved.length === COLUMNS.length && saved.every((x) => typeof x === 'number')) this.widths = saved;
    } catch {
      /* defaults */
    }
    this.headRow = h('div', { class: 'plist-row plist-headrow', role: 'row' });
    COLUMNS.forEach((c, i) => {
      const grip = h('span', { class: 'col-grip', 'aria-hidden': 'true' });
      grip.addEventListener('pointerdown', (e) => this.resizeColumn(e, i));
      this.headRow.appendChild(h('div', { class: `cell c-${c.id} ${c.right ? 'right' : ''}`, role: 'columnheader' }, c.title, grip));
    });
    this.head = h('div', { class: 'plist-head' }, this.headRow);
    this.spacer = h('div', { class: 'plist-spacer' });
    this.layer = h('div', { class: 'plist-layer', role: 'rowgroup' });
    this.empty = h('div', { class: 'plist-empty hidden' });
    this.view = h('div', { class: 'plist-view', tabindex: '0', role: 'grid', 'aria-label': 'Packet list', 'aria-rowcount': '0' }, this.spacer, this.layer, this.empty);
    replace(root, this.head, this.view);
    root.classList.add('plist');
    this.vs = new VScroll(this.view, this.spacer, this.layer, ROW_H);
    this.applyWidths();

    /** @type {RowSource | null} */
    this.src = null;
    this.gen = 0;
    this.total = 0;
    /** @type {Map<number, Row[]>} page index → rows (Map order = LRU order) */
    this.pages = new Map();
    /** @type {Map<number, AbortController>} */
    this.inflight = new Map();
    /** Selected position in the view and its frame number. */
    this.sel = -1;
    /** @type {number | null} */
    this.selFrame = null;
    /** @type {Map<string, {fg: string, bg: string}>} */
    this.colors = new Map();
    this.colorize = true;
    /** @type {HTMLElement[]} */
    this.pool = [];
    this.renderQueued = false;

    this.view.addEventListener('scroll', () => {
      this.head.scrollLeft = this.view.scrollLeft;
      this.render();
    });
    this.view.addEventListener('keydown', (e) => this.onKey(e));
    this.layer.addEventListener('pointerdown', (e) => {
      const pos = this.posOf(e.target);
      if (pos == null) return;
      if (e.button === 0 || e.button === 2) this.select(pos);
    });
    this.layer.addEventListener('contextmenu', (e) => {
      e.preventDefault();
      const pos = this.posOf(e.target);
      if (pos == null) return;
      this.select(pos);
      const row = this.rowAt(pos);
      if (row) this.on.onContext(row, pos, e.clientX, e.clientY);
    });
    new ResizeObserver(() => this.render()).observe(this.view);
  }

  /** @param {EventTarget | null} t */
  posOf(t) {
    const el = t instanceof Element ? t.closest('.plist-row') : null;
    if (!(el instanceof HTMLElement) || el.dataset.pos == null) return null;
    return Number(el.dataset.pos);
  }

  applyWidths() {
    const cols = this.widths.map((w, i) => (i === this.widths.length - 1 ? `minmax(${w}px, 1fr)` : `${w}px`)).join(' ');
    this.root.style.setProperty('--cols', cols);
    this.root.style.setProperty('--cols-min', `${this.widths.reduce((a, b) => a + b, 0)}px`);
  }

  /**
   * @param {PointerEvent} e
   * @param {number} i
   */
  resizeColumn(e, i) {
    e.preventDefault();
    e.stopPropagation();
    const x0 = e.clientX;
    const w0 = this.widths[i];
    const grip = /** @type {HTMLElement} */ (e.target);
    grip.setPointerCapture(e.pointerId);
    /** @param {PointerEvent} m */
    const move = (m) => {
      this.widths[i] = Math.max(30, w0 + m.clientX - x0);
      this.applyWidths();
    };
    const up = () => {
      grip.removeEventListener('pointermove', move);
      grip.removeEventListener('pointerup', up);
      localStorage.setItem(WIDTHS_KEY, JSON.stringify(this.widths));
    };
    grip.addEventListener('pointermove', move);
    grip.addEventListener('pointerup', up);
  }

  /** @param {ColorRule[]} rules */
  setColors(rules) {
    this.colors = new Map(rules.map((r) => [r.name, { fg: r.fg, bg: r.bg }]));
    this.render();
  }

  /** @param {boolean} on */
  setColorize(on) {
    this.colorize = on;
    this.render();
  }

  /**
   * A new view (session, filter or time format changed): drops every cached row.
   * @param {RowSource | null} src
   * @param {{keepSelection?: boolean}} [opts]
   */
  setSource(src, opts = {}) {
    for (const c of this.inflight.values()) c.abort();
    this.inflight.clear();
    this.pages.clear();
    this.gen++;
    this.src = src;
    if (!opts.keepSelection) {
      this.sel = -1;
      this.selFrame = null;
    }
    if (!src) {
      this.setTotal(0);
      this.render();
      return;
    }
    // The first page tells the total.
    this.fetchPage(0, true);
    this.render();
  }

  /** @param {number} n */
  setTotal(n) {
    if (n === this.total) return;
    this.total = n;
    this.vs.setCount(n);
    this.view.setAttribute('aria-rowcount', String(n));
    // Keep the selection position valid (a frame number is what is kept across views).
    if (this.sel >= n) this.sel = -1;
    this.render();
  }

  /** @param {string} text */
  setEmptyText(text) {
    this.empty.textContent = text;
    this.empty.classList.toggle('hidden', !text);
  }

  /**
   * @param {number} p
   * @param {boolean} [force]
   * @returns {Promise<void>}
   */
  async fetchPage(p, force = false) {
    if (!this.src) return;
    if (!force && (this.pages.has(p) || this.inflight.has(p))) return;
    this.inflight.get(p)?.abort();
    const ctl = new AbortController();
    this.inflight.set(p, ctl);
    const gen = this.gen;
    const src = this.src;
    try {
      const resp = await src.fetch(p * PAGE, PAGE, ctl.signal);
      if (gen !== this.gen) return;
      this.pages.delete(p);
      this.pages.set(p, resp.rows);
      while (this.pages.size > MAX_PAGES) {
        const oldest = this.pages.keys().next().value;
        if (oldest === undefined) break;
        this.pages.delete(oldest);
      }
      this.setTotal(resp.total);
      this.on.onTotal(resp.total, resp);
      this.queueRender();
    } catch (e) {
      if (ctl.signal.aborted || gen !== this.gen) return;
      this.on.onError(e);
    } finally {
      if (this.inflight.get(p) === ctl) this.inflight.delete(p);
    }
  }

  /**
   * While indexing goes on: pages that were not full are dropped and the page in view is asked
   * again (its answer carries the new total).
   */
  poll() {
    if (!this.src) return Promise.resolve();
    for (const [p, rows] of this.pages) if (rows.length < PAGE) this.pages.delete(p);
    const { firstVisible } = this.vs.range(OVERSCAN);
    return this.fetchPage(Math.floor(firstVisible / PAGE), true);
  }

  /** Drops every cached row but keeps the view (marks changed, ...). */
  refresh() {
    this.pages.clear();
    const { first, last } = this.vs.range(OVERSCAN);
    const p0 = Math.floor(first / PAGE);
    const p1 = Math.floor(Math.max(first, last - 1) / PAGE);
    for (let p = p0; p <= p1; p++) this.fetchPage(p, true);
    if (this.total === 0) this.fetchPage(0, true);
  }

  /** @param {number} pos */
  rowAt(pos) {
    const p = Math.floor(pos / PAGE);
    const rows = this.pages.get(p);
    if (!rows) return null;
    // LRU touch.
    this.pages.delete(p);
    this.pages.set(p, rows);
    return rows[pos - p * PAGE] ?? null;
  }

  /**
   * The row at pos, fetching its page if needed.
   * @param {number} pos
   * @returns {Promise<Row | null>}
   */
  async getRow(pos) {
    const r = this.rowAt(pos);
    if (r) return r;
    const p = Math.floor(pos / PAGE);
    const ctl = this.inflight.get(p);
    if (!ctl) await this.fetchPage(p);
    else {
      await new Promise((res) => {
        const t = setInterval(() => {
          if (!this.inflight.has(p)) {
            clearInterval(t);
            res(null);
          }
        }, 10);
      });
    }
    return this.rowAt(pos);
  }

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  render() {
    const { first, last } = this.vs.range(OVERSCAN);
    const n = Math.max(0, last - first);
    while (this.pool.length < n) {
      const row = h('div', { class: 'plist-row', role: 'row' }, COLUMNS.map((c) => h('div', { class: `cell c-${c.id} ${c.right ? 'right' : ''}`, role: 'gridcell' })));
      this.pool.push(row);
      this.layer.appendChild(row);
    }
    /** @type {Set<number>} */
    const missing = new Set();
    for (let k = 0; k < this.pool.length; k++) {
      const el = this.pool[k];
      if (k >= n) {
        el.hidden = true;
        continue;
      }
      el.hidden = false;
      const pos = first + k;
      const row = this.rowAt(pos);
      el.dataset.pos = String(pos);
      el.setAttribute('aria-rowindex', String(pos + 1));
      const cells = /** @type {HTMLCollectionOf<HTMLElement>} */ (el.children);
      if (!row) {
        missing.add(Math.floor(pos / PAGE));
        for (let c = 0; c < COLUMNS.length; c++) cells[c].textContent = '';
        el.className = 'plist-row pending';
        el.style.removeProperty('--fg');
        el.style.removeProperty('--bg');
        continue;
      }
      for (let c = 0; c < COLUMNS.length; c++) {
        const v = String(row[COLUMNS[c].id] ?? '');
        if (cells[c].textContent !== v) cells[c].textContent = v;
      }
      const selected = this.selFrame != null ? row.no === this.selFrame : pos === this.sel;
      const color = this.colorize && row.color ? this.colors.get(row.color) : undefined;
      el.className = `plist-row${selected ? ' selected' : ''}${row.marked ? ' marked' : ''}${color ? ' colored' : ''}`;
      el.setAttribute('aria-selected', String(selected));
      if (color) {
        el.style.setProperty('--fg', color.fg);
        el.style.setProperty('--bg', color.bg);
      } else {
        el.style.removeProperty('--fg');
        el.style.removeProperty('--bg');
      }
      el.title = '';
    }
    for (const p of missing) this.fetchPage(p);
  }

  /**
   * Selects position `pos` (scrolls to it) and reports the row.
   * @param {number} pos
   * @param {'nearest' | 'center'} [how]
   */
  async select(pos, how = 'nearest') {
    if (this.total === 0) return;
    pos = Math.max(0, Math.min(this.total - 1, pos));
    this.sel = pos;
    this.selFrame = null;
    this.vs.ensureVisible(pos, how);
    const cached = this.rowAt(pos);
    if (cached) this.selFrame = cached.no;
    this.render();
    const gen = this.gen;
    const row = cached ?? (await this.getRow(pos));
    if (!row || gen !== this.gen || this.sel !== pos) return;
    this.selFrame = row.no;
    this.render();
    this.on.onSelect(row, pos);
  }

  /**
   * Marks the selection from outside (the frame is at `pos`) without reporting it.
   * @param {number} pos
   * @param {number} frame
   */
  showSelected(pos, frame) {
    this.sel = pos;
    this.selFrame = frame;
    this.vs.ensureVisible(pos, 'center');
    this.render();
  }

  /** @param {number} frame @param {boolean} marked */
  setMarked(frame, marked) {
    for (const rows of this.pages.values()) for (const r of rows) if (r.no === frame) r.marked = marked;
    this.render();
  }

  /** The selected row, if it is loaded. */
  selectedRow() {
    return this.sel >= 0 ? this.rowAt(this.sel) : null;
  }

  focus() {
    this.view.focus();
  }

  /** Keyboard context menu: at the selected row. */
  contextAtSelection() {
    if (this.sel < 0) return;
    const row = this.rowAt(this.sel);
    const el = this.pool.find((r) => r.dataset.pos === String(this.sel) && !r.hidden);
    if (!row || !el) return;
    const r = el.getBoundingClientRect();
    this.on.onContext(row, this.sel, r.left + 40, r.bottom);
  }

  /** @param {KeyboardEvent} e */
  onKey(e) {
    if (e.altKey || e.metaKey) return;
    const page = this.vs.pageLines();
    const cur = this.sel < 0 ? -1 : this.sel;
    /** @type {number | null} */
    let to = null;
    if (!e.ctrlKey) {
      switch (e.key) {
        case 'ArrowDown': to = cur + 1; break;
        case 'ArrowUp': to = cur < 0 ? 0 : cur - 1; break;
        case 'PageDown': to = cur + page; break;
        case 'PageUp': to = cur - page; break;
        case 'Home': to = 0; break;
        case 'End': to = this.total - 1; break;
        case 'ContextMenu':
          e.preventDefault();
          this.contextAtSelection();
          return;
        case 'F10':
          if (e.shiftKey) {
            e.preventDefault();
            this.contextAtSelection();
          }
          return;
        default:
          return;
      }
    }
    if (to == null) return;
    e.preventDefault();
    this.select(to);
  }
}
