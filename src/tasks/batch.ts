/** Batching of task examples in file order (EAP-IG's DataLoader without shuffling). */
import { makeBatch } from '../models/batch.js';
import { UserError } from '../util/errors.js';
import type { Label, TaskBatch, TaskExample } from './types.js';

/** GPT-2's <|endoftext|>, the BOS and padding token (as the oracle and EAP-IG pad). */
export const GPT2_PAD_ID = 50256;

/**
 * Splits examples into consecutive batches of `batchSize` (the last may be smaller), clean and corrupted
 * each right-padded with `padId`. Since every example's clean and corrupted have equal lengths, both
 * batches share P and `lengths`.
 */
export function batches<L extends Label>(examples: readonly TaskExample<L>[], batchSize: number, padId = GPT2_PAD_ID): TaskBatch<L>[] {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new UserError(`--batch-size must be a positive integer, got ${batchSize}`);
  const out: TaskBatch<L>[] = [];
  for (let s = 0; s < examples.length; s += batchSize) {
    const chunk = examples.slice(s, s + batchSize);
    for (const e of chunk) {
      if (e.clean.length !== e.corrupted.length) throw new Error(`batches: row ${e.row} has unequal clean/corrupted lengths`);
    }
    out.push({
      n: chunk.length,
      clean: makeBatch(chunk.map((e) => e.clean), padId),
      corrupted: makeBatch(chunk.map((e) => e.corrupted), padId),
      labels: chunk.map((e) => e.label),
      rows: chunk.map((e) => e.row),
    });
  }
  return out;
}
