/**
 * The EAP-IG computational graph of a GPT-2-style model with sequential attention→MLP blocks (DESIGN.md §3).
 *
 * Sources (forward index u): input = 0, a{l}.h{h} = 1 + l(H+1) + h, m{l} = 1 + l(H+1) + H.
 * Destinations (backward index v): a{l}.h{h}<q|k|v> = l(3H+1) + {0,1,2}·H + h, m{l} = l(3H+1) + 3H, logits last.
 * Scores and flags live in dense row-major [nSrc × nDst] arrays (flat index u·nDst + v); nodes and edges are
 * plain indices, so even GPT-2 XL (2.2 M edges) needs no per-edge objects.
 *
 * Invariant kept by every mutator: scores and inGraph are zero outside real edges.
 */
import { UserError } from '../util/errors.js';

/** What a destination slot feeds: a head's query/key/value input, an MLP input, or the logits. */
export type SlotKind = 'q' | 'k' | 'v' | 'mlp' | 'logits';
/** What a source node is. */
export type SourceKind = 'input' | 'head' | 'mlp';

const QKV = ['q', 'k', 'v'] as const;

export class Graph {
  readonly nLayers: number;
  readonly nHeads: number;
  /** Number of source (forward) nodes: 1 + L(H+1). */
  readonly nSrc: number;
  /** Number of destination (backward) slots: L(3H+1) + 1. */
  readonly nDst: number;
  /** Number of real edges, = Graph.edgeCountFormula(L, H). */
  readonly nEdges: number;
  /** Destination index of the logits. */
  readonly logitsSlot: number;

  readonly #scores: Float32Array;
  readonly #real: Uint8Array;
  readonly #inGraph: Uint8Array;
  readonly #nodeInGraph: Uint8Array;
  /** Parent-prefix length per destination (see parentCount). */
  readonly #prev: Int32Array;
  /** Source node owning each destination slot; -1 for logits. */
  readonly #owner: Int32Array;

  constructor(nLayers: number, nHeads: number) {
    for (const [k, x] of [['n_layers', nLayers], ['n_heads', nHeads]] as const) {
      if (!Number.isInteger(x) || x < 1 || x > 4096) throw new UserError(`graph: ${k} must be an integer in 1..4096, got ${x}`);
    }
    const L = nLayers;
    const H = nHeads;
    this.nLayers = L;
    this.nHeads = H;
    this.nSrc = 1 + L * (H + 1);
    this.nDst = L * (3 * H + 1) + 1;
    this.logitsSlot = this.nDst - 1;
    this.#prev = new Int32Array(this.nDst);
    this.#owner = new Int32Array(this.nDst).fill(-1);
    for (let l = 0; l < L; l++) {
      const c0 = l * (3 * H + 1);
      const s0 = 1 + l * (H + 1);
      for (let j = 0; j < 3; j++) {
        for (let h = 0; h < H; h++) {
          this.#prev[c0 + j * H + h] = s0;
          this.#owner[c0 + j * H + h] = s0 + h;
        }
      }
      this.#prev[c0 + 3 * H] = s0 + H;
      this.#owner[c0 + 3 * H] = s0 + H;
    }
    this.#prev[this.logitsSlot] = this.nSrc;
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

  /** E(L,H) = (3H+1)·[L + (H+1)·L(L−1)/2] + L·H + 1 + L(H+1): q/k/v edges, MLP edges, logits edges. */
  static edgeCountFormula(L: number, H: number): number {
    return (3 * H + 1) * (L + ((H + 1) * L * (L - 1)) / 2) + L * H + 1 + L * (H + 1);
  }

  // ------------------------------------------------------------------ structure

  /**
   * Number of parents of destination v. The parents are exactly the source prefix [0, parentCount(v)):
   * a layer-l q/k/v slot sees input and everything of layers < l; m{l} also sees the heads of layer l;
   * logits sees all sources.
   */
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
    return this.#owner[v]!;
  }

  /** The destination slots of source u: a head's [q, k, v], an MLP's single input, none for input. */
  slotsOf(u: number): number[] {
    this.#checkSrc(u);
    if (u === 0) return [];
    const H = this.nHeads;
    const l = Math.floor((u - 1) / (H + 1));
    const h = (u - 1) % (H + 1);
    const c0 = l * (3 * H + 1);
    return h === H ? [c0 + 3 * H] : [c0 + h, c0 + H + h, c0 + 2 * H + h];
  }

  /** Kind of source u. */
  srcKind(u: number): SourceKind {
    this.#checkSrc(u);
    if (u === 0) return 'input';
    return (u - 1) % (this.nHeads + 1) === this.nHeads ? 'mlp' : 'head';
  }

  /** Layer of source u (-1 for input). */
  srcLayer(u: number): number {
    this.#checkSrc(u);
    return u === 0 ? -1 : Math.floor((u - 1) / (this.nHeads + 1));
  }

  /** Kind of destination slot v. */
  slotKind(v: number): SlotKind {
    this.#checkDst(v);
    if (v === this.logitsSlot) return 'logits';
    const j = Math.floor((v % (3 * this.nHeads + 1)) / this.nHeads);
    return j === 3 ? 'mlp' : QKV[j]!;
  }

  /** Layer of destination slot v (nLayers for logits). */
  slotLayer(v: number): number {
    this.#checkDst(v);
    return v === this.logitsSlot ? this.nLayers : Math.floor(v / (3 * this.nHeads + 1));
  }

  // ------------------------------------------------------------------ names

  /** Name of source u: `input`, `a3.h2`, `m5`. */
  srcName(u: number): string {
    this.#checkSrc(u);
    if (u === 0) return 'input';
    const H = this.nHeads;
    const l = Math.floor((u - 1) / (H + 1));
    const h = (u - 1) % (H + 1);
    return h === H ? `m${l}` : `a${l}.h${h}`;
  }

  /** Name of destination v: `a3.h2<q>`, `m5`, `logits`. */
  dstName(v: number): string {
    const kind = this.slotKind(v);
    if (kind === 'logits') return 'logits';
    const l = this.slotLayer(v);
    if (kind === 'mlp') return `m${l}`;
    return `a${l}.h${(v % (3 * this.nHeads + 1)) % this.nHeads}<${kind}>`;
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
    if (name === 'input') return 0;
    let m = /^a(\d+)\.h(\d+)$/.exec(name);
    if (m !== null) {
      const l = Number(m[1]);
      const h = Number(m[2]);
      return l < this.nLayers && h < this.nHeads && canonical(m[1]!) && canonical(m[2]!) ? 1 + l * (this.nHeads + 1) + h : -1;
    }
    m = /^m(\d+)$/.exec(name);
    if (m !== null) {
      const l = Number(m[1]);
      return l < this.nLayers && canonical(m[1]!) ? 1 + l * (this.nHeads + 1) + this.nHeads : -1;
    }
    return -1;
  }

  /** Destination index of a slot name (`a3.h2<q>`, `m5`, `logits`), or -1. */
  dstIndex(name: string): number {
    if (name === 'logits') return this.logitsSlot;
    const H = this.nHeads;
    const m = /^(a\d+\.h\d+)<([qkv])>$/.exec(name);
    if (m !== null) {
      const u = this.srcIndex(m[1]!);
      if (u < 0) return -1;
      const l = this.srcLayer(u);
      const h = (u - 1) % (H + 1);
      return l * (3 * H + 1) + QKV.indexOf(m[2] as 'q') * H + h;
    }
    const u = this.srcIndex(name);
    return u > 0 && this.srcKind(u) === 'mlp' ? this.slotsOf(u)[0]! : -1;
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
    if (!this.isEdge(u, v)) throw new UserError(`${where}: "${name}" is not an edge: ${this.srcName(u)} is not upstream of ${this.dstName(v)}`);
    return { u, v };
  }

  // ------------------------------------------------------------------ iteration

  /**
   * Calls fn(u, v) for every real edge in EAP-IG's Graph.from_model insertion order: per layer, the q/k/v
   * edges (for each source in residual order: heads h, then q, k, v), then the MLP edges; finally logits.
   */
  forEachEdge(fn: (u: number, v: number) => void): void {
    const H = this.nHeads;
    for (let l = 0; l < this.nLayers; l++) {
      const c0 = l * (3 * H + 1);
      const s0 = 1 + l * (H + 1);
      for (let u = 0; u < s0; u++) for (let h = 0; h < H; h++) for (let j = 0; j < 3; j++) fn(u, c0 + j * H + h);
      for (let u = 0; u < s0 + H; u++) fn(u, c0 + 3 * H);
    }
    for (let u = 0; u < this.nSrc; u++) fn(u, this.logitsSlot);
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
    const g = new Graph(this.nLayers, this.nHeads);
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

/** No leading zeros ("a03.h1" is not a node name in EAP-IG). */
function canonical(digits: string): boolean {
  return digits === '0' || digits[0] !== '0';
}
