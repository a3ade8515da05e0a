/**
 * Per-head q/k/v inputs given as the few distinct values they take: a seam for patched forward passes
 * (src/evaluation/patching.ts), where most heads of a layer read the stream itself or one of a handful of
 * corrected copies. The block normalises each distinct input once and projects each run of consecutive heads
 * that read the same input with one product, where per-head hooks would give every head its own copy, norm and
 * narrow d_head-wide product. Without a tape only (nothing here is differentiated).
 */
import type { Tensor } from '../engine/tensor.js';
import { normRows, type NormParams } from './family-ops.js';

export interface DistinctHeadInputs {
  /** [U, R, D] (rows no head reads are allowed: the caller's scratch); null when every head reads the stream. */
  inputs: Tensor | null;
  /** [3H]: head h of slot j (q 0, k 1, v 2) reads row of[j·H + h] of `inputs`, or the stream itself when −1. */
  of: Int32Array;
}

/**
 * A layer's head inputs: one set over every row, or one per equal block of rows (a batch stacked from copies
 * of its examples, each block with its own inputs over its rows; null: the block's heads read its stream).
 */
export type HeadInputs = DistinctHeadInputs | { blocks: readonly (DistinctHeadInputs | null)[] };

/**
 * Called once per layer with the residual stream before the block (ForwardOptions.headInputs); null = every
 * head reads the stream. The inputs must stay valid until the layer's q, k and v are projected.
 */
export type HeadInputsHook = (l: number, resid: Tensor) => HeadInputs | null;

/** The normalised distinct inputs of one layer (per block of rows when given so), each computed when a slot first needs it. */
export class DistinctNorms {
  readonly #y = new Map<number, Tensor>();
  readonly d: DistinctHeadInputs;
  /** Per block of rows, when the inputs come per block. */
  readonly blocks: DistinctNorms[] | null = null;
  constructor(readonly resid: Tensor, d: HeadInputs, readonly norm: NormParams) {
    if ('blocks' in d) {
      const n = d.blocks.length, rows = resid.shape[0]! / n, slots = d.blocks.find((b) => b)?.of.length ?? 0;
      this.blocks = d.blocks.map((b, c) => new DistinctNorms(resid.rows(c * rows, rows), b ?? { inputs: null, of: new Int32Array(slots).fill(-1) }, norm));
      this.d = { inputs: null, of: new Int32Array(slots).fill(-1) };
    } else this.d = d;
  }

  /** norm(input i) [R, D] (i = −1: the stream's). */
  get(i: number): Tensor {
    let y = this.#y.get(i);
    if (!y) {
      const e = this.resid.engine, D = this.resid.shape[this.resid.shape.length - 1]!, R = this.resid.size / D;
      const x = i < 0 ? this.resid.ptr : this.d.inputs!.ptr + 4 * i * R * D;
      y = e.empty([R, D]);
      normRows(e, this.norm, x, y.ptr, R, D);
      this.#y.set(i, y);
    }
    return y;
  }
}

/**
 * Slot j's columns of out [R, ld] from its heads' distinct inputs: head h's d_head columns at col0 + h·dh are
 * norm(input)·W_h. GPT-2's c_attn is input-major ([D, 3D], slot j's heads from column j·D: x·W); the families'
 * q/k/v are [H·dh, D] (x·Wᵀ; k/v already ungrouped). No bias.
 */
export function projectDistinct(
  norms: DistinctNorms, j: 0 | 1 | 2, H: number, W: Tensor, inMajor: boolean, out: Tensor, col0: number, ld: number,
): void {
  if (norms.blocks) {
    const rows = out.shape[0]! / norms.blocks.length;
    norms.blocks.forEach((b, c) => projectDistinct(b, j, H, W, inMajor, out.rows(c * rows, rows), col0, ld));
    return;
  }
  const { resid, d } = norms;
  const k = resid.engine.kernels, D = resid.shape[resid.shape.length - 1]!, R = resid.size / D, dh = (inMajor ? D : W.shape[0]!) / H;
  for (let h0 = 0; h0 < H;) {
    const i = d.of[j * H + h0]!;
    let n = 1;
    while (h0 + n < H && d.of[j * H + h0 + n] === i) n++;
    const y = norms.get(i), c = out.ptr + 4 * (col0 + h0 * dh);
    if (inMajor) k.gemm(false, false, R, n * dh, D, 1, y.ptr, D, W.ptr + 4 * (j * D + h0 * dh), 3 * D, 0, c, ld);
    else k.gemm(false, true, R, n * dh, D, 1, y.ptr, D, W.ptr + 4 * h0 * dh * D, D, 0, c, ld);
    h0 += n;
  }
}
