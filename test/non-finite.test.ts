/**
 * No NaN or infinity ever reaches a graph or results file: a damaged checkpoint is refused at load naming the
 * tensor, and non-finite activations, gradients or metrics stop attribution and evaluation with an error that
 * names the method, the batch and where the value first appeared. Everything here is made by the project
 * itself (random models, generated prompts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { attribute } from '../src/attribution/attribute.js';
import type { LossFn, PairBatch } from '../src/attribution/types.js';
import { createEngine, type Engine } from '../src/engine/engine.js';
import { baselines, evaluateCircuits } from '../src/evaluation/evaluate.js';
import type { MetricFn } from '../src/evaluation/patching.js';
import { firstNonFiniteHook } from '../src/models/finite-hooks.js';
import { GPT2 } from '../src/models/gpt2.js';
import { makeBatch } from '../src/models/batch.js';
import type { WeightSource } from '../src/models/weights.js';
import { isUserError } from '../src/util/errors.js';
import { checkFinite, firstNonFinite, NonFiniteError } from '../src/util/finite.js';
import { assertUserError, eapgp, makeModel, makeTaskData, poisonWeight } from './helpers/cli.js';
import { tinyDims, tinyWeights } from './helpers/tiny-model.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-finite-'));
let engine: Engine;
before(async () => {
  engine = await createEngine({ threads: 2 });
});
after(async () => {
  await engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('firstNonFinite finds NaN and both infinities, within a range; checkFinite throws a NonFiniteError', () => {
  assert.equal(firstNonFinite(new Float32Array([1, 2, 3])), -1);
  assert.equal(firstNonFinite([0, -0, 1e38, -1e38]), -1);
  assert.equal(firstNonFinite(new Float32Array([1, NaN, Infinity])), 1);
  assert.equal(firstNonFinite([1, 2, -Infinity, NaN]), 2);
  assert.equal(firstNonFinite([NaN, 1, 2], 1), -1);
  assert.equal(firstNonFinite([1, 2, Infinity], 0, 2), -1);
  assert.throws(() => checkFinite([0, Infinity], 'score', (i, v) => `element ${i} is ${v}`), (e: unknown) => {
    assert.ok(e instanceof NonFiniteError && isUserError(e));
    assert.match(e.message, /^non-finite value in the scores: element 1 is Infinity\. /);
    assert.match(e.within('batch 2').within('eap').message, /^eap, batch 2: non-finite value in the scores/);
    return true;
  });
});

/** tinyWeights with `value` at element `index` of tensor `name`. */
function poisoned(src: WeightSource, name: string, index: number, value = NaN): WeightSource {
  return {
    ...src,
    readF32: (n) => {
      const a = src.readF32(n);
      if (n !== name) return a;
      const copy = a.slice();
      copy[index] = value;
      return copy;
    },
  };
}

const dims = tinyDims(); // 2 layers, 2 heads, d_model 8 (head size 4), vocabulary 50
const pair = (): PairBatch<[number, number]> => ({
  n: 2, clean: makeBatch([[1, 2, 3], [4, 5, 6]]), corrupted: makeBatch([[1, 7, 3], [4, 8, 6]]), labels: [[10, 11], [12, 13]],
});
/** m = logit[correct] − logit[wrong]; the loss is −mean(m). */
const metric: MetricFn = (logits, B, V, labels) => Float64Array.from({ length: B }, (_, b) => {
  const [c, w] = labels[b] as [number, number];
  return logits[b * V + c]! - logits[b * V + w]!;
});
const loss: LossFn = (logits, B, V, labels) => {
  const grad = new Float32Array(B * V);
  let sum = 0;
  for (let b = 0; b < B; b++) {
    const [c, w] = labels[b] as [number, number];
    sum += logits[b * V + c]! - logits[b * V + w]!;
    grad[b * V + c] = -1 / B;
    grad[b * V + w] = 1 / B;
  }
  return { loss: -sum / B, grad };
};

// column 5 of c_attn [D, 3D] is a query column of head 1 (head size 4): only head 1's output goes NaN
const NAN_QUERY = ['h.1.attn.c_attn.weight', 5] as const;

test('the first hook point holding a NaN is named, with its head; a finite pass gives null', () => {
  const clean = new GPT2(engine, dims, tinyWeights(dims, 3));
  const bad = new GPT2(engine, dims, poisoned(tinyWeights(dims, 3), ...NAN_QUERY));
  try {
    const input = { batch: pair().clean };
    assert.equal(firstNonFiniteHook(clean, input), null);
    assert.equal(firstNonFiniteHook(bad, input), 'blocks.1.attn.hook_result holds NaN (head 1)');
    // a caller's own replacement counts: an infinite embedding is the first thing wrong
    const embeds = engine.fromArray(new Float32Array(6 * 8).fill(Infinity), [6, 8]);
    assert.equal(firstNonFiniteHook(clean, { ...input, embeds }), 'hook_embed holds Infinity');
    embeds.dispose();
  } finally {
    clean.dispose();
    bad.dispose();
  }
});

test('attribution stops at the first non-finite activation, naming method, batch, hook point and gradient point', async () => {
  const model = new GPT2(engine, dims, poisoned(tinyWeights(dims, 3), ...NAN_QUERY));
  try {
    for (const method of ['eap', 'eap-ig'] as const) {
      await assert.rejects(attribute({ model, batches: [pair()], method, loss }), (e: unknown) => {
        assert.ok(e instanceof NonFiniteError, String(e));
        assert.equal(e.site, 'activation');
        assert.match(e.message, new RegExp(`^${method}, batch 1 of 1 \\(examples 1–2\\): non-finite value in the activations: ` +
          `blocks\\.1\\.attn\\.hook_result holds NaN \\(head 1\\) in the forward pass at (the clean input|integration point 1 of 5)\\. `));
        return true;
      });
    }
  } finally {
    model.dispose();
  }
});

test('GradPath with a step size far beyond the embeddings stops with a gradient error instead of writing NaN scores', async () => {
  const model = new GPT2(engine, dims, tinyWeights(dims, 3));
  try {
    const batches = [pair(), pair()];
    const ok = await attribute({ model, batches, method: 'eap-gp', loss, options: { steps: 3 } });
    assert.equal(firstNonFinite(ok.scores), -1);
    await assert.rejects(attribute({ model, batches, method: 'eap-gp', loss, options: { steps: 3, gpEta: 1e30 } }), (e: unknown) => {
      assert.ok(e instanceof NonFiniteError, String(e));
      assert.equal(e.site, 'gradient');
      assert.match(e.message, /^eap-gp, batch 1 of 2 \(examples 1–2\): non-finite value in the gradients: GradPath step \d of 3 moved the embeddings to NaN/);
      assert.match(e.message, /--gp-eta/);
      return true;
    });
  } finally {
    model.dispose();
  }
});

test('evaluation: non-finite baselines name the run and batch; a non-finite metric of a patched run names the circuit', async () => {
  const bad = new GPT2(engine, dims, poisoned(tinyWeights(dims, 3), ...NAN_QUERY));
  const good = new GPT2(engine, dims, tinyWeights(dims, 3));
  try {
    assert.throws(() => baselines(bad, [pair(), pair()], metric), (e: unknown) => {
      assert.ok(e instanceof NonFiniteError);
      assert.match(e.message, /^batch 1 of 2 \(examples 1–2\): non-finite value in the activations: blocks\.1\.attn\.hook_result holds NaN \(head 1\) in the clean run/);
      return true;
    });
    const nanMetric: MetricFn = (_logits, B) => new Float64Array(B).fill(NaN);
    const circuits = [new Uint8Array(7 * 15)]; // every edge in: 7 sources × 15 destinations
    // the baselines come first (the clean and corrupted runs every patched run starts from)
    await assert.rejects(evaluateCircuits({ model: good, batches: [pair()], metric: nanMetric, circuits }), (e: unknown) => {
      assert.ok(e instanceof NonFiniteError);
      assert.match(e.message, /^edge patching, batch 1 of 1 \(examples 1–2\): non-finite value in the metrics: the metric of the clean run/);
      return true;
    });
    let calls = 0; // finite for the two baselines, then NaN
    const laterNan: MetricFn = (_logits, B) => new Float64Array(B).fill(++calls > 2 ? NaN : 0);
    await assert.rejects(evaluateCircuits({ model: good, batches: [pair()], metric: laterNan, circuits }), (e: unknown) => {
      assert.ok(e instanceof NonFiniteError);
      assert.equal(e.site, 'metric');
      assert.match(e.message, /^edge patching, batch 1 of 1 \(examples 1–2\): non-finite value in the metrics: the metric of the patched run of circuit 1 of 1/);
      return true;
    });
  } finally {
    bad.dispose();
    good.dispose();
  }
});

test('eapgp: a checkpoint with a NaN weight is refused at load, naming the tensor; no output file', () => {
  const dir = join(tmp, 'nan-model');
  const data = join(tmp, 'ioi.csv');
  makeModel(dir);
  makeTaskData('ioi', 8, data);
  const graph = join(tmp, 'scores.json');
  const ok = eapgp(['attribute', '--model', dir, '--task', 'ioi', '--data', data, '--method', 'eap', '--quiet', '--out', graph]);
  assert.equal(ok.code, 0, ok.err);

  poisonWeight(dir, 'h.1.mlp.c_fc.weight', 7, NaN);
  const out = join(tmp, 'nan-scores.json');
  const r = eapgp(['attribute', '--model', dir, '--task', 'ioi', '--data', data, '--method', 'eap', '--quiet', '--out', out]);
  assertUserError(r, /non-finite value in the weights: tensor h\.1\.mlp\.c_fc\.weight \[16,64\] in .*model\.safetensors holds NaN at element 7\./, 'attribute');
  assert.ok(!existsSync(out), 'no graph written');
  const results = join(tmp, 'nan-eval.json');
  const e = eapgp(['evaluate', '--model', dir, '--task', 'ioi', '--data', data, '--graph', graph, '--edges', '5', '--quiet', '--out', results]);
  assertUserError(e, /tensor h\.1\.mlp\.c_fc\.weight .* holds NaN/, 'evaluate');
  assert.ok(!existsSync(results), 'no results written');

  poisonWeight(dir, 'h.1.mlp.c_fc.weight', 7, 0.5);
  poisonWeight(dir, 'wte.weight', 3, -Infinity);
  assertUserError(eapgp(['run', '--model', dir, '--prompt', 'x']), /tensor wte\.weight \[50257,16\] .* holds -Infinity at element 3/, 'run');
});

test('eapgp attribute --gp-eta 1e30: a clean failure naming eap-gp, the batch and the gradient; no output file', () => {
  const dir = join(tmp, 'model');
  const data = join(tmp, 'ioi-gp.csv');
  makeModel(dir);
  makeTaskData('ioi', 8, data);
  const out = join(tmp, 'gp.json');
  const r = eapgp(['attribute', '--model', dir, '--task', 'ioi', '--data', data, '--method', 'eap-gp', '--gp-eta', '1e30', '--quiet', '--out', out]);
  assertUserError(r, /^eapgp: eap-gp, batch 1 of 1 \(examples 1–8\): non-finite value in the gradients: GradPath step/, 'attribute --gp-eta 1e30');
  assert.ok(!existsSync(out), 'no graph written');
  const ok = eapgp(['attribute', '--model', dir, '--task', 'ioi', '--data', data, '--method', 'eap-gp', '--quiet', '--out', out]);
  assert.equal(ok.code, 0, ok.err);
  assert.ok(existsSync(out));
  assert.doesNotMatch(ok.err, /warning/);
});
