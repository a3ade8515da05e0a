/**
 * Evaluation by node and neuron patching (src/evaluation/node-patching.ts), on every kernel path:
 *   - all nodes ⇒ the clean metric, no nodes ⇒ the corrupted metric (baselines computed by evaluate.ts);
 *   - node patching of a selection = edge patching of the edges between its nodes (the edge evaluator, a separate
 *     code path), for the corrupted run and for zero and mean ablation;
 *   - a neuron mask over the input node alone = the clean run with per-dimension mixed token embeddings;
 *   - top-n node / neuron selection and thresholds (counts, ties, unscored nodes kept).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Engine } from '../src/engine/engine.js';
import { baselines, evaluateCircuits } from '../src/evaluation/evaluate.js';
import { evaluateNodeMasks } from '../src/evaluation/node-patching.js';
import { Graph } from '../src/graph/graph.js';
import { NodeGraph } from '../src/graph/node-graph.js';
import { thresholdNodes, topnNodes } from '../src/graph/node-selection.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { batches, getTask } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { fixtureCsv } from './helpers/data.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-node-eval-'));
const dir = join(tmp, 'm');
before(() => makeRandomModel({ layers: 3, heads: 3, dModel: 48, seed: 5, initStd: 0.1 }, dir));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function setup(e: Engine) {
  const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
  const task = getTask('ioi');
  const bs = batches(task.load(fixtureCsv('ioi'), tokenizer, { limit: 8 }), 4);
  const metric = (l: Float32Array, B: number, V: number, y: unknown[]) => task.metric(l, B, V, y as Label[]);
  return { model, bs, metric };
}

/** A node graph of the model's shape whose node i has score `score(i)`. */
function scored(model: { layout: Graph['layout']; dims: { dModel: number } }, level: 'node' | 'neuron', score: (i: number) => number): NodeGraph {
  const D = model.dims.dModel, n = model.layout.nSrc;
  return NodeGraph.fromScores(model.layout, D, level, Array.from({ length: n }, (_, u) => score(u)), Array.from({ length: n * D }, (_, i) => score(i)));
}

for (const { label, opts } of ENGINE_VARIANTS) {
  test(`${label}: all nodes give the clean metric, none the corrupted one`, async () => {
    await withEngine(opts, async (e) => {
      const { model, bs, metric } = await setup(e);
      const base = baselines(model, bs, metric);
      const g = scored(model, 'node', (u) => u);
      g.fill();
      const full = g.keepMask();
      g.clear();
      const r = evaluateNodeMasks({ model, batches: bs, metric, masks: [full, g.keepMask()] });
      const scale = Math.max(Math.abs(base.clean), Math.abs(base.corrupted));
      assert.ok(Math.abs(r.values[0]! - base.clean) <= 1e-5 * scale, `all nodes ${r.values[0]} vs clean ${base.clean}`);
      assert.ok(Math.abs(r.values[1]! - base.corrupted) <= 1e-5 * scale, `no nodes ${r.values[1]} vs corrupted ${base.corrupted}`);
      assert.ok(Math.abs(r.base.corrupted - base.corrupted) <= 1e-5 * scale && Math.abs(r.base.clean - base.clean) <= 1e-5 * scale);
      assert.ok(Math.abs(r.faithfulness[0]! - 1) < 1e-4 && Math.abs(r.faithfulness[1]!) < 1e-4, `F = ${r.faithfulness}`);
      model.dispose();
    });
  });
}

test('node patching equals edge patching of the edges between the kept nodes (corrupted run, zero and mean ablation)', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs, metric } = await setup(e);
    // scores that keep a mix of heads, MLPs and the input
    const g = scored(model, 'node', (u) => ((u * 7919) % 13) - 6);
    topnNodes(g, 6);
    assert.equal(g.countNodes(), 6);
    const edges = g.inducedEdges();
    const missing = new Uint8Array(edges.nSrc * edges.nDst);
    edges.forEachEdge((u, v) => (missing[u * edges.nDst + v] = edges.edgeInGraph(u, v) ? 0 : 1));
    for (const intervention of ['patching', 'zero', 'mean'] as const) {
      const [viaEdges] = await evaluateCircuits({ model, batches: bs, metric, circuits: [missing], intervention });
      const viaNodes = evaluateNodeMasks({ model, batches: bs, metric, masks: [g.keepMask()], intervention });
      const scale = Math.max(Math.abs(viaNodes.base.clean), Math.abs(viaNodes.base.corrupted));
      assert.ok(Math.abs(viaNodes.values[0]! - viaEdges!) <= 1e-5 * scale, `${intervention}: nodes ${viaNodes.values[0]} vs induced edges ${viaEdges}`);
      assert.ok(Math.abs(viaNodes.values[0]! - viaNodes.base.clean) > 1e-3 * scale, `${intervention}: the selection changes the metric`);
    }
    model.dispose();
  });
});

test('a neuron mask over the input node = the clean run with per-dimension mixed token embeddings', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs, metric } = await setup(e);
    const D = model.dims.dModel, V = model.dims.vocabSize;
    const g = scored(model, 'neuron', () => 1);
    g.fill();
    for (let d = 0; d < D; d += 3) g.neuronInGraph![d] = 0; // input: every third dimension takes the corrupted value
    const r = evaluateNodeMasks({ model, batches: bs, metric, masks: [g.keepMask()] });
    let sum = 0, n = 0;
    for (const b of bs) {
      e.tidy(() => {
        const clean = model.embed(b.clean.ids).toArray(), corr = model.embed(b.corrupted.ids).toArray();
        for (let i = 0; i < clean.length; i++) if ((i % D) % 3 === 0) clean[i] = corr[i]!;
        const logits = model.forward(b.clean, { embeds: e.fromArray(clean, [b.clean.ids.length, D]), logits: 'last' }).logits!.toArray();
        sum += metric(logits, b.n, V, b.labels).reduce((s, x) => s + x, 0);
        n += b.n;
      });
    }
    const scale = Math.max(Math.abs(r.base.clean), Math.abs(r.base.corrupted));
    assert.ok(Math.abs(r.values[0]! - sum / n) <= 1e-5 * scale, `neuron mask ${r.values[0]} vs mixed embeddings ${sum / n}`);
    assert.ok(Math.abs(r.values[0]! - r.base.clean) > 1e-4 * scale, 'the mask changes the metric');
    model.dispose();
  });
});

test('top-n and threshold at the node and neuron levels', () => {
  const g = new NodeGraph(new Graph(1, 2), 4, 'neuron');
  // nodes: input, a0.h0, a0.h1, m0
  g.nodeScores.set([0.5, -2, 1, NaN]);
  g.neuronScores!.set([0.1, -0.4, 0.4, 0, /**/ 3, 0, 0, 0, /**/ -1, 1, NaN, 0.2, /**/ 0, 0, 0, 0]);
  // the 3 largest |score|: a0.h0[0] (3), then the tie at 1 by index: a0.h1[0], a0.h1[1]
  assert.deepEqual(topnNodes(g, 3), { nodes: 2, neurons: 4 }); // + the unscored a0.h1[2]
  assert.deepEqual(Array.from(g.neuronInGraph!.subarray(4, 12)), [1, 0, 0, 0, 1, 1, 1, 0]);
  assert.deepEqual(thresholdNodes(g, 0.4), { nodes: 3, neurons: 6 }); // input −0.4, 0.4; a0.h0 3; a0.h1 −1, 1, NaN
  assert.deepEqual(thresholdNodes(g, 0.4, { absolute: false }), { nodes: 3, neurons: 4 }); // 0.4; 3; 1, NaN
  const n = NodeGraph.fromScores(g.layout, 4, 'node', [0.5, -2, 1, NaN]);
  assert.deepEqual(topnNodes(n, 1), { nodes: 2, neurons: 8 }); // a0.h0 and the unscored m0
  assert.deepEqual(Array.from(n.nodeInGraph), [0, 1, 0, 1]);
  assert.deepEqual(topnNodes(n, 2, { absolute: false }), { nodes: 3, neurons: 12 }); // 1, 0.5, and m0
  assert.throws(() => topnNodes(n, 4), /0\.\.3/);
  // induced edges: a0.h0 and m0 kept → a0.h0->m0, a0.h0->logits, m0->logits
  topnNodes(n, 1);
  const names: string[] = [];
  const e = n.inducedEdges();
  e.forEachEdge((u, v) => e.edgeInGraph(u, v) && names.push(e.edgeName(u, v)));
  assert.deepEqual(names, ['a0.h0->m0', 'a0.h0->logits', 'm0->logits']);
});
