/** Colours and widths shared by the DOT and SVG pictures of a circuit (deterministic, no randomness). */
import type { Graph, SlotKind, SourceKind } from './graph.js';

/** Edge colour per destination slot kind: [positive score, negative score]. */
export const EDGE_COLORS: Record<SlotKind, readonly [string, string]> = {
  q: ['#7b2cbf', '#c77dff'],
  k: ['#2b9348', '#80b918'],
  v: ['#1d4ed8', '#60a5fa'],
  mlp: ['#222222', '#d00000'],
  logits: ['#8a5a00', '#f48c06'],
};

/** Node fill per source kind (logits has its own). */
export const NODE_FILLS: Record<SourceKind | 'logits', string> = {
  input: '#e5e7eb',
  head: '#fde68a',
  mlp: '#bfdbfe',
  logits: '#fecaca',
};

export function edgeColor(kind: SlotKind, score: number): string {
  return EDGE_COLORS[kind][score < 0 ? 1 : 0];
}

/** Largest |score| over the in-circuit edges (0 if none or all NaN). */
export function maxAbsInCircuit(g: Graph, edges: Int32Array): number {
  let m = 0;
  const s = g.scores;
  for (let i = 0; i < edges.length; i++) {
    const a = Math.abs(s[edges[i]!]!);
    if (a > m) m = a;
  }
  return m;
}

/** Line width in [min, max] proportional to |score| / maxAbs. */
export function widthFor(score: number, maxAbs: number, min: number, max: number): number {
  const r = maxAbs > 0 && Number.isFinite(score) ? Math.min(1, Math.abs(score) / maxAbs) : 0;
  return min + (max - min) * r;
}

/** Short, stable number text for pictures. */
export function fmt(x: number, digits = 2): string {
  const s = x.toFixed(digits);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/**
 * Sources to draw: those flagged in the circuit plus any endpoint of an in-circuit edge, so an unpruned
 * selection still draws every edge between drawn nodes.
 */
export function drawnSources(g: Graph, edges: Int32Array): Uint8Array {
  const on = new Uint8Array(g.nSrc);
  const flags = g.nodeInGraph;
  for (let u = 0; u < g.nSrc; u++) on[u] = flags[u] ? 1 : 0;
  for (let i = 0; i < edges.length; i++) {
    const f = edges[i]!;
    on[Math.floor(f / g.nDst)] = 1;
    const owner = g.slotOwner(f % g.nDst);
    if (owner >= 0) on[owner] = 1;
  }
  return on;
}
