/**
 * How many examples of a batch the WebAssembly heap holds at once. Everything lives in one heap of at most
 * 4 GiB (wasm32), which already holds the model's weights unless they stream; what is left is shared by the
 * per-batch buffers ([nodes, rows, D] arrays: Δ and the gradient sums) and one pass's activations, whose
 * attention probabilities grow with P² (P = the batch's padded prompt length). An example costs at most
 *
 *   4 bytes · [ buffers·P·D  +  (n + r)·(LINEAR + extra)·P·D  +  L·max(0, passes − 2)·P·D  +  (n + 1)·H·P²  +  LOGITS·V ]
 *
 * where n = layers + 1 for a taped pass (every layer's activations and one layer's gradients) and 1 for an untaped
 * one (a layer at a time), r = 1 when the tape is retained for a second backward pass (GradPath; measured: one more
 * layer of activations, no more attention probabilities), else 0; extra = what the model's block keeps beyond GPT-2's
 * fused one (ModelDims.extraActivations: the other families' wider MLPs and separate q/k/v); passes = the backward passes whose per-head
 * input sums are deferred (head-grads.ts keeps each pass's normalised stream per layer; LINEAR has two), plus HEAD_COPIES·H·P·D
 * when hooks give the heads their own values. The coefficients are upper bounds of the heap's high-water mark measured on GPT-2 shapes (test/memory-plan.test.ts
 * checks them against Heap.peakTop for several methods, shapes and prompt lengths). When the estimate is still
 * wrong, micro.ts halves the slice on an out-of-memory error and tries again.
 */
import { fmtBytes, type Heap } from '../engine/memory.js';
import type { ModelDims } from '../models/model.js';

/**
 * Floats per token of one layer's activations (residual copies, LayerNorm, qkv, MLP hidden, deferred head sums).
 * Measured: 27–28 per layer, 49 for a one-layer model.
 */
const LINEAR = 32;
/**
 * Floats per token and head when hooks give each head its own value in one layer: its q/k/v inputs (3 copies,
 * their LayerNorms and the patched results; measured ≤ 9) or its output (measured ≤ 3.5).
 */
const HEAD_COPIES = { none: 0, outputs: 4, inputs: 10 } as const;
/** Floats per example at the vocabulary (last-position logits, their gradient, the softmax). Measured: ≈ 3. */
const LOGITS = 4;
/** The estimate over what an example really needs, at most (test/memory-plan.test.ts: ≤ 2 at long prompts). */
export const ESTIMATE_SLACK = 2.5;
/** Kept free for fragmentation of the free list (measured up to 35 MiB) and small allocations outside the estimate. */
const RESERVE = 96 * 2 ** 20;

export interface PassShape {
  /** [nodes, rows, D] buffers per batch (e.g. Δ and the gradient sums: nSrc + nDst). */
  buffers: number;
  /** A taped pass (forward and backward) keeps every layer's activations; an untaped one a layer at a time. */
  taped: boolean;
  /** The tape is kept for a second backward pass (GradPath's step). */
  retained?: boolean;
  /** Backward passes per batch whose per-head input gradients are deferred (the method's points). */
  passes?: number;
  /** Forward hooks give each head its own q/k/v inputs (edge patching) or output (activation-space IG). */
  headCopies: keyof typeof HEAD_COPIES;
}

/** Upper bound of the heap bytes one example of padded length P adds (see the header). */
export function bytesPerExample(
  d: Pick<ModelDims, 'nLayer' | 'nHead' | 'dModel' | 'vocabSize' | 'extraActivations'>, P: number, s: PassShape,
): number {
  const { nLayer: L, nHead: H, dModel: D, vocabSize: V } = d;
  const n = s.taped ? L + 1 : 1, r = s.taped && s.retained ? 1 : 0;
  const heads = HEAD_COPIES[s.headCopies] * H * P * D;
  const extra = d.extraActivations ?? 0;
  const deferred = s.taped ? L * Math.max(0, (s.passes ?? 0) - 2) : 0;
  return 4 * (s.buffers * P * D + (n + r) * (LINEAR + extra) * P * D + deferred * P * D + (n + 1) * H * P * P + heads + LOGITS * V);
}

/** Examples that fit in the heap's free room now (0 when not even one does). */
export function examplesThatFit(heap: Heap, perExample: number): number {
  return Math.max(0, Math.floor((heap.headroom - RESERVE) / perExample));
}

/** What the user can do when one example does not fit: the numbers, and the options that help. */
export function doesNotFitHelp(heap: Heap, what: string, P: number, perExample: number, weightsInHeap: number, batchSize: number): string {
  const free = heap.headroom;
  const ways = [`shorter prompts (this batch is padded to ${P} tokens; attention memory grows with its square)`];
  if (weightsInHeap > 0) {
    ways.push(`EAPGP_STREAM_WEIGHTS=1, which keeps the per-layer weights (${fmtBytes(weightsInHeap)} here) outside the heap and copies one layer in at a time`);
  }
  ways.push('a smaller model');
  return (
    `${what}: one example of ${P} tokens needs about ${fmtBytes(perExample)} of the WebAssembly heap, but only ` +
    `${fmtBytes(Math.max(0, free))} of its ${fmtBytes(heap.maxBytes)} are free (the batch of ${batchSize} is already split ` +
    `into single examples). Try ${ways.join('; or ')}.`
  );
}
