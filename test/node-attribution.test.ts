/**
 * Node- and neuron-level attribution (src/attribution/nodes.ts):
 *   - node score(u) = Σ_v edge score(u→v), the logits edge included, for every gradient method (∂L/∂a_u is the
 *     sum of the gradients at u's readers), on sequential and parallel (GPT-NeoX) blocks;
 *   - neuron scores sum over d to the node scores, and micro-batches do not change them;
 *   - against the PyTorch oracle's gradients at the node outputs (test/fixtures/nodes-l2h4d64.json, gen-nodes.py):
 *     EAP, EAP-IG, clean-corrupted and EAP-GP node and neuron scores within 1e-4 of max |score|;
 *   - information flow routes (no gradients) refuses --level node.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attribute } from '../src/attribution/attribute.js';
import { attributeNodes } from '../src/attribution/nodes.js';
import type { AttributionOptions, MethodName, PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import { Graph } from '../src/graph/graph.js';
import { makeBatch } from '../src/models/batch.js';
import { loadModel, openFamilyModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { UserError } from '../src/util/errors.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-nodes-'));
const dir = join(tmp, 'm');
before(() => makeRandomModel({ layers: 2, heads: 3, dModel: 48, seed: 3, initStd: 0.1 }, dir));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function both(e: Engine, modelDir: string, taskName: string, method: MethodName, options: AttributionOptions = {}, limit = 8, batchSize = 4) {
  const { model, tokenizer } = await loadModel(e, modelDir, { quiet: true });
  const task = getTask(taskName);
  const bs = batches(task.load(fixtureCsv(taskName), tokenizer, { limit }), batchSize);
  const loss = (l: Float32Array, B: number, V: number, y: unknown[]) => lossGrad(task, l, B, V, y as Label[]);
  const edges = await attribute({ model, batches: bs, method, options, loss });
  const nodes = await attributeNodes({ model, batches: bs, method, options, loss, level: 'neuron' });
  const micro = await attributeNodes({ model, batches: bs, method, options: { ...options, microBatch: 1 }, loss, level: 'node' });
  const layout = model.layout;
  model.dispose();
  return { edges, nodes, micro, layout };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

for (const method of ['eap', 'eap-ig', 'clean-corrupted', 'eap-gp', 'eap-ig-activations']) {
  test(`${method}: a node's score is the sum of its outgoing edges' scores; neurons sum to it`, async () => {
    await withEngine({ threads: 2 }, async (e) => {
      const { edges, nodes, micro, layout } = await both(e, dir, 'ioi', method, { steps: 3 });
      const g = Graph.of(layout);
      const rows = new Float64Array(g.nSrc);
      g.forEachEdge((u, v) => (rows[u]! += edges.scores[u * g.nDst + v]!));
      const scale = maxAbs(rows);
      assert.ok(scale > 0);
      for (let u = 0; u < g.nSrc; u++) {
        assert.ok(Math.abs(nodes.nodes[u]! - rows[u]!) <= 1e-5 * scale, `${g.srcName(u)}: node ${nodes.nodes[u]} vs Σ edges ${rows[u]}`);
        // as the edge scores' micro-batch test: BLAS rounds a product's rows by their place in it (Haswell kernels:
        // 1.3e-6 of the scale measured between batches of 1 and of 4), so 1e-5, not bit equality
        assert.ok(Math.abs(micro.nodes[u]! - nodes.nodes[u]!) <= 1e-5 * scale, `${g.srcName(u)}: micro-batches ${micro.nodes[u]} vs ${nodes.nodes[u]}`);
      }
      // neurons differ from one another: the level is not a spread of the node score
      assert.notEqual(nodes.neurons[0], nodes.neurons[1]);
    });
  });
}

interface ArchExample { clean: number[]; corrupted: number[]; correct: number; incorrect: number }
/** L = −mean logit difference, and its gradient. */
const logitDiffLoss = (l: Float32Array, B: number, V: number, y: unknown[]) => {
  const grad = new Float32Array(l.length);
  let loss = 0;
  y.forEach((x, b) => {
    const { correct, incorrect } = x as ArchExample;
    loss -= (l[b * V + correct]! - l[b * V + incorrect]!) / B;
    grad[b * V + correct] = -1 / B;
    grad[b * V + incorrect] = 1 / B;
  });
  return { loss, grad };
};

test('parallel blocks (GPT-NeoX): node score = Σ outgoing edge scores (no a{l}→m{l} edges)', async () => {
  const arch = fileURLToPath(new URL('../../test/fixtures/arch/neox-l2h4', import.meta.url));
  await withEngine({ threads: 2 }, async (e) => {
    const ex = (JSON.parse(readFileSync(join(arch, 'expected.json'), 'utf8')) as { examples: ArchExample[] }).examples;
    const model = openFamilyModel(e, arch, { quiet: true });
    const bs: PairBatch[] = [{ n: ex.length, clean: makeBatch(ex.map((x) => x.clean), 0), corrupted: makeBatch(ex.map((x) => x.corrupted), 0), labels: ex }];
    assert.ok(model.layout.parallelAttnMlp);
    const edges = await attribute({ model, batches: bs, method: 'eap-ig', loss: logitDiffLoss });
    const nodes = await attributeNodes({ model, batches: bs, method: 'eap-ig', loss: logitDiffLoss, level: 'node' });
    const g = Graph.of(model.layout);
    const rows = new Float64Array(g.nSrc);
    g.forEachEdge((u, v) => (rows[u]! += edges.scores[u * g.nDst + v]!));
    const scale = maxAbs(rows);
    assert.ok(scale > 0);
    for (let u = 0; u < g.nSrc; u++) assert.ok(Math.abs(nodes.nodes[u]! - rows[u]!) <= 1e-5 * scale, `${g.srcName(u)}: ${nodes.nodes[u]} vs ${rows[u]}`);
    model.dispose();
  });
});

test('information flow routes and AtP* have no node level', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
    const task = getTask('ioi');
    const bs = batches(task.load(fixtureCsv('ioi'), tokenizer, { limit: 2 }), 2);
    for (const method of ['ifr', 'atp-star']) {
      await assert.rejects(
        attributeNodes({ model, batches: bs, method, loss: (l, B, V, y) => lossGrad(task, l, B, V, y as Label[]), level: 'node' }),
        (err: unknown) => err instanceof UserError && /--level edge/.test(err.message),
        method,
      );
    }
    model.dispose();
  });
});

const FIX = fileURLToPath(new URL('../../test/fixtures/nodes-l2h4d64.json', import.meta.url));
interface NodeFixture {
  model: { name: string; layers: number; heads: number; dModel: number; seed: number; initStd: number };
  limit: number; batchSize: number; steps: number;
  tasks: Record<string, Record<string, { nodes: number[]; neurons: number[] }>>;
}

test('node and neuron scores agree with the PyTorch oracle (gradients at the node outputs) within 1e-4 of max |score|', async () => {
  const fx = JSON.parse(readFileSync(FIX, 'utf8')) as NodeFixture;
  const mdir = join(tmp, fx.model.name);
  makeRandomModel(fx.model, mdir);
  await withEngine({ threads: 2 }, async (e) => {
    for (const [taskName, byMethod] of Object.entries(fx.tasks)) {
      for (const [method, want] of Object.entries(byMethod)) {
        const { model, tokenizer } = await loadModel(e, mdir, { quiet: true });
        const task = getTask(taskName);
        const bs = batches(task.load(fixtureCsv(taskName), tokenizer, { limit: fx.limit }), fx.batchSize);
        const got = await attributeNodes({ model, batches: bs, method, options: { steps: fx.steps }, loss: (l, B, V, y) => lossGrad(task, l, B, V, y as Label[]), level: 'neuron' });
        model.dispose();
        for (const [key, ours] of [['nodes', got.nodes], ['neurons', got.neurons]] as const) {
          const ref = want[key];
          assert.equal(ours.length, ref.length);
          const scale = maxAbs(ref);
          assert.ok(scale > 0, `${taskName} ${method} ${key}: the reference is not all zero`);
          let worst = 0;
          ref.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - ours[i]!))));
          assert.ok(worst <= 1e-4 * scale, `${taskName} ${method} ${key}: max diff ${worst} vs max |score| ${scale}`);
        }
      }
    }
  });
});
