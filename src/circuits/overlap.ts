/**
 * Precision/recall and ROC of discovered circuits against a manual reference, with the conventions of the
 * EAP-IG paper's overlap scripts (hannamw/eap-ig-faithfulness, results/manual_overlap/*_overlap.py):
 *
 * - Nodes are source nodes other than `input`; `logits` is not counted either (both are in every circuit).
 *   A circuit's nodes are the endpoints of its edges (a source with an outgoing edge, or a head/MLP with an
 *   edge into one of its slots), not a file's node flags: the published top-1 IOI circuit already has node
 *   recall 1/26, so a node touched by a single edge counts there too.
 * - When the reference does not count MLPs (IOI), MLP nodes and every edge from or into an MLP are left out
 *   of both the circuit and the reference.
 * - precision = hits / found (0 when nothing is found, as the scripts do), recall = hits / relevant.
 * - ROC: edges ranked as `topn` ranks them (|score| by default, ties by smaller flat index, NaN last); for
 *   every prefix n = 1..E, TPR = recall, FPR = false positives / in-scope non-reference items, at edge and
 *   node level; AUC by the trapezoid rule from (0, 0) through every prefix to (1, 1).
 */
import type { Graph } from '../graph/graph.js';
import type { ReferenceCircuit } from './index.js';

/** Precision and recall with their counts. */
export interface PrecisionRecall {
  /** Items in both the circuit and the reference. */
  hits: number;
  /** Items in the circuit (in scope). */
  found: number;
  /** Items in the reference (in scope). */
  relevant: number;
  precision: number;
  recall: number;
}

export interface Overlap {
  nodes: PrecisionRecall;
  edges: PrecisionRecall;
}

/** One prefix of the ranking. */
export interface RocPoint {
  /** Edges taken (top-n over all edges, before restricting to the scope). */
  n: number;
  nodes: { tpr: number; fpr: number; precision: number };
  edges: { tpr: number; fpr: number; precision: number };
}

export interface Roc {
  /** Sampled prefixes (every `every` edges, and the last). */
  points: RocPoint[];
  /** Areas under the full-resolution ROC curves. */
  auc: { nodes: number; edges: number };
}

export interface RocOptions {
  /** Rank by |score| (default true) or by the signed score. */
  absolute?: boolean;
  /** Keep a point every this many edges (default: about 100 points). */
  every?: number;
}

/** True when node u takes part in comparisons: not input, and not an MLP unless MLPs count. */
function nodeInScope(g: Graph, u: number, countMlps: boolean): boolean {
  const kind = g.srcKind(u);
  return kind === 'head' || (kind === 'mlp' && countMlps);
}

/** True when real edge u → v takes part in comparisons (MLP edges only when MLPs count). */
function edgeInScope(g: Graph, u: number, v: number, countMlps: boolean): boolean {
  return countMlps || (g.srcKind(u) !== 'mlp' && g.slotKind(v) !== 'mlp');
}

/** The nodes a set of edges touches (endpoints; input when it has an edge), over the sources. */
export function circuitNodes(g: Graph, edges: ArrayLike<number>): Uint8Array {
  const nodes = new Uint8Array(g.nSrc);
  const real = g.realMask;
  for (let f = 0; f < edges.length; f++) {
    if (!edges[f] || !real[f]) continue;
    nodes[Math.floor(f / g.nDst)] = 1;
    const owner = g.slotOwner(f % g.nDst);
    if (owner >= 0) nodes[owner] = 1;
  }
  return nodes;
}

function pr(hits: number, found: number, relevant: number): PrecisionRecall {
  return { hits, found, relevant, precision: found > 0 ? hits / found : 0, recall: relevant > 0 ? hits / relevant : 0 };
}

/** Node- and edge-level precision/recall of the circuit `edges` (a mask over the graph's cells). */
export function overlap(g: Graph, edges: ArrayLike<number>, ref: ReferenceCircuit): Overlap {
  const cells = g.nSrc * g.nDst;
  if (edges.length !== cells || ref.edges.length !== cells) throw new Error(`overlap: masks must have ${cells} cells`);
  const nodes = circuitNodes(g, edges);
  let nh = 0, nf = 0, nr = 0;
  for (let u = 0; u < g.nSrc; u++) {
    if (!nodeInScope(g, u, ref.countMlps)) continue;
    if (nodes[u]) nf++;
    if (ref.nodes[u]) nr++;
    if (nodes[u] && ref.nodes[u]) nh++;
  }
  let eh = 0, ef = 0, er = 0;
  g.forEachEdge((u, v) => {
    if (!edgeInScope(g, u, v, ref.countMlps)) return;
    const f = g.flat(u, v);
    if (edges[f]) ef++;
    if (ref.edges[f]) er++;
    if (edges[f] && ref.edges[f]) eh++;
  });
  return { nodes: pr(nh, nf, nr), edges: pr(eh, ef, er) };
}

/** Real edges in `topn` order: larger key first, ties by smaller flat index, NaN last. */
export function rankEdges(g: Graph, absolute = true): Int32Array {
  const s = g.scores;
  const key = (f: number): number => {
    const x = s[f]!;
    return x !== x ? -Infinity : absolute ? Math.abs(x) : x;
  };
  return g.edgeFlatIndices().sort((a, b) => key(b) - key(a) || a - b);
}

/** Trapezoid area under a polyline given by parallel x/y arrays (x nondecreasing). */
function trapezoid(x: Float64Array, y: Float64Array): number {
  let a = 0;
  for (let i = 1; i < x.length; i++) a += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return a;
}

/** ROC of the graph's scores against the reference over every top-n prefix, with AUCs. */
export function rocSweep(g: Graph, ref: ReferenceCircuit, opts: RocOptions = {}): Roc {
  const order = rankEdges(g, opts.absolute ?? true);
  const E = order.length;
  const every = opts.every ?? Math.max(1, Math.ceil(E / 100));
  const cm = ref.countMlps;
  // Universe sizes: positives and negatives in scope.
  let nodePos = 0, nodeNeg = 0;
  for (let u = 0; u < g.nSrc; u++) if (nodeInScope(g, u, cm)) ref.nodes[u] ? nodePos++ : nodeNeg++;
  let edgePos = 0, edgeNeg = 0;
  g.forEachEdge((u, v) => {
    if (edgeInScope(g, u, v, cm)) ref.edges[g.flat(u, v)] ? edgePos++ : edgeNeg++;
  });
  const rate = (k: number, of: number): number => (of > 0 ? k / of : 0);
  const nx = new Float64Array(E + 1), ny = new Float64Array(E + 1);
  const ex = new Float64Array(E + 1), ey = new Float64Array(E + 1);
  const seen = new Uint8Array(g.nSrc);
  let ntp = 0, nfp = 0, etp = 0, efp = 0;
  const points: RocPoint[] = [];
  const touch = (u: number): void => {
    if (u < 0 || seen[u] || !nodeInScope(g, u, cm)) return;
    seen[u] = 1;
    ref.nodes[u] ? ntp++ : nfp++;
  };
  for (let i = 0; i < E; i++) {
    const f = order[i]!;
    const u = Math.floor(f / g.nDst);
    const v = f % g.nDst;
    touch(u);
    touch(g.slotOwner(v));
    if (edgeInScope(g, u, v, cm)) ref.edges[f] ? etp++ : efp++;
    nx[i + 1] = rate(nfp, nodeNeg);
    ny[i + 1] = rate(ntp, nodePos);
    ex[i + 1] = rate(efp, edgeNeg);
    ey[i + 1] = rate(etp, edgePos);
    if ((i + 1) % every === 0 || i + 1 === E) {
      points.push({
        n: i + 1,
        nodes: { tpr: ny[i + 1]!, fpr: nx[i + 1]!, precision: rate(ntp, ntp + nfp) },
        edges: { tpr: ey[i + 1]!, fpr: ex[i + 1]!, precision: rate(etp, etp + efp) },
      });
    }
  }
  return { points, auc: { nodes: trapezoid(nx, ny), edges: trapezoid(ex, ey) } };
}
