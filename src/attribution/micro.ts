/**
 * Micro-batches: examples are independent in a forward pass, so a batch can be processed in slices without
 * changing any score, provided each slice's loss keeps the whole batch's 1/B factor. Slices are sized by
 * memory-plan.ts to fit the heap (Δ and the gradient sums are [nodes, rows, D]: gigabytes for GPT-2 XL).
 */
import type { Engine } from '../engine/engine.js';
import { OutOfMemoryError } from '../engine/memory.js';
import { packBatch, type Batch } from '../models/batch.js';
import { UserError } from '../util/errors.js';
import { ESTIMATE_SLACK, doesNotFitHelp, examplesThatFit } from './memory-plan.js';
import type { PairBatch } from './types.js';

function sliceBatch(b: Batch, start: number, count: number): Batch {
  return { B: count, P: b.P, ids: b.ids.slice(start * b.P, (start + count) * b.P), lengths: b.lengths.slice(start, start + count) };
}

/** Slices of at most `size` examples (the batch itself when it is small enough). */
export function splitBatch(b: PairBatch, size: number): PairBatch[] {
  if (size >= b.n) return [b];
  const out: PairBatch[] = [];
  for (let s = 0; s < b.n; s += size) {
    const n = Math.min(size, b.n - s);
    out.push({ n, clean: sliceBatch(b.clean, s, n), corrupted: sliceBatch(b.corrupted, s, n), labels: b.labels.slice(s, s + n) });
  }
  return out;
}

export interface SliceRunOptions {
  /** Upper bound of one example's heap bytes at this batch's padded length (memory-plan.ts). */
  perExample: number;
  /** A fixed slice size (e.g. --micro-batch) instead of the one the heap's free room gives. */
  size?: number;
  /** Never split (GradPath's batch norm needs whole batches): the error to give when the batch does not fit. */
  whole?: string;
  /** Names the computation in the error when not even one example fits. */
  what: string;
  /** Bytes of weights that streaming would move out of the heap (0 when they already stream). */
  weightsInHeap: number;
}

/**
 * Runs `run` on slices of `whole` that fit the heap, in order. `run` must leave no trace when it throws (its
 * allocations in an arena, its sums committed only at its end): on an out-of-memory error the slice is split in
 * two and run again, so the estimate in memory-plan.ts may be wrong without costing more than the failed try.
 * One example that does not fit is a UserError saying what would help.
 */
export async function runInSlices(e: Engine, whole: PairBatch, o: SliceRunOptions, run: (slice: PairBatch) => Promise<void>): Promise<void> {
  const work = firstSlices(e, whole, o);
  while (work.length > 0) {
    const slice = work.shift()!;
    try {
      await run(slice);
    } catch (err) {
      work.unshift(...retrySlices(e, whole, o, slice, err));
    }
  }
}

/** runInSlices for a synchronous `run`. */
export function runInSlicesSync(e: Engine, whole: PairBatch, o: SliceRunOptions, run: (slice: PairBatch) => void): void {
  const work = firstSlices(e, whole, o);
  while (work.length > 0) {
    const slice = work.shift()!;
    try {
      run(slice);
    } catch (err) {
      work.unshift(...retrySlices(e, whole, o, slice, err));
    }
  }
}

function firstSlices(e: Engine, whole: PairBatch, o: SliceRunOptions): PairBatch[] {
  const fits = examplesThatFit(e.heap, o.perExample);
  // the estimate is at most ESTIMATE_SLACK times what an example needs: beyond that, trying would only waste time
  if (fits === 0 && o.perExample > ESTIMATE_SLACK * e.heap.headroom) {
    throw new UserError(doesNotFitHelp(e.heap, o.what, whole.clean.P, o.perExample, o.weightsInHeap, whole.n));
  }
  const size = o.whole !== undefined ? whole.n : (o.size ?? Math.max(1, fits));
  return splitBatch(whole, size);
}

/** The slices to run instead of `slice`, which failed with `err` (rethrown unless it is an out-of-memory error). */
function retrySlices(e: Engine, whole: PairBatch, o: SliceRunOptions, slice: PairBatch, err: unknown): PairBatch[] {
  if (!(err instanceof OutOfMemoryError)) throw err;
  if (o.whole !== undefined) throw new UserError(`${o.whole} (${err.message})`);
  if (slice.n === 1) throw new UserError(doesNotFitHelp(e.heap, o.what, whole.clean.P, o.perExample, o.weightsInHeap, whole.n));
  return splitBatch(slice, Math.ceil(slice.n / 2));
}

/**
 * The pair without padding rows (see packBatch): clean and corrupted have equal lengths per example, so their
 * rows still line up one to one.
 */
export function packPair(b: PairBatch): PairBatch {
  return { ...b, clean: packBatch(b.clean), corrupted: packBatch(b.corrupted) };
}
