/**
 * Standalone SVG line charts without dependencies: axes with ticks and grid lines, a legend, one colour per
 * series (dashed on request), linear or logarithmic x axis. Used for the `eapgp reproduce` plots
 * (faithfulness vs edges, precision/recall) and meant for any other report.
 *
 *   const svg = lineChart({ title: 'IOI', xLabel: 'edges', yLabel: 'faithfulness', xScale: 'log',
 *                           series: [{ name: 'EAP-GP', points: [[30, 0.2], [100, 0.6]] }] });
 *
 * Points are drawn in the order given (a curve need not be a function of x). A point with a non-finite
 * coordinate, or with x ≤ 0 on a log axis, is left out and breaks its line. With `yRange`, the y axis shows
 * exactly that range and the lines are clipped to it; otherwise both axes span the data, widened to round
 * tick values on the linear axes.
 */

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xScale?: 'linear' | 'log';
  yRange?: [number, number];
  /** Pixels (default 640 × 400). */
  width?: number;
  height?: number;
}

/** Tableau 10: distinguishable colours, cycled when there are more series. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** Escapes text for SVG element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A tick label: short, without float noise (0.30000000000000004 → "0.3"), exponent form for extremes. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential().replace(/\.?0+e/, 'e').replace('e+', 'e');
  return String(Number(v.toPrecision(6)));
}

/** Round tick values (1, 2 or 5 × 10^k apart) covering [lo, hi], about `target` of them. */
export function linearTicks(lo: number, hi: number, target = 6): number[] {
  const span = hi - lo;
  const raw = span / Math.max(1, target - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let k = first; k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toPrecision(12)));
  return out;
}

/** Ticks of a log axis: 1, 2, 5 × 10^k inside [lo, hi] when it spans at most 3 decades, else powers of 10. */
export function logTicks(lo: number, hi: number): number[] {
  const decades = Math.log10(hi / lo);
  const mults = decades <= 3 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mults) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  /** Maps a value to [0, 1] along the axis. */
  unit(v: number): number;
}

function linearAxis(lo: number, hi: number, widen: boolean): Axis {
  if (lo === hi) [lo, hi] = lo === 0 ? [-1, 1] : [lo - Math.abs(lo) / 2, hi + Math.abs(hi) / 2];
  let ticks = linearTicks(lo, hi);
  if (widen) {
    const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : hi - lo;
    if (ticks[0]! > lo) ticks.unshift(Number((ticks[0]! - step).toPrecision(12)));
    if (ticks.at(-1)! < hi) ticks.push(Number((ticks.at(-1)! + step).toPrecision(12)));
    [lo, hi] = [ticks[0]!, ticks.at(-1)!];
  }
  ticks = ticks.filter((t) => t >= lo - 1e-12 * (hi - lo) && t <= hi + 1e-12 * (hi - lo));
  return { lo, hi, ticks, unit: (v) => (v - lo) / (hi - lo) };
}

function logAxis(lo: number, hi: number): Axis {
  if (lo === hi) [lo, hi] = [lo / Math.SQRT2, hi * Math.SQRT2];
  // a little room so that the end points do not sit on the frame
  const pad = (Math.log10(hi) - Math.log10(lo)) * 0.03;
  lo = 10 ** (Math.log10(lo) - pad);
  hi = 10 ** (Math.log10(hi) + pad);
  const L = Math.log10(lo), R = Math.log10(hi);
  return { lo, hi, ticks: logTicks(lo, hi), unit: (v) => (Math.log10(v) - L) / (R - L) };
}

/** Drawable runs of points: a point that cannot be drawn ends the current run. */
function segments(points: readonly [number, number][], log: boolean): [number, number][][] {
  const out: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (const [x, y] of points) {
    if (Number.isFinite(x) && Number.isFinite(y) && (!log || x > 0)) cur.push([x, y]);
    else if (cur.length) (out.push(cur), (cur = []));
  }
  if (cur.length) out.push(cur);
  return out;
}

/** 32-bit FNV-1a, for an id that differs between charts embedded in one page. */
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

const f1 = (v: number): string => String(Math.round(v * 10) / 10);

/** A complete SVG document (see the module comment). */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 640, height = o.height ?? 400;
  const log = o.xScale === 'log';
  const runs = o.series.map((s) => segments(s.points, log));
  const all = runs.flat(2);
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x = all.length ? (log ? logAxis(Math.min(...xs), Math.max(...xs)) : linearAxis(Math.min(...xs), Math.max(...xs), true))
    : log ? logAxis(1, 10) : linearAxis(0, 1, false);
  const y = o.yRange ? linearAxis(o.yRange[0], o.yRange[1], false)
    : all.length ? linearAxis(Math.min(...ys), Math.max(...ys), true) : linearAxis(0, 1, false);

  const maxName = Math.max(0, ...o.series.map((s) => s.name.length));
  const legendW = o.series.length ? Math.min(Math.round(width * 0.35), 44 + 7 * maxName) : 0;
  const m = { top: 36, right: 16 + legendW, bottom: 50, left: 64 };
  const pw = Math.max(10, width - m.left - m.right), ph = Math.max(10, height - m.top - m.bottom);
  const px = (v: number): number => m.left + x.unit(v) * pw;
  const py = (v: number): number => m.top + (1 - y.unit(v)) * ph;
  const clip = `clip-${hash(o.title + '\u0000' + o.series.map((s) => s.name).join('\u0000'))}`;

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(o.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<defs><clipPath id="${clip}"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  out.push(`<text x="${f1(m.left + pw / 2)}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>`);
  // grid and ticks
  for (const t of x.ticks) {
    const X = f1(px(t));
    out.push(`<line x1="${X}" y1="${m.top}" x2="${X}" y2="${m.top + ph}" stroke="#e6e6e6"/>`);
    out.push(`<line x1="${X}" y1="${m.top + ph}" x2="${X}" y2="${m.top + ph + 5}" stroke="#333333"/>`);
    out.push(`<text x="${X}" y="${m.top + ph + 18}" text-anchor="middle">${escapeXml(formatTick(t))}</text>`);
  }
  for (const t of y.ticks) {
    const Y = f1(py(t));
    out.push(`<line x1="${m.left}" y1="${Y}" x2="${m.left + pw}" y2="${Y}" stroke="#e6e6e6"/>`);
    out.push(`<line x1="${m.left - 5}" y1="${Y}" x2="${m.left}" y2="${Y}" stroke="#333333"/>`);
    out.push(`<text x="${m.left - 8}" y="${Y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatTick(t))}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${f1(m.left + pw / 2)}" y="${height - 10}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${f1(m.top + ph / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  // series
  out.push(`<g clip-path="url(#${clip})" fill="none" stroke-width="2" stroke-linejoin="round">`);
  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    for (const run of runs[i]!) {
      const d = run.map(([a, b], k) => `${k ? 'L' : 'M'}${f1(px(a))} ${f1(py(b))}`).join(' ');
      out.push(`<path d="${d}" stroke="${color}"${dash}><title>${escapeXml(s.name)}</title></path>`);
      if (run.length <= 200) for (const [a, b] of run) out.push(`<circle cx="${f1(px(a))}" cy="${f1(py(b))}" r="2.5" fill="${color}" stroke="none"/>`);
    }
  });
  out.push('</g>');
  // legend
  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const lx = m.left + pw + 14, ly = m.top + 10 + i * 18;
    const room = Math.max(1, Math.floor((legendW - 40) / 7));
    const name = s.name.length > room ? s.name.slice(0, Math.max(1, room - 1)) + '…' : s.name;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${escapeXml(name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
