/**
 * MLP neurons (attribute --level mlp-neuron; src/attribution/mlp-neurons.ts) and MLP-neuron patching:
 *   - against the PyTorch oracle's autograd gradients at gelu_new's outputs (test/fixtures/nodes-l2h4d64.json,
 *     gen-nodes.py): EAP, EAP-IG, clean-corrupted and EAP-GP within 1e-4 of max |score|;
 *   - Σ_j s(l, j) = the MLP node's score for every method with a node level, on GPT-2 and on the NeoX
 *     (parallel and sequential), Llama, Mistral and Qwen2 fixtures; the node scores are the node level's;
 *   - the gated and NeoX paths against our own tape's gradient at blocks.L.mlp.hook_post (EAP);
 *   - Gemma 2 (post-MLP norm) and ablation baselines are UserErrors;
 *   - patching on every kernel path: all units ⇒ the clean metric; none ⇒ node patching with every MLP node out
 *     and every other node in (GPT-2 and a gated family); a top-n selection lies strictly between;
 *   - JSON: the extra keys round-trip, EAP-IG's keys unchanged; bad lengths are UserErrors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attributeNodes } from '../src/attribution/nodes.js';
import { scoresNodes } from '../src/attribution/method-docs.js';
import { methods } from '../src/attribution/registry.js';
import { recordSources } from '../src/attribution/sources.js';
import type { PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import { evaluateNodeMasks } from '../src/evaluation/node-patching.js';
import type { MetricFn } from '../src/evaluation/patching.js';
import { Graph } from '../src/graph/graph.js';
import { NodeGraph } from '../src/graph/node-graph.js';
import { nodeGraphJsonString, parseNodeGraphJson } from '../src/graph/node-json.js';
import { topnMlpNeurons } from '../src/graph/node-selection.js';
import { makeBatch } from '../src/models/batch.js';
import { hookNames } from '../src/models/hooks.js';
import { loadModel, openFamilyModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import type { CausalLM } from '../src/models/model.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { UserError } from '../src/util/errors.js';
import { fixtureCsv } from './helpers/data.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-mlpn-'));
const dir = join(tmp, 'm');
before(() => makeRandomModel({ layers: 2, heads: 3, dModel: 48, seed: 3, initStd: 0.1 }, dir));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ARCH = (name: string) => fileURLToPath(new URL(`../../test/fixtures/arch/${name}`, import.meta.url));

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

async function gpt2Setup(e: Engine, modelDir = dir, taskName = 'ioi', limit = 8) {
  const { model, tokenizer } = await loadModel(e, modelDir, { quiet: true });
  const task = getTask(taskName);
  const bs = batches(task.load(fixtureCsv(taskName), tokenizer, { limit }), 4);
  const loss = (l: Float32Array, B: number, V: number, y: unknown[]) => lossGrad(task, l, B, V, y as Label[]);
  const metric = (l: Float32Array, B: number, V: number, y: unknown[]) => task.metric(l, B, V, y as Label[]);
  return { model, bs, loss, metric };
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
const logitDiff = (l: Float32Array, B: number, V: number, y: unknown[]) => {
  const out = new Float64Array(B);
  (y as ArchExample[]).forEach((x, b) => (out[b] = l[b * V + x.correct]! - l[b * V + x.incorrect]!));
  return out;
};

function archSetup(e: Engine, name: string): { model: CausalLM; bs: PairBatch[] } {
  const ex = (JSON.parse(readFileSync(join(ARCH(name), 'expected.json'), 'utf8')) as { examples: ArchExample[] }).examples;
  const model = openFamilyModel(e, ARCH(name), { quiet: true });
  return { model, bs: [{ n: ex.length, clean: makeBatch(ex.map((x) => x.clean), 0), corrupted: makeBatch(ex.map((x) => x.corrupted), 0), labels: ex }] };
}

/** Σ_j of each layer's unit scores against the MLP node's score, and the node scores against the node level's. */
function assertSumsToNodes(model: CausalLM, r: Awaited<ReturnType<typeof attributeNodes>>, plain: Awaited<ReturnType<typeof attributeNodes>>, what: string): void {
  const L = model.dims.nLayer, F = r.mlp!.width, scale = maxAbs(r.nodes);
  assert.equal(F, model.dMlp);
  assert.ok(scale > 0, `${what}: scores are not all zero`);
  for (let u = 0; u < r.nSrc; u++) assert.ok(Math.abs(r.nodes[u]! - plain.nodes[u]!) <= 1e-6 * scale, `${what}: node ${u} ${r.nodes[u]} vs the node level's ${plain.nodes[u]}`);
  for (let l = 0; l < L; l++) {
    let s = 0;
    for (let j = 0; j < F; j++) s += r.mlp!.scores[l * F + j]!;
    const node = r.nodes[model.layout.mlp(l)]!;
    assert.ok(Math.abs(s - node) <= 1e-5 * scale, `${what}: Σ_j m${l} units ${s} vs the node's ${node}`);
  }
  // the units differ from one another: not a spread of the node score
  assert.notEqual(r.mlp!.scores[0], r.mlp!.scores[1]);
}

const NODE_METHODS = methods().filter(scoresNodes).map((m) => m.name);

test('every method with a node level: a layer\'s MLP-neuron scores sum to its MLP node score (GPT-2)', async () => {
  assert.ok(NODE_METHODS.length >= 6, NODE_METHODS.join(', '));
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs, loss } = await gpt2Setup(e);
    for (const method of NODE_METHODS) {
      const options = { steps: 3 };
      const r = await attributeNodes({ model, batches: bs, method, options, loss, level: 'mlp-neuron' });
      const plain = await attributeNodes({ model, batches: bs, method, options, loss, level: 'node' });
      assertSumsToNodes(model, r, plain, method);
    }
    // micro-batches do not change the unit scores
    const a = await attributeNodes({ model, batches: bs, method: 'eap-gp', options: { steps: 3 }, loss, level: 'mlp-neuron' });
    const b = await attributeNodes({ model, batches: bs, method: 'eap-gp', options: { steps: 3, microBatch: 1 }, loss, level: 'mlp-neuron' });
    const scale = maxAbs(a.mlp!.scores);
    a.mlp!.scores.forEach((x, i) => assert.ok(Math.abs(x - b.mlp!.scores[i]!) <= 1e-5 * scale, `unit ${i}: ${x} vs micro-batched ${b.mlp!.scores[i]}`));
    model.dispose();
  });
});

/** Σ Δh·∂L/∂h of EAP from our tape's gradient at hook_post (not through mlpOutToHidden), [L, F]. */
function eapByHook(e: Engine, model: CausalLM, bs: PairBatch[]): Float64Array {
  const { nLayer: L, dModel: D, vocabSize: V } = model.dims, F = model.dMlp;
  const out = new Float64Array(L * F);
  let N = 0;
  for (const b of bs) {
    e.tidy(() => {
      const R = b.clean.ids.length;
      const delta = e.empty([model.layout.nSrc, R, D]), dh = e.empty([L, R, F]);
      recordSources(e, model, b.corrupted, delta, 1, { hidden: dh });
      recordSources(e, model, b.clean, delta, -1, { write: false, hidden: dh });
      const grads: Float32Array[] = [];
      const gradHooks = Object.fromEntries(Array.from({ length: L }, (_, l) => [hookNames.mlpPost(l), (g: { toArray(): Float32Array }) => void (grads[l] = g.toArray())]));
      e.record((tape) => {
        const { logits } = model.forward(b.clean, { gradHooks, logits: 'last' });
        const { grad } = logitDiffLoss(logits!.toArray(), b.n, V, b.labels);
        tape.backward([[logits!, e.fromArray(grad, logits!.shape)]]);
      });
      const d = dh.toArray();
      for (let l = 0; l < L; l++) for (let r = 0; r < R; r++) for (let j = 0; j < F; j++) out[l * F + j]! += d[(l * R + r) * F + j]! * grads[l]![r * F + j]!;
    });
    N += b.n;
  }
  return out.map((x) => x / N);
}

for (const name of ['neox-l2h4', 'neox-seq-l2h3', 'llama-l2h3kv1', 'mistral-l2h4kv2', 'qwen2-l2h4kv2-bf16']) {
  test(`${name}: unit scores sum to the MLP node scores (eap-ig, eap-gp) and equal Δh · the tape's gradient at hook_post (eap)`, async () => {
    await withEngine({ threads: 2 }, async (e) => {
      const { model, bs } = archSetup(e, name);
      for (const method of ['eap-ig', 'eap-gp']) {
        const r = await attributeNodes({ model, batches: bs, method, options: { steps: 3 }, loss: logitDiffLoss, level: 'mlp-neuron' });
        const plain = await attributeNodes({ model, batches: bs, method, options: { steps: 3 }, loss: logitDiffLoss, level: 'node' });
        assertSumsToNodes(model, r, plain, `${name} ${method}`);
      }
      const eap = await attributeNodes({ model, batches: bs, method: 'eap', loss: logitDiffLoss, level: 'mlp-neuron' });
      const want = eapByHook(e, model, bs), scale = maxAbs(want);
      assert.ok(scale > 0);
      let worst = 0;
      want.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - eap.mlp!.scores[i]!))));
      assert.ok(worst <= 1e-4 * scale, `${name}: max diff ${worst} vs max |score| ${scale}`);
      model.dispose();
    });
  });
}

test('Gemma 2 (post-MLP norm) and ablation baselines have no MLP-neuron level', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs } = archSetup(e, 'gemma2-l2h4kv2');
    await assert.rejects(attributeNodes({ model, batches: bs, method: 'eap', loss: logitDiffLoss, level: 'mlp-neuron' }),
      (err: unknown) => err instanceof UserError && /post_feedforward_layernorm.*use --level node or neuron/.test(err.message));
    model.dispose();
    const g = await gpt2Setup(e);
    await assert.rejects(attributeNodes({ model: g.model, batches: g.bs, method: 'eap', options: { intervention: 'zero' }, loss: g.loss, level: 'mlp-neuron' }),
      (err: unknown) => err instanceof UserError && /--intervention zero has no hidden-unit values/.test(err.message));
    g.model.dispose();
  });
});

const FIX = fileURLToPath(new URL('../../test/fixtures/nodes-l2h4d64.json', import.meta.url));
interface NodeFixture {
  model: { name: string; layers: number; heads: number; dModel: number; seed: number; initStd: number };
  limit: number; batchSize: number; steps: number;
  tasks: Record<string, Record<string, { nodes: number[]; mlpNeurons: number[] }>>;
}

test('MLP-neuron scores agree with the PyTorch oracle (autograd at the hidden units) within 1e-4 of max |score|', async () => {
  const fx = JSON.parse(readFileSync(FIX, 'utf8')) as NodeFixture;
  const mdir = join(tmp, fx.model.name);
  makeRandomModel(fx.model, mdir);
  await withEngine({ threads: 2 }, async (e) => {
    for (const [taskName, byMethod] of Object.entries(fx.tasks)) {
      const { model, tokenizer } = await loadModel(e, mdir, { quiet: true });
      const task = getTask(taskName);
      const bs = batches(task.load(fixtureCsv(taskName), tokenizer, { limit: fx.limit }), fx.batchSize);
      for (const [method, want] of Object.entries(byMethod)) {
        const got = await attributeNodes({ model, batches: bs, method, options: { steps: fx.steps }, loss: (l, B, V, y) => lossGrad(task, l, B, V, y as Label[]), level: 'mlp-neuron' });
        const ref = want.mlpNeurons, ours = got.mlp!.scores;
        assert.equal(ours.length, ref.length);
        const scale = maxAbs(ref);
        assert.ok(scale > 0, `${taskName} ${method}: the reference is not all zero`);
        let worst = 0;
        ref.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - ours[i]!))));
        assert.ok(worst <= 1e-4 * scale, `${taskName} ${method}: max diff ${worst} vs max |score| ${scale}`);
      }
      model.dispose();
    }
  });
});

/** Masks: all units, none, the top n by a fixed pattern; and node patching with every MLP node out. */
function masksFor(model: CausalLM, n: number) {
  const L = model.dims.nLayer, F = model.dMlp, D = model.dims.dModel;
  const g = NodeGraph.fromScores(model.layout, D, 'node', new Float32Array(model.layout.nSrc).fill(1));
  g.setMlpScores(F, Array.from({ length: L * F }, (_, i) => ((i * 7919) % 101) - 50));
  const all = new Float32Array(L * F).fill(1), none = new Float32Array(L * F);
  assert.deepEqual(topnMlpNeurons(g, n), { mlpNeurons: n });
  assert.equal(g.countNodes(), model.layout.nSrc);
  const keepNodes = g.keepMask(), top = g.mlpKeepMask()!;
  const mlpOut = new Float32Array(keepNodes).fill(1);
  for (let l = 0; l < L; l++) mlpOut.fill(0, model.layout.mlp(l) * D, (model.layout.mlp(l) + 1) * D);
  return { keepNodes, all, none, top, mlpOut };
}

function assertPatchingIdentities(model: CausalLM, bs: PairBatch[], metric: MetricFn, what: string): void {
  const m = masksFor(model, 5);
  const r = evaluateNodeMasks({ model, batches: bs, metric, masks: [m.keepNodes, m.keepNodes, m.keepNodes, m.mlpOut], hiddenMasks: [m.all, m.none, m.top, null] });
  const [all, none, top, mlpNodesOut] = r.values as [number, number, number, number];
  const scale = Math.max(Math.abs(r.base.clean), Math.abs(r.base.corrupted));
  assert.equal(all, r.base.clean, `${what}: all units ${all} vs the clean run ${r.base.clean}`);
  assert.ok(Math.abs(none - mlpNodesOut) <= 1e-5 * scale, `${what}: no units ${none} vs every MLP node patched ${mlpNodesOut}`);
  assert.ok(Math.abs(none - r.base.corrupted) > 1e-4 * scale, `${what}: no units is not the corrupted run (attention stays clean)`);
  assert.ok(Math.abs(top - all) > 1e-6 * scale && Math.abs(top - none) > 1e-6 * scale, `${what}: the top 5 units ${top} lie off both ends (${all}, ${none})`);
}

for (const { label, opts } of ENGINE_VARIANTS) {
  test(`${label}: MLP-neuron patching: all units ⇒ clean; none ⇒ every MLP node patched, every other node kept`, async () => {
    await withEngine(opts, async (e) => {
      const { model, bs, metric } = await gpt2Setup(e);
      assertPatchingIdentities(model, bs, metric, 'gpt2');
      model.dispose();
      const a = archSetup(e, 'llama-l2h6kv2');
      assertPatchingIdentities(a.model, a.bs, logitDiff, 'llama');
      a.model.dispose();
    });
  });
}

test('MLP-neuron patching refuses an ablation intervention', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs, metric } = await gpt2Setup(e, dir, 'ioi', 4);
    const m = masksFor(model, 3);
    assert.throws(() => evaluateNodeMasks({ model, batches: bs, metric, masks: [m.keepNodes], hiddenMasks: [m.top], intervention: 'zero' }),
      (err: unknown) => err instanceof UserError && /--intervention zero has none/.test(err.message));
    model.dispose();
  });
});

test('JSON: mlp_neurons / mlp_neurons_scores round-trip beside EAP-IG\'s keys; bad ones are UserErrors', () => {
  const g = new NodeGraph(new Graph(2, 2), 4, 'node'); // input, a0.h0, a0.h1, m0, a1.h0, a1.h1, m1
  g.nodeScores.set([1, 2, 3, 4, 5, 6, 7]);
  g.setMlpScores(3, [0.5, -1, 2, NaN, 0.25, 0]);
  // |2| then |−1|, and the unscored m1 unit 0 stays in; every node stays in
  assert.deepEqual(topnMlpNeurons(g, 2), { mlpNeurons: 3 });
  assert.deepEqual(Array.from(g.mlp!.inGraph), [0, 1, 1, 1, 0, 0]);
  assert.equal(g.countNodes(), 7);
  const text = nodeGraphJsonString(g);
  assert.match(text, /"m0": \{"in_graph": true, "score": 4\.0, "mlp_neurons": \[false, true, true\], "mlp_neurons_scores": \[0\.5, -1\.0, 2\.0\]\}/);
  assert.match(text, /"a0\.h0": \{"in_graph": true, "score": 2\.0\}/); // heads and the input carry EAP-IG's keys only
  const back = parseNodeGraphJson(text, 'g.json').graph;
  assert.equal(back.level, 'node');
  assert.deepEqual(Array.from(back.mlp!.scores), [0.5, -1, 2, NaN, 0.25, 0]);
  assert.deepEqual(Array.from(back.mlp!.inGraph), [0, 1, 1, 1, 0, 0]);
  assert.deepEqual(Array.from(back.nodeScores), [1, 2, 3, 4, 5, 6, 7]);
  const bad = (from: string, to: string, message: RegExp) => assert.throws(() => parseNodeGraphJson(text.replace(from, to), 'g.json'), (err: unknown) => err instanceof UserError && message.test(err.message));
  bad('"mlp_neurons_scores": [NaN, 0.25, 0.0]', '"mlp_neurons_scores": [NaN, 0.25]', /g\.json: node "m1": mlp_neurons_scores must be a list of 3 numbers \(as in m0\), got 2 values/);
  bad('"mlp_neurons": [false, true, true]', '"mlp_neurons": [false, true]', /node "m0": mlp_neurons must be a list of 3 booleans/);
  bad('"a0.h0": {"in_graph": true, "score": 2.0}', '"a0.h0": {"in_graph": true, "score": 2.0, "mlp_neurons_scores": [1, 2, 3]}', /node "a0\.h0" carries mlp_neurons, but only MLP nodes/);
  // a file without the keys has no units, and --mlp-neurons has nothing to select
  const plain = NodeGraph.fromScores(g.layout, 4, 'node', [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(parseNodeGraphJson(nodeGraphJsonString(plain), 'p.json').graph.mlp, null);
  assert.throws(() => topnMlpNeurons(plain, 1), /no MLP hidden-unit scores/);
});
