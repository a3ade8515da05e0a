/**
 * Where nodes sit in a panel: input at the bottom, one row per layer upward (its heads in order, then the
 * MLP), logits on top. Every node of the model keeps its place whatever the circuit, so moving the budget
 * slider never shuffles the picture; nodes outside the circuit are drawn faded. The picture fills the box it
 * is shown in: boxes widen with the panel, rows spread to its height (both within readable limits).
 */
import type { NodeInfo } from './protocol.js';

/**
 * Width of a head or MLP box (labelled h0…, MLP: the row says the layer): the row fills the box, within these
 * limits; long rows (32 heads in one panel of two) get narrow boxes with short labels rather than leave the box.
 */
const MIN_BOX_W = 6;
const MAX_BOX_W = 110;
/** Centre-to-centre distance of the boxes of a row, in box widths, at most. */
const MAX_SPREAD = 2.2;
/** Width of the input and logits boxes. */
const WIDE_W = 64;
export const BOX_H = 20;
const GAP = 4;
/** Row pitch: at least room for same-row arcs, at most what still reads as one picture. */
const MIN_ROW = 46;
const MAX_ROW = 120;
const MARGIN = 16;
const LABEL_W = 30;
/** Space between the header and the logits row. */
const TOP_GAP = 14;

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
  /** Distance between neighbouring rows. */
  row: number;
}

export interface LayoutBox {
  /** Width to fill (the rows are centred in it when even their widest spacing leaves room). */
  width: number;
  /** Height to fill (the rows keep their least pitch when it is smaller). */
  height: number;
  /** Room above the picture (title and legend). */
  top: number;
}

/** The layout of a model's nodes in a box of the given size. */
export function layout(nodes: readonly NodeInfo[], nLayers: number, nHeads: number, box: LayoutBox): Layout {
  const perRow = nHeads + 1;
  const room = box.width - MARGIN * 2 - LABEL_W + GAP;
  const headW = Math.max(MIN_BOX_W, Math.min(MAX_BOX_W, Math.floor(room / perRow) - GAP));
  // boxes at their widest spread apart (up to MAX_SPREAD box widths from centre to centre)
  const pitch = Math.max(headW + GAP, Math.min(room / perRow, headW * MAX_SPREAD));
  const plotW = (perRow - 1) * pitch + headW;
  const x0 = MARGIN + LABEL_W + Math.max(0, (box.width - (MARGIN * 2 + LABEL_W + plotW)) / 2);
  const first = box.top + TOP_GAP;
  const row = Math.max(MIN_ROW, Math.min(MAX_ROW, Math.floor((box.height - first - BOX_H - MARGIN) / (nLayers + 1))));
  const rowY = (layer: number): number => first + (nLayers - layer) * row; // logits (layer L) at the top
  const centre = x0 + plotW / 2;
  const at = (u: number): Point => {
    if (u === LOGITS) return { x: centre, y: rowY(nLayers) };
    const n = nodes[u]!;
    if (n.kind === 'input') return { x: centre, y: rowY(-1) };
    return { x: x0 + headW / 2 + n.pos * pitch, y: rowY(n.layer) };
  };
  const wide = (u: number): boolean => u === LOGITS || nodes[u]!.kind === 'input';
  const boxW = (u: number): number => (wide(u) ? Math.max(WIDE_W, headW) : headW);
  const label = (u: number): string => (u === LOGITS ? 'logits' : nodes[u]!.kind === 'input' ? 'input' : nodes[u]!.kind === 'mlp' ? 'MLP' : `h${nodes[u]!.pos}`);
  return { width: Math.max(box.width, x0 + plotW + MARGIN), height: rowY(-1) + BOX_H + MARGIN, nLayers, at, boxW, headW, label, rowY, labelX: x0 - 6, row };
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
    const lift = Math.min(22 + Math.min(18, Math.abs(x2 - x1) / 10), L.row - BOX_H - 4);
    return `M${f(x1)} ${f(y1)} C${f(x1)} ${f(y1 - lift)} ${f(x2)} ${f(y1 - lift)} ${f(x2)} ${f(y1)}`;
  }
  const y2 = b.y + BOX_H, ym = (y1 + y2) / 2;
  return `M${f(x1)} ${f(y1)} C${f(x1)} ${f(ym)} ${f(x2)} ${f(ym)} ${f(x2)} ${f(y2)}`;
}
