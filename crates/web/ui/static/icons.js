// Toolbar icons: small SVGs built with createElementNS (no markup parsing, no font needed).

const NS = 'http://www.w3.org/2000/svg';

/** @type {Record<string, string[]>} 16×16 stroke paths */
const PATHS = {
  open: ['M1.5 4.5v9h12l1.5-6.5H4.5L3 13.5', 'M1.5 4.5V2.5h4l1.5 1.5h6v3'],
  close: ['M4 4l8 8M12 4l-8 8'],
  reload: ['M13 8a5 5 0 1 1-1.5-3.6', 'M13 2.5v3h-3'],
  find: ['M6.5 2.5a4 4 0 1 1 0 8a4 4 0 1 1 0-8z', 'M9.5 9.5l4.5 4.5'],
  first: ['M3 3v10', 'M13 3L6 8l7 5'],
  prev: ['M8 13V3', 'M4 7l4-4 4 4'],
  next: ['M8 3v10', 'M4 9l4 4 4-4'],
  last: ['M13 3v10', 'M3 3l7 5-7 5'],
  goto: ['M2 8h9', 'M8 4.5L11.5 8 8 11.5', 'M14 3v10'],
  colorize: ['M2 3h12v3H2z', 'M2 7h12v3H2z', 'M2 11h12v3H2z'],
  expand: ['M2.5 2.5h11v11h-11z', 'M8 5v6M5 8h6'],
  collapse: ['M2.5 2.5h11v11h-11z', 'M5 8h6'],
  follow: ['M2 5h10', 'M9 2l3 3-3 3', 'M14 11H4', 'M7 8l-3 3 3 3'],
  objects: ['M2 5l6-3 6 3v7l-6 3-6-3z', 'M2 5l6 3 6-3', 'M8 8v7'],
  graph: ['M2 2v12h12', 'M4 11l3-4 3 2 4-6'],
  folder: ['M1.5 13.5v-10h4.5l1.5 1.5h7.5v8.5z'],
  file: ['M3.5 1.5h6l3 3v10h-9z', 'M9.5 1.5v3h3'],
  up: ['M8 13V3', 'M4 7l4-4 4 4'],
};

/**
 * @param {string} name
 * @returns {SVGSVGElement}
 */
export function icon(name) {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(NS, 'svg'));
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `icon icon-${name}`);
  for (const d of PATHS[name] ?? []) {
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    svg.appendChild(p);
  }
  return svg;
}
