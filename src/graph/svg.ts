/**
 * Standalone SVG picture of the in-circuit part of a graph (no Graphviz needed). Rows from the bottom: input,
 * then one row per layer holding its in-circuit heads and MLP, logits on top; layers without circuit nodes
 * are left out. Drawn nodes: those flagged in the circuit and every endpoint of an in-circuit edge. Edges are cubic curves from the top of the source box to the bottom of the destination box
 * (q, k, v enter at the left, middle and right of a head), coloured by destination slot and sign (lighter and
 * dashed when negative), width by |score| relative to the largest in the circuit; a head→MLP edge within one
 * layer arcs above the row. Only in-circuit edges are drawn, weakest first. Output is deterministic.
 *
 * Element classes for tools and tests: `g.node` per node, `path.edge` per edge, `g.legend`.
 */
import type { Graph, SlotKind } from './graph.js';
import { EDGE_COLORS, NODE_FILLS, drawnSources, edgeColor, fmt, maxAbsInCircuit, widthFor } from './style.js';

export interface SvgOptions {
  title?: string;
  minWidth?: number;
  maxWidth?: number;
}

const BOX_W = 64;
const BOX_H = 24;
const GAP = 14;
const ROW = 96;
const MARGIN = 24;
const LEGEND_W = 190;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Pos {
  x: number; // centre
  y: number; // top
}

/** The SVG document text of the circuit. */
export function toSvg(g: Graph, opts: SvgOptions = {}): string {
  const minW = opts.minWidth ?? 0.5;
  const maxW = opts.maxWidth ?? 5;
  const edges = g.inGraphFlatIndices();
  const nodeIn = drawnSources(g, edges);

  // Rows: key -1 = input, 0..L-1 layers, L = logits.
  const rows = new Map<number, number[]>();
  for (let u = 0; u < g.nSrc; u++) {
    if (!nodeIn[u]) continue;
    const r = g.srcLayer(u);
    rows.set(r, [...(rows.get(r) ?? []), u]);
  }
  const LOGITS = -2; // pseudo source id of the logits node
  rows.set(g.nLayers, [LOGITS]);
  const order = [...rows.keys()].sort((a, b) => a - b);
  const widest = Math.max(...order.map((r) => rows.get(r)!.length));
  const plotW = Math.max(widest * (BOX_W + GAP) - GAP, BOX_W * 3);
  const width = MARGIN * 3 + plotW + LEGEND_W;
  const height = Math.max(MARGIN * 2 + (order.length - 1) * ROW + BOX_H + 40, MARGIN * 2 + 200); // room for the legend
  const top0 = MARGIN + 40; // room for same-row arcs above the top row

  const pos = new Map<number, Pos>();
  order.forEach((r, i) => {
    const members = rows.get(r)!;
    const rowW = members.length * (BOX_W + GAP) - GAP;
    const x0 = MARGIN + (plotW - rowW) / 2 + BOX_W / 2;
    const y = top0 + (order.length - 1 - i) * ROW;
    members.forEach((u, k) => pos.set(u, { x: x0 + k * (BOX_W + GAP), y }));
  });

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${fmt(width, 0)}" height="${fmt(height, 0)}" viewBox="0 0 ${fmt(width, 0)} ${fmt(height, 0)}" font-family="Helvetica, Arial, sans-serif">`,
    `<title>${esc(opts.title ?? 'circuit')}</title>`,
    `<rect class="background" x="0" y="0" width="${fmt(width, 0)}" height="${fmt(height, 0)}" fill="white"/>`,
  ];

  // Edges, weakest first so strong edges stay visible (ties by flat index: deterministic).
  const s = g.scores;
  const maxAbs = maxAbsInCircuit(g, edges);
  const sorted = Array.from(edges).sort((a, b) => Math.abs(s[a]!) - Math.abs(s[b]!) || a - b);
  const entry: Record<SlotKind, number> = { q: -BOX_W / 4, k: 0, v: BOX_W / 4, mlp: 0, logits: 0 };
  out.push('<g class="edges" fill="none">');
  for (const f of sorted) {
    const u = Math.floor(f / g.nDst);
    const v = f % g.nDst;
    const kind = g.slotKind(v);
    const owner = g.slotOwner(v);
    const a = pos.get(u);
    const b = pos.get(owner < 0 ? LOGITS : owner);
    if (a === undefined || b === undefined) throw new Error(`toSvg: no position for an endpoint of ${g.edgeName(u, v)}`);
    const x1 = a.x;
    const y1 = a.y;
    const x2 = b.x + entry[kind];
    let d: string;
    if (b.y === a.y) {
      const lift = 24 + Math.min(16, Math.abs(x2 - x1) / 8); // same row: arc over the boxes
      d = `M${fmt(x1, 1)} ${fmt(y1, 1)} C${fmt(x1, 1)} ${fmt(y1 - lift, 1)} ${fmt(x2, 1)} ${fmt(y1 - lift, 1)} ${fmt(x2, 1)} ${fmt(y1, 1)}`;
    } else {
      const y2 = b.y + BOX_H;
      const ym = (y1 + y2) / 2;
      d = `M${fmt(x1, 1)} ${fmt(y1, 1)} C${fmt(x1, 1)} ${fmt(ym, 1)} ${fmt(x2, 1)} ${fmt(ym, 1)} ${fmt(x2, 1)} ${fmt(y2, 1)}`;
    }
    const score = s[f]!;
    const dash = score < 0 ? ' stroke-dasharray="5 3"' : '';
    out.push(
      `<path class="edge" d="${d}" stroke="${edgeColor(kind, score)}" stroke-width="${fmt(widthFor(score, maxAbs, minW, maxW))}"${dash}><title>${esc(`${g.edgeName(u, v)} ${score}`)}</title></path>`,
    );
  }
  out.push('</g>');

  out.push('<g class="nodes" font-size="11" text-anchor="middle">');
  for (const r of order) {
    for (const u of rows.get(r)!) {
      const p = pos.get(u)!;
      const name = u === LOGITS ? 'logits' : g.srcName(u);
      const fill = u === LOGITS ? NODE_FILLS.logits : NODE_FILLS[g.srcKind(u)];
      out.push(
        `<g class="node"><rect x="${fmt(p.x - BOX_W / 2, 1)}" y="${fmt(p.y, 1)}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="${fill}" stroke="black"/>` +
          `<text x="${fmt(p.x, 1)}" y="${fmt(p.y + 16, 1)}">${esc(name)}</text></g>`,
      );
    }
  }
  out.push('</g>');

  // Legend: slot colours, sign and width conventions.
  const lx = MARGIN * 2 + plotW;
  const ly = MARGIN;
  const items: [SlotKind, string][] = [['q', 'query'], ['k', 'key'], ['v', 'value'], ['mlp', 'MLP input'], ['logits', 'logits']];
  out.push(`<g class="legend" font-size="11"><text x="${lx}" y="${ly + 10}" font-weight="bold">edges into</text>`);
  items.forEach(([k, label], i) => {
    const y = ly + 28 + i * 18;
    out.push(
      `<line x1="${lx}" y1="${y - 4}" x2="${lx + 24}" y2="${y - 4}" stroke="${EDGE_COLORS[k][0]}" stroke-width="3"/>` +
        `<line x1="${lx + 28}" y1="${y - 4}" x2="${lx + 52}" y2="${y - 4}" stroke="${EDGE_COLORS[k][1]}" stroke-width="3" stroke-dasharray="5 3"/>` +
        `<text x="${lx + 58}" y="${y}">${label}</text>`,
    );
  });
  const ny = ly + 28 + items.length * 18;
  out.push(
    `<text x="${lx}" y="${ny + 4}">solid +, dashed − score</text>`,
    `<text x="${lx}" y="${ny + 22}">width ∝ |score| (max ${esc(maxAbs.toPrecision(3))})</text>`,
    `<text x="${lx}" y="${ny + 40}">${edges.length} edges, ${pos.size - 1} nodes + logits</text>`,
    '</g>',
    '</svg>',
    '',
  );
  return out.join('\n');
}
