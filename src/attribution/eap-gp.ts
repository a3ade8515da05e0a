/**
 * EAP-GP (Zhang et al. 2025): integrated gradients along GradPath, an adaptive path that starts at the clean
 * token embeddings and descends the distance between the model's logits and the corrupted run's:
 *   γ_0 = e;  γ_{j+1} = γ_j − η · g / max(‖g‖, 1e-12),  g = ∂J/∂γ at γ_j,
 *   J(γ) = Σ_{real positions} ‖logits(γ) − logits(z')‖²,
 * and scores use γ_1..γ_k (DESIGN.md §4). The forward pass at γ_j serves both the task gradient (j ≥ 1) and the
 * next path step (j < k). GPT-2's unembedding has no bias, so with d = LN_f(h) − LN_f(h'),
 * ‖logits − logits'‖² = d·(W_Uᵀ W_U)·d: a D×D Gram matrix replaces the vocabulary-wide product.
 */
import type { Engine } from '../engine/engine.js';
import * as ops from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';
import type { GPT2 } from '../models/gpt2.js';
import type { BatchContext, Method } from './types.js';

const grams = new WeakMap<GPT2, Tensor>();

/** W_Uᵀ W_U [D, D], computed once per model. */
export function unembedGram(e: Engine, model: GPT2): Tensor {
  let g = grams.get(model);
  if (!g) {
    const W = model.weights.unembed, [V, D] = [W.shape[0]!, W.shape[1]!];
    g = e.emptyDetached([D, D]);
    e.kernels.gemm(true, false, D, D, V, 1, W.ptr, D, W.ptr, D, 0, g.ptr, D);
    grams.set(model, g);
  }
  return g;
}

export const eapGp: Method = {
  name: 'eap-gp',
  points: (_L, o) => o.steps,
  needsCorruptedFinal: true,
  recordsClean: true,
  run: (ctx) => runGradPath(ctx),
};

function runGradPath(ctx: BatchContext): void {
  const { e, model, batch } = ctx;
  const { steps: k, gpEta: eta, gpNorm, gpPath } = ctx.opts;
  const { B, P, lengths } = batch.clean;
  const D = model.dims.dModel, R = B * P, eps = model.dims.layerNormEpsilon;
  const w = model.weights;
  const gram = unembedGram(e, model);
  e.tidy(() => {
    const target = e.tidy(() => ops.layerNorm(ctx.corruptedFinal!, w.lnfG, w.lnfB, eps));
    let gamma = ctx.embeddings('clean');
    const straight = gpPath === 'straight' ? straightPath(ctx, gamma) : null;
    for (let j = 0; j <= k; j++) {
      const next = e.tidy(() =>
        e.record((tape) => {
          const leaf = gamma.reshape(gamma.shape).requireGrad();
          const wantTask = j > 0, wantStep = j < k && !straight;
          const out = model.forward(batch.clean, {
            embeds: leaf,
            record: j === 0 ? ctx.recordClean : undefined, // γ_0 is the clean input: record its activations
            gradHooks: wantTask ? ctx.grads.hooks : undefined,
            logits: wantTask ? 'last' : 'none',
          });
          if (wantTask) ctx.backwardTask(tape, out.logits!, { retain: wantStep });
          if (!wantStep) return straight && j < k ? straight(j + 1) : null;
          // path step: J and its gradient at the embeddings, without the per-destination work
          const x = ops.layerNorm(out.residFinal, w.lnfG, w.lnfB, eps);
          const d = e.empty([R, D]);
          e.kernels.scale(x.ptr, 1, d.ptr, d.size);
          e.kernels.axpy(-1, target.ptr, d.ptr, d.size);
          const y = e.empty([R, D]);
          e.kernels.gemm(false, false, R, D, D, 2, d.ptr, D, gram.ptr, D, 0, y.ptr, D); // y = 2·d·G = dJ/dx
          const dv = d.data(), yv = y.data();
          let J = 0;
          for (let b = 0; b < B; b++) {
            const real = lengths[b]! * D;
            for (let i = b * P * D; i < b * P * D + real; i++) J += 0.5 * dv[i]! * yv[i]!;
            yv.fill(0, b * P * D + real, (b + 1) * P * D); // padding is not part of J
          }
          ctx.opts.gpTrace?.(ctx.index, j, J);
          const g = tape.backward([[x, y]], { watch: false }).get(leaf);
          if (!g) throw new Error('GradPath: no gradient reached the embeddings');
          return stepAlong(e, gamma, g, eta, gpNorm, B, P * D);
        }),
      );
      if (next) gamma = next;
    }
  });
}

/** γ − η·g/‖g‖ with the norm per example (rows of P·D values) or over the whole batch. */
function stepAlong(e: Engine, gamma: Tensor, g: Tensor, eta: number, norm: 'example' | 'batch', B: number, perExample: number): Tensor {
  const out = e.empty(gamma.shape);
  const gv = g.data();
  const norms: number[] = [];
  if (norm === 'batch') {
    let s = 0;
    for (let i = 0; i < gv.length; i++) s += gv[i]! * gv[i]!;
    norms.push(...Array<number>(B).fill(Math.max(Math.sqrt(s), 1e-12)));
  } else {
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let i = b * perExample; i < (b + 1) * perExample; i++) s += gv[i]! * gv[i]!;
      norms.push(Math.max(Math.sqrt(s), 1e-12));
    }
  }
  e.kernels.scale(gamma.ptr, 1, out.ptr, out.size);
  for (let b = 0; b < B; b++) e.kernels.axpy(-eta / norms[b]!, g.ptr + 4 * b * perExample, out.ptr + 4 * b * perExample, perExample);
  return out;
}

/** The straight path from the clean to the corrupted embeddings at the same k points: γ_j = e + (j/k)(e' − e). */
function straightPath(ctx: BatchContext, clean: Tensor): (j: number) => Tensor {
  const { e } = ctx;
  const k = ctx.opts.steps;
  const corr = ctx.embeddings('corrupted');
  return (j) => {
    const out = e.empty(clean.shape);
    e.kernels.scale(clean.ptr, 1 - j / k, out.ptr, out.size);
    e.kernels.axpy(j / k, corr.ptr, out.ptr, out.size);
    return out;
  };
}
