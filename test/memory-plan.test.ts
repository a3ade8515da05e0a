/**
 * The micro-batch memory plan (src/attribution/memory-plan.ts): its per-example estimate bounds the heap's
 * measured high-water mark for every method, evaluation and the baselines, on shapes where P·D or H·P² dominates
 * and at several prompt lengths; a batch that does not fit is split (same scores); one example that does not
 * fit is a clear error naming what helps.
 */
import assert from 'node:assert/strict';
import type { CausalLM } from '../src/models/model.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { attribute, methodPoints } from '../src/attribution/attribute.js';
import { gradientRows } from '../src/attribution/gradients.js';
import { bytesPerExample } from '../src/attribution/memory-plan.js';
import { GraphLayout } from '../src/models/layout.js';
import type { MethodName, PairBatch } from '../src/attribution/types.js';
import { baselines, evaluateCircuits } from '../src/evaluation/evaluate.js';
import { patchBuffers, patchPlan, type PatchPlan } from '../src/evaluation/patch-plan.js';
import type { MetricFn } from '../src/evaluation/patching.js';
import { OutOfMemoryError } from '../src/engine/memory.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { batches, getTask, lossGrad, taskMetric } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { withEngine } from './helpers/engines.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-memplan-'));
const task = getTask('custom');
const SHAPES = [
  { name: 'h4d64', layers: 2, heads: 4, dModel: 64 }, // attention (H·P²) dominates at long prompts
  { name: 'h12d96', layers: 2, heads: 12, dModel: 96 },
  { name: 'h12d768', layers: 1, heads: 12, dModel: 768 }, // GPT-2 small's width: the buffers (P·D) dominate
];
/** Sentences of 17 tokens: the prompts have 1 + 17·reps + 6 tokens. */
const REPS = [2, 16];

function writeCsv(reps: number): string {
  const s = ' When Mary and John went to the store, Mary bought milk and John bought bread.'.repeat(reps);
  const rows = ['clean,corrupted,answer,wrong'];
  for (let i = 0; i < 2; i++) rows.push(`"${s} Then, John gave a drink to","${s} Then, Mary gave a drink to",5335,1757`);
  const f = join(tmp, `r${reps}.csv`);
  writeFileSync(f, rows.join('\n') + '\n');
  return f;
}

before(() => {
  for (const s of SHAPES) makeRandomModel({ layers: s.layers, heads: s.heads, dModel: s.dModel, seed: 2, initStd: 0.1 }, join(tmp, s.name));
});
after(() => rmSync(tmp, { recursive: true, force: true }));


const METHODS: MethodName[] = ['eap', 'eap-ig', 'eap-gp', 'eap-ig-activations', 'clean-corrupted'];
const loss = (l: Float32Array, B: number, V: number, y: unknown[]) => lossGrad(task, l, B, V, y as Label[]);

/** Heap bytes above the model's weights that `fn` needed, on a fresh engine (no holes to hide in). */
async function measure(shape: string, reps: number, fn: (model: CausalLM, batch: PairBatch) => Promise<unknown> | unknown) {
  return withEngine({ threads: 2 }, async (e) => {
    const { model, tokenizer } = await loadModel(e, join(tmp, shape), { quiet: true });
    const [batch] = batches(task.load(writeCsv(reps), tokenizer), 2) as PairBatch[];
    e.heap.resetPeak();
    const base = e.heap.peakTop;
    await fn(model, batch!);
    return { used: e.heap.peakTop - base, P: batch!.clean.P, dims: model.dims };
  });
}

test('the per-example estimate bounds the measured heap high-water mark (every method, evaluation, baselines)', async () => {
  const metric: MetricFn = (l, B, V, y) => taskMetric(l, B, V, y as Label[]);
  for (const s of SHAPES) {
    for (const reps of REPS) {
      const longest = reps === REPS[REPS.length - 1];
      const check = (label: string, r: { used: number; P: number }, perExample: number, tight = longest) => {
        const bound = 2 * perExample; // batches of 2
        if (process.env.MP_DEBUG) console.log(s.name, r.P, label, r.used, bound, (r.used / bound).toFixed(2));
        assert.ok(r.used <= bound, `${s.name} P=${r.P} ${label}: used ${r.used} > estimate ${bound}`);
        // tight enough to be useful where memory matters (long prompts; short ones are dominated by the
        // logits' constant share): never more than 2× what is used
        if (tight) assert.ok(bound <= 2 * r.used, `${s.name} P=${r.P} ${label}: estimate ${bound} is over 2× the ${r.used} used`);
      };
      for (const method of METHODS) {
        const r = await measure(s.name, reps, (model, batch) => attribute({ model, batches: [batch], method, loss, options: { steps: 2, microBatch: 2 } }));
        const layout = new GraphLayout({ nLayers: r.dims.nLayer, nHeads: r.dims.nHead });
        const buffers = layout.nSrc + gradientRows(layout) + (method === 'eap-ig-activations' ? layout.nSrc : 0);
        check(method, r, bytesPerExample(r.dims, r.P, { buffers, taped: true, retained: method === 'eap-gp', passes: methodPoints(method, r.dims.nLayer, { steps: 2 }), headCopies: method === 'eap-ig-activations' ? 'outputs' : 'none' }));
      }
      // edge patching with every head reading its own input where the graph allows (a random half of the edges missing)
      let widest: PatchPlan[] = [];
      const ev = await measure(s.name, reps, (model, batch) => {
        let x = 12345;
        const half = Uint8Array.from({ length: model.layout.nSrc * model.layout.nDst }, () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 30) & 1);
        widest = [patchPlan(model.layout, half)];
        // prompts that differ from their second token on: no shared clean prefix to skip, the estimate's worst case
        const corrupted = { ...batch.corrupted, ids: batch.corrupted.ids.slice() };
        for (let b = 0; b < corrupted.B; b++) corrupted.ids[b * corrupted.P + 1] = corrupted.ids[b * corrupted.P + 1] === 11 ? 13 : 11;
        return evaluateCircuits({ model, batches: [{ ...batch, corrupted }], metric, circuits: [half] });
      });
      check('evaluation', ev, bytesPerExample(ev.dims, ev.P, { buffers: patchBuffers(new GraphLayout({ nLayers: ev.dims.nLayer, nHeads: ev.dims.nHead }), widest), taped: false, headCopies: 'none' }));
      const bl = await measure(s.name, reps, (model, batch) => baselines(model, [batch], metric));
      check('baselines', bl, bytesPerExample(bl.dims, bl.P, { buffers: 0, taped: false, headCopies: 'none' }), false);
    }
  }
});

async function igScores(model: CausalLM, b: PairBatch[], microBatch?: number) {
  return (await attribute({ model, batches: b, method: 'eap-ig', loss, options: { steps: 2, microBatch } })).scores;
}

/** EAP-IG on two examples of 280 tokens, in a heap of `room(used)` bytes above the model (used: what 2 examples need). */
async function constrained(room: (used: number) => number, microBatch?: number) {
  const dir = join(tmp, 'h12d96');
  const free = await withEngine({ threads: 2 }, async (e) => {
    const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
    const b = batches(task.load(writeCsv(16), tokenizer), 2) as PairBatch[];
    const top = e.heap.peakTop;
    e.heap.resetPeak();
    const scores = await igScores(model, b);
    return { top, used: e.heap.peakTop - top, scores };
  });
  let failures = 0;
  const scores = withEngine({ threads: 2, maxMemory: free.top + room(free.used) }, async (e) => {
    const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
    const alloc = e.heap.alloc.bind(e.heap);
    e.heap.alloc = (n: number) => {
      try {
        return alloc(n);
      } catch (err) {
        if (err instanceof OutOfMemoryError) failures++;
        throw err;
      }
    };
    return igScores(model, batches(task.load(writeCsv(16), tokenizer), 2) as PairBatch[], microBatch);
  });
  return { free: free.scores, scores, failures: () => failures };
}

test('a batch too big for the heap is split after an out-of-memory error, with the same scores', async () => {
  // room for one example's passes but not two; the forced micro-batch of 2 runs out of memory first
  const r = await constrained((used) => 0.75 * used, 2);
  // slices are products of other shapes, equal to float32 rounding (BLAS kernels round shape tails differently):
  // the suite's float32 tolerance for scores, 1e-4 of the largest (as against the oracle)
  const got = await r.scores;
  const max = r.free.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - r.free[i]!)), 0);
  assert.ok(max > 0 && worst <= 1e-4 * max, `split vs whole: max |difference| ${worst} of max |score| ${max}`);
  assert.ok(r.failures() > 0, 'the micro-batch of 2 did run out of memory');
});

test('one example that does not fit is a clear error naming the prompt length and what helps', async () => {
  // far too small: refused before any pass runs (no out-of-memory error on the way)
  const hopeless = await constrained((used) => 0.05 * used);
  await assert.rejects(hopeless.scores, /one example of 280 tokens needs about/);
  assert.equal(hopeless.failures(), 0);
  // close: tried, and refused after the single example ran out of memory
  const r = await constrained((used) => 0.4 * used);
  await assert.rejects(r.scores, (err: Error) => {
    assert.equal(err.name, 'UserError');
    assert.match(err.message, /eap-ig on 2 layers × 12 heads × d 96, batch 1: one example of 280 tokens needs about [\d.]+ MiB/);
    assert.match(err.message, /shorter prompts/);
    assert.match(err.message, /EAPGP_STREAM_WEIGHTS=1/);
    return true;
  });
  assert.ok(r.failures() > 0, 'the example was tried');
});
