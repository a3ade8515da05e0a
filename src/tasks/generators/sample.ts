/** Seeded sampling helpers: one Rng stream per (task, seed), so adding a task never changes another's data. */
import { deriveSeed, Rng } from '../../models/random.js';
import { UserError } from '../../util/errors.js';
import type { Drops } from './drops.js';

/** The PRNG of one task's generator. */
export function taskRng(task: string, seed: number): Rng {
  return new Rng(deriveSeed(seed, `tasks/generate/${task}`));
}

/** A uniformly chosen element of a non-empty array. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  return items[Math.floor(rng.uniform() * items.length)]!;
}

/** A uniformly chosen element different from every element of `not` (compared with ===). */
export function pickOther<T>(rng: Rng, items: readonly T[], ...not: T[]): T {
  const rest = items.filter((x) => !not.includes(x));
  return pick(rng, rest);
}

/**
 * Calls `attempt` until `n` rows are made. An attempt returns a row, or a string: the reason the sampled
 * candidate was dropped (counted in `drops`). Gives up with a UserError when most attempts fail, which only
 * happens with a tokenizer far from GPT-2's.
 */
export function sampleRows(task: string, n: number, drops: Drops, attempt: () => string[] | string): string[][] {
  const rows: string[][] = [];
  const maxAttempts = 50 * n + 1000;
  for (let k = 0; k < maxAttempts && rows.length < n; k++) {
    const r = attempt();
    if (typeof r === 'string') drops.add(r);
    else rows.push(r);
  }
  if (rows.length < n) {
    const why = Object.entries(drops.report().byReason).map(([r, c]) => `${c}× ${r}`).join('; ');
    throw new UserError(`${task}: made only ${rows.length} of ${n} rows in ${maxAttempts} attempts (dropped: ${why})`);
  }
  return rows;
}

/** Checks the generator options: n a positive integer, seed a non-negative integer. */
export function checkCounts(n: number, seed: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new UserError(`n must be a positive integer, got ${n}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UserError(`seed must be a non-negative integer, got ${seed}`);
}
