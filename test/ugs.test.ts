/**
 * UGS (src/attribution/ugs.ts, the pruned run in masked-run.ts):
 *   - the objective's gradient: ∂KL/∂m of the masked pass against central differences of its KL, and the
 *     regularisers' gradient against differences of theirs;
 *   - the objective's identities: every mask 1 is the clean run (KL 0), every mask 0 the corrupted run (KL of the
 *     clean distribution to the corrupted run's, computed by a plain forward pass);
 *   - on a model where one edge alone carries the task (input → logits: every head and MLP writes nothing), UGS
 *     ranks it first; the same seed gives the same bytes, another seed other scores; a shard is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attribute, attributeBatches } from '../src/attribution/attribute.js';
import { logSoftmax, maskedBatch, maskedPass } from '../src/attribution/masked-run.js';
import { recordSources } from '../src/attribution/sources.js';
import type { AttributionOptions, LossFn, PairBatch } from '../src/attribution/types.js';
import { edgeSet, regulariser } from '../src/attribution/ugs.js';
import { packPair } from '../src/attribution/micro.js';
import type { Engine } from '../src/engine/engine.js';
import { makeBatch } from '../src/models/batch.js';
import { GPT2 } from '../src/models/gpt2.js';
import { Rng } from '../src/models/random.js';
import type { WeightSource } from '../src/models/weights.js';
import { isUserError } from '../src/util/errors.js';
import { withEngine } from './helpers/engines.js';
import { tinyDims, tinyWeights } from './helpers/tiny-model.js';

const dims = tinyDims({ nLayer: 2, nHead: 2, dModel: 8 });
const pair = (): PairBatch => ({
  n: 3, clean: makeBatch([[1, 2, 3, 4], [5, 6, 7], [9, 10, 11, 12]]),
  corrupted: makeBatch([[1, 20, 3, 4], [5, 21, 7], [9, 22, 11, 12]]), labels: [[30, 31], [32, 33], [34, 35]],
});
/** UGS reads no task loss; attribute() still takes one. */
const noLoss: LossFn = (_l, B, V) => ({ loss: 0, grad: new Float32Array(B * V) });

function setup(e: Engine, src: WeightSource = tinyWeights(dims, 7, 0.5)) {
  const model = new GPT2(e, dims, src);
  const batch = packPair(pair());
  const mb = maskedBatch(e, model, batch, (buf) => void recordSources(e, model, batch.corrupted, buf, 1));
  return { model, batch, mb, size: model.layout.nSrc * model.layout.nDst * batch.clean.B };
}

test('UGS objective: ∂KL/∂m against central differences', async () => {
  await withEngine({ threads: 1 }, async (e) => {
    await e.tidy(async () => {
      const { model, mb, size } = setup(e);
      const es = edgeSet(model), B = 3, rng = new Rng(4);
      const m = new Float32Array(size).fill(1);
      for (const f of es.flat) for (let b = 0; b < B; b++) m[f * B + b] = 0.2 + 0.6 * rng.uniform();
      const klSum = (mm: Float32Array) => maskedPass(e, model, mb, mm).kl.reduce((s, x) => s + x, 0);
      const { gradMask } = maskedPass(e, model, mb, m);
      const maxG = Math.max(...Array.from(es.flat, (f) => Math.abs(gradMask[f * B]!)));
      assert.ok(maxG > 1e-3, `largest mask gradient ${maxG}`);
      // a few edges of every kind (input → q, head → k, → v, → MLP, → logits), one example each
      const picks = [0, 5, 17, 40, es.flat.length - 7, es.flat.length - 1].map((i) => ({ f: es.flat[i]!, b: i % B }));
      const h = 2e-3;
      for (const { f, b } of picks) {
        const at = f * B + b, up = m.slice(), down = m.slice();
        up[at]! += h;
        down[at]! -= h;
        const fd = (klSum(up) - klSum(down)) / (2 * h);
        assert.ok(Math.abs(fd - gradMask[at]!) <= 2e-3 * maxG + 1e-5, `edge ${f} example ${b}: analytic ${gradMask[at]} vs differences ${fd}`);
      }
      model.dispose();
    });
  });
});

test('UGS objective: the regularisers against differences', () => {
  const L = 3, H = 2;
  // a layout-free edge set: 6 edges, heads touched as given
  const es = { flat: Int32Array.from([0, 1, 2, 3, 4, 5]), group: new Uint8Array(6), fromHead: Int32Array.from([-1, 0, 1, 3, -1, 5]), toHead: Int32Array.from([0, 2, 4, -1, -1, 5]) };
  const theta = Float64Array.from([0.3, -1.2, 2, 0.1, -0.4, 1]), s = { lambda: 0.01, nodeReg: 0.2 };
  const grad = new Float64Array(6);
  regulariser(theta, es, s, L * H, grad);
  for (let i = 0; i < 6; i++) {
    const up = theta.slice(), down = theta.slice(), h = 1e-5;
    up[i]! += h;
    down[i]! -= h;
    const fd = (regulariser(up, es, s, L * H, new Float64Array(6)) - regulariser(down, es, s, L * H, new Float64Array(6))) / (2 * h);
    assert.ok(Math.abs(fd - grad[i]!) <= 1e-8, `θ${i}: ${grad[i]} vs ${fd}`);
  }
  // J at θ: λ·Σp plus the node term
  const p = Array.from(theta, (t) => 1 / (1 + Math.exp(-t)));
  const load = new Float64Array(L * H);
  es.fromHead.forEach((h, i) => h >= 0 && (load[h]! += p[i]!));
  es.toHead.forEach((h, i) => h >= 0 && (load[h]! += p[i]!));
  const want = s.lambda * p.reduce((a, b) => a + b, 0) + s.nodeReg * Array.from(load, (x) => Math.tanh((2 * x) / (L * H))).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(regulariser(theta, es, s, L * H, new Float64Array(6)) - want) <= 1e-12);
});

test('UGS objective: every edge kept is the clean run, none kept the corrupted run', async () => {
  await withEngine({ threads: 1 }, async (e) => {
    await e.tidy(async () => {
      const { model, batch, mb, size } = setup(e);
      const all = maskedPass(e, model, mb, new Float32Array(size).fill(1));
      all.kl.forEach((k, b) => assert.ok(Math.abs(k) <= 1e-6, `all edges: KL ${k} at example ${b}`));
      const none = maskedPass(e, model, mb, new Float32Array(size).fill(0));
      const V = dims.vocabSize;
      const corr = e.tidy(() => model.forward(batch.corrupted, { logits: 'last' }).logits!.toArray());
      for (let b = 0; b < 3; b++) {
        const lq = logSoftmax(corr, b * V, V);
        let want = 0;
        for (let i = 0; i < V; i++) want += Math.exp(mb.cleanLogp[b * V + i]!) * (mb.cleanLogp[b * V + i]! - lq[i]!);
        assert.ok(want > 1e-3, `clean and corrupted differ at example ${b}`);
        assert.ok(Math.abs(none.kl[b]! - want) <= 1e-4 * want, `no edges: KL ${none.kl[b]} vs clean‖corrupted ${want}`);
      }
      model.dispose();
    });
  });
});

/** tinyWeights with every head's and MLP's output projection 0: only the input's direct edge to the logits matters. */
function oneEdge(src: WeightSource): WeightSource {
  return { ...src, readF32: (n) => (/c_proj\.weight$/.test(n) ? new Float32Array(src.readF32(n).length) : src.readF32(n)) };
}

test('UGS ranks first the one edge that carries the task; deterministic per seed; no shards', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const model = new GPT2(e, dims, oneEdge(tinyWeights(dims, 7, 0.5)));
    // the last tokens differ: the direct edge carries the difference to the last position
    const lastDiffers = (): PairBatch => ({ ...pair(), corrupted: makeBatch([[1, 2, 3, 24], [5, 6, 25], [9, 10, 11, 26]]) });
    const batches = [lastDiffers(), lastDiffers()];
    const options = { ugsEpochs: 15, ugsLambda: 1e-2, ugsSamples: 4 } as AttributionOptions;
    const r = await attribute({ model, batches, method: 'ugs', loss: noLoss, options });
    const { nDst } = model.layout, direct = 0 * nDst + model.layout.logitsSlot; // input → logits
    const on = r.scores.filter((x) => x > 0);
    assert.equal(on.length, edgeSet(model).flat.length);
    const others = Math.max(...Array.from(r.scores).filter((_, i) => i !== direct));
    assert.ok(r.scores[direct]! > others, `input → logits ${r.scores[direct]} vs the best other ${others}`);
    assert.ok(r.scores[direct]! > 0.75 && others < 0.7, `input → logits ${r.scores[direct]}, others up to ${others}`);
    const again = await attribute({ model, batches, method: 'ugs', loss: noLoss, options });
    assert.deepEqual(again.scores, r.scores);
    const other = await attribute({ model, batches, method: 'ugs', loss: noLoss, options: { ...options, ugsSeed: 1 } as AttributionOptions });
    assert.notDeepEqual(other.scores, r.scores);
    await assert.rejects(
      attributeBatches({ model, batches, method: 'ugs', loss: noLoss, options }, [1], () => {}),
      (err: unknown) => isUserError(err) && /ugs learns its scores over every batch in order/.test((err as Error).message),
    );
    model.dispose();
  });
});
