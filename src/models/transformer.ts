/**
 * The forward pass of every family beyond GPT-2, from its FamilyBlock and ArchSpec, with the hook points of
 * ./hooks.ts (the same contract as ./gpt2.ts). It reads top to bottom:
 *   embed:     x = W_E[tok] · embedScale                                   (hook_embed: the graph's `input`)
 *   block(l):  a = Σ_h z_h·W_O,hᵀ + b_O,  z = attention(rope(q), rope(k), v), q/k/v from norm1(x) per head
 *              m = mlp(norm2(x + a))  — or norm2(x) when attention and MLP run in parallel (GPT-NeoX)
 *              Gemma 2 normalises a and m once more before adding them (post norms)
 *   unembed:   logits = cap(norm_f(x)·W_Uᵀ)
 * Hook semantics (TransformerLens'): q/k/v inputs are the stream before norm1, one copy per query head (k/v
 * ungrouped); hook_result is each head's output before any post norm; hook_mlp_out is the MLP's output as added to
 * the stream (after Gemma 2's post norm); hook_mlp_in is the stream before norm2.
 */
import type { Engine } from '../engine/engine.js';
import * as ops from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';
import type { FamilyBlock } from './arch/block.js';
import { invFrequencies, type ArchSpec } from './arch/spec.js';
import { FamilyWeights, type HalfWeightSource } from './arch-weights.js';
import { lastRows, type Batch } from './batch.js';
import { activate, attention, norm, rope, rotaryTable, softcap, type RotaryTable } from './family-ops.js';
import { DistinctNorms, projectDistinct, type HeadInputsHook } from './distinct-heads.js';
import { headProject, headResults, sharedNorm, type SharedNorm } from './family-heads.js';
import { expandCopies } from './head-ops.js';
import { forwardInput, hiddenRecorder, hookPoints, sourceRecorder, tokenEmbeddings } from './forward-frame.js';
import { computedRows, keptLastRows, withKeptRows, type KeepAttnHook, type RowSubset } from './row-subset.js';
import { attentionWatch, hookNames } from './hooks.js';
import { layoutOf, type GraphLayout } from './layout.js';
import type { AttentionQK, CausalLM, ForwardOptions, ForwardOutput, ModelDims } from './model.js';

export interface TransformerOptions {
  stream?: boolean;
  residentLimit?: number;
  onRead?: (bytes: number) => void;
}

/**
 * What a taped pass of this forward keeps per token and layer beyond GPT-2's fused block, in units of D: the MLP's
 * activations past GPT-2's (fc and GELU at 4·D: 8·D; (2 or 3)·d_mlp/D − 8 for wider or gated MLPs) and 12·D for the
 * separate q/k/v, their rotary and padded copies, z gathered back and the shared norm. Measured with EAP-IG 5 steps:
 * Qwen2.5-0.5B-shaped 113 MiB per 18-token example (estimate 133), Llama-3.2-1B-shaped 318 per 20-token example with
 * the one-off caches of a first run (estimate 314); micro.ts splits a slice that still runs out of memory.
 */
function extraActivations(s: ArchSpec): number {
  return Math.max(0, ((s.gated ? 3 : 2) * s.dMlp) / s.dModel - 8) + 12;
}

export class TransformerLM implements CausalLM {
  readonly weights: FamilyWeights;
  readonly layout: GraphLayout;
  readonly dims: ModelDims;
  readonly family: string;
  private readonly invFreq: Float64Array;
  #gram: Tensor | null = null;

  constructor(readonly engine: Engine, readonly spec: ArchSpec, block: FamilyBlock, src: HalfWeightSource, opts: TransformerOptions = {}) {
    this.weights = new FamilyWeights(engine, spec, block, src, opts);
    this.layout = layoutOf({ nLayers: spec.nLayer, nHeads: spec.nHead, parallelAttnMlp: spec.parallelAttnMlp });
    this.dims = {
      nLayer: spec.nLayer, nHead: spec.nHead, dModel: spec.dModel, nPositions: spec.nPositions, vocabSize: spec.vocabSize,
      extraActivations: extraActivations(spec),
    };
    this.family = spec.family;
    this.invFreq = invFrequencies(spec.rotaryDim, spec.ropeTheta, spec.ropeScaling);
  }

  get streamed(): boolean {
    return this.weights.streamed;
  }
  get residentLayerBytes(): number {
    return this.weights.residentLayerBytes;
  }

  embed(ids: Int32Array): Tensor {
    return this.weights.embed.gather(ids, this.spec.embedScale);
  }
  finalNorm(x: Tensor): Tensor {
    return norm(x, this.weights.finalNorm);
  }
  unembed(xNormed: Tensor): Tensor {
    const logits = this.weights.unembed.project(xNormed);
    return this.spec.finalSoftcap ? softcap(logits, this.spec.finalSoftcap) : logits;
  }
  unembedGram(): Tensor | null {
    if (this.spec.finalSoftcap) return null; // capped logits are not a quadratic form of the normed stream
    this.#gram ??= this.weights.unembed.gram();
    return this.#gram;
  }

  /** Layer l's sliding window (Gemma 2 alternates: HF's layer 0 is sliding), or null. */
  private attnWindow(l: number): number | null {
    const s = this.spec;
    return s.slidingWindow !== null && (s.slidingLayers === 'all' || l % 2 === 0) ? s.slidingWindow : null;
  }

  attentionQK(l: number, x: Tensor, pos: Int32Array): AttentionQK {
    const w = this.weights, s = this.spec, lw = w.layer(l), H = s.nHead;
    const shared = sharedNorm(x, lw.ln1), rot = rotaryTable(pos, this.invFreq);
    const project = (which: 'q' | 'k', bias: Tensor | null, groups: number, slot: 0 | 1) =>
      rope(headProject({ resid: x, perHead: null, norm: lw.ln1, shared, W: w.matrix(l, which), bias, H, groups, slot, onGrad: null }), rot, H);
    return { q: project('q', lw.qb, H, 0), k: project('k', lw.kb, s.nKvHead, 1), scale: s.attnScale, softcap: s.attnSoftcap, window: this.attnWindow(l) };
  }

  forward(batch: Batch, opts: ForwardOptions = {}): ForwardOutput {
    const e = this.engine, s = this.spec;
    const { nLayer: L, dModel: D } = this.dims;
    const { B, P } = batch;
    const input = forwardInput(batch, s.vocabSize, s.nPositions, 'max_position_embeddings');
    const hooks = opts.hooks ?? {};
    const gradHooks = opts.gradHooks ?? {};
    const tape = e.tape;
    // a subset of the rows (row-subset.ts): R counts the rows computed
    const sub = opts.rows, keep = sub?.keep;
    const { R, ids, pos, keepIdx } = computedRows(e, input, sub);
    const point = hookPoints(e, opts);
    const put = sourceRecorder(e, opts, R, D);
    const putHidden = hiddenRecorder(e, opts);

    const embed = point(hookNames.embed, tokenEmbeddings(opts, R, D, () => this.embed(ids)), true);
    put(0, embed);
    const rot = rotaryTable(pos, this.invFreq);
    const padRows = input.padRows ? e.fromArray(input.padRows, [input.R], 'i32') : null;
    let resid = ops.identity(embed);

    for (let l = 0; l < L; l++) {
      const layer = () => this.block(l, resid, { B, P, R, rot, padRows, point, put, putHidden, recording: !!opts.record, hooks, gradHooks, headInputs: opts.headInputs, sub, keepIdx, keepAttn: opts.keepAttn });
      resid = tape ? layer() : e.tidy(layer);
    }

    const residFinal = point(hookNames.residFinal, ops.identity(resid));
    const mode = opts.logits ?? 'last';
    let logits: Tensor | null = null;
    if (mode !== 'none') {
      const x = mode === 'last' ? ops.gatherRows(residFinal, e.fromArray(keep ? keptLastRows(batch, keep) : lastRows(batch), [B], 'i32')) : residFinal;
      logits = this.unembed(this.finalNorm(x));
    }
    return { logits, residFinal };
  }

  /** Layer l: the residual stream after it. */
  private block(
    l: number, resid: Tensor,
    c: {
      B: number; P: number; R: number; rot: RotaryTable; padRows: Tensor | null;
      point: (name: string, v: Tensor) => Tensor; put: (u: number, v: Tensor) => void; putHidden: (l: number, h: Tensor) => void; recording: boolean;
      hooks: NonNullable<ForwardOptions['hooks']>; gradHooks: NonNullable<ForwardOptions['gradHooks']>; headInputs?: HeadInputsHook;
      sub?: RowSubset; keepIdx: Tensor | null; keepAttn?: KeepAttnHook;
    },
  ): Tensor {
    resid = c.point(hookNames.residPre(l), resid);
    const e = this.engine, w = this.weights, s = this.spec, lw = w.layer(l), lay = this.layout;
    const H = s.nHead, tape = e.tape;
    // q, k, v per query head; each head's input its own copy of the stream only when a hook looks at it
    let shared: SharedNorm | undefined;
    // patched runs: each distinct input normalised once, runs of heads sharing one projected together
    const distinct = !tape && c.headInputs ? c.headInputs(l, resid) : null;
    const norms = distinct ? new DistinctNorms(resid, distinct, lw.ln1) : null;
    const slot = (name: string, which: 'q' | 'k' | 'v', bias: Tensor | null): Tensor => {
      const j = which === 'q' ? 0 : which === 'k' ? 1 : 2;
      if (norms) {
        const W = ops.deref(w.matrix(l, which)), out = e.empty([c.R, W.shape[0]!]);
        projectDistinct(norms, j, H, W, false, out, 0, W.shape[0]!);
        if (bias) e.kernels.addRowVector(out.ptr, bias.ptr, out.ptr, c.R, W.shape[0]!);
        return out;
      }
      const fh = c.hooks[name], gh = c.gradHooks[name];
      let perHead: Tensor | null = null;
      if (fh) {
        const X = expandCopies(resid, H);
        const r = fh(X, name);
        if (r && r.size !== X.size) throw new Error(`hook ${name} returned [${r.shape}] for a value of [${X.shape}]`);
        perHead = r ?? X;
      }
      const onGrad = gh && tape ? Object.assign((g: Tensor) => gh(g, name), { deferHeads: gh.deferHeads }) : null;
      if (!perHead) shared ??= sharedNorm(resid, lw.ln1);
      return headProject({ resid, perHead, norm: lw.ln1, shared, W: w.matrix(l, which), bias, H, groups: j === 0 ? H : s.nKvHead, slot: j, onGrad });
    };
    let q = slot(hookNames.qInput(l), 'q', lw.qb);
    let k = slot(hookNames.kInput(l), 'k', lw.kb);
    const v = slot(hookNames.vInput(l), 'v', lw.vb);
    q = rope(q, c.rot, H);
    k = rope(k, c.rot, H);
    const shape = { B: c.B, P: c.P, H, scale: s.attnScale, softcap: s.attnSoftcap, window: this.attnWindow(l) };
    const pad = (t: Tensor) => (c.padRows ? ops.scatterRows(t, c.padRows, c.B * c.P) : t);
    // attention over every row: those left out of a subset from the reference run
    const all = c.sub ? [q, k, v].map((t, i) => withKeptRows(c.sub!.attn(l)[i]!, t, c.sub!.keep, c.sub!.copies)) : [q, k, v];
    c.keepAttn?.(l, all);
    let z = attention(pad(all[0]!), pad(all[1]!), pad(all[2]!), shape, attentionWatch(l, c.hooks, c.gradHooks, !!tape));
    if (c.padRows) z = ops.gatherRows(z, c.padRows);
    if (c.keepIdx) z = ops.gatherRows(z, c.keepIdx);

    const rn = hookNames.result(l);
    let attnOut: Tensor;
    if (c.hooks[rn] || c.gradHooks[rn] || s.postNorms) {
      // per-head outputs when a hook or the recorder sees them before a post norm
      const heads = c.point(rn, headResults(z, w.matrix(l, 'o'), H));
      c.put(lay.head(l, 0), heads);
      attnOut = ops.sumFirst(heads);
      if (lw.ob) attnOut = ops.addRowVector(attnOut, lw.ob);
    } else {
      attnOut = ops.linear(z, w.matrix(l, 'o'), lw.ob, true);
      if (c.recording) c.put(lay.head(l, 0), headResults(z, w.matrix(l, 'o'), H));
    }
    if (lw.postAttn) attnOut = norm(attnOut, lw.postAttn);

    // MLP: its input is its own node (a copy of the stream), so its gradient is the MLP's alone
    const mid = s.parallelAttnMlp ? resid : ops.add(resid, attnOut);
    const mlpIn = c.point(hookNames.mlpIn(l), ops.identity(mid));
    let mlpOut = this.mlp(l, norm(mlpIn, lw.ln2), (h) => {
      h = c.point(hookNames.mlpPost(l), h);
      c.putHidden(l, h);
      return h;
    });
    if (lw.postMlp) mlpOut = norm(mlpOut, lw.postMlp);
    mlpOut = c.point(hookNames.mlpOut(l), mlpOut);
    c.put(lay.mlp(l), mlpOut);
    return s.parallelAttnMlp ? ops.add(ops.add(resid, attnOut), mlpOut) : ops.add(mid, mlpOut);
  }

  /** The MLP's output; `post` sees (and may replace) its hidden units, the output projection's input. */
  private mlp(l: number, x: Tensor, post: (h: Tensor) => Tensor): Tensor {
    const w = this.weights, s = this.spec, lw = w.layer(l);
    if (s.gated) {
      const h = post(activate(s.activation, ops.linear(x, w.matrix(l, 'gate'), null, true), ops.linear(x, w.matrix(l, 'up'), null, true)));
      return ops.linear(h, w.matrix(l, 'down'), null, true);
    }
    const h = post(activate(s.activation, ops.linear(x, w.matrix(l, 'fc'), lw.fcb, true)));
    return ops.linear(h, w.matrix(l, 'out'), lw.outb, true);
  }

  get dMlp(): number {
    return this.spec.dMlp;
  }
  get mlpOutNonlinear(): string | null {
    return this.spec.postNorms ? `${this.family}'s MLP output is normalised once more after the down projection (post_feedforward_layernorm), so it is not linear in the hidden units` : null;
  }
  /** down/out are stored [D, F] (out = h·Wᵀ): ĝ_h = g·W. */
  mlpOutToHidden(l: number, g: number, out: number, R: number): void {
    const s = this.spec, D = s.dModel, F = s.dMlp, W = ops.deref(this.weights.matrix(l, s.gated ? 'down' : 'out'));
    this.engine.kernels.gemm(false, false, R, F, D, 1, g, D, W.ptr, F, 0, out, F);
  }

  dispose(): void {
    this.#gram?.dispose();
    this.weights.dispose();
  }
}
