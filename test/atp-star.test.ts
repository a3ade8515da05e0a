/**
 * AtP* (src/attribution/atp-star.ts):
 *   - against the independent PyTorch computation of test/fixtures/atp-l2h4d64.json (gen-atp.py: each query/key
 *     edge patched by the oracle and its head's pattern recomputed, gradients by autograd; GradDrop by substituting
 *     a layer's outputs with constants), QK fix alone and with GradDrop: max |ours − ref| ≤ 1e-4 · max |ref|;
 *   - AtP* with GradDrop off equals EAP bit for bit on every edge it does not fix, and everywhere with the fix off;
 *   - with Δ scaled down the QK-fixed scores tend to EAP's (the fix is beyond first order), on GPT-2 and on families
 *     with rotary, grouped-query attention, soft-capped attention and a sliding window;
 *   - GradDrop on a one-layer model by hand: (1/N) Σ_examples |I_example| on the edges into the logits (EAP of each
 *     example alone, whose loss lacks the batch's 1/B), 0 on the layer's own inputs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { atpStar } from '../src/attribution/atp-star.js';
import { attribute } from '../src/attribution/attribute.js';
import { eap } from '../src/attribution/eap.js';
import { registerMethod, unregisterMethod } from '../src/attribution/registry.js';
import type { AttributionOptions, LossFn, Method, PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import { makeBatch } from '../src/models/batch.js';
import { loadModel, openFamilyModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import type { CausalLM } from '../src/models/model.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';

const fx = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/atp-l2h4d64.json', import.meta.url)), 'utf8')) as {
  model: { name: string; layers: number; heads: number; dModel: number; seed: number; initStd: number };
  task: string; limit: number; batchSize: number;
  variants: Record<string, { shape: [number, number]; values: number[] }>;
};
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-atp-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const dir = join(tmp, 'm');
makeRandomModel({ ...fx.model, gpt2TokenizerFiles: true }, dir);
const ARCH = fileURLToPath(new URL('../../test/fixtures/arch/', import.meta.url));

async function fixtureRun(e: Engine): Promise<{ model: CausalLM; bs: PairBatch[]; loss: LossFn }> {
  const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
  const task = getTask(fx.task);
  const bs = batches(task.load(fixtureCsv(fx.task), tokenizer, { limit: fx.limit }), fx.batchSize);
  return { model, bs, loss: (l, B, V, y) => lossGrad(task, l, B, V, y as never) };
}

/** Whether destination v is a query or key input. */
function isQK(model: CausalLM, v: number): boolean {
  const { layout } = model;
  if (v === layout.logitsSlot) return false;
  return v - layout.firstSlot(layout.slotLayer(v)) < 2 * layout.nHeads;
}

/** max |a − b| over the destinations `which` keeps, and max |b| there. */
function gap(model: CausalLM, a: Float64Array, b: Float64Array, which: (v: number) => boolean): { err: number; max: number } {
  const { nDst } = model.layout;
  let err = 0, max = 0;
  b.forEach((x, i) => {
    if (!which(i % nDst)) return;
    err = Math.max(err, Math.abs(a[i]! - x));
    max = Math.max(max, Math.abs(x));
  });
  return { err, max };
}

for (const [variant, ref] of Object.entries(fx.variants)) {
  test(`AtP* (${variant}) matches the oracle with each query/key edge patched and its pattern recomputed`, async () => {
    await withEngine({ threads: 2 }, async (e) => {
      const { model, bs, loss } = await fixtureRun(e);
      const gradDrop = variant === 'graddrop=on' ? 'on' : 'off';
      const r = await attribute({ model, batches: bs, method: 'atp-star', loss, options: { gradDrop } });
      assert.deepEqual([r.nSrc, r.nDst, r.points], [...ref.shape, gradDrop === 'on' ? fx.model.layers : 1]);
      const max = Math.max(...ref.values.map(Math.abs));
      let err = 0;
      r.scores.forEach((x, i) => (err = Math.max(err, Math.abs(x - ref.values[i]!))));
      assert.ok(err <= 1e-4 * max, `max |ours − ref| ${err} vs max ${max}`);
      if (gradDrop === 'on') assert.ok(r.scores.every((x) => x >= 0));
      else {
        // the fix matters on this model: its query/key scores are far from EAP's
        const plain = await attribute({ model, batches: bs, method: 'eap', loss });
        const qk = gap(model, r.scores, plain.scores, (v) => isQK(model, v));
        assert.ok(qk.err > 0.5 * qk.max, `QK-fixed scores within ${qk.err} of EAP's (max ${qk.max})`);
      }
      model.dispose();
    });
  });
}

test('AtP* without GradDrop is EAP bit for bit on every edge it does not fix, and everywhere without the fix', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs, loss } = await fixtureRun(e);
    const plain = await attribute({ model, batches: bs, method: 'eap', loss });
    const fixed = await attribute({ model, batches: bs, method: 'atp-star', loss, options: { gradDrop: 'off' } });
    const { nDst } = model.layout;
    let differ = 0;
    plain.scores.forEach((x, i) => {
      if (isQK(model, i % nDst)) differ += x !== fixed.scores[i] ? 1 : 0;
      else assert.equal(fixed.scores[i], x, `edge ${Math.floor(i / nDst)} -> ${i % nDst}`);
    });
    assert.ok(differ > 0);
    const off = await attribute({ model, batches: bs, method: 'atp-star', loss, options: { gradDrop: 'off', qkFix: 'off' } });
    assert.deepEqual(off.scores, plain.scores);
    // micro-batches replace only their own slice's query/key sums
    const sliced = await attribute({ model, batches: bs, method: 'atp-star', loss, options: { gradDrop: 'off', microBatch: 1 } });
    const g = gap(model, sliced.scores, fixed.scores, () => true);
    assert.ok(g.err <= 1e-5 * g.max, `micro-batched ${g.err} vs ${g.max}`);
    model.dispose();
  });
});

/** `base` with Δ = ε·(corrupted − clean): the clean run recorded first, then Δ scaled before the method's passes. */
function scaled(base: Method, eps: number): Method {
  return {
    ...base, name: `${base.name}-eps${eps}`, recordsClean: false,
    run: (ctx) => {
      ctx.e.kernels.scale(ctx.delta.ptr, eps, ctx.delta.ptr, ctx.delta.size);
      return base.run!({ ...ctx, point: (p = {}) => ctx.point({ ...p, recordClean: false }) });
    },
  };
}

/** max |AtP* − EAP| / max |EAP| on query/key edges with Δ scaled by each ε (GradDrop off). */
async function limitGaps(model: CausalLM, bs: PairBatch[], loss: LossFn, epsilons: number[]): Promise<number[]> {
  const out: number[] = [];
  for (const eps of epsilons) {
    const a = scaled(atpStar, eps), b = scaled(eap, eps);
    registerMethod(a);
    registerMethod(b);
    try {
      const options: AttributionOptions = { gradDrop: 'off' };
      const fixed = await attribute({ model, batches: bs, method: a.name, loss, options });
      const plain = await attribute({ model, batches: bs, method: b.name, loss });
      const g = gap(model, fixed.scores, plain.scores, (v) => isQK(model, v));
      out.push(g.err / g.max);
    } finally {
      unregisterMethod(a.name);
      unregisterMethod(b.name);
    }
  }
  return out;
}

test('with Δ scaled down, QK-fixed scores tend to EAP (GPT-2)', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs, loss } = await fixtureRun(e);
    const [big, mid, small] = await limitGaps(model, bs, loss, [1, 1e-2, 1e-3]);
    assert.ok(big! > 0.05, `ε = 1: ${big}`);
    assert.ok(mid! < 0.05 * big! && small! < 0.2 * mid!, `relative gaps ${big}, ${mid}, ${small}`);
    model.dispose();
  });
});

interface ArchExample { clean: number[]; corrupted: number[]; correct: number; incorrect: number }

for (const name of ['llama-l2h6kv2', 'gemma2-sharp-l2h3kv1']) {
  test(`with Δ scaled down, QK-fixed scores tend to EAP (${name}: rotary, grouped-query attention${name.startsWith('gemma2') ? ', soft-capped attention, sliding window' : ''})`, async () => {
    await withEngine({ threads: 2 }, async (e) => {
      const adir = join(ARCH, name);
      const ex = (JSON.parse(readFileSync(join(adir, 'expected.json'), 'utf8')) as { examples: ArchExample[] }).examples;
      const model = openFamilyModel(e, adir, { quiet: true });
      const bs: PairBatch[] = [{ n: ex.length, clean: makeBatch(ex.map((x) => x.clean), 0), corrupted: makeBatch(ex.map((x) => x.corrupted), 0), labels: ex }];
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
      const [mid, small] = await limitGaps(model, bs, loss, [1e-2, 1e-3]);
      assert.ok(mid! < 0.05 && small! < 0.2 * mid!, `relative gaps ${mid}, ${small}`);
      model.dispose();
    });
  });
}

test('GradDrop on one layer by hand: mean |per-example EAP| into the logits, 0 into the dropped layer', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const one = join(tmp, 'one');
    makeRandomModel({ ...fx.model, layers: 1, gpt2TokenizerFiles: true }, one);
    const { model, tokenizer } = await loadModel(e, one, { quiet: true });
    const task = getTask(fx.task);
    const B = 4, rows = task.load(fixtureCsv(fx.task), tokenizer, { limit: 8 });
    const loss: LossFn = (l, b, V, y) => lossGrad(task, l, b, V, y as never);
    const r = await attribute({ model, batches: batches(rows, B), method: 'atp-star', loss, options: { qkFix: 'off' } });
    const { nSrc, nDst, logitsSlot } = model.layout;
    const want = new Float64Array(nSrc * nDst);
    for (const single of batches(rows, 1)) {
      // an example alone: its loss is its own −metric, B times its share of its batch's mean
      const s = (await attribute({ model, batches: [single], method: 'eap', loss })).scores;
      for (let u = 0; u < nSrc; u++) want[u * nDst + logitsSlot]! += Math.abs(s[u * nDst + logitsSlot]!) / (B * rows.length);
    }
    const g = gap(model, r.scores, want, () => true);
    assert.ok(g.max > 0 && g.err <= 1e-5 * g.max, `max |ours − hand| ${g.err} vs ${g.max}`);
    r.scores.forEach((x, i) => i % nDst !== logitsSlot && assert.equal(x, 0));
    model.dispose();
  });
});
