/**
 * Evaluation by edge patching: the identities (all edges ⇒ clean metric, none ⇒ the intervention's own run,
 * computed through a separate code path), agreement with the oracle's greedy and top-n sweeps (metrics within
 * 1e-4 of the metric scale, edge and node counts exact), exact scores = per-edge evaluation, and CPR/CMD.
 */
import assert from 'node:assert/strict';
import type { CausalLM } from '../src/models/model.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exactScores } from '../src/attribution/exact.js';
import { recordSources } from '../src/attribution/sources.js';
import type { PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import { baselines, evaluateCircuits } from '../src/evaluation/evaluate.js';
import { sourceMeans, usesMeans } from '../src/evaluation/means.js';
import type { Intervention } from '../src/evaluation/patching.js';
import { MIB_FRACTIONS, fractionBudgets, sweep } from '../src/evaluation/sweep.js';
import { Graph, parseGraphJson } from '../src/graph/index.js';
import { hookNames, type ForwardHook } from '../src/models/hooks.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { batches, getTask } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/eval-l3h3d48.json', import.meta.url));
const fx = JSON.parse(readFileSync(FIX, 'utf8')) as {
  model: { name: string; layers: number; heads: number; dModel: number; seed: number; initStd: number };
  limit: number; batchSize: number; budgets: number[];
  tasks: Record<string, { graph: unknown } & Record<'greedy' | 'topn', { baseline: number; corrupted_baseline: number; results: { requested: number; edges: number; nodes: number; metric: number }[] }>>;
};
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-eval-'));
const dir = join(tmp, 'm');
before(() => makeRandomModel(fx.model, dir));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function setup(e: Engine, taskName: string) {
  const { model, tokenizer, config } = await loadModel(e, dir, { quiet: true });
  const task = getTask(taskName);
  const bs = batches(task.load(fixtureCsv(taskName), tokenizer, { limit: fx.limit }), fx.batchSize);
  const metric = (l: Float32Array, B: number, V: number, y: unknown[]) => task.metric(l, B, V, y as Label[]);
  return { model, bs, metric, config };
}

/** The metric when every source output is replaced by the intervention's value: a path that patches no edge. */
function allSourcesReplaced(model: CausalLM, bs: readonly PairBatch[], metric: (l: Float32Array, B: number, V: number, y: unknown[]) => Float64Array, intervention: Intervention): number {
  const e = model.engine;
  const { nLayer: L, nHead: H, dModel: D } = model.dims;
  const means = usesMeans(intervention) ? sourceMeans(model, bs, intervention === 'mean-positional') : null;
  const nSrc = model.layout.nSrc;
  let sum = 0, n = 0;
  for (const b of bs) {
    e.tidy(() => {
      const { B, P } = b.clean;
      const R = B * P;
      const corr = e.empty([1 + L * (H + 1), R, D]);
      if (intervention === 'patching') recordSources(e, model, b.corrupted, corr, 1);
      const value = (u: number, count: number): ForwardHook => () => {
        const t = e.empty(count === 1 ? [R, D] : [count, R, D]);
        const f = t.data();
        for (let i = 0; i < count; i++) {
          if (intervention === 'patching') f.set(corr.data().subarray((u + i) * R * D, (u + i + 1) * R * D), i * R * D);
          else if (intervention === 'zero') f.fill(0, i * R * D, (i + 1) * R * D);
          else {
            // padded rows: position r mod P (rows past an example's end are never read by its real positions)
            for (let r = 0; r < R; r++) {
              const p = means!.positional ? Math.min(r % P, means!.positions - 1) : 0;
              f.set(means!.values.subarray((p * nSrc + u + i) * D, (p * nSrc + u + i + 1) * D), (i * R + r) * D);
            }
          }
        }
        return t;
      };
      const hooks: Record<string, ForwardHook> = { [hookNames.embed]: value(0, 1) };
      for (let l = 0; l < L; l++) {
        hooks[hookNames.result(l)] = value(1 + l * (H + 1), H);
        hooks[hookNames.mlpOut(l)] = value(1 + l * (H + 1) + H, 1);
      }
      const logits = model.forward(b.clean, { hooks }).logits!.toArray();
      sum += metric(logits, b.n, model.dims.vocabSize, b.labels).reduce((x, y) => x + y, 0);
      n += b.n;
    });
  }
  return sum / n;
}

test('all edges give the clean metric and no edges the intervention run, for every intervention', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs, metric } = await setup(e, 'ioi');
    const g = new Graph(model.dims.nLayer, model.dims.nHead);
    const none = new Uint8Array(g.nSrc * g.nDst), all = Uint8Array.from(g.realMask);
    const base = baselines(model, bs, metric);
    for (const intervention of ['patching', 'zero', 'mean', 'mean-positional'] as const) {
      const [full, empty] = await evaluateCircuits({ model, batches: bs, metric, circuits: [none, all], intervention });
      const scale = Math.max(Math.abs(base.clean), Math.abs(base.corrupted));
      assert.ok(Math.abs(full! - base.clean) <= 1e-5 * scale, `${intervention}: all edges ${full} vs clean ${base.clean}`);
      const replaced = allSourcesReplaced(model, bs, metric, intervention);
      assert.ok(Math.abs(empty! - replaced) <= 1e-4 * Math.max(scale, Math.abs(replaced)), `${intervention}: no edges ${empty} vs replaced sources ${replaced}`);
      if (intervention === 'patching') assert.ok(Math.abs(empty! - base.corrupted) <= 1e-5 * scale, `no edges ${empty} vs corrupted ${base.corrupted}`);
    }
    const [z, m, mp] = (['zero', 'mean', 'mean-positional'] as const).map((i) => allSourcesReplaced(model, bs, metric, i));
    assert.ok(z !== m && m !== mp && z !== mp, `zero ${z}, mean ${m}, mean-positional ${mp} differ`);
  });
});

test('under an ablation m(∅) is the fully ablated model, and all edges still give the clean metric', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs, metric } = await setup(e, 'ioi');
    const ref = fx.tasks.ioi!;
    const { graph } = parseGraphJson(JSON.stringify(ref.graph), 'fixture', { nLayers: model.dims.nLayer, nHeads: model.dims.nHead });
    const base = baselines(model, bs, metric);
    for (const intervention of ['zero', 'mean-positional'] as const) {
      const r = await sweep({ model, batches: bs, metric, graph, budgets: [5, graph.nEdges], intervention });
      const replaced = allSourcesReplaced(model, bs, metric, intervention);
      const scale = Math.max(Math.abs(base.clean), Math.abs(replaced));
      assert.equal(r.baseline, base.clean);
      assert.ok(Math.abs(r.corrupted - replaced) <= 1e-4 * scale, `${intervention}: m(∅) ${r.corrupted} vs replaced sources ${replaced}`);
      assert.ok(Math.abs(r.corrupted - base.corrupted) > 1e-3 * scale, `${intervention}: m(∅) is not the corrupted run's`);
      assert.ok(Math.abs(r.points[1]!.faithfulness - 1) < 1e-4, `${intervention}: every edge gives F = ${r.points[1]!.faithfulness}`);
    }
  });
});

for (const taskName of Object.keys(fx.tasks)) {
  test(`greedy and top-n sweeps match the oracle (${taskName})`, async () => {
    await withEngine({ threads: 2 }, async (e) => {
      const { model, bs, metric, config } = await setup(e, taskName);
      const ref = fx.tasks[taskName]!;
      const { graph } = parseGraphJson(JSON.stringify(ref.graph), 'fixture', { nLayers: config.nLayer, nHeads: config.nHead });
      for (const select of ['greedy', 'topn'] as const) {
        const r = await sweep({ model, batches: bs, metric, graph, budgets: fx.budgets, select });
        const o = ref[select];
        const scale = Math.max(Math.abs(o.baseline), Math.abs(o.corrupted_baseline));
        assert.ok(Math.abs(r.baseline - o.baseline) <= 1e-5 * scale, `${select}: m(M) ${r.baseline} vs oracle ${o.baseline}`);
        assert.ok(Math.abs(r.corrupted - o.corrupted_baseline) <= 1e-5 * scale, `${select}: m(∅) ${r.corrupted} vs oracle ${o.corrupted_baseline}`);
        r.points.forEach((p, i) => {
          const want = o.results[i]!;
          assert.equal(p.edges, want.edges, `${select} ${want.requested}: edges after pruning`);
          assert.equal(p.nodes, want.nodes, `${select} ${want.requested}: nodes after pruning`);
          assert.ok(Math.abs(p.metric - want.metric) <= 1e-4 * scale, `${select} ${want.requested}: m(C) ${p.metric} vs oracle ${want.metric}`);
        });
      }
    });
  });
}

test('exact scores equal per-edge evaluation; MIB fractions give CPR and CMD', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs, metric } = await setup(e, 'ioi');
    const even = bs.slice(0, 2); // equal batches: the mean of batch means is the mean over examples
    const ex = await exactScores({ model, batches: even, metric });
    const g = new Graph(model.dims.nLayer, model.dims.nHead);
    const base = baselines(model, even, metric).clean;
    const picks = [g.flat(0, 0), g.flat(2, g.nDst - 1), g.flat(1, 3 * model.dims.nHead + 4)].filter((i) => g.realMask[i]);
    assert.equal(picks.length, 3);
    for (const i of picks) {
      const missing = new Uint8Array(g.nSrc * g.nDst);
      missing[i] = 1;
      const [m] = await evaluateCircuits({ model, batches: even, metric, circuits: [missing] });
      // both sides are differences of two float32 runs' metrics (≈ 1e-7 relative each), averaged differently
      assert.ok(Math.abs(ex.scores[i]! - (base - m!)) <= 1e-5 * Math.abs(base), `edge ${i}: exact ${ex.scores[i]} vs ${base - m!}`);
    }
    // with the zero intervention a removed edge carries 0 instead of the corrupted run, in exact scores too
    const exZero = await exactScores({ model, batches: even, metric, intervention: 'zero' });
    for (const i of picks) {
      const missing = new Uint8Array(g.nSrc * g.nDst);
      missing[i] = 1;
      const [m] = await evaluateCircuits({ model, batches: even, metric, circuits: [missing], intervention: 'zero' });
      assert.ok(Math.abs(exZero.scores[i]! - (base - m!)) <= 1e-5 * Math.abs(base), `edge ${i} (zero): exact ${exZero.scores[i]} vs ${base - m!}`);
      assert.ok(Math.abs(exZero.scores[i]! - ex.scores[i]!) > 1e-4 * Math.abs(base), `edge ${i}: zero and patching give the same score`);
    }
    g.setScoresDense(ex.scores);
    const budgets = fractionBudgets(g.nEdges);
    assert.equal(budgets.at(-1), g.nEdges);
    const r = await sweep({ model, batches: even, metric, graph: g, budgets, fractions: MIB_FRACTIONS });
    assert.ok(Math.abs(r.points.at(-1)!.faithfulness - 1) < 1e-4);
    const manual = r.points.slice(1).reduce((s, p, i) => s + ((MIB_FRACTIONS[i + 1]! - MIB_FRACTIONS[i]!) * (p.faithfulness + r.points[i]!.faithfulness)) / 2, 0);
    assert.ok(Math.abs(r.cpr! - manual) < 1e-12);
    assert.ok(r.cmd! >= 0);
  });
});
