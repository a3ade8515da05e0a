/**
 * GPT-2 (pre-LayerNorm blocks, gelu_new, causal attention scaled by 1/√d_head, tied unembedding) on the
 * engine, with the hook points of ./hooks.ts. Batches are right-padded; causal attention keeps padding from
 * touching real positions, and `lengths` says where each example's last real token is.
 */
import type { Engine } from '../engine/engine.js';
import * as ops from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';
import { UserError } from '../util/errors.js';
import { expandCopies, headOutputs, qkvProject } from './head-ops.js';
import { hookNames, type ForwardHook, type GradHook } from './hooks.js';
import { WeightStore, type WeightSource, type WeightStoreOptions } from './weights.js';

/** The architecture numbers the forward pass needs. */
export interface GPT2Dims {
  nLayer: number;
  nHead: number;
  dModel: number;
  nPositions: number;
  vocabSize: number;
  layerNormEpsilon: number;
}

/**
 * Token ids of B examples. Rows are right-padded to P positions (B·P rows, example b at rows b·P…), or, when
 * `packed`, only the real tokens back to back (Σ lengths rows): the padding rows cost a forward and backward
 * pass but never touch a real position, so packed batches give the same values at real rows for less work.
 */
export interface Batch {
  B: number;
  /** The longest example (the padded width). */
  P: number;
  /** Token id of every row: [B·P] batch-major, or [Σ lengths] when packed. */
  ids: Int32Array;
  /** Real length of each example (≥ 1). */
  lengths: Int32Array;
  /** Rows hold only real tokens (see packBatch). */
  packed?: boolean;
}

/** Builds a right-padded batch from token sequences. */
export function makeBatch(seqs: readonly (readonly number[])[], padId = 50256): Batch {
  if (seqs.length === 0) throw new Error('makeBatch: no sequences');
  const B = seqs.length;
  const P = Math.max(...seqs.map((s) => s.length));
  const ids = new Int32Array(B * P).fill(padId);
  const lengths = new Int32Array(B);
  seqs.forEach((s, b) => {
    if (s.length === 0) throw new Error(`makeBatch: example ${b} is empty`);
    ids.set(s, b * P);
    lengths[b] = s.length;
  });
  return { B, P, ids, lengths };
}

/** First row of each example, and the row count at the end: [B + 1]. */
export function rowStarts(b: Batch): Int32Array {
  const s = new Int32Array(b.B + 1);
  for (let i = 0; i < b.B; i++) s[i + 1] = s[i]! + (b.packed ? b.lengths[i]! : b.P);
  return s;
}

/** The row of each example's last real token: [B]. */
export function lastRows(b: Batch): Int32Array {
  const s = rowStarts(b);
  return Int32Array.from({ length: b.B }, (_, i) => s[i]! + b.lengths[i]! - 1);
}

/** The same examples without padding rows (a packed batch is returned as is). */
export function packBatch(b: Batch): Batch {
  if (b.packed) return b;
  const ids = new Int32Array(b.lengths.reduce((a, n) => a + n, 0));
  for (let i = 0, r = 0; i < b.B; r += b.lengths[i]!, i++) ids.set(b.ids.subarray(i * b.P, i * b.P + b.lengths[i]!), r);
  return { B: b.B, P: b.P, ids, lengths: b.lengths, packed: true };
}

/**
 * Source activations written during a forward pass into buf [nSrc, R, D] (R = the batch's rows) (the graph's forward order: token
 * embedding, then per layer the H head outputs and the MLP output): buf[u] = out_u when `write`, else
 * buf[u] += alpha·out_u. Head outputs go straight from z into buf, so the residual stream keeps the fused product.
 */
export interface SourceRecord {
  buf: Tensor;
  alpha: number;
  write: boolean;
}

export interface ForwardOptions {
  /** [R, D] (R = the batch's rows): replaces the token embeddings (the value at hook_embed), e.g. for points on a path. */
  embeds?: Tensor;
  /** Record every source's output (after its hook) into a buffer. */
  record?: SourceRecord;
  hooks?: Readonly<Partial<Record<string, ForwardHook>>>;
  gradHooks?: Readonly<Partial<Record<string, GradHook>>>;
  /** Which logits to compute: at each example's last real position [B, V] (default), at every row [R, V], or none. */
  logits?: 'last' | 'all' | 'none';
}

export interface ForwardOutput {
  logits: Tensor | null;
  /** The residual stream before ln_f [R, D]. */
  residFinal: Tensor;
}

/** [R, D] → [n, R, D] copies, for a gradient hook that expects one slice per head (the caller frees it). */
function repeatRows(g: Tensor, n: number): Tensor {
  const e = g.engine;
  const out = e.emptyDetached([n, ...g.shape]);
  ops.writeCopies(g, out.ptr, n);
  return out;
}

export class GPT2 {
  readonly weights: WeightStore;

  constructor(
    readonly engine: Engine,
    readonly dims: GPT2Dims,
    src: WeightSource,
    opts: WeightStoreOptions = {},
  ) {
    this.weights = new WeightStore(engine, src, dims.nLayer, opts);
  }

  /**
   * One forward pass. Inside `engine.record`, every op is taped: afterwards `tape.backward([[logits, dLoss/dlogits]])`
   * delivers gradients to `gradHooks` and returns the gradient of the embeddings.
   */
  forward(batch: Batch, opts: ForwardOptions = {}): ForwardOutput {
    const e = this.engine, w = this.weights;
    const { nLayer: L, nHead: H, dModel: D, layerNormEpsilon: eps } = this.dims;
    const { B, P } = batch;
    const R = batch.ids.length;
    const starts = rowStarts(batch);
    if (R !== starts[B]) throw new Error(`batch has ${R} token ids for ${starts[B]} rows`);
    if (P > this.dims.nPositions) {
      throw new UserError(
        `the input has ${P} tokens but the model takes at most n_positions = ${this.dims.nPositions}; shorten the prompt`,
      );
    }
    for (let i = 0; i < batch.ids.length; i++) {
      const t = batch.ids[i]!;
      if (t < 0 || t >= this.dims.vocabSize) {
        const ex = starts.findIndex((x) => x > i) - 1;
        throw new UserError(`token id ${t} (example ${ex}, position ${i - starts[ex]!}) is outside the vocabulary of ${this.dims.vocabSize}`);
      }
    }
    const hooks = opts.hooks ?? {};
    const gradHooks = opts.gradHooks ?? {};
    const tape = e.tape;
    const point = (name: string, value: Tensor, leaf = false): Tensor => {
      let v = value;
      const fh = hooks[name];
      if (fh) {
        const r = fh(v, name);
        if (r) {
          if (r.size !== v.size) throw new Error(`hook ${name} returned [${r.shape}] for a value of [${v.shape}]`);
          v = r;
        }
      }
      // the embeddings are where gradients start: a leaf that requires one whenever a tape records
      if (leaf && tape && !v.requiresGrad) v.requireGrad();
      const gh = gradHooks[name];
      if (gh && tape && v.requiresGrad) tape.watch(v, (g) => gh(g, name));
      return v;
    };

    // input: token embeddings (a hook point) plus position embeddings (no node)
    const ids = e.fromArray(batch.ids, [R], 'i32');
    let embed: Tensor;
    if (opts.embeds) {
      if (opts.embeds.size !== R * D) throw new Error(`embeds must be [${R}, ${D}], got [${opts.embeds.shape}]`);
      embed = opts.embeds;
    } else {
      embed = ops.gatherRows(w.wte, ids);
    }
    embed = point(hookNames.embed, embed, true);
    const rec = opts.record;
    const recRow = R * D;
    const put = (u: number, v: Tensor) => {
      if (!rec) return;
      const dst = rec.buf.ptr + 4 * u * recRow;
      if (rec.write) e.kernels.scale(v.ptr, rec.alpha, dst, v.size);
      else e.kernels.axpy(rec.alpha, v.ptr, dst, v.size);
    };
    put(0, embed);
    const pos = new Int32Array(R);
    for (let b = 0; b < B; b++) for (let r = starts[b]!; r < starts[b + 1]!; r++) pos[r] = r - starts[b]!;
    // packed rows go through attention in the padded layout (row b·P + p), the only op that mixes rows
    let padRows: Tensor | null = null;
    if (batch.packed) {
      const m = new Int32Array(R);
      for (let b = 0; b < B; b++) for (let r = starts[b]!; r < starts[b + 1]!; r++) m[r] = b * P + pos[r]!;
      padRows = e.fromArray(m, [R], 'i32');
    }
    let resid = ops.add(embed, ops.gatherRows(w.wpe, e.fromArray(pos, [R], 'i32')));

    for (let l = 0; l < L; l++) {
      // Without a tape nothing needs a layer's intermediates afterwards: free them as each layer ends, so a
      // forward pass holds one layer at a time (hooks must copy what they keep). With a tape, backward needs them.
      const layer = (): Tensor => {
        const lw = w.layer(l);
        const attnW = () => w.matrix(l, 'attn.c_attn.weight');
        const projW = () => w.matrix(l, 'attn.c_proj.weight');
        // attention: per-head inputs only when a hook looks at them
        const slotNames = [hookNames.qInput(l), hookNames.kInput(l), hookNames.vInput(l)];
        let qkv: Tensor;
        if (slotNames.some((n) => hooks[n] || gradHooks[n])) {
          const perHead = slotNames.map((n) => {
            if (!hooks[n]) return null;
            const X = expandCopies(resid, H);
            const r = hooks[n]!(X, n);
            if (r && r.size !== X.size) throw new Error(`hook ${n} returned [${r.shape}] for a value of [${X.shape}]`);
            return r ?? X;
          });
          const onGrad = slotNames.map((n) => {
            const gh = gradHooks[n];
            return gh && tape ? Object.assign((g: Tensor) => gh(g, n), { deferHeads: gh.deferHeads }) : null;
          });
          qkv = qkvProject({ resid, perHead, lnG: lw.ln1g, lnB: lw.ln1b, eps, W: attnW, b: lw.attnB, H, onGrad });
        } else {
          qkv = ops.linear(ops.layerNorm(resid, lw.ln1g, lw.ln1b, eps), attnW, lw.attnB);
        }
        const z = padRows
          ? ops.gatherRows(ops.attention(ops.scatterRows(qkv, padRows, B * P), B, P, H), padRows)
          : ops.attention(qkv, B, P, H);
        let attnOut: Tensor;
        const rn = hookNames.result(l);
        const firstHead = 1 + l * (H + 1);
        if (hooks[rn]) {
          const heads = point(rn, headOutputs(z, projW, H));
          put(firstHead, heads);
          attnOut = ops.addRowVector(ops.sumFirst(heads), lw.projB);
        } else {
          attnOut = ops.linear(z, projW, lw.projB);
          if (rec) {
            // head h's output z_h·W_O,h, written (or added) straight into the record buffer
            const W = w.matrix(l, 'attn.c_proj.weight'), dh = D / H;
            e.kernels.gemmBatched(false, false, R, D, dh, rec.alpha, z.ptr, D, dh, W.ptr, D, dh * D, rec.write ? 0 : 1, rec.buf.ptr + 4 * firstHead * recRow, D, recRow, H);
          }
          const gh = gradHooks[rn];
          // every head's output enters the residual stream additively, so each one's gradient is attnOut's
          if (gh && tape && attnOut.requiresGrad) {
            tape.watch(attnOut, (g) => {
              const perHead = repeatRows(g, H);
              try {
                gh(perHead, rn);
              } finally {
                perHead.dispose();
              }
            });
          }
        }
        resid = ops.add(resid, attnOut);
        // MLP: its input is its own node (a copy of the residual stream), so its gradient is the MLP's alone
        const mlpIn = point(hookNames.mlpIn(l), ops.identity(resid));
        const hidden = ops.gelu(ops.linear(ops.layerNorm(mlpIn, lw.ln2g, lw.ln2b, eps), () => w.matrix(l, 'mlp.c_fc.weight'), lw.fcB));
        const mlpOut = point(hookNames.mlpOut(l), ops.linear(hidden, () => w.matrix(l, 'mlp.c_proj.weight'), lw.outB));
        put(firstHead + H, mlpOut);
        return ops.add(resid, mlpOut);
      };
      resid = tape ? layer() : e.tidy(layer);
    }

    const residFinal = point(hookNames.residFinal, ops.identity(resid));
    const mode = opts.logits ?? 'last';
    let logits: Tensor | null = null;
    if (mode !== 'none') {
      let x = residFinal;
      if (mode === 'last') {
        x = ops.gatherRows(residFinal, e.fromArray(lastRows(batch), [B], 'i32'));
      }
      logits = ops.linear(ops.layerNorm(x, w.lnfG, w.lnfB, eps), w.unembed, null, true);
    }
    return { logits, residFinal };
  }

  dispose(): void {
    this.weights.dispose();
  }
}
