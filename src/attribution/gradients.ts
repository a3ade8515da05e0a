/**
 * Gradients at every destination of the graph, summed over the passes of a batch, and their contraction with
 * the activation differences: S[u, v] += Σ_{rows, d} Δ[u] · G[v]. The parents of a destination are a prefix of
 * the source order, so each layer's block of scores is one matrix product.
 */
import type { Tensor } from '../engine/tensor.js';
import type { GradHook } from '../models/hooks.js';
import { hookNames } from '../models/hooks.js';

/** Destination count: per layer H query, H key, H value inputs and the MLP input; then logits. */
export const nDestinations = (L: number, H: number): number => L * (3 * H + 1) + 1;

/**
 * Sums each destination's gradient over the passes of one batch into G [nDst, R, D] (backward order). The first
 * gradient a slot receives is copied, later ones added; `finish` zeroes the slots that never received one
 * (e.g. the inputs of a group whose output was held constant), so G never holds stale memory.
 */
export class GradSum {
  private readonly seen = new Set<number>();
  readonly hooks: Record<string, GradHook> = {};

  constructor(readonly G: Tensor, L: number, H: number) {
    for (let l = 0; l < L; l++) {
      const c0 = l * (3 * H + 1);
      this.hooks[hookNames.qInput(l)] = (g) => this.put(c0, g);
      this.hooks[hookNames.kInput(l)] = (g) => this.put(c0 + H, g);
      this.hooks[hookNames.vInput(l)] = (g) => this.put(c0 + 2 * H, g);
      this.hooks[hookNames.mlpIn(l)] = (g) => this.put(c0 + 3 * H, g);
    }
    this.hooks[hookNames.residFinal] = (g) => this.put(L * (3 * H + 1), g);
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
    const n = this.G.shape[0]!, f32 = this.G.engine.heap.f32;
    for (let i = 0; i < n; i++) {
      if (!this.seen.has(i)) f32.fill(0, (this.G.ptr >> 2) + i * this.rowElems, (this.G.ptr >> 2) + (i + 1) * this.rowElems);
    }
  }
}

/**
 * S[u, v] += Σ Δ[u]·G[v] over real edges u → v, accumulated in float64. Δ is [nSrc, R, D], G [nDst, R, D];
 * S is row-major [nSrc, nDst].
 */
export function contract(S: Float64Array, delta: Tensor, G: Tensor, L: number, H: number): void {
  const e = delta.engine;
  const nSrc = delta.shape[0]!, nDst = G.shape[0]!;
  const RD = delta.size / nSrc;
  const slots = 3 * H + 1;
  e.tidy(() => {
    const tmp = e.empty([nSrc, slots]);
    for (let l = 0; l < L; l++) {
      const prev = 1 + l * (H + 1); // sources upstream of layer l's heads
      const rows = prev + H; // the MLP also sees this layer's heads
      const c0 = l * slots;
      e.kernels.gemm(false, true, rows, slots, RD, 1, delta.ptr, RD, G.ptr + 4 * c0 * RD, RD, 0, tmp.ptr, slots);
      const t = tmp.data();
      for (let u = 0; u < rows; u++) {
        const from = u < prev ? 0 : 3 * H; // same-layer heads feed only the MLP
        for (let j = from; j < slots; j++) S[u * nDst + c0 + j]! += t[u * slots + j]!;
      }
    }
    e.kernels.gemm(false, true, nSrc, 1, RD, 1, delta.ptr, RD, G.ptr + 4 * (nDst - 1) * RD, RD, 0, tmp.ptr, 1);
    const t = tmp.data();
    for (let u = 0; u < nSrc; u++) S[u * nDst + nDst - 1]! += t[u]!;
  });
}
