/**
 * Family weights held outside the heap: a BF16 vocabulary matrix used a chunk of rows at a time (Llama 3's 128,256
 * rows would crowd the heap) must give what the same matrix widened into the heap gives. The projection and row
 * gathers read the same float32 values per output: bit for bit. The input gradient and the Gram matrix sum over
 * the vocabulary, in chunks of 8,192 rows instead of one product: the same terms in another order, so they agree
 * within float32 summation error, |Δ| ≤ 2·γ_V·Σ|terms| with γ_V = V·u (Higham); a wrong chunk offset is off by O(1).
 * V = 20,000 spans two full chunks and a partial one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VocabMatrix, Widener, type HostMatrix } from '../src/models/arch-weights.js';
import { Rng } from '../src/models/random.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';

const V = 20000, D = 24, n = 3;

function bf16Matrix(seed: number): HostMatrix {
  const r = new Rng(seed), f = new Float32Array(V * D);
  for (let i = 0; i < f.length; i++) f[i] = r.normal();
  const u = new Uint32Array(f.buffer);
  return { kind: 'BF16', data: Uint16Array.from(u, (x) => x >>> 16) };
}

for (const { label, opts } of ENGINE_VARIANTS) {
  test(`a BF16 vocabulary outside the heap equals the one in it, bit for bit (${label})`, async () => {
    await withEngine(opts, (e) => {
      const host = bf16Matrix(4);
      const widener = new Widener(e);
      const inHeap = new VocabMatrix(e, host, V, D, false, widener), outside = new VocabMatrix(e, host, V, D, true, widener);
      assert.ok(inHeap.tensor && !outside.tensor);
      // the widened values are BF16's exactly
      const w = inHeap.tensor!.toArray();
      const u = new Uint32Array(w.buffer);
      assert.ok(u.every((x, i) => x === (host.data[i]! << 16) >>> 0), 'widened bits');
      const r = new Rng(5);
      const x = Float32Array.from({ length: n * D }, () => r.normal());
      const dy = Float32Array.from({ length: n * V }, () => r.normal());
      const run = (m: VocabMatrix) =>
        e.tidy(() =>
          e.record((tape) => {
            const xt = e.fromArray(x, [n, D]);
            xt.requiresGrad = true;
            const y = m.project(xt);
            const grads = tape.backward([[y, e.fromArray(dy, y.shape)]]);
            return { y: y.toArray(), dx: grads.get(xt)!.toArray(), gram: m.gram().toArray(), rows: m.gather(Int32Array.from([0, 8191, 8192, V - 1]), 1.5).toArray() };
          }),
        );
      const a = run(inHeap), b = run(outside);
      assert.deepEqual(b.y, a.y, 'projection');
      const U = 2 ** -24, gamma = V * U;
      for (let i = 0; i < n; i++) {
        for (let d = 0; d < D; d++) {
          let abs = 0;
          for (let v = 0; v < V; v++) abs += Math.abs(dy[i * V + v]! * w[v * D + d]!);
          const k = i * D + d;
          assert.ok(Math.abs(b.dx[k]! - a.dx[k]!) <= 2 * gamma * abs, `input gradient [${i}, ${d}]: ${b.dx[k]} vs ${a.dx[k]}`);
        }
      }
      for (let c = 0; c < D; c++) {
        for (let d = 0; d < D; d++) {
          let abs = 0;
          for (let v = 0; v < V; v++) abs += Math.abs(w[v * D + c]! * w[v * D + d]!);
          const k = c * D + d;
          assert.ok(Math.abs(b.gram[k]! - a.gram[k]!) <= 2 * gamma * abs, `Gram [${c}, ${d}]: ${b.gram[k]} vs ${a.gram[k]}`);
        }
      }
      assert.deepEqual(b.rows, a.rows, 'gathered rows');
      assert.ok(a.y.some((v) => v !== 0));
      inHeap.dispose();
      outside.dispose();
      widener.dispose();
    });
  });
}
