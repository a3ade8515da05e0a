/**
 * Where nodes sit in a panel: input at the bottom, one row per layer upward (its heads in order, then the
 * MLP), logits on top. Every node of the model keeps its place whatever the circuit, so moving the budget
 * slider never shuffles the picture; nodes outside the circuit are drawn faded.
 */
import type { NodeInfo } from './protocol.js';

/** Width of a head or MLP box (labelled h0…, MLP: the row says the layer), at least; small models get wider ones. */
const BOX_W = 38;
const MAX_BOX_W = 64;
/** Width of the input and logits boxes. */
const WIDE_W = 64;
export const BOX_H = 20;
const GAP = 6;
const ROW = 66;
const MARGIN = 16;
const LABEL_W = 30;
/** Room above the top row for the title, legend and same-row arcs. */
const HEADER = 96;

/** Pseudo node index of the logits. */
export const LOGITS = -1;

export interface Point {
  /** Centre x. */
  x: number;
  /** Top y. */
  y: number;
}

export interface Layout {
  width: number;
  height: number;
  nLayers: number;
  /** Position of source u, or of LOGITS. */
  at(u: number): Point;
  /** Box width of source u, or of LOGITS. */
  boxW(u: number): number;
  /** Width of a head or MLP box. */
  headW: number;
  /** Short label of source u, or of LOGITS. */
  label(u: number): string;
  /** Top y of the row of layer l (-1 = input, nLayers = logits), for row labels. */
  rowY(layer: number): number;
  /** x of the row labels' right edge. */
  labelX: number;
}

/** The layout of a model's nodes; the rows are centred in `minWidth` when they are narrower. */
export function layout(nodes: readonly NodeInfo[], nLayers: number, nHeads: number, minWidth = 0): Layout {
  const perRow = nHeads + 1;
  const fill = Math.floor((minWidth - MARGIN * 2 - LABEL_W + GAP) / perRow) - GAP;
  const headW = Math.max(BOX_W, Math.min(MAX_BOX_W, fill));
  const plotW = perRow * (headW + GAP) - GAP;
  const x0 = MARGIN + LABEL_W + Math.max(0, (minWidth - (MARGIN * 2 + LABEL_W + plotW)) / 2);
  const rowY = (layer: number): number => HEADER + (nLayers - layer) * ROW; // logits (layer L) at the top
  const centre = x0 + plotW / 2;
  const at = (u: number): Point => {
    if (u === LOGITS) return { x: centre, y: rowY(nLayers) };
    const n = nodes[u]!;
    if (n.kind === 'input') return { x: centre, y: rowY(-1) };
    return { x: x0 + headW / 2 + n.pos * (headW + GAP), y: rowY(n.layer) };
  };
  const wide = (u: number): boolean => u === LOGITS || nodes[u]!.kind === 'input';
  const boxW = (u: number): number => (wide(u) ? WIDE_W : headW);
  const label = (u: number): string => (u === LOGITS ? 'logits' : nodes[u]!.kind === 'input' ? 'input' : nodes[u]!.kind === 'mlp' ? 'MLP' : `h${nodes[u]!.pos}`);
  return { width: Math.max(minWidth, x0 + plotW + MARGIN), height: rowY(-1) + BOX_H + MARGIN, nLayers, at, boxW, headW, label, rowY, labelX: x0 - 6 };
}

/** Horizontal offset where an edge enters a destination box: q, k, v at the left, middle and right of a head. */
export function entryOffset(kind: number, headW: number): number {
  return kind < 3 ? (kind - 1) * (headW / 4) : 0;
}

/** SVG path of an edge from the top of the source box to the bottom of the destination box (arc within a row). */
export function edgeD(L: Layout, src: number, dst: number, kind: number): string {
  const a = L.at(src), b = L.at(dst);
  const x1 = a.x, y1 = a.y, x2 = b.x + entryOffset(kind, L.headW);
  const f = (x: number): string => x.toFixed(1);
  if (a.y === b.y) {
    const lift = 22 + Math.min(18, Math.abs(x2 - x1) / 10);
    return `M${f(x1)} ${f(y1)} C${f(x1)} ${f(y1 - lift)} ${f(x2)} ${f(y1 - lift)} ${f(x2)} ${f(y1)}`;
  }
  const y2 = b.y + BOX_H, ym = (y1 + y2) / 2;
  return `M${f(x1)} ${f(y1)} C${f(x1)} ${f(ym)} ${f(x2)} ${f(ym)} ${f(x2)} ${f(y2)}`;
}
