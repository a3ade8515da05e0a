/**
 * EAP-GP (Zhang et al. 2025): integrated gradients along GradPath, an adaptive path that starts at the clean
 * token embeddings and descends the distance between the model's logits and the corrupted run's:
 *   γ_0 = e;  γ_{j+1} = γ_j − η · g / max(‖g‖, 1e-12),  g = ∂J/∂γ at γ_j,
 *   J(γ) = Σ_{real positions} ‖logits(γ) − logits(z')‖²,
 * and scores use γ_1..γ_k (DESIGN.md §4). The forward pass at γ_j serves both the task gradient (j ≥ 1) and the
 * next path step (j < k). Without an unembedding bias or soft-cap (GPT-2, Pythia, Llama, Qwen2), with
 * d = norm_f(h) − norm_f(h'), ‖logits − logits'‖² = d·(W_Uᵀ W_U)·d: a D×D Gram matrix replaces the
 * vocabulary-wide product. Gemma 2's capped logits take the direct route through the logits.
 */
import type { Engine } from '../engine/engine.js';
import type { Tape } from '../engine/tape.js';
import type { Tensor } from '../engine/tensor.js';
import type { CausalLM } from '../models/model.js';
import { rowStarts, type Batch } from '../models/batch.js';
import { checkFinite } from '../util/finite.js';
import { choiceOption, numberOption, STEPS } from './method-spec.js';
import type { BatchContext, Method } from './types.js';

/** GradPath's step length η (an absolute length in token-embedding space, per example). */
export const GP_ETA = numberOption({ key: 'gpEta', flag: 'gp-eta', variantKey: 'eta', metavar: 'E', meta: 'gp_eta', default: 1, min: 0, help: 'GradPath step size η in token-embedding space' });
/** GradPath's step normalisation: per example, or one norm over the whole batch tensor. */
export const GP_NORM = choiceOption({
  key: 'gpNorm', flag: 'gp-norm', variantKey: 'norm', metavar: 'example|batch', meta: 'gp_norm', default: 'example', values: ['example', 'batch'] as const,
  help: 'GradPath step norm per example or over the batch',
});
/** The straight path at GradPath's points instead of GradPath: a check (validate only). */
export const GP_PATH = choiceOption({
  key: 'gpPath', variantKey: 'path', metavar: 'gradpath|straight', default: 'gradpath', values: ['gradpath', 'straight'] as const,
  help: 'straight: the straight clean→corrupted line at the same points (a check)',
});

const isDefault = (o: Readonly<Record<string, unknown>>, ...opts: { key: string; default: unknown }[]): boolean =>
  opts.every((x) => (o[x.key] ?? x.default) === x.default);

export const eapGp: Method = {
  name: 'eap-gp',
  kind: 'gradient',
  summary: 'integrated gradients along GradPath, the adaptive path from the clean input toward the corrupted logits',
  options: [STEPS, GP_ETA, GP_NORM, GP_PATH],
  color: '#ea580c',
  reproduceByDefault: true,
  validateVariants: ['steps=3', 'steps=5', 'steps=10', 'steps=5:norm=batch', 'steps=5:eta=0.5', 'steps=5:eta=2'],
  variantNameOrder: ['steps', 'norm', 'eta', 'path'],
  counterpart: 'eap-ig',
  // GradPath against the straight path at equal steps: EAP-IG, and its own straight-path control
  comparisons: (o) => {
    if (!isDefault(o, GP_PATH, GP_NORM, GP_ETA)) return [];
    const k = o[STEPS.key] ?? STEPS.default;
    return [
      { label: `GradPath vs straight path (EAP-IG) at ${k} steps`, matches: (c) => c.name === `eap-ig:steps=${k}` },
      {
        label: 'GradPath vs the straight-path control at the same points',
        matches: (c) => c.method === 'eap-gp' && c.options[GP_PATH.key] === 'straight' && c.options[STEPS.key] === k,
      },
    ];
  },
  needsWholeBatch: (o) => (o.gpNorm === 'batch' ? { what: '--gp-norm batch', instead: 'use --gp-norm example' } : null),
  zeroScoresHint: (meta) => `a --gp-eta far beyond the embeddings' scale does this; --gp-eta ${meta[GP_ETA.meta!]} here`,
  points: (_L, o) => o.steps,
  needsCorruptedFinal: true,
  retainsTape: true,
  recordsClean: true,
  run: (ctx) => runGradPath(ctx),
};

function runGradPath(ctx: BatchContext): void {
  const { e, model, batch } = ctx;
  const { steps: k, gpEta: eta, gpNorm, gpPath } = ctx.opts;
  e.tidy(() => {
    const target = finalTarget(model, ctx.corruptedFinal!);
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
          if (wantTask) ctx.backwardTask(tape, out.logits!, { retain: wantStep }, { label: `GradPath step ${j} of ${k}`, batch: batch.clean, embeds: leaf });
          if (!wantStep) return straight && j < k ? straight(j + 1) : null;
          // path step: J and its gradient at the embeddings, without the per-destination work
          const step = gradPathStep(model, tape, leaf, out.residFinal, target, batch.clean, eta, gpNorm);
          checkFinite(step.next.data(), 'gradient', (_, v) => `GradPath step ${j + 1} of ${k} moved the embeddings to ${v} (the gradient of its objective J at step ${j} is not finite)`);
          ctx.opts.gpTrace?.(ctx.index, j, step.J.reduce((a, b) => a + b, 0));
          return step.next;
        }),
      );
      if (next) gamma = next;
    }
  });
}

/**
 * What GradPath's objective compares against, from the corrupted run's final residual stream [R, D]: its final
 * norm [R, D] (with the Gram matrix), or its logits at every row [R, V] (without).
 */
export function finalTarget(model: CausalLM, corruptedFinal: Tensor): Tensor {
  return model.engine.tidy(() => {
    const x = model.finalNorm(corruptedFinal);
    return model.unembedGram() ? x : model.unembed(x);
  });
}

/**
 * GradPath's objective on a taped forward pass: per example J_b = Σ_{real p} ‖logits[p] − logits'[p]‖², from
 * the final residual stream, with x on the tape — the final-normed stream (via the unembedding's Gram matrix) or
 * the logits — and dJdx = ∂(Σ_b J_b)/∂x (zero at padded positions). `target` is finalTarget of the corrupted run.
 */
export function gradPathObjective(model: CausalLM, residFinal: Tensor, target: Tensor, batch: Batch): { x: Tensor; dJdx: Tensor; J: Float64Array } {
  const e = model.engine;
  const starts = rowStarts(batch);
  const { B, lengths } = batch;
  const R = starts[B]!;
  const gram = model.unembedGram();
  // x: the point whose gradient dJdx is returned (normed stream with the Gram matrix, else the logits)
  const x = gram ? model.finalNorm(residFinal) : model.unembed(model.finalNorm(residFinal));
  const W = x.size / R;
  const d = e.empty([R, W]);
  e.kernels.scale(x.ptr, 1, d.ptr, d.size);
  e.kernels.axpy(-1, target.ptr, d.ptr, d.size);
  const y = e.empty([R, W]);
  if (gram) e.kernels.gemm(false, false, R, W, W, 2, d.ptr, W, gram.ptr, W, 0, y.ptr, W); // y = 2·d·G = dJ/dx
  else e.kernels.scale(d.ptr, 2, y.ptr, d.size); // y = 2·d = dJ/dlogits
  const dv = d.data(), yv = y.data();
  const J = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    const first = starts[b]! * W, real = first + lengths[b]! * W;
    let s = 0;
    for (let i = first; i < real; i++) s += 0.5 * dv[i]! * yv[i]!;
    J[b] = s;
    yv.fill(0, real, starts[b + 1]! * W); // padding is not part of J
  }
  return { x, dJdx: y, J };
}

/**
 * One GradPath step from a forward pass taped at γ (`leaf`, the embeddings): γ − η·∇J/‖∇J‖, norm per
 * example or over the batch. Runs the backward pass of J (without gradient watchers); returns the next
 * point and J at γ per example.
 */
export function gradPathStep(
  model: CausalLM, tape: Tape, leaf: Tensor, residFinal: Tensor, target: Tensor, batch: Batch, eta: number, norm: 'example' | 'batch',
): { next: Tensor; J: Float64Array } {
  const { x, dJdx, J } = gradPathObjective(model, residFinal, target, batch);
  const g = tape.backward([[x, dJdx]], { watch: false }).get(leaf);
  if (!g) throw new Error('GradPath: no gradient reached the embeddings');
  return { next: stepAlong(model.engine, leaf, g, eta, norm, rowStarts(batch), model.dims.dModel), J };
}

/**
 * γ − η·g/‖g‖ with the norm per example (its rows starts[b]..starts[b+1], each of D values) or over the whole
 * batch.
 */
export function stepAlong(e: Engine, gamma: Tensor, g: Tensor, eta: number, norm: 'example' | 'batch', starts: Int32Array, D: number): Tensor {
  const B = starts.length - 1;
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
      for (let i = starts[b]! * D; i < starts[b + 1]! * D; i++) s += gv[i]! * gv[i]!;
      norms.push(Math.max(Math.sqrt(s), 1e-12));
    }
  }
  e.kernels.scale(gamma.ptr, 1, out.ptr, out.size);
  for (let b = 0; b < B; b++) {
    const first = starts[b]! * D, n = (starts[b + 1]! - starts[b]!) * D;
    e.kernels.axpy(-eta / norms[b]!, g.ptr + 4 * first, out.ptr + 4 * first, n);
  }
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
