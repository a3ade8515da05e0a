/**
 * Graphviz DOT export of the in-circuit part of a graph (render with `dot -Tsvg`). Nodes: the in-circuit
 * sources (flagged, or an endpoint of an in-circuit edge) and logits, one rank per layer (heads, then the MLP above them). Edges: colour by destination slot
 * (q/k/v/MLP/logits) and sign (lighter colour and dashed when negative), penwidth by |score| relative to the
 * largest in the circuit, a tooltip with the EAP-IG edge name and score.
 */
import type { Graph } from './graph.js';
import { NODE_FILLS, drawnSources, edgeColor, fmt, maxAbsInCircuit, widthFor } from './style.js';

export interface DotOptions {
  /** Graph title (default "circuit"). */
  title?: string;
  minPenwidth?: number;
  maxPenwidth?: number;
}

const q = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

/** The DOT text of the circuit; deterministic for a given graph. */
export function toDot(g: Graph, opts: DotOptions = {}): string {
  const minW = opts.minPenwidth ?? 0.6;
  const maxW = opts.maxPenwidth ?? 5;
  const edges = g.inGraphFlatIndices();
  const maxAbs = maxAbsInCircuit(g, edges);
  const out: string[] = [
    `digraph ${q(opts.title ?? 'circuit')} {`,
    '  graph [rankdir=BT, bgcolor="white", splines=true, nodesep=0.2, ranksep=0.5];',
    '  node [shape=box, style="filled, rounded", fontname="Helvetica", color="black"];',
    '  edge [arrowsize=0.5];',
  ];
  const nodeIn = drawnSources(g, edges);
  // One rank per layer's heads and one for its MLP keeps the picture ordered bottom (input) to top (logits).
  const ranks = new Map<string, string[]>();
  for (let u = 0; u < g.nSrc; u++) {
    if (!nodeIn[u]) continue;
    const kind = g.srcKind(u);
    const name = g.srcName(u);
    out.push(`  ${q(name)} [fillcolor=${q(NODE_FILLS[kind])}];`);
    const key = kind === 'input' ? 'input' : `${kind}${g.srcLayer(u)}`;
    ranks.set(key, [...(ranks.get(key) ?? []), q(name)]);
  }
  out.push(`  "logits" [fillcolor=${q(NODE_FILLS.logits)}];`);
  for (const names of ranks.values()) if (names.length > 1) out.push(`  { rank=same; ${names.join('; ')}; }`);
  const s = g.scores;
  for (const f of edges) {
    const u = Math.floor(f / g.nDst);
    const v = f % g.nDst;
    const score = s[f]!;
    const attrs = [
      `color=${q(edgeColor(g.slotKind(v), score))}`,
      `penwidth=${fmt(widthFor(score, maxAbs, minW, maxW))}`,
      `tooltip=${q(`${g.edgeName(u, v)} ${score}`)}`,
    ];
    if (score < 0) attrs.push('style=dashed');
    out.push(`  ${q(g.srcName(u))} -> ${q(g.dstNodeName(v))} [${attrs.join(', ')}];`);
  }
  out.push('}', '');
  return out.join('\n');
}
