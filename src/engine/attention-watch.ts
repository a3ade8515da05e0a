/**
 * Read-only looks at an attention's scores and pattern and at their gradients, for the hook points
 * blocks.{l}.attn.hook_attn_scores and hook_pattern (src/models/hooks.ts). Both are [B, H, P, P] in the padded
 * layout (row b·H·P·P + h·P·P + i·P + j: query i, key j). Scores are the logits the softmax reads (scaled, and
 * soft-capped where the model caps them), −∞ where key j is not visible from query i; the pattern is their softmax.
 * Computed only when a watcher asks (the fused kernel keeps neither the scores nor the pattern's gradient), so
 * the attention of an unwatched pass is unchanged.
 */
import type { Engine } from './engine.js';
import type { Tensor } from './tensor.js';

/** Watchers of one attention call; each tensor is valid only during the call. */
export interface AttentionWatch {
  scores?: (s: Tensor) => void;
  pattern?: (a: Tensor) => void;
  scoresGrad?: (g: Tensor) => void;
  patternGrad?: (g: Tensor) => void;
}

/** −∞ outside the visible keys of each query row (causal, and within `window` when given), in place. */
export function maskScores(S: Float32Array, rows: number, P: number, window: number | null): void {
  for (let row = 0; row < rows; row++) {
    const i = row % P, o = row * P, lo = window ? Math.max(0, i - window + 1) : 0;
    for (let j = 0; j < P; j++) if (j < lo || j > i) S[o + j] = -Infinity;
  }
}

/**
 * Gradient of the softmax's logits from the pattern A and its gradient dA (rows of P):
 * dS_ij = A_ij·(dA_ij − Σ_k A_ik·dA_ik). Zero where A is (the masked keys).
 */
export function softmaxInputGrad(e: Engine, probs: Tensor, dprobs: Tensor): Tensor {
  const P = probs.shape[probs.shape.length - 1]!, rows = probs.size / P;
  const out = e.emptyDetached(probs.shape), A = probs.data(), G = dprobs.data(), O = out.data();
  for (let r = 0; r < rows; r++) {
    const o = r * P;
    let dot = 0;
    for (let j = 0; j < P; j++) dot += A[o + j]! * G[o + j]!;
    for (let j = 0; j < P; j++) O[o + j] = A[o + j]! * (G[o + j]! - dot);
  }
  return out;
}

/** Hands the gradient of the pattern (and, derived from it, of the scores) to the watchers. */
export function watchBackward(e: Engine, w: AttentionWatch, probs: Tensor, dprobs: Tensor): void {
  w.patternGrad?.(dprobs);
  if (!w.scoresGrad) return;
  const ds = softmaxInputGrad(e, probs, dprobs);
  try {
    w.scoresGrad(ds);
  } finally {
    ds.dispose();
  }
}
