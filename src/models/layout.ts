/**
 * The circuit graph's layout: the one place that knows node names, forward/backward indices, parent counts and
 * the hook point of every node (DESIGN.md §3, as hannamw/EAP-IG's Graph.from_model builds it on TransformerLens).
 * The model's recorder, attribution, evaluation and `Graph` ask this instead of re-deriving the arithmetic.
 *
 *   sources (forward index u):  input = 0, a{l}.h{h} = 1 + l(H+1) + h, m{l} = 1 + l(H+1) + H
 *   destinations (backward v):  a{l}.h{h}<q|k|v> = l(3H+1) + {0,1,2}·H + h, m{l} = l(3H+1) + 3H, logits = L(3H+1)
 *
 * The parents of every destination are a prefix [0, parentCount(v)) of the source order: a layer-l head input sees
 * input and all of layers < l; m{l} also sees layer l's heads unless attention and MLP run in parallel (GPT-NeoX),
 * where both read the same residual stream; logits see every source. Grouped-query attention changes nothing
 * here: as EAP-IG requires TransformerLens' ungroup_grouped_query_attention, every query head has its own k and v.
 */
import { hookNames } from './hook-names.js';

export type SlotKind = 'q' | 'k' | 'v' | 'mlp' | 'logits';
export type SourceKind = 'input' | 'head' | 'mlp';
export const QKV = ['q', 'k', 'v'] as const;

/** What fixes a graph's shape. */
export interface LayoutShape {
  nLayers: number;
  nHeads: number;
  /** Attention and MLP read the same residual stream (TransformerLens' parallel_attn_mlp). */
  parallelAttnMlp?: boolean;
}

/** Where a node meets the model: a hook point, and for per-head hooks ([H, R, D] values) the head. */
export interface HookRef {
  name: string;
  head?: number;
}

export class GraphLayout {
  readonly nLayers: number;
  readonly nHeads: number;
  readonly parallelAttnMlp: boolean;
  readonly nSrc: number;
  readonly nDst: number;
  readonly logitsSlot: number;

  constructor(s: LayoutShape) {
    this.nLayers = s.nLayers;
    this.nHeads = s.nHeads;
    this.parallelAttnMlp = s.parallelAttnMlp ?? false;
    this.nSrc = 1 + s.nLayers * (s.nHeads + 1);
    this.nDst = s.nLayers * (3 * s.nHeads + 1) + 1;
    this.logitsSlot = this.nDst - 1;
  }

  /** Edge count: q/k/v edges, MLP edges (less L·H in parallel blocks), logits edges. */
  get nEdges(): number {
    const L = this.nLayers, H = this.nHeads;
    return (3 * H + 1) * (L + ((H + 1) * L * (L - 1)) / 2) + (this.parallelAttnMlp ? 0 : L * H) + 1 + L * (H + 1);
  }

  // ---------------------------------------------------------------- indices
  /** Forward index of head h of layer l. */
  head(l: number, h: number): number {
    return 1 + l * (this.nHeads + 1) + h;
  }
  /** Forward index of the MLP of layer l. */
  mlp(l: number): number {
    return 1 + l * (this.nHeads + 1) + this.nHeads;
  }
  /** Backward index of the first of layer l's 3H + 1 destinations (its q inputs; then k, v, the MLP input). */
  firstSlot(l: number): number {
    return l * (3 * this.nHeads + 1);
  }
  /** Backward index of head h's q (0), k (1) or v (2) input in layer l. */
  headSlot(l: number, j: 0 | 1 | 2, h: number): number {
    return this.firstSlot(l) + j * this.nHeads + h;
  }
  /** Backward index of the MLP input of layer l. */
  mlpSlot(l: number): number {
    return this.firstSlot(l) + 3 * this.nHeads;
  }

  /** Number of parents of destination v: they are the sources [0, parentCount(v)). */
  parentCount(v: number): number {
    if (v === this.logitsSlot) return this.nSrc;
    const l = Math.floor(v / (3 * this.nHeads + 1));
    const isMlp = v - this.firstSlot(l) === 3 * this.nHeads;
    return 1 + l * (this.nHeads + 1) + (isMlp && !this.parallelAttnMlp ? this.nHeads : 0);
  }

  /** The source owning destination v (a head for its q/k/v, an MLP), -1 for logits. */
  slotOwner(v: number): number {
    if (v === this.logitsSlot) return -1;
    const l = this.slotLayer(v), r = v - this.firstSlot(l);
    return r === 3 * this.nHeads ? this.mlp(l) : this.head(l, r % this.nHeads);
  }

  srcKind(u: number): SourceKind {
    if (u === 0) return 'input';
    return (u - 1) % (this.nHeads + 1) === this.nHeads ? 'mlp' : 'head';
  }
  /** Layer of source u (-1 for input). */
  srcLayer(u: number): number {
    return u === 0 ? -1 : Math.floor((u - 1) / (this.nHeads + 1));
  }
  /** Head of source u (a head source only). */
  srcHead(u: number): number {
    return (u - 1) % (this.nHeads + 1);
  }
  slotKind(v: number): SlotKind {
    if (v === this.logitsSlot) return 'logits';
    const j = Math.floor((v % (3 * this.nHeads + 1)) / this.nHeads);
    return j === 3 ? 'mlp' : QKV[j]!;
  }
  /** Layer of destination v (nLayers for logits). */
  slotLayer(v: number): number {
    return v === this.logitsSlot ? this.nLayers : Math.floor(v / (3 * this.nHeads + 1));
  }

  // ---------------------------------------------------------------- names
  srcName(u: number): string {
    if (u === 0) return 'input';
    const l = this.srcLayer(u), h = this.srcHead(u);
    return h === this.nHeads ? `m${l}` : `a${l}.h${h}`;
  }
  dstName(v: number): string {
    const kind = this.slotKind(v);
    if (kind === 'logits') return 'logits';
    const l = this.slotLayer(v);
    if (kind === 'mlp') return `m${l}`;
    return `a${l}.h${(v % (3 * this.nHeads + 1)) % this.nHeads}<${kind}>`;
  }

  /** Source index of `input`, `a3.h2`, `m5`, or -1. */
  srcIndex(name: string): number {
    if (name === 'input') return 0;
    let m = /^a(\d+)\.h(\d+)$/.exec(name);
    if (m !== null) {
      const l = Number(m[1]), h = Number(m[2]);
      return l < this.nLayers && h < this.nHeads && canonical(m[1]!) && canonical(m[2]!) ? this.head(l, h) : -1;
    }
    m = /^m(\d+)$/.exec(name);
    if (m !== null) {
      const l = Number(m[1]);
      return l < this.nLayers && canonical(m[1]!) ? this.mlp(l) : -1;
    }
    return -1;
  }
  /** Destination index of `a3.h2<q>`, `m5`, `logits`, or -1. */
  dstIndex(name: string): number {
    if (name === 'logits') return this.logitsSlot;
    const m = /^(a\d+\.h\d+)<([qkv])>$/.exec(name);
    if (m !== null) {
      const u = this.srcIndex(m[1]!);
      return u < 0 ? -1 : this.headSlot(this.srcLayer(u), QKV.indexOf(m[2] as 'q') as 0 | 1 | 2, this.srcHead(u));
    }
    const u = this.srcIndex(name);
    return u > 0 && this.srcKind(u) === 'mlp' ? this.mlpSlot(this.srcLayer(u)) : -1;
  }

  // ---------------------------------------------------------------- hook points
  /** The hook whose value is source u's output (per-head hooks hold all H heads). */
  srcHook(u: number): HookRef {
    if (u === 0) return { name: hookNames.embed };
    const l = this.srcLayer(u), h = this.srcHead(u);
    return h === this.nHeads ? { name: hookNames.mlpOut(l) } : { name: hookNames.result(l), head: h };
  }
  /** The hook whose value is destination v's input. */
  dstHook(v: number): HookRef {
    const kind = this.slotKind(v);
    if (kind === 'logits') return { name: hookNames.residFinal };
    const l = this.slotLayer(v);
    if (kind === 'mlp') return { name: hookNames.mlpIn(l) };
    const name = kind === 'q' ? hookNames.qInput(l) : kind === 'k' ? hookNames.kInput(l) : hookNames.vInput(l);
    return { name, head: (v % (3 * this.nHeads + 1)) % this.nHeads };
  }

  /**
   * Every real edge in EAP-IG's Graph.from_model insertion order: per layer and per source in residual order,
   * its q/k/v edges (heads, then q, k, v) — in parallel blocks followed at once by its MLP edge — then, in
   * sequential blocks, the MLP edges after the layer's heads joined the stream; finally the logits edges.
   */
  forEachEdge(fn: (u: number, v: number) => void): void {
    const H = this.nHeads;
    for (let l = 0; l < this.nLayers; l++) {
      const c0 = this.firstSlot(l), s0 = this.head(l, 0);
      for (let u = 0; u < s0; u++) {
        for (let h = 0; h < H; h++) for (let j = 0; j < 3; j++) fn(u, c0 + j * H + h);
        if (this.parallelAttnMlp) fn(u, c0 + 3 * H);
      }
      if (!this.parallelAttnMlp) for (let u = 0; u < s0 + H; u++) fn(u, c0 + 3 * H);
    }
    for (let u = 0; u < this.nSrc; u++) fn(u, this.logitsSlot);
  }
}

/** A decimal index without leading zeros ("3", not "03"). */
function canonical(s: string): boolean {
  return s === '0' || !s.startsWith('0');
}

const layouts = new Map<string, GraphLayout>();
/** The shared layout of a shape (layouts are immutable, so one per shape is enough). */
export function layoutOf(s: LayoutShape): GraphLayout {
  const key = `${s.nLayers}x${s.nHeads}${s.parallelAttnMlp ? 'p' : ''}`;
  let g = layouts.get(key);
  if (!g) layouts.set(key, (g = new GraphLayout(s)));
  return g;
}
