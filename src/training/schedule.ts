/** Learning-rate schedules: linear warm-up from 0, then cosine or linear decay down to `minLr`. */
import { UserError } from '../util/errors.js';

export interface ScheduleOptions {
  /** Peak learning rate, reached at the end of the warm-up. */
  lr: number;
  /** Total optimizer steps. */
  steps: number;
  /** Warm-up steps (linear from lr/warmup to lr); 0 for none. */
  warmup: number;
  decay: 'cosine' | 'linear' | 'constant';
  /** Learning rate at the last step (default 0.1·lr). */
  minLr?: number;
}

/** Checks the options (UserError naming the bad one). */
export function checkSchedule(o: ScheduleOptions): void {
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new UserError(`--lr must be a positive number, got ${o.lr}`);
  if (!(Number.isSafeInteger(o.steps) && o.steps > 0)) throw new UserError(`--steps must be a positive integer, got ${o.steps}`);
  if (!(Number.isSafeInteger(o.warmup) && o.warmup >= 0 && o.warmup <= o.steps)) {
    throw new UserError(`--warmup must be an integer from 0 to --steps (${o.steps}), got ${o.warmup}`);
  }
  const min = o.minLr ?? 0.1 * o.lr;
  if (!(min >= 0 && min <= o.lr)) throw new UserError(`--min-lr must be between 0 and --lr (${o.lr}), got ${min}`);
  if (!['cosine', 'linear', 'constant'].includes(o.decay)) throw new UserError(`--decay must be cosine, linear or constant, got "${o.decay}"`);
}

/** The learning rate of step `step` (0-based). */
export function learningRate(o: ScheduleOptions, step: number): number {
  if (step < o.warmup) return (o.lr * (step + 1)) / o.warmup;
  const min = o.minLr ?? 0.1 * o.lr;
  if (o.decay === 'constant') return o.lr;
  const span = o.steps - o.warmup;
  // progress 0 at the first step after warm-up, 1 at the last step
  const t = span <= 1 ? 1 : (step - o.warmup) / (span - 1);
  const f = o.decay === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * t)) : 1 - t;
  return min + (o.lr - min) * f;
}
