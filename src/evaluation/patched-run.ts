/**
 * Patched forward passes of several circuits at once, stacked along the batch: circuit c's copy of the examples
 * is rows c·R … of one pass, so the weights' products run once over C·R rows (at the few rows after a shared
 * clean prefix a product over one circuit's rows runs well below the machine's peak). In every copy, each
 * destination's input becomes x_v + Σ_{u→v missing in c} d_u with d_u = ã_u − a*_u (patching.ts, patch-plan.ts):
 * the differences d are [nSrc, C·R, D], circuit c's block of source u at (u·C + c)·R·D, so one circuit's
 * corrections read its blocks with a stride. The q/k/v inputs are given per circuit's block of rows
 * (distinct-heads.ts: each block's distinct inputs normalised and projected on their own, no copies); every other
 * product of the pass runs once over all C·R rows. With C = 1 this is the single-circuit run.
 */
import type { Engine } from '../engine/engine.js';
import * as ops from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';
import { lastRows, type Batch } from '../models/batch.js';
import type { DistinctHeadInputs, HeadInputsHook } from '../models/distinct-heads.js';
import { hookNames, type ForwardHook } from '../models/hooks.js';
import type { CausalLM } from '../models/model.js';
import { keptLastRows, type RowSubset } from '../models/row-subset.js';
import type { LayerPlan, PatchPlan, Terms } from './patch-plan.js';

export interface StackedRunArgs {
  model: CausalLM;
  /** The clean input (packed or padded, as the cache's rows). */
  input: Batch;
  /** One plan per circuit; none may patch nothing (patchesNothing). */
  plans: readonly PatchPlan[];
  /** The intervention's source outputs [nSrc, R, D] over the rows computed (every row, or the subset's). */
  cache: Tensor;
  /** Only these rows of the input (patching.ts sharedPrefix). */
  rows?: RowSubset;
}

/** C copies of a batch's examples, one after the other. */
export function stackBatch(b: Batch, C: number): Batch {
  if (C === 1) return b;
  const rep = <T extends Int32Array>(a: T): Int32Array => {
    const out = new Int32Array(C * a.length);
    for (let c = 0; c < C; c++) out.set(a, c * a.length);
    return out;
  };
  return { ...b, B: C * b.B, ids: rep(b.ids), lengths: rep(b.lengths) };
}

/** The row subset of C stacked copies of a batch of `rows` rows: each copy's kept rows, the reference's rows elsewhere. */
export function stackRows(sub: RowSubset, rows: number, C: number): RowSubset {
  if (C === 1) return sub;
  const keep = new Int32Array(C * sub.keep.length);
  for (let c = 0; c < C; c++) for (let i = 0; i < sub.keep.length; i++) keep[c * sub.keep.length + i] = c * rows + sub.keep[i]!;
  return { keep, attn: sub.attn, copies: C };
}

/** The final-normed residual stream at each example's last position, [C·B, D] (circuit c's examples at rows c·B …), in the current arena. */
export function patchedFinals(a: StackedRunArgs): Tensor {
  const { model, plans } = a;
  const e: Engine = model.engine, k = e.kernels;
  const { dModel: D } = model.dims;
  const layout = model.layout, nSrc = layout.nSrc, C = plans.length;
  const R = a.rows ? a.rows.keep.length : a.input.ids.length, RD = R * D, LD = C * RD;
  if (a.cache.size !== nSrc * RD) throw new Error(`patched run: the input has ${R} rows but the cache ${a.cache.size / (nSrc * D)} (pack both or neither)`);
  const input = stackBatch(a.input, C), rows = a.rows && stackRows(a.rows, a.input.ids.length, C);
  return e.tidy(() => {
    // diff[u] = ã_u − a*_u in every copy: the intervention's values first, minus this run's outputs as they appear
    const diff = e.empty([nSrc, C * R, D]);
    if (C === 1) k.scale(a.cache.ptr, 1, diff.ptr, diff.size);
    else {
      // each source's C blocks at once: the outer product ones[C] ⊗ ã_u (one call per source, not per block)
      const ones = e.fromArray(new Float32Array(C).fill(1));
      for (let u = 0; u < nSrc; u++) k.gemm(false, false, C, RD, 1, 1, ones.ptr, 1, a.cache.ptr + 4 * u * RD, RD, 0, diff.ptr + 4 * u * LD, RD);
    }
    const circuits = plans.map((plan, c) => new CircuitCorrections(e, plan, diff.ptr + 4 * c * RD, LD, R, D, nSrc, 3 * model.dims.nHead));
    const block = (t: Tensor, c: number): number => t.ptr + 4 * c * RD;
    const headInputs: HeadInputsHook = (l, resid) => {
      const own = circuits.map((cc, c) => cc.headInputs(l, block(resid, c), layout.parentCount(layout.firstSlot(l))));
      if (C === 1) return own[0]!;
      return own.every((d) => d === null) ? null : { blocks: own };
    };
    const hooks: Record<string, ForwardHook> = {};
    for (let l = 0; l < layout.nLayers; l++) {
      if (!plans.some((p) => p.layers[l]!.mlp)) continue;
      const p = layout.parentCount(layout.firstSlot(l));
      hooks[hookNames.mlpIn(l)] = (x) => {
        const out = e.empty(x.shape);
        circuits.forEach((cc, c) => cc.mlpInput(l, block(x, c), p, block(out, c)));
        return out;
      };
    }
    if (plans.some((p) => p.logits)) {
      hooks[hookNames.residFinal] = (x) => {
        const out = e.empty(x.shape);
        circuits.forEach((cc, c) => cc.logitsInput(block(x, c), block(out, c)));
        return out;
      };
    }
    const { residFinal } = model.forward(input, { hooks, headInputs, rows, record: { buf: diff, alpha: -1, write: false }, logits: 'none' });
    const last = rows ? keptLastRows(input, rows.keep) : lastRows(input);
    return model.finalNorm(ops.gatherRows(residFinal, e.fromArray(last, [input.B], 'i32')));
  });
}

/**
 * One circuit's corrections in a stacked run: its differences d_u at `diff0` + u·ld (floats counted in bytes),
 * the running sum S of its parents' d_u, and the MLP's share that the layer's head inputs computed.
 */
class CircuitCorrections {
  readonly #S: Tensor;
  readonly #ones: Tensor;
  #sUpTo = 0;
  /** The current layer's MLP share, in its inputs buffer (0: none). */
  #stash = 0;

  constructor(
    readonly e: Engine, readonly plan: PatchPlan, readonly diff0: number, readonly ld: number,
    readonly R: number, readonly D: number, readonly nSrc: number, readonly slots: number,
  ) {
    this.#S = e.zeros([R, D]);
    this.#ones = e.fromArray(new Float32Array(nSrc).fill(1));
  }

  #row(u: number): number {
    return this.diff0 + 4 * u * this.ld;
  }

  /** S = Σ_{u < p} d_u, brought up to p when a correction starts from it. */
  #sumTo(p: number): number {
    const RD = this.R * this.D;
    if (p > this.#sUpTo) this.e.kernels.gemm(false, false, 1, RD, p - this.#sUpTo, 1, this.#ones.ptr, p - this.#sUpTo, this.#row(this.#sUpTo), this.ld, 1, this.#S.ptr, RD);
    this.#sUpTo = Math.max(this.#sUpTo, p);
    return this.#S.ptr;
  }

  /**
   * out[i] += Σ_u signs[i, u]·d[k0 + u]: one product, or single additions when there are very few (each kernel
   * call has a fixed cost that matters at the few rows of a shared-prefix run).
   */
  #addTerms(t: Terms, out: number): void {
    const k = this.e.kernels, RD = this.R * this.D;
    if (t.nnz <= 2) {
      for (let i = 0; i < t.rows; i++) {
        for (let u = 0; u < t.K; u++) {
          const s = t.signs[i * t.K + u]!;
          if (s !== 0) k.axpy(s, this.#row(t.k0 + u), out + 4 * i * RD, RD);
        }
      }
    } else {
      const m = this.e.fromArray(t.signs, [t.rows, t.K]);
      k.gemm(false, false, t.rows, RD, t.K, 1, m.ptr, t.K, this.#row(t.k0), this.ld, 1, out, RD);
    }
  }

  /** x + S of the first p sources (base) or a copy of x, at `out`. */
  #start(x: number, base: boolean, p: number, out: number): void {
    const RD = this.R * this.D;
    if (base) this.e.kernels.add(x, this.#sumTo(p), out, RD);
    else this.e.kernels.scale(x, 1, out, RD);
  }

  /** Layer l's distinct q/k/v inputs from the stream `resid` (p: the layer's parent count), or null when none is patched. */
  headInputs(l: number, resid: number, p: number): DistinctHeadInputs | null {
    const lp: LayerPlan = this.plan.layers[l]!, RD = this.R * this.D;
    this.#stash = 0;
    if (!lp.of && !lp.mlpStash) return null;
    const buf = this.e.empty([lp.count, this.R, this.D]);
    lp.base.forEach((b, i) => {
      const out = buf.ptr + 4 * i * RD;
      if (lp.mlpStash && i === lp.terms!.rows - 1) {
        if (b) this.e.kernels.scale(this.#sumTo(p), 1, out, RD);
        else this.e.heap.fillF32(out, RD, 0);
      } else this.#start(resid, b, p, out);
    });
    if (lp.terms) this.#addTerms(lp.terms, buf.ptr);
    if (lp.mlpStash) this.#stash = buf.ptr + 4 * (lp.terms!.rows - 1) * RD;
    return { inputs: buf, of: lp.of ?? new Int32Array(this.slots).fill(-1) };
  }

  /** Layer l's MLP input at `out` from the stream `x` (p: the layer's parent count before its heads). */
  mlpInput(l: number, x: number, p: number, out: number): void {
    const lp = this.plan.layers[l]!, RD = this.R * this.D;
    if (!lp.mlp) return void this.e.kernels.scale(x, 1, out, RD);
    if (this.#stash) this.e.kernels.add(x, this.#stash, out, RD);
    else this.#start(x, lp.mlpBase, p, out);
    if (lp.mlpHeads) this.#addTerms(lp.mlpHeads, out);
  }

  /** The logits' input at `out` from the final stream `x`. */
  logitsInput(x: number, out: number): void {
    const lg = this.plan.logits;
    if (!lg) return void this.e.kernels.scale(x, 1, out, this.R * this.D);
    this.#start(x, lg.base, this.nSrc, out);
    if (lg.terms) this.#addTerms(lg.terms, out);
  }
}
