/**
 * Evaluation by edge patching (DESIGN.md §5; EAP-IG's evaluate_graph). One run caches the intervention's
 * source outputs ã_u (the corrupted run, zeros, or the dataset mean); in the clean run every destination input
 * becomes x_v + Σ_{u→v ∉ circuit} (ã_u − a*_u), where a*_u is u's output in this (patched) run. Edges in the
 * circuit carry the run's own activations, all others the intervention's: all edges in ⇒ the clean metric,
 * none ⇒ the corrupted one.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { Graph } from '../graph/index.js';
import { recordSources } from '../attribution/sources.js';
import type { PairBatch } from '../attribution/types.js';
import type { CausalLM } from '../models/model.js';
import { packBatch, type Batch } from '../models/batch.js';
import { hookNames, type ForwardHook } from '../models/hooks.js';
import type { GraphLayout } from '../models/layout.js';

export type Intervention = 'patching' | 'zero' | 'mean';

/** Per-example task metric from last-position logits [B, V]. */
export type MetricFn = (logits: Float32Array, B: number, V: number, labels: unknown[]) => Float64Array;

/**
 * Which real edges are *missing* from the circuit: a row-major [nSrc, nDst] 0/1 matrix (1 = patched). The
 * parents of a destination are a prefix of the source order, so only that prefix is read.
 */
export type MissingEdges = Uint8Array;

const graphs = new WeakMap<GraphLayout, Graph>();
/** The graph of a model's layout (cached: patched runs ask for it often). */
function graphOf(layout: GraphLayout): Graph {
  let g = graphs.get(layout);
  if (!g) graphs.set(layout, (g = Graph.of(layout)));
  return g;
}

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
  intervention: Intervention;
  /** [nSrc, D] dataset means, for the `mean` intervention. */
  means?: Float32Array;
  /** Run on this input instead of the clean one (default clean). */
  input?: Batch;
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

/** Last-position logits [B, V] of the clean input with the missing edges patched. */
export function patchedLogits(a: PatchedRunArgs): Float32Array {
  const { model, batch, missing } = a;
  const e: Engine = model.engine;
  const { nLayer: L, nHead: H, dModel: D } = model.dims;
  const graph = graphOf(model.layout);
  const { nSrc, nDst } = graph;
  const input = a.input ?? batch.clean;
  const R = input.ids.length, RD = R * D;
  return e.tidy(() => {
    // diff[u] = ã_u − a*_u: the intervention's values first, then minus this run's outputs as they appear
    let diff: Tensor;
    if (a.cache) {
      diff = e.empty(a.cache.shape);
      e.kernels.scale(a.cache.ptr, 1, diff.ptr, diff.size);
    } else {
      diff = interventionCache(model, batch, a.intervention, a.means);
    }
    if (diff.size !== nSrc * RD) throw new Error(`patchedLogits: the input has ${R} rows but the cache ${diff.size / (nSrc * D)} (pack both or neither)`);
    const hooks: Record<string, ForwardHook> = {};
    // per destination: the 0/1 row vector of missing parents, or nothing when every parent edge is in
    const patchRows = (v: number, count: number): Tensor | null => {
      const prev = graph.parentCount(v);
      const m = new Float32Array(count * prev);
      let any = false;
      for (let i = 0; i < count; i++) {
        for (let u = 0; u < prev; u++) {
          if (missing[u * nDst + v + i]) {
            m[i * prev + u] = 1;
            any = true;
          }
        }
      }
      return any ? e.fromArray(m, [count, prev]) : null;
    };
    // x_v += Σ_u m[v,u]·diff[u]: one product per destination group
    const addPatch = (m: Tensor, x: Tensor) =>
      e.kernels.gemm(false, false, m.shape[0]!, RD, m.shape[1]!, 1, m.ptr, m.shape[1]!, diff.ptr, RD, 1, x.ptr, RD);
    const patchHook = (m: Tensor): ForwardHook => (x) => {
      const out = e.empty(x.shape);
      e.kernels.scale(x.ptr, 1, out.ptr, x.size);
      addPatch(m, out);
      return out;
    };
    for (let l = 0; l < L; l++) {
      const names = [hookNames.qInput(l), hookNames.kInput(l), hookNames.vInput(l)];
      names.forEach((n, j) => {
        const m = patchRows(graph.layout.headSlot(l, j as 0 | 1 | 2, 0), H);
        if (m) hooks[n] = patchHook(m);
      });
      const mm = patchRows(graph.layout.mlpSlot(l), 1);
      if (mm) hooks[hookNames.mlpIn(l)] = patchHook(mm);
    }
    const mf = patchRows(nDst - 1, 1);
    if (mf) hooks[hookNames.residFinal] = patchHook(mf);
    return model.forward(input, { hooks, record: { buf: diff, alpha: -1, write: false }, logits: 'last' }).logits!.toArray();
  });
}

