/**
 * GPT-2 weights in the engine. Small models keep every tensor in the WebAssembly heap; models whose matrices
 * do not fit (GPT-2 large and XL exceed what wasm32 can address next to the activations) keep the per-layer
 * matrices in ordinary memory and copy one layer at a time into a reusable slot when it is needed.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';

/** Where weights come from: a checkpoint, or arrays held by a test. */
export interface WeightSource {
  readF32(name: string): Float32Array;
  shape(name: string): readonly number[];
  has?(name: string): boolean;
}

export interface LayerWeights {
  ln1g: Tensor; ln1b: Tensor;
  /** c_attn [D, 3D] and its bias [3D]: columns q | k | v, head h at columns h·dh of each third. */
  attnW: Tensor; attnB: Tensor;
  /** c_proj [D, D] (rows h·dh.. belong to head h) and b_O [D]. */
  projW: Tensor; projB: Tensor;
  ln2g: Tensor; ln2b: Tensor;
  fcW: Tensor; fcB: Tensor;
  outW: Tensor; outB: Tensor;
}

const SMALL = ['ln_1.weight', 'ln_1.bias', 'attn.c_attn.bias', 'attn.c_proj.bias', 'ln_2.weight', 'ln_2.bias', 'mlp.c_fc.bias', 'mlp.c_proj.bias'] as const;
const BIG = ['attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight'] as const;
type BigName = (typeof BIG)[number];

export interface WeightStoreOptions {
  /** Stream the per-layer matrices (default: when they would take more than `residentLimit` bytes). */
  stream?: boolean;
  residentLimit?: number;
  /** Told the bytes of each tensor as it is read (progress of a long load). */
  onRead?: (bytes: number) => void;
}

/** Per-layer matrices above this size stream by default (GPT-2 large and XL): they would crowd the 4 GiB heap. */
export const RESIDENT_LIMIT = 1.5 * 2 ** 30;

/** EAPGP_STREAM_WEIGHTS=1 streams any model's per-layer matrices, leaving their room in the heap to the passes. */
function streamRequested(): boolean {
  return process.env.EAPGP_STREAM_WEIGHTS === '1';
}

export class WeightStore {
  readonly wte: Tensor;
  readonly wpe: Tensor;
  /** The unembedding [V, D]: wte itself (GPT-2 ties them) unless the checkpoint stores its own lm_head.weight. */
  readonly unembed: Tensor;
  readonly lnfG: Tensor;
  readonly lnfB: Tensor;
  readonly streamed: boolean;
  private readonly small: Tensor[][] = [];
  private readonly resident: Tensor[][] = [];
  private readonly host: Float32Array[][] = [];
  private readonly slots: LayerSlots | null = null;

  constructor(readonly engine: Engine, src: WeightSource, readonly nLayer: number, opts: WeightStoreOptions = {}) {
    const read = (name: string) => {
      const data = src.readF32(name);
      opts.onRead?.(data.byteLength);
      return data;
    };
    const load = (name: string) => engine.emptyDetached(src.shape(name)).set(read(name));
    this.wte = load('wte.weight');
    this.wpe = load('wpe.weight');
    this.unembed = src.has?.('lm_head.weight') ? load('lm_head.weight') : this.wte;
    this.lnfG = load('ln_f.weight');
    this.lnfB = load('ln_f.bias');
    let bigBytes = 0;
    for (let l = 0; l < nLayer; l++) for (const n of BIG) bigBytes += 4 * src.shape(`h.${l}.${n}`).reduce((a, b) => a * b, 1);
    this.streamed = opts.stream ?? (streamRequested() || bigBytes > (opts.residentLimit ?? RESIDENT_LIMIT));
    for (let l = 0; l < nLayer; l++) {
      this.small.push(SMALL.map((n) => load(`h.${l}.${n}`)));
      if (this.streamed) this.host.push(BIG.map((n) => read(`h.${l}.${n}`)));
      else this.resident.push(BIG.map((n) => load(`h.${l}.${n}`)));
    }
    if (this.streamed) this.slots = new LayerSlots(engine, BIG.map((n) => src.shape(`h.0.${n}`)), (l, i, t) => t.set(this.host[l]![i]!));
  }

  /** The weights of layer l, copied into a slot first when streaming. Valid until two other layers are fetched. */
  layer(l: number): LayerWeights {
    const [ln1g, ln1b, attnB, projB, ln2g, ln2b, fcB, outB] = this.small[l]!;
    const big = this.streamed ? this.fetch(l) : this.resident[l]!;
    const [attnW, projW, fcW, outW] = big;
    return { ln1g: ln1g!, ln1b: ln1b!, attnW: attnW!, attnB: attnB!, projW: projW!, projB: projB!, ln2g: ln2g!, ln2b: ln2b!, fcW: fcW!, fcB: fcB!, outW: outW!, outB: outB! };
  }

  /** One big matrix of layer l (re-fetched when streaming: backward passes call this again). */
  matrix(l: number, which: BigName): Tensor {
    const i = BIG.indexOf(which);
    return (this.streamed ? this.fetch(l) : this.resident[l]!)[i]!;
  }

  private fetch(l: number): Tensor[] {
    return this.slots!.fetch(l);
  }

  /** Bytes copied into slots so far (streaming statistics). */
  get streamedBytes(): number {
    return this.slots?.streamedBytes ?? 0;
  }

  /** Bytes of the per-layer matrices held in the heap, which streaming would move out (0 when they stream). */
  get residentLayerBytes(): number {
    let n = 0;
    for (const ts of this.resident) for (const t of ts) n += t.bytes;
    return n;
  }

  /** Bytes of weights held in the WebAssembly heap. */
  get heapBytes(): number {
    let n = 0;
    for (const t of new Set([this.wte, this.wpe, this.unembed, this.lnfG, this.lnfB])) n += t.bytes;
    for (const ts of [...this.small, ...this.resident, this.slots?.tensors ?? []]) for (const t of ts) n += t.bytes;
    return n;
  }

  dispose(): void {
    for (const t of new Set([this.wte, this.wpe, this.unembed, this.lnfG, this.lnfB])) t.dispose();
    for (const ts of [...this.small, ...this.resident, this.slots?.tensors ?? []]) for (const t of ts) t.dispose();
  }
}

/**
 * Heap slots for per-layer matrices streamed from ordinary memory: two, so the layer in use and the one being
 * fetched next never collide. `fill(l, i, t)` copies matrix i of layer l into t.
 */
export class LayerSlots {
  private readonly slots: { layer: number; tensors: Tensor[] }[];
  private next = 0;
  /** Bytes copied into slots so far (streaming statistics). */
  streamedBytes = 0;

  constructor(engine: Engine, shapes: readonly (readonly number[])[], private readonly fill: (l: number, i: number, t: Tensor) => void) {
    this.slots = [0, 1].map(() => ({ layer: -1, tensors: shapes.map((s) => engine.emptyDetached(s)) }));
  }

  /** The matrices of layer l, copied in first unless a slot holds them. Valid until two other layers are fetched. */
  fetch(l: number): Tensor[] {
    const hit = this.slots.find((s) => s.layer === l);
    if (hit) return hit.tensors;
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    slot.tensors.forEach((t, i) => {
      this.fill(l, i, t);
      this.streamedBytes += t.bytes;
    });
    slot.layer = l;
    return slot.tensors;
  }

  get tensors(): Tensor[] {
    return this.slots.flatMap((s) => s.tensors);
  }
}

