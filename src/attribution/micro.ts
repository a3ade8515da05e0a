/**
 * Micro-batches: examples are independent in a forward pass, so a batch can be processed in slices without
 * changing any score, provided each slice's loss keeps the whole batch's 1/B factor. This bounds the memory of
 * the per-batch buffers (Δ and the gradient sums are [nodes, rows, D]: gigabytes for GPT-2 XL).
 */
import { packBatch, type Batch } from '../models/gpt2.js';
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

/** Examples per slice so that `buffers` arrays of [nodes, rows, D] floats stay within `budget` bytes. */
export function examplesWithin(budget: number, nodes: number, P: number, D: number): number {
  return Math.max(1, Math.floor(budget / (4 * nodes * P * D)));
}

/**
 * The pair without padding rows (see packBatch): clean and corrupted have equal lengths per example, so their
 * rows still line up one to one.
 */
export function packPair(b: PairBatch): PairBatch {
  return { ...b, clean: packBatch(b.clean), corrupted: packBatch(b.corrupted) };
}
