/**
 * Exact patching under an ablation (a removed edge carries 0, the dataset mean or the per-position mean instead
 * of the corrupted run), the ground truth `validate --intervention` compares ablated variants with:
 *   - on every kernel path, exact patching's circuits with every edge give the clean metric and with none the
 *     fully ablated model (every source output replaced through the forward hooks), and every edge's exact score
 *     equals loss(without it) − loss(with all) from the plain definition: the destination's input plus ã_u − a*_u,
 *     with ã written here (0, or the means of sourceMeans, which ablation.test.ts checks against its own);
 *   - to first order it is EAP under the same ablation (times the batch size, EAP-IG's 1/B of a batch-mean loss):
 *     on a model whose source outputs are scaled by ε (so every Δ = ã − a is O(ε)) the two differ by O(ε)
 *     relative, and the difference shrinks with ε.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { attribute } from '../src/attribution/attribute.js';
import { exactCircuits, exactScores } from '../src/attribution/exact.js';
import { packPair } from '../src/attribution/micro.js';
import type { PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import { baselines, evaluateCircuits } from '../src/evaluation/evaluate.js';
import { sourceMeans, usesMeans, type Intervention, type SourceMeans } from '../src/evaluation/means.js';
import type { MetricFn, MissingEdges } from '../src/evaluation/patching.js';
import { Graph } from '../src/graph/index.js';
import { rowStarts } from '../src/models/batch.js';
import { hookNames, type ForwardHook } from '../src/models/hooks.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import type { CausalLM } from '../src/models/model.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../src/models/safetensors.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { fixtureCsv } from './helpers/data.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';
import { patchedLogitsByHooks } from './helpers/patched-by-hooks.js';

const ABLATIONS = ['zero', 'mean', 'mean-positional'] as const;
type Ablation = (typeof ABLATIONS)[number];
const task = getTask('ioi');
const metric: MetricFn = (l, B, V, y) => task.metric(l, B, V, y as Label[]);
const loss = (l: Float32Array, B: number, V: number, y: unknown[]) => lossGrad(task, l, B, V, y as Label[]);
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-exact-ablation-'));
const plain = join(tmp, 'plain');
const scaled = (eps: number): string => join(tmp, `eps-${eps}`);
const EPS = [0.02, 0.005];

/** Multiplies every source output by eps: the token embeddings and each block's writes into the residual stream. */
function scaleSources(dir: string, eps: number): void {
  const path = join(dir, 'model.safetensors');
  const f = openSafetensors(path);
  const out: Record<string, TensorToWrite> = {};
  for (const name of f.names) {
    const x = f.readF32(name);
    if (name === 'wte.weight' || /^h\.\d+\.(attn|mlp)\.c_proj\.(weight|bias)$/.test(name)) x.forEach((v, i) => (x[i] = v * eps));
    out[name] = { dtype: 'F32', shape: f.info(name).shape, data: x };
  }
  f.close();
  writeSafetensors(path, out);
}

before(() => {
  const opts = { layers: 2, heads: 2, dModel: 32, seed: 11, initStd: 0.2 };
  makeRandomModel(opts, plain);
  for (const eps of EPS) {
    makeRandomModel(opts, scaled(eps));
    scaleSources(scaled(eps), eps);
  }
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function setup(e: Engine, dir: string, n = 8) {
  const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
  return { model, bs: batches(task.load(fixtureCsv('ioi'), tokenizer, { limit: n }), 4) };
}

/** ã of every source for the packed rows of `clean` [nSrc, R, D]: 0, or the mean (per position) written row by row. */
function ablatedValues(model: CausalLM, b: PairBatch, ablation: Ablation, means: SourceMeans | null): Float32Array {
  const { nSrc } = model.layout, D = model.dims.dModel;
  const clean = packPair(b).clean, R = clean.ids.length, starts = rowStarts(clean);
  const out = new Float32Array(nSrc * R * D);
  if (ablation === 'zero') return out;
  for (let i = 0; i < clean.B; i++) {
    for (let r = starts[i]!; r < starts[i + 1]!; r++) {
      const p = means!.positional ? r - starts[i]! : 0;
      for (let u = 0; u < nSrc; u++) out.set(means!.values.subarray((p * nSrc + u) * D, (p * nSrc + u + 1) * D), (u * R + r) * D);
    }
  }
  return out;
}

/**
 * The plain definition of a patched run: each destination's input plus Σ_{u missing} (ã_u − a*_u), a*_u the
 * source's output in this run (recorded into the buffer with weight −1 as the pass goes), through the hooks.
 */
function plainMetric(model: CausalLM, bs: readonly PairBatch[], missing: MissingEdges, ablation: Ablation, means: SourceMeans | null): number {
  const e = model.engine, lay = model.layout, D = model.dims.dModel;
  let sum = 0, n = 0;
  for (const b of bs) {
    const p = packPair(b), R = p.clean.ids.length;
    const logits = e.tidy(() => {
      const diff = e.fromArray(ablatedValues(model, b, ablation, means), [lay.nSrc, R, D]);
      return patchedLogitsByHooks(model, p.clean, diff, missing);
    });
    // per-batch means averaged over batches, as exact patching averages (EAP-IG's get_scores_exact)
    sum += metric(logits, p.n, model.dims.vocabSize, p.labels).reduce((x, y) => x + y, 0) / p.n;
    n += 1;
  }
  return sum / n;
}

/** The metric with every source output replaced by its ablated value (the fully ablated model), through the source hooks. */
function fullyAblated(model: CausalLM, bs: readonly PairBatch[], ablation: Ablation, means: SourceMeans | null): number {
  const e = model.engine, { nLayer: L, nHead: H, dModel: D } = model.dims;
  let sum = 0, n = 0;
  for (const b of bs) {
    const p = packPair(b), R = p.clean.ids.length;
    const values = ablatedValues(model, b, ablation, means);
    const logits = e.tidy(() => {
      const value = (u: number, count: number): ForwardHook => () => e.fromArray(values.slice(u * R * D, (u + count) * R * D), count === 1 ? [R, D] : [count, R, D]);
      const hooks: Record<string, ForwardHook> = { [hookNames.embed]: value(0, 1) };
      for (let l = 0; l < L; l++) {
        hooks[hookNames.result(l)] = value(1 + l * (H + 1), H);
        hooks[hookNames.mlpOut(l)] = value(1 + l * (H + 1) + H, 1);
      }
      return model.forward(p.clean, { hooks }).logits!.toArray();
    });
    sum += metric(logits, p.n, model.dims.vocabSize, p.labels).reduce((x, y) => x + y, 0) / p.n;
    n += 1;
  }
  return sum / n;
}

const meansFor = (model: CausalLM, bs: readonly PairBatch[], a: Intervention): SourceMeans | null =>
  usesMeans(a) ? sourceMeans(model, bs, a === 'mean-positional') : null;

for (const { label, opts } of ENGINE_VARIANTS) {
  test(`exact patching under zero, mean and mean-positional ablation: every edge ⇒ clean, none ⇒ fully ablated, each edge's score by the definition (${label})`, async () => {
    await withEngine(opts, async (e) => {
      const { model, bs } = await setup(e, plain);
      const base = baselines(model, bs, metric);
      const { circuits, edges } = exactCircuits(model.layout);
      const empty = Uint8Array.from(Graph.of(model.layout).realMask, (x) => (x ? 1 : 0));
      const seen: number[] = [];
      // exact patching is a patched run per edge, each a few round trips on WebGPU (lavapipe on CI's CPU: 32 s per
      // ablation): there the richest ablation only, and every sixth edge's definition below
      const ablations = opts.device === 'gpu' ? (['mean-positional'] as const) : ABLATIONS;
      for (const ablation of ablations) {
        const means = meansFor(model, bs, ablation);
        // exact patching's own settings: per-batch means averaged over batches, unstacked
        const [all, none] = await evaluateCircuits({ model, batches: bs, metric, circuits: [circuits[0]!, empty], intervention: ablation, average: 'batches', stack: false });
        const ablated = fullyAblated(model, bs, ablation, means);
        const scale = Math.max(Math.abs(base.clean), Math.abs(ablated));
        assert.ok(Math.abs(all! - base.clean) <= 1e-6 * scale, `${ablation}: every edge ${all} vs clean ${base.clean}`);
        assert.ok(Math.abs(none! - ablated) <= 1e-5 * scale, `${ablation}: no edge ${none} vs fully ablated ${ablated}`);
        assert.ok(Math.abs(none! - base.corrupted) > 1e-3 * scale, `${ablation}: the empty circuit is not the corrupted run`);
        seen.push(none!);
        const ex = await exactScores({ model, batches: bs, metric, intervention: ablation });
        const full = plainMetric(model, bs, new Uint8Array(model.layout.nSrc * model.layout.nDst), ablation, means);
        let worst = 0, largest = 0;
        const checked = opts.device === 'gpu' ? edges.filter((_, j) => j % 6 === 0) : edges;
        for (const i of checked) {
          const m = new Uint8Array(model.layout.nSrc * model.layout.nDst);
          m[i] = 1;
          const want = full - plainMetric(model, bs, m, ablation, means); // loss = −metric
          worst = Math.max(worst, Math.abs(ex.scores[i]! - want));
          largest = Math.max(largest, Math.abs(want));
        }
        assert.ok(largest > 1e-3 * scale, `${ablation}: some edge matters (${largest})`);
        assert.ok(worst <= 1e-5 * scale, `${ablation}: exact scores vs the definition differ by ${worst} (largest ${largest}, scale ${scale})`);
      }
      if (seen.length === 3) assert.ok(seen[0] !== seen[1] && seen[1] !== seen[2], `the three ablations give different fully ablated models: ${seen}`);
      model.dispose();
    });
  });
}

test('exact patching under an ablation agrees with EAP under it to first order: O(ε) apart when Δ = O(ε)', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const rel: Record<string, number[]> = {};
    for (const eps of EPS) {
      const { model, bs } = await setup(e, scaled(eps));
      assert.ok(bs.every((b) => b.n === bs[0]!.n), 'equal batches');
      for (const ablation of ['zero', 'mean-positional'] as const) {
        const ex = (await exactScores({ model, batches: bs, metric, intervention: ablation })).scores;
        // EAP's loss is each batch's mean (1/B) and its scores are then divided by N (EAP-IG's convention), while
        // exact patching's effects are means over examples: B·EAP is the first-order term of exact patching
        const B = bs[0]!.n;
        const eap = (await attribute({ model, batches: bs, method: 'eap', loss, options: { intervention: ablation } })).scores.map((x) => B * x);
        let md = 0, mx = 0;
        eap.forEach((x, i) => {
          mx = Math.max(mx, Math.abs(x));
          md = Math.max(md, Math.abs(ex[i]! - x));
        });
        (rel[ablation] ??= []).push(md / mx);
      }
      model.dispose();
    }
    for (const [ablation, [big, small]] of Object.entries(rel) as [string, number[]][]) {
      // the second-order remainder relative to the first-order term is O(ε): a quarter of ε, about a quarter of it
      assert.ok(big! < 0.1, `${ablation}: ε = ${EPS[0]}: exact vs EAP ${big}`);
      assert.ok(small! < big! / 2.5, `${ablation}: ε = ${EPS[1]} gives ${small}, ε = ${EPS[0]} gave ${big}: not shrinking like ε`);
    }
  });
});
