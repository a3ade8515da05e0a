/**
 * Soft-target cross-entropy at the answer position: for example b with logits z_b [V] and target weights w,
 *   loss_b = −Σ_k w_k · log softmax(z_b)[id_k],   dloss_b/dz_b = softmax(z_b) − w   (Σ w = 1),
 * and the batch loss is the mean over examples. The softmax runs as one engine kernel over the whole batch
 * (the vocabulary is 50,257 wide: this is most of the loss's cost); the target terms are sparse.
 */
import type { Tensor } from '../engine/tensor.js';
import type { Target } from './targets.js';

export interface LossResult {
  /** Mean loss over the batch. */
  loss: number;
  /** Per-example loss [B]. */
  perExample: Float64Array;
  /** d(mean loss)/d logits [B, V], in the current arena. */
  grad: Tensor;
}

/** log softmax(z)[id] of one row in float64, for targets whose float32 probability underflowed. */
function exactLogProb(z: Float32Array, o: number, V: number, id: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (z[o + j]! > max) max = z[o + j]!;
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(z[o + j]! - max);
  return z[o + id]! - max - Math.log(sum);
}

/** The loss of last-position logits [B, V] against one target per example. */
export function crossEntropy(logits: Tensor, targets: readonly Target[]): LossResult {
  const e = logits.engine, [B, V] = logits.shape as [number, number];
  if (logits.shape.length !== 2 || targets.length !== B) throw new Error(`crossEntropy: logits [${logits.shape}] for ${targets.length} targets`);
  const grad = e.empty([B, V]);
  e.kernels.softmaxRows(logits.ptr, grad.ptr, B, V);
  const perExample = new Float64Array(B);
  const p = grad.data(), z = logits.data();
  let total = 0;
  for (let b = 0; b < B; b++) {
    const o = b * V;
    const { ids, weights } = targets[b]!;
    let l = 0;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      if (!(id >= 0 && id < V)) throw new Error(`crossEntropy: target id ${id} outside the vocabulary (V = ${V})`);
      const pk = p[o + id]!;
      l -= weights[k]! * (pk > 1e-30 ? Math.log(pk) : exactLogProb(z, o, V, id));
    }
    perExample[b] = l;
    total += l;
  }
  // grad = (p − w) / B: the target weights first (p is still the plain softmax there), then the scale
  for (let b = 0; b < B; b++) {
    const { ids, weights } = targets[b]!;
    for (let k = 0; k < ids.length; k++) p[b * V + ids[k]!]! -= weights[k]!;
  }
  e.kernels.scale(grad.ptr, 1 / B, grad.ptr, B * V);
  return { loss: total / B, perExample, grad };
}
