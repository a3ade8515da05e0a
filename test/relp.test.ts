/**
 * RelP (src/attribution/relp.ts, the rules in src/engine/relevance.ts):
 *   - its scores agree with an independent computation: the PyTorch oracle's float64 EAP with LRP's rules written
 *     as .detach() in its forward (test/fixtures/relp-*.json, gen-relp.py), with and without the AH-rule,
 *     ≤ 1e-4·max|score|; on the other families, our float64 hooked forward (archref.py) with the same rules
 *     (relp-arch.json: RMSNorm, the half-rule on gated MLPs, soft-caps, grouped k/v, parallel blocks);
 *   - relevance mode with every rule off is the gradient, bit for bit (the default path is untouched);
 *   - conservation (the paper's LRP property): with the AH-rule, no biases and a logit-difference metric, the
 *     relevance at the input and at the last cut each sum to the metric;
 *   - where a rule's linearisation is exact it equals the gradient: the identity rule on ReLU, the LN-rule on a
 *     row whose gradient is orthogonal to x̂, the AH-rule's value gradient.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attribute } from '../src/attribution/attribute.js';
import { registerMethod, unregisterMethod } from '../src/attribution/registry.js';
import type { AttributionOptions, LossFn, Method, PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import * as ops from '../src/engine/ops.js';
import type { RelevanceRules } from '../src/engine/tape.js';
import type { Tensor } from '../src/engine/tensor.js';
import { makeBatch } from '../src/models/batch.js';
import { activate } from '../src/models/family-ops.js';
import { GPT2 } from '../src/models/gpt2.js';
import { loadModel, openFamilyModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import type { WeightSource } from '../src/models/weights.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';
import { tinyDims, tinyWeights } from './helpers/tiny-model.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-relp-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Fixture {
  model: { name: string; layers: number; heads: number; dModel: number; seed: number; initStd: number };
  limit: number;
  batchSize: number;
  scores: Record<string, { shape: number[]; values: number[] }>;
}

test('RelP scores match the oracle with LRP rules as .detach() (with and without the AH-rule)', async () => {
  const fx = JSON.parse(readFileSync(join(FIX, 'relp-l2h4d64.json'), 'utf8')) as Fixture;
  const dir = join(tmp, fx.model.name);
  makeRandomModel({ ...fx.model, gpt2TokenizerFiles: true }, dir);
  await withEngine({ threads: 2 }, async (e) => {
    const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
    assert.equal(Object.keys(fx.scores).length, 4);
    for (const [key, ref] of Object.entries(fx.scores)) {
      const [taskName, variant] = key.split(':') as [string, string];
      const task = getTask(taskName);
      const bs = batches(task.load(fixtureCsv(taskName), tokenizer, { limit: fx.limit }), fx.batchSize);
      const loss: LossFn = (logits, B, V, labels) => lossGrad(task, logits, B, V, labels as never);
      const run = (method: string, options = {}) => attribute({ model, batches: bs, method, loss, options });
      const r = await run('relp', { relpAttention: variant === 'relp/detach' ? 'detach' : 'gradient' });
      assert.deepEqual([r.nSrc, r.nDst], ref.shape);
      const max = Math.max(...ref.values.map(Math.abs));
      let worst = 0;
      ref.values.forEach((want, i) => (worst = Math.max(worst, Math.abs(r.scores[i]! - want))));
      assert.ok(worst <= 1e-4 * max, `${key}: max |ours − oracle| = ${worst} vs max |oracle| ${max}`);
      // the rules matter here: RelP is not EAP on this model
      const eap = (await run('eap')).scores;
      let apart = 0;
      eap.forEach((x, i) => (apart = Math.max(apart, Math.abs(x - r.scores[i]!))));
      assert.ok(apart > 1e-2 * max, `${key}: RelP within ${apart} of EAP`);
      if (variant === 'relp/detach') {
        // the AH-rule: nothing reaches a query or key input
        const H = model.dims.nHead;
        for (let l = 0; l < model.dims.nLayer; l++) {
          for (let c = 0; c < 2 * H; c++) {
            const v = model.layout.firstSlot(l) + c;
            for (let u = 0; u < r.nSrc; u++) assert.equal(r.scores[u * r.nDst + v], 0, `${key}: q/k edge ${u} → ${v}`);
          }
        }
      }
    }
    model.dispose();
  });
});

interface ArchExample { clean: number[]; corrupted: number[]; correct: number; incorrect: number }

test('RelP on every other family (RMSNorm, gated MLPs, grouped k/v, parallel blocks, soft-caps) matches the float64 reference with the rules as .detach()', async () => {
  const fx = JSON.parse(readFileSync(join(FIX, 'relp-arch.json'), 'utf8')) as { models: Record<string, Record<string, number[]>> };
  assert.equal(Object.keys(fx.models).length, 8);
  // metric = logit(correct) − logit(incorrect); loss = −mean
  const loss: LossFn = (logits, B, V, labels) => {
    const grad = new Float32Array(B * V);
    let l = 0;
    (labels as ArchExample[]).forEach((y, b) => {
      l -= (logits[b * V + y.correct]! - logits[b * V + y.incorrect]!) / B;
      grad[b * V + y.correct] = -1 / B;
      grad[b * V + y.incorrect] = 1 / B;
    });
    return { loss: l, grad };
  };
  await withEngine({ threads: 2 }, async (e) => {
    for (const [name, want] of Object.entries(fx.models)) {
      const dir = join(FIX, 'arch', name);
      const exs = (JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { examples: ArchExample[] }).examples;
      const model = openFamilyModel(e, dir, { quiet: true });
      const pb: PairBatch = { n: exs.length, clean: makeBatch(exs.map((x) => x.clean), 0), corrupted: makeBatch(exs.map((x) => x.corrupted), 0), labels: exs };
      for (const [variant, ref] of Object.entries(want)) {
        const options = { relpAttention: variant === 'relp/detach' ? 'detach' : 'gradient' } as AttributionOptions;
        const r = await attribute({ model, batches: [pb], method: 'relp', loss, options });
        const max = Math.max(...ref.map(Math.abs));
        let worst = 0;
        ref.forEach((w, i) => (worst = Math.max(worst, Math.abs(r.scores[i]! - w))));
        assert.ok(worst <= 1e-4 * max, `${name} ${variant}: max |ours − ref| = ${worst} vs max |ref| ${max}`);
      }
      model.dispose();
    }
  });
});

/** A method like relp whose pass runs the relevance backward with every rule off. */
const rulesOff: Method = {
  name: 'test-relevance-off', kind: 'gradient', summary: 'relevance mode, no rule', options: [], color: '#000', validateVariants: [],
  points: () => 1, recordsClean: true,
  run: (ctx) => ctx.point({ recordClean: true, relevance: { norm: false, activation: false, gate: false, attention: false } }),
};

test('relevance mode with every rule off gives the gradient bit for bit (EAP)', async () => {
  const dir = join(tmp, 'off');
  makeRandomModel({ layers: 2, heads: 3, dModel: 48, seed: 3, initStd: 0.1 }, dir);
  registerMethod(rulesOff);
  try {
    await withEngine({ threads: 2 }, async (e) => {
      const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
      const task = getTask('ioi');
      const bs = batches(task.load(fixtureCsv('ioi'), tokenizer, { limit: 6 }), 3);
      const loss: LossFn = (logits, B, V, labels) => lossGrad(task, logits, B, V, labels as never);
      const a = await attribute({ model, batches: bs, method: 'eap', loss });
      const b = await attribute({ model, batches: bs, method: rulesOff.name, loss });
      assert.ok(a.scores.some((x) => x !== 0));
      assert.deepEqual(b.scores, a.scores);
      model.dispose();
    });
  } finally {
    unregisterMethod(rulesOff.name);
  }
});

/** tinyWeights with every bias, LayerNorm β and position embedding 0: the rules' linear maps have no offsets. */
function unbiased(src: WeightSource): WeightSource {
  return { ...src, readF32: (n) => (/bias$|wpe/.test(n) ? new Float32Array(src.readF32(n).length) : src.readF32(n)) };
}

test('conservation: with the AH-rule and no biases, the input relevance and the last cut each sum to the metric', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const dims = tinyDims({ nLayer: 2, nHead: 2, dModel: 8 });
    const model = new GPT2(e, dims, unbiased(tinyWeights(dims, 5, 0.4)));
    const pair: PairBatch = {
      n: 3, clean: makeBatch([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]),
      corrupted: makeBatch([[1, 20, 3, 4], [5, 21, 7, 8], [9, 22, 11, 12]]), labels: [[30, 31], [32, 33], [34, 35]],
    };
    // metric m_b = logit[c] − logit[w]; loss −mean(m)
    const metricOf = (logits: Float32Array, b: number, V: number) => {
      const [c, w] = pair.labels[b] as [number, number];
      return logits[b * V + c]! - logits[b * V + w]!;
    };
    const loss: LossFn = (logits, B, V, labels) => {
      const grad = new Float32Array(B * V);
      let sum = 0;
      for (let b = 0; b < B; b++) {
        const [c, w] = labels[b] as [number, number];
        sum += metricOf(logits, b, V);
        grad[b * V + c] = -1 / B;
        grad[b * V + w] = 1 / B;
      }
      return { loss: -sum / B, grad };
    };
    const { logits } = e.tidy(() => {
      const out = model.forward(pair.clean, { logits: 'last' });
      return { logits: out.logits!.toArray() };
    });
    const V = dims.vocabSize;
    const mean = [0, 1, 2].reduce((s, b) => s + metricOf(logits, b, V), 0) / 3;
    // zero ablation: Δ_u = −a_u, so Σ_v S[input, v] = −input·c_resid0/(N·B)·… = mean metric / N (loss is a mean)
    const r = await attribute({ model, batches: [pair], method: 'relp', loss, options: { relpAttention: 'detach', intervention: 'zero' } as AttributionOptions });
    const { nSrc, nDst } = r;
    let input = 0, last = 0, eapLast = 0;
    for (let v = 0; v < nDst; v++) input += r.scores[v]!;
    for (let u = 0; u < nSrc; u++) last += r.scores[u * nDst + nDst - 1]!;
    const scale = pair.n; // scores carry 1/N on top of the batch mean
    assert.ok(Math.abs(mean) > 0.1, `metric ${mean}`);
    assert.ok(Math.abs(input * scale - mean) <= 1e-4 * Math.abs(mean), `input relevance ${input * scale} vs metric ${mean}`);
    assert.ok(Math.abs(last * scale - mean) <= 1e-4 * Math.abs(mean), `last cut ${last * scale} vs metric ${mean}`);
    // the gradient does not conserve: EAP's last cut misses the metric (the LayerNorm's x̂ term)
    const g = await attribute({ model, batches: [pair], method: 'eap', loss, options: { intervention: 'zero' } });
    for (let u = 0; u < nSrc; u++) eapLast += g.scores[u * nDst + nDst - 1]!;
    assert.ok(Math.abs(eapLast * scale - mean) > 1e-2 * Math.abs(mean), `EAP last cut ${eapLast * scale} vs metric ${mean}`);
    model.dispose();
  });
});

/** ∂/∂x of Σ seed·f(x) by the engine's backward, with or without relevance rules. */
function backward(e: Engine, f: (x: Tensor) => Tensor, x: Float32Array, shape: number[], seed: Float32Array, rules?: RelevanceRules): Float32Array {
  return e.tidy(() =>
    e.record((tape) => {
      const xt = e.fromArray(x, shape);
      xt.requiresGrad = true;
      const y = f(xt);
      return tape.backward([[y, e.fromArray(seed, y.shape)]], { relevance: rules }).get(xt)!.toArray();
    }),
  );
}

const ALL: RelevanceRules = { norm: true, activation: true, gate: true, attention: true };

test('each rule equals the gradient where its linearisation is exact', async () => {
  await withEngine({ threads: 1 }, async (e) => {
    const close = (a: Float32Array, b: Float32Array, tol: number, what: string) =>
      a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= tol, `${what}[${i}]: ${x} vs ${b[i]}`));
    // ReLU: act(x)/x is its derivative (x ≠ 0), up to the stabiliser's 1e-6
    const x = Float32Array.from([-2, -0.5, 0.25, 1, 3, -1.5]), seed = Float32Array.from([1, -2, 0.5, 3, -1, 2]);
    const relu = (t: Tensor) => activate('relu', t);
    const gr = backward(e, relu, x, [6], seed), rr = backward(e, relu, x, [6], seed, ALL);
    close(rr, gr, 1e-5, 'relu');
    assert.deepEqual(Array.from(gr, (v) => v + 0), [0, 0, 0.5, 3, -1, 0]);
    // GELU: the rule is act(x)/x, not gelu'(x)
    const gg = backward(e, ops.gelu, x, [6], seed), rg = backward(e, ops.gelu, x, [6], seed, ALL);
    x.forEach((v, i) => assert.ok(Math.abs(rg[i]! - seed[i]! * (0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))))) <= 1e-5));
    assert.ok(Math.abs(gg[0]! - rg[0]!) > 1e-3);
    // LayerNorm: the gradient's x̂ term vanishes when γ⊙dy ⟂ x̂ (here dy = a multiple of x̂'s orthogonal complement)
    const D = 4, row = Float32Array.from([1, 2, 4, 7]);
    const gamma = e.fromArray(Float32Array.from([1, 1, 1, 1]), [D]), beta = e.zeros([D]);
    const mu = 3.5, xh = Array.from(row, (v) => v - mu); // ∝ x̂
    const dy = Float32Array.from([1, -1, 0, 0]).map((v, i, a) => v - (xh[i]! * (a[0]! * xh[0]! + a[1]! * xh[1]!)) / xh.reduce((s, t) => s + t * t, 0));
    const ln = (t: Tensor) => ops.layerNorm(t, gamma, beta, 1e-5);
    close(backward(e, ln, row, [1, D], dy, ALL), backward(e, ln, row, [1, D], dy), 1e-6, 'layerNorm ⟂');
    // …and differs otherwise
    const dy2 = Float32Array.from([1, 0, 0, 0]);
    assert.ok(Math.abs(backward(e, ln, row, [1, D], dy2, ALL)[3]! - backward(e, ln, row, [1, D], dy2)[3]!) > 1e-3);
    // attention: the AH-rule keeps the value gradient and sends nothing to queries and keys
    const B = 1, P = 3, H = 2, Dm = 4, qkv = Float32Array.from({ length: P * 3 * Dm }, (_, i) => Math.sin(i * 1.3));
    const dz = Float32Array.from({ length: P * Dm }, (_, i) => Math.cos(i * 0.7));
    const att = (t: Tensor) => ops.attention(t, B, P, H);
    const ga = backward(e, att, qkv, [P, 3 * Dm], dz), ra = backward(e, att, qkv, [P, 3 * Dm], dz, ALL);
    for (let r = 0; r < P; r++) {
      for (let c = 0; c < 3 * Dm; c++) {
        const i = r * 3 * Dm + c;
        if (c < 2 * Dm) assert.equal(ra[i], 0);
        else assert.equal(ra[i], ga[i]);
      }
    }
    assert.ok(ga.slice(0, 2 * Dm).some((v) => v !== 0));
    gamma.dispose();
  });
});
