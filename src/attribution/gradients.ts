/**
 * Gradients at every destination of the graph, summed over the passes of a batch, and their contraction with
 * the activation differences: S[u, v] += Σ_{rows, d} Δ[u] · G[v]. The parents of a destination are a prefix of
 * the source order, so each layer's block of scores is one matrix product.
 */
import type { Tensor } from '../engine/tensor.js';
import { LayerHeadGrads } from '../models/head-grads.js';
import type { GradHook } from '../models/hooks.js';
import { hookNames } from '../models/hooks.js';
import type { GraphLayout } from '../models/layout.js';

/**
 * Sums each destination's gradient over the passes of one batch into G [nDst, R, D] (backward order). The first
 * gradient a slot receives is copied, later ones added; `finish` zeroes the slots that never received one
 * (e.g. the inputs of a group whose output was held constant), so G never holds stale memory.
 */
export class GradSum {
  private readonly seen = new Set<number>();
  readonly hooks: Record<string, GradHook> = {};
  /** Per layer: the q/k/v input gradients of all heads, summed over passes and formed in `finish`. */
  private readonly deferred: LayerHeadGrads[] = [];

  private readonly L: number;
  private readonly H: number;

  constructor(readonly G: Tensor, private readonly layout: GraphLayout) {
    const L = (this.L = layout.nLayers), H = (this.H = layout.nHeads);
    for (let l = 0; l < L; l++) {
      const c0 = layout.firstSlot(l);
      const layer = new LayerHeadGrads(G.engine, H);
      this.deferred.push(layer);
      this.hooks[hookNames.qInput(l)] = this.headSlot(c0, layer);
      this.hooks[hookNames.kInput(l)] = this.headSlot(c0 + H, layer);
      this.hooks[hookNames.vInput(l)] = this.headSlot(c0 + 2 * H, layer);
      this.hooks[hookNames.mlpIn(l)] = (g) => this.put(c0 + 3 * H, g);
    }
    this.hooks[hookNames.residFinal] = (g) => this.put(layout.logitsSlot, g);
  }

  /**
   * A per-head input hook: the backward pass deposits into the layer's deferred sum, or (when a forward hook gives
   * the heads their own inputs) calls the hook with the slot's [H, R, D] gradient.
   */
  private headSlot(index: number, layer: LayerHeadGrads): GradHook {
    return Object.assign((g: Tensor) => this.put(index, g), {
      deferHeads: () => layer,
    });
  }

  private get rowElems(): number {
    return this.G.size / this.G.shape[0]!;
  }

  private put(index: number, g: Tensor): void {
    const k = this.G.engine.kernels;
    const dst = this.G.ptr + 4 * index * this.rowElems;
    if (g.size % this.rowElems !== 0) throw new Error(`gradient of ${g.size} values for destination ${index}`);
    const count = g.size / this.rowElems; // H for a head-input slot, 1 otherwise
    if (this.seen.has(index)) k.axpy(1, g.ptr, dst, g.size);
    else k.scale(g.ptr, 1, dst, g.size);
    for (let i = 0; i < count; i++) this.seen.add(index + i);
  }

  finish(): void {
    const { L, H } = this;
    for (let l = 0; l < L; l++) {
      const layer = this.deferred[l]!;
      if (!layer.filled) continue;
      // the layer's 3H head-input slots are consecutive: q heads, k heads, v heads
      const c0 = this.layout.firstSlot(l);
      const any = Array.from({ length: 3 * H }, (_, i) => this.seen.has(c0 + i));
      if (any.some(Boolean)) {
        for (let i = 0; i < 3 * H; i++) if (!any[i]) this.zero(c0 + i);
      }
      layer.materialize(this.G.ptr + 4 * c0 * this.rowElems, any.some(Boolean));
      for (let i = 0; i < 3 * H; i++) this.seen.add(c0 + i);
    }
    const n = this.G.shape[0]!;
    for (let i = 0; i < n; i++) if (!this.seen.has(i)) this.zero(i);
  }

  private zero(i: number): void {
    this.G.engine.heap.fillF32(this.G.ptr + 4 * i * this.rowElems, this.rowElems, 0);
  }

  /** Frees what the deferred sums hold (after an error; `finish` frees them itself). */
  dispose(): void {
    for (const d of this.deferred) d.dispose();
  }
}

/**
 * Elements of the contraction dimension (rows·D) per product: a multiple of 384 (OpenBLAS's K block, so the BLAS
 * path needs no further splitting to stay thread-count deterministic) that keeps each product large and fast.
 */
const K_CHUNK = 384 * 128;

/** Layer groups of the contraction (measured on GPT-2 small: 3 groups take 2/3 of the time of one product per layer). */
const CONTRACT_GROUPS = 3;

/**
 * S[u, v] += Σ Δ[u]·G[v] over real edges u → v, accumulated in float64. Δ is [nSrc, R, D], G [nDst, R, D];
 * S is row-major [nSrc, nDst]. The contraction runs over R·D elements, in chunks of K_CHUNK whose float32
 * partial products are summed in float64 in a fixed order. The parents of a destination are a prefix of the
 * source order, so the layers go in a few groups, each one product of the sources upstream of its last layer
 * with all of its destinations: this reads Δ a few times instead of once per layer (the product is memory-bound),
 * at the price of some products on non-edges, which are dropped.
 */
export function contract(S: Float64Array, delta: Tensor, G: Tensor, layout: GraphLayout): void {
  const e = delta.engine;
  const L = layout.nLayers, H = layout.nHeads;
  const nSrc = delta.shape[0]!, nDst = G.shape[0]!;
  const RD = delta.size / nSrc;
  const slots = 3 * H + 1;
  const upstream = (l: number) => layout.head(l, 0); // sources feeding layer l's heads
  const per = Math.ceil(L / Math.min(L, CONTRACT_GROUPS));
  e.tidy(() => {
    const tmp = e.empty([nSrc, nDst]);
    for (let l0 = 0; l0 < L; l0 += per) {
      const l1 = Math.min(L, l0 + per);
      const last = l1 === L; // the last group also takes the logits, which read every source
      const rows = last ? nSrc : upstream(l1 - 1) + H;
      const d0 = l0 * slots, cols = (last ? nDst : l1 * slots) - d0;
      const parents = Int32Array.from({ length: cols }, (_, j) => layout.parentCount(d0 + j));
      for (let k0 = 0; k0 < RD; k0 += K_CHUNK) {
        const k = Math.min(K_CHUNK, RD - k0);
        e.kernels.gemm(false, true, rows, cols, k, 1, delta.ptr + 4 * k0, RD, G.ptr + 4 * (d0 * RD + k0), RD, 0, tmp.ptr, cols);
        const t = tmp.data();
        for (let u = 0; u < rows; u++) {
          const so = u * nDst + d0, to = u * cols;
          for (let j = 0; j < cols; j++) if (u < parents[j]!) S[so + j]! += t[to + j]!;
        }
      }
    }
  });
}
