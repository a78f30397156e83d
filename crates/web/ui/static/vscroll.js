// Geometry of a virtually scrolled list of fixed-height lines: only the visible lines are in the
// DOM; a spacer gives the scrollbar the full height. Browsers cap an element's height (~16M px
// in Firefox, ~33M in Chrome), so past MAX_SPACER the scroll position is scaled: the spacer is
// MAX_SPACER high and a scrollTop maps linearly to a "virtual" top in the full height.

export const MAX_SPACER = 8_000_000;

export class VScroll {
  /**
   * @param {HTMLElement} viewport the scrolling element (position: relative)
   * @param {HTMLElement} spacer a child giving the height
   * @param {HTMLElement} layer a child (position: absolute) holding the rendered lines
   * @param {number} lineH
   */
  constructor(viewport, spacer, layer, lineH) {
    this.viewport = viewport;
    this.spacer = spacer;
    this.layer = layer;
    this.lineH = lineH;
    this.count = 0;
    /** A virtual top set by code, valid while scrollTop is the one it gave. */
    this.pinned = { scrollTop: -1, vTop: 0 };
  }

  /** @param {number} n */
  setCount(n) {
    // Keep the same lines in view (with a scaled scroll position the ratio changes with n).
    const v = this.count ? this.vTop() : 0;
    this.count = n;
    // The layer's transform counts in the scrollable area: bring it back first, or the old
    // height would stay scrollable.
    this.layer.style.transform = 'translateY(0)';
    this.spacer.style.height = `${Math.min(n * this.lineH, MAX_SPACER)}px`;
    this.pinned = { scrollTop: -1, vTop: 0 };
    this.scrollToV(v);
  }

  get viewH() {
    return this.viewport.clientHeight;
  }

  get contentH() {
    return this.count * this.lineH;
  }

  /** Virtual px per scroll px. */
  ratio() {
    const spacer = Math.min(this.contentH, MAX_SPACER);
    const vh = this.viewH;
    if (spacer <= vh || this.contentH <= MAX_SPACER) return 1;
    return (this.contentH - vh) / (spacer - vh);
  }

  vTop() {
    const st = this.viewport.scrollTop;
    if (st === this.pinned.scrollTop) return this.pinned.vTop;
    return Math.max(0, Math.min(st * this.ratio(), Math.max(0, this.contentH - this.viewH)));
  }

  /** @param {number} v */
  scrollToV(v) {
    const max = Math.max(0, this.contentH - this.viewH);
    v = Math.max(0, Math.min(v, max));
    const st = Math.round(v / this.ratio());
    this.viewport.scrollTop = st;
    this.pinned = { scrollTop: this.viewport.scrollTop, vTop: v };
  }

  /** Lines per page (fully visible). */
  pageLines() {
    return Math.max(1, Math.floor(this.viewH / this.lineH));
  }

  /**
   * The lines to render and where the layer goes.
   * @param {number} overscan
   */
  range(overscan) {
    const v = this.vTop();
    const firstVisible = Math.floor(v / this.lineH);
    const first = Math.max(0, firstVisible - overscan);
    const last = Math.min(this.count, Math.ceil((v + this.viewH) / this.lineH) + overscan);
    const layerTop = this.viewport.scrollTop + (first * this.lineH - v);
    this.layer.style.transform = `translateY(${layerTop}px)`;
    return { first, last, firstVisible };
  }

  /**
   * Scrolls as little as possible so line i is fully visible.
   * @param {number} i
   * @param {'nearest' | 'center'} [how]
   */
  ensureVisible(i, how = 'nearest') {
    const top = i * this.lineH;
    const v = this.vTop();
    const vh = this.viewH;
    if (how === 'center') {
      if (top < v || top + this.lineH > v + vh) this.scrollToV(top - (vh - this.lineH) / 2);
      return;
    }
    if (top < v) this.scrollToV(top);
    else if (top + this.lineH > v + vh) this.scrollToV(top + this.lineH - vh);
  }
}
