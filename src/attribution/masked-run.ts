/**
 * The pruned model of UGS (ugs.ts) with soft edge masks, differentiable in the masks: in a clean run, every
 * destination input v becomes
 *   x_v − Σ_{u → v} (1 − m_uv[b])·(a_u − ã_u)  =  Σ_u (m_uv[b]·a_u + (1 − m_uv[b])·ã_u) + the stream's constants,
 * a_u the source's output in this (pruned) run, ã_u its output in the corrupted run, m_uv[b] ∈ [0, 1] one mask per
 * edge and example. All masks 1 is the clean run, all 0 the corrupted run (every destination then reads the
 * corrupted sources). The objective is MIB's UGS loss: Σ_b KL(p_clean,b ‖ p_pruned,b) at each example's last
 * position. One taped pass gives it and ∂KL/∂m_uv[b] = Σ_{rows of b, d} ∂KL/∂x_v · (a_u − ã_u) (the masks'
 * own op records it during backward); gradients also flow through a_u into upstream masks.
 */
import type { Engine } from '../engine/engine.js';
import type { Grads } from '../engine/tape.js';
import type { Tensor } from '../engine/tensor.js';
import { rowStarts } from '../models/batch.js';
import { hookNames, type ForwardHook } from '../models/hooks.js';
import type { CausalLM } from '../models/model.js';
import type { PairBatch } from './types.js';

/** One batch's fixed parts of the objective: the corrupted sources and the clean run's last-position distributions. */
export interface MaskedBatch {
  batch: PairBatch;
  /** ã: the corrupted run's source outputs [nSrc, R, D]. */
  tilde: Tensor;
  /** log p_clean at each example's last position [B, V] (float64). */
  cleanLogp: Float64Array;
  /** The example of each packed row. */
  rowExample: Int32Array;
}

/** The pass's result: KL per example and ∂(Σ_b KL_b)/∂m [nSrc·nDst·B] (flat edge index u·nDst + v, then example). */
export interface MaskedPass {
  kl: Float64Array;
  gradMask: Float64Array;
}

/** Softmax of one row of logits in float64, and its log. */
export function logSoftmax(z: Float32Array, off: number, V: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, z[off + i]!);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(z[off + i]! - max);
  const lse = max + Math.log(sum), out = new Float64Array(V);
  for (let i = 0; i < V; i++) out[i] = z[off + i]! - lse;
  return out;
}

/** The fixed parts for a packed batch: the corrupted sources and the clean distributions (no tape). */
export function maskedBatch(e: Engine, model: CausalLM, batch: PairBatch, recordSources: (buf: Tensor) => void): MaskedBatch {
  const { nSrc } = model.layout, D = model.dims.dModel, V = model.dims.vocabSize;
  const R = batch.clean.ids.length, B = batch.clean.B;
  const tilde = e.empty([nSrc, R, D]);
  recordSources(tilde);
  const prev = e.tape;
  e.tape = null;
  let logits: Float32Array;
  try {
    logits = e.tidy(() => model.forward(batch.clean, { logits: 'last' }).logits!.toArray());
  } finally {
    e.tape = prev;
  }
  const cleanLogp = new Float64Array(B * V);
  for (let b = 0; b < B; b++) cleanLogp.set(logSoftmax(logits, b * V, V), b * V);
  const starts = rowStarts(batch.clean), rowExample = new Int32Array(R);
  for (let b = 0; b < B; b++) rowExample.fill(b, starts[b]!, starts[b + 1]!);
  return { batch, tilde, cleanLogp, rowExample };
}

/** One source's tensor and its index within it (a layer's heads share one [H, R, D] tensor). */
interface SourceRef {
  t: Tensor;
  j: number;
}

/**
 * One taped pass of the pruned model at masks `m` [nSrc·nDst·B] (flat edge index, then example; only real edges
 * are read): the KL per example, and its gradient in the masks.
 */
export function maskedPass(e: Engine, model: CausalLM, mb: MaskedBatch, m: Float32Array): MaskedPass {
  const layout = model.layout, { nSrc, nDst } = layout, { nLayer: L, nHead: H, dModel: D, vocabSize: V } = model.dims;
  const { batch, tilde, cleanLogp, rowExample } = mb;
  const B = batch.clean.B, R = batch.clean.ids.length;
  const gradMask = new Float64Array(nSrc * nDst * B);
  const src: (SourceRef | undefined)[] = new Array(nSrc);
  const ctx: MixContext = { src, tilde, m, gradMask, rowExample, B, R, D, nDst };
  const hooks: Record<string, ForwardHook> = {};
  hooks[hookNames.embed] = (x) => void (src[0] = { t: x, j: 0 });
  for (let l = 0; l < L; l++) {
    hooks[hookNames.result(l)] = (x) => {
      for (let h = 0; h < H; h++) src[layout.head(l, h)] = { t: x, j: h };
    };
    hooks[hookNames.mlpOut(l)] = (x) => void (src[layout.mlp(l)] = { t: x, j: 0 });
    const c0 = layout.firstSlot(l);
    hooks[hookNames.qInput(l)] = (X) => maskedInput(X, c0, H, layout.parentCount(c0), ctx);
    hooks[hookNames.kInput(l)] = (X) => maskedInput(X, c0 + H, H, layout.parentCount(c0 + H), ctx);
    hooks[hookNames.vInput(l)] = (X) => maskedInput(X, c0 + 2 * H, H, layout.parentCount(c0 + 2 * H), ctx);
    hooks[hookNames.mlpIn(l)] = (X) => maskedInput(X, layout.mlpSlot(l), 1, layout.parentCount(layout.mlpSlot(l)), ctx);
  }
  hooks[hookNames.residFinal] = (X) => maskedInput(X, layout.logitsSlot, 1, nSrc, ctx);
  const kl = new Float64Array(B);
  e.tidy(() =>
    e.record((tape) => {
      const { logits } = model.forward(batch.clean, { hooks, logits: 'last' });
      const z = logits!.toArray(), seed = new Float32Array(B * V);
      for (let b = 0; b < B; b++) {
        const lp = logSoftmax(z, b * V, V);
        let s = 0;
        for (let i = 0; i < V; i++) {
          const pc = Math.exp(cleanLogp[b * V + i]!);
          s += pc * (cleanLogp[b * V + i]! - lp[i]!);
          seed[b * V + i] = Math.exp(lp[i]!) - pc; // ∂KL_b/∂z
        }
        kl[b] = s;
      }
      tape.backward([[logits!, e.fromArray(seed, logits!.shape)]]);
    }),
  );
  return { kl, gradMask };
}

interface MixContext {
  src: (SourceRef | undefined)[];
  tilde: Tensor;
  m: Float32Array;
  gradMask: Float64Array;
  rowExample: Int32Array;
  B: number;
  R: number;
  D: number;
  nDst: number;
}

/**
 * k destinations' inputs X [k, R, D] (or [R, D] for one) from v0 on, each with parents [0, parents): X minus
 * Σ_u (1 − m_uv[b])·(a_u − ã_u), on the tape. Backward: X's gradient passes; a_u gets −(1 − m)·g; the masks'
 * gradient Σ_{rows of b, d} g·(a_u − ã_u) is added to ctx.gradMask.
 */
function maskedInput(X: Tensor, v0: number, k: number, parents: number, c: MixContext): Tensor {
  const e = X.engine, { R, D, B, nDst, m, rowExample: ex } = c, RD = R * D;
  const refs = c.src.slice(0, parents).map((s, u) => {
    if (!s) throw new Error(`masked run: source ${u} has no output before destination ${v0}`);
    return s;
  });
  const T = c.tilde.data(), Xd = X.data();
  const out = e.empty(X.shape), O = out.data();
  O.set(Xd);
  // diff_u = a_u − ã_u, once per parent (read again in backward)
  const diffs = refs.map((s, u) => {
    const A = s.t.data(), a0 = s.j * RD, t0 = u * RD, d = new Float32Array(RD);
    for (let i = 0; i < RD; i++) d[i] = A[a0 + i]! - T[t0 + i]!;
    return d;
  });
  for (let j = 0; j < k; j++) {
    for (let u = 0; u < parents; u++) {
      const base = (u * nDst + v0 + j) * B, d = diffs[u]!;
      for (let r = 0; r < R; r++) {
        const w = 1 - m[base + ex[r]!]!;
        if (w === 0) continue;
        const o = j * RD + r * D;
        for (let i = 0; i < D; i++) O[o + i] = O[o + i]! - w * d[r * D + i]!;
      }
    }
  }
  const inputs = [X, ...new Set(refs.map((s) => s.t))];
  if (!e.tape) return out;
  return e.tape.record(inputs, out, (g: Tensor, grads: Grads) => {
    const G = g.data();
    const own = new Map<Tensor, Tensor>();
    for (let u = 0; u < parents; u++) {
      const s = refs[u]!, d = diffs[u]!;
      let dT = own.get(s.t);
      if (!dT && s.t.requiresGrad) {
        dT = e.emptyDetached(s.t.shape);
        e.heap.fillF32(dT.ptr, dT.size, 0);
        own.set(s.t, dT);
      }
      const DT = dT?.data(), a0 = s.j * RD;
      for (let j = 0; j < k; j++) {
        const base = (u * nDst + v0 + j) * B;
        for (let r = 0; r < R; r++) {
          const o = j * RD + r * D, w = 1 - m[base + ex[r]!]!;
          let dot = 0;
          for (let i = 0; i < D; i++) dot += G[o + i]! * d[r * D + i]!;
          c.gradMask[base + ex[r]!]! += dot;
          if (DT && w !== 0) for (let i = 0; i < D; i++) DT[a0 + r * D + i] = DT[a0 + r * D + i]! - w * G[o + i]!;
        }
      }
    }
    for (const [t, dT] of own) grads.give(t, dT);
    grads.give(X, g);
  });
}
