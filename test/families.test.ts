/**
 * Every model family against a float64 PyTorch reference written from Hugging Face's modeling equations
 * (test/fixtures/arch/<model>/expected.json, made by gen-arch.py): random checkpoints with grouped-query attention,
 * odd head counts, partial rotary and parallel blocks (GPT-NeoX), Llama-3 rope scaling, q/k/v biases and BF16
 * weights (Qwen2), a sliding window on every layer (Mistral) or on even layers with soft-capping and
 * head_dim ≠ d/H (Gemma 2, mild and sharp). Three examples of different lengths run as ONE right-padded batch
 * (the reference runs each alone), so padding is checked too.
 *   logits at every real position: max |ours − ref| ≤ 1e-4 · max |ref|
 *   every method's edge scores:    max |ours − ref| ≤ 1e-4 · max |ref|, exactly 0 off the graph's edges
 * Float32 through two layers and a K = B·P·D contraction leaves ~1e-6 relative; 1e-4 is the bound.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attribute } from '../src/attribution/attribute.js';
import { exactScores } from '../src/attribution/exact.js';
import type { MethodName, PairBatch } from '../src/attribution/types.js';
import { Graph } from '../src/graph/index.js';
import { makeBatch } from '../src/models/batch.js';
import { openFamilyModel } from '../src/models/load.js';
import { withEngine } from './helpers/engines.js';

const ARCH = fileURLToPath(new URL('../../test/fixtures/arch/', import.meta.url));

interface Example { clean: number[]; corrupted: number[]; correct: number; incorrect: number }
interface Expected {
  family: string;
  steps: number;
  batchSize: number;
  examples: Example[];
  logits: number[][][];
  n_src: number;
  n_dst: number;
  n_edges: number;
  scores: Record<string, number[]>;
}

/** metric = logit(correct) − logit(incorrect); loss = −mean. */
function logitDiffLoss(logits: Float32Array, B: number, V: number, labels: unknown[]) {
  const grad = new Float32Array(B * V);
  let loss = 0;
  (labels as Example[]).forEach((y, b) => {
    loss -= (logits[b * V + y.correct]! - logits[b * V + y.incorrect]!) / B;
    grad[b * V + y.correct] = -1 / B;
    grad[b * V + y.incorrect] = 1 / B;
  });
  return { loss, grad };
}

function pairBatch(ex: Example[]): PairBatch {
  return { n: ex.length, clean: makeBatch(ex.map((x) => x.clean), 0), corrupted: makeBatch(ex.map((x) => x.corrupted), 0), labels: ex };
}

function worstRelative(got: ArrayLike<number>, want: readonly number[]): { worst: number; max: number } {
  const max = Math.max(...want.map(Math.abs));
  let worst = 0;
  want.forEach((w, i) => (worst = Math.max(worst, Math.abs(got[i]! - w))));
  return { worst, max };
}

for (const name of readdirSync(ARCH).sort()) {
  const dir = join(ARCH, name);
  const fx = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
  test(`${name}: logits and every method's scores match the float64 reference`, async () => {
    await withEngine({ threads: 2 }, async (e) => {
      const model = openFamilyModel(e, dir, { quiet: true });
      const V = model.dims.vocabSize;
      const pb = pairBatch(fx.examples);
      // logits at every row of the padded batch; compare the real positions
      const all = e.tidy(() => model.forward(pb.clean, { logits: 'all' }).logits!.toArray());
      fx.examples.forEach((x, b) => {
        const want = fx.logits[b]!.flat();
        const got = all.subarray(b * pb.clean.P * V, (b * pb.clean.P + x.clean.length) * V);
        const { worst, max } = worstRelative(got, want);
        assert.ok(worst <= 1e-4 * max, `${name} example ${b}: logits off by ${worst} (max |ref| ${max})`);
      });

      const graph = Graph.of(model.layout);
      assert.deepEqual([graph.nSrc, graph.nDst, graph.nEdges], [fx.n_src, fx.n_dst, fx.n_edges]);
      const edges = new Set(graph.edgeFlatIndices());
      for (const [method, want] of Object.entries(fx.scores)) {
        const r = method === 'exact'
          ? await exactScores({ model, batches: [pb], metric: (l, B, V2, y) => Float64Array.from({ length: B }, (_, b) => l[b * V2 + (y[b] as Example).correct]! - l[b * V2 + (y[b] as Example).incorrect]!) })
          : await attribute({ model, batches: [pb], method: method as MethodName, loss: logitDiffLoss, options: { steps: fx.steps } });
        const { worst, max } = worstRelative(r.scores, want);
        assert.ok(max > 0, `${name} ${method}: the reference is all zeros`);
        assert.ok(worst <= 1e-4 * max, `${name} ${method}: max |ours − ref| = ${worst.toExponential(2)} vs max |ref| ${max.toExponential(2)} (${(worst / max).toExponential(2)})`);
        r.scores.forEach((s, i) => {
          if (!edges.has(i)) assert.equal(s, 0, `${name} ${method}: score on a non-edge ${graph.srcName(Math.floor(i / r.nDst))} → ${graph.dstName(i % r.nDst)}`);
        });
      }
      model.dispose();
    });
  });
}

test('a family attribution leaves the heap as it found it (every method, grouped k/v and parallel blocks)', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    for (const name of ['llama-l2h6kv2', 'neox-l2h4']) {
      const dir = join(ARCH, name);
      const fx = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
      const model = openFamilyModel(e, dir, { quiet: true });
      const pb = pairBatch(fx.examples);
      for (const method of ['eap', 'eap-ig', 'eap-gp', 'clean-corrupted', 'eap-ig-activations'] as MethodName[]) {
        const run = () => attribute({ model, batches: [pb], method, loss: logitDiffLoss, options: { steps: 3 } });
        await run(); // the first run may fill caches (the unembedding's Gram matrix)
        const before = e.heap.inUse;
        await run();
        assert.equal(e.heap.inUse, before, `${name} ${method}: ${e.heap.inUse - before} heap bytes not freed`);
      }
      model.dispose();
    }
  });
});

test('streamed family weights (widened and rearranged per layer from BF16/F32 host copies) give the resident scores bit for bit', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    for (const name of ['llama-l2h6kv2', 'neox-l2h4', 'qwen2-l2h4kv2-bf16']) {
      const dir = join(ARCH, name);
      const fx = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
      const pb = pairBatch(fx.examples);
      const scores = async (stream: boolean) => {
        const model = openFamilyModel(e, dir, { quiet: true, stream });
        assert.equal(model.streamed, stream);
        const r = await attribute({ model, batches: [pb], method: 'eap-ig', loss: logitDiffLoss, options: { steps: 3 } });
        model.dispose();
        return r.scores;
      };
      const resident = await scores(false), streamed = await scores(true);
      assert.ok(resident.some((x) => x !== 0), `${name}: all scores zero`);
      assert.deepEqual(streamed, resident, `${name}: streamed scores differ`);
    }
  });
});
