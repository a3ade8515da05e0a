/**
 * Information flow routes (src/attribution/ifr.ts) against a transcription of hannamw/EAP-IG's formula on the
 * independent PyTorch oracle's float64 forward (test/fixtures/ifr-l2h4d64.json, gen-ifr.py): max |ours − ref| ≤
 * 1e-4 · max |ref|, with padding and several batches. And its properties: scores ≥ 0, zero off the edges, each
 * destination's scores sum to 1 over its parents (no position of this data has every proximity 0, as the fixture
 * records), a layer's q, k and v destinations share their scores; the corrupted prompts do not matter.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attribute } from '../src/attribution/attribute.js';
import type { PairBatch } from '../src/attribution/types.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';

const fx = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/ifr-l2h4d64.json', import.meta.url)), 'utf8')) as {
  model: { name: string; layers: number; heads: number; dModel: number; seed: number; initStd: number };
  limit: number; batchSize: number;
  tasks: Record<string, { shape: [number, number]; zeroPositions: number; values: number[] }>;
};
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-ifr-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const dir = join(tmp, 'm');
makeRandomModel({ ...fx.model, gpt2TokenizerFiles: true }, dir);

for (const [taskName, ref] of Object.entries(fx.tasks)) {
  test(`IFR matches EAP-IG's formula on the oracle's forward, and its scores are shares (${taskName})`, async () => {
    await withEngine({ threads: 2 }, async (e) => {
      const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
      const task = getTask(taskName);
      const bs = batches(task.load(fixtureCsv(taskName), tokenizer, { limit: fx.limit }), fx.batchSize);
      const loss = (l: Float32Array, B: number, V: number, y: unknown[]) => lossGrad(task, l, B, V, y as never);
      const r = await attribute({ model, batches: bs, method: 'ifr', loss });
      const [nSrc, nDst] = ref.shape;
      assert.deepEqual([r.nSrc, r.nDst, r.points], [nSrc, nDst, 1]);
      const max = Math.max(...ref.values.map(Math.abs));
      let err = 0;
      r.scores.forEach((x, i) => (err = Math.max(err, Math.abs(x - ref.values[i]!))));
      assert.ok(err <= 1e-4 * max, `max |ours − ref| ${err} vs max ${max}`);
      assert.equal(ref.zeroPositions, 0);
      const layout = model.layout, H = fx.model.heads;
      for (let v = 0; v < nDst; v++) {
        let sum = 0;
        for (let u = 0; u < nSrc; u++) {
          const s = r.scores[u * nDst + v]!;
          assert.ok(s >= 0, `negative score ${s} at ${u} -> ${v}`);
          if (u >= layout.parentCount(v)) assert.equal(s, 0, `score on non-edge ${u} -> ${v}`);
          sum += s;
        }
        assert.ok(Math.abs(sum - 1) < 1e-9, `destination ${v}: scores sum to ${sum}`);
      }
      for (let l = 0; l < fx.model.layers; l++) {
        const c0 = layout.firstSlot(l);
        for (let j = 1; j < 3 * H; j++) for (let u = 0; u < nSrc; u++) assert.equal(r.scores[u * nDst + c0 + j], r.scores[u * nDst + c0], `layer ${l} slot ${j}`);
      }
      // the clean run alone: other corrupted prompts change nothing
      const swapped: PairBatch[] = bs.map((b) => ({ ...b, corrupted: { ...b.clean, ids: b.clean.ids.map((t) => (t + 1) % 50257) } }));
      assert.deepEqual((await attribute({ model, batches: swapped, method: 'ifr', loss })).scores, r.scores);
      model.dispose();
    });
  });
}
