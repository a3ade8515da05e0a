/**
 * The differentiable operations the model families beyond GPT-2 need (Hugging Face's equations): LayerNorm or
 * RMSNorm (Gemma's x̂·(1 + w) included), rotary embeddings (rotate_half on the first `rot` dims of each head),
 * causal attention over per-query-head k/v (grouped-query attention ungrouped, as EAP-IG requires) with
 * optional logit soft-capping and sliding window, the activations (erf GELU, tanh GELU, SiLU, ReLU), the gated
 * product and the soft-cap. Products, norms and activations go to the kernels; rotary, the attention mask and
 * soft-max, and the soft-cap run here on float32 arrays. No parameter gradients: these models are analysed, not trained.
 */
import { watchBackward, type AttentionWatch } from '../engine/attention-watch.js';
import type { Engine } from '../engine/engine.js';
import { ActivationKind } from '../engine/kernels.js';
import { identityRule, layerNormBack, rmsNormBack } from '../engine/relevance.js';
import type { Grads, RelevanceRules } from '../engine/tape.js';
import type { Tensor } from '../engine/tensor.js';

function rec(e: Engine, inputs: Tensor[], out: Tensor, bw: (g: Tensor, grads: Grads) => void): Tensor {
  return e.tape ? e.tape.record(inputs, out, bw) : out;
}
const cols = (t: Tensor) => t.shape[t.shape.length - 1]!;

// ------------------------------------------------------------------------------------------------ norms

/** A block's normalisation: LayerNorm (gain and bias) or RMSNorm (gain w, or 1 + w for Gemma). */
export interface NormParams {
  kind: 'layer' | 'rms';
  g: Tensor;
  b: Tensor | null;
  eps: number;
  /** Gemma: the gain is 1 + w. */
  unitOffset: boolean;
}

/** y = norm(x) over `rows` rows of D; returns the row statistics [2, rows] (mean, rstd; RMSNorm's mean is 0). */
export function normRows(e: Engine, p: NormParams, x: number, y: number, rows: number, D: number): Tensor {
  const st = e.empty([2, rows]);
  if (p.kind === 'layer') {
    e.kernels.layerNorm(x, p.g.ptr, p.b!.ptr, y, st.ptr, st.ptr + 4 * rows, rows, D, p.eps);
    return st;
  }
  e.heap.fillF32(st.ptr, rows, 0); // no mean, but no uninitialised row either
  e.kernels.rmsNorm(x, p.g.ptr, p.unitOffset ? 1 : 0, y, st.ptr + 4 * rows, rows, D, p.eps);
  return st;
}

/**
 * dx of norm at x given dy and the saved statistics (the row statistics repeat every `statRows` rows, for
 * per-head gradients of one shared input): writes or adds (accumulate) into dx, and if dxAcc ≠ 0 adds dx there too.
 * Under relevance rules with the LN-rule, the rule's dx instead (engine/relevance.ts).
 */
export function normRowsBackward(
  e: Engine, p: NormParams, dy: number, x: number, st: Tensor, dx: number, accumulate: boolean, dxAcc: number, rows: number, D: number,
  rules: RelevanceRules | null = null,
): void {
  const statRows = st.size / 2, off = p.unitOffset ? 1 : 0, rstd = st.ptr + 4 * statRows;
  // with repeating statistics, one call per repeat: each reads the same x and adds into the same dxAcc rows
  for (let r0 = 0; r0 < rows; r0 += statRows) {
    const o = 4 * r0 * D;
    if (p.kind === 'layer') layerNormBack(e, rules, dy + o, x, p.g.ptr, st.ptr, rstd, dx + o, accumulate, dxAcc, statRows, D);
    else rmsNormBack(e, rules, dy + o, x, p.g.ptr, off, rstd, dx + o, accumulate, dxAcc, statRows, D);
  }
}

/** norm(x) over the last dimension, on the tape. */
export function norm(x: Tensor, p: NormParams): Tensor {
  const e = x.engine, D = cols(x), R = x.size / D;
  const out = e.empty(x.shape);
  const st = normRows(e, p, x.ptr, out.ptr, R, D);
  return rec(e, [x], out, (g, grads) => {
    const sx = grads.slot(x);
    if (sx) normRowsBackward(e, p, g.ptr, x.ptr, st, sx.g.ptr, !sx.fresh, 0, R, D, grads.relevance);
  });
}

// ------------------------------------------------------------------------------------------------ rotary

/** cos and sin of every row's position for the first rot/2 frequencies: [R, rot/2] each. */
export interface RotaryTable {
  cos: Float32Array;
  sin: Float32Array;
  half: number;
}

export function rotaryTable(positions: Int32Array, invFreq: Float64Array): RotaryTable {
  const half = invFreq.length, R = positions.length;
  const cos = new Float32Array(R * half), sin = new Float32Array(R * half);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < half; i++) {
      // HF multiplies in float32: position · inv_freq rounded before cos/sin
      const a = Math.fround(positions[r]! * Math.fround(invFreq[i]!));
      cos[r * half + i] = Math.cos(a);
      sin[r * half + i] = Math.sin(a);
    }
  }
  return { cos, sin, half };
}

/** In place over [R, H·dh]: rotate each head's first 2·half dims (rotate_half); sign −1 applies the inverse. */
function rotate(X: Float32Array, t: RotaryTable, R: number, H: number, dh: number, sign: number): void {
  const { cos, sin, half } = t;
  for (let r = 0; r < R; r++) {
    for (let h = 0; h < H; h++) {
      const o = r * H * dh + h * dh;
      for (let i = 0; i < half; i++) {
        const c = cos[r * half + i]!, s = sign * sin[r * half + i]!;
        const a = X[o + i]!, b = X[o + half + i]!;
        X[o + i] = a * c - b * s;
        X[o + half + i] = b * c + a * s;
      }
    }
  }
}

/** Rotary position embedding of x [R, H·dh] (q or k). */
export function rope(x: Tensor, t: RotaryTable, H: number): Tensor {
  const e = x.engine, W = cols(x), R = x.size / W, dh = W / H;
  const out = e.empty(x.shape);
  e.kernels.scale(x.ptr, 1, out.ptr, x.size);
  rotate(out.data(), t, R, H, dh, 1);
  return rec(e, [x], out, (g, grads) => {
    if (!x.requiresGrad) return;
    const gx = e.emptyDetached(x.shape);
    e.kernels.scale(g.ptr, 1, gx.ptr, g.size);
    rotate(gx.data(), t, R, H, dh, -1); // a rotation's transpose is its inverse
    grads.give(x, gx);
  });
}

// ------------------------------------------------------------------------------------------------ attention

export interface AttentionShape {
  B: number;
  /** Padded length: rows are b·P + position. */
  P: number;
  H: number;
  scale: number;
  /** tanh soft-cap of the attention logits (Gemma 2), or null. */
  softcap: number | null;
  /** Keys j visible from query i only when i − j < window, or null. */
  window: number | null;
}

/**
 * Causal attention on q, k, v [B·P, H·dh] (k and v per query head) → z [B·P, H·dh]:
 * z_h = softmax(mask(cap(q_h·k_hᵀ·scale)))·v_h. A watcher sees the scores (capped and masked) and the pattern,
 * and in the backward pass their gradients.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, s: AttentionShape, watch?: AttentionWatch): Tensor {
  const e = q.engine, kn = e.kernels, { B, P, H } = s, W = cols(q), dh = W / H;
  const z = e.empty(q.shape);
  const probs = e.empty([B, H, P, P]);
  const capped = s.softcap ? e.empty([B, H, P, P]) : null; // tanh(logit / cap), for the backward pass
  const PP = P * P, bo = (b: number) => 4 * b * P * W;
  for (let b = 0; b < B; b++) {
    kn.gemmBatched(false, true, P, P, dh, s.scale, q.ptr + bo(b), W, dh, k.ptr + bo(b), W, dh, 0, probs.ptr + 4 * b * H * PP, P, PP, H);
  }
  const A = probs.data(), T = capped?.data();
  const scores = watch?.scores ? e.empty([B, H, P, P]) : null, S = scores?.data();
  for (let row = 0; row < B * H * P; row++) {
    const i = row % P, o = row * P;
    const lo = s.window ? Math.max(0, i - s.window + 1) : 0;
    let max = -Infinity;
    for (let j = lo; j <= i; j++) {
      let a = A[o + j]!;
      if (T) {
        const t = Math.tanh(a / s.softcap!);
        T[o + j] = t;
        a = t * s.softcap!;
      }
      A[o + j] = a;
      if (a > max) max = a;
    }
    if (S) {
      for (let j = 0; j < P; j++) S[o + j] = j >= lo && j <= i ? A[o + j]! : -Infinity;
    }
    let sum = 0;
    for (let j = lo; j <= i; j++) sum += A[o + j] = Math.exp(A[o + j]! - max);
    for (let j = 0; j < P; j++) A[o + j] = j >= lo && j <= i ? A[o + j]! / sum : 0;
  }
  if (scores) {
    watch!.scores!(scores);
    scores.dispose();
  }
  watch?.pattern?.(probs);
  for (let b = 0; b < B; b++) {
    kn.gemmBatched(false, false, P, dh, P, 1, probs.ptr + 4 * b * H * PP, P, PP, v.ptr + bo(b), W, dh, 0, z.ptr + bo(b), W, dh, H);
  }
  return rec(e, [q, k, v], z, (g, grads) => {
    const dS = e.emptyDetached([B, H, P, P]);
    // the AH-rule (engine/relevance.ts): the pattern is a constant, nothing reaches q or k
    const pattern = !grads.relevance?.attention;
    const dq = pattern && q.requiresGrad ? e.emptyDetached(q.shape) : null;
    const dk = pattern && k.requiresGrad ? e.emptyDetached(k.shape) : null;
    const dv = v.requiresGrad ? e.emptyDetached(v.shape) : null;
    for (let b = 0; b < B; b++) {
      const sb = dS.ptr + 4 * b * H * PP, pb = probs.ptr + 4 * b * H * PP;
      kn.gemmBatched(false, true, P, P, dh, 1, g.ptr + bo(b), W, dh, v.ptr + bo(b), W, dh, 0, sb, P, PP, H);
      if (dv) kn.gemmBatched(true, false, P, dh, P, 1, pb, P, PP, g.ptr + bo(b), W, dh, 0, dv.ptr + bo(b), W, dh, H);
    }
    // dS holds dA = dz·vᵀ here, the pattern's gradient
    if (grads.watching && (watch?.patternGrad || watch?.scoresGrad)) watchBackward(e, watch!, probs, dS);
    const D = dS.data(), A = probs.data(), T = capped?.data();
    for (let row = 0; row < B * H * P; row++) {
      const o = row * P;
      let dot = 0;
      for (let j = 0; j < P; j++) dot += D[o + j]! * A[o + j]!;
      for (let j = 0; j < P; j++) {
        let d = A[o + j]! * (D[o + j]! - dot);
        if (T) d *= 1 - T[o + j]! * T[o + j]!;
        D[o + j] = d * s.scale;
      }
    }
    for (let b = 0; b < B; b++) {
      const sb = dS.ptr + 4 * b * H * PP;
      if (dq) kn.gemmBatched(false, false, P, dh, P, 1, sb, P, PP, k.ptr + bo(b), W, dh, 0, dq.ptr + bo(b), W, dh, H);
      if (dk) kn.gemmBatched(true, false, P, dh, P, 1, sb, P, PP, q.ptr + bo(b), W, dh, 0, dk.ptr + bo(b), W, dh, H);
    }
    dS.dispose();
    if (dq) grads.give(q, dq);
    if (dk) grads.give(k, dk);
    if (dv) grads.give(v, dv);
  });
}

// ------------------------------------------------------------------------------------------------ pointwise

export type Activation = 'gelu' | 'gelu_tanh' | 'silu' | 'relu';

const KIND: Record<Activation, ActivationKind> = {
  gelu: ActivationKind.GeluErf,
  gelu_tanh: ActivationKind.GeluTanh,
  silu: ActivationKind.Silu,
  relu: ActivationKind.Relu,
};

/** activation(x), or activation(gate) ⊙ up when `up` is given (SwiGLU, GeGLU). */
export function activate(kind: Activation, x: Tensor, up: Tensor | null = null): Tensor {
  const e = x.engine, n = x.size, k = KIND[kind];
  if (up && up.size !== n) throw new Error(`gated activation: [${x.shape}] and [${up.shape}]`);
  const out = e.empty(x.shape);
  e.kernels.activation(k, x.ptr, up ? up.ptr : 0, out.ptr, n);
  const inputs = up ? [x, up] : [x];
  return rec(e, inputs, out, (g, grads) => {
    const gx = x.requiresGrad ? e.emptyDetached(x.shape) : null;
    const gu = up?.requiresGrad ? e.emptyDetached(up.shape) : null;
    if (!gx && !gu) return;
    const rules = grads.relevance;
    if (rules?.activation || (up && rules?.gate)) relevanceBackward(e, k, x, up, out, g, gx, gu, rules);
    else e.kernels.activationBackward(k, x.ptr, up ? up.ptr : 0, g.ptr, gx ? gx.ptr : 0, gu ? gu.ptr : 0, n);
    if (gx) grads.give(x, gx);
    if (gu) grads.give(up!, gu);
  });
}

/**
 * activate's backward under relevance rules: the Identity-rule's act(x)/x̃ for act'(x), and with the Half-rule
 * half of each factor's share of a gated product (engine/relevance.ts).
 */
function relevanceBackward(
  e: Engine, k: ActivationKind, x: Tensor, up: Tensor | null, out: Tensor, g: Tensor, gx: Tensor | null, gu: Tensor | null, rules: RelevanceRules,
): void {
  const half = up && rules.gate ? 0.5 : 1, n = x.size;
  if (!rules.activation) {
    e.kernels.activationBackward(k, x.ptr, up ? up.ptr : 0, g.ptr, gx ? gx.ptr : 0, gu ? gu.ptr : 0, n);
    if (gx) e.kernels.scale(gx.ptr, half, gx.ptr, n);
    if (gu) e.kernels.scale(gu.ptr, half, gu.ptr, n);
    return;
  }
  if (!up) return void (gx && identityRule(x, out, g, gx, false));
  e.tidy(() => {
    const act = e.empty(x.shape); // act(gate) alone: out holds act(gate)·up
    e.kernels.activation(k, x.ptr, 0, act.ptr, n);
    if (gx) identityRule(x, act, g, gx, false, half, up);
    if (gu) {
      e.kernels.activation(k, x.ptr, 0, gu.ptr, n);
      const U = gu.data(), G = g.data();
      for (let i = 0; i < n; i++) U[i] = Math.fround(Math.fround(U[i]! * G[i]!) * half);
    }
  });
}

/** cap·tanh(x / cap) (Gemma 2's logit soft-capping). */
export function softcap(x: Tensor, cap: number): Tensor {
  const e = x.engine, n = x.size;
  const out = e.empty(x.shape);
  const X = x.data(), O = out.data();
  for (let i = 0; i < n; i++) O[i] = cap * Math.tanh(X[i]! / cap);
  return rec(e, [x], out, (g, grads) => {
    if (!x.requiresGrad) return;
    const gx = e.emptyDetached(x.shape), G = g.data(), O = out.data(), GX = gx.data();
    for (let i = 0; i < n; i++) {
      const t = O[i]! / cap;
      GX[i] = G[i]! * (1 - t * t);
    }
    grads.give(x, gx);
  });
}
