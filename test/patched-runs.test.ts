/**
 * The patched forward pass (patch-plan.ts, patching.ts, the models' distinct head inputs) against the plain
 * definition run through the per-head forward hooks: every destination's input plus Σ_{u missing} (ã_u − a*_u),
 * one full masked product per destination group, one circuit at a time. Circuits of every density (none, all,
 * random, greedy, single edges, repeats) evaluated together must equal that within 1e-6 of the metric's scale,
 * on GPT-2 and on two families (grouped k/v, parallel blocks), on every kernel path; all edges must give the
 * clean run's metric exactly, and equal circuits the same value.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { packPair } from '../src/attribution/micro.js';
import type { PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import { baselines, evaluateCircuits } from '../src/evaluation/evaluate.js';
import { patchedFinals } from '../src/evaluation/patched-run.js';
import { patchesNothing, patchPlan } from '../src/evaluation/patch-plan.js';
import { interventionCache, patchedLogits, sharedPrefix, type MetricFn, type MissingEdges } from '../src/evaluation/patching.js';
import { sweep, sweepCircuits } from '../src/evaluation/sweep.js';
import { Graph } from '../src/graph/index.js';
import { makeBatch } from '../src/models/batch.js';
import { loadModel, openFamilyModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import type { CausalLM } from '../src/models/model.js';
import { batches, getTask } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { fixtureCsv } from './helpers/data.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';
import { patchedLogitsByHooks } from './helpers/patched-by-hooks.js';

const ARCH = fileURLToPath(new URL('../../test/fixtures/arch/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-patched-'));
const gpt2Dir = join(tmp, 'gpt2');
before(() => makeRandomModel({ layers: 3, heads: 3, dModel: 48, seed: 5, initStd: 0.2 }, gpt2Dir));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The definition, one destination group at a time through the per-head hooks: last-position logits. */
function plainPatchedLogits(model: CausalLM, batch: PairBatch, missing: MissingEdges): Float32Array {
  return model.engine.tidy(() => patchedLogitsByHooks(model, batch.clean, interventionCache(model, batch, 'patching'), missing));
}

function plainMetric(model: CausalLM, bs: readonly PairBatch[], metric: MetricFn, missing: MissingEdges): number {
  let sum = 0, n = 0;
  for (const b of bs) {
    const p = packPair(b);
    sum += metric(plainPatchedLogits(model, p, missing), p.n, model.dims.vocabSize, p.labels).reduce((x, y) => x + y, 0);
    n += b.n;
  }
  return sum / n;
}

/** A deterministic generator in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Circuits of every kind: none and all edges in, random densities, greedy and top-n budgets, single edges, repeats. */
function circuits(model: CausalLM): MissingEdges[] {
  const g = Graph.of(model.layout), real = g.realMask, n = g.nSrc * g.nDst;
  const rand = rng(7);
  const random = (pMissing: number) => Uint8Array.from({ length: n }, (_, i) => (real[i] && rand() < pMissing ? 1 : 0));
  const single = (f: number) => Uint8Array.from({ length: n }, (_, i) => (i === f ? 1 : 0));
  const edges = g.edgeFlatIndices();
  g.setScoresDense(Float64Array.from({ length: n }, (_, i) => (real[i] ? rand() - 0.5 : 0)));
  const e = g.nEdges;
  const picked = [...sweepCircuits({ graph: g, budgets: [1, 3, Math.round(e / 10), Math.round(e / 2), e - 2], select: 'greedy' }),
    ...sweepCircuits({ graph: g, budgets: [5, Math.round(e / 4)], select: 'topn' })].map((c) => c.missing);
  const list = [new Uint8Array(n), Uint8Array.from(real), random(0.02), random(0.3), random(0.7), random(0.97), ...picked,
    single(edges[0]!), single(edges[Math.floor(edges.length / 2)]!), single(edges.at(-1)!)];
  return [...list, list[3]!, Uint8Array.from(list[6]!)]; // repeats: the same array and an equal copy
}

async function check(label: string, model: CausalLM, bs: readonly PairBatch[], metric: MetricFn): Promise<void> {
  const cs = circuits(model);
  const together = await evaluateCircuits({ model, batches: bs, metric, circuits: cs });
  const base = baselines(model, bs, metric);
  const scale = Math.max(Math.abs(base.clean), Math.abs(base.corrupted));
  assert.ok(scale > 0 && base.clean !== base.corrupted, `${label}: degenerate baselines`);
  assert.equal(together[0], base.clean, `${label}: all edges in ⇒ the clean run's metric, exactly`);
  assert.ok(Math.abs(together[1]! - base.corrupted) <= 1e-5 * scale, `${label}: no edges ⇒ corrupted (${together[1]} vs ${base.corrupted})`);
  cs.forEach((m, i) => {
    const want = plainMetric(model, bs, metric, m);
    assert.ok(Math.abs(together[i]! - want) <= 1e-6 * scale, `${label} circuit ${i}: ${together[i]} vs one at a time ${want} (scale ${scale})`);
  });
  assert.equal(together.at(-2), together[3], `${label}: a repeated circuit gives the same value`);
  assert.equal(together.at(-1), together[6], `${label}: an equal circuit gives the same value`);
  // alone, each circuit gives what it gives among the others: up to the rounding of its rows' place in a stacked
  // pass (OpenBLAS's kernels round a product's row by its position among the rows; the WebAssembly GEMM does not)
  for (const i of [2, 7, 12]) {
    const alone = (await evaluateCircuits({ model, batches: bs, metric, circuits: [cs[i]!] }))[0]!;
    assert.ok(Math.abs(alone - together[i]!) <= 1e-6 * scale, `${label} circuit ${i} alone: ${alone} vs ${together[i]}`);
  }
  // without stacking (exact patching's setting) the value of a circuit is its run alone, bit for bit
  const unstacked = await evaluateCircuits({ model, batches: bs, metric, circuits: cs, stack: false });
  for (const i of [2, 7, 12]) assert.equal((await evaluateCircuits({ model, batches: bs, metric, circuits: [cs[i]!], stack: false }))[0], unstacked[i], `${label} circuit ${i} alone, unstacked`);
}

for (const v of ENGINE_VARIANTS) {
  test(`GPT-2: circuits evaluated together equal the per-head-hook definition one at a time (${v.label})`, async () => {
    await withEngine(v.opts, async (e: Engine) => {
      const { model, tokenizer } = await loadModel(e, gpt2Dir, { quiet: true });
      const task = getTask('ioi');
      const bs = batches(task.load(fixtureCsv('ioi'), tokenizer, { limit: 6 }), 4);
      await check('gpt2', model, bs, (l, B, V, y) => task.metric(l, B, V, y as Label[]));
      model.dispose();
    });
  });
}

interface Example { clean: number[]; corrupted: number[]; correct: number; incorrect: number }
const logitDiff: MetricFn = (l, B, V, y) => Float64Array.from({ length: B }, (_, b) => l[b * V + (y[b] as Example).correct]! - l[b * V + (y[b] as Example).incorrect]!);

for (const name of ['llama-l2h3kv1', 'neox-l2h4']) {
  test(`${name}: circuits evaluated together equal the per-head-hook definition one at a time`, async () => {
    for (const v of ENGINE_VARIANTS.slice(0, 2)) {
      await withEngine(v.opts, async (e) => {
        const dir = join(ARCH, name);
        const ex = (JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { examples: Example[] }).examples;
        const model = openFamilyModel(e, dir, { quiet: true });
        const pb: PairBatch = { n: ex.length, clean: makeBatch(ex.map((x) => x.clean), 0), corrupted: makeBatch(ex.map((x) => x.corrupted), 0), labels: ex };
        await check(`${name} (${v.label})`, model, [pb], logitDiff);
        model.dispose();
      });
    }
  });
}

test('a patched run over the rows after the shared clean prefix gives the full run\'s logits (every kernel path)', async () => {
  for (const v of ENGINE_VARIANTS) {
    await withEngine(v.opts, async (e) => {
      const { model, tokenizer } = await loadModel(e, gpt2Dir, { quiet: true });
      const task = getTask('ioi');
      const [b] = batches(task.load(fixtureCsv('ioi'), tokenizer, { limit: 3 }), 3);
      // example 0: prompts equal (nothing to patch but its last row); example 1: they differ at the first token
      const ids = (x: PairBatch['clean'], b: number) => Array.from(x.ids.subarray(b * x.P, b * x.P + x.lengths[b]!));
      const clean = [0, 1, 2].map((i) => ids(b!.clean, i)), corrupted = [0, 1, 2].map((i) => ids(b!.corrupted, i));
      corrupted[0] = clean[0]!;
      corrupted[1] = [clean[1]![0]! === 11 ? 13 : 11, ...corrupted[1]!.slice(1)];
      const pair = packPair({ n: 3, clean: makeBatch(clean), corrupted: makeBatch(corrupted), labels: b!.labels });
      const arena = e.beginArena(); // the subset's attention inputs live as long as it
      const rows = sharedPrefix(model, pair);
      assert.ok(rows && rows.keep.length < pair.clean.ids.length && rows.keep.length > pair.clean.lengths[1]!, 'a subset that keeps example 1 whole');
      for (const m of circuits(model).slice(0, 8)) {
        const full = patchedLogits({ model, batch: pair, missing: m, intervention: 'patching' });
        const part = patchedLogits({ model, batch: pair, missing: m, intervention: 'patching', rows });
        const scale = full.reduce((s, x) => Math.max(s, Math.abs(x)), 0);
        full.forEach((x, i) => assert.ok(Math.abs(part[i]! - x) <= 1e-6 * scale, `${v.label}: logit ${i}: ${part[i]} vs ${x}`));
      }
      e.endArena(arena);
      model.dispose();
    });
  }
});

test('a sweep whose budgets prune to equal circuits gives each budget the value of its circuit', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, tokenizer } = await loadModel(e, gpt2Dir, { quiet: true });
    const task = getTask('ioi');
    const bs = batches(task.load(fixtureCsv('ioi'), tokenizer, { limit: 4 }), 4);
    const metric: MetricFn = (l, B, V, y) => task.metric(l, B, V, y as Label[]);
    const g = Graph.of(model.layout);
    const rand = rng(3);
    g.setScoresDense(Float64Array.from({ length: g.nSrc * g.nDst }, (_, i) => (g.realMask[i] ? rand() - 0.5 : 0)));
    const budgets = [2, 2, 40, 3, 40, g.nEdges];
    let runs = 0;
    const r = await sweep({ model, batches: bs, metric, graph: g, budgets, onRun: () => runs++ });
    assert.equal(runs, budgets.length * bs.length, 'every (budget, batch) is reported as a run');
    // equal circuits run once: their budgets get the same value exactly
    assert.equal(r.points[0]!.metric, r.points[1]!.metric);
    assert.equal(r.points[2]!.metric, r.points[4]!.metric);
    const scale = Math.max(Math.abs(r.baseline), Math.abs(r.corrupted));
    for (const [i, b] of budgets.entries()) {
      const alone = await sweep({ model, batches: bs, metric, graph: g, budgets: [b] });
      // alone, up to the rounding of a stacked pass (see the test above)
      assert.ok(Math.abs(r.points[i]!.metric - alone.points[0]!.metric) <= 1e-6 * scale, `budget ${b}: ${r.points[i]!.metric} vs ${alone.points[0]!.metric}`);
      assert.equal(r.points[i]!.edges, alone.points[0]!.edges);
    }
    model.dispose();
  });
});

test('circuits stacked along the batch: circuit c of a stacked run equals its run alone, with and without a shared prefix (every kernel path)', async () => {
  for (const v of ENGINE_VARIANTS) {
    await withEngine(v.opts, async (e) => {
      const { model, tokenizer } = await loadModel(e, gpt2Dir, { quiet: true });
      const task = getTask('ioi');
      const pair = packPair(batches(task.load(fixtureCsv('ioi'), tokenizer, { limit: 3 }), 3)[0]!);
      const plans = circuits(model).slice(2, 9).map((m) => patchPlan(model.layout, m)).filter((p) => !patchesNothing(p));
      const arena = e.beginArena();
      try {
        for (const rows of [sharedPrefix(model, pair), null]) {
          assert.ok(rows === null || rows.keep.length < pair.clean.ids.length, 'the IOI prompts share a clean prefix');
          const cache = interventionCache(model, pair, 'patching', undefined, rows);
          const D = model.dims.dModel, n = pair.n;
          const alone = plans.map((p) => patchedFinals({ model, input: pair.clean, plans: [p], cache, rows: rows ?? undefined }).toArray());
          // reversed, so that a block read at the wrong offset gives another circuit's values
          const stacked = patchedFinals({ model, input: pair.clean, plans: [...plans].reverse(), cache, rows: rows ?? undefined }).toArray();
          assert.equal(stacked.length, plans.length * n * D);
          const scale = alone.flatMap((a) => Array.from(a)).reduce((s, x) => Math.max(s, Math.abs(x)), 0);
          plans.forEach((_, i) => {
            const block = stacked.subarray((plans.length - 1 - i) * n * D, (plans.length - i) * n * D);
            alone[i]!.forEach((x, j) => assert.ok(Math.abs(block[j]! - x) <= 1e-6 * scale, `${v.label} ${rows ? 'subset' : 'every row'}: circuit ${i} value ${j}: ${block[j]} vs ${x}`));
          });
          assert.ok(alone.some((a) => a.some((x, j) => Math.abs(x - alone[0]![j]!) > 1e-3 * scale)), 'the circuits differ');
        }
      } finally {
        e.endArena(arena);
        model.dispose();
      }
    });
  }
});
