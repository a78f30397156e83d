// Horizontal splitters between the packet list, detail and bytes panes: drag (or focus and use
// Up/Down) to resize the pane above; sizes are kept in localStorage as fractions.

const KEY = 'wiresift.panes';

/**
 * @param {HTMLElement} container flex column holding panes and splitters
 * @param {HTMLElement[]} panes every pane but the last gets an explicit height
 * @param {HTMLElement[]} splitters splitters[i] sits under panes[i]
 */
export function setupSplitters(container, panes, splitters) {
  /** @type {number[]} */
  let fr = [0.45, 0.33];
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? 'null');
    if (Array.isArray(v) && v.length === panes.length - 1 && v.every((x) => typeof x === 'number' && x > 0.03 && x < 0.95)) fr = v;
  } catch {
    /* defaults */
  }
  const minH = 40;
  const avail = () => container.clientHeight - splitters.reduce((a, s) => a + s.offsetHeight, 0);
  const apply = () => {
    const a = avail();
    let used = 0;
    for (let i = 0; i < panes.length - 1; i++) {
      const hpx = Math.max(minH, Math.min(a - used - minH * (panes.length - 1 - i), Math.round(fr[i] * a)));
      panes[i].style.height = `${hpx}px`;
      panes[i].style.flex = '0 0 auto';
      used += hpx;
    }
    panes[panes.length - 1].style.flex = '1 1 0';
  };
  const save = () => localStorage.setItem(KEY, JSON.stringify(fr));
  splitters.forEach((sp, i) => {
    sp.setAttribute('role', 'separator');
    sp.setAttribute('aria-orientation', 'horizontal');
    sp.tabIndex = -1;
    sp.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      sp.setPointerCapture(e.pointerId);
      const y0 = e.clientY;
      const h0 = panes[i].offsetHeight;
      const h1 = panes[i + 1].offsetHeight;
      sp.classList.add('dragging');
      /** @param {PointerEvent} m */
      const move = (m) => {
        const dy = Math.max(minH - h0, Math.min(h1 - minH, m.clientY - y0));
        const a = avail();
        fr[i] = (h0 + dy) / a;
        if (i + 1 < fr.length) fr[i + 1] = (h1 - dy) / a;
        apply();
      };
      const up = () => {
        sp.classList.remove('dragging');
        sp.removeEventListener('pointermove', move);
        sp.removeEventListener('pointerup', up);
        save();
      };
      sp.addEventListener('pointermove', move);
      sp.addEventListener('pointerup', up);
    });
    sp.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
      e.preventDefault();
      const a = avail();
      const d = (e.key === 'ArrowUp' ? -16 : 16) / a;
      fr[i] = Math.max(0.05, Math.min(0.9, fr[i] + d));
      if (i + 1 < fr.length) fr[i + 1] = Math.max(0.05, fr[i + 1] - d);
      apply();
      save();
    });
  });
  new ResizeObserver(apply).observe(container);
  apply();
}
