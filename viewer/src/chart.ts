/**
 * A small SVG line chart (linear or log axes, several series with marked points, horizontal reference
 * lines, a marked x position and shaded interval strips under the plot), for the faithfulness curve and the
 * saturation view. Presentation attributes only, so a chart exports as it looks.
 */
import { num, s } from './dom.js';

export interface Series {
  label: string;
  color: string;
  x: readonly number[];
  y: readonly (number | null)[];
  width?: number;
  dash?: string;
  /** Indices of points drawn as dots. */
  markers?: readonly number[];
  cls?: string;
}

export interface Band {
  x0: number;
  x1: number;
  color: string;
  /** Strip below the plot (0 = first). */
  lane: number;
}

export interface ChartSpec {
  width: number;
  height: number;
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  series: Series[];
  hlines?: { y: number; label: string; color: string }[];
  vline?: { x: number; label: string } | null;
  point?: { x: number; y: number; label: string; color: string } | null;
  bands?: Band[];
  /** Labels of the band strips. */
  lanes?: string[];
  cls?: string;
}

/** About `count` round tick values covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((st) => st >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

/** Powers of ten in [lo, hi] (with 2 and 5 between them over short ranges). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const few = Math.log10(hi / lo) < 3;
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of few ? [1, 2, 5] : [1]) {
      const t = m * 10 ** e;
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) out.push(t);
    }
  }
  return out;
}

function extent(values: number[], log: boolean): [number, number] {
  const v = values.filter((x) => Number.isFinite(x) && (!log || x > 0));
  if (v.length === 0) return log ? [1, 10] : [0, 1];
  let lo = Math.min(...v), hi = Math.max(...v);
  if (lo === hi) {
    lo = log ? lo / 2 : lo - 0.5;
    hi = log ? hi * 2 : hi + 0.5;
  } else if (!log) {
    const pad = (hi - lo) * 0.06;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

export function lineChart(c: ChartSpec): SVGSVGElement {
  const lanes = c.lanes?.length ?? 0;
  // legend items in rows under the x label
  const items: { se: Series; x: number; row: number }[] = [];
  let lx = 58, row = 0;
  for (const se of c.series) {
    const w = 28 + se.label.length * 5.9;
    if (lx + w > c.width - 8 && lx > 58) (row++, (lx = 58));
    items.push({ se, x: lx, row });
    lx += w;
  }
  const legendH = c.series.length > 0 ? (row + 1) * 15 : 0;
  const m = { left: 58, right: 14, top: 26, bottom: 40 + lanes * 14 + legendH };
  const pw = c.width - m.left - m.right, ph = c.height - m.top - m.bottom;
  const xs = c.series.flatMap((se) => se.x as number[]);
  const ys = [...c.series.flatMap((se) => se.y.filter((y): y is number => y !== null)), ...(c.hlines ?? []).map((h) => h.y)];
  if (c.point) ys.push(c.point.y);
  const [x0, x1] = extent(xs, !!c.logX);
  const [y0, y1] = extent(ys, !!c.logY);
  const tx = (x: number): number => m.left + pw * (c.logX ? Math.log(x / x0) / Math.log(x1 / x0) : (x - x0) / (x1 - x0));
  const ty = (y: number): number => m.top + ph * (1 - (c.logY ? Math.log(y / y0) / Math.log(y1 / y0) : (y - y0) / (y1 - y0)));
  const ok = (x: number, y: number | null): y is number => y !== null && Number.isFinite(y) && (!c.logY || y > 0) && (!c.logX || x > 0);

  const svg = s('svg', {
    class: `chart ${c.cls ?? ''}`, viewBox: `0 0 ${c.width} ${c.height}`, width: c.width, height: c.height,
    'font-family': 'Helvetica, Arial, sans-serif', 'font-size': 10.5,
  });
  svg.append(
    s('rect', { x: 0, y: 0, width: c.width, height: c.height, fill: 'white' }),
    s('text', { x: m.left, y: 17, 'font-size': 12.5, 'font-weight': 'bold', fill: '#111827' }, c.title),
  );
  const axes = s('g', { class: 'axes', fill: '#6b7280' });
  for (const t of c.logY ? logTicks(y0, y1) : linearTicks(y0, y1)) {
    axes.append(
      s('line', { x1: m.left, x2: m.left + pw, y1: ty(t), y2: ty(t), stroke: '#eef0f3' }),
      s('text', { x: m.left - 6, y: ty(t) + 3.5, 'text-anchor': 'end' }, num(t, 2)),
    );
  }
  for (const t of c.logX ? logTicks(x0, x1) : linearTicks(x0, x1, 6)) {
    axes.append(
      s('line', { x1: tx(t), x2: tx(t), y1: m.top + ph, y2: m.top + ph + 4, stroke: '#9ca3af' }),
      s('text', { x: tx(t), y: m.top + ph + 15, 'text-anchor': 'middle' }, num(t, 2)),
    );
  }
  axes.append(
    s('rect', { x: m.left, y: m.top, width: pw, height: ph, fill: 'none', stroke: '#d1d5db' }),
    s('text', { x: m.left + pw / 2, y: m.top + ph + 30, 'text-anchor': 'middle', fill: '#374151' }, c.xLabel),
    s('text', { x: 12, y: m.top + ph / 2, 'text-anchor': 'middle', fill: '#374151', transform: `rotate(-90 12 ${m.top + ph / 2})` }, c.yLabel),
  );
  svg.append(axes);
  for (const hl of c.hlines ?? []) {
    if (!ok(x0, hl.y)) continue;
    svg.append(
      s('line', { x1: m.left, x2: m.left + pw, y1: ty(hl.y), y2: ty(hl.y), stroke: hl.color, 'stroke-dasharray': '5 4', class: 'hline' }),
      s('text', { x: m.left + pw - 4, y: ty(hl.y) - 4, 'text-anchor': 'end', fill: hl.color }, hl.label),
    );
  }
  for (const b of c.bands ?? []) {
    const y = m.top + ph + 38 + b.lane * 14;
    svg.append(s('rect', { class: 'band', x: tx(b.x0), y, width: Math.max(2, tx(b.x1) - tx(b.x0)), height: 8, fill: b.color, 'fill-opacity': 0.55 }));
  }
  (c.lanes ?? []).forEach((label, i) => {
    svg.append(s('text', { x: m.left - 6, y: m.top + ph + 45 + i * 14, 'text-anchor': 'end', fill: '#6b7280', 'font-size': 9 }, label));
  });
  for (const se of c.series) {
    const g = s('g', { class: `series ${se.cls ?? ''}` });
    let d = '';
    let pen = false;
    se.x.forEach((x, i) => {
      const y = se.y[i] ?? null;
      if (!ok(x, y)) return void (pen = false);
      d += `${pen ? 'L' : 'M'}${tx(x).toFixed(1)} ${ty(y).toFixed(1)}`;
      pen = true;
    });
    g.append(s('path', { d, fill: 'none', stroke: se.color, 'stroke-width': se.width ?? 2, 'stroke-dasharray': se.dash ?? null, 'stroke-linejoin': 'round' }));
    for (const i of se.markers ?? []) {
      const y = se.y[i] ?? null;
      if (ok(se.x[i]!, y)) g.append(s('circle', { cx: tx(se.x[i]!), cy: ty(y), r: 3.2, fill: 'white', stroke: se.color, 'stroke-width': 1.6, class: 'marker' }));
    }
    svg.append(g);
  }
  if (c.vline && (!c.logX || c.vline.x > 0)) {
    const x = Math.min(Math.max(tx(c.vline.x), m.left), m.left + pw);
    svg.append(
      s('line', { class: 'vline', x1: x, x2: x, y1: m.top, y2: m.top + ph, stroke: '#111827', 'stroke-width': 1, 'stroke-dasharray': '2 2' }),
      s('text', { x: x + 4, y: m.top + 11, fill: '#111827' }, c.vline.label),
    );
  }
  if (c.point && ok(c.point.x, c.point.y)) {
    svg.append(
      s('circle', { class: 'current-point', cx: tx(c.point.x), cy: ty(c.point.y), r: 5, fill: c.point.color, stroke: 'white', 'stroke-width': 1.5 }),
      s('text', { x: tx(c.point.x) + 7, y: ty(c.point.y) + 14, fill: c.point.color, 'font-weight': 'bold' }, c.point.label),
    );
  }
  const ly = c.height - legendH + 9;
  for (const { se, x, row: r } of items) {
    svg.append(
      s('line', { x1: x, x2: x + 18, y1: ly + r * 15, y2: ly + r * 15, stroke: se.color, 'stroke-width': se.width ?? 2, 'stroke-dasharray': se.dash ?? null }),
      s('text', { x: x + 22, y: ly + r * 15 + 3.5, fill: '#374151' }, se.label),
    );
  }
  return svg;
}
