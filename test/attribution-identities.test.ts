/**
 * Identities of the attribution methods (DESIGN.md §4) and determinism:
 *   EAP-GP on the straight path = EAP-IG; EAP-GP with one step of size 0 = EAP; the same run twice and on 1 or 2
 *   threads is bit-identical; scores vanish off the graph's edges; batch sizes agree after EAP-IG's 1/B factor
 *   (the loss is a batch mean, so each batch's scores carry 1/B: with equal batches S·B does not depend on B).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { attribute } from '../src/attribution/attribute.js';
import type { AttributionOptions, MethodName } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { batches, getTask, lossGrad, type TaskExample } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';

const DATA = fixtureCsv('ioi');
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-ident-'));
const dir = join(tmp, 'm');
const task = getTask('ioi');
let examples: TaskExample<Label>[];
before(() => makeRandomModel({ layers: 2, heads: 3, dModel: 48, seed: 3, initStd: 0.1 }, dir));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function scores(e: Engine, method: MethodName, options: AttributionOptions = {}, batchSize = 4) {
  const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
  examples ??= task.load(DATA, tokenizer, { limit: 12 });
  const r = await attribute({ model, batches: batches(examples, batchSize), method, options, loss: (l, B, V, y) => lossGrad(task, l, B, V, y as Label[]) });
  model.dispose();
  return r;
}
function relDiff(a: Float64Array, b: Float64Array, scaleB = 1): number {
  let mx = 0, md = 0;
  a.forEach((x, i) => {
    mx = Math.max(mx, Math.abs(x));
    md = Math.max(md, Math.abs(x - scaleB * b[i]!));
  });
  return md / mx;
}

test('EAP-GP on the straight path equals EAP-IG; one step of size 0 equals EAP', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const ig = await scores(e, 'eap-ig', { steps: 4 });
    const straight = await scores(e, 'eap-gp', { steps: 4, gpPath: 'straight' });
    assert.ok(relDiff(ig.scores, straight.scores) < 1e-5, `straight GradPath vs EAP-IG: ${relDiff(ig.scores, straight.scores)}`);
    const gp = await scores(e, 'eap-gp', { steps: 4 });
    assert.ok(relDiff(ig.scores, gp.scores) > 1e-3, 'GradPath is a different path from the straight one');
    const eap = await scores(e, 'eap');
    const still = await scores(e, 'eap-gp', { steps: 1, gpEta: 0 });
    // the same gradients; EAP records the clean activations in its gradient pass, whose head outputs then
    // take the per-head product path: float32 rounding apart, equal
    assert.ok(relDiff(eap.scores, still.scores) < 1e-6, `one zero step vs EAP: ${relDiff(eap.scores, still.scores)}`);
  });
});

test('deterministic: the same run twice, and 1 or 2 threads, give identical scores', async () => {
  const run = (threads: number, gemm: 'wasm' | 'auto') => withEngine({ threads, gemm }, (e) => scores(e, 'eap-gp', { steps: 3 }));
  for (const gemm of ['wasm', 'auto'] as const) {
    const a = await run(2, gemm), b = await run(2, gemm), c = await run(1, gemm);
    assert.deepEqual(a.scores, b.scores, `${gemm}: two runs differ`);
    assert.deepEqual(a.scores, c.scores, `${gemm}: 1 and 2 threads differ`);
  }
});

test('batch sizes agree after the 1/B factor; no score off the edges', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const b4 = await scores(e, 'eap-ig', { steps: 3 }, 4), b6 = await scores(e, 'eap-ig', { steps: 3 }, 6), b12 = await scores(e, 'eap-ig', { steps: 3 }, 12);
    assert.ok(relDiff(b4.scores, b6.scores, 6 / 4) < 1e-5, `batch 4 vs 6: ${relDiff(b4.scores, b6.scores, 6 / 4)}`);
    assert.ok(relDiff(b4.scores, b12.scores, 12 / 4) < 1e-5);
    const H = 3, slots = 3 * H + 1;
    for (let u = 0; u < b4.nSrc; u++) {
      for (let v = 0; v < b4.nDst; v++) {
        const layer = Math.floor(v / slots), slot = v % slots;
        const parents = v === b4.nDst - 1 ? b4.nSrc : 1 + layer * (H + 1) + (slot === 3 * H ? H : 0);
        // (an edge may score exactly 0: e.g. a last-layer query reads only the last position, where Δ_input is 0)
        if (u >= parents) assert.equal(b4.scores[u * b4.nDst + v], 0, `score on non-edge ${u} -> ${v}`);
      }
    }
  });
});

test('micro-batches give the same scores as whole batches (the 1/B of the whole batch is kept)', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    for (const method of ['eap', 'eap-gp', 'eap-ig-activations'] as const) {
      const whole = await scores(e, method, { steps: 2 }, 6);
      const sliced = await scores(e, method, { steps: 2, microBatch: 4 }, 6);
      assert.ok(relDiff(whole.scores, sliced.scores) < 1e-5, `${method}: ${relDiff(whole.scores, sliced.scores)}`);
    }
    await assert.rejects(scores(e, 'eap-gp', { gpNorm: 'batch', microBatch: 2 }, 6), /gp-norm batch needs whole batches/);
  });
});
