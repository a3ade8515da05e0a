/**
 * Packed batches (only real tokens, no padding rows) must give what the padded layout gives at real rows: the
 * last-position logits, every hook value, and the gradients at every hook point. Padded rows differ only in
 * what sits on padding rows, which no real position sees (causal attention), so the two layouts compute the
 * same sums over the same terms in the same order: agreement is asserted to 1e-6 relative (float32 rounding of
 * GEMM blocking differences when row counts change), on each kernel path.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tensor } from '../src/engine/tensor.js';
import { GPT2 } from '../src/models/gpt2.js';
import { lastRows, makeBatch, packBatch, rowStarts, type Batch } from '../src/models/batch.js';
import { allHookNames, type ForwardHook, type GradHook } from '../src/models/hooks.js';
import { Rng } from '../src/models/random.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';
import { tinyDims, tinyWeights } from './helpers/tiny-model.js';

const dims = tinyDims({ nLayer: 2, nHead: 3, dModel: 12 });
const padded = makeBatch([[3, 14, 15, 9, 2], [6, 5, 35], [7, 1, 8, 2]], 0);
const packed = packBatch(padded);

test('packBatch keeps only real tokens; row helpers agree with both layouts', () => {
  assert.deepEqual([...packed.ids], [3, 14, 15, 9, 2, 6, 5, 35, 7, 1, 8, 2]);
  assert.deepEqual([...rowStarts(packed)], [0, 5, 8, 12]);
  assert.deepEqual([...rowStarts(padded)], [0, 5, 10, 15]);
  assert.deepEqual([...lastRows(packed)], [4, 7, 11]);
  assert.deepEqual([...lastRows(padded)], [4, 7, 13]);
  assert.equal(packBatch(packed), packed);
});

/** Each value at a row-structured hook point, keyed by name, restricted to real rows in example order. */
function realRows(b: Batch, t: Float32Array, D: number): Float32Array {
  const starts = rowStarts(b);
  const perCopy = starts[b.B]! * D, copies = t.length / perCopy;
  const out: number[] = [];
  for (let c = 0; c < copies; c++) {
    for (let i = 0; i < b.B; i++) out.push(...t.subarray(c * perCopy + starts[i]! * D, c * perCopy + (starts[i]! + b.lengths[i]!) * D));
  }
  return Float32Array.from(out);
}

function close(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  let scale = 0, err = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  assert.ok(scale > 0, `${what}: all zero`);
  assert.ok(err <= 1e-6 * scale + 1e-7, `${what}: max error ${err} vs scale ${scale}`);
}

for (const { label, opts } of ENGINE_VARIANTS) {
  test(`packed and padded batches agree on logits, hook values and gradients (${label})`, async () => {
    await withEngine(opts, (e) => {
      const model = new GPT2(e, dims, tinyWeights(dims, 5));
      const names = allHookNames(dims.nLayer);
      const r = new Rng(3);
      const c = Float32Array.from({ length: padded.B * dims.vocabSize }, () => r.normal());
      const run = (b: Batch) => {
        const values = new Map<string, Float32Array>(), grads = new Map<string, Float32Array>();
        const hooks: Record<string, ForwardHook> = {}, gradHooks: Record<string, GradHook> = {};
        for (const n of names) {
          hooks[n] = (v: Tensor) => void values.set(n, realRows(b, v.toArray(), dims.dModel));
          gradHooks[n] = (g: Tensor) => void grads.set(n, realRows(b, g.toArray(), dims.dModel));
        }
        let logits: Float32Array | null = null;
        e.tidy(() =>
          e.record((tape) => {
            const out = model.forward(b, { hooks, gradHooks });
            logits = out.logits!.toArray();
            tape.backward([[out.logits!, e.fromArray(c, out.logits!.shape)]]);
          }),
        );
        return { logits: logits!, values, grads };
      };
      const a = run(packed), p = run(padded);
      close(a.logits, p.logits, 'logits');
      for (const n of names) {
        close(a.values.get(n)!, p.values.get(n)!, `value ${n}`);
        close(a.grads.get(n)!, p.grads.get(n)!, `gradient ${n}`);
      }
    });
  });
}
