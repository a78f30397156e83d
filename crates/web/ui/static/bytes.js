// The bytes pane: Wireshark's hex dump (offset, 16 hex bytes, ASCII with '.' for what is not
// printable), one tab per data source of the frame (Frame, Reassembled TCP, Decrypted TLS).
// Lines are virtually scrolled (a reassembled body may be megabytes).

import { h, clear, fromHex } from './dom.js';
import { VScroll } from './vscroll.js';

/** @typedef {import('./api.js').BytesTab} BytesTab */

const LINE_H = 16;

/**
 * Printable ASCII (as Wireshark's hex dump shows it) or '.'.
 * @param {number} b
 */
export function asciiChar(b) {
  return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
}

/**
 * One line of the hex dump as plain text (used by Copy > ...as Hex Dump).
 * @param {Uint8Array} data
 * @param {number} off
 * @param {number} width digits of the offset
 */
export function dumpLine(data, off, width) {
  let hex = '';
  let asc = '';
  for (let i = 0; i < 16; i++) {
    const b = data[off + i];
    if (off + i < data.length) {
      hex += b.toString(16).padStart(2, '0') + ' ';
      asc += asciiChar(b);
    } else {
      hex += '   ';
      asc += ' ';
    }
    if (i === 7) {
      hex += ' ';
      asc += ' ';
    }
  }
  return `${off.toString(16).padStart(width, '0')}  ${hex} ${asc}`.trimEnd();
}

export class BytesPane {
  /**
   * @param {HTMLElement} root
   * @param {{onByte: (tab: number, offset: number) => void}} on
   */
  constructor(root, on) {
    this.root = root;
    this.on = on;
    this.tabsBar = h('div', { class: 'bytes-tabs', role: 'tablist', 'aria-label': 'Data sources' });
    this.spacer = h('div', { class: 'bytes-spacer' });
    this.layer = h('div', { class: 'bytes-layer' });
    this.view = h('div', { class: 'bytes-view mono', tabindex: '0', role: 'region', 'aria-label': 'Packet bytes' }, this.spacer, this.layer);
    root.append(this.view, this.tabsBar);
    this.vs = new VScroll(this.view, this.spacer, this.layer, LINE_H);
    /** @type {{name: string, data: Uint8Array}[]} */
    this.tabs = [];
    this.tab = 0;
    /** @type {[number, number] | null} highlighted [start, end) in the current tab */
    this.hl = null;
    this.width = 4;
    this.view.addEventListener('scroll', () => this.render());
    new ResizeObserver(() => this.render()).observe(this.view);
    this.layer.addEventListener('click', (e) => {
      const t = e.target;
      if (!(t instanceof HTMLElement) || t.dataset.o == null) return;
      this.on.onByte(this.tab, Number(t.dataset.o));
    });
    this.view.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
        if (this.tabs.length < 2) return;
        e.preventDefault();
        this.selectTab((this.tab + (e.key === 'ArrowRight' ? 1 : this.tabs.length - 1)) % this.tabs.length);
      }
    });
  }

  /** @param {BytesTab[]} tabs */
  show(tabs) {
    this.tabs = tabs.map((t) => ({ name: t.name, data: fromHex(t.hex) }));
    this.hl = null;
    clear(this.tabsBar);
    this.tabs.forEach((t, i) => {
      const b = h('button', { type: 'button', class: 'bytes-tab', role: 'tab', tabindex: '-1', 'aria-selected': 'false', onclick: () => this.selectTab(i) }, t.name);
      this.tabsBar.appendChild(b);
    });
    this.tabsBar.classList.toggle('hidden', this.tabs.length < 2);
    this.selectTab(0);
  }

  clear() {
    this.show([]);
  }

  /** @param {number} i */
  selectTab(i) {
    this.tab = Math.max(0, Math.min(i, this.tabs.length - 1));
    [...this.tabsBar.children].forEach((b, j) => {
      b.classList.toggle('active', j === this.tab);
      b.setAttribute('aria-selected', String(j === this.tab));
    });
    const data = this.tabs[this.tab]?.data ?? new Uint8Array();
    this.width = Math.max(4, Math.max(1, data.length - 1).toString(16).length);
    this.vs.setCount(Math.ceil(data.length / 16));
    this.view.scrollTop = 0;
    this.render();
  }

  /**
   * Highlights bytes [start, end) of tab `tab` (switching to it) and scrolls them into view.
   * @param {number | null | undefined} tab
   * @param {number | null | undefined} start
   * @param {number | null | undefined} end
   */
  highlight(tab, start, end) {
    if (start == null || end == null || end <= start) {
      this.hl = null;
      this.render();
      return;
    }
    const t = tab ?? 0;
    if (t !== this.tab && t < this.tabs.length) this.selectTab(t);
    this.hl = [start, end];
    this.vs.ensureVisible(Math.floor(start / 16));
    this.render();
  }

  render() {
    const data = this.tabs[this.tab]?.data;
    clear(this.layer);
    if (!data) return;
    const { first, last } = this.vs.range(4);
    const [hs, he] = this.hl ?? [-1, -1];
    const frag = document.createDocumentFragment();
    for (let line = first; line < last; line++) {
      const off = line * 16;
      const div = h('div', { class: 'bline' }, h('span', { class: 'boff' }, off.toString(16).padStart(this.width, '0')), '  ');
      const hex = h('span', { class: 'bhex' });
      const asc = h('span', { class: 'basc' });
      for (let i = 0; i < 16; i++) {
        const o = off + i;
        if (o >= data.length) break;
        const inHl = o >= hs && o < he;
        const cls = inHl ? 'b hl' : 'b';
        const sep = i === 7 ? '  ' : ' ';
        // The space after a highlighted byte is highlighted too when the next one is.
        hex.appendChild(h('span', { class: cls, 'data-o': o }, data[o].toString(16).padStart(2, '0')));
        hex.appendChild(o + 1 < he && inHl && i !== 15 ? h('span', { class: 'hl' }, sep) : document.createTextNode(sep));
        asc.appendChild(h('span', { class: cls, 'data-o': o }, asciiChar(data[o])));
        if (i === 7) asc.appendChild(inHl && o + 1 < he ? h('span', { class: 'hl' }, ' ') : document.createTextNode(' '));
      }
      // Pad a short last line so the ASCII column stays aligned.
      const n = Math.min(16, data.length - off);
      if (n < 16) hex.appendChild(document.createTextNode(' '.repeat((16 - n) * 3 + (n <= 7 ? 1 : 0))));
      div.append(hex, ' ', asc);
      frag.appendChild(div);
    }
    this.layer.appendChild(frag);
  }
}
