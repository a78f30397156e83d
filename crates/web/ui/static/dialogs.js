// Dialogs: a <dialog> wrapper (modal: the page behind is inert and Tab stays inside; non-modal:
// a movable window), Esc closes every one of them and the focus goes back where it was; and
// the small dialogs: Go to Packet, Export Specified Packets, TLS keys, saving a filter, messages.

import { h, size } from './dom.js';
import { api, ApiError } from './api.js';

/** @typedef {import('./app.js').App} App */

const FOCUSABLE = 'input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), button:not([disabled]), [tabindex]:not([tabindex="-1"]), a[href]';

/** Stacking order for non-modal windows. */
let zTop = 100;

export class Dialog {
  /**
   * @param {{title: string, modal?: boolean, className?: string, onClose?: () => void}} opts
   */
  constructor(opts) {
    this.modal = opts.modal ?? true;
    this.onClose = opts.onClose;
    /** @type {Element | null} */
    this.restore = null;
    this.titleEl = h('span', { class: 'dialog-title-text' }, opts.title);
    const closeBtn = h('button', { class: 'dialog-x', type: 'button', 'aria-label': 'Close', title: 'Close (Esc)', tabindex: '-1', onclick: () => this.close() }, '×');
    this.header = h('div', { class: 'dialog-title' }, this.titleEl, closeBtn);
    this.body = h('div', { class: 'dialog-body' });
    this.footer = h('div', { class: 'dialog-footer' });
    this.el = h('dialog', { class: `dialog ${opts.className ?? ''} ${this.modal ? 'modal' : 'window'}`, 'aria-label': opts.title }, this.header, this.body, this.footer);
    this.el.addEventListener('cancel', (e) => {
      e.preventDefault();
      this.close();
    });
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !e.defaultPrevented) {
        e.preventDefault();
        e.stopPropagation();
        this.close();
      } else if (e.key === 'Tab') {
        this.trapTab(e);
      }
    });
    if (!this.modal) {
      this.el.addEventListener('pointerdown', () => {
        this.el.style.zIndex = String(++zTop);
      });
      this.draggable();
    }
  }

  /** @param {string} t */
  setTitle(t) {
    this.titleEl.textContent = t;
    this.el.setAttribute('aria-label', t);
  }

  /** @param {KeyboardEvent} e */
  trapTab(e) {
    const f = /** @type {HTMLElement[]} */ ([...this.el.querySelectorAll(FOCUSABLE)]).filter((x) => x.offsetParent !== null || x === document.activeElement);
    if (!f.length) return;
    const first = f[0];
    const last = f[f.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  }

  draggable() {
    this.header.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || e.target instanceof HTMLButtonElement) return;
      const r = this.el.getBoundingClientRect();
      const dx = e.clientX - r.left;
      const dy = e.clientY - r.top;
      this.header.setPointerCapture(e.pointerId);
      /** @param {PointerEvent} m */
      const move = (m) => {
        this.el.style.margin = '0';
        this.el.style.left = `${Math.max(0, Math.min(innerWidth - 60, m.clientX - dx))}px`;
        this.el.style.top = `${Math.max(0, Math.min(innerHeight - 30, m.clientY - dy))}px`;
      };
      const up = () => {
        this.header.removeEventListener('pointermove', move);
        this.header.removeEventListener('pointerup', up);
      };
      this.header.addEventListener('pointermove', move);
      this.header.addEventListener('pointerup', up);
    });
  }

  /**
   * @param {HTMLElement | null} [focus] element to focus (default: the first focusable one)
   */
  show(focus) {
    this.restore = document.activeElement;
    document.body.appendChild(this.el);
    if (this.modal) {
      this.el.showModal();
    } else {
      this.el.show();
      this.el.style.zIndex = String(++zTop);
      // Cascade windows a little.
      const r = this.el.getBoundingClientRect();
      const off = (zTop % 6) * 24;
      this.el.style.margin = '0';
      this.el.style.left = `${Math.max(0, (innerWidth - r.width) / 2 + off - 60)}px`;
      this.el.style.top = `${Math.max(0, (innerHeight - r.height) / 3 + off - 40)}px`;
    }
    const f = focus ?? /** @type {HTMLElement | null} */ (this.body.querySelector(FOCUSABLE) ?? this.footer.querySelector(FOCUSABLE));
    f?.focus();
    return this;
  }

  get isOpen() {
    return this.el.isConnected && this.el.open;
  }

  close() {
    if (!this.el.isConnected) return;
    this.el.close();
    this.el.remove();
    this.onClose?.();
    const r = this.restore;
    if (r instanceof HTMLElement && r.isConnected) r.focus();
  }

  /**
   * Adds a footer button.
   * @param {string} label
   * @param {() => void} action
   * @param {{primary?: boolean, left?: boolean, title?: string}} [opts]
   */
  button(label, action, opts = {}) {
    const b = h('button', { type: 'button', class: `btn ${opts.primary ? 'primary' : ''} ${opts.left ? 'left' : ''}`, title: opts.title ?? null, onclick: action }, label);
    this.footer.appendChild(b);
    return b;
  }
}

/** True while a modal dialog is open (accelerators of the main window are off then). */
export function modalOpen() {
  return document.querySelector('dialog.modal[open]') !== null;
}

/**
 * A message box.
 * @param {string} title
 * @param {string} message
 * @param {string} [detail] monospace text under the message
 */
export function message(title, message, detail) {
  const d = new Dialog({ title, className: 'msg' });
  d.body.append(h('p', null, message));
  if (detail) d.body.append(h('pre', { class: 'mono' }, detail));
  d.button('OK', () => d.close(), { primary: true });
  d.show(/** @type {HTMLElement} */ (d.footer.lastElementChild));
  return d;
}

/**
 * Asks for one line of text.
 * @param {{title: string, label: string, value?: string, placeholder?: string, ok?: string,
 *   validate?: (v: string) => string | null}} o
 * @returns {Promise<string | null>}
 */
export function prompt(o) {
  return new Promise((resolve) => {
    let done = false;
    const d = new Dialog({ title: o.title, className: 'prompt', onClose: () => { if (!done) resolve(null); } });
    const input = h('input', { type: 'text', value: o.value ?? '', placeholder: o.placeholder ?? null, 'aria-label': o.label, spellcheck: 'false' });
    const err = h('div', { class: 'error-text' });
    const ok = () => {
      const msg = o.validate?.(input.value) ?? null;
      if (msg) {
        err.textContent = msg;
        input.focus();
        return;
      }
      done = true;
      resolve(input.value);
      d.close();
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        ok();
      }
    });
    d.body.append(h('label', { class: 'field' }, h('span', null, o.label), input), err);
    d.button(o.ok ?? 'OK', ok, { primary: true });
    d.button('Cancel', () => d.close());
    d.show(input);
    input.select();
  });
}

/**
 * Go > Go to Packet (Ctrl+G).
 * @param {App} app
 */
export async function goToPacketDialog(app) {
  const s = app.current;
  if (!s) return;
  const v = await prompt({
    title: 'Go to Packet',
    label: 'Packet number:',
    validate: (v) => (/^\s*\d+\s*$/.test(v) && Number(v) >= 1 ? null : 'Enter a packet number (1 or more).'),
    ok: 'Go to packet',
  });
  if (v == null) return;
  await app.goToFrame(Number(v));
}

/**
 * File > Export Specified Packets.
 * @param {App} app
 */
export function exportSpecifiedDialog(app) {
  const s = app.current;
  if (!s) return;
  const d = new Dialog({ title: 'Export Specified Packets', className: 'export-specified' });
  /** @param {string} v @param {string} label @param {boolean} [checked] */
  const radio = (v, label, checked) =>
    h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'which', value: v, checked: !!checked }), ` ${label}`);
  const range = h('input', { type: 'text', placeholder: '1-10,20', 'aria-label': 'Range', spellcheck: 'false' });
  const format = h('select', { 'aria-label': 'Format' }, h('option', { value: 'pcapng' }, 'pcapng'), h('option', { value: 'pcap' }, 'pcap'));
  const name = h('input', { type: 'text', value: s.name.replace(/\.(pcapng|pcap|cap)(\.gz)?$/i, '') + '-export', 'aria-label': 'File name', spellcheck: 'false' });
  const displayedCount = s.filter ? `${app.list.total} displayed` : 'no filter';
  const err = h('div', { class: 'error-text' });
  d.body.append(
    h('fieldset', null,
      h('legend', null, 'Packet Range'),
      radio('all', `All packets (${s.status?.frames ?? '?'})`, !s.filter),
      radio('displayed', `Displayed (${displayedCount})`, !!s.filter),
      radio('marked', `Marked packets only (${s.marked})`),
      h('div', { class: 'row' }, radio('range', 'Range:'), range),
    ),
    h('div', { class: 'row' }, h('label', { class: 'field' }, h('span', null, 'Format:'), format)),
    h('div', { class: 'row' }, h('label', { class: 'field' }, h('span', null, 'File name:'), name)),
    err,
  );
  range.addEventListener('focus', () => {
    /** @type {HTMLInputElement} */ (d.body.querySelector('input[value=range]')).checked = true;
  });
  const save = () => {
    const which = /** @type {HTMLInputElement | null} */ (d.body.querySelector('input[name=which]:checked'))?.value ?? 'all';
    if (which === 'range' && !/^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$/.test(range.value)) {
      err.textContent = 'Range: numbers and ranges separated by commas, e.g. 1-10,20';
      range.focus();
      return;
    }
    /** @type {Record<string, string>} */
    const q = { format: format.value, which };
    if (s.filter && (which === 'displayed')) q.filter = s.filter;
    if (which === 'range') q.range = range.value.replace(/\s+/g, '');
    const ext = format.value === 'pcap' ? '.pcap' : '.pcapng';
    app.download(api.saveUrl(s.id, q), (name.value || 'export') + ext);
    d.close();
  };
  d.body.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !(e.target instanceof HTMLSelectElement)) {
      e.preventDefault();
      save();
    }
  });
  d.button('Save', save, { primary: true });
  d.button('Cancel', () => d.close());
  d.show(/** @type {HTMLElement} */ (d.body.querySelector('input[name=which]:checked')));
}

/**
 * Edit > TLS Keys: a key log file or an RSA private key for the current capture.
 * @param {App} app
 */
export function tlsKeysDialog(app) {
  const s = app.current;
  if (!s) return;
  const d = new Dialog({ title: 'TLS Keys', className: 'tls-keys' });
  const kind = h('select', { 'aria-label': 'Kind of key' },
    h('option', { value: 'keylog' }, '(Pre)-Master-Secret log (SSLKEYLOGFILE)'),
    h('option', { value: 'rsa' }, 'RSA private key (PEM)'));
  const file = h('input', { type: 'file', 'aria-label': 'Key file' });
  const target = h('input', { type: 'text', placeholder: 'IP:PORT (optional)', 'aria-label': 'Server IP:port', spellcheck: 'false', disabled: true });
  const keys = s.status?.keys;
  const now = h('p', { class: 'muted' }, keys ? `Loaded now: ${keys.keylog} key log secrets, ${keys.rsa} RSA keys.` : '');
  const state = h('div', { class: 'status-text', role: 'status' });
  kind.addEventListener('change', () => { target.disabled = kind.value !== 'rsa'; });
  d.body.append(
    h('p', null, 'Decrypts the TLS sessions of this capture. The capture is indexed again with the keys.'),
    h('label', { class: 'field' }, h('span', null, 'Kind:'), kind),
    h('label', { class: 'field' }, h('span', null, 'File:'), file),
    h('label', { class: 'field' }, h('span', null, 'Server:'), target),
    now,
    state,
  );
  const add = async () => {
    const f = file.files?.[0];
    if (!f) {
      state.textContent = 'Choose a file first.';
      file.focus();
      return;
    }
    state.textContent = `Uploading ${f.name} (${size(f.size)})…`;
    try {
      await api.keys(s.id, /** @type {'keylog'|'rsa'} */ (kind.value), f, kind.value === 'rsa' ? target.value.trim() : undefined);
      state.textContent = 'Keys added; indexing again…';
      d.close();
      await app.reindexed(s);
    } catch (e) {
      state.textContent = `Failed: ${e instanceof ApiError || e instanceof Error ? e.message : String(e)}`;
    }
  };
  d.button('Add keys', add, { primary: true });
  d.button('Close', () => d.close());
  d.show(/** @type {HTMLElement} */ (kind));
}

/**
 * Shows an error in a message box.
 * @param {string} what
 * @param {unknown} e
 */
export function showError(what, e) {
  const msg = e instanceof Error ? e.message : String(e);
  const body = e instanceof ApiError ? e.body : null;
  return message('Error', `${what}: ${msg}`, body && typeof body.rendered === 'string' ? body.rendered : undefined);
}

