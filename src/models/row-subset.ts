/**
 * Forward passes over a subset of a batch's rows: a seam for patched runs (src/evaluation/patching.ts), whose
 * rows before each example's first corrupted token equal the clean run's. When the rows left out hold what a
 * reference run of the same batch computed there, and no kept row feeds them (causal attention: they are a
 * prefix of each example), only the kept rows are computed; attention reads the other rows' inputs from the
 * reference run. Without a tape only. Hooks, the source record and the logits then see the kept rows alone.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { lastRows, type Batch } from './batch.js';
import type { ForwardInput } from './forward-frame.js';

export interface RowSubset {
  /** The rows computed, ascending (indices into the batch's rows); each example's last real row among them. */
  keep: Int32Array;
  /** Layer l's attention inputs over all rows, as the reference run handed them to ForwardOptions.keepAttn. */
  attn: (l: number) => readonly Tensor[];
  /**
   * The batch is this many copies of the reference run's examples, one after the other (stacked patched runs):
   * the rows left out of copy c are the reference's rows (default 1).
   */
  copies?: number;
}

/** Receives each layer's attention inputs over all rows (GPT-2: qkv [R, 3D]; the families: q, k, v after rope), to keep. */
export type KeepAttnHook = (l: number, inputs: readonly Tensor[]) => void;

/**
 * The rows a forward pass computes: all of `input`'s, or the subset's (R, token ids and positions of the kept rows,
 * and their indices as a tensor for gathering). A subset needs a pass without a tape.
 */
export function computedRows(e: Engine, input: ForwardInput, sub: RowSubset | undefined): { R: number; ids: Int32Array; pos: Int32Array; keepIdx: Tensor | null } {
  if (!sub) return { R: input.R, ids: input.ids, pos: input.pos, keepIdx: null };
  if (e.tape) throw new Error('a forward pass over a subset of rows cannot be taped');
  const { keep } = sub;
  return { R: keep.length, ids: keptEntries(input.ids, keep), pos: keptEntries(input.pos, keep), keepIdx: e.fromArray(keep, [keep.length], 'i32') };
}

/** The entries of `a` at the kept rows. */
export function keptEntries(a: Int32Array, keep: Int32Array): Int32Array {
  return Int32Array.from(keep, (r) => a[r]!);
}

/**
 * The reference run's [R, C] values, `copies` times one after the other, with the kept rows (indices into the
 * copies' rows) replaced by x [keep.length, C].
 */
export function withKeptRows(ref: Tensor, x: Tensor, keep: Int32Array, copies = 1): Tensor {
  const e = x.engine, C = x.shape[x.shape.length - 1]!;
  if (x.size !== keep.length * C || ref.size % C !== 0) throw new Error(`withKeptRows: [${x.shape}] for ${keep.length} kept rows of [${ref.shape}]`);
  const out = e.empty([copies * ref.shape[0]!, ...ref.shape.slice(1)]);
  for (let c = 0; c < copies; c++) e.kernels.scale(ref.ptr, 1, out.ptr + 4 * c * ref.size, ref.size);
  const o = out.data(), s = x.data();
  for (let i = 0; i < keep.length; i++) o.set(s.subarray(i * C, (i + 1) * C), keep[i]! * C);
  return out;
}

/** Each example's last real row as an index into the kept rows. */
export function keptLastRows(batch: Batch, keep: Int32Array): Int32Array {
  const at = new Map<number, number>();
  keep.forEach((r, i) => at.set(r, i));
  return Int32Array.from(lastRows(batch), (r, b) => {
    const i = at.get(r);
    if (i === undefined) throw new Error(`row subset: example ${b}'s last row ${r} is not kept`);
    return i;
  });
}
