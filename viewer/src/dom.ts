/** Small DOM helpers: element builders for HTML and SVG, and number formatting for the page. */

type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

function fill<E extends Element>(el: E, attrs: Attrs, children: Child[]): E {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** An HTML element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  return fill(document.createElement(tag), attrs, children);
}

export const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes and children. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** The element with this id (throws when the page lacks it: a bug). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page has no #${id}`);
  return el as T;
}

/**
 * A measured value (an edge score, faithfulness, a metric, precision, …) as the page shows it: 4 significant
 * digits, trailing zeros kept so every value shows its precision; exponent form below 0.001 and from 10,000;
 * "–" for none.
 */
export function num(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const fixed = x.toPrecision(4);
  return Math.abs(x) < 1e-3 || fixed.includes('e') ? x.toExponential(3).replace('e+', 'e') : fixed;
}

/** Integer with thousands separators. */
export function int(x: number): string {
  return x.toLocaleString('en-US');
}

/** File size in KB/MB. */
export function bytes(n: number | null): string {
  if (n === null) return '';
  return n < 1e6 ? `${(n / 1e3).toFixed(0)} KB` : `${(n / 1e6).toFixed(1)} MB`;
}

/**
 * Calls `redraw` (once per frame at most) whenever the element's width changes, for pictures drawn at the
 * width they are shown at. Height changes are left alone: redrawing changes the height.
 */
export function onWidthChange(el: Element, redraw: () => void): void {
  let last = -1;
  let queued = false;
  new ResizeObserver((entries) => {
    const w = Math.round(entries[entries.length - 1]!.contentRect.width);
    if (w === last) return;
    last = w;
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      redraw();
    });
  }).observe(el);
}
