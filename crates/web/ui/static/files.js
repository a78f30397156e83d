// File > Open: browse the server's capture directory (/api/files), recent files, or upload a
// capture from this computer.

import { h, clear, size } from './dom.js';
import { api, upload } from './api.js';
import { icon } from './icons.js';
import { Dialog } from './dialogs.js';

/** @typedef {import('./app.js').App} App */
/** @typedef {import('./api.js').FileEntry} FileEntry */

/** @param {number} t unix seconds */
function when(t) {
  if (!t) return '';
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/**
 * @param {App} app
 * @param {string} [startDir]
 */
export function openFileDialog(app, startDir = '') {
  const d = new Dialog({ title: 'Open Capture File', className: 'open-file' });
  const crumbs = h('div', { class: 'crumbs', 'aria-label': 'Folder' });
  const tbody = h('tbody');
  const table = h('table', { class: 'grid files-table', tabindex: '0', 'aria-label': 'Files' },
    h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', { class: 'right' }, 'Size'), h('th', null, 'Modified'))), tbody);
  const recent = h('ul', { class: 'recent-list', 'aria-label': 'Recent files' });
  const fileInput = h('input', { type: 'file', class: 'hidden', accept: '.pcap,.pcapng,.cap,.gz,.pcap.gz,.pcapng.gz,application/vnd.tcpdump.pcap' });
  const progress = h('progress', { class: 'hidden', max: '1', value: '0' });
  const state = h('span', { class: 'muted', role: 'status' });
  d.body.append(
    h('div', { class: 'open-split' },
      h('div', { class: 'open-main' }, crumbs, h('div', { class: 'table-wrap' }, table)),
      h('div', { class: 'open-side' }, h('div', { class: 'side-title' }, 'Recent'), recent)),
    h('div', { class: 'upload-row' }, fileInput, progress, state),
  );
  d.button('Upload…', () => fileInput.click(), { left: true, title: 'Open a capture from this computer (uploaded to the server)' });
  const openBtn = d.button('Open', () => activate(sel), { primary: true });
  d.button('Cancel', () => d.close());

  let dir = startDir;
  /** @type {FileEntry[]} */
  let entries = [];
  let sel = -1;
  /** @type {(() => void) | null} */
  let abortUpload = null;
  d.onClose = () => abortUpload?.();

  /** @param {number} i */
  const select = (i) => {
    if (!entries.length) return;
    sel = Math.max(0, Math.min(entries.length - 1, i));
    [...tbody.children].forEach((tr, j) => {
      tr.classList.toggle('selected', j === sel);
      tr.setAttribute('aria-selected', String(j === sel));
    });
    tbody.children[sel]?.scrollIntoView({ block: 'nearest' });
    openBtn.textContent = entries[sel]?.dir ? 'Open folder' : 'Open';
  };

  /** @param {number} i */
  const activate = (i) => {
    const e = entries[i];
    if (!e) return;
    if (e.dir) load(e.path);
    else openPath(e.path);
  };

  /** @param {string} path */
  const openPath = async (path) => {
    state.textContent = `Opening ${path}…`;
    const ok = await app.openPath(path);
    if (ok) d.close();
    else state.textContent = `Could not open ${path}.`;
  };

  const parent = () => {
    if (!dir) return;
    const i = dir.replace(/\/$/, '').lastIndexOf('/');
    load(i < 0 ? '' : dir.slice(0, i));
  };

  /** @param {string} to */
  const load = async (to) => {
    try {
      const r = await api.files(to || undefined);
      dir = r.dir ?? to;
      entries = r.entries;
      clear(crumbs);
      const parts = dir ? dir.split('/').filter(Boolean) : [];
      crumbs.append(h('button', { type: 'button', class: 'crumb', tabindex: '-1', onclick: () => load('') }, 'root'));
      parts.forEach((p, i) => {
        crumbs.append(' / ', h('button', { type: 'button', class: 'crumb', tabindex: '-1', onclick: () => load(parts.slice(0, i + 1).join('/')) }, p));
      });
      clear(tbody);
      if (dir) {
        entries = [{ name: '..', path: parts.slice(0, -1).join('/'), dir: true, size: 0, mtime: 0 }, ...entries];
      }
      entries.forEach((e, i) => {
        const tr = h('tr', { 'data-i': i, role: 'row', class: e.dir ? 'is-dir' : '' },
          h('td', null, icon(e.name === '..' ? 'up' : e.dir ? 'folder' : 'file'), ` ${e.name}`),
          h('td', { class: 'right' }, e.dir ? '' : size(e.size)),
          h('td', null, e.name === '..' ? '' : when(e.mtime)));
        tbody.append(tr);
      });
      sel = -1;
      select(0);
    } catch (e) {
      state.textContent = `Cannot list ${to || 'the root'}: ${e instanceof Error ? e.message : e}`;
    }
  };

  tbody.addEventListener('click', (e) => {
    const tr = e.target instanceof Element ? e.target.closest('tr') : null;
    if (tr instanceof HTMLElement && tr.dataset.i != null) select(Number(tr.dataset.i));
  });
  tbody.addEventListener('dblclick', (e) => {
    const tr = e.target instanceof Element ? e.target.closest('tr') : null;
    if (tr instanceof HTMLElement && tr.dataset.i != null) activate(Number(tr.dataset.i));
  });
  table.addEventListener('keydown', (e) => {
    switch (e.key) {
      case 'ArrowDown': select(sel + 1); break;
      case 'ArrowUp': select(sel - 1); break;
      case 'Home': select(0); break;
      case 'End': select(entries.length - 1); break;
      case 'PageDown': select(sel + 10); break;
      case 'PageUp': select(sel - 10); break;
      case 'Enter': activate(sel); break;
      case 'Backspace': parent(); break;
      default: {
        // Type-ahead on names.
        if (e.key.length === 1 && !e.ctrlKey && !e.altKey && !e.metaKey) {
          const c = e.key.toLowerCase();
          for (let k = 1; k <= entries.length; k++) {
            const i = (sel + k) % entries.length;
            if (entries[i].name.toLowerCase().startsWith(c)) {
              select(i);
              break;
            }
          }
          break;
        }
        return;
      }
    }
    e.preventDefault();
  });

  fileInput.addEventListener('change', async () => {
    const f = fileInput.files?.[0];
    if (!f) return;
    progress.classList.remove('hidden');
    progress.value = 0;
    state.textContent = `Uploading ${f.name} (${size(f.size)})…`;
    const up = upload(f, (sent, total) => {
      progress.value = total ? sent / total : 0;
      state.textContent = `Uploading ${f.name}: ${size(sent)} of ${size(total)}`;
    });
    abortUpload = up.abort;
    try {
      const info = await up.promise;
      abortUpload = null;
      app.addSession(info, true);
      d.close();
    } catch (e) {
      abortUpload = null;
      progress.classList.add('hidden');
      state.textContent = `Upload failed: ${e instanceof Error ? e.message : e}`;
    }
  });

  (async () => {
    try {
      const r = await api.recent();
      for (const f of r.files) {
        const b = h('button', { type: 'button', class: 'recent', title: f.path, onclick: () => openPath(f.path) }, f.name);
        recent.append(h('li', null, b));
      }
      if (!r.files.length) recent.append(h('li', { class: 'muted' }, 'none yet'));
    } catch {
      recent.append(h('li', { class: 'muted' }, 'unavailable'));
    }
  })();

  d.show(table);
  load(dir);
}
