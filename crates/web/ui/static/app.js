// wiresift ui: the workbench. Wires the menu bar, toolbar, capture tabs, display filter bar,
// packet list, detail tree, bytes pane and status bar to the server's API (docs/ui-api.md).

import { h, clear, replace, copyText, download, keyName, num } from './dom.js';
import { api, ApiError } from './api.js';
import { MenuBar, accelerators, runItem, contextMenu, menuOpen, prettyKey } from './menu.js';
import { Dialog, modalOpen, goToPacketDialog, exportSpecifiedDialog, tlsKeysDialog, showError, prompt } from './dialogs.js';
import { PacketList } from './packet-list.js';
import { DetailTree, fieldValue, filterFor } from './detail.js';
import { BytesPane } from './bytes.js';
import { FilterBar } from './filter-bar.js';
import { setupSplitters } from './splitter.js';
import { openFileDialog } from './files.js';
import { openFollow, streamFilter } from './follow.js';
import { exportObjectsDialog } from './objects.js';
import { capturePropertiesDialog, hierarchyDialog, conversationsDialog, expertDialog } from './stats.js';
import { ioGraphDialog } from './io-graph.js';
import { icon } from './icons.js';

/** @typedef {import('./api.js').SessionInfo} SessionInfo */
/** @typedef {import('./api.js').Status} Status */
/** @typedef {import('./api.js').Row} Row */
/** @typedef {import('./api.js').FrameResp} FrameResp */
/** @typedef {import('./api.js').TreeNode} TreeNode */
/** @typedef {import('./api.js').TimeFormat} TimeFormat */
/** @typedef {import('./menu.js').MenuItem} MenuItem */

const POLL_MS = 300;

/** @type {[TimeFormat, string][]} */
const TIME_FORMATS = [
  ['date', 'Date and Time of Day'],
  ['absolute', 'Time of Day'],
  ['epoch', 'Seconds Since Epoch (1970-01-01)'],
  ['relative', 'Seconds Since Beginning of Capture'],
  ['delta', 'Seconds Since Previous Captured Packet'],
  ['delta_displayed', 'Seconds Since Previous Displayed Packet'],
];

/** One opened capture (a server session) and what the UI remembers about it. */
export class Session {
  /** @param {SessionInfo} info */
  constructor(info) {
    this.id = info.id;
    this.name = info.name;
    this.path = info.path;
    /** The applied display filter. */
    this.filter = '';
    /** @type {number | null} frames in the filtered view */
    this.displayed = null;
    /** @type {number | null} */
    this.filterMs = null;
    /** @type {Status | null} */
    this.status = null;
    this.marked = 0;
    /** @type {number | null} */
    this.selFrame = null;
    /** @type {HTMLElement | null} */
    this.tab = null;
    this.polling = false;
  }
}

export class App {
  constructor() {
    /** @type {Session[]} */
    this.sessions = [];
    /** @type {Session | null} */
    this.current = null;
    /** @type {TimeFormat} */
    this.time = /** @type {TimeFormat} */ (localStorage.getItem('wiresift.time') ?? 'absolute');
    if (!TIME_FORMATS.some(([k]) => k === this.time)) this.time = 'absolute';
    this.colorize = localStorage.getItem('wiresift.colorize') !== 'off';
    /** @type {import('./api.js').RecentFile[]} */
    this.recent = [];
    /** @type {Map<string, Promise<string | undefined>>} field name → kind */
    this.kinds = new Map();
    /** @type {{key: string, promise: Promise<FrameResp>}[]} small cache of frame details */
    this.frames = [];
    /** @type {AbortController | null} */
    this.frameCtl = null;
    /** @type {FrameResp | null} */
    this.frame = null;
    /** @type {TreeNode | null} */
    this.field = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.msgTimer = undefined;
    /** @type {Set<string>} sessions whose status is being asked */
    this.pollBusy = new Set();
    /** @type {string | null} */
    this.lastFind = null;
    /** The page was opened without the server's token (every API call answers 401). */
    this.authError = false;
    /** @type {HTMLElement | null} */
    this.colorizeBtn = null;
    this.sbFile = h('span', { class: 'sb-file' });
    this.sbProgress = h('progress', { class: 'sb-progress hidden', max: '1', value: '0', 'aria-label': 'Indexing progress' });
    this.sbIndex = h('span', { class: 'sb-index' });
    this.sbCounts = h('span', { class: 'sb-counts', id: 'sb-counts' });
    this.sbTime = h('span', { class: 'sb-time' });
    this.sbMsg = h('span', { class: 'sb-msg', role: 'status' });
    this.sbField = h('span', { class: 'sb-field' });

    const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
    this.menubar = new MenuBar($('menubar'), this.menus());
    this.accels = accelerators(this.menus().flatMap((m) => m.items()));
    this.buildToolbar($('toolbar'));
    this.tabsEl = $('tabs');
    this.filterBar = new FilterBar($('filterbar'), { apply: (expr) => this.applyFilter(expr) });
    this.list = new PacketList($('list-pane'), {
      onSelect: (row) => this.showFrame(row),
      onContext: (row, _pos, x, y) => this.rowMenu(row, x, y),
      onTotal: () => this.updateStatus(),
      onError: (e) => this.message(`Packet list: ${e instanceof Error ? e.message : e}`, true),
    });
    this.list.setColorize(this.colorize);
    this.detail = new DetailTree($('detail-pane'), {
      onSelect: (node) => {
        this.field = node;
        this.bytes.highlight(node?.tab, node?.start, node?.end);
        this.updateFieldStatus();
      },
      onContext: (node, x, y) => this.fieldMenu(node, x, y),
    });
    this.bytes = new BytesPane($('bytes-pane'), {
      onByte: (tab, off) => this.detail.selectByOffset(tab, off),
    });
    setupSplitters($('panes'), [$('list-pane'), $('detail-pane'), $('bytes-pane')], [$('split1'), $('split2')]);
    this.buildStatusBar($('statusbar'));
    this.welcome = $('welcome');
    document.addEventListener('keydown', (e) => this.onKey(e));
    setInterval(() => this.poll(), POLL_MS);
  }

  // ------------------------------------------------------------------ menus

  /** @returns {import('./menu.js').TopMenu[]} */
  menus() {
    const has = () => this.current !== null;
    const hasRow = () => this.current !== null && this.list.selFrame != null;
    const hasField = () => !!this.field?.field;
    return [
      { label: 'File', mnemonic: 'F', items: () => [
        { label: 'Open…', accel: 'Ctrl+O', action: () => openFileDialog(this) },
        { label: 'Open Recent', submenu: () => this.recent.length
          ? this.recent.map((f) => ({ label: f.path, action: () => this.openPath(f.path) }))
          : [{ label: '(none)', enabled: () => false }] },
        { label: 'Close', enabled: has, action: () => this.current && this.closeSession(this.current) },
        'sep',
        { label: 'Export Specified Packets…', enabled: has, action: () => exportSpecifiedDialog(this) },
        { label: 'Export Objects', enabled: has, submenu: [
          { label: 'HTTP…', action: () => exportObjectsDialog(this, 'http') },
          { label: 'IMF…', action: () => exportObjectsDialog(this, 'imf') },
        ] },
      ] },
      { label: 'Edit', mnemonic: 'E', items: () => [
        { label: 'Copy', enabled: hasRow, submenu: [
          { label: 'Summary as Text', accel: 'Ctrl+Shift+C', action: () => this.copySummary() },
          { label: 'Value', enabled: hasField, action: () => copyText(this.field?.value ?? '') },
          { label: 'As Filter', enabled: hasField, action: () => this.fieldFilter().then((f) => { if (f) copyText(f); }) },
        ] },
        { label: 'Find Packet…', accel: 'Ctrl+F', enabled: has, action: () => this.findPacket() },
        'sep',
        { label: 'Mark/Unmark Packet', accel: 'Ctrl+M', enabled: hasRow, action: () => this.toggleMark() },
        { label: 'Unmark All Displayed', accel: 'Ctrl+Alt+M', enabled: has, action: () => this.unmarkAll() },
        { label: 'Next Mark', accel: 'Ctrl+Shift+N', enabled: has, action: () => this.nextMark(1) },
        { label: 'Previous Mark', accel: 'Ctrl+Shift+B', enabled: has, action: () => this.nextMark(-1) },
        'sep',
        { label: 'TLS Keys…', enabled: has, action: () => tlsKeysDialog(this) },
      ] },
      { label: 'View', mnemonic: 'V', items: () => [
        { label: 'Time Display Format', submenu: () => TIME_FORMATS.map(([k, label], i) => ({
          label, radio: true, accel: `Ctrl+Alt+${i + 1}`, checked: () => this.time === k, action: () => this.setTime(k),
        })) },
        { label: 'Colorize Packet List', checked: () => this.colorize, action: () => this.setColorize(!this.colorize) },
        'sep',
        { label: 'Expand Subtrees', hint: 'Shift+ArrowRight', enabled: () => !!this.detail.selected, action: () => this.detail.selected && this.detail.expandSubtree(this.detail.selected, true) },
        { label: 'Collapse Subtrees', hint: 'Shift+ArrowLeft', enabled: () => !!this.detail.selected, action: () => this.detail.selected && this.detail.expandSubtree(this.detail.selected, false) },
        { label: 'Expand All', accel: 'Ctrl+ArrowRight', action: () => this.detail.expandAll(true) },
        { label: 'Collapse All', accel: 'Ctrl+ArrowLeft', action: () => this.detail.expandAll(false) },
        'sep',
        { label: 'Packet List', hint: 'F6', action: () => this.list.focus() },
        { label: 'Packet Details', action: () => this.detail.focus() },
        { label: 'Packet Bytes', action: () => this.bytes.view.focus() },
        'sep',
        { label: 'Reload', accel: 'Ctrl+R', enabled: has, action: () => this.current && this.reload(this.current) },
      ] },
      { label: 'Go', mnemonic: 'G', items: () => [
        { label: 'Go to Packet…', accel: 'Ctrl+G', enabled: has, action: () => goToPacketDialog(this) },
        { label: 'Next Packet', accel: 'Ctrl+ArrowDown', enabled: has, action: () => this.list.select(this.list.sel + 1) },
        { label: 'Previous Packet', accel: 'Ctrl+ArrowUp', enabled: has, action: () => this.list.select(Math.max(0, this.list.sel - 1)) },
        { label: 'First Packet', accel: 'Ctrl+Home', enabled: has, action: () => this.list.select(0) },
        { label: 'Last Packet', accel: 'Ctrl+End', enabled: has, action: () => this.list.select(this.list.total - 1) },
      ] },
      { label: 'Analyze', mnemonic: 'A', items: () => [
        { label: 'Display Filter', accel: 'Ctrl+/', action: () => this.filterBar.focus() },
        { label: 'Apply as Filter', enabled: hasField, action: () => this.fieldFilter().then((f) => { if (f) this.applyFilter(f, { toBar: true }); }) },
        { label: 'Prepare as Filter', enabled: hasField, action: () => this.fieldFilter().then((f) => { if (f) this.filterBar.set(f); }) },
        'sep',
        { label: 'Follow', enabled: hasRow, submenu: [
          { label: 'TCP Stream', accel: 'Ctrl+Alt+Shift+T', action: () => this.follow('tcp') },
          { label: 'UDP Stream', accel: 'Ctrl+Alt+Shift+U', action: () => this.follow('udp') },
          { label: 'TLS Stream', accel: 'Ctrl+Alt+Shift+S', action: () => this.follow('tls') },
          { label: 'HTTP Stream', accel: 'Ctrl+Alt+Shift+H', action: () => this.follow('http') },
        ] },
        'sep',
        { label: 'Expert Information', enabled: has, action: () => expertDialog(this) },
      ] },
      { label: 'Statistics', mnemonic: 'S', items: () => [
        { label: 'Capture File Properties', accel: 'Ctrl+Alt+Shift+C', enabled: has, action: () => capturePropertiesDialog(this) },
        { label: 'Protocol Hierarchy', enabled: has, action: () => hierarchyDialog(this) },
        { label: 'Conversations', enabled: has, action: () => conversationsDialog(this, 'conversations') },
        { label: 'Endpoints', enabled: has, action: () => conversationsDialog(this, 'endpoints') },
        { label: 'I/O Graph', enabled: has, action: () => ioGraphDialog(this) },
      ] },
      { label: 'Help', mnemonic: 'H', items: () => [
        { label: 'Keyboard Shortcuts', accel: 'F1', action: () => this.shortcuts() },
        { label: 'About wiresift', action: () => this.about() },
      ] },
    ];
  }

  /** @param {HTMLElement} root */
  buildToolbar(root) {
    /** @param {string} name @param {string} title @param {() => void} action @param {string} [cls] */
    const b = (name, title, action, cls = '') => h('button', { type: 'button', class: `tb ${cls}`, title, 'aria-label': title, tabindex: '-1', 'data-icon': name, onclick: action }, icon(name));
    const sep = () => h('span', { class: 'tb-sep', 'aria-hidden': 'true' });
    append(root,
      b('open', 'Open a capture file (Ctrl+O)', () => openFileDialog(this)),
      b('close', 'Close this capture file', () => this.current && this.closeSession(this.current)),
      b('reload', 'Reload this file (Ctrl+R)', () => this.current && this.reload(this.current)),
      sep(),
      b('find', 'Find a packet (Ctrl+F)', () => this.findPacket()),
      b('first', 'Go to the first packet (Ctrl+Home)', () => this.list.select(0)),
      b('prev', 'Go to the previous packet (Ctrl+↑)', () => this.list.select(Math.max(0, this.list.sel - 1))),
      b('next', 'Go to the next packet (Ctrl+↓)', () => this.list.select(this.list.sel + 1)),
      b('last', 'Go to the last packet (Ctrl+End)', () => this.list.select(this.list.total - 1)),
      b('goto', 'Go to packet… (Ctrl+G)', () => goToPacketDialog(this)),
      sep(),
      b('colorize', 'Colorize the packet list', () => this.setColorize(!this.colorize), 'tb-colorize'),
      b('expand', 'Expand all subtrees (Ctrl+→)', () => this.detail.expandAll(true)),
      b('collapse', 'Collapse all subtrees (Ctrl+←)', () => this.detail.expandAll(false)),
      sep(),
      b('follow', 'Follow TCP stream (Ctrl+Alt+Shift+T)', () => this.follow('tcp')),
      b('objects', 'Export HTTP objects', () => exportObjectsDialog(this, 'http')),
      b('graph', 'I/O graph', () => ioGraphDialog(this)),
    );
    this.colorizeBtn = /** @type {HTMLElement | null} */ (root.querySelector('.tb-colorize'));
    this.colorizeBtn?.classList.toggle('on', this.colorize);
  }

  /** @param {HTMLElement} root */
  buildStatusBar(root) {
    replace(root, h('span', { class: 'sb-left' }, this.sbFile, this.sbProgress, this.sbIndex, this.sbField, this.sbMsg),
      h('span', { class: 'sb-right' }, this.sbCounts, this.sbTime));
  }

  // ------------------------------------------------------------------ sessions

  async start() {
    try {
      const c = await api.colors();
      this.list.setColors(c.rules);
    } catch (e) {
      this.message(`No colouring rules: ${e instanceof Error ? e.message : e}`, true);
    }
    this.refreshRecent();
    try {
      const r = await api.sessions();
      r.sessions.forEach((s, i) => this.addSession(s, i === 0));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.authError = true;
      this.message(`Cannot list sessions: ${e instanceof Error ? e.message : e}`, true);
    }
    this.updateWelcome();
    this.updateStatus();
    if (!this.current) this.list.focus();
  }

  async refreshRecent() {
    try {
      this.recent = (await api.recent()).files;
    } catch {
      this.recent = [];
    }
  }

  /**
   * Opens a capture from the server's root.
   * @param {string} path
   * @returns {Promise<boolean>}
   */
  async openPath(path) {
    const already = this.sessions.find((s) => s.path === path);
    if (already) {
      this.switchTo(already);
      return true;
    }
    try {
      const info = await api.open(path);
      this.addSession(info, true);
      this.refreshRecent();
      return true;
    } catch (e) {
      showError(`Cannot open ${path}`, e);
      return false;
    }
  }

  /**
   * @param {SessionInfo} info
   * @param {boolean} switchTo
   */
  addSession(info, switchTo) {
    let s = this.sessions.find((x) => x.id === info.id);
    if (!s) {
      s = new Session(info);
      this.sessions.push(s);
      const ss = s;
      const close = h('button', { type: 'button', class: 'tab-x', title: 'Close this capture', 'aria-label': `Close ${info.name}`, tabindex: '-1', onclick: (/** @type {Event} */ e) => {
        e.stopPropagation();
        this.closeSession(ss);
      } }, '×');
      s.tab = h('div', { class: 'ctab', role: 'tab', tabindex: '-1', title: info.path, 'aria-selected': 'false', 'data-session': info.id }, h('span', { class: 'ctab-name' }, info.name), close);
      s.tab.addEventListener('click', () => this.switchTo(ss));
      s.tab.addEventListener('auxclick', (e) => {
        if (e.button === 1) this.closeSession(ss);
      });
      s.tab.addEventListener('keydown', (e) => {
        const i = this.sessions.indexOf(ss);
        if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
          e.preventDefault();
          const n = this.sessions.length;
          const to = this.sessions[(i + (e.key === 'ArrowRight' ? 1 : n - 1)) % n];
          this.switchTo(to);
          to.tab?.focus();
        } else if (e.key === 'Delete') {
          this.closeSession(ss);
        }
      });
      this.tabsEl.appendChild(s.tab);
      this.pollSession(s);
    }
    if (switchTo) this.switchTo(s);
    this.updateWelcome();
    return s;
  }

  /** @param {Session} s */
  switchTo(s) {
    if (this.current === s) return;
    if (this.current) this.current.selFrame = this.list.selFrame;
    this.current = s;
    for (const x of this.sessions) {
      x.tab?.classList.toggle('active', x === s);
      x.tab?.setAttribute('aria-selected', String(x === s));
      x.tab?.setAttribute('tabindex', x === s ? '0' : '-1');
    }
    document.title = `${s.name} · wiresift`;
    s.tab?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    this.filterBar.setApplied(s.filter);
    this.filterBar.showError(null);
    this.clearDetail();
    this.list.setSource(this.source(s));
    if (s.selFrame != null) this.goToFrame(s.selFrame, { quiet: true });
    this.updateStatus();
    this.updateWelcome();
  }

  /** @param {Session} s */
  async closeSession(s) {
    const i = this.sessions.indexOf(s);
    if (i < 0) return;
    this.sessions.splice(i, 1);
    s.tab?.remove();
    try {
      await api.close(s.id);
    } catch (e) {
      this.message(`Close: ${e instanceof Error ? e.message : e}`, true);
    }
    if (this.current === s) {
      this.current = null;
      const next = this.sessions[Math.min(i, this.sessions.length - 1)];
      if (next) this.switchTo(next);
      else {
        this.list.setSource(null);
        this.clearDetail();
        this.filterBar.setApplied('');
        document.title = 'wiresift';
        this.updateStatus();
      }
    }
    this.updateWelcome();
  }

  updateWelcome() {
    const none = this.sessions.length === 0;
    this.welcome.classList.toggle('hidden', !none);
    if (!none) return;
    clear(this.welcome);
    if (this.authError) {
      this.welcome.append(
        h('h1', null, 'wiresift'),
        h('p', { class: 'error-text' }, 'Not signed in to this wiresift server.'),
        h('p', null, 'Open the address that `wiresift ui` printed when it started (the one with ?token=…) in this browser.'),
      );
      return;
    }
    this.welcome.append(
      h('h1', null, 'wiresift'),
      h('p', null, 'No capture file is open.'),
      h('button', { type: 'button', class: 'btn primary', onclick: () => openFileDialog(this) }, 'Open a capture file… (Ctrl+O)'),
    );
    if (this.recent.length) {
      this.welcome.append(h('h2', null, 'Recent'), h('ul', { class: 'welcome-recent' }, this.recent.map((f) =>
        h('li', null, h('button', { type: 'button', class: 'link', onclick: () => this.openPath(f.path) }, f.path)))));
    }
  }

  /**
   * The packet list's row source for a session (its filter and the time format).
   * @param {Session} s
   * @returns {import('./packet-list.js').RowSource}
   */
  source(s) {
    const filter = s.filter;
    const time = this.time;
    return {
      key: `${s.id}|${filter}|${time}`,
      fetch: (start, count, signal) => api.rows(s.id, { start, count, filter: filter || undefined, time }, signal),
    };
  }

  /**
   * Polls a session's status while it indexes; the list grows as frames arrive.
   * @param {Session} s
   */
  async pollSession(s) {
    s.polling = true;
  }

  async poll() {
    for (const s of this.sessions) {
      if (!s.polling) continue;
      if (this.pollBusy.has(s.id)) continue;
      this.pollBusy.add(s.id);
      try {
        const st = await api.status(s.id);
        s.status = st;
        if (typeof st.marked === 'number') s.marked = st.marked;
        if (s === this.current) await this.list.poll();
        if (st.done) s.polling = false;
        if (st.done && s === this.current && this.list.total === 0 && st.frames > 0) this.list.refresh();
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          s.polling = false;
          this.message(`${s.name}: the server closed this session`, true);
        }
      } finally {
        this.pollBusy.delete(s.id);
      }
      if (s === this.current) this.updateStatus();
    }
  }

  /**
   * The session was indexed again (TLS keys were added): everything reloads.
   * @param {Session} s
   */
  async reindexed(s) {
    s.status = null;
    s.polling = true;
    if (s.filter) {
      try {
        const r = await api.applyFilter(s.id, s.filter);
        s.displayed = r.count;
      } catch {
        /* shown by the list */
      }
    }
    if (this.current === s) {
      const keep = this.list.selFrame;
      this.frames = [];
      this.list.setSource(this.source(s), { keepSelection: true });
      if (keep != null) this.goToFrame(keep, { quiet: true });
    }
    this.message(`${s.name}: indexing again with the new keys…`);
  }

  /** View > Reload. @param {Session} s */
  reload(s) {
    this.frames = [];
    if (s === this.current) {
      const keep = this.list.selFrame;
      this.list.setSource(this.source(s), { keepSelection: true });
      if (keep != null) this.goToFrame(keep, { quiet: true });
    }
  }

  // ------------------------------------------------------------------ filter, selection

  /**
   * Applies a display filter to the current capture.
   * @param {string} expr
   * @param {{toBar?: boolean}} [opts]
   * @returns {Promise<boolean>}
   */
  async applyFilter(expr, opts = {}) {
    const s = this.current;
    expr = expr.trim();
    if (opts.toBar) this.filterBar.set(expr);
    if (!s) return false;
    const keep = this.list.selFrame;
    if (expr) {
      try {
        this.message('Filtering…');
        const r = await api.applyFilter(s.id, expr);
        s.displayed = r.count;
        s.filterMs = r.ms;
      } catch (e) {
        if (e instanceof ApiError && e.status === 400) {
          this.filterBar.setState('bad');
          this.filterBar.showError(e.message, e.body?.rendered);
          this.message('Invalid display filter', true);
        } else {
          showError('Display filter', e);
        }
        return false;
      }
    } else {
      s.displayed = null;
      s.filterMs = null;
    }
    s.filter = expr;
    this.filterBar.applied = expr;
    if (opts.toBar && expr) this.filterBar.remember(expr);
    this.filterBar.showError(null);
    this.message('');
    this.list.setSource(this.source(s), { keepSelection: true });
    if (keep != null) {
      // Keep the selected packet when the new view has it.
      const found = await this.goToFrame(keep, { quiet: true });
      if (!found) this.clearDetail();
    }
    this.updateStatus();
    return true;
  }

  /** @param {TimeFormat} t */
  setTime(t) {
    this.time = t;
    localStorage.setItem('wiresift.time', t);
    const s = this.current;
    if (!s) return;
    const keep = this.list.selFrame;
    const v = this.list.vs.vTop();
    this.list.setSource(this.source(s), { keepSelection: true });
    this.list.vs.scrollToV(v);
    if (keep != null) this.list.selFrame = keep;
  }

  /** @param {boolean} on */
  setColorize(on) {
    this.colorize = on;
    localStorage.setItem('wiresift.colorize', on ? 'on' : 'off');
    this.list.setColorize(on);
    this.colorizeBtn?.classList.toggle('on', on);
  }

  /**
   * Selects frame n in the list (Go to Packet, expert info, I/O graph, ...).
   * @param {number} n
   * @param {{quiet?: boolean}} [opts]
   * @returns {Promise<boolean>}
   */
  async goToFrame(n, opts = {}) {
    const s = this.current;
    if (!s) return false;
    try {
      const r = await api.position(s.id, n, s.filter || undefined);
      if (this.current !== s) return false;
      if (r.position == null) {
        if (!opts.quiet) this.message(`Packet ${n} isn't displayed.`, true);
        return false;
      }
      if (this.list.total <= r.position) this.list.setTotal(r.position + 1);
      await this.list.select(r.position, 'center');
      return true;
    } catch (e) {
      if (!opts.quiet) this.message(`Go to packet ${n}: ${e instanceof Error ? e.message : e}`, true);
      return false;
    }
  }

  /**
   * A frame's detail (a few kept).
   * @param {Session} s
   * @param {number} no
   * @returns {Promise<FrameResp>}
   */
  frameDetail(s, no) {
    const key = `${s.id}/${no}`;
    const hit = this.frames.find((f) => f.key === key);
    if (hit) return hit.promise;
    const promise = api.frame(s.id, no);
    this.frames.unshift({ key, promise });
    this.frames.length = Math.min(this.frames.length, 6);
    promise.catch(() => {
      this.frames = this.frames.filter((f) => f.promise !== promise);
    });
    return promise;
  }

  /** @param {Row} row */
  async showFrame(row) {
    const s = this.current;
    if (!s) return;
    s.selFrame = row.no;
    const no = row.no;
    try {
      const f = await this.frameDetail(s, no);
      if (this.current !== s || this.list.selFrame !== no) return;
      this.frame = f;
      this.detail.show(f);
      this.bytes.show(f.tabs);
      if (this.field) this.bytes.highlight(this.field.tab, this.field.start, this.field.end);
      this.updateFieldStatus();
    } catch (e) {
      if (this.list.selFrame !== no) return;
      this.frame = null;
      this.detail.showMessage(`Packet ${no}: ${e instanceof Error ? e.message : e}`);
      this.bytes.clear();
    }
  }

  clearDetail() {
    this.frame = null;
    this.field = null;
    this.detail.showMessage('');
    this.bytes.clear();
    this.updateFieldStatus();
  }

  // ------------------------------------------------------------------ marks

  async toggleMark() {
    const s = this.current;
    const row = this.list.selectedRow();
    if (!s || !row) return;
    try {
      const r = await api.marks(s.id, { frames: [row.no], marked: !row.marked });
      this.list.setMarked(row.no, !row.marked);
      s.marked = r.marked;
      this.updateStatus();
    } catch (e) {
      showError('Mark', e);
    }
  }

  async unmarkAll() {
    const s = this.current;
    if (!s) return;
    try {
      const r = await api.marks(s.id, { all: true, marked: false });
      s.marked = r.marked;
      this.list.refresh();
      this.updateStatus();
    } catch (e) {
      showError('Unmark', e);
    }
  }

  /**
   * Next/previous marked packet, searched in pages from the selection.
   * @param {1 | -1} dir
   */
  async nextMark(dir) {
    const s = this.current;
    if (!s) return;
    if (s.marked === 0) {
      this.message('No packet is marked.', true);
      return;
    }
    const PAGE = 1000;
    let pos = this.list.sel + dir;
    for (let k = 0; k < 200 && pos >= 0 && pos < this.list.total; k++) {
      const start = dir > 0 ? pos : Math.max(0, pos - PAGE + 1);
      const r = await api.rows(s.id, { start, count: PAGE, filter: s.filter || undefined, time: this.time });
      const rows = dir > 0 ? r.rows : r.rows.slice(0, pos - start + 1).reverse();
      const i = rows.findIndex((x) => x.marked);
      if (i >= 0) {
        await this.list.select(dir > 0 ? start + i : pos - i, 'center');
        return;
      }
      pos = dir > 0 ? start + r.rows.length : start - 1;
      if (!r.rows.length) break;
    }
    this.message(`No marked packet ${dir > 0 ? 'after' : 'before'} this one.`);
  }

  // ------------------------------------------------------------------ follow, find, copy

  /**
   * The stream number of the selected frame for a protocol (tcp.stream / udp.stream).
   * @param {string} proto
   * @returns {Promise<number | null>}
   */
  async streamOfSelected(proto) {
    const s = this.current;
    const no = this.list.selFrame;
    if (!s || no == null) return null;
    // The row says which stream it belongs to (tcp or udp).
    const row = this.list.selectedRow();
    if (row && row.no === no && row.stream != null && row.transport) {
      if ((proto === 'udp') === (row.transport === 'udp')) return row.stream;
      return null;
    }
    const f = await this.frameDetail(s, no);
    const v = fieldValue(f.tree, proto === 'udp' ? 'udp.stream' : 'tcp.stream');
    if (v != null && /^\d+$/.test(v)) return Number(v);
    // The server may know it from the frame number (Front-end request in docs/ui-api.md).
    try {
      const r = await api.follow(s.id, proto, { frame: no });
      return r.stream;
    } catch {
      return null;
    }
  }

  /** @param {string} proto */
  async follow(proto) {
    const s = this.current;
    if (!s || this.list.selFrame == null) {
      this.message('Select a packet first.', true);
      return;
    }
    const stream = await this.streamOfSelected(proto);
    if (stream == null) {
      this.message(`Packet ${this.list.selFrame} is not part of a ${proto.toUpperCase()} stream.`, true);
      return;
    }
    await openFollow(this, proto, stream);
  }

  async findPacket() {
    const s = this.current;
    if (!s) return;
    const expr = await prompt({ title: 'Find Packet', label: 'Display filter:', value: this.lastFind ?? '', placeholder: 'e.g. http.request', ok: 'Find' });
    if (expr == null || !expr.trim()) return;
    this.lastFind = expr.trim();
    try {
      const check = await api.checkFilter(this.lastFind);
      if (!check.ok) {
        showError('Find Packet', new ApiError(400, check.message ?? 'invalid filter', check));
        return;
      }
      await api.applyFilter(s.id, this.lastFind);
      const after = (this.list.selFrame ?? 0) + 1;
      const p = await api.position(s.id, after, this.lastFind);
      const at = p.position ?? p.nearest;
      const r = at == null ? null : await api.rows(s.id, { start: at, count: 1, filter: this.lastFind, time: this.time });
      const hit = r?.rows[0];
      if (!hit) {
        this.message(`No packet matching “${this.lastFind}” after this one.`, true);
        return;
      }
      await this.goToFrame(hit.no);
    } catch (e) {
      showError('Find Packet', e);
    }
  }

  /** @param {Row} row */
  summary(row) {
    return [row.no, row.time, row.src, row.dst, row.proto, row.len, row.info].join('\t');
  }

  copySummary() {
    const row = this.list.selectedRow();
    if (row) copyText(this.summary(row));
  }

  /**
   * "Apply as Filter" text for the selected field.
   * @param {TreeNode | null} [node]
   */
  async fieldFilter(node = this.field) {
    if (!node?.field) return null;
    if (typeof node.string === 'boolean') return filterFor(node.field, node.value, undefined, node.string);
    const kind = node.kind ?? (await this.kindOf(node.field));
    return filterFor(node.field, node.value, kind);
  }

  /** @param {string} field */
  kindOf(field) {
    let p = this.kinds.get(field);
    if (!p) {
      p = api.fields(field, 200).then((r) => r.fields.find((f) => f.name === field)?.kind).catch(() => undefined);
      this.kinds.set(field, p);
    }
    return p;
  }

  // ------------------------------------------------------------------ context menus

  /**
   * @param {Row} row
   * @param {number} x
   * @param {number} y
   */
  rowMenu(row, x, y) {
    const conv = async () => {
      if (row.stream != null && (row.transport === 'tcp' || row.transport === 'udp')) return streamFilter(row.transport, row.stream);
      const t = await this.streamOfSelected('tcp');
      if (t != null && this.frame && fieldValue(this.frame.tree, 'tcp.stream') != null) return streamFilter('tcp', t);
      const f = this.current && (await this.frameDetail(this.current, row.no));
      const u = f ? fieldValue(f.tree, 'udp.stream') : null;
      if (u != null) return streamFilter('udp', Number(u));
      if (t != null) return streamFilter('tcp', t);
      return `${addrField(row.src)}==${row.src} && ${addrField(row.dst)}==${row.dst}`;
    };
    /** @param {boolean} apply */
    const filters = (apply) => {
      /** @param {string | Promise<string>} f */
      const go = async (f) => {
        const v = await f;
        if (apply) this.applyFilter(v, { toBar: true });
        else this.filterBar.set(v);
      };
      return [
        { label: 'This Conversation', action: () => go(conv()) },
        { label: `Source: ${row.src}`, enabled: () => !!row.src, action: () => go(`${addrField(row.src)}.src==${row.src}`.replace('.addr.src', '.src')) },
        { label: `Destination: ${row.dst}`, enabled: () => !!row.dst, action: () => go(`${addrField(row.dst)}.dst==${row.dst}`.replace('.addr.dst', '.dst')) },
        { label: `Protocol: ${row.proto}`, enabled: () => !!row.proto, action: () => go(row.proto.toLowerCase().replace(/v[\d.]+$/, '')) },
      ];
    };
    contextMenu(x, y, [
      { label: row.marked ? 'Unmark Packet' : 'Mark Packet', accel: 'Ctrl+M', action: () => this.toggleMark() },
      'sep',
      { label: 'Apply as Filter', submenu: filters(true) },
      { label: 'Prepare as Filter', submenu: filters(false) },
      'sep',
      { label: 'Follow', submenu: [
        { label: 'TCP Stream', accel: 'Ctrl+Alt+Shift+T', action: () => this.follow('tcp') },
        { label: 'UDP Stream', accel: 'Ctrl+Alt+Shift+U', action: () => this.follow('udp') },
        { label: 'TLS Stream', accel: 'Ctrl+Alt+Shift+S', action: () => this.follow('tls') },
        { label: 'HTTP Stream', accel: 'Ctrl+Alt+Shift+H', action: () => this.follow('http') },
      ] },
      'sep',
      { label: 'Copy', submenu: [
        { label: 'Summary as Text', accel: 'Ctrl+Shift+C', action: () => copyText(this.summary(row)) },
        { label: 'Summary Line', action: () => copyText(row.line ?? `${row.time} ${row.src} → ${row.dst} ${row.proto} ${row.len} ${row.info}`) },
        { label: 'Info Column', action: () => copyText(row.info) },
      ] },
    ]);
  }

  /**
   * @param {TreeNode} node
   * @param {number} x
   * @param {number} y
   */
  fieldMenu(node, x, y) {
    const hasField = () => !!node.field;
    contextMenu(x, y, [
      { label: 'Apply as Filter', enabled: hasField, action: () => this.fieldFilter(node).then((f) => { if (f) this.applyFilter(f, { toBar: true }); }) },
      { label: 'Prepare as Filter', enabled: hasField, action: () => this.fieldFilter(node).then((f) => { if (f) this.filterBar.set(f); }) },
      'sep',
      { label: 'Copy', submenu: [
        { label: 'All Visible Items', action: () => copyText(this.detailText()) },
        { label: 'Description', action: () => copyText(node.label) },
        { label: 'Field Name', enabled: hasField, action: () => copyText(node.field ?? '') },
        { label: 'Value', enabled: () => node.value != null, action: () => copyText(node.value ?? '') },
        { label: 'As Filter', enabled: hasField, action: () => this.fieldFilter(node).then((f) => { if (f) copyText(f); }) },
      ] },
      'sep',
      { label: 'Expand Subtrees', action: () => this.detail.selected && this.detail.expandSubtree(this.detail.selected, true) },
      { label: 'Collapse Subtrees', action: () => this.detail.selected && this.detail.expandSubtree(this.detail.selected, false) },
      { label: 'Expand All', accel: 'Ctrl+ArrowRight', action: () => this.detail.expandAll(true) },
      { label: 'Collapse All', accel: 'Ctrl+ArrowLeft', action: () => this.detail.expandAll(false) },
    ]);
  }

  detailText() {
    return this.detail.visible().map((it) => `${'    '.repeat(it.depth)}${it.node.label}`).join('\n') + '\n';
  }

  // ------------------------------------------------------------------ status bar

  updateStatus() {
    const s = this.current;
    if (!s) {
      this.sbFile.textContent = 'Ready to load or capture';
      this.sbFile.title = '';
      this.sbProgress.classList.add('hidden');
      this.sbIndex.textContent = '';
      this.sbCounts.textContent = '';
      this.sbTime.textContent = '';
      return;
    }
    const st = s.status;
    this.sbFile.textContent = s.name;
    this.sbFile.title = s.path;
    const indexing = !!st && !st.done;
    this.sbProgress.classList.toggle('hidden', !indexing);
    if (st && indexing) {
      this.sbProgress.value = st.total_bytes ? st.bytes / st.total_bytes : 0;
      this.sbIndex.textContent = `Indexing… ${st.total_bytes ? Math.floor((100 * st.bytes) / st.total_bytes) : 0}%`;
    } else if (st?.error) {
      this.sbIndex.textContent = `⚠ ${st.error}`;
      this.sbIndex.classList.add('error-text');
    } else {
      this.sbIndex.textContent = '';
      this.sbIndex.classList.remove('error-text');
    }
    const frames = st?.frames ?? (s.filter ? null : this.list.total);
    const parts = [`Packets: ${frames == null ? '…' : num(frames)}`];
    const shown = s.filter ? this.list.total : frames ?? this.list.total;
    const pct = frames ? ` (${((100 * shown) / frames).toFixed(1)}%)` : '';
    parts.push(`Displayed: ${num(shown)}${s.filter ? pct : ''}`);
    parts.push(`Marked: ${num(s.marked)}`);
    const keys = st?.keys ? st.keys.keylog + st.keys.rsa : 0;
    if (keys) parts.push(`TLS keys: ${keys}`);
    this.sbCounts.textContent = parts.join(' · ');
    const times = [];
    if (st) times.push(`Load time: ${(st.elapsed_ms / 1000).toFixed(3)} s`);
    if (s.filter && s.filterMs != null) times.push(`Filter: ${s.filterMs} ms`);
    this.sbTime.textContent = times.join(' · ');
  }

  updateFieldStatus() {
    const f = this.field;
    this.sbField.textContent = f?.field ? `${f.label.replace(/:.*$/, '')} (${f.field})${f.start != null && f.end != null ? `, ${f.end - f.start} byte${f.end - f.start === 1 ? '' : 's'}` : ''}` : '';
  }

  /**
   * A message in the status bar (cleared after a while).
   * @param {string} text
   * @param {boolean} [error]
   */
  message(text, error = false) {
    this.sbMsg.textContent = text;
    this.sbMsg.classList.toggle('error-text', error);
    clearTimeout(this.msgTimer);
    if (text) this.msgTimer = setTimeout(() => { this.sbMsg.textContent = ''; }, 6000);
  }

  /**
   * Downloads a URL of the API (or a blob) through an `<a download>`.
   * @param {string} url
   * @param {string} name
   */
  download(url, name) {
    download(url, name);
  }

  // ------------------------------------------------------------------ keyboard

  /** @param {KeyboardEvent} e */
  onKey(e) {
    if (menuOpen() || e.defaultPrevented) return;
    if (modalOpen()) return;
    if (e.altKey && !e.ctrlKey && !e.shiftKey && this.menubar.handleAlt(e)) return;
    if (e.key === 'F10' && !e.shiftKey && !e.ctrlKey && !e.altKey) {
      e.preventDefault();
      this.menubar.openMenu(0, true);
      return;
    }
    if (e.key === 'F6') {
      e.preventDefault();
      this.cycleFocus(e.shiftKey ? -1 : 1);
      return;
    }
    const k = keyName(e);
    const it = this.accels.get(k);
    if (!it) return;
    const t = e.target;
    const inText = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
    // In a text field, editing keys belong to the field.
    if (inText && /Arrow|Home|End/.test(k) && !k.startsWith('Ctrl+Alt')) return;
    // A non-modal window's own tables use the arrows.
    e.preventDefault();
    runItem(it);
  }

  /** @param {1 | -1} dir */
  cycleFocus(dir) {
    const order = [this.filterBar.input, this.list.view, this.detail.list, this.bytes.view];
    const i = order.findIndex((el) => el === document.activeElement || el.contains(document.activeElement));
    const next = order[(i + dir + order.length) % order.length];
    next.focus();
  }

  shortcuts() {
    const d = new Dialog({ title: 'Keyboard Shortcuts', className: 'shortcuts' });
    const rows = [...this.accels.entries()].map(([k, it]) => h('tr', null, h('td', { class: 'mono' }, prettyKey(k)), h('td', null, it.label)));
    const extra = [
      ['Alt+F/E/V/G/A/S/H', 'Open a menu (then arrows, Enter, Esc)'],
      ['F10', 'Open the menu bar'],
      ['F6 / Shift+F6', 'Next / previous pane'],
      ['↑ ↓ PgUp PgDn Home End', 'Move in the packet list'],
      ['← →', 'Collapse / expand a detail node'],
      ['Shift+F10, Menu', 'Context menu of the selection'],
      ['Esc', 'Close a dialog or menu'],
    ].map(([k, v]) => h('tr', null, h('td', { class: 'mono' }, k), h('td', null, v)));
    d.body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'grid' }, h('tbody', null, rows, extra))));
    d.button('Close', () => d.close(), { primary: true });
    d.show();
  }

  about() {
    const d = new Dialog({ title: 'About wiresift' });
    d.body.append(h('p', null, 'wiresift — a network troubleshooting toolkit.'), h('p', { class: 'muted' }, 'This workbench talks to the local wiresift server only.'));
    d.button('OK', () => d.close(), { primary: true });
    d.show();
  }
}

/** @param {string} addr */
function addrField(addr) {
  if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(addr)) return 'eth.addr';
  if (addr.includes(':')) return 'ipv6.addr';
  return 'ip.addr';
}

/** @param {Node} el @param {...Node} kids */
function append(el, ...kids) {
  for (const k of kids) el.appendChild(k);
}

const app = new App();
/** For the browser tests and the console. */
Object.defineProperty(window, 'wiresift', { value: app });
app.start();
