/**
 * What every family's forward pass sets up before its first layer, in one place: the input checked and laid out
 * (token ids, positions, where packed rows sit in the padded layout), the hook points, and the source recorder.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { UserError } from '../util/errors.js';
import { rowStarts, type Batch } from './batch.js';
import type { ForwardOptions } from './model.js';

export interface ForwardInput {
  /** Rows R (B·P, or Σ lengths when packed). */
  R: number;
  starts: Int32Array;
  /** Token id per row; padding rows read id 0 (they never reach a real position, and a pad id of another tokenizer need not exist here). */
  ids: Int32Array;
  /** Position of every row within its example. */
  pos: Int32Array;
  /** For a packed batch, each row's index in the padded layout b·P + position (attention is the only op that mixes rows). */
  padRows: Int32Array | null;
}

/** Checks a batch against the model's vocabulary and context (`contextKey` names the config key in messages). */
export function forwardInput(batch: Batch, vocabSize: number, nPositions: number, contextKey: string): ForwardInput {
  const { B, P } = batch;
  const R = batch.ids.length;
  const starts = rowStarts(batch);
  if (R !== starts[B]) throw new Error(`batch has ${R} token ids for ${starts[B]} rows`);
  if (P > nPositions) throw new UserError(`the input has ${P} tokens but the model takes at most ${contextKey} = ${nPositions}; shorten the prompt`);
  const ids = new Int32Array(R), pos = new Int32Array(R);
  const padRows = batch.packed ? new Int32Array(R) : null;
  for (let b = 0; b < B; b++) {
    for (let r = starts[b]!; r < starts[b + 1]!; r++) {
      const p = (pos[r] = r - starts[b]!);
      if (padRows) padRows[r] = b * P + p;
      if (p >= batch.lengths[b]!) continue;
      const t = batch.ids[r]!;
      if (t < 0 || t >= vocabSize) throw new UserError(`token id ${t} (example ${b}, position ${p}) is outside the vocabulary of ${vocabSize}`);
      ids[r] = t;
    }
  }
  return { R, starts, ids, pos, padRows };
}

/**
 * A hook point: the forward hook may replace the value (same size), the gradient hook watches it. `leaf` marks
 * the embeddings, where gradients start: a leaf that requires one whenever a tape records.
 */
export function hookPoints(e: Engine, opts: ForwardOptions): (name: string, value: Tensor, leaf?: boolean) => Tensor {
  const hooks = opts.hooks ?? {}, gradHooks = opts.gradHooks ?? {}, tape = e.tape;
  return (name, value, leaf = false) => {
    let v = value;
    const fh = hooks[name];
    if (fh) {
      const r = fh(v, name);
      if (r) {
        if (r.size !== v.size) throw new Error(`hook ${name} returned [${r.shape}] for a value of [${v.shape}]`);
        v = r;
      }
    }
    if (leaf && tape && !v.requiresGrad) v.requireGrad();
    const gh = gradHooks[name];
    if (gh && tape && v.requiresGrad) tape.watch(v, (g) => gh(g, name));
    return v;
  };
}

/** Writes (or adds) alpha·v into the record buffer at source u (a no-op without a record). */
export function sourceRecorder(e: Engine, opts: ForwardOptions, R: number, D: number): (u: number, v: Tensor) => void {
  const rec = opts.record;
  return (u, v) => {
    if (!rec) return;
    const dst = rec.buf.ptr + 4 * u * R * D;
    if (rec.write) e.kernels.scale(v.ptr, rec.alpha, dst, v.size);
    else e.kernels.axpy(rec.alpha, v.ptr, dst, v.size);
  };
}

/** The token embeddings: `opts.embeds` when given (checked to be [R, D]), else gathered. */
export function tokenEmbeddings(opts: ForwardOptions, R: number, D: number, gather: () => Tensor): Tensor {
  if (!opts.embeds) return gather();
  if (opts.embeds.size !== R * D) throw new Error(`embeds must be [${R}, ${D}], got [${opts.embeds.shape}]`);
  return opts.embeds;
}

/** Writes (or adds) alpha·h into the record's hidden buffer at layer l (a no-op without one). */
export function hiddenRecorder(e: Engine, opts: ForwardOptions): (l: number, h: Tensor) => void {
  const rec = opts.record, buf = rec?.hidden;
  return (l, h) => {
    if (!rec || !buf) return;
    const dst = buf.ptr + 4 * l * h.size;
    if (rec.write) e.kernels.scale(h.ptr, rec.alpha, dst, h.size);
    else e.kernels.axpy(rec.alpha, h.ptr, dst, h.size);
  };
}
