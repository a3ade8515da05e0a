/**
 * Weight gradients (needed to train models, issue #6) come out of the same backward functions: checked by
 * directional finite differences on a tiny model for an MLP matrix, an attention bias, a LayerNorm gain and the
 * token embedding table. Same method and tolerance reasoning as gpt2-grad.test.ts (central differences with
 * Richardson extrapolation; the tolerance is the extrapolation's own error estimate plus float32 rounding of the
 * loss, and is asserted to stay small against the derivative).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Engine } from '../src/engine/engine.js';
import type { Tensor } from '../src/engine/tensor.js';
import { GPT2, makeBatch } from '../src/models/gpt2.js';
import { Rng } from '../src/models/random.js';
import { withEngine } from './helpers/engines.js';
import { tinyDims, tinyWeights } from './helpers/tiny-model.js';

const dims = tinyDims({ nLayer: 2, nHead: 2, dModel: 8 });
const batch = makeBatch([[3, 14, 15, 9], [6, 5, 35, 2]], 0);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

test('weight gradients match finite differences', async () => {
  await withEngine({ gemm: 'reference' }, (e: Engine) => {
    const model = new GPT2(e, dims, tinyWeights(dims, 21, 0.2));
    const r = new Rng(4);
    const c = Float32Array.from({ length: batch.B * dims.vocabSize }, () => r.normal());
    const lw = model.weights.layer(1);
    const params: [string, Tensor][] = [['h.1.mlp.c_fc.weight', lw.fcW], ['h.1.attn.c_attn.bias', lw.attnB], ['h.1.ln_2.weight', lw.ln2g], ['wte.weight', model.weights.wte]];
    for (const [, t] of params) t.requireGrad();
    const loss = () => e.tidy(() => dot(model.forward(batch).logits!.data(), c));
    const grads = new Map<Tensor, Float32Array>();
    e.tidy(() =>
      e.record((tape) => {
        const { logits } = model.forward(batch);
        const leaf = tape.backward([[logits!, e.fromArray(c, logits!.shape)]]);
        for (const [, t] of params) grads.set(t, leaf.get(t)!.toArray());
      }),
    );
    for (const [name, t] of params) {
      t.requiresGrad = false;
      const g = grads.get(t)!;
      const gNorm = Math.sqrt(dot(g, g));
      assert.ok(gNorm > 0, `no gradient for ${name}`);
      const v = g.map((x) => x / gNorm); // unit direction along the gradient: derivative = ‖g‖
      const orig = t.toArray();
      const at = (h: number) => {
        t.set(orig.map((x, i) => x + h * v[i]!));
        const l = loss();
        t.set(orig);
        return l;
      };
      const fd = (h: number) => (at(h) - at(-h)) / (2 * h);
      const rich = (h: number) => (4 * fd(h / 2) - fd(h)) / 3;
      const eps = 1e-2;
      const est = rich(eps), coarse = rich(2 * eps);
      const absL = e.tidy(() => dot(model.forward(batch).logits!.data().map(Math.abs), c.map(Math.abs)));
      const tol = 4 * Math.abs(est - coarse) + (1e-6 * absL) / eps + 1e-4 * gNorm;
      assert.ok(tol < 0.05 * gNorm, `${name}: tolerance ${tol} not small against ${gNorm}`);
      assert.ok(Math.abs(est - gNorm) <= tol, `${name}: finite difference ${est} vs ‖gradient‖ ${gNorm} (tolerance ${tol})`);
    }
    model.dispose();
  });
});
