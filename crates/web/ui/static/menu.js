// Menu bar, dropdown menus, submenus and context menus, all keyboard-navigable:
// Alt+letter opens a menu, arrows move (Left/Right between menus and into/out of submenus),
// Enter/Space activate, Esc closes and gives focus back.

import { h } from './dom.js';

/**
 * @typedef {{
 *   label: string, accel?: string, hint?: string, action?: () => void,
 *   submenu?: MenuItem[] | (() => MenuItem[]),
 *   checked?: () => boolean, radio?: boolean, enabled?: () => boolean, id?: string,
 * } | 'sep'} MenuItem
 */
/** @typedef {{label: string, mnemonic: string, items: () => MenuItem[]}} TopMenu */

/** @typedef {{el: HTMLElement, items: Exclude<MenuItem, 'sep'>[], nodes: HTMLElement[], index: number}} Level */

/** The menu chain open now (only one at a time). */
/** @type {{levels: Level[], restore: Element | null, onClose?: () => void, bar?: MenuBar} | null} */
let open = null;

/** `Ctrl+ArrowDown` → `Ctrl+↓`. @param {string} k */
export function prettyKey(k) {
  return k.replace('ArrowDown', '↓').replace('ArrowUp', '↑').replace('ArrowLeft', '←').replace('ArrowRight', '→');
}

/** @param {MenuItem} it */
const enabled = (it) => it !== 'sep' && (!it.enabled || it.enabled());

export function menuOpen() {
  return open !== null;
}

export function closeMenus() {
  if (!open) return;
  const o = open;
  open = null;
  for (const l of o.levels) l.el.remove();
  o.bar?.markOpen(-1);
  document.removeEventListener('pointerdown', onOutside, true);
  if (o.restore instanceof HTMLElement && o.restore.isConnected) o.restore.focus();
  o.onClose?.();
}

/** Where the pointer was last seen (menus opening under it ignore it until it moves). */
const lastPointer = { x: -1, y: -1 };
document.addEventListener('pointermove', (e) => {
  lastPointer.x = e.clientX;
  lastPointer.y = e.clientY;
}, true);

/** @param {PointerEvent} e */
function onOutside(e) {
  if (!open) return;
  const t = /** @type {Node} */ (e.target);
  if (open.levels.some((l) => l.el.contains(t))) return;
  if (open.bar && open.bar.root.contains(t)) return;
  closeMenus();
}

/**
 * Builds one popup level.
 * @param {MenuItem[]} items
 * @param {number} x
 * @param {number} y
 * @param {{alignRight?: number}} [opts]
 * @returns {Level}
 */
function buildLevel(items, x, y, opts = {}) {
  const el = h('div', { class: 'menu', role: 'menu', tabindex: '-1' });
  /** @type {Exclude<MenuItem, 'sep'>[]} */
  const real = [];
  /** @type {HTMLElement[]} */
  const nodes = [];
  for (const it of items) {
    if (it === 'sep') {
      el.appendChild(h('div', { class: 'menu-sep', role: 'separator' }));
      continue;
    }
    const ok = enabled(it);
    const checked = it.checked ? it.checked() : null;
    const node = h(
      'div',
      {
        class: 'menu-item' + (ok ? '' : ' disabled'),
        role: checked == null ? 'menuitem' : it.radio ? 'menuitemradio' : 'menuitemcheckbox',
        tabindex: '-1',
        'aria-disabled': ok ? null : 'true',
        'aria-checked': checked == null ? null : String(checked),
        'aria-haspopup': it.submenu ? 'menu' : null,
        'data-id': it.id ?? null,
      },
      h('span', { class: 'menu-check' }, checked ? (it.radio ? '●' : '✓') : ''),
      h('span', { class: 'menu-label' }, it.label),
      h('span', { class: 'menu-accel' }, prettyKey(it.accel ?? it.hint ?? '')),
      h('span', { class: 'menu-arrow' }, it.submenu ? '▸' : ''),
    );
    real.push(it);
    nodes.push(node);
    el.appendChild(node);
  }
  document.body.appendChild(el);
  // Keep it on screen.
  const r = el.getBoundingClientRect();
  let left = x;
  if (left + r.width > innerWidth - 2) left = opts.alignRight != null ? opts.alignRight - r.width : innerWidth - r.width - 2;
  let top = y;
  if (top + r.height > innerHeight - 2) top = Math.max(2, innerHeight - r.height - 2);
  el.style.left = `${Math.max(0, left)}px`;
  el.style.top = `${top}px`;
  /** @type {Level} */
  const level = { el, items: real, nodes, index: -1 };
  // A menu that opens under a resting pointer must not take the item under it: only a real
  // move of the pointer selects by hovering.
  const rest = { ...lastPointer };
  nodes.forEach((n, i) => {
    n.addEventListener('pointermove', (e) => {
      if (!open || (e.clientX === rest.x && e.clientY === rest.y)) return;
      const li = open.levels.indexOf(level);
      if (li < 0 || (open.levels[li].index === i && open.levels.length > li + 1)) return;
      if (open.levels[li].index === i && !real[i].submenu) return;
      focusItem(li, i);
      if (real[i].submenu && enabled(real[i])) openSub(li);
      else closeFrom(li + 1);
    });
    n.addEventListener('click', (e) => {
      e.stopPropagation();
      if (!open) return;
      const li = open.levels.indexOf(level);
      focusItem(li, i);
      activate(li);
    });
  });
  el.addEventListener('contextmenu', (e) => e.preventDefault());
  return level;
}

/** @param {number} li @param {number} i */
function focusItem(li, i) {
  if (!open) return;
  const l = open.levels[li];
  l.index = i;
  l.nodes.forEach((n, j) => n.classList.toggle('active', j === i));
  l.nodes[i]?.focus();
}

/** Closes levels `from` and deeper. @param {number} from */
function closeFrom(from) {
  if (!open) return;
  while (open.levels.length > from) open.levels.pop()?.el.remove();
}

/** @param {number} li */
function openSub(li) {
  if (!open) return;
  const l = open.levels[li];
  const it = l.items[l.index];
  if (!it?.submenu) return;
  if (open.levels.length > li + 1) return;
  const items = typeof it.submenu === 'function' ? it.submenu() : it.submenu;
  const r = l.nodes[l.index].getBoundingClientRect();
  const sub = buildLevel(items, r.right - 2, r.top - 3, { alignRight: r.left + 2 });
  open.levels.push(sub);
}

/** @param {number} li */
function activate(li) {
  if (!open) return;
  const l = open.levels[li];
  const it = l.items[l.index];
  if (!it || !enabled(it)) return;
  if (it.submenu) {
    openSub(li);
    const sub = open.levels[li + 1];
    if (sub) focusItem(li + 1, firstEnabled(sub, 0, 1));
    return;
  }
  const action = it.action;
  // Close first so that the action may open a dialog that takes the focus.
  closeMenus();
  action?.();
}

/** @param {Level} l @param {number} from @param {number} step */
function firstEnabled(l, from, step) {
  const n = l.nodes.length;
  for (let k = 0; k < n; k++) {
    const i = (((from + k * step) % n) + n) % n;
    if (enabled(l.items[i])) return i;
  }
  return -1;
}

/** @param {KeyboardEvent} e */
function onKey(e) {
  if (!open) return false;
  const li = open.levels.length - 1;
  const l = open.levels[li];
  switch (e.key) {
    case 'ArrowDown':
      focusItem(li, firstEnabled(l, l.index + 1, 1));
      break;
    case 'ArrowUp':
      focusItem(li, firstEnabled(l, l.index < 0 ? l.nodes.length - 1 : l.index - 1, -1));
      break;
    case 'Home':
      focusItem(li, firstEnabled(l, 0, 1));
      break;
    case 'End':
      focusItem(li, firstEnabled(l, l.nodes.length - 1, -1));
      break;
    case 'ArrowRight':
      if (l.items[l.index]?.submenu && enabled(l.items[l.index])) activate(li);
      else if (open.bar) open.bar.step(1);
      break;
    case 'ArrowLeft':
      if (li > 0) {
        closeFrom(li);
        focusItem(li - 1, open.levels[li - 1].index);
      } else if (open.bar) open.bar.step(-1);
      break;
    case 'Enter':
    case ' ':
      if (l.index >= 0) activate(li);
      break;
    case 'Escape':
      if (li > 0) {
        closeFrom(li);
        focusItem(li - 1, open.levels[li - 1].index);
      } else closeMenus();
      break;
    case 'Tab':
      closeMenus();
      break;
    default: {
      if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
        // Type-ahead: the next item whose label starts with the letter.
        const c = e.key.toLowerCase();
        const n = l.nodes.length;
        for (let k = 1; k <= n; k++) {
          const i = (l.index + k) % n;
          if (enabled(l.items[i]) && l.items[i].label.toLowerCase().startsWith(c)) {
            focusItem(li, i);
            break;
          }
        }
        break;
      }
      return false;
    }
  }
  e.preventDefault();
  e.stopPropagation();
  return true;
}

document.addEventListener('keydown', (e) => {
  if (open) onKey(e);
}, true);

/**
 * Opens a context menu at (x, y).
 * @param {number} x
 * @param {number} y
 * @param {MenuItem[]} items
 * @param {{onClose?: () => void, focusFirst?: boolean}} [opts]
 */
export function contextMenu(x, y, items, opts = {}) {
  closeMenus();
  const restore = document.activeElement;
  const level = buildLevel(items, x, y);
  open = { levels: [level], restore, onClose: opts.onClose };
  document.addEventListener('pointerdown', onOutside, true);
  focusItem(0, firstEnabled(level, 0, 1));
}

export class MenuBar {
  /**
   * @param {HTMLElement} root
   * @param {TopMenu[]} menus
   */
  constructor(root, menus) {
    this.root = root;
    this.menus = menus;
    root.setAttribute('role', 'menubar');
    /** @type {HTMLElement[]} */
    this.buttons = menus.map((m, i) => {
      const at = m.label.toLowerCase().indexOf(m.mnemonic.toLowerCase());
      const label = at < 0 ? [m.label] : [m.label.slice(0, at), h('u', null, m.label[at]), m.label.slice(at + 1)];
      const b = h('div', { class: 'menubar-item', role: 'menuitem', tabindex: '-1', 'aria-haspopup': 'menu', 'data-menu': m.label }, label);
      b.addEventListener('pointerdown', (e) => {
        e.preventDefault();
        if (open?.bar === this && this.current === i) closeMenus();
        else this.openMenu(i, false);
      });
      b.addEventListener('pointerenter', () => {
        if (open?.bar === this && this.current !== i) this.openMenu(i, false);
      });
      root.appendChild(b);
      return b;
    });
    this.current = -1;
  }

  /** @param {number} i */
  markOpen(i) {
    this.current = i;
    this.buttons.forEach((b, j) => {
      b.classList.toggle('open', j === i);
      b.setAttribute('aria-expanded', String(j === i));
    });
  }

  /**
   * @param {number} i
   * @param {boolean} focusFirst
   */
  openMenu(i, focusFirst) {
    const restore = open ? open.restore : document.activeElement;
    if (open) {
      const o = open;
      for (const l of o.levels) l.el.remove();
      open = null;
    }
    const r = this.buttons[i].getBoundingClientRect();
    const level = buildLevel(this.menus[i].items(), r.left, r.bottom);
    open = { levels: [level], restore, bar: this };
    document.addEventListener('pointerdown', onOutside, true);
    this.markOpen(i);
    if (focusFirst) focusItem(0, firstEnabled(level, 0, 1));
    else level.el.focus();
  }

  /** @param {number} d */
  step(d) {
    const n = this.menus.length;
    this.openMenu((this.current + d + n) % n, true);
  }

  /**
   * Alt+letter: opens the menu with that mnemonic.
   * @param {KeyboardEvent} e
   */
  handleAlt(e) {
    if (!e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return false;
    const letter = e.code.startsWith('Key') ? e.code.slice(3).toLowerCase() : e.key.toLowerCase();
    const i = this.menus.findIndex((m) => m.mnemonic.toLowerCase() === letter);
    if (i < 0) return false;
    e.preventDefault();
    this.openMenu(i, true);
    return true;
  }
}

/**
 * Every accelerator of a menu tree: key name (as dom.keyName makes it) → item.
 * @param {MenuItem[]} items
 * @param {Map<string, Exclude<MenuItem, 'sep'>>} [into]
 */
export function accelerators(items, into = new Map()) {
  for (const it of items) {
    if (it === 'sep') continue;
    if (it.accel) into.set(it.accel, it);
    if (it.submenu) accelerators(typeof it.submenu === 'function' ? it.submenu() : it.submenu, into);
  }
  return into;
}

/** Runs an item if it is enabled. @param {Exclude<MenuItem, 'sep'>} it */
export function runItem(it) {
  if (enabled(it) && it.action) it.action();
}

