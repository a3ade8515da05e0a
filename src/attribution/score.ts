/**
 * Scores of every edge with one method by name: a gradient method of METHODS (`attribute`) or `exact`
 * patching (`exactScores`), with progress in the unit each one counts. Shared by `eapgp attribute` and
 * `eapgp reproduce`.
 */
import type { Intervention, MetricFn } from '../evaluation/patching.js';
import type { CausalLM } from '../models/model.js';
import { UserError } from '../util/errors.js';
import { NonFiniteError } from '../util/finite.js';
import type { Progress } from '../util/progress.js';
import { attribute, METHODS, type Scores } from './attribute.js';
import { exactScores } from './exact.js';
import type { AttributionOptions, LossFn, MethodName, PairBatch } from './types.js';

/** Every method name `scoreEdges` takes. */
export const SCORE_METHODS: readonly string[] = [...Object.keys(METHODS), 'exact'];

export type ScoreMethod = MethodName | 'exact';

/** `name` as a method; a UserError listing the methods otherwise. */
export function checkMethod(name: string): ScoreMethod {
  if (!SCORE_METHODS.includes(name)) throw new UserError(`unknown method "${name}"; choose one of ${SCORE_METHODS.join(', ')}`);
  return name as ScoreMethod;
}

/** Whether `--steps` means something for the method (integrated gradients and GradPath). */
export function usesSteps(method: string): boolean {
  return method.startsWith('eap-ig') || method === 'eap-gp';
}

export interface ScoreEdgesArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  method: ScoreMethod;
  /** The attribution loss (gradient methods). */
  loss: LossFn;
  /** The task metric (exact patching). */
  metric: MetricFn;
  /** Exact patching only: what a removed edge carries (default `patching`). */
  intervention?: Intervention;
  options?: AttributionOptions;
  /** Makes the progress reporter once the amount of work is known; finished here (failed on an error). */
  progress?: (p: { label: string; total: number; itemName: string }) => Progress;
}

export async function scoreEdges(a: ScoreEdgesArgs): Promise<Scores> {
  const { model, batches } = a;
  let progress: Progress | undefined;
  try {
    let scores: Scores;
    if (a.method === 'exact') {
      const nEdges = model.layout.nEdges;
      progress = a.progress?.({ label: 'exact patching', total: (nEdges + 1) * batches.length, itemName: 'runs' });
      scores = await exactScores({ model, batches, metric: a.metric, intervention: a.intervention, onRun: () => progress?.add(1) });
    } else {
      const examples = batches.reduce((s, b) => s + b.n, 0);
      progress = a.progress?.({ label: `${a.method} attribution`, total: examples, itemName: 'examples' });
      scores = await attribute({ model, batches, method: a.method, loss: a.loss, options: a.options, onBatch: (n) => progress?.set(n) });
    }
    progress?.finish();
    return scores;
  } catch (e) {
    progress?.finish(true);
    // gradient methods name themselves and the batch; exact patching's evaluation names the batch only
    throw e instanceof NonFiniteError && a.method === 'exact' ? e.within('exact') : e;
  }
}
