/**
 * Edge scores of every method (exact patching included) agree with the independent PyTorch oracle (float64) on random models of two
 * shapes and two tasks (a logit difference and a probability difference), with padding and several batches:
 * max |ours − oracle| ≤ 1e-4 · max |oracle| (float32 through a few layers and a K = B·P·D contraction gives
 * ≈ 2e-6 here). Fixtures: test/fixtures/scores-*.json (gen-scores.py, on test/fixtures/tasks/<task>.csv).
 * The same bound holds on WebGPU (when an adapter exists): its products sum in another order, which moves float32
 * results by the same few ulps; exact patching, a patched run per edge, is left to the CPU there (its WebGPU
 * check is in exact-ablation.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attribute } from '../src/attribution/attribute.js';
import type { EngineOptions } from '../src/engine/engine.js';
import { Graph } from '../src/graph/index.js';
import { exactScores } from '../src/attribution/exact.js';
import type { AttributionOptions, MethodName } from '../src/attribution/types.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';
import { GPU } from './helpers/gpu.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-scores-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Fixture {
  model: { name: string; layers: number; heads: number; dModel: number; seed: number; initStd: number };
  limit: number;
  batchSize: number;
  steps: number;
  scores: Record<string, { args: string[]; shape: number[]; values: number[] }>;
}

function optionsFrom(args: string[], steps: number): AttributionOptions {
  const o: AttributionOptions = { steps };
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] === '--gp-norm') o.gpNorm = args[i + 1] as 'example' | 'batch';
    if (args[i] === '--gp-eta') o.gpEta = Number(args[i + 1]);
  }
  return o;
}

const engines: [string, EngineOptions][] = [['cpu', { threads: 2 }], ...(GPU.available ? [['webgpu', { device: 'gpu' }] as [string, EngineOptions]] : [])];

for (const file of readdirSync(FIX).filter((f) => /^scores-.*\.json$/.test(f))) {
  const fx = JSON.parse(readFileSync(join(FIX, file), 'utf8')) as Fixture;
  const dir = join(tmp, fx.model.name);
  makeRandomModel({ ...fx.model, gpt2TokenizerFiles: true }, dir);
  for (const [label, opts] of engines) {
    test(`scores match the oracle for every method: ${fx.model.name} (${label})`, async () => {
      await withEngine(opts, async (e) => {
        const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
        for (const [key, ref] of Object.entries(fx.scores)) {
          if (label === 'webgpu' && key.endsWith(':exact')) continue;
          const [taskName, methodKey] = key.split(':') as [string, string];
          const task = getTask(taskName);
          const examples = task.load(fixtureCsv(taskName), tokenizer, { limit: fx.limit });
          const bs = batches(examples, fx.batchSize);
          const r = methodKey === 'exact'
            ? await exactScores({ model, batches: bs, metric: (logits, B, V, labels) => task.metric(logits, B, V, labels as never) })
            : await attribute({
              model, batches: bs, method: methodKey.split('/')[0] as MethodName,
              loss: (logits, B, V, labels) => lossGrad(task, logits, B, V, labels as never), options: optionsFrom(ref.args, fx.steps),
            });
          assert.deepEqual([r.nSrc, r.nDst], ref.shape);
          const max = Math.max(...ref.values.map(Math.abs));
          assert.ok(max > 0);
          let worst = 0;
          ref.values.forEach((want, i) => (worst = Math.max(worst, Math.abs(r.scores[i]! - want))));
          assert.ok(worst <= 1e-4 * max, `${key}: max |ours − oracle| = ${worst} vs max |oracle| ${max}`);
          // off the graph's edges a score is exactly 0; on an edge the oracle may give exactly 0 (e.g. a last-layer
          // query at a position where clean = corrupted), which float32 products of other shapes reproduce only to
          // rounding (the tolerance above)
          const edges = new Set(new Graph(model.dims.nLayer, model.dims.nHead).edgeFlatIndices());
          r.scores.forEach((got, i) => {
            if (!edges.has(i)) assert.equal(got, 0, `${key}: score on a non-edge (${Math.floor(i / r.nDst)}, ${i % r.nDst})`);
          });
        }
        model.dispose();
      });
    });
  }
}
