/**
 * One panel's picture of a circuit as SVG, in the colours of the command line's pictures (src/graph/style.ts):
 * edges coloured by the slot they feed (q, k, v, MLP, logits) and their sign (negative: lighter and dashed),
 * width by |score| relative to the strongest edge of the circuit. All nodes keep fixed places (layout.ts);
 * those outside the circuit are faded. With a comparison, edges only this panel has get an amber halo and
 * edges only the other has are drawn as grey dashes; with a reference circuit, its nodes get a green ring, its
 * edges found here a green halo and those missed green dots.
 *
 * Presentation attributes (not CSS) carry every style, so an exported SVG looks like the page. Classes for
 * tools and tests: path.edge (one per drawn circuit edge), g.node.in-circuit / g.node.faded, path.edge-missing,
 * path.edge-ref-missing, path.edge-hit (invisible hover targets).
 */
import { EDGE_COLORS, NODE_FILLS, edgeColor, widthFor } from '../../src/graph/style.js';
import { s } from './dom.js';
import { BOX_H, LOGITS, edgeD, layout, type Layout } from './layout.js';
import { FONT_FAMILY, fitText, textWidth, wrapText } from './measure.js';
import { SLOT_KINDS, type EdgeSet, type GraphSummary, type PanelSelection, type ReferenceInfo } from './protocol.js';

export interface PanelView {
  summary: GraphSummary;
  sel: PanelSelection;
  reference: ReferenceInfo | null;
  title: string;
  subtitle: string;
}

const HALO_UNIQUE = '#f59e0b';
const HALO_REF = '#10b981';
const MISSING = '#9ca3af';

/** One element per edge of the set (or none where `each` returns null). */
function edges(L: Layout, set: EdgeSet, each: (i: number, d: string) => SVGElement | null): SVGElement[] {
  const out: SVGElement[] = [];
  for (let i = 0; i < set.flat.length; i++) {
    const el = each(i, edgeD(L, set.src[i]!, set.dst[i]! < 0 ? LOGITS : set.dst[i]!, set.kind[i]!));
    if (el) out.push(el);
  }
  return out;
}

/** The longest form of a box's label that fits its width (h12, 12, none; MLP, M, none): its tooltip names the node. */
function boxLabel(full: string, width: number, size: number): string {
  const short = /^h(\d+)$/.exec(full)?.[1] ?? (full === 'MLP' ? 'M' : full);
  return [full, short].find((t) => textWidth(t, size) <= width - 2) ?? '';
}

const LEGEND_FS = 10;
const LEGEND_ROW = 17;

/** One legend entry: its width and how to draw it with its left end at (x, line y). */
interface LegendEntry {
  width: number;
  draw(x: number, y: number): SVGElement[];
}

function legendEntries(v: PanelView): LegendEntry[] {
  const out: LegendEntry[] = [];
  const items: [number, string][] = [[0, 'q'], [1, 'k'], [2, 'v'], [3, 'MLP'], [4, 'logits']];
  for (const [k, label] of items) {
    const [pos, neg] = EDGE_COLORS[SLOT_KINDS[k]!];
    out.push({
      width: 34 + textWidth(label, LEGEND_FS),
      draw: (x, y) => [
        s('line', { x1: x, y1: y, x2: x + 14, y2: y, stroke: pos, 'stroke-width': 3 }),
        s('line', { x1: x + 16, y1: y, x2: x + 30, y2: y, stroke: neg, 'stroke-width': 3, 'stroke-dasharray': '4 2' }),
        s('text', { x: x + 34, y: y + 3.5 }, label),
      ],
    });
  }
  const note = 'solid +, dashed −; width ∝ |score|';
  out.push({ width: textWidth(note, LEGEND_FS), draw: (x, y) => [s('text', { x, y: y + 3.5 }, note)] });
  const extra: [string, string, string][] = [];
  if (v.sel.unique) extra.push([HALO_UNIQUE, '', 'only in this panel'], [MISSING, '4 3', 'only in the other panel']);
  if (v.reference) extra.push([HALO_REF, '', 'in the manual circuit'], [HALO_REF, '1 3', 'manual edge missed']);
  for (const [color, dash, label] of extra) {
    out.push({
      width: 28 + textWidth(label, LEGEND_FS),
      draw: (x, y) => [
        s('line', { x1: x, y1: y, x2: x + 24, y2: y, stroke: color, 'stroke-width': dash ? 2 : 6, 'stroke-opacity': dash ? 1 : 0.5, 'stroke-dasharray': dash || null }),
        s('text', { x: x + 28, y: y + 3.5 }, label),
      ],
    });
  }
  return out;
}

/** The legend's entries flowed into rows of `width` from (x, y); returns the group and the y below it. */
function legend(x: number, y: number, width: number, v: PanelView): { g: SVGGElement; bottom: number } {
  const g = s('g', { class: 'legend', 'font-size': LEGEND_FS, fill: '#374151' });
  let cx = x, cy = y;
  for (const e of legendEntries(v)) {
    if (cx > x && cx + e.width > x + width) (cx = x), (cy += LEGEND_ROW);
    g.append(...e.draw(cx, cy));
    cx += e.width + 16;
  }
  return { g, bottom: cy + 8 };
}

/** Where the panel is drawn: the width of its box and the height it should fill. */
export interface PanelBox {
  width: number;
  height: number;
}

/** The panel's SVG, filling `box`; `data-edges` / `data-nodes` carry the circuit's size. */
export function drawPanel(v: PanelView, box: PanelBox): SVGSVGElement {
  const { summary, sel } = v;
  const inner = box.width - 32;
  const title = fitText(v.title, 15, inner, true);
  const subtitle = wrapText(v.subtitle, 11.5, inner);
  const sub = s('text', { x: 16, y: 40, 'font-size': 11.5, fill: '#4b5563', class: 'subtitle' },
    ...subtitle.map((line, i) => s('tspan', { x: 16, dy: i === 0 ? 0 : 15 }, line)));
  const leg = legend(16, 58 + (subtitle.length - 1) * 15, inner, v);
  const L = layout(summary.nodes, summary.nLayers, summary.nHeads, { width: box.width, height: box.height, top: leg.bottom });
  const W = L.width;
  const svg = s('svg', {
    class: 'circuit', viewBox: `0 0 ${W} ${L.height}`, width: W, height: L.height,
    'font-family': FONT_FAMILY, 'data-edges': sel.edges, 'data-nodes': sel.nodes,
  });
  svg.append(
    s('rect', { x: 0, y: 0, width: W, height: L.height, fill: 'white', class: 'background' }),
    s('text', { x: 16, y: 22, 'font-size': 15, 'font-weight': 'bold', fill: '#111827', class: 'title' }, title, title !== v.title ? s('title', {}, v.title) : null),
    sub,
    leg.g,
  );
  const labels = s('g', { class: 'row-labels', 'font-size': 9.5, fill: '#9ca3af', 'text-anchor': 'end' });
  for (let l = -1; l <= summary.nLayers; l++) {
    const text = l < 0 ? 'emb' : l === summary.nLayers ? 'out' : `L${l}`;
    labels.append(s('text', { x: L.labelX, y: L.rowY(l) + 14 }, text));
  }
  svg.append(labels);

  const d = sel.drawn;
  const width = (i: number): number => widthFor(d.score[i]!, sel.maxAbs, 0.7, 5.5);
  // halos under the edges
  const halos = s('g', { class: 'halos', fill: 'none', 'stroke-linecap': 'round' });
  halos.append(...edges(L, d, (i, path) => {
    const unique = sel.unique?.[i] === 1, hit = sel.refHit?.[i] === 1;
    if (!unique && !hit) return null;
    return s('path', { d: path, class: unique ? 'halo-unique' : 'halo-ref', stroke: unique ? HALO_UNIQUE : HALO_REF, 'stroke-opacity': 0.45, 'stroke-width': width(i) + 6 });
  }));
  svg.append(halos);
  const missing = s('g', { class: 'missing', fill: 'none' });
  if (sel.missing) {
    missing.append(...edges(L, sel.missing, (i, path) =>
      s('path', { d: path, class: 'edge-missing', stroke: MISSING, 'stroke-width': 1.2, 'stroke-dasharray': '4 3', 'data-flat': sel.missing!.flat[i] })));
  }
  if (sel.refMissing) {
    missing.append(...edges(L, sel.refMissing, (i, path) =>
      s('path', { d: path, class: 'edge-ref-missing', stroke: HALO_REF, 'stroke-opacity': 0.8, 'stroke-width': 1.3, 'stroke-dasharray': '1 3', 'stroke-linecap': 'round', 'data-flat': sel.refMissing!.flat[i] })));
  }
  svg.append(missing);
  const drawn = s('g', { class: 'edges', fill: 'none' });
  drawn.append(...edges(L, d, (i, path) => {
    const score = d.score[i]!;
    return s('path', {
      d: path, class: 'edge', stroke: edgeColor(SLOT_KINDS[d.kind[i]!]!, score), 'stroke-width': width(i).toFixed(2), 'stroke-opacity': 0.9,
      'stroke-dasharray': score < 0 ? '5 3' : null, 'data-flat': d.flat[i], 'data-src': d.src[i], 'data-dst': d.dst[i],
    });
  }));
  svg.append(drawn);
  const hits = s('g', { class: 'hits', fill: 'none', stroke: 'transparent', 'stroke-width': 8 });
  hits.append(...edges(L, d, (i, path) => s('path', { d: path, class: 'edge-hit', 'data-flat': d.flat[i] })));
  svg.append(hits);

  const big = L.headW >= 48; // wider boxes take larger labels
  const fontSize = big ? 11 : 9.5;
  const nodes = s('g', { class: 'nodes', 'font-size': fontSize, 'text-anchor': 'middle' });
  const ref = v.reference?.nodes;
  const node = (u: number): SVGGElement => {
    const p = L.at(u);
    const on = u === LOGITS || sel.nodeMask[u] === 1;
    const name = u === LOGITS ? 'logits' : summary.nodes[u]!.name;
    const kind = u === LOGITS ? 'logits' : summary.nodes[u]!.kind;
    const inRef = u !== LOGITS && ref?.[u] === 1 && kind !== 'input';
    const w = L.boxW(u);
    return s('g', { class: `node ${on ? 'in-circuit' : 'faded'}${inRef ? ' in-reference' : ''}`, 'data-src': u, 'data-name': name },
      s('title', {}, name),
      s('rect', {
        x: p.x - w / 2, y: p.y, width: w, height: BOX_H, rx: 4,
        fill: on ? NODE_FILLS[kind] : '#f9fafb', stroke: inRef ? HALO_REF : on ? '#374151' : '#e5e7eb', 'stroke-width': inRef ? 2.5 : 1,
      }),
      s('text', { x: p.x, y: p.y + (big ? 14 : 13.5), fill: on ? '#111827' : '#c0c4cc' }, boxLabel(L.label(u), w, fontSize)));
  };
  nodes.append(node(LOGITS), ...summary.nodes.map((_, u) => node(u)));
  svg.append(nodes);
  return svg;
}
