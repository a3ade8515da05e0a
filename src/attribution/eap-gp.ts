/**
 * EAP-GP (Zhang et al. 2025): integrated gradients along GradPath, an adaptive path that starts at the clean
 * token embeddings e and descends an objective J towards the corrupted run z′ (embeddings e′):
 *   γ_0 = e;  γ_{j+1} = γ_j − s_j · g / max(‖g‖, 1e-12),  g = ∂J/∂γ at γ_j,
 * and scores use γ_1..γ_k (DESIGN.md §4). The paper's variant, the defaults (`--gp-step absolute
 * --gp-backtrack 0 --gp-objective logits --gp-end free`), takes s_j = η and
 *   J(γ) = Σ_{real positions} ‖logits(γ) − logits(z′)‖².
 * The variants, each one option (‖·‖ per example, or over the batch tensor with --gp-norm batch):
 *   --gp-step relative     s_j = η·‖e − e′‖/k, so that the k steps' total length is η·‖e − e′‖ (with backtracking,
 *                          at most that);
 *   --gp-backtrack N       per example, while J(γ_j − s·ĝ) ≥ J(γ_j) halve s, at most N times (each try is one
 *                          forward pass); when no try decreases J the example stays: γ_{j+1} = γ_j. J never
 *                          increases along the vertices;
 *   --gp-objective metric  J(γ) = (metric(γ) − metric(z′))² per example (the task metric at the last position):
 *                          the path descends towards the corrupted run's metric, not all its logits;
 *   --gp-end corrupted     after the k GradPath vertices, the path is bent to end at the corrupted input:
 *                          γ̃_j = γ_j + (j/k)(e′ − γ_k) (j = 1..k), and γ̃_k = e′ exactly; the scores use γ̃_1..γ̃_k.
 *                          The vertices come first (k passes of J), then the k gradient passes.
 * Without pinning, the forward pass at γ_j serves both the task gradient (j ≥ 1) and the next path step (j < k).
 * Without an unembedding bias or soft-cap (GPT-2, Pythia, Llama, Qwen2), with d = norm_f(h) − norm_f(h′),
 * ‖logits − logits′‖² = d·(W_Uᵀ W_U)·d: a D×D Gram matrix replaces the vocabulary-wide product. Gemma 2's
 * capped logits take the direct route through the logits. The mechanics are in gradpath.ts.
 */
import type { Tensor } from '../engine/tensor.js';
import { rowStarts } from '../models/batch.js';
import { UserError } from '../util/errors.js';
import { checkFinite } from '../util/finite.js';
import {
  corruptedMetric, finalTarget, logitsObjective, metricObjective, nextPoint, pinToCorrupted, stepLengths, walk,
  type GradPathObjective, type GradPathRule,
} from './gradpath.js';
import { choiceOption, intOption, numberOption, STEPS, type MethodOption } from './method-spec.js';
import type { BatchContext, Method, ResolvedOptions } from './types.js';

/** GradPath's step length η (absolute: a length in token-embedding space, per example; relative: see the header). */
export const GP_ETA = numberOption({ key: 'gpEta', flag: 'gp-eta', variantKey: 'eta', metavar: 'E', meta: 'gp_eta', default: 1, min: 0, help: 'GradPath step size η in token-embedding space' });
/** GradPath's step normalisation: per example, or one norm over the whole batch tensor. */
export const GP_NORM = choiceOption({
  key: 'gpNorm', flag: 'gp-norm', variantKey: 'norm', metavar: 'example|batch', meta: 'gp_norm', default: 'example', values: ['example', 'batch'] as const,
  help: 'GradPath step norm per example or over the batch',
});
/** GradPath's step length: η itself, or η·‖e − e′‖/k. */
export const GP_STEP = choiceOption({
  key: 'gpStep', flag: 'gp-step', variantKey: 'step', metavar: 'absolute|relative', meta: 'gp_step', metaWhenSet: true, default: 'absolute',
  values: ['absolute', 'relative'] as const, help: 'GradPath step η, or relative: η·‖e − e′‖/k (total length η·‖e − e′‖)',
});
/** Backtracking: the most halvings of a GradPath step until J decreases. */
export const GP_BACKTRACK = intOption({
  key: 'gpBacktrack', flag: 'gp-backtrack', variantKey: 'backtrack', metavar: 'N', meta: 'gp_backtrack', metaWhenSet: true, default: 0, min: 0,
  help: 'halve a GradPath step up to N times until J decreases, else stay (0: no backtracking)',
});
/** GradPath's objective: all logits against the corrupted run's, or the task metric against its corrupted value. */
export const GP_OBJECTIVE = choiceOption({
  key: 'gpObjective', flag: 'gp-objective', variantKey: 'objective', metavar: 'logits|metric', meta: 'gp_objective', metaWhenSet: true, default: 'logits',
  values: ['logits', 'metric'] as const, help: 'GradPath descends Σ‖logits − corrupted logits‖², or (metric − corrupted metric)²',
});
/** Where GradPath ends: where its k steps lead, or bent to end at the corrupted input. */
export const GP_END = choiceOption({
  key: 'gpEnd', flag: 'gp-end', variantKey: 'end', metavar: 'free|corrupted', meta: 'gp_end', metaWhenSet: true, default: 'free',
  values: ['free', 'corrupted'] as const, help: 'corrupted: GradPath bent to end exactly at the corrupted embeddings',
});
/** The straight path at GradPath's points instead of GradPath: a check (validate only). */
export const GP_PATH = choiceOption({
  key: 'gpPath', variantKey: 'path', metavar: 'gradpath|straight', default: 'gradpath', values: ['gradpath', 'straight'] as const,
  help: 'straight: the straight clean→corrupted line at the same points (a check)',
});

/** The options that make a GradPath variant (what `eapgp path` traces), in the order variant names list them. */
export const GRADPATH_OPTIONS: readonly MethodOption[] = [GP_NORM, GP_ETA, GP_STEP, GP_BACKTRACK, GP_OBJECTIVE, GP_END];

/** Named GradPath variants (option spellings as validate's, key=value joined by ':'): the paper's is the defaults. */
export const GRADPATH_NAMED: Readonly<Record<string, string>> = {
  paper: '',
  descent: 'step=relative:backtrack=8',
  'descent-pinned': 'step=relative:backtrack=8:end=corrupted',
};

/** A GradPath variant's rule from resolved options. */
export function gradPathRule(o: Pick<ResolvedOptions, 'gpEta' | 'gpNorm' | 'gpStep' | 'gpBacktrack' | 'gpObjective' | 'gpEnd'>): GradPathRule {
  return { eta: o.gpEta, norm: o.gpNorm, step: o.gpStep, backtrack: o.gpBacktrack, objective: o.gpObjective, end: o.gpEnd };
}

const isDefault = (o: Readonly<Record<string, unknown>>, ...opts: { key: string; default: unknown }[]): boolean =>
  opts.every((x) => (o[x.key] ?? x.default) === x.default);

export const eapGp: Method = {
  name: 'eap-gp',
  kind: 'gradient',
  summary: 'integrated gradients along GradPath, the adaptive path from the clean input toward the corrupted logits',
  options: [STEPS, GP_ETA, GP_NORM, GP_STEP, GP_BACKTRACK, GP_OBJECTIVE, GP_END, GP_PATH],
  color: '#ea580c',
  reproduceByDefault: true,
  validateVariants: [
    'steps=3', 'steps=5', 'steps=10', 'steps=5:norm=batch', 'steps=5:eta=0.5', 'steps=5:eta=2',
    'steps=5:step=relative', 'steps=5:backtrack=8', 'steps=5:objective=metric', 'steps=5:end=corrupted',
    'steps=5:step=relative:backtrack=8', 'steps=5:step=relative:backtrack=8:end=corrupted',
  ],
  variantNameOrder: ['steps', 'norm', 'eta', 'step', 'backtrack', 'objective', 'end', 'path'],
  counterpart: 'eap-ig',
  // GradPath against the straight path at equal steps: EAP-IG, and its own straight-path control
  comparisons: (o) => {
    if (!isDefault(o, GP_PATH, GP_NORM, GP_ETA, GP_STEP, GP_BACKTRACK, GP_OBJECTIVE, GP_END)) return [];
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

/** The variant's objective for this batch. */
function objectiveOf(ctx: BatchContext, rule: GradPathRule): GradPathObjective {
  const { model, batch } = ctx;
  if (rule.objective === 'logits') return logitsObjective(model, batch.clean, finalTarget(model, ctx.corruptedFinal!));
  return metricObjective(model, batch.clean, ctx.taskMetric, corruptedMetric(model, batch.corrupted, ctx.corruptedFinal!, ctx.taskMetric));
}

function runGradPath(ctx: BatchContext): void {
  const { e, model, batch } = ctx;
  const k = ctx.opts.steps;
  const rule = gradPathRule(ctx.opts);
  const straight = ctx.opts.gpPath === 'straight';
  if (straight && !isDefault(ctx.opts as unknown as Record<string, unknown>, GP_STEP, GP_BACKTRACK, GP_OBJECTIVE, GP_END)) {
    throw new UserError('the straight-path control (path=straight) takes no GradPath variant options (step, backtrack, objective, end)');
  }
  e.tidy(() => {
    const starts = rowStarts(batch.clean), D = model.dims.dModel;
    const objective = objectiveOf(ctx, rule);
    const clean = ctx.embeddings('clean');
    const corrupted = rule.step === 'relative' || rule.end === 'corrupted' || straight ? ctx.embeddings('corrupted') : null;
    const len = stepLengths(rule, k, clean, corrupted ?? clean, starts, D);
    const trace = (j: number, J: Float64Array): void => ctx.opts.gpTrace?.(ctx.index, j, J.reduce((a, b) => a + b, 0));
    const checked = (next: Tensor, j: number): Tensor => {
      checkFinite(next.data(), 'gradient', (_, v) => `GradPath step ${j + 1} of ${k} moved the embeddings to ${v} (the gradient of its objective J at step ${j} is not finite)`);
      return next;
    };
    if (rule.end === 'corrupted' && !straight) {
      // the vertices first (their first pass records the clean activations), bent to the corrupted input, then one gradient pass each
      const points = pinToCorrupted(e, walk(model, batch.clean, rule, objective, clean, len, k, { record: ctx.recordClean, trace, check: checked }), corrupted!);
      for (let j = 1; j <= k; j++) ctx.point({ embeds: points[j]!, label: `GradPath step ${j} of ${k}` });
      return;
    }
    let gamma = clean;
    for (let j = 0; j <= k; j++) {
      const next = e.tidy(() =>
        e.record((tape) => {
          const leaf = gamma.reshape(gamma.shape).requireGrad();
          const wantTask = j > 0, wantStep = j < k && !straight;
          const out = model.forward(batch.clean, {
            embeds: leaf,
            record: j === 0 ? ctx.recordClean : undefined, // γ_0 is the clean input: record its activations
            gradHooks: wantTask ? ctx.grads.hooks : undefined,
            logits: wantTask ? 'last' : wantStep ? objective.logits : 'none',
          });
          if (wantTask) ctx.backwardTask(tape, out.logits!, { retain: wantStep }, { label: `GradPath step ${j} of ${k}`, batch: batch.clean, embeds: leaf });
          if (!wantStep) return straight && j < k ? lerp(ctx, clean, corrupted!, (j + 1) / k) : null;
          // path step: J and its gradient at the embeddings, without the per-destination work
          const { J, g } = objective.taped(tape, leaf, out);
          trace(j, J);
          return checked(nextPoint(e, objective, rule, leaf, g, J, len, starts, D), j);
        }),
      );
      if (next) gamma = next;
    }
  });
}

/** (1 − f)·x + f·y: the straight path from the clean to the corrupted embeddings at f = j/k. */
function lerp(ctx: BatchContext, x: Tensor, y: Tensor, f: number): Tensor {
  const out = ctx.e.empty(x.shape);
  ctx.e.kernels.scale(x.ptr, 1 - f, out.ptr, out.size);
  ctx.e.kernels.axpy(f, y.ptr, out.ptr, out.size);
  return out;
}
