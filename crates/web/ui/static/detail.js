// The packet detail tree: layers at the first level, fields below; expandable with the mouse
// or Left/Right, Up/Down move, selecting a field highlights its bytes.

import { h, clear, scrollIntoViewWithin } from './dom.js';

/** @typedef {import('./api.js').TreeNode} TreeNode */
/** @typedef {import('./api.js').FrameResp} FrameResp */

/**
 * @typedef {{node: TreeNode, parent: Item | null, depth: number, key: string, el: HTMLElement,
 *   row: HTMLElement, kids: HTMLElement | null, items: Item[]}} Item
 */
/**
 * @typedef {{
 *   onSelect: (node: TreeNode | null) => void,
 *   onContext: (node: TreeNode, x: number, y: number) => void,
 * }} DetailHandlers
 */

export class DetailTree {
  /**
   * @param {HTMLElement} root
   * @param {DetailHandlers} on
   */
  constructor(root, on) {
    this.root = root;
    this.on = on;
    this.list = h('ul', { class: 'tree', role: 'tree', tabindex: '0', 'aria-label': 'Packet details' });
    root.appendChild(this.list);
    /** @type {Item[]} */
    this.top = [];
    /** @type {Map<Element, Item>} */
    this.byEl = new Map();
    /** @type {Item | null} */
    this.selected = null;
    /** Expanded subtrees, kept across packets like Wireshark does (by path of field names). */
    /** @type {Set<string>} */
    this.expanded = new Set();
    /** @type {string | null} key of the selected item, restored on the next packet */
    this.selectedKey = null;
    this.list.addEventListener('keydown', (e) => this.onKey(e));
    this.list.addEventListener('click', (e) => {
      const it = this.itemOf(e.target);
      if (!it) return;
      const onToggle = e.target instanceof Element && e.target.classList.contains('tw');
      this.select(it);
      if (onToggle || e.detail === 2) this.toggle(it);
    });
    this.list.addEventListener('contextmenu', (e) => {
      const it = this.itemOf(e.target);
      if (!it) return;
      e.preventDefault();
      this.select(it);
      this.on.onContext(it.node, e.clientX, e.clientY);
    });
  }

  /** @param {EventTarget | null} t */
  itemOf(t) {
    if (!(t instanceof Element)) return null;
    const li = t.closest('li.tn');
    if (!li) return null;
    return this.byEl.get(li) ?? null;
  }

  /** @param {string} text */
  showMessage(text) {
    clear(this.list);
    this.top = [];
    this.selected = null;
    /** @type {Map<Element, Item>} */
    this.byEl = new Map();
    if (text) this.list.appendChild(h('li', { class: 'tree-msg' }, text));
  }

  /**
   * @param {FrameResp} frame
   */
  show(frame) {
    clear(this.list);
    /** @type {Map<Element, Item>} */
    this.byEl = new Map();
    this.selected = null;
    /**
     * @param {TreeNode} node
     * @param {Item | null} parent
     * @param {number} depth
     * @param {Map<string, number>} seen
     * @returns {Item}
     */
    const build = (node, parent, depth, seen) => {
      const base = node.field || node.label.replace(/:.*$/, '');
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      const key = `${parent ? parent.key : ''}/${base}#${n}`;
      const hasKids = !!node.children?.length;
      const row = h('div', { class: 'tn-row' },
        h('span', { class: 'tw', 'aria-hidden': 'true' }, hasKids ? '' : ' '),
        h('span', { class: 'tn-label' }, node.label));
      row.style.paddingLeft = `${depth * 14 + 2}px`;
      const el = h('li', { class: 'tn', role: 'treeitem', 'aria-selected': 'false' }, row);
      /** @type {Item} */
      const it = { node, parent, depth, key, el, row, kids: null, items: [] };
      if (hasKids) {
        const kids = h('ul', { role: 'group' });
        const childSeen = new Map();
        for (const c of node.children ?? []) {
          const ci = build(c, it, depth + 1, childSeen);
          it.items.push(ci);
          kids.appendChild(ci.el);
        }
        it.kids = kids;
        el.appendChild(kids);
        this.setExpanded(it, this.expanded.has(key));
      }
      this.byEl?.set(el, it);
      return it;
    };
    const seen = new Map();
    this.top = frame.tree.map((n) => build(n, null, 0, seen));
    for (const it of this.top) this.list.appendChild(it.el);
    // Keep the selected field across packets when it exists.
    const again = this.selectedKey ? this.find((it) => it.key === this.selectedKey) : null;
    if (again) this.select(again);
    else this.on.onSelect(null);
  }

  /** @param {Item} it @param {boolean} open */
  setExpanded(it, open) {
    if (!it.kids) return;
    it.el.setAttribute('aria-expanded', String(open));
    it.el.classList.toggle('open', open);
    /** @type {HTMLElement} */ (it.row.firstChild).textContent = open ? '▾' : '▸';
    if (open) this.expanded.add(it.key);
    else this.expanded.delete(it.key);
  }

  /** @param {Item} it */
  toggle(it) {
    if (it.kids) this.setExpanded(it, !it.el.classList.contains('open'));
  }

  /**
   * @param {(it: Item) => boolean} pred
   * @returns {Item | null}
   */
  find(pred) {
    /** @param {Item[]} items @returns {Item | null} */
    const walk = (items) => {
      for (const it of items) {
        if (pred(it)) return it;
        const r = walk(it.items);
        if (r) return r;
      }
      return null;
    };
    return walk(this.top);
  }

  /**
   * Items currently visible (expanded ancestors), in order.
   * @returns {Item[]}
   */
  visible() {
    /** @type {Item[]} */
    const out = [];
    /** @param {Item[]} items */
    const walk = (items) => {
      for (const it of items) {
        out.push(it);
        if (it.kids && it.el.classList.contains('open')) walk(it.items);
      }
    };
    walk(this.top);
    return out;
  }

  /** @param {Item} it */
  select(it) {
    if (this.selected) {
      this.selected.el.classList.remove('selected');
      this.selected.el.setAttribute('aria-selected', 'false');
    }
    this.selected = it;
    this.selectedKey = it.key;
    it.el.classList.add('selected');
    it.el.setAttribute('aria-selected', 'true');
    for (let p = it.parent; p; p = p.parent) this.setExpanded(p, true);
    scrollIntoViewWithin(this.root, it.row);
    this.on.onSelect(it.node);
  }

  /**
   * Selects the deepest field of tab `tab` whose bytes contain `offset`.
   * @param {number} tab
   * @param {number} offset
   */
  selectByOffset(tab, offset) {
    /** @type {Item | null} */
    let best = null;
    /** @param {Item[]} items */
    const walk = (items) => {
      for (const it of items) {
        const n = it.node;
        if (n.start != null && n.end != null && (n.tab ?? 0) === tab && n.start <= offset && offset < n.end) {
          // Deeper (or, at the same depth, narrower) wins.
          if (!best || it.depth > best.depth || (it.depth === best.depth && n.end - n.start < /** @type {number} */ (best.node.end) - /** @type {number} */ (best.node.start))) best = it;
        }
        walk(it.items);
      }
    };
    walk(this.top);
    if (best) this.select(best);
  }

  /** @param {boolean} open */
  expandAll(open) {
    /** @param {Item[]} items */
    const walk = (items) => {
      for (const it of items) {
        this.setExpanded(it, open);
        walk(it.items);
      }
    };
    walk(this.top);
    if (!open && this.selected && this.selected.parent) this.select(this.top.find((t) => t.el.contains(/** @type {Item} */ (this.selected).el)) ?? this.top[0]);
  }

  /** @param {Item} it @param {boolean} open */
  expandSubtree(it, open) {
    this.setExpanded(it, open);
    for (const c of it.items) this.expandSubtree(c, open);
  }

  focus() {
    this.list.focus();
  }

  /** @param {KeyboardEvent} e */
  onKey(e) {
    if (e.altKey || e.metaKey) return;
    const vis = this.visible();
    if (!vis.length) return;
    const cur = this.selected ? vis.indexOf(this.selected) : -1;
    const it = this.selected;
    switch (e.key) {
      case 'ArrowDown':
        this.select(vis[Math.min(vis.length - 1, cur + 1)]);
        break;
      case 'ArrowUp':
        this.select(vis[Math.max(0, cur - 1)]);
        break;
      case 'Home':
        this.select(vis[0]);
        break;
      case 'End':
        this.select(vis[vis.length - 1]);
        break;
      case 'ArrowRight':
        if (!it) this.select(vis[0]);
        else if (e.shiftKey || e.ctrlKey) this.expandSubtree(it, true);
        else if (it.kids && !it.el.classList.contains('open')) this.setExpanded(it, true);
        else if (it.items.length) this.select(it.items[0]);
        break;
      case 'ArrowLeft':
        if (!it) break;
        if (e.shiftKey || e.ctrlKey) this.expandSubtree(it, false);
        else if (it.kids && it.el.classList.contains('open')) this.setExpanded(it, false);
        else if (it.parent) this.select(it.parent);
        break;
      case 'Enter':
      case ' ':
        if (it) this.toggle(it);
        break;
      case 'ContextMenu':
        if (it) {
          const r = it.row.getBoundingClientRect();
          this.on.onContext(it.node, r.left + 40, r.bottom);
        }
        break;
      case 'F10':
        if (!e.shiftKey || !it) return;
        {
          const r = it.row.getBoundingClientRect();
          this.on.onContext(it.node, r.left + 40, r.bottom);
        }
        break;
      default:
        return;
    }
    e.preventDefault();
  }
}

/**
 * Finds the first value of a field in a frame tree.
 * @param {TreeNode[]} tree
 * @param {string} field
 * @returns {string | null}
 */
export function fieldValue(tree, field) {
  for (const n of tree) {
    if (n.field === field && n.value != null) return n.value;
    if (n.children) {
      const v = fieldValue(n.children, field);
      if (v != null) return v;
    }
  }
  return null;
}

/**
 * `field == value` for "Apply as Filter", with the value quoted when the field is a string
 * (the node's `string`, else the field's kind from the registry, else a guess from the value).
 * @param {string} field
 * @param {string | null | undefined} value
 * @param {string | undefined} kind
 * @param {boolean} [string]
 */
export function filterFor(field, value, kind, string) {
  if (value == null || value === '') return field;
  // A bare value cannot hold spaces: a date (FT_ABSOLUTE_TIME) is quoted too.
  const isString = /\s/.test(value) || (string != null ? string
    : kind ? /string|absolute_time|abs_time|abstime/i.test(kind) : !/^[-+]?[0-9a-fA-F.:x/]+$/.test(value));
  return `${field} == ${isString ? quote(value) : value}`;
}

/**
 * A display filter string literal.
 * @param {string} s
 */
export function quote(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}
