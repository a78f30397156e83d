// File > Export Objects > HTTP… / IMF…: the objects of the capture (the export's manifest
// records), a text filter, a preview (text or image) and downloads.

import { h, clear, num, size, plural } from './dom.js';
import { api, readPrefix } from './api.js';
import { Dialog } from './dialogs.js';

/** @typedef {import('./app.js').App} App */
/** @typedef {import('./api.js').ObjectRecord} ObjectRecord */

const PREVIEW_BYTES = 64 * 1024;

/**
 * One table row from a manifest record (HTTP or mail); the one place that knows the fields.
 * @param {ObjectRecord} r
 */
export function objectRow(r) {
  const frames = Array.isArray(r.frames) ? r.frames : [];
  const frame = Number(r.first_frame ?? r.frame ?? frames[0] ?? 0) || null;
  let host = r.host ?? r.hostname ?? '';
  if (!host && typeof r.url === 'string') {
    // Not `new URL()`: a hostile host (`<b>x</b>.example`) is not a valid URL but is what was sent.
    host = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(r.url)?.[1] ?? '';
  }
  if (!host && typeof r.server === 'string') host = r.server;
  const kind = String(r.kind ?? r.protocol ?? '');
  const mail = /smtp|pop|imap|imf|mail/i.test(kind) || /smtp|pop|imap/i.test(String(r.protocol ?? ''));
  const file = String(r.file ?? r.filename ?? '');
  return {
    id: r.id,
    frame,
    host: String(host),
    type: String(r.content_type ?? ''),
    size: typeof r.size === 'number' ? r.size : null,
    file,
    name: file.split('/').pop() || file,
    sha256: String(r.sha256 ?? ''),
    url: String(r.url ?? r.subject ?? ''),
    mail,
  };
}
/** @typedef {ReturnType<typeof objectRow>} ObjRow */

/** @param {string} type */
function previewKind(type) {
  const t = type.toLowerCase();
  if (/^image\/(png|gif|jpeg|jpg|webp|bmp|x-icon|vnd\.microsoft\.icon)/.test(t)) return 'image';
  return 'text';
}

/**
 * @param {App} app
 * @param {'http' | 'imf'} which
 */
export async function exportObjectsDialog(app, which) {
  const s = app.current;
  if (!s) return;
  const d = new Dialog({ title: `Export Objects · ${which === 'http' ? 'HTTP' : 'IMF'} object list · ${s.name}`, className: 'objects', modal: true });
  const filter = h('input', { type: 'search', placeholder: 'Text filter', 'aria-label': 'Text filter', spellcheck: 'false' });
  const state = h('span', { class: 'muted', role: 'status' }, 'Exporting…');
  const tbody = h('tbody');
  const table = h('table', { class: 'grid objects-table', tabindex: '0', 'aria-label': 'Objects' },
    h('thead', null, h('tr', null, ...['Packet', which === 'http' ? 'Hostname' : 'Server', 'Content Type', 'Size', 'Filename'].map((t) => h('th', null, t)))),
    tbody);
  const preview = h('div', { class: 'object-preview', 'aria-label': 'Preview' });
  d.body.append(h('div', { class: 'objects-top' }, h('label', null, 'Text Filter: ', filter), state),
    h('div', { class: 'objects-split' }, h('div', { class: 'table-wrap' }, table), preview));
  const saveBtn = d.button('Save', () => saveOne(), {});
  d.button('Save All', () => app.download(api.objectsZipUrl(s.id), `${s.name.replace(/\.[^.]*$/, '')}-objects.zip`));
  d.button('Close', () => d.close(), { primary: true });
  saveBtn.disabled = true;

  /** @type {ObjRow[]} */
  let rows = [];
  /** @type {ObjRow[]} */
  let shown = [];
  let sel = -1;
  /** @type {string | null} */
  let blobUrl = null;
  /** @type {AbortController | null} */
  let previewCtl = null;
  let closed = false;
  d.onClose = () => {
    closed = true;
    if (blobUrl) URL.revokeObjectURL(blobUrl);
    previewCtl?.abort();
  };

  const render = () => {
    const q = filter.value.toLowerCase();
    shown = rows.filter((r) => !q || [r.host, r.type, r.file, r.url, String(r.frame ?? '')].some((v) => v.toLowerCase().includes(q)));
    clear(tbody);
    shown.forEach((r, i) => {
      const tr = h('tr', { 'data-i': i, class: i === sel ? 'selected' : '' },
        h('td', { class: 'right' }, r.frame ?? ''),
        h('td', null, r.host),
        h('td', null, r.type),
        h('td', { class: 'right' }, r.size == null ? '' : num(r.size)),
        h('td', null, r.name));
      tr.title = r.url;
      tbody.appendChild(tr);
    });
  };

  /** @param {number} i */
  const select = async (i) => {
    if (i < 0 || i >= shown.length) return;
    sel = i;
    [...tbody.children].forEach((tr, j) => tr.classList.toggle('selected', j === i));
    tbody.children[i]?.scrollIntoView({ block: 'nearest' });
    saveBtn.disabled = false;
    const r = shown[i];
    previewCtl?.abort();
    const ctl = new AbortController();
    previewCtl = ctl;
    clear(preview);
    if (blobUrl) {
      URL.revokeObjectURL(blobUrl);
      blobUrl = null;
    }
    preview.append(h('div', { class: 'muted' }, `${r.name} · ${r.type || 'unknown type'} · ${size(r.size)}${r.sha256 ? ` · sha256 ${r.sha256.slice(0, 16)}…` : ''}`));
    try {
      const resp = await api.objectPreview(s.id, r.id, ctl.signal);
      const ctype = resp.headers.get('Content-Type') ?? r.type;
      if (previewKind(ctype) === 'image' || previewKind(r.type) === 'image') {
        const blob = await resp.blob();
        if (ctl.signal.aborted) return;
        blobUrl = URL.createObjectURL(new Blob([blob], { type: ctype.startsWith('image/') ? ctype : r.type }));
        preview.append(h('img', { src: blobUrl, alt: r.name, class: 'preview-img' }));
      } else {
        const { bytes, truncated } = await readPrefix(resp, PREVIEW_BYTES);
        if (ctl.signal.aborted) return;
        const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
        preview.append(h('pre', { class: 'preview-text mono' }, text));
        if (truncated) preview.append(h('div', { class: 'muted' }, `(first ${size(PREVIEW_BYTES)} shown)`));
      }
    } catch (e) {
      if (!ctl.signal.aborted) preview.append(h('div', { class: 'error-text' }, `No preview: ${e instanceof Error ? e.message : e}`));
    }
  };

  const saveOne = () => {
    const r = shown[sel];
    if (r) app.download(api.objectUrl(s.id, r.id), r.name || `object-${r.id}`);
  };

  tbody.addEventListener('click', (e) => {
    const tr = e.target instanceof Element ? e.target.closest('tr') : null;
    if (tr instanceof HTMLElement && tr.dataset.i != null) select(Number(tr.dataset.i));
  });
  tbody.addEventListener('dblclick', (e) => {
    const tr = e.target instanceof Element ? e.target.closest('tr') : null;
    const r = tr instanceof HTMLElement && tr.dataset.i != null ? shown[Number(tr.dataset.i)] : null;
    if (r?.frame) app.goToFrame(r.frame);
  });
  table.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') select(Math.min(shown.length - 1, sel + 1));
    else if (e.key === 'ArrowUp') select(Math.max(0, sel - 1));
    else if (e.key === 'Enter') saveOne();
    else return;
    e.preventDefault();
  });
  filter.addEventListener('input', () => {
    sel = -1;
    saveBtn.disabled = true;
    render();
  });

  d.show(filter);
  try {
    await api.startObjects(s.id);
    for (;;) {
      const r = await api.objects(s.id);
      if (closed) return;
      rows = r.objects.map(objectRow).filter((o) => (which === 'http' ? !o.mail : o.mail));
      render();
      state.textContent = r.done ? plural(rows.length, 'object') : `Exporting… ${plural(rows.length, 'object')} so far`;
      if (r.error) state.textContent = `Export failed: ${r.error}`;
      const log = /** @type {any} */ (r).log;
      if (typeof log === 'string' && log) state.title = log;
      if (r.done) break;
      await new Promise((res) => setTimeout(res, 400));
    }
  } catch (e) {
    state.textContent = `Export failed: ${e instanceof Error ? e.message : e}`;
  }
}
