/**
 * The EAP-IG computational graph (DESIGN.md §3): scores and circuit flags over the edges of a GraphLayout
 * (src/models/layout.ts: node names, indices, parents; sequential or parallel attention/MLP blocks).
 * Scores and flags live in dense row-major [nSrc × nDst] arrays (flat index u·nDst + v); nodes and edges are
 * plain indices, so even GPT-2 XL (2.2 M edges) needs no per-edge objects.
 *
 * Invariant kept by every mutator: scores and inGraph are zero outside real edges.
 */
import { GraphLayout, type SlotKind, type SourceKind } from '../models/layout.js';
import { UserError } from '../util/errors.js';

export type { SlotKind, SourceKind };

export class Graph {
  readonly layout: GraphLayout;
  readonly nLayers: number;
  readonly nHeads: number;
  /** Attention and MLP read the same residual stream (GPT-NeoX): no edges from a layer's heads to its MLP. */
  readonly parallelAttnMlp: boolean;
  /** Number of source (forward) nodes: 1 + L(H+1). */
  readonly nSrc: number;
  /** Number of destination (backward) slots: L(3H+1) + 1. */
  readonly nDst: number;
  /** Number of real edges, = Graph.edgeCountFormula(L, H, parallel). */
  readonly nEdges: number;
  /** Destination index of the logits. */
  readonly logitsSlot: number;

  readonly #scores: Float32Array;
  readonly #real: Uint8Array;
  readonly #inGraph: Uint8Array;
  readonly #nodeInGraph: Uint8Array;
  /** Parent-prefix length per destination (see parentCount). */
  readonly #prev: Int32Array;

  constructor(nLayers: number, nHeads: number, parallelAttnMlp = false) {
    for (const [k, x] of [['n_layers', nLayers], ['n_heads', nHeads]] as const) {
      if (!Number.isInteger(x) || x < 1 || x > 4096) throw new UserError(`graph: ${k} must be an integer in 1..4096, got ${x}`);
    }
    this.layout = new GraphLayout({ nLayers, nHeads, parallelAttnMlp });
    this.nLayers = nLayers;
    this.nHeads = nHeads;
    this.parallelAttnMlp = parallelAttnMlp;
    this.nSrc = this.layout.nSrc;
    this.nDst = this.layout.nDst;
    this.logitsSlot = this.layout.logitsSlot;
    this.#prev = Int32Array.from({ length: this.nDst }, (_, v) => this.layout.parentCount(v));
    const cells = this.nSrc * this.nDst;
    this.#scores = new Float32Array(cells);
    this.#inGraph = new Uint8Array(cells);
    this.#real = new Uint8Array(cells);
    this.#nodeInGraph = new Uint8Array(this.nSrc);
    let n = 0;
    for (let u = 0; u < this.nSrc; u++) {
      const row = u * this.nDst;
      for (let v = 0; v < this.nDst; v++) {
        if (u < this.#prev[v]!) {
          this.#real[row + v] = 1;
          n++;
        }
      }
    }
    this.nEdges = n;
  }

  /** The graph of a layout's shape. */
  static of(layout: GraphLayout): Graph {
    return new Graph(layout.nLayers, layout.nHeads, layout.parallelAttnMlp);
  }

  /** E(L,H) = (3H+1)·[L + (H+1)·L(L−1)/2] + L·H + 1 + L(H+1): q/k/v edges, MLP edges, logits edges (L·H fewer in parallel blocks). */
  static edgeCountFormula(L: number, H: number, parallelAttnMlp = false): number {
    return new GraphLayout({ nLayers: L, nHeads: H, parallelAttnMlp }).nEdges;
  }

  // ------------------------------------------------------------------ structure

  /** Number of parents of destination v: exactly the source prefix [0, parentCount(v)) (see GraphLayout). */
  parentCount(v: number): number {
    this.#checkDst(v);
    return this.#prev[v]!;
  }

  /** True when u → v is a real edge (u strictly upstream of v). Out-of-range indices give false. */
  isEdge(u: number, v: number): boolean {
    return Number.isInteger(u) && Number.isInteger(v) && u >= 0 && u < this.nSrc && v >= 0 && v < this.nDst && u < this.#prev[v]!;
  }

  /** Flat index u·nDst + v of the score/inGraph arrays (tie-break order of selection). */
  flat(u: number, v: number): number {
    return u * this.nDst + v;
  }

  /** The source node owning destination slot v (a head for its q/k/v slots, an MLP), or -1 for logits. */
  slotOwner(v: number): number {
    this.#checkDst(v);
    return this.layout.slotOwner(v);
  }

  /** The destination slots of source u: a head's [q, k, v], an MLP's single input, none for input. */
  slotsOf(u: number): number[] {
    this.#checkSrc(u);
    const L = this.layout;
    if (u === 0) return [];
    const l = L.srcLayer(u), h = L.srcHead(u);
    return h === this.nHeads ? [L.mlpSlot(l)] : [L.headSlot(l, 0, h), L.headSlot(l, 1, h), L.headSlot(l, 2, h)];
  }

  /** Kind of source u. */
  srcKind(u: number): SourceKind {
    this.#checkSrc(u);
    return this.layout.srcKind(u);
  }

  /** Layer of source u (-1 for input). */
  srcLayer(u: number): number {
    this.#checkSrc(u);
    return this.layout.srcLayer(u);
  }

  /** Kind of destination slot v. */
  slotKind(v: number): SlotKind {
    this.#checkDst(v);
    return this.layout.slotKind(v);
  }

  /** Layer of destination slot v (nLayers for logits). */
  slotLayer(v: number): number {
    this.#checkDst(v);
    return this.layout.slotLayer(v);
  }

  // ------------------------------------------------------------------ names

  /** Name of source u: `input`, `a3.h2`, `m5`. */
  srcName(u: number): string {
    this.#checkSrc(u);
    return this.layout.srcName(u);
  }

  /** Name of destination v: `a3.h2<q>`, `m5`, `logits`. */
  dstName(v: number): string {
    this.#checkDst(v);
    return this.layout.dstName(v);
  }

  /** Node name of destination v without the q/k/v suffix (`a3.h2`, `m5`, `logits`). */
  dstNodeName(v: number): string {
    return v === this.logitsSlot ? 'logits' : this.srcName(this.slotOwner(v));
  }

  /** Edge name as in EAP-IG: `input->a0.h0<q>`, `a3.h2->m5`, `m11->logits`. */
  edgeName(u: number, v: number): string {
    return `${this.srcName(u)}->${this.dstName(v)}`;
  }

  /** Source index of a node name (`input`, `a3.h2`, `m5`), or -1 if it names no source of this graph. */
  srcIndex(name: string): number {
    return this.layout.srcIndex(name);
  }

  /** Destination index of a slot name (`a3.h2<q>`, `m5`, `logits`), or -1. */
  dstIndex(name: string): number {
    return this.layout.dstIndex(name);
  }

  /**
   * Parse an edge name into (u, v). Throws a UserError saying what is wrong: not of the form `SRC->DST`,
   * an unknown node for this L×H, or a pair that is not an edge (goes backwards or within a layer).
   */
  parseEdgeName(name: string, where = 'edge name'): { u: number; v: number } {
    const i = name.indexOf('->');
    if (i < 0) throw new UserError(`${where}: "${name}" is not an edge name (expected SOURCE->DEST, e.g. "a3.h2->m5" or "input->a0.h0<q>")`);
    const u = this.srcIndex(name.slice(0, i));
    const v = this.dstIndex(name.slice(i + 2));
    const shape = `a graph with ${this.nLayers} layers × ${this.nHeads} heads`;
    if (u < 0) throw new UserError(`${where}: "${name}": unknown source node "${name.slice(0, i)}" for ${shape}`);
    if (v < 0) {
      throw new UserError(
        `${where}: "${name}": unknown destination "${name.slice(i + 2)}" for ${shape} (heads need <q>, <k> or <v>)`,
      );
    }
    if (!this.isEdge(u, v)) {
      const why = this.parallelAttnMlp && this.slotKind(v) === 'mlp' && this.srcLayer(u) === this.slotLayer(v) ? ' (attention and MLP run in parallel in this model)' : '';
      throw new UserError(`${where}: "${name}" is not an edge: ${this.srcName(u)} is not upstream of ${this.dstName(v)}${why}`);
    }
    return { u, v };
  }

  // ------------------------------------------------------------------ iteration

  /** Calls fn(u, v) for every real edge in EAP-IG's Graph.from_model insertion order (see GraphLayout.forEachEdge). */
  forEachEdge(fn: (u: number, v: number) => void): void {
    this.layout.forEachEdge(fn);
  }

  /** Flat indices (u·nDst + v) of all real edges in insertion order (4 bytes per edge). */
  edgeFlatIndices(): Int32Array {
    const out = new Int32Array(this.nEdges);
    let k = 0;
    const nd = this.nDst;
    this.forEachEdge((u, v) => {
      out[k++] = u * nd + v;
    });
    return out;
  }

  /** Iterates the real edges in insertion order as light {u, v} views. */
  *edges(): IterableIterator<{ u: number; v: number }> {
    const flat = this.edgeFlatIndices();
    for (let i = 0; i < flat.length; i++) yield { u: Math.floor(flat[i]! / this.nDst), v: flat[i]! % this.nDst };
  }

  // ------------------------------------------------------------------ scores and circuit flags

  /** Read-only view of the dense score matrix [nSrc × nDst] (zero outside real edges). */
  get scores(): ArrayLike<number> {
    return this.#scores;
  }

  /** Read-only view of the real-edge mask [nSrc × nDst]. */
  get realMask(): ArrayLike<number> {
    return this.#real;
  }

  /** Read-only view of the edge circuit flags [nSrc × nDst]. */
  get inGraph(): ArrayLike<number> {
    return this.#inGraph;
  }

  /** Read-only view of the source-node circuit flags [nSrc]; logits is always in the circuit. */
  get nodeInGraph(): ArrayLike<number> {
    return this.#nodeInGraph;
  }

  score(u: number, v: number): number {
    this.#checkEdge(u, v);
    return this.#scores[u * this.nDst + v]!;
  }

  /** Sets the score of edge u → v (stored as float32). Throws on a non-edge. */
  setScore(u: number, v: number, s: number): void {
    this.#checkEdge(u, v);
    this.#scores[u * this.nDst + v] = s;
  }

  /**
   * Copies a dense [nSrc × nDst] matrix (e.g. attribution output) into the scores. Only real edges are
   * copied; a nonzero value on a non-edge means the producer is wrong and throws, unless nonEdges is 'ignore'.
   */
  setScoresDense(m: ArrayLike<number>, nonEdges: 'error' | 'ignore' = 'error'): void {
    const cells = this.nSrc * this.nDst;
    if (m.length !== cells) throw new Error(`setScoresDense: expected ${cells} values (${this.nSrc}×${this.nDst}), got ${m.length}`);
    const s = this.#scores;
    const real = this.#real;
    for (let i = 0; i < cells; i++) {
      if (real[i]) s[i] = m[i]!;
      else if (m[i] !== 0 && nonEdges === 'error') {
        throw new Error(`setScoresDense: nonzero value ${m[i]} on the non-edge ${this.#cellName(i)}`);
      }
    }
  }

  /** Puts edge u → v in or out of the circuit. Throws on a non-edge. */
  setEdgeInGraph(u: number, v: number, on: boolean): void {
    this.#checkEdge(u, v);
    this.#inGraph[u * this.nDst + v] = on ? 1 : 0;
  }

  edgeInGraph(u: number, v: number): boolean {
    this.#checkEdge(u, v);
    return this.#inGraph[u * this.nDst + v] === 1;
  }

  setNodeInGraph(u: number, on: boolean): void {
    this.#checkSrc(u);
    this.#nodeInGraph[u] = on ? 1 : 0;
  }

  /** Empties the circuit (all edge and source-node flags off; logits stays in by definition). */
  clearCircuit(): void {
    this.#inGraph.fill(0);
    this.#nodeInGraph.fill(0);
  }

  /** Puts every real edge and every node in the circuit (the full model). */
  fillCircuit(): void {
    this.#inGraph.set(this.#real);
    this.#nodeInGraph.fill(1);
  }

  /** Number of edges in the circuit. */
  countEdgesInGraph(): number {
    let n = 0;
    const f = this.#inGraph;
    for (let i = 0; i < f.length; i++) n += f[i]!;
    return n;
  }

  /** Number of source nodes in the circuit (logits not counted, as in the oracle's tables). */
  countNodesInGraph(): number {
    let n = 0;
    for (let u = 0; u < this.nSrc; u++) n += this.#nodeInGraph[u]!;
    return n;
  }

  /** Flat indices of the in-circuit edges, ascending. */
  inGraphFlatIndices(): Int32Array {
    const f = this.#inGraph;
    const out: number[] = [];
    for (let i = f.indexOf(1); i >= 0; i = f.indexOf(1, i + 1)) out.push(i);
    return Int32Array.from(out);
  }

  /** A new graph of the same shape with the same scores and flags. */
  clone(): Graph {
    const g = new Graph(this.nLayers, this.nHeads, this.parallelAttnMlp);
    g.#scores.set(this.#scores);
    g.#inGraph.set(this.#inGraph);
    g.#nodeInGraph.set(this.#nodeInGraph);
    return g;
  }

  // ------------------------------------------------------------------ checks

  #cellName(i: number): string {
    const u = Math.floor(i / this.nDst);
    const v = i % this.nDst;
    return `${this.srcName(u)}->${this.dstName(v)}`;
  }

  #checkSrc(u: number): void {
    if (!Number.isInteger(u) || u < 0 || u >= this.nSrc) throw new RangeError(`source index ${u} out of range 0..${this.nSrc - 1}`);
  }

  #checkDst(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v >= this.nDst) throw new RangeError(`destination index ${v} out of range 0..${this.nDst - 1}`);
  }

  #checkEdge(u: number, v: number): void {
    this.#checkSrc(u);
    this.#checkDst(v);
    if (u >= this.#prev[v]!) throw new RangeError(`${this.srcName(u)} -> ${this.dstName(v)} is not an edge (source not upstream)`);
  }
}

