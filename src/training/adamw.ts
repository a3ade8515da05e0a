/**
 * AdamW (Loshchilov & Hutter): Adam moments with bias correction and decoupled weight decay, as PyTorch's
 * torch.optim.AdamW computes it:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p·(1 − lr·wd)  (parameters with decay only)
 *   p ← p − lr · m̂ / (√v̂ + ε),  m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ)
 * The update runs in JavaScript over the tensors' heap memory, in a fixed order: deterministic.
 */
import type { Tensor } from '../engine/tensor.js';
import type { Param } from './params.js';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay, applied to parameters with `decay` (default 0.1). */
  weightDecay?: number;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Steps taken so far. */
  t = 0;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];

  constructor(readonly params: readonly Param[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.95;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.1;
    this.m = params.map((p) => new Float32Array(p.tensor.size));
    this.v = params.map((p) => new Float32Array(p.tensor.size));
  }

  /** One update with learning rate `lr`; grads[i] is the gradient of params[i] (null: no gradient this step). */
  step(grads: readonly (Tensor | null)[], lr: number): void {
    if (grads.length !== this.params.length) throw new Error(`AdamW.step: ${grads.length} gradients for ${this.params.length} parameters`);
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 / (1 - b1 ** this.t), c2 = 1 / (1 - b2 ** this.t);
    this.params.forEach((p, i) => {
      const grad = grads[i];
      if (!grad) return;
      if (grad.size !== p.tensor.size) throw new Error(`AdamW.step: gradient of ${p.name} has ${grad.size} values for ${p.tensor.size}`);
      const w = p.tensor.data(), g = grad.data(), m = this.m[i]!, v = this.v[i]!;
      const keep = p.decay ? 1 - lr * this.weightDecay : 1;
      for (let j = 0; j < w.length; j++) {
        const gj = g[j]!;
        const mj = (m[j] = b1 * m[j]! + (1 - b1) * gj);
        const vj = (v[j] = b2 * v[j]! + (1 - b2) * gj * gj);
        w[j] = w[j]! * keep - (lr * (mj * c1)) / (Math.sqrt(vj * c2) + eps);
      }
    });
  }
}
