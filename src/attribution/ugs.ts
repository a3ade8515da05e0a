/**
 * UGS, uniform gradient sampling (Li & Janson 2024, "Optimal ablation for interpretability"), as the MIB circuit
 * track runs it (Mueller et al. 2025, arXiv 2504.13151; MIB's UGS baseline script over Li & Janson's
 * EdgeMaskUnifSampler): one logit θ_e per edge, p_e = σ(θ_e), learned by sampling soft masks
 *   m_e = 1 − clamp((U − p_e)/w_e + 1/2, 0, 1),   U ~ Uniform(0, 1) per edge, example and sample,   w_e = p_e(1 − p_e)
 * (E[m_e] = p_e; m_e is 0 or 1 outside a window of width w_e around p_e), and minimising
 *   J(θ) = Σ_samples Σ_examples KL(p_clean ‖ p_pruned(m)) + λ·Σ_e p_e + ν·Σ_heads tanh(2·(in + out)/(L·H))
 * with the pruned model of masked-run.ts (a removed edge carries the corrupted run: MIB's "cf" ablation), in, out
 * the sums of p over a head's incoming and outgoing edges, ν = min(λ/2, 2e-4). The gradient is MIB's estimator:
 * ∂J/∂θ_e = Σ ∂KL/∂m_e · σ'(θ_e) over the samples whose U falls in e's window (the sampler's "scale invariance":
 * the window is a constant and m moves one for one with p), plus the regularisers' exact gradients. Per batch, one
 * AdamW step (β = (0.9, 0.995), no weight decay) after clipping each edge group's gradient (by source: heads, or
 * input and MLPs; by destination: q/k/v, or MLP and logits) to norm 5. MIB's defaults: θ₀ = 1, 12 samples per
 * example, λ = 1e-3 (its script's default; it submitted λ = 1e-2 … 1e-7 as separate graphs) and its learning
 * rate for the cf ablation, (0.15, 0.1 or 0.05 for λ ≤ 1e-4, ≤ 5e-4, above)/5; one pass over the data (MIB: 9,500
 * IOI prompts in batches of 5) — --ugs-epochs repeats it for small data sets. The scores are p_e = σ(θ_e) (MIB's
 * graph.json), so every score is in (0, 1). Not copied: the sampler's filter of dangling edges (a sampled
 * mask's edges whose nodes lose every path to the input or the logits) and its dynamic window (off in MIB's runs).
 * Deterministic: the uniforms come from --ugs-seed, in a fixed order.
 */
import type { CausalLM } from '../models/model.js';
import { Rng } from '../models/random.js';
import { maskedBatch, maskedPass, type MaskedBatch } from './masked-run.js';
import { intOption, numberOption, type MethodOption } from './method-spec.js';
import { recordSources } from './sources.js';
import type { CleanContext, Learner, Method, ResolvedOptions } from './types.js';

/** A number option that may also be `mib`: a default MIB derives from λ. */
function numberOrMib(o: Pick<MethodOption, 'key' | 'flag' | 'variantKey' | 'meta' | 'help'> & { min: number }): MethodOption<number | 'mib'> {
  const valid = (v: unknown): v is number | 'mib' => v === 'mib' || (typeof v === 'number' && Number.isFinite(v) && v >= o.min);
  return {
    ...o, metavar: 'X|mib', default: 'mib', expects: `a number >= ${o.min} or mib`, valid,
    parse: (t) => (t === 'mib' ? 'mib' : t.trim() !== '' && valid(Number(t)) ? Number(t) : undefined),
  };
}

export const UGS_LAMBDA = numberOption({
  key: 'ugsLambda', flag: 'ugs-lambda', variantKey: 'lambda', metavar: 'L', meta: 'ugs_lambda', default: 1e-3, min: 0,
  help: 'UGS sparsity weight λ on Σ σ(θ)',
});
export const UGS_LR = numberOrMib({
  key: 'ugsLr', flag: 'ugs-lr', variantKey: 'lr', meta: 'ugs_lr', min: 0,
  help: "UGS AdamW learning rate (mib: MIB's schedule from λ for the cf ablation)",
});
export const UGS_NODE_REG = numberOrMib({
  key: 'ugsNodeReg', flag: 'ugs-node-reg', variantKey: 'node-reg', meta: 'ugs_node_reg', min: 0,
  help: 'UGS weight ν of the per-head node penalty (mib: min(λ/2, 2e-4))',
});
export const UGS_SAMPLES = intOption({
  key: 'ugsSamples', flag: 'ugs-samples', variantKey: 'samples', metavar: 'S', meta: 'ugs_samples', default: 12, min: 1,
  help: 'UGS mask samples per example and step',
});
export const UGS_INIT = numberOption({
  key: 'ugsInit', flag: 'ugs-init', variantKey: 'init', metavar: 'T', meta: 'ugs_init', default: 1, min: -20,
  help: 'UGS initial edge logit θ₀',
});
export const UGS_EPOCHS = intOption({
  key: 'ugsEpochs', flag: 'ugs-epochs', variantKey: 'epochs', metavar: 'N', meta: 'ugs_epochs', default: 1, min: 1,
  help: 'UGS passes over the batches (MIB: 1)',
});
export const UGS_SEED = intOption({
  key: 'ugsSeed', flag: 'ugs-seed', variantKey: 'seed', metavar: 'S', meta: 'ugs_seed', default: 0, min: 0,
  help: "seed of UGS's mask samples",
});

/** UGS's settings, resolved (the `mib` defaults computed). */
export interface UgsSettings {
  lambda: number;
  lr: number;
  nodeReg: number;
  samples: number;
  init: number;
  epochs: number;
  seed: number;
}

const CLIP = 5, BETA1 = 0.9, BETA2 = 0.995, EPS = 1e-8;

export function ugsSettings(o: ResolvedOptions): UgsSettings {
  const r = o as ResolvedOptions & { ugsLambda: number; ugsLr: number | 'mib'; ugsNodeReg: number | 'mib'; ugsSamples: number; ugsInit: number; ugsEpochs: number; ugsSeed: number };
  const lambda = r.ugsLambda;
  const lr = r.ugsLr === 'mib' ? (lambda <= 1e-4 ? 0.15 : lambda <= 5e-4 ? 0.1 : 0.05) / 5 : r.ugsLr;
  const nodeReg = r.ugsNodeReg === 'mib' ? Math.min(0.5 * lambda, 2e-4) : r.ugsNodeReg;
  return { lambda, lr, nodeReg, samples: r.ugsSamples, init: r.ugsInit, epochs: r.ugsEpochs, seed: r.ugsSeed };
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** The graph's edges as flat indices u·nDst + v, and each one's clipping group and the heads it touches. */
export interface EdgeSet {
  flat: Int32Array;
  group: Uint8Array;
  /** Per edge: the head (l·H + h) it leaves and the one it enters, or −1. */
  fromHead: Int32Array;
  toHead: Int32Array;
}

export function edgeSet(model: CausalLM): EdgeSet {
  const layout = model.layout, { nSrc, nDst } = layout, { nLayer: L, nHead: H } = model.dims;
  const headOf = new Int32Array(nSrc).fill(-1);
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) headOf[layout.head(l, h)] = l * H + h;
  const dstHead = new Int32Array(nDst).fill(-1);
  for (let l = 0; l < L; l++) for (let c = 0; c < 3 * H; c++) dstHead[layout.firstSlot(l) + c] = l * H + (c % H);
  const flat: number[] = [], group: number[] = [], from: number[] = [], to: number[] = [];
  for (let v = 0; v < nDst; v++) {
    for (let u = 0; u < layout.parentCount(v); u++) {
      flat.push(u * nDst + v);
      from.push(headOf[u]!);
      to.push(dstHead[v]!);
      group.push((headOf[u]! >= 0 ? 2 : 0) + (dstHead[v]! >= 0 ? 1 : 0));
    }
  }
  return { flat: Int32Array.from(flat), group: Uint8Array.from(group), fromHead: Int32Array.from(from), toHead: Int32Array.from(to) };
}

/** The regularisers λ·Σ p + ν·Σ_heads tanh(2·(in + out)/(L·H)) and their gradient in θ (added into grad). */
export function regulariser(theta: Float64Array, es: EdgeSet, s: Pick<UgsSettings, 'lambda' | 'nodeReg'>, heads: number, grad: Float64Array): number {
  const n = es.flat.length, load = new Float64Array(heads);
  let J = 0;
  for (let i = 0; i < n; i++) {
    const p = sigmoid(theta[i]!);
    J += s.lambda * p;
    if (es.fromHead[i]! >= 0) load[es.fromHead[i]!]! += p;
    if (es.toHead[i]! >= 0) load[es.toHead[i]!]! += p;
  }
  const dNode = new Float64Array(heads);
  for (let h = 0; h < heads; h++) {
    const t = Math.tanh((2 * load[h]!) / heads);
    J += s.nodeReg * t;
    dNode[h] = (s.nodeReg * (1 - t * t) * 2) / heads;
  }
  for (let i = 0; i < n; i++) {
    const p = sigmoid(theta[i]!);
    let d = s.lambda;
    if (es.fromHead[i]! >= 0) d += dNode[es.fromHead[i]!]!;
    if (es.toHead[i]! >= 0) d += dNode[es.toHead[i]!]!;
    grad[i]! += d * p * (1 - p);
  }
  return J;
}

/**
 * Sampled masks for one sample of every edge and example [nSrc·nDst·B] from `rng` (edges in order, then
 * examples), and per (edge, example) whether U fell in the window (the estimator's gradient passes there).
 */
export function sampleMasks(theta: Float64Array, es: EdgeSet, B: number, size: number, rng: Rng): { m: Float32Array; inWindow: Uint8Array } {
  const m = new Float32Array(size).fill(1), inWindow = new Uint8Array(es.flat.length * B);
  for (let i = 0; i < es.flat.length; i++) {
    const p = sigmoid(theta[i]!), w = p * (1 - p);
    for (let b = 0; b < B; b++) {
      const t = (rng.uniform() - p) / w + 0.5;
      m[es.flat[i]! * B + b] = 1 - Math.min(1, Math.max(0, t));
      inWindow[i * B + b] = t >= 0 && t <= 1 ? 1 : 0;
    }
  }
  return { m, inWindow };
}

/** UGS's learned state over one run: θ, AdamW's moments, the RNG and (for more epochs) the batches seen. */
class UgsLearner implements Learner {
  readonly es: EdgeSet;
  readonly theta: Float64Array;
  private readonly m1: Float64Array;
  private readonly m2: Float64Array;
  private t = 0;
  private readonly rng: Rng;
  private readonly seen: CleanContext[] = [];

  constructor(private readonly model: CausalLM, readonly s: UgsSettings) {
    this.es = edgeSet(model);
    const n = this.es.flat.length;
    this.theta = new Float64Array(n).fill(s.init);
    this.m1 = new Float64Array(n);
    this.m2 = new Float64Array(n);
    this.rng = new Rng(s.seed);
  }

  step(ctx: CleanContext): void {
    if (this.s.epochs > 1) this.seen.push({ ...ctx, sums: new Float64Array(0) });
    this.update(ctx);
  }

  /** One AdamW step on one batch. */
  private update(ctx: CleanContext): void {
    const { e } = ctx, model = this.model, es = this.es, n = es.flat.length;
    e.tidy(() => {
      const mb = maskedBatch(e, model, ctx.batch, (buf) => void recordSources(e, model, ctx.batch.corrupted, buf, 1));
      const grad = ugsGradient(e, model, mb, this.theta, es, this.s, this.rng);
      clipGroups(grad, es.group, CLIP);
      this.t++;
      const c1 = 1 - BETA1 ** this.t, c2 = 1 - BETA2 ** this.t;
      for (let i = 0; i < n; i++) {
        const g = grad[i]!;
        this.m1[i] = BETA1 * this.m1[i]! + (1 - BETA1) * g;
        this.m2[i] = BETA2 * this.m2[i]! + (1 - BETA2) * g * g;
        this.theta[i]! -= (this.s.lr * (this.m1[i]! / c1)) / (Math.sqrt(this.m2[i]! / c2) + EPS);
      }
    });
  }

  scores(): Float64Array {
    for (let k = 1; k < this.s.epochs; k++) for (const ctx of this.seen) this.update(ctx);
    const { nSrc, nDst } = this.model.layout, out = new Float64Array(nSrc * nDst);
    this.es.flat.forEach((f, i) => (out[f] = sigmoid(this.theta[i]!)));
    return out;
  }
}

/**
 * MIB's estimate of ∂J/∂θ on one batch: `samples` masked passes at masks drawn from `rng`, ∂KL/∂m times σ'(θ) where
 * U fell in the window, plus the regularisers' gradient; non-finite entries become 0 (as MIB's gradient hook does).
 */
export function ugsGradient(e: CleanContext['e'], model: CausalLM, mb: MaskedBatch, theta: Float64Array, es: EdgeSet, s: UgsSettings, rng: Rng): Float64Array {
  const n = es.flat.length, B = mb.batch.clean.B, { nSrc, nDst } = model.layout, { nLayer: L, nHead: H } = model.dims;
  const grad = new Float64Array(n);
  for (let k = 0; k < s.samples; k++) {
    const { m, inWindow } = sampleMasks(theta, es, B, nSrc * nDst * B, rng);
    const { gradMask } = maskedPass(e, model, mb, m);
    for (let i = 0; i < n; i++) {
      const p = sigmoid(theta[i]!), f = es.flat[i]! * B;
      let g = 0;
      for (let b = 0; b < B; b++) if (inWindow[i * B + b]) g += gradMask[f + b]!;
      grad[i]! += g * p * (1 - p);
    }
  }
  regulariser(theta, es, s, L * H, grad);
  for (let i = 0; i < n; i++) if (!Number.isFinite(grad[i]!)) grad[i] = 0;
  return grad;
}

/** torch's clip_grad_norm_ per group: a group whose norm exceeds `max` is scaled by max/(norm + 1e-6). */
function clipGroups(grad: Float64Array, group: Uint8Array, max: number): void {
  const sq = new Float64Array(4);
  grad.forEach((g, i) => (sq[group[i]!]! += g * g));
  const scale = Array.from(sq, (x) => Math.min(1, max / (Math.sqrt(x) + 1e-6)));
  grad.forEach((g, i) => (grad[i] = g * scale[group[i]!]!));
}

export const ugs: Method = {
  name: 'ugs',
  kind: 'gradient',
  summary: "uniform gradient sampling (Li & Janson; MIB's baseline): per-edge mask logits learned against the KL to the clean run; scores σ(θ)",
  options: [UGS_LAMBDA, UGS_LR, UGS_NODE_REG, UGS_SAMPLES, UGS_INIT, UGS_EPOCHS, UGS_SEED],
  color: '#65a30d',
  validateVariants: [''],
  points: () => 1,
  edgesOnly: 'its scores are learned edge-mask logits',
  needsWholeBatch: () => ({ what: 'UGS (one optimiser step per batch)', instead: 'use a smaller --batch-size' }),
  learn: (model, opts) => new UgsLearner(model, ugsSettings(opts)),
};
