// Statistics > I/O Graph: packets (or bytes) per interval, one line per display filter, drawn
// on a canvas. Mouse wheel zooms, dragging pans, a click goes to the first packet of the
// interval under the pointer.

import { h, clear, num } from './dom.js';
import { api } from './api.js';
import { Dialog } from './dialogs.js';

/** @typedef {import('./app.js').App} App */
/** @typedef {{filter: string, packets: number[], bytes: number[], firstFrames: (number | null)[]}} IoLine */

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
/** @type {[number, string][]} */
const INTERVALS = [[1, '1 ms'], [10, '10 ms'], [100, '100 ms'], [1000, '1 sec'], [10000, '10 sec'], [60000, '1 min'], [600000, '10 min']];

/** An interval giving a readable graph (≥ ~20 points) for a capture of `secs`. @param {number} secs */
export function autoInterval(secs) {
  let best = 1;
  for (const [ms] of INTERVALS) if (ms <= (secs * 1000) / 20) best = ms;
  return Math.min(best, 1000);
}

/**
 * Reads the `/stats/io` answer: `{"interval_ms", "widened_from", "start_ns", "intervals",
 * "series": [{"filter", "packets": [..], "bytes": [..], "first_frame": [.. (0: none)],
 * "total_packets", "total_bytes"}]}` (`lines`/`first_frames` and per-interval objects accepted too).
 * @param {any} j
 * @returns {{intervalMs: number | null, widenedFrom: number | null, lines: IoLine[]}}
 */
export function parseIo(j) {
  /** @param {any} l @returns {IoLine} */
  const line = (l) => {
    if (Array.isArray(l.intervals)) {
      return {
        filter: String(l.filter ?? ''),
        packets: l.intervals.map((/** @type {any} */ x) => Number(x.packets ?? x.frames ?? 0)),
        bytes: l.intervals.map((/** @type {any} */ x) => Number(x.bytes ?? 0)),
        firstFrames: l.intervals.map((/** @type {any} */ x) => (x.first_frame ?? x.frame ?? null)),
      };
    }
    const packets = (l.packets ?? l.frames ?? []).map(Number);
    return {
      filter: String(l.filter ?? ''),
      packets,
      bytes: (l.bytes ?? []).map(Number),
      firstFrames: (l.first_frame ?? l.first_frames ?? []).map((/** @type {any} */ f) => (f ? Number(f) : null)),
    };
  };
  const list = Array.isArray(j.series) ? j.series : Array.isArray(j.lines) ? j.lines : null;
  const lines = list ? list.map(line) : Array.isArray(j.intervals) ? [line(j)] : [];
  return {
    intervalMs: typeof j.interval_ms === 'number' ? j.interval_ms : null,
    widenedFrom: typeof j.widened_from === 'number' ? j.widened_from : null,
    lines,
  };
}

/** Nice tick step for a range. @param {number} span @param {number} count */
function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** @param {number} v */
function shortNum(v) {
  if (v >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

/** @param {App} app */
export function ioGraphDialog(app) {
  const s = app.current;
  if (!s) return;
  const d = new Dialog({ title: `I/O Graph · ${s.name}`, className: 'iograph', modal: false });
  const canvas = h('canvas', { class: 'io-canvas', tabindex: '0', 'aria-label': 'I/O graph. Wheel or +/- to zoom, drag or arrows to pan, 0 to reset, click to go to a packet.' });
  const hover = h('div', { class: 'io-hover mono' }, ' ');
  const interval = h('select', { 'aria-label': 'Interval' }, INTERVALS.map(([ms, l]) => h('option', { value: ms, selected: ms === 1000 }, l)));
  const unit = h('select', { 'aria-label': 'Y axis' },
    h('option', { value: 'pkts' }, 'Packets/interval'), h('option', { value: 'pps' }, 'Packets/s'),
    h('option', { value: 'bytes' }, 'Bytes/interval'), h('option', { value: 'bps' }, 'Bits/s'));
  const linesBody = h('tbody');
  const newFilter = h('input', { type: 'text', placeholder: 'Display filter for a new line (empty: all packets)', 'aria-label': 'New graph filter', spellcheck: 'false' });
  const addErr = h('span', { class: 'error-text' });
  const note = h('span', { class: 'muted' });
  d.body.append(
    h('div', { class: 'io-plot' }, canvas),
    hover,
    h('table', { class: 'grid io-lines' }, h('thead', null, h('tr', null, h('th', null, ''), h('th', null, 'Line'), h('th', null, 'Display filter'), h('th', null, 'Packets'), h('th', null, ''))), linesBody),
    h('div', { class: 'io-controls' },
      newFilter,
      h('button', { type: 'button', class: 'btn', onclick: () => addLine(newFilter.value.trim()) }, 'Add line'),
      addErr,
      note,
      h('span', { class: 'spacer' }),
      h('label', null, 'Interval ', interval),
      h('label', null, 'Y axis ', unit),
      h('button', { type: 'button', class: 'btn', onclick: () => resetView() }, 'Reset zoom')),
  );
  d.button('Close', () => d.close(), { primary: true });

  /** @type {{filter: string, color: string, on: boolean, data: IoLine | null, error: string | null}[]} */
  const lines = [];
  let ms = 1000;
  /** Visible X range, in intervals. */
  let v0 = 0;
  let v1 = 1;
  let nIntervals = 1;
  const pad = { l: 56, r: 12, t: 10, b: 28 };

  const value = (/** @type {IoLine} */ l, /** @type {number} */ i) => {
    switch (unit.value) {
      case 'pps': return (l.packets[i] ?? 0) / (ms / 1000);
      case 'bytes': return l.bytes[i] ?? 0;
      case 'bps': return ((l.bytes[i] ?? 0) * 8) / (ms / 1000);
      default: return l.packets[i] ?? 0;
    }
  };

  const resetView = () => {
    nIntervals = Math.max(1, ...lines.map((l) => l.data?.packets.length ?? 0));
    v0 = 0;
    v1 = nIntervals;
    draw();
  };

  /** @param {number} i */
  const fetchLine = async (i) => {
    const l = lines[i];
    try {
      const j = parseIo(await api.stats(s.id, 'io', { interval_ms: ms, filters: l.filter || undefined }));
      l.data = j.lines.find((x) => x.filter === l.filter) ?? j.lines[0] ?? { filter: l.filter, packets: [], bytes: [], firstFrames: [] };
      l.error = null;
      if (j.intervalMs != null && j.intervalMs !== ms) {
        // The server widened the interval (too many intervals for the capture's duration).
        ms = j.intervalMs;
        if (![...interval.options].some((o) => o.value === String(ms))) interval.append(h('option', { value: ms }, `${ms} ms`));
        interval.value = String(ms);
        note.textContent = `Interval widened to ${ms} ms${j.widenedFrom ? ` (from ${j.widenedFrom} ms)` : ''}.`;
      }
    } catch (e) {
      l.data = null;
      l.error = e instanceof Error ? e.message : String(e);
    }
  };

  const reloadAll = async () => {
    await Promise.all(lines.map((_, i) => fetchLine(i)));
    renderLines();
    resetView();
  };

  /** @param {string} filter */
  const addLine = async (filter) => {
    addErr.textContent = '';
    if (filter) {
      try {
        const c = await api.checkFilter(filter);
        if (!c.ok) {
          addErr.textContent = c.message ?? 'invalid filter';
          return;
        }
      } catch (e) {
        addErr.textContent = e instanceof Error ? e.message : String(e);
        return;
      }
    }
    lines.push({ filter, color: COLORS[lines.length % COLORS.length], on: true, data: null, error: null });
    newFilter.value = '';
    await fetchLine(lines.length - 1);
    renderLines();
    resetView();
  };

  const renderLines = () => {
    clear(linesBody);
    lines.forEach((l, i) => {
      const cb = h('input', { type: 'checkbox', checked: l.on, 'aria-label': `Show line ${i + 1}` });
      cb.addEventListener('change', () => {
        l.on = cb.checked;
        draw();
      });
      const sw = h('span', { class: 'swatch' });
      sw.style.background = l.color;
      const total = l.data ? l.data.packets.reduce((a, b) => a + b, 0) : null;
      linesBody.append(h('tr', null,
        h('td', null, cb),
        h('td', null, sw, ` ${i + 1}`),
        h('td', { class: 'mono' }, l.filter || '(all packets)', l.error ? h('span', { class: 'error-text' }, `  ${l.error}`) : null),
        h('td', { class: 'right' }, total == null ? '' : num(total)),
        h('td', null, h('button', { type: 'button', class: 'btn small', 'aria-label': `Remove line ${i + 1}`, onclick: () => {
          lines.splice(i, 1);
          renderLines();
          draw();
        } }, '−'))));
    });
  };

  const geom = () => {
    const r = canvas.getBoundingClientRect();
    return { w: r.width, h: r.height, pw: r.width - pad.l - pad.r, ph: r.height - pad.t - pad.b };
  };

  const draw = () => {
    const dpr = window.devicePixelRatio || 1;
    const g = geom();
    if (g.w <= 0 || g.h <= 0) return;
    canvas.width = Math.round(g.w * dpr);
    canvas.height = Math.round(g.h * dpr);
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.w, g.h);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, g.w, g.h);
    const i0 = Math.max(0, Math.floor(v0));
    const i1 = Math.min(nIntervals, Math.ceil(v1));
    let ymax = 0;
    for (const l of lines) {
      if (!l.on || !l.data) continue;
      for (let i = i0; i < i1; i++) ymax = Math.max(ymax, value(l.data, i));
    }
    ymax = ymax <= 0 ? 1 : ymax * 1.08;
    const X = (/** @type {number} */ i) => pad.l + ((i - v0) / (v1 - v0)) * g.pw;
    const Y = (/** @type {number} */ v) => pad.t + g.ph - (v / ymax) * g.ph;
    // Grid and axes.
    ctx.font = '11px system-ui, sans-serif';
    ctx.strokeStyle = '#e4e4e4';
    ctx.fillStyle = '#444';
    ctx.lineWidth = 1;
    const ys = niceStep(ymax, 5);
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let v = 0; v <= ymax; v += ys) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(pad.l + g.pw, y);
      ctx.stroke();
      ctx.fillText(shortNum(v), pad.l - 6, y);
    }
    const secs0 = (v0 * ms) / 1000;
    const secs1 = (v1 * ms) / 1000;
    const xs = niceStep(secs1 - secs0, Math.max(2, Math.floor(g.pw / 90)));
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let t = Math.ceil(secs0 / xs) * xs; t <= secs1 + 1e-9; t += xs) {
      const x = Math.round(X((t * 1000) / ms)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, pad.t);
      ctx.lineTo(x, pad.t + g.ph);
      ctx.stroke();
      ctx.fillText(`${+t.toFixed(3)}s`, x, pad.t + g.ph + 6);
    }
    ctx.strokeStyle = '#888';
    ctx.strokeRect(pad.l + 0.5, pad.t + 0.5, g.pw, g.ph);
    // Lines: one point per interval, in the middle of it.
    ctx.save();
    ctx.beginPath();
    ctx.rect(pad.l, pad.t, g.pw, g.ph);
    ctx.clip();
    for (const l of lines) {
      if (!l.on || !l.data) continue;
      ctx.strokeStyle = l.color;
      ctx.fillStyle = l.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      const a = Math.max(0, i0 - 1);
      const b = Math.min(l.data.packets.length, i1 + 1);
      for (let i = a; i < b; i++) {
        const x = X(i + 0.5);
        const y = Y(value(l.data, i));
        if (i === a) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
      if ((b - a) < g.pw / 6) {
        for (let i = a; i < b; i++) {
          ctx.beginPath();
          ctx.arc(X(i + 0.5), Y(value(l.data, i)), 2.2, 0, Math.PI * 2);
          ctx.fill();
        }
      }
    }
    ctx.restore();
  };

  /** The interval under a client x. @param {number} clientX */
  const intervalAt = (clientX) => {
    const r = canvas.getBoundingClientRect();
    const g = geom();
    const frac = (clientX - r.left - pad.l) / g.pw;
    return v0 + frac * (v1 - v0);
  };

  /** @param {number} factor @param {number} at interval kept in place */
  const zoom = (factor, at) => {
    const span = Math.max(4, Math.min(nIntervals * 1.5, (v1 - v0) * factor));
    const f = (at - v0) / (v1 - v0);
    v0 = at - f * span;
    v1 = v0 + span;
    draw();
  };
  /** @param {number} di */
  const pan = (di) => {
    v0 += di;
    v1 += di;
    draw();
  };

  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    zoom(e.deltaY > 0 ? 1.25 : 0.8, intervalAt(e.clientX));
  }, { passive: false });
  let drag = /** @type {{x: number, v0: number, moved: boolean} | null} */ (null);
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    drag = { x: e.clientX, v0, moved: false };
  });
  canvas.addEventListener('pointermove', (e) => {
    const i = Math.floor(intervalAt(e.clientX));
    if (i >= 0 && i < nIntervals) {
      const parts = lines.filter((l) => l.on && l.data).map((l, k) => `#${k + 1}: ${shortNum(value(/** @type {IoLine} */ (l.data), i))}`);
      hover.textContent = `${((i * ms) / 1000).toFixed(3)}s – ${(((i + 1) * ms) / 1000).toFixed(3)}s   ${parts.join('   ')}`;
    }
    if (!drag) return;
    const g = geom();
    const dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    const span = v1 - v0;
    v0 = drag.v0 - (dx / g.pw) * span;
    v1 = v0 + span;
    draw();
  });
  canvas.addEventListener('pointerup', (e) => {
    const dr = drag;
    drag = null;
    if (!dr || dr.moved) return;
    const i = Math.floor(intervalAt(e.clientX));
    // The first frame of that interval, from the first visible line that has one.
    for (const l of lines) {
      if (!l.on || !l.data) continue;
      const f = l.data.firstFrames[i];
      if (f != null) {
        app.goToFrame(Number(f));
        return;
      }
    }
  });
  canvas.addEventListener('keydown', (e) => {
    const span = v1 - v0;
    if (e.key === '+' || e.key === '=') zoom(0.8, (v0 + v1) / 2);
    else if (e.key === '-') zoom(1.25, (v0 + v1) / 2);
    else if (e.key === 'ArrowLeft') pan(-span / 10);
    else if (e.key === 'ArrowRight') pan(span / 10);
    else if (e.key === '0') resetView();
    else return;
    e.preventDefault();
  });
  interval.addEventListener('change', () => {
    ms = Number(interval.value);
    note.textContent = '';
    reloadAll();
  });
  unit.addEventListener('change', () => draw());
  newFilter.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      addLine(newFilter.value.trim());
    }
  });
  new ResizeObserver(() => draw()).observe(canvas);
  d.show(canvas);
  lines.push({ filter: '', color: COLORS[0], on: true, data: null, error: null });
  if (s.filter) lines.push({ filter: s.filter, color: COLORS[1], on: true, data: null, error: null });
  // Wireshark starts at 1 s; a short capture gets a finer interval so it is more than a dot.
  api.info(s.id).then((info) => {
    const secs = Number(info.duration_s);
    if (Number.isFinite(secs) && secs > 0) ms = autoInterval(secs);
  }).catch(() => {}).finally(() => {
    interval.value = String(ms);
    reloadAll();
  });
}
