/**
 * GPT-2 (pre-LayerNorm blocks, gelu_new, causal attention scaled by 1/√d_head, tied unembedding) on the
 * engine, with the hook points of ./hooks.ts. Batches are right-padded; causal attention keeps padding from
 * touching real positions, and `lengths` says where each example's last real token is.
 */
import type { Engine } from '../engine/engine.js';
import * as ops from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';
import { DistinctNorms, projectDistinct } from './distinct-heads.js';
import { expandCopies, headOutputs, qkvProject } from './head-ops.js';
import { lastRows, type Batch } from './batch.js';
import { forwardInput, hiddenRecorder, hookPoints, sourceRecorder, tokenEmbeddings } from './forward-frame.js';
import { computedRows, keptLastRows, withKeptRows } from './row-subset.js';
import { attentionWatch, hookNames } from './hooks.js';
import { layoutOf, type GraphLayout } from './layout.js';
import type { AttentionQK, CausalLM, ForwardOptions, ForwardOutput } from './model.js';
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

/** [R, D] → [n, R, D] copies, for a gradient hook that expects one slice per head (the caller frees it). */
function repeatRows(g: Tensor, n: number): Tensor {
  const e = g.engine;
  const out = e.emptyDetached([n, ...g.shape]);
  ops.writeCopies(g, out.ptr, n);
  return out;
}

export class GPT2 implements CausalLM {
  readonly weights: WeightStore;
  readonly layout: GraphLayout;
  readonly family = 'gpt2';
  #gram: Tensor | null = null;

  constructor(
    readonly engine: Engine,
    readonly dims: GPT2Dims,
    src: WeightSource,
    opts: WeightStoreOptions = {},
  ) {
    this.weights = new WeightStore(engine, src, dims.nLayer, opts);
    this.layout = layoutOf({ nLayers: dims.nLayer, nHeads: dims.nHead });
  }

  get streamed(): boolean {
    return this.weights.streamed;
  }
  get residentLayerBytes(): number {
    return this.weights.residentLayerBytes;
  }

  embed(ids: Int32Array): Tensor {
    return ops.gatherRows(this.weights.wte, this.engine.fromArray(ids, [ids.length], 'i32'));
  }
  finalNorm(x: Tensor): Tensor {
    return ops.layerNorm(x, this.weights.lnfG, this.weights.lnfB, this.dims.layerNormEpsilon);
  }
  unembed(xNormed: Tensor): Tensor {
    return ops.linear(xNormed, this.weights.unembed, null, true);
  }
  /** W_Uᵀ W_U (GPT-2's unembedding has no bias), computed once. */
  unembedGram(): Tensor {
    if (!this.#gram) {
      const e = this.engine, W = this.weights.unembed, [V, D] = [W.shape[0]!, W.shape[1]!];
      this.#gram = e.emptyDetached([D, D]);
      e.kernels.gemm(true, false, D, D, V, 1, W.ptr, D, W.ptr, D, 0, this.#gram.ptr, D);
    }
    return this.#gram;
  }

  attentionQK(l: number, x: Tensor): AttentionQK {
    const e = this.engine, k = e.kernels, lw = this.weights.layer(l);
    const { dModel: D, nHead: H, layerNormEpsilon: eps } = this.dims, n = x.size / D;
    const y = e.empty([n, D]), st = e.empty([2, n]), W = this.weights.matrix(l, 'attn.c_attn.weight');
    k.layerNorm(x.ptr, lw.ln1g.ptr, lw.ln1b.ptr, y.ptr, st.ptr, st.ptr + 4 * n, n, D, eps);
    // c_attn's first 2D columns are the queries and keys
    const q = e.empty([n, D]), kk = e.empty([n, D]);
    k.gemm(false, false, n, D, D, 1, y.ptr, D, W.ptr, 3 * D, 0, q.ptr, D);
    k.gemm(false, false, n, D, D, 1, y.ptr, D, W.ptr + 4 * D, 3 * D, 0, kk.ptr, D);
    k.addRowVector(q.ptr, lw.attnB.ptr, q.ptr, n, D);
    k.addRowVector(kk.ptr, lw.attnB.ptr + 4 * D, kk.ptr, n, D);
    y.dispose();
    st.dispose();
    return { q, k: kk, scale: 1 / Math.sqrt(D / H), softcap: null, window: null };
  }

  get dMlp(): number {
    return 4 * this.dims.dModel;
  }
  readonly mlpOutNonlinear = null;
  /** c_proj is stored [F, D] (Conv1D): out = g·c_projᵀ. */
  mlpOutToHidden(l: number, g: number, out: number, R: number): void {
    const D = this.dims.dModel, F = this.dMlp, W = this.weights.matrix(l, 'mlp.c_proj.weight');
    this.engine.kernels.gemm(false, true, R, F, D, 1, g, D, W.ptr, D, 0, out, F);
  }

  /**
   * One forward pass. Inside `engine.record`, every op is taped: afterwards `tape.backward([[logits, dLoss/dlogits]])`
   * delivers gradients to `gradHooks` and returns the gradient of the embeddings.
   */
  forward(batch: Batch, opts: ForwardOptions = {}): ForwardOutput {
    const e = this.engine, w = this.weights;
    const { nLayer: L, nHead: H, dModel: D, layerNormEpsilon: eps } = this.dims;
    const { B, P } = batch;
    const input = forwardInput(batch, this.dims.vocabSize, this.dims.nPositions, 'n_positions');
    const hooks = opts.hooks ?? {};
    const gradHooks = opts.gradHooks ?? {};
    const tape = e.tape;
    // a subset of the rows (row-subset.ts): R counts the rows computed
    const sub = opts.rows, keep = sub?.keep;
    const { R, ids: tokenIds, pos, keepIdx } = computedRows(e, input, sub);
    const point = hookPoints(e, opts);
    const rec = opts.record;
    const recRow = R * D;
    const put = sourceRecorder(e, opts, R, D);
    const putHidden = hiddenRecorder(e, opts);

    // input: token embeddings (a hook point) plus position embeddings (no node)
    const embed = point(hookNames.embed, tokenEmbeddings(opts, R, D, () => ops.gatherRows(w.wte, e.fromArray(tokenIds, [R], 'i32'))), true);
    put(0, embed);
    const padRows = input.padRows ? e.fromArray(input.padRows, [input.R], 'i32') : null;
    let resid = ops.add(embed, ops.gatherRows(w.wpe, e.fromArray(pos, [R], 'i32')));

    for (let l = 0; l < L; l++) {
      // Without a tape nothing needs a layer's intermediates afterwards: free them as each layer ends, so a
      // forward pass holds one layer at a time (hooks must copy what they keep). With a tape, backward needs them.
      const layer = (): Tensor => {
        resid = point(hookNames.residPre(l), resid);
        const lw = w.layer(l);
        const attnW = () => w.matrix(l, 'attn.c_attn.weight');
        const projW = () => w.matrix(l, 'attn.c_proj.weight');
        // attention: per-head inputs only when a hook looks at them
        const slotNames = [hookNames.qInput(l), hookNames.kInput(l), hookNames.vInput(l)];
        let qkv: Tensor;
        const distinct = !tape && opts.headInputs ? opts.headInputs(l, resid) : null;
        if (distinct) {
          // patched runs: each distinct input normalised once, runs of heads sharing one projected together
          const norms = new DistinctNorms(resid, distinct, { kind: 'layer', g: lw.ln1g, b: lw.ln1b, eps, unitOffset: false });
          const W = attnW();
          qkv = e.empty([R, 3 * D]);
          for (const j of [0, 1, 2] as const) projectDistinct(norms, j, H, W, true, qkv, j * D, 3 * D);
          e.kernels.addRowVector(qkv.ptr, lw.attnB.ptr, qkv.ptr, R, 3 * D);
        } else if (slotNames.some((n) => hooks[n] || gradHooks[n])) {
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
        // attention over every row: those left out of a subset from the reference run
        const all = sub ? withKeptRows(sub.attn(l)[0]!, qkv, keep!, sub.copies) : qkv;
        opts.keepAttn?.(l, [all]);
        const watch = attentionWatch(l, hooks, gradHooks, !!tape);
        let z = padRows
          ? ops.gatherRows(ops.attention(ops.scatterRows(all, padRows, B * P), B, P, H, watch), padRows)
          : ops.attention(all, B, P, H, watch);
        if (keepIdx) z = ops.gatherRows(z, keepIdx);
        let attnOut: Tensor;
        const rn = hookNames.result(l);
        const firstHead = this.layout.head(l, 0);
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
        const hidden = point(hookNames.mlpPost(l), ops.gelu(ops.linear(ops.layerNorm(mlpIn, lw.ln2g, lw.ln2b, eps), () => w.matrix(l, 'mlp.c_fc.weight'), lw.fcB)));
        putHidden(l, hidden);
        const mlpOut = point(hookNames.mlpOut(l), ops.linear(hidden, () => w.matrix(l, 'mlp.c_proj.weight'), lw.outB));
        put(this.layout.mlp(l), mlpOut);
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
        x = ops.gatherRows(residFinal, e.fromArray(keep ? keptLastRows(batch, keep) : lastRows(batch), [B], 'i32'));
      }
      logits = ops.linear(ops.layerNorm(x, w.lnfG, w.lnfB, eps), w.unembed, null, true);
    }
    return { logits, residFinal };
  }

  dispose(): void {
    this.#gram?.dispose();
    this.weights.dispose();
  }
}
