/**
 * Evaluation by edge patching (DESIGN.md §5; EAP-IG's evaluate_graph). One run caches the intervention's
 * source outputs ã_u (the corrupted run, zeros, or a dataset mean: means.ts); in the clean run every destination input
 * becomes x_v + Σ_{u→v ∉ circuit} (ã_u − a*_u), where a*_u is u's output in this (patched) run. Edges in the
 * circuit carry the run's own activations, all others the intervention's: all edges in ⇒ the clean metric,
 * none ⇒ the corrupted one. How the corrections are laid out: patch-plan.ts; with the corrupted run as the
 * intervention, a run computes only the rows after each example's shared clean prefix (sharedPrefix).
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { recordSources } from '../attribution/sources.js';
import type { PairBatch } from '../attribution/types.js';
import type { CausalLM } from '../models/model.js';
import { rowStarts } from '../models/batch.js';
import type { HeadInputsHook } from '../models/distinct-heads.js';
import { hookNames, type ForwardHook } from '../models/hooks.js';
import type { RowSubset } from '../models/row-subset.js';
import { writeAblated, type Intervention, type SourceMeans } from './means.js';
import { patchesNothing, patchPlan, type PatchPlan, type Terms } from './patch-plan.js';

export { INTERVENTIONS, type Intervention } from './means.js';

/** Per-example task metric from last-position logits [B, V]. */
export type MetricFn = (logits: Float32Array, B: number, V: number, labels: unknown[]) => Float64Array;

/**
 * Which real edges are *missing* from the circuit: a row-major [nSrc, nDst] 0/1 matrix (1 = patched). The
 * parents of a destination are a prefix of the source order, so only that prefix is read.
 */
export type MissingEdges = Uint8Array;

export interface PatchedRunArgs {
  model: CausalLM;
  batch: PairBatch;
  missing: MissingEdges;
  /** patchPlan(layout, missing), when already made (one serves every batch). */
  plan?: PatchPlan;
  intervention: Intervention;
  /** Dataset means, for the `mean` and `mean-positional` interventions (means.ts). */
  means?: SourceMeans;
  /** The intervention's source outputs for this batch [nSrc, R, D] when already computed (see interventionCache). */
  cache?: Tensor;
  /** Only these rows of the batch (sharedPrefix; the cache then holds them alone). */
  rows?: RowSubset;
}

/**
 * The rows a patched run must compute when the intervention is the corrupted run: in each example, from its first
 * token that differs between the clean and corrupted prompts on (before it both runs compute the same, so every
 * ã_u − a*_u is zero there and the patched run is the clean run), and its last row always. Null when that is every
 * row. The rows left out then come from one clean run's attention inputs (row-subset.ts), kept in the current
 * arena: end it only after the last run over the subset.
 */
export function sharedPrefix(model: CausalLM, batch: PairBatch): RowSubset | null {
  const { clean: c, corrupted: x } = batch;
  const starts = rowStarts(c), keep: number[] = [];
  for (let b = 0; b < c.B; b++) {
    const n = c.lengths[b]!, r0 = starts[b]!;
    let f = 0;
    while (f < n - 1 && c.ids[r0 + f] === x.ids[r0 + f]) f++;
    for (let p = f; p < n; p++) keep.push(r0 + p);
  }
  if (keep.length === c.ids.length) return null;
  const e = model.engine, prev = e.tape;
  e.tape = null;
  try {
    const attn = e.tidy(() => {
      const kept: Tensor[][] = [];
      model.forward(c, { keepAttn: (l, t) => (kept[l] = t.map((v) => e.keep(v))), logits: 'none' });
      return kept;
    });
    return { keep: Int32Array.from(keep), attn: (l) => attn[l]! };
  } finally {
    e.tape = prev;
  }
}

/** The intervention's source outputs ã for a batch [nSrc, R, D] (R: its rows, or the subset's), in the current arena. */
export function interventionCache(model: CausalLM, batch: PairBatch, intervention: Intervention, means?: SourceMeans, rows?: RowSubset | null): Tensor {
  const e = model.engine;
  const D = model.dims.dModel;
  const nSrc = model.layout.nSrc, R = rows ? rows.keep.length : batch.clean.ids.length;
  const out = e.empty([nSrc, R, D]);
  if (rows) {
    if (intervention !== 'patching') throw new Error('a row subset serves the patching intervention only');
    const prev = e.tape;
    e.tape = null;
    try {
      e.tidy(() => void model.forward(batch.corrupted, { rows, record: { buf: out, alpha: 1, write: true }, logits: 'none' }));
    } finally {
      e.tape = prev;
    }
  } else if (intervention === 'patching') recordSources(e, model, batch.corrupted, out, 1);
  else writeAblated(out, intervention, means, batch.clean);
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
  const R = a.rows ? a.rows.keep.length : input.ids.length, RD = R * D;
  // every edge in: the plain forward pass over every row, so the clean metric comes out bit for bit
  if (patchesNothing(plan)) return e.tidy(() => model.forward(input, { logits: 'last' }).logits!.toArray());
  return e.tidy(() => {
    // diff[u] = ã_u − a*_u: the intervention's values first, then minus this run's outputs as they appear
    let diff: Tensor;
    if (a.cache) {
      diff = e.empty(a.cache.shape);
      k.scale(a.cache.ptr, 1, diff.ptr, diff.size);
    } else {
      diff = interventionCache(model, batch, a.intervention, a.means, a.rows);
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
    // out[i] += Σ_u signs[i, u]·diff[k0 + u]: one product, or single additions when there are very few (each
    // kernel call has a fixed cost that matters at the few rows of a shared-prefix run)
    const addTerms = (t: Terms, out: number): void => {
      if (t.nnz <= 2) {
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
        if (lp.mlpHeads) addTerms(lp.mlpHeads, out.ptr);
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
    return model.forward(input, { hooks, headInputs, rows: a.rows, record: { buf: diff, alpha: -1, write: false }, logits: 'last' }).logits!.toArray();
  });
}
