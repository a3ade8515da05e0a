/**
 * Circuit selection on a Graph (DESIGN.md §5, EAP-IG apply_topn / apply_threshold / apply_greedy / prune).
 *
 * Ranking: by |score| (absolute, the default) or by the signed score (`--signed` = absolute false), larger
 * first; ties are broken by the smaller flat index u·nDst + v, as the oracle does (EAP-IG leaves ties
 * unspecified). A NaN score ranks below every number. Each function replaces the circuit (edges and node
 * flags) and returns its size; prune is separate so callers can see the selection before pruning.
 */
import { UserError } from '../util/errors.js';
import type { Graph } from './graph.js';

/** Circuit size: edges in the circuit and source nodes in it (logits, always in, not counted). */
export interface CircuitCounts {
  edges: number;
  nodes: number;
}

export interface SelectOptions {
  /** Rank by |score| (default true); false ranks by the signed score. */
  absolute?: boolean;
}

/** Ranking key of one score: larger is better, NaN worst. */
function keyOf(s: number, absolute: boolean): number {
  if (s !== s) return -Infinity;
  return absolute ? Math.abs(s) : s;
}

/**
 * Binary heap of flat edge indices; `top` is the element for which `before(top, x)` holds for all others.
 * Typed storage, no per-edge objects.
 */
class FlatHeap {
  private a: Int32Array;
  size = 0;

  constructor(
    capacity: number,
    private readonly before: (x: number, y: number) => boolean,
  ) {
    this.a = new Int32Array(Math.max(1, capacity));
  }

  get top(): number {
    return this.a[0]!;
  }

  push(x: number): void {
    if (this.size === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    let i = this.size++;
    const a = this.a;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(x, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }

  pop(): number {
    const a = this.a;
    const out = a[0]!;
    const last = a[--this.size]!;
    if (this.size > 0) this.replaceTop(last);
    return out;
  }

  /** Replaces the top element and restores the heap order. */
  replaceTop(x: number): void {
    const a = this.a;
    const n = this.size;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(a[c + 1]!, a[c]!)) c++;
      if (!this.before(a[c]!, x)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = x;
  }
}

/** `better(x, y)`: edge x ranks strictly before edge y. */
function ranking(g: Graph, absolute: boolean): (x: number, y: number) => boolean {
  const s = g.scores;
  return (x, y) => {
    const kx = keyOf(s[x]!, absolute);
    const ky = keyOf(s[y]!, absolute);
    return kx > ky || (kx === ky && x < y);
  };
}

function checkCount(g: Graph, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${what}: the edge count must be a non-negative integer, got ${n}`);
  if (n > g.nEdges) {
    throw new UserError(`${what}: asked for ${n} edges but the graph has only ${g.nEdges} (${g.nLayers} layers × ${g.nHeads} heads)`);
  }
}

/** Node flags as EAP-IG sets them after topn/threshold: nodes with an outgoing and an incoming edge. */
function setNodesFromEdges(g: Graph): void {
  const { hasOut, hasIn } = endpointFlags(g, g.inGraphFlatIndices());
  for (let u = 0; u < g.nSrc; u++) g.setNodeInGraph(u, hasOut[u] === 1 && hasIn[u] === 1);
}

/** Which sources have an in-circuit outgoing edge / incoming edge into any of their slots (input: always). */
function endpointFlags(g: Graph, edges: Int32Array, count = edges.length): { hasOut: Uint8Array; hasIn: Uint8Array } {
  const hasOut = new Uint8Array(g.nSrc);
  const hasIn = new Uint8Array(g.nSrc);
  hasIn[0] = 1;
  const nd = g.nDst;
  for (let i = 0; i < count; i++) {
    const f = edges[i]!;
    hasOut[Math.floor(f / nd)] = 1;
    const owner = g.slotOwner(f % nd);
    if (owner >= 0) hasIn[owner] = 1;
  }
  return { hasOut, hasIn };
}

function counts(g: Graph): CircuitCounts {
  return { edges: g.countEdgesInGraph(), nodes: g.countNodesInGraph() };
}

function setFlat(g: Graph, f: number): void {
  g.setEdgeInGraph(Math.floor(f / g.nDst), f % g.nDst, true);
}

/** The n real edges of largest |score| (or score). Exactly n edges before pruning. */
export function topn(g: Graph, n: number, opts: SelectOptions = {}): CircuitCounts {
  checkCount(g, n, 'topn');
  const better = ranking(g, opts.absolute ?? true);
  // Bounded heap of the best n seen so far, worst on top.
  const heap = new FlatHeap(n, (x, y) => better(y, x));
  if (n > 0) {
    for (const f of g.edgeFlatIndices()) {
      if (heap.size < n) heap.push(f);
      else if (better(f, heap.top)) heap.replaceTop(f);
    }
  }
  g.clearCircuit();
  while (heap.size > 0) setFlat(g, heap.pop());
  setNodesFromEdges(g);
  return counts(g);
}

/** All real edges with |score| ≥ t (or score ≥ t), as EAP-IG apply_threshold. */
export function threshold(g: Graph, t: number, opts: SelectOptions = {}): CircuitCounts {
  if (Number.isNaN(t)) throw new UserError('threshold: the threshold must be a number, got NaN');
  const absolute = opts.absolute ?? true;
  const s = g.scores;
  g.clearCircuit();
  for (const f of g.edgeFlatIndices()) if (keyOf(s[f]!, absolute) >= t) setFlat(g, f);
  setNodesFromEdges(g);
  return counts(g);
}

/**
 * EAP-IG apply_greedy: the candidates start as the edges into logits; repeatedly the best candidate joins the
 * circuit, and when its parent node is new, every edge into any of the parent's slots becomes a candidate.
 * Exactly n edges before pruning. Node flags mark the nodes that entered (logits implicitly).
 */
export function greedy(g: Graph, n: number, opts: SelectOptions = {}): CircuitCounts {
  checkCount(g, n, 'greedy');
  const heap = new FlatHeap(g.nSrc * 4, ranking(g, opts.absolute ?? true));
  const nd = g.nDst;
  g.clearCircuit();
  for (let u = 0; u < g.nSrc; u++) heap.push(u * nd + g.logitsSlot);
  const entered = new Uint8Array(g.nSrc);
  for (let k = 0; k < n; k++) {
    // Cannot run dry for n ≤ nEdges: every node reaches logits, so all edges become candidates eventually.
    const f = heap.pop();
    const u = Math.floor(f / nd);
    g.setEdgeInGraph(u, f % nd, true);
    if (entered[u] === 0) {
      entered[u] = 1;
      g.setNodeInGraph(u, true);
      for (const slot of g.slotsOf(u)) {
        const parents = g.parentCount(slot);
        for (let p = 0; p < parents; p++) heap.push(p * nd + slot);
      }
    }
  }
  return counts(g);
}

/**
 * Prunes to a fixed point, as the oracle's prune and EAP-IG Graph.prune: a source node stays only if it has
 * an in-circuit outgoing edge and an in-circuit edge into one of its slots (input exempt from the latter);
 * edges whose source or destination node is out are dropped (logits never is); repeat until nothing changes.
 * Node flags are recomputed from the edges. Only removes edges.
 */
export function prune(g: Graph): CircuitCounts {
  const nd = g.nDst;
  const edges = g.inGraphFlatIndices();
  let count = edges.length;
  let nodes = new Uint8Array(g.nSrc);
  for (;;) {
    const { hasOut, hasIn } = endpointFlags(g, edges, count);
    nodes = new Uint8Array(g.nSrc);
    for (let u = 0; u < g.nSrc; u++) nodes[u] = hasOut[u]! & hasIn[u]!;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const f = edges[i]!;
      const owner = g.slotOwner(f % nd);
      if (nodes[Math.floor(f / nd)] === 1 && (owner < 0 || nodes[owner] === 1)) edges[kept++] = f;
      else g.setEdgeInGraph(Math.floor(f / nd), f % nd, false);
    }
    if (kept === count) break;
    count = kept;
  }
  for (let u = 0; u < g.nSrc; u++) g.setNodeInGraph(u, nodes[u] === 1);
  return counts(g);
}

/**
 * 1-based rank of edge u → v in `topn` order (by |score| or score, ties by the smaller flat index): topn(n)
 * contains the edge exactly when n ≥ its rank. O(edges).
 */
export function edgeRank(g: Graph, u: number, v: number, opts: SelectOptions = {}): number {
  g.score(u, v); // throws on a non-edge
  const better = ranking(g, opts.absolute ?? true);
  const f = g.flat(u, v);
  let rank = 1;
  for (const x of g.edgeFlatIndices()) if (better(x, f)) rank++;
  return rank;
}
