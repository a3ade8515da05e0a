/**
 * Differentiable tensor operations. Each op allocates its output in the current arena, runs kernels and, when
 * an input requires a gradient and a tape is recording, records how to send the gradient back. Gradients of
 * weights (leaves with requiresGrad) come out of the same backward functions.
 */
import { maskScores, watchBackward, type AttentionWatch } from './attention-watch.js';
import type { Engine } from './engine.js';
import { identityRule, layerNormBack, zeroQueryKeyColumns } from './relevance.js';
import type { Grads } from './tape.js';
import type { Tensor } from './tensor.js';

function rec(e: Engine, inputs: Tensor[], out: Tensor, bw: (g: Tensor, grads: Grads) => void): Tensor {
  return e.tape ? e.tape.record(inputs, out, bw) : out;
}
function cols(t: Tensor): number {
  return t.shape[t.shape.length - 1]!;
}
function zeroFill(e: Engine, t: Tensor): void {
  e.heap.fillF32(t.ptr, t.size, 0);
}

/** A weight, or a function returning it: streamed weights are fetched again when the backward pass needs them. */
export type WeightRef = Tensor | (() => Tensor);
/** The tensor a weight reference names (a streamed layer's weights load on first use). */
export const deref = (w: WeightRef): Tensor => (typeof w === 'function' ? w() : w);

/** out = x·W (+ b) over the last dimension; W is [K, N] (Hugging Face Conv1D orientation), or [N, K] with transposeW. */
export function linear(x: Tensor, Wref: WeightRef, b: Tensor | null = null, transposeW = false): Tensor {
  const e = x.engine, k = e.kernels;
  const W = deref(Wref);
  const K = cols(x), R = x.size / K;
  const N = transposeW ? W.shape[0]! : W.shape[1]!;
  const wk = transposeW ? W.shape[1]! : W.shape[0]!;
  if (wk !== K) throw new Error(`linear: input has ${K} features, weight [${W.shape}]`);
  const out = e.empty([...x.shape.slice(0, -1), N]);
  k.gemm(false, transposeW, R, N, K, 1, x.ptr, K, W.ptr, transposeW ? K : N, 0, out.ptr, N);
  if (b) k.addRowVector(out.ptr, b.ptr, out.ptr, R, N);
  return rec(e, b ? [x, W, b] : [x, W], out, (g, grads) => {
    const W = deref(Wref);
    const sx = grads.slot(x);
    if (sx) k.gemm(false, !transposeW, R, K, N, 1, g.ptr, N, W.ptr, transposeW ? K : N, sx.fresh ? 0 : 1, sx.g.ptr, K);
    const sw = grads.slot(W);
    if (sw) {
      if (transposeW) k.gemm(true, false, N, K, R, 1, g.ptr, N, x.ptr, K, sw.fresh ? 0 : 1, sw.g.ptr, K);
      else k.gemm(true, false, K, N, R, 1, x.ptr, K, g.ptr, N, sw.fresh ? 0 : 1, sw.g.ptr, N);
    }
    const sb = b ? grads.slot(b) : null;
    if (sb) k.sumRows(g.ptr, sb.g.ptr, R, N, !sb.fresh);
  });
}

/** Writes n copies of x, one after another, from byte offset dst (not recorded on the tape). */
export function writeCopies(x: Tensor, dst: number, n: number): void {
  for (let i = 0; i < n; i++) x.engine.kernels.scale(x.ptr, 1, dst + 4 * i * x.size, x.size);
}

/** a + b (same shapes). */
export function add(a: Tensor, b: Tensor): Tensor {
  const e = a.engine;
  if (a.size !== b.size) throw new Error(`add: [${a.shape}] + [${b.shape}]`);
  const out = e.empty(a.shape);
  e.kernels.add(a.ptr, b.ptr, out.ptr, out.size);
  return rec(e, [a, b], out, (g, grads) => {
    grads.give(a, g);
    grads.give(b, g);
  });
}

/** x + v broadcast over rows (v has the size of x's last dimension). */
export function addRowVector(x: Tensor, v: Tensor): Tensor {
  const e = x.engine, C = cols(x);
  if (v.size !== C) throw new Error(`addRowVector: [${x.shape}] + [${v.shape}]`);
  const out = e.empty(x.shape);
  e.kernels.addRowVector(x.ptr, v.ptr, out.ptr, x.size / C, C);
  return rec(e, [x, v], out, (g, grads) => {
    const sv = grads.slot(v);
    if (sv) e.kernels.sumRows(g.ptr, sv.g.ptr, x.size / C, C, !sv.fresh);
    grads.give(x, g);
  });
}

/** The same values as a new tape node: a hook point whose gradient is separate from its source's. */
export function identity(x: Tensor): Tensor {
  const e = x.engine;
  const out = x.reshape(x.shape);
  return rec(e, [x], out, (g, grads) => grads.give(x, g));
}

/** LayerNorm over the last dimension. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const e = x.engine, k = e.kernels, D = cols(x), R = x.size / D;
  const out = e.empty(x.shape);
  const stats = e.empty([2, R]);
  const mean = stats.ptr, rstd = stats.ptr + R * 4;
  k.layerNorm(x.ptr, gamma.ptr, beta.ptr, out.ptr, mean, rstd, R, D, eps);
  return rec(e, [x, gamma, beta], out, (g, grads) => {
    const sx = grads.slot(x);
    if (sx) layerNormBack(e, grads.relevance, g.ptr, x.ptr, gamma.ptr, mean, rstd, sx.g.ptr, !sx.fresh, 0, R, D);
    const sg = grads.slot(gamma), sb = grads.slot(beta);
    if (sg || sb) {
      if (sg?.fresh) zeroFill(e, sg.g);
      if (sb?.fresh) zeroFill(e, sb.g);
      const scratchG = sg ? sg.g : e.zeros([D]), scratchB = sb ? sb.g : e.zeros([D]);
      k.layerNormParamGrad(g.ptr, x.ptr, mean, rstd, scratchG.ptr, scratchB.ptr, R, D);
    }
  });
}

/** gelu_new (tanh approximation), GPT-2's activation. */
export function gelu(x: Tensor): Tensor {
  const e = x.engine;
  const out = e.empty(x.shape);
  e.kernels.gelu(x.ptr, out.ptr, x.size);
  return rec(e, [x], out, (g, grads) => {
    const sx = grads.slot(x);
    if (sx && grads.relevance?.activation) identityRule(x, out, g, sx.g, !sx.fresh);
    else if (sx) e.kernels.geluBackward(x.ptr, g.ptr, sx.g.ptr, x.size, !sx.fresh);
  });
}

/** Rows of x (viewed as [n, D]) at `idx` (an i32 tensor): out[i] = x[idx[i]]. */
export function gatherRows(x: Tensor, idx: Tensor): Tensor {
  const e = x.engine, D = cols(x);
  const out = e.empty([idx.size, D]);
  e.kernels.gatherRows(idx.ptr, x.ptr, out.ptr, idx.size, D);
  return rec(e, [x], out, (g, grads) => {
    const sx = grads.slot(x);
    if (!sx) return;
    if (sx.fresh) zeroFill(e, sx.g);
    e.kernels.scatterAddRows(idx.ptr, g.ptr, sx.g.ptr, idx.size, D);
  });
}

/** The rows of x (viewed as [m, D]) placed at `idx` (distinct, an i32 tensor) in an [n, D] tensor of zeros. */
export function scatterRows(x: Tensor, idx: Tensor, n: number): Tensor {
  const e = x.engine, D = cols(x);
  const out = e.empty([n, D]);
  zeroFill(e, out);
  e.kernels.scatterAddRows(idx.ptr, x.ptr, out.ptr, idx.size, D);
  return rec(e, [x], out, (g, grads) => {
    if (!x.requiresGrad) return;
    const gx = e.emptyDetached(x.shape);
    e.kernels.gatherRows(idx.ptr, g.ptr, gx.ptr, idx.size, D);
    grads.give(x, gx);
  });
}

/** Σ over the first dimension: [n, ...] → [...]. */
export function sumFirst(x: Tensor): Tensor {
  const e = x.engine, n = x.shape[0]!, inner = x.size / n;
  const out = e.empty(x.shape.slice(1));
  e.kernels.sumStacked(x.ptr, out.ptr, n, inner, false);
  return rec(e, [x], out, (g, grads) => {
    const sx = grads.slot(x);
    if (!sx) return;
    for (let i = 0; i < n; i++) {
      const dst = sx.g.ptr + i * inner * 4;
      if (sx.fresh) e.kernels.scale(g.ptr, 1, dst, inner);
      else e.kernels.axpy(1, g.ptr, dst, inner);
    }
  });
}

/**
 * Causal multi-head attention on GPT-2's fused qkv [B·P, 3D] → z [B·P, D]. A watcher (attention-watch.ts) sees
 * the scores and pattern, and in the backward pass their gradients; without one the fused kernels run alone.
 */
export function attention(qkv: Tensor, B: number, P: number, H: number, watch?: AttentionWatch): Tensor {
  const e = qkv.engine, D = cols(qkv) / 3, dh = D / H;
  const scale = 1 / Math.sqrt(dh);
  const z = e.empty([B * P, D]);
  const probs = e.empty([B, H, P, P]);
  e.kernels.attention(qkv.ptr, z.ptr, probs.ptr, B, P, H, dh, scale);
  if (watch?.scores) {
    e.tidy(() => {
      const s = e.empty([B, H, P, P]), PP = P * P;
      for (let b = 0; b < B; b++) {
        const q = qkv.ptr + 4 * b * P * 3 * D;
        e.kernels.gemmBatched(false, true, P, P, dh, scale, q, 3 * D, dh, q + 4 * D, 3 * D, dh, 0, s.ptr + 4 * b * H * PP, P, PP, H);
      }
      maskScores(s.data(), B * H * P, P, null);
      watch.scores!(s);
    });
  }
  watch?.pattern?.(probs);
  return rec(e, [qkv], z, (g, grads) => {
    if (grads.watching && (watch?.patternGrad || watch?.scoresGrad)) {
      // dA = dz·vᵀ per example and head (the fused backward forms it internally and keeps it to itself)
      const dA = e.emptyDetached([B, H, P, P]), PP = P * P;
      for (let b = 0; b < B; b++) {
        const v = qkv.ptr + 4 * (b * P * 3 * D + 2 * D);
        e.kernels.gemmBatched(false, true, P, P, dh, 1, g.ptr + 4 * b * P * D, D, dh, v, 3 * D, dh, 0, dA.ptr + 4 * b * H * PP, P, PP, H);
      }
      try {
        watchBackward(e, watch!, probs, dA);
      } finally {
        dA.dispose();
      }
    }
    const tmp = e.emptyDetached(qkv.shape);
    e.kernels.attentionBackward(g.ptr, qkv.ptr, probs.ptr, tmp.ptr, B, P, H, dh, scale);
    if (grads.relevance?.attention) zeroQueryKeyColumns(e, tmp, B * P, D);
    grads.give(qkv, tmp);
  });
}
