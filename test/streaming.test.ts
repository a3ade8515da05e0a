/**
 * GPT-2 XL does not fit in wasm32 memory, so its per-layer matrices stream into reusable slots. A random
 * model with XL's widths (d_model 1600, 25 heads, MLP 6400) but two layers checks that streaming gives the
 * same logits and gradients as keeping the weights resident, and that the heap holds only two layer slots.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openCheckpoint } from '../src/models/checkpoint.js';
import { GPT2 } from '../src/models/gpt2.js';
import { makeBatch } from '../src/models/batch.js';
import { hookNames } from '../src/models/hooks.js';
import { makeRandomModel } from '../src/models/make-model.js';
import type { Tensor } from '../src/engine/tensor.js';
import { withEngine } from './helpers/engines.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-xl-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('XL-shaped model: streamed weights give the same logits and gradients as resident ones', async () => {
  const dir = join(tmp, 'xl2');
  makeRandomModel({ layers: 3, heads: 25, dModel: 1600, vocab: 512, nCtx: 1024, seed: 4 }, dir);
  const ckpt = openCheckpoint(dir);
  const batch = makeBatch([[1, 2, 3, 4, 5, 6, 7], [9, 8, 7]], 0);
  await withEngine({ threads: 2 }, (e) => {
    const run = (stream: boolean) => {
      const model = new GPT2(e, ckpt.config, ckpt, { stream });
      let g: Float32Array | null = null;
      const logits = e.tidy(() =>
        e.record((tape) => {
          const out = model.forward(batch, { gradHooks: { [hookNames.qInput(1)]: (x: Tensor) => (g = x.toArray()) } });
          const l = out.logits!.toArray();
          tape.backward([[out.logits!, e.fromArray(new Float32Array(l.length).fill(1e-2), out.logits!.shape)]]);
          return l;
        }),
      );
      const info = { heapBytes: model.weights.heapBytes, streamedBytes: model.weights.streamedBytes, streamed: model.weights.streamed };
      model.dispose();
      return { logits, g: g!, info };
    };
    const resident = run(false);
    const streamed = run(true);
    assert.equal(streamed.info.streamed, true);
    assert.equal(resident.info.streamed, false);
    // forward fetches layers 0, 1, 2; backward finds 2 and 1 still in the two slots and fetches 0 again
    const layerBytes = 4 * (1600 * 4800 + 1600 * 1600 + 2 * 1600 * 6400);
    assert.equal(streamed.info.streamedBytes, 4 * layerBytes);
    assert.ok(resident.info.heapBytes - streamed.info.heapBytes >= layerBytes * 0.99, 'streaming keeps one layer fewer in the heap');
    assert.deepEqual(streamed.logits, resident.logits, 'same kernels on the same numbers: bit-identical logits');
    assert.deepEqual(streamed.g, resident.g, 'bit-identical gradients at a head input');
    assert.equal(resident.g.length, 25 * batch.B * batch.P * 1600);
  });
  ckpt.close();
});
