/**
 * Evaluation by edge patching (DESIGN.md §5; EAP-IG's evaluate_graph). One run caches the intervention's
 * source outputs ã_u (the corrupted run, zeros, or the dataset mean); in the clean run every destination input
 * becomes x_v + Σ_{u→v ∉ circuit} (ã_u − a*_u), where a*_u is u's output in this (patched) run. Edges in the
 * circuit carry the run's own activations, all others the intervention's: all edges in ⇒ the clean metric,
 * none ⇒ the corrupted one.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { recordSources } from '../attribution/sources.js';
import type { PairBatch } from '../attribution/types.js';
import type { CausalLM } from '../models/model.js';
import { packBatch } from '../models/batch.js';
import type { HeadInputsHook } from '../models/distinct-heads.js';
import { hookNames, type ForwardHook } from '../models/hooks.js';
import { patchPlan, type PatchPlan, type Terms } from './patch-plan.js';

export type Intervention = 'patching' | 'zero' | 'mean';

/** Per-example task metric from last-position logits [B, V]. */
export type MetricFn = (logits: Float32Array, B: number, V: number, labels: unknown[]) => Float64Array;

/**
 * Which real edges are *missing* from the circuit: a row-major [nSrc, nDst] 0/1 matrix (1 = patched). The
 * parents of a destination are a prefix of the source order, so only that prefix is read.
 */
export type MissingEdges = Uint8Array;

/** Source outputs averaged over every real position of every clean example: [nSrc, D] (for `mean`). */
export function meanActivations(model: CausalLM, batches: readonly PairBatch[]): Float32Array {
  const e = model.engine;
  const D = model.dims.dModel;
  const n = model.layout.nSrc;
  const sum = new Float64Array(n * D);
  let count = 0;
  for (const b of batches) {
    const clean = packBatch(b.clean); // every row a real position
    const R = clean.ids.length;
    e.tidy(() => {
      const buf = e.empty([n, R, D]);
      recordSources(e, model, clean, buf, 1);
      const v = buf.data();
      for (let u = 0; u < n; u++) {
        for (let r = 0; r < R; r++) {
          const o = (u * R + r) * D;
          for (let d = 0; d < D; d++) sum[u * D + d]! += v[o + d]!;
        }
      }
    });
    count += R;
  }
  return Float32Array.from(sum, (x) => x / count);
}

export interface PatchedRunArgs {
  model: CausalLM;
  batch: PairBatch;
  missing: MissingEdges;
  /** patchPlan(layout, missing), when already made (one serves every batch). */
  plan?: PatchPlan;
  intervention: Intervention;
  /** [nSrc, D] dataset means, for the `mean` intervention. */
  means?: Float32Array;
  /** The intervention's source outputs for this batch [nSrc, R, D] when already computed (see interventionCache). */
  cache?: Tensor;
}

/** The intervention's source outputs ã for a batch [nSrc, R, D], in the current arena. */
export function interventionCache(model: CausalLM, batch: PairBatch, intervention: Intervention, means?: Float32Array): Tensor {
  const e = model.engine;
  const D = model.dims.dModel;
  const nSrc = model.layout.nSrc, R = batch.clean.ids.length;
  const out = e.empty([nSrc, R, D]);
  if (intervention === 'patching') recordSources(e, model, batch.corrupted, out, 1);
  else if (intervention === 'zero') e.heap.fillF32(out.ptr, out.size, 0);
  else {
    if (!means) throw new Error('the mean intervention needs dataset means');
    const f = out.data();
    for (let u = 0; u < nSrc; u++) for (let r = 0; r < R; r++) f.set(means.subarray(u * D, (u + 1) * D), (u * R + r) * D);
  }
  return out;
}

/** Last-position logits [B, V] of the clean input with the missing edges patched (see patch-plan.ts). */
export function patchedLogits(a: PatchedRunArgs): Float32Array {
  const { model, batch } = a;
  const e: Engine = model.engine, k = e.kernels;
  const { dModel: D } = model.dims;
  const layout = model.layout, nSrc = layout.nSrc;
  const plan = a.plan ?? patchPlan(layout, a.missing);
  const input = batch.clean;
  const R = input.ids.length, RD = R * D;
  return e.tidy(() => {
    // diff[u] = ã_u − a*_u: the intervention's values first, then minus this run's outputs as they appear
    let diff: Tensor;
    if (a.cache) {
      diff = e.empty(a.cache.shape);
      k.scale(a.cache.ptr, 1, diff.ptr, diff.size);
    } else {
      diff = interventionCache(model, batch, a.intervention, a.means);
    }
    if (diff.size !== nSrc * RD) throw new Error(`patchedLogits: the input has ${R} rows but the cache ${diff.size / (nSrc * D)} (pack both or neither)`);
    const row = (u: number): number => diff.ptr + 4 * u * RD;
    // S = Σ_{u < sUpTo} diff[u], brought up to a destination's parent count when a correction starts from it
    const S = e.zeros([R, D]), ones = e.fromArray(new Float32Array(nSrc).fill(1));
    let sUpTo = 0;
    const sumTo = (p: number): number => {
      if (p > sUpTo) k.gemm(false, false, 1, RD, p - sUpTo, 1, ones.ptr, p - sUpTo, row(sUpTo), RD, 1, S.ptr, RD);
      sUpTo = Math.max(sUpTo, p);
      return S.ptr;
    };
    // out[i] += Σ_u signs[i, u]·diff[k0 + u]: one product, or single additions when the signs are few
    const addTerms = (t: Terms, out: number): void => {
      if (2 * t.nnz <= t.K + t.rows) {
        for (let i = 0; i < t.rows; i++) {
          for (let u = 0; u < t.K; u++) {
            const s = t.signs[i * t.K + u]!;
            if (s !== 0) k.axpy(s, row(t.k0 + u), out + 4 * i * RD, RD);
          }
        }
      } else {
        const m = e.fromArray(t.signs, [t.rows, t.K]);
        k.gemm(false, false, t.rows, RD, t.K, 1, m.ptr, t.K, row(t.k0), RD, 1, out, RD);
      }
    };
    // x + S (base) or a copy of x, at `out`
    const start = (x: number, base: boolean, p: number, out: number): void => {
      if (base) k.add(x, sumTo(p), out, RD);
      else k.scale(x, 1, out, RD);
    };
    let stash = 0; // the current layer's MLP share, in its inputs buffer
    const headInputs: HeadInputsHook = (l, resid) => {
      const lp = plan.layers[l]!;
      stash = 0;
      if (!lp.of && !lp.mlpStash) return null;
      const p = layout.parentCount(layout.firstSlot(l));
      const buf = e.empty([lp.count, R, D]);
      lp.base.forEach((b, i) => {
        const out = buf.ptr + 4 * i * RD;
        if (lp.mlpStash && i === lp.terms!.rows - 1) {
          if (b) k.scale(sumTo(p), 1, out, RD);
          else e.heap.fillF32(out, RD, 0);
        } else start(resid.ptr, b, p, out);
      });
      if (lp.terms) addTerms(lp.terms, buf.ptr);
      if (lp.mlpStash) stash = buf.ptr + 4 * (lp.terms!.rows - 1) * RD;
      return { inputs: buf, of: lp.of ?? new Int32Array(3 * model.dims.nHead).fill(-1) };
    };
    const hooks: Record<string, ForwardHook> = {};
    plan.layers.forEach((lp, l) => {
      if (!lp.mlp) return;
      hooks[hookNames.mlpIn(l)] = (x) => {
        const out = e.empty(x.shape);
        if (stash) k.add(x.ptr, stash, out.ptr, RD);
        else start(x.ptr, lp.mlpBase, layout.parentCount(layout.firstSlot(l)), out.ptr);
        for (const u of lp.mlpHeads) k.axpy(1, row(u), out.ptr, RD);
        return out;
      };
    });
    const lg = plan.logits;
    if (lg) {
      hooks[hookNames.residFinal] = (x) => {
        const out = e.empty(x.shape);
        start(x.ptr, lg.base, nSrc, out.ptr);
        if (lg.terms) addTerms(lg.terms, out.ptr);
        return out;
      };
    }
    return model.forward(input, { hooks, headInputs, record: { buf: diff, alpha: -1, write: false }, logits: 'last' }).logits!.toArray();
  });
}
