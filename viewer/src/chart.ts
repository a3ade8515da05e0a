/**
 * A small SVG line chart (linear or log axes, several series with marked points, horizontal reference
 * lines, a marked x position and shaded interval strips under the plot), for the faithfulness curve and the
 * saturation view. Presentation attributes only, so a chart exports as it looks.
 *
 * Drawn at the pixel size it is shown at (the caller measures its box), so text keeps its size. No two texts
 * overlap: every label is measured; ticks are thinned until their labels stand apart; the margins grow to the
 * widest tick label; legends wrap; labels inside the plot take the first free place among several around
 * their mark, off the data where they can; a reference line's label that finds no place off the data goes to
 * the legend.
 */
import { formatTick } from '../../src/report/line-chart.js';
import { s } from './dom.js';
import { FONT_FAMILY, contains, fitText, intersects, textBox, textWidth, type Box } from './measure.js';

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
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}

/** Powers of ten in [lo, hi] (with 2 and 5 between them over short ranges, or the multipliers given). */
export function logTicks(lo: number, hi: number, mults: readonly number[] = Math.log10(hi / lo) < 3 ? [1, 2, 5] : [1]): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mults) {
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

/** Tick sets for an axis, densest first: fewer round steps (linear), or fewer multipliers, then every k-th power (log). */
export function tickCandidates(lo: number, hi: number, log: boolean, target: number): number[][] {
  const out: number[][] = [];
  const add = (t: number[]): void => {
    if (t.length > 0 && !out.some((o) => o.length === t.length && o.every((v, i) => v === t[i]))) out.push(t);
  };
  if (!log) {
    for (let c = Math.max(1, target); c >= 1; c--) add(linearTicks(lo, hi, c));
    return out;
  }
  add(logTicks(lo, hi));
  add(logTicks(lo, hi, [1, 3]));
  add(logTicks(lo, hi, [1]));
  const last = out[out.length - 1] ?? [];
  for (let k = 2; k <= last.length; k++) add(last.filter((_, i) => i % k === 0));
  if (out.length === 0) out.push([Math.sqrt(lo * hi)]);
  return out;
}

/** Tick labels at these sizes and gaps. */
const FS = 10.5;
const TITLE_FS = 12.5;
const LANE_FS = 9;
/** Least free space between neighbouring tick labels, and between a label and anything else. */
const TICK_GAP = 8;
const LABEL_GAP = 2;
const LEGEND_ROW = 16;

/** The first tick set whose labels, laid out by `boxOf`, stand TICK_GAP apart and inside `bounds`. */
function pickTicks(cands: number[][], boxOf: (t: number) => Box, bounds: Box): number[] {
  for (const ticks of cands) {
    const boxes = ticks.map(boxOf);
    if (boxes.every((b, i) => contains(bounds, b) && (i === 0 || !intersects(boxes[i - 1]!, b, TICK_GAP)))) return ticks;
  }
  return cands[cands.length - 1]!.slice(0, 1);
}

type HLine = NonNullable<ChartSpec['hlines']>[number];

interface Candidate {
  x: number;
  y: number;
  anchor: 'start' | 'middle' | 'end';
}

/**
 * Places labels one by one at the first candidate inside `area` that overlaps no label placed before and
 * none of the `data` boxes; with `overData`, where no such place exists, the first that overlaps no label.
 */
class LabelPlacer {
  readonly placed: Box[] = [];
  constructor(readonly area: Box, readonly data: Box[]) {}

  place(text: string, size: number, cands: Candidate[], overData: boolean, bold = false): Candidate | null {
    const fits = (c: Candidate, avoidData: boolean): boolean => {
      const b = textBox(text, c.x, c.y, size, c.anchor, bold);
      return contains(this.area, b) && !this.placed.some((p) => intersects(p, b, LABEL_GAP)) && (!avoidData || !this.data.some((d) => intersects(d, b)));
    };
    const c = cands.find((x) => fits(x, true)) ?? (overData ? cands.find((x) => fits(x, false)) : undefined) ?? null;
    if (c) this.placed.push(textBox(text, c.x, c.y, size, c.anchor, bold));
    return c;
  }
}

export function lineChart(c: ChartSpec): SVGSVGElement {
  const first = build(c, []);
  return first.unplaced.length === 0 ? first.svg : build(c, first.unplaced).svg;
}

interface LegendItem {
  label: string;
  color: string;
  width: number;
  dash?: string | undefined;
}

/** The chart; reference lines in `toLegend` are labelled in the legend instead of beside the line. */
function build(c: ChartSpec, toLegend: HLine[]): { svg: SVGSVGElement; unplaced: HLine[] } {
  const W = c.width, H = c.height;
  const lanes = c.lanes ?? [];

  // legend rows under everything else
  const LEGEND_X = 20;
  const items: LegendItem[] = [
    ...c.series.map((se) => ({ label: se.label, color: se.color, width: se.width ?? 2, dash: se.dash })),
    ...toLegend.map((hl) => ({ label: hl.label, color: hl.color, width: 1.2, dash: '5 4' })),
  ];
  const legend: { item: LegendItem; text: string; x: number; row: number }[] = [];
  let lx = LEGEND_X, rows = 0;
  for (const item of items) {
    const text = fitText(item.label, FS, W - LEGEND_X - 30);
    const w = 22 + textWidth(text, FS);
    if (lx > LEGEND_X && lx + w > W - 8) (rows++, (lx = LEGEND_X));
    legend.push({ item, text, x: lx, row: rows });
    lx += w + 16;
  }
  const legendH = items.length > 0 ? (rows + 1) * LEGEND_ROW : 0;

  // vertical layout, from the plot's bottom edge down
  const tickDy = 17, xLabelDy = tickDy + FS + 5, lanesDy = xLabelDy + 8;
  const legendDy = lanesDy + lanes.length * 14 + (lanes.length ? 4 : 0) + 4;
  const top = 28;
  const ph = Math.max(40, H - top - legendDy - legendH - 2);
  const bottom = top + ph;

  const xs = c.series.flatMap((se) => se.x as number[]);
  const ys = [...c.series.flatMap((se) => se.y.filter((y): y is number => y !== null)), ...(c.hlines ?? []).map((h) => h.y)];
  if (c.point) ys.push(c.point.y);
  const [x0, x1] = extent(xs, !!c.logX);
  const [y0, y1] = extent(ys, !!c.logY);
  const ty = (y: number): number => top + ph * (1 - (c.logY ? Math.log(y / y0) / Math.log(y1 / y0) : (y - y0) / (y1 - y0)));

  // y ticks (spaced by their height), then the left margin from the widest label
  const all: Box = { x: 0, y: 0, w: W, h: H };
  const yTicks = pickTicks(tickCandidates(y0, y1, !!c.logY, Math.min(8, Math.floor(ph / 30))), (t) => textBox(formatTick(t), 100, ty(t) + 3.5, FS, 'end'), all);
  const yLabelW = Math.max(0, ...yTicks.map((t) => textWidth(formatTick(t), FS)), ...lanes.map((l) => textWidth(l, LANE_FS)));
  const left = Math.ceil(Math.max(40, 24 + yLabelW + 6));
  const pw = Math.max(40, W - left - 14);
  const tx = (x: number): number => left + pw * (c.logX ? Math.log(x / x0) / Math.log(x1 / x0) : (x - x0) / (x1 - x0));
  const ok = (x: number, y: number | null): y is number => y !== null && Number.isFinite(y) && (!c.logY || y > 0) && (!c.logX || x > 0);

  // x ticks: centred under their tick, pulled inside the chart at its edges
  const xTick = (t: number): Candidate => {
    const w = textWidth(formatTick(t), FS), x = tx(t);
    return { x, y: bottom + tickDy, anchor: x - w / 2 < 2 ? 'start' : x + w / 2 > W - 2 ? 'end' : 'middle' };
  };
  const xBox = (t: number): Box => {
    const p = xTick(t);
    return textBox(formatTick(t), p.anchor === 'start' ? 2 : p.anchor === 'end' ? W - 2 : p.x, p.y, FS, p.anchor);
  };
  const xTicks = pickTicks(tickCandidates(x0, x1, !!c.logX, Math.min(10, Math.floor(pw / 55))), xBox, all);

  const svg = s('svg', {
    class: `chart ${c.cls ?? ''}`, viewBox: `0 0 ${W} ${H}`, width: W, height: H, 'font-family': FONT_FAMILY, 'font-size': FS,
  });
  const title = fitText(c.title, TITLE_FS, W - left - 8, true);
  svg.append(
    s('rect', { x: 0, y: 0, width: W, height: H, fill: 'white' }),
    s('text', { x: left, y: 18, 'font-size': TITLE_FS, 'font-weight': 'bold', fill: '#111827', class: 'title' }, title, title !== c.title ? s('title', {}, c.title) : null),
  );
  const axes = s('g', { class: 'axes', fill: '#6b7280' });
  for (const t of yTicks) {
    axes.append(
      s('line', { x1: left, x2: left + pw, y1: ty(t), y2: ty(t), stroke: '#eef0f3' }),
      s('text', { x: left - 6, y: ty(t) + 3.5, 'text-anchor': 'end', class: 'tick y' }, formatTick(t)),
    );
  }
  for (const t of xTicks) {
    const p = xTick(t);
    axes.append(
      s('line', { x1: p.x, x2: p.x, y1: bottom, y2: bottom + 4, stroke: '#9ca3af' }),
      s('text', { x: p.anchor === 'start' ? 2 : p.anchor === 'end' ? W - 2 : p.x, y: p.y, 'text-anchor': p.anchor, class: 'tick x' }, formatTick(t)),
    );
  }
  const yLabel = fitText(c.yLabel, FS, ph);
  axes.append(
    s('rect', { x: left, y: top, width: pw, height: ph, fill: 'none', stroke: '#d1d5db' }),
    s('text', { x: left + pw / 2, y: bottom + xLabelDy, 'text-anchor': 'middle', fill: '#374151', class: 'axis-label' }, fitText(c.xLabel, FS, pw)),
    s('text', { x: 11, y: top + ph / 2, 'text-anchor': 'middle', fill: '#374151', transform: `rotate(-90 11 ${top + ph / 2})`, class: 'axis-label' }, yLabel),
  );
  svg.append(axes);

  // what labels inside the plot should not cover
  const data: Box[] = [];
  const dot = (x: number, y: number, r: number): void => void data.push({ x: x - r, y: y - r, w: 2 * r, h: 2 * r });
  const trace = (pts: [number, number][]): void => {
    for (let i = 1; i < pts.length; i++) {
      const [ax, ay] = pts[i - 1]!, [bx, by] = pts[i]!;
      const steps = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay) / 4));
      for (let k = 0; k <= steps; k++) dot(ax + ((bx - ax) * k) / steps, ay + ((by - ay) * k) / steps, 1);
    }
  };

  const hlines = (c.hlines ?? []).filter((hl) => ok(x0, hl.y));
  for (const hl of hlines) {
    svg.append(s('line', { x1: left, x2: left + pw, y1: ty(hl.y), y2: ty(hl.y), stroke: hl.color, 'stroke-dasharray': '5 4', class: 'hline' }));
    trace([[left, ty(hl.y)], [left + pw, ty(hl.y)]]);
  }
  for (const b of c.bands ?? []) {
    const y = bottom + lanesDy + b.lane * 14;
    svg.append(s('rect', { class: 'band', x: tx(b.x0), y, width: Math.max(2, tx(b.x1) - tx(b.x0)), height: 8, fill: b.color, 'fill-opacity': 0.55 }));
  }
  lanes.forEach((label, i) => {
    svg.append(s('text', { x: left - 6, y: bottom + lanesDy + i * 14 + 7.5, 'text-anchor': 'end', fill: '#6b7280', 'font-size': LANE_FS, class: 'lane' }, label));
  });
  for (const se of c.series) {
    const g = s('g', { class: `series ${se.cls ?? ''}` });
    let d = '';
    let run: [number, number][] = [];
    se.x.forEach((x, i) => {
      const y = se.y[i] ?? null;
      if (!ok(x, y)) return void (trace(run), (run = []));
      d += `${run.length ? 'L' : 'M'}${tx(x).toFixed(1)} ${ty(y).toFixed(1)}`;
      run.push([tx(x), ty(y)]);
    });
    trace(run);
    g.append(s('path', { d, fill: 'none', stroke: se.color, 'stroke-width': se.width ?? 2, 'stroke-dasharray': se.dash ?? null, 'stroke-linejoin': 'round' }));
    for (const i of se.markers ?? []) {
      const y = se.y[i] ?? null;
      if (!ok(se.x[i]!, y)) continue;
      g.append(s('circle', { cx: tx(se.x[i]!), cy: ty(y), r: 3.2, fill: 'white', stroke: se.color, 'stroke-width': 1.6, class: 'marker' }));
      dot(tx(se.x[i]!), ty(y), 4.5);
    }
    svg.append(g);
  }
  const vx = c.vline && (!c.logX || c.vline.x > 0) ? Math.min(Math.max(tx(c.vline.x), left), left + pw) : null;
  if (c.vline && vx !== null) {
    svg.append(s('line', { class: 'vline', x1: vx, x2: vx, y1: top, y2: bottom, stroke: '#111827', 'stroke-width': 1, 'stroke-dasharray': '2 2' }));
    trace([[vx, top], [vx, bottom]]);
  }
  const point = c.point && ok(c.point.x, c.point.y) ? { ...c.point, px: tx(c.point.x), py: ty(c.point.y) } : null;
  if (point) {
    svg.append(s('circle', { class: 'current-point', cx: point.px, cy: point.py, r: 5, fill: point.color, stroke: 'white', 'stroke-width': 1.5 }));
    dot(point.px, point.py, 6.5);
  }

  // labels inside the plot: the current point's, the marked x's, then the reference lines'
  const placer = new LabelPlacer({ x: left + 2, y: top + 2, w: pw - 4, h: ph - 4 }, data);
  const label = (text: string, at: Candidate, fill: string, cls: string, bold = false): SVGTextElement =>
    s('text', { x: at.x, y: at.y, 'text-anchor': at.anchor, fill, 'font-weight': bold ? 'bold' : null, class: `label ${cls}` }, text);
  if (point) {
    const { px, py } = point;
    const cands: Candidate[] = [];
    for (const dy of [14, -8, 26, -20, 38, -32]) cands.push({ x: px + 9, y: py + dy, anchor: 'start' }, { x: px - 9, y: py + dy, anchor: 'end' });
    const at = placer.place(point.label, FS, cands, true, true);
    if (at) svg.append(label(point.label, at, point.color, 'point-label', true));
  }
  if (c.vline && vx !== null) {
    const cands: Candidate[] = [];
    for (let dy = 12; dy < ph - 4; dy += 13) cands.push({ x: vx + 4, y: top + dy, anchor: 'start' }, { x: vx - 4, y: top + dy, anchor: 'end' });
    const at = placer.place(c.vline.label, FS, cands, true);
    if (at) svg.append(label(c.vline.label, at, '#111827', 'vline-label'));
  }
  const unplaced: HLine[] = [];
  for (const hl of hlines) {
    if (toLegend.includes(hl)) continue;
    const y = ty(hl.y), cands: Candidate[] = [];
    for (let x = left + pw - 4; x > left + 20; x -= 24) cands.push({ x, y: y - 4, anchor: 'end' }, { x, y: y + FS + 1, anchor: 'end' });
    const at = placer.place(hl.label, FS, cands, false);
    if (at) svg.append(label(hl.label, at, hl.color, 'hline-label'));
    else unplaced.push(hl);
  }

  const ly = bottom + legendDy + 8;
  const lg = s('g', { class: 'legend', fill: '#374151' });
  for (const { item, text, x, row } of legend) {
    const y = ly + row * LEGEND_ROW;
    lg.append(
      s('line', { x1: x, x2: x + 18, y1: y, y2: y, stroke: item.color, 'stroke-width': item.width, 'stroke-dasharray': item.dash ?? null }),
      s('text', { x: x + 22, y: y + 3.5 }, text, text !== item.label ? s('title', {}, item.label) : null),
    );
  }
  svg.append(lg);
  return { svg, unplaced };
}
