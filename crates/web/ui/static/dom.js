// DOM helpers. Everything that came from a capture goes into the page as text nodes:
// h() only creates elements and text nodes, never parses markup.

/** @typedef {string | number | bigint | boolean | null | undefined | Node} Child */
/** @typedef {Child | Child[]} Children */
/** @typedef {Record<string, string | number | boolean | null | undefined | ((ev: any) => void)>} Attrs */

/** URL attributes take only URLs that cannot run script. */
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);

/** @param {string} v */
function safeUrl(v) {
  return /^(blob:|\/api\/|\/[a-z0-9._-]*$|#|data:image\/(png|gif|jpeg|webp);)/i.test(v);
}

/**
 * Creates an element. `attrs`: `class`, any attribute (set with setAttribute), `on<event>`
 * functions (added with addEventListener). Children: strings/numbers become text nodes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Children} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (typeof v === 'function') {
        if (!k.startsWith('on')) throw new Error(`h(): function for ${k}`);
        el.addEventListener(k.slice(2), v);
        continue;
      }
      const name = k.toLowerCase();
      if (name.startsWith('on') || name === 'style' || name === 'srcdoc') {
        throw new Error(`h(): attribute ${k} not allowed`);
      }
      if (name === 'class') {
        el.className = String(v);
      } else if (URL_ATTRS.has(name)) {
        const s = String(v);
        if (!safeUrl(s)) throw new Error(`h(): unsafe URL in ${k}`);
        el.setAttribute(k, s);
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, ...children);
  return el;
}

/**
 * Appends children (text or nodes, nested arrays allowed).
 * @param {Node} el
 * @param {...Children} children
 */
export function append(el, ...children) {
  for (const c of children) {
    if (c == null || c === false || c === true) continue;
    if (Array.isArray(c)) append(el, ...c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** @param {Node} el */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * Replaces the children of `el`.
 * @param {Node} el
 * @param {...Children} children
 */
export function replace(el, ...children) {
  clear(el);
  append(el, ...children);
}

/**
 * @template {any[]} A
 * @param {(...args: A) => void} fn
 * @param {number} ms
 * @returns {((...args: A) => void) & {cancel: () => void}}
 */
export function debounce(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let t;
  const d = /** @type {((...args: A) => void) & {cancel: () => void}} */ (
    (/** @type {A} */ ...args) => {
      clearTimeout(t);
      t = setTimeout(() => fn(...args), ms);
    }
  );
  d.cancel = () => clearTimeout(t);
  return d;
}

/**
 * `1234567` → `1,234,567`.
 * @param {number | null | undefined} n
 */
export function num(n) {
  if (n == null || Number.isNaN(n)) return '';
  return n.toLocaleString('en-US');
}

/**
 * `1 object`, `2 objects`.
 * @param {number} n
 * @param {string} word
 */
export function plural(n, word) {
  return `${num(n)} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Bytes as Wireshark shows sizes: `1.2 kB`, `3 MB`.
 * @param {number | null | undefined} n
 */
export function size(n) {
  if (n == null) return '';
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * Saves a blob (or a same-origin API URL) through an `<a download>`.
 * @param {Blob | string} what
 * @param {string} name
 */
export function download(what, name) {
  const url = typeof what === 'string' ? what : URL.createObjectURL(what);
  const a = h('a', { href: url, download: name, class: 'hidden' });
  document.body.appendChild(a);
  a.click();
  a.remove();
  if (typeof what !== 'string') setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Copies text to the clipboard (falls back to a hidden textarea without the async API).
 * @param {string} text
 */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h('textarea', { class: 'offscreen' }, text);
    document.body.appendChild(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
}

/**
 * Decodes a hex string into bytes.
 * @param {string} hex
 */
export function fromHex(hex) {
  const clean = hex.replace(/[^0-9a-fA-F]/g, '');
  const out = new Uint8Array(clean.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

/**
 * Decodes base64 into bytes.
 * @param {string} b64
 */
export function fromBase64(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Keeps `el` visible inside its scrolling ancestor `box`.
 * @param {HTMLElement} box
 * @param {HTMLElement} el
 */
export function scrollIntoViewWithin(box, el) {
  const b = box.getBoundingClientRect();
  const r = el.getBoundingClientRect();
  if (r.top < b.top) box.scrollTop -= b.top - r.top;
  else if (r.bottom > b.bottom) box.scrollTop += r.bottom - b.bottom;
}

/** Platform-neutral key description of an event: `Ctrl+Shift+N`, `Alt+F`, `ArrowDown`. */
/** @param {KeyboardEvent} e */
export function keyName(e) {
  let k = e.key;
  if (k.length === 1) k = k.toUpperCase();
  if (e.code && /^Digit\d$/.test(e.code)) k = e.code.slice(5);
  else if (e.code && /^Key[A-Z]$/.test(e.code) && (e.ctrlKey || e.altKey || e.metaKey)) k = e.code.slice(3);
  if (e.code === 'Slash') k = '/';
  const parts = [];
  if (e.ctrlKey || e.metaKey) parts.push('Ctrl');
  if (e.altKey) parts.push('Alt');
  if (e.shiftKey && (k.length > 1 || /[A-Z0-9]/.test(k))) parts.push('Shift');
  parts.push(k);
  return parts.join('+');
}
