// The display filter bar: live syntax check (green/red), the error with its caret under the bar,
// field-name completion, history and saved filter buttons (both in localStorage).

import { h, clear, debounce, replace } from './dom.js';
import { api } from './api.js';
import { contextMenu } from './menu.js';
import { prompt } from './dialogs.js';

/** @typedef {import('./api.js').FieldInfo} FieldInfo */

const HISTORY_KEY = 'wiresift.filter.history';
const SAVED_KEY = 'wiresift.filter.saved';
const HISTORY_MAX = 30;

/**
 * @template T
 * @param {string} key
 * @param {T} dflt
 * @returns {T}
 */
function load(key, dflt) {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? 'null');
    return v ?? dflt;
  } catch {
    return dflt;
  }
}

/**
 * The field name being typed at the caret: its start and text.
 * @param {string} text
 * @param {number} caret
 */
export function tokenAt(text, caret) {
  let s = caret;
  while (s > 0 && /[A-Za-z0-9_.-]/.test(text[s - 1])) s--;
  let e = caret;
  while (e < text.length && /[A-Za-z0-9_.-]/.test(text[e])) e++;
  const tok = text.slice(s, caret);
  // Not inside a string literal.
  const quotes = (text.slice(0, s).match(/(?<!\\)"/g) ?? []).length;
  if (quotes % 2 === 1 || !/^[A-Za-z][A-Za-z0-9_.-]*$/.test(tok)) return null;
  // Not the value of a relation (`tcp.port == 8`): after an operator comes a value.
  const before = text.slice(0, s).trimEnd();
  if (/(==|!=|===|!==|~=|<=|>=|<|>|\b(eq|ne|lt|le|gt|ge|contains|matches|in|any_eq|all_eq|all_ne|any_ne)|~)$/.test(before)) {
    if (/^\d/.test(tok)) return null;
  }
  return { start: s, end: e, text: tok };
}

export class FilterBar {
  /**
   * @param {HTMLElement} root
   * @param {{apply: (expr: string) => Promise<boolean>}} on apply returns whether it worked
   */
  constructor(root, on) {
    this.root = root;
    this.on = on;
    this.input = h('input', {
      type: 'text', class: 'filter-input', id: 'filter-input', spellcheck: 'false', autocomplete: 'off',
      placeholder: 'Apply a display filter … <Ctrl-/>', 'aria-label': 'Display filter',
      role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'filter-completions',
    });
    this.bookmark = h('button', { type: 'button', class: 'fb-btn fb-bookmark', title: 'Saved filters', 'aria-label': 'Saved filters', tabindex: '-1' }, '☰');
    this.clearBtn = h('button', { type: 'button', class: 'fb-btn fb-clear', title: 'Clear display filter', 'aria-label': 'Clear display filter', tabindex: '-1' }, '✕');
    this.historyBtn = h('button', { type: 'button', class: 'fb-btn fb-history', title: 'Recent filters', 'aria-label': 'Recent filters', tabindex: '-1' }, '▾');
    this.applyBtn = h('button', { type: 'button', class: 'fb-btn fb-apply', title: 'Apply display filter (Enter)', 'aria-label': 'Apply display filter' }, '→');
    this.saveBtn = h('button', { type: 'button', class: 'fb-btn fb-save', title: 'Save this filter as a button', 'aria-label': 'Save this filter as a button' }, '+');
    this.savedBox = h('div', { class: 'fb-saved', role: 'toolbar', 'aria-label': 'Filter buttons' });
    this.wrap = h('div', { class: 'fb-wrap' }, this.bookmark, this.input, this.clearBtn, this.historyBtn, this.applyBtn);
    this.errorBox = h('div', { class: 'filter-error hidden', role: 'alert', id: 'filter-error' });
    this.comp = h('div', { class: 'completions hidden', role: 'listbox', id: 'filter-completions' });
    replace(root, h('div', { class: 'fb-line' }, this.wrap, this.saveBtn, this.savedBox), this.errorBox, this.comp);

    /** @type {string[]} */
    this.history = load(HISTORY_KEY, []);
    /** @type {{label: string, expr: string}[]} */
    this.saved = load(SAVED_KEY, []);
    /** @type {AbortController | null} */
    this.checkCtl = null;
    /** @type {AbortController | null} */
    this.compCtl = null;
    /** @type {FieldInfo[]} */
    this.compItems = [];
    this.compIndex = -1;
    /** @type {{start: number, end: number, text: string} | null} */
    this.compTok = null;
    /** The filter applied to the current session (the bar may hold an edited one). */
    this.applied = '';

    this.check = debounce(() => this.runCheck(), 150);
    this.complete = debounce(() => this.runComplete(), 150);
    this.input.addEventListener('input', () => {
      this.check();
      this.complete();
    });
    this.input.addEventListener('keydown', (e) => this.onKey(e));
    this.input.addEventListener('blur', () => setTimeout(() => {
      if (document.activeElement !== this.input) this.hideCompletions();
    }, 150));
    this.applyBtn.addEventListener('click', () => this.apply());
    this.clearBtn.addEventListener('click', () => {
      this.set('');
      this.apply();
    });
    this.historyBtn.addEventListener('click', () => this.showHistory());
    this.bookmark.addEventListener('click', () => this.showSavedMenu());
    this.saveBtn.addEventListener('click', () => this.saveCurrent());
    this.renderSaved();
  }

  focus() {
    this.input.focus();
    this.input.select();
  }

  get value() {
    return this.input.value;
  }

  /**
   * Puts text in the bar (not applied) and checks it.
   * @param {string} expr
   */
  set(expr) {
    this.input.value = expr;
    this.hideCompletions();
    this.check.cancel();
    this.runCheck();
  }

  /** Sets the bar to the applied filter of a session. @param {string} expr */
  setApplied(expr) {
    this.applied = expr;
    this.set(expr);
  }

  async apply() {
    this.hideCompletions();
    const expr = this.input.value.trim();
    const ok = await this.on.apply(expr);
    if (ok) {
      this.applied = expr;
      if (expr) this.remember(expr);
    }
    return ok;
  }

  /** @param {string} expr */
  remember(expr) {
    this.history = [expr, ...this.history.filter((x) => x !== expr)].slice(0, HISTORY_MAX);
    localStorage.setItem(HISTORY_KEY, JSON.stringify(this.history));
  }

  /**
   * @param {'ok' | 'bad' | 'empty'} state
   */
  setState(state) {
    this.input.classList.toggle('ok', state === 'ok');
    this.input.classList.toggle('bad', state === 'bad');
    this.input.setAttribute('aria-invalid', String(state === 'bad'));
  }

  /**
   * Shows a filter error (from the check or from applying).
   * @param {string | null} message
   * @param {string} [rendered]
   */
  showError(message, rendered) {
    clear(this.errorBox);
    if (!message) {
      this.errorBox.classList.add('hidden');
      return;
    }
    this.errorBox.append(h('div', { class: 'fe-msg' }, message));
    if (rendered) this.errorBox.append(h('pre', { class: 'fe-rendered mono' }, rendered));
    this.errorBox.classList.remove('hidden');
  }

  async runCheck() {
    const expr = this.input.value;
    this.checkCtl?.abort();
    if (!expr.trim()) {
      this.setState('empty');
      this.showError(null);
      return;
    }
    const ctl = new AbortController();
    this.checkCtl = ctl;
    try {
      const r = await api.checkFilter(expr, ctl.signal);
      if (ctl.signal.aborted || expr !== this.input.value) return;
      if (r.ok) {
        this.setState('ok');
        this.showError(null);
      } else {
        this.setState('bad');
        this.showError(r.message ?? 'invalid filter', r.rendered);
      }
    } catch (e) {
      if (!ctl.signal.aborted) this.showError(`filter check failed: ${e instanceof Error ? e.message : e}`);
    }
  }

  async runComplete() {
    const tok = tokenAt(this.input.value, this.input.selectionStart ?? this.input.value.length);
    if (!tok || document.activeElement !== this.input) {
      this.hideCompletions();
      return;
    }
    this.compCtl?.abort();
    const ctl = new AbortController();
    this.compCtl = ctl;
    try {
      const r = await api.fields(tok.text, 50, ctl.signal);
      if (ctl.signal.aborted) return;
      const items = r.fields.filter((f) => f.name !== tok.text || r.fields.length > 1);
      if (!items.length || (items.length === 1 && items[0].name === tok.text)) {
        this.hideCompletions();
        return;
      }
      this.compTok = tok;
      this.showCompletions(items);
    } catch {
      if (!ctl.signal.aborted) this.hideCompletions();
    }
  }

  /** @param {FieldInfo[]} items */
  showCompletions(items) {
    this.compItems = items;
    this.compIndex = -1;
    clear(this.comp);
    items.forEach((f, i) => {
      const el = h('div', { class: 'comp-item', role: 'option', id: `comp-${i}`, 'aria-selected': 'false' },
        h('span', { class: 'comp-name' }, f.name), h('span', { class: 'comp-desc' }, f.desc));
      el.addEventListener('pointerdown', (e) => {
        e.preventDefault();
        this.accept(i);
      });
      this.comp.appendChild(el);
    });
    const r = this.input.getBoundingClientRect();
    const rr = this.root.getBoundingClientRect();
    this.comp.style.left = `${r.left - rr.left}px`;
    this.comp.style.minWidth = `${Math.min(r.width, 520)}px`;
    this.comp.classList.remove('hidden');
    this.input.setAttribute('aria-expanded', 'true');
  }

  hideCompletions() {
    this.compCtl?.abort();
    this.complete.cancel();
    this.compItems = [];
    this.compIndex = -1;
    this.comp.classList.add('hidden');
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  /** @param {number} i */
  moveCompletion(i) {
    const n = this.compItems.length;
    this.compIndex = ((i % n) + n) % n;
    [...this.comp.children].forEach((el, j) => {
      el.classList.toggle('active', j === this.compIndex);
      el.setAttribute('aria-selected', String(j === this.compIndex));
      if (j === this.compIndex) el.scrollIntoView({ block: 'nearest' });
    });
    this.input.setAttribute('aria-activedescendant', `comp-${this.compIndex}`);
  }

  /** @param {number} i */
  accept(i) {
    const f = this.compItems[i];
    const tok = this.compTok;
    if (!f || !tok) return;
    const v = this.input.value;
    this.input.value = v.slice(0, tok.start) + f.name + v.slice(tok.end);
    const caret = tok.start + f.name.length;
    this.input.setSelectionRange(caret, caret);
    this.hideCompletions();
    this.check();
  }

  /** @param {KeyboardEvent} e */
  onKey(e) {
    const open = this.compItems.length > 0 && !this.comp.classList.contains('hidden');
    if (open) {
      if (e.key === 'ArrowDown') {
        e.preventDefault();
        this.moveCompletion(this.compIndex + 1);
        return;
      }
      if (e.key === 'ArrowUp') {
        e.preventDefault();
        this.moveCompletion(this.compIndex - 1);
        return;
      }
      if (e.key === 'Tab' || (e.key === 'Enter' && this.compIndex >= 0)) {
        e.preventDefault();
        this.accept(this.compIndex >= 0 ? this.compIndex : 0);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        this.hideCompletions();
        return;
      }
    }
    if (e.key === 'Enter') {
      e.preventDefault();
      this.apply();
    } else if (e.key === 'Escape') {
      // Back to the applied filter.
      if (this.input.value !== this.applied) {
        e.preventDefault();
        this.set(this.applied);
      }
    } else if (e.key === 'ArrowDown' && e.altKey) {
      e.preventDefault();
      this.showHistory();
    }
  }

  showHistory() {
    const r = this.input.getBoundingClientRect();
    const items = this.history.length
      ? this.history.map((expr) => ({ label: expr, action: () => { this.set(expr); this.apply(); } }))
      : [{ label: '(no recent filters)', enabled: () => false }];
    contextMenu(r.left, r.bottom, [...items, 'sep', { label: 'Clear history', enabled: () => this.history.length > 0, action: () => {
      this.history = [];
      localStorage.setItem(HISTORY_KEY, '[]');
    } }]);
  }

  showSavedMenu() {
    const r = this.bookmark.getBoundingClientRect();
    /** @type {import('./menu.js').MenuItem[]} */
    const items = [
      { label: 'Save this filter…', enabled: () => this.input.value.trim() !== '', action: () => this.saveCurrent() },
      'sep',
      ...this.saved.map((s, i) => ({ label: `${s.label}: ${s.expr}`, submenu: [
        { label: 'Apply', action: () => { this.set(s.expr); this.apply(); } },
        { label: 'Prepare', action: () => this.set(s.expr) },
        { label: 'Remove button', action: () => this.removeSaved(i) },
      ] })),
    ];
    contextMenu(r.left, r.bottom, items);
  }

  async saveCurrent() {
    const expr = this.input.value.trim();
    if (!expr) {
      this.input.focus();
      return;
    }
    const label = await prompt({ title: 'Save Filter Button', label: 'Label:', value: expr.length > 24 ? expr.slice(0, 24) + '…' : expr, ok: 'Save' });
    if (label == null || !label.trim()) return;
    this.saved.push({ label: label.trim(), expr });
    localStorage.setItem(SAVED_KEY, JSON.stringify(this.saved));
    this.renderSaved();
  }

  /** @param {number} i */
  removeSaved(i) {
    this.saved.splice(i, 1);
    localStorage.setItem(SAVED_KEY, JSON.stringify(this.saved));
    this.renderSaved();
  }

  renderSaved() {
    clear(this.savedBox);
    this.saved.forEach((s, i) => {
      const b = h('button', { type: 'button', class: 'fb-saved-btn', title: s.expr }, s.label);
      b.addEventListener('click', () => {
        this.set(s.expr);
        this.apply();
      });
      b.addEventListener('contextmenu', (e) => {
        e.preventDefault();
        contextMenu(e.clientX, e.clientY, [
          { label: 'Apply', action: () => { this.set(s.expr); this.apply(); } },
          { label: 'Prepare', action: () => this.set(s.expr) },
          { label: 'Remove button', action: () => this.removeSaved(i) },
        ]);
      });
      this.savedBox.appendChild(b);
    });
  }
}
