/**
 * NaN and ±Infinity: finding them in arrays, and the error that stops a run where one first appears. A run
 * never writes a non-finite number to a graph or results file: the computing layers check their outputs
 * (cheaply: one pass over values they already hold) and throw a NonFiniteError saying where the problem
 * first showed (the weights, an activation, a gradient, a score or the metric); the callers above add which
 * method and batch. It is a UserError: the CLI prints the message and exits 1, with no output file.
 */
import { UserError } from './errors.js';

/** Index of the first NaN or ±Infinity in a[from, to), or -1. */
export function firstNonFinite(a: ArrayLike<number>, from = 0, to = a.length): number {
  // x·0 is 0 for every finite x and NaN otherwise: one cheap pass, the search only when something is wrong
  let s = 0;
  for (let i = from; i < to; i++) s += a[i]! * 0;
  if (s === 0) return -1;
  for (let i = from; i < to; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/** "NaN", "Infinity" or "-Infinity" (for messages). */
export const nonFiniteName = (x: number): string => (Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity');

/** Where a non-finite value first appeared. */
export type NonFiniteSite = 'weights' | 'activation' | 'gradient' | 'metric' | 'score';

const HINTS: Record<NonFiniteSite, string> = {
  weights: 'The checkpoint is damaged or was saved from a diverged training run; re-download or retrain it',
  activation: 'The forward pass overflowed float32: check the model and its inputs (for eap-gp, a --gp-eta far beyond the embeddings\' scale does this)',
  gradient: 'The backward pass overflowed float32 (for eap-gp, a --gp-eta far beyond the embeddings\' scale does this)',
  metric: 'The task metric is undefined on these logits (check the labels and the metric form)',
  score: 'Finite activations and gradients gave scores beyond float range',
};

export class NonFiniteError extends UserError {
  /**
   * `detail` says what held the value (a tensor, a hook point, a node); `context` the run it belongs to
   * (method, batch), added by the callers with `within`.
   */
  constructor(readonly site: NonFiniteSite, readonly detail: string, readonly context: readonly string[] = []) {
    super(`${context.length ? `${context.join(', ')}: ` : ''}non-finite value in the ${site === 'weights' ? 'weights' : `${site}s`}: ${detail}. ${HINTS[site]}`);
  }

  /** The same error with `ctx` in front of its context (outermost first), unless it already names it. */
  within(ctx: string): NonFiniteError {
    return this.context.includes(ctx) ? this : new NonFiniteError(this.site, this.detail, [ctx, ...this.context]);
  }
}

/** Throws a NonFiniteError (site, detail(index, value)) if `a` holds a non-finite value. */
export function checkFinite(a: ArrayLike<number>, site: NonFiniteSite, detail: (index: number, value: string) => string): void {
  const i = firstNonFinite(a);
  if (i >= 0) throw new NonFiniteError(site, detail(i, nonFiniteName(a[i]!)));
}
