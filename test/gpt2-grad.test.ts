/**
 * Gradients at hook points against finite differences of the forward pass, on a tiny random model.
 * Directional derivatives along v ∝ g + noise (so the derivative is large against rounding): central
 * differences with Richardson extrapolation, R(ε) = (4·fd(ε/2) − fd(ε))/3, truncation error O(ε⁴). The
 * tolerance is the error estimate of the extrapolation table, 4·|R(ε) − R(2ε)|, plus float32 rounding of the
 * loss, 1e-6·Σ|c·logits|/ε, plus 1e-4·‖g‖·‖v‖; the test also asserts that this tolerance stays below 5% of the
 * derivative, so it cannot hide a wrong gradient (a missing path or wrong factor is off by O(‖g‖·‖v‖)).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ops from '../src/engine/ops.js';
import type { Engine } from '../src/engine/engine.js';
import type { Tensor } from '../src/engine/tensor.js';
import { GPT2 } from '../src/models/gpt2.js';
import { makeBatch } from '../src/models/batch.js';
import { type ForwardOptions } from '../src/models/model.js';
import { hookNames } from '../src/models/hooks.js';
import { Rng } from '../src/models/random.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';
import { tinyDims, tinyWeights } from './helpers/tiny-model.js';

const dims = tinyDims({ nLayer: 2, nHead: 3, dModel: 12 });
const batch = makeBatch([[3, 14, 15, 9, 2], [6, 5, 35]], 0);

function randArray(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}
function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** L = Σ c ⊙ logits (last positions), for fixed random c. */
function lossOf(e: Engine, model: GPT2, opts: ForwardOptions, c: Float32Array): number {
  return e.tidy(() => dot(model.forward(batch, { ...opts, logits: 'last' }).logits!.data(), c));
}

/** Gradients delivered to grad hooks, copied out. */
function gradients(e: Engine, model: GPT2, names: string[], c: Float32Array, hooks: ForwardOptions['hooks'] = {}): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  e.tidy(() =>
    e.record((tape) => {
      const gradHooks = Object.fromEntries(names.map((n) => [n, (g: Tensor) => out.set(n, g.toArray())]));
      const { logits } = model.forward(batch, { hooks, gradHooks, logits: 'last' });
      tape.backward([[logits!, e.fromArray(c, logits!.shape)]]);
    }),
  );
  return out;
}

for (const variant of ENGINE_VARIANTS) {
  test(`gradients at hook points match finite differences (${variant.label})`, async () => {
    await withEngine(variant.opts, (e) => {
      const model = new GPT2(e, dims, tinyWeights(dims, 7, 0.2));
      const c = randArray(batch.B * dims.vocabSize, 11);
      const R = batch.B * batch.P, D = dims.dModel, H = dims.nHead;
      const names = [hookNames.embed, hookNames.qInput(1), hookNames.kInput(1), hookNames.vInput(0), hookNames.mlpIn(0), hookNames.mlpIn(1), hookNames.result(0)];
      const grads = gradients(e, model, names, c);
      const eps = 1e-2;
      names.forEach((name, i) => {
        const g = grads.get(name);
        assert.ok(g, `no gradient delivered at ${name}`);
        const gNorm = Math.sqrt(dot(g, g));
        assert.ok(gNorm > 0, `zero gradient at ${name}`);
        const noise = randArray(g.length, 100 + i);
        // unit RMS per element, so ε is the size of the perturbation of each value
        const v = g.map((x, j) => (x / gNorm) * Math.sqrt(g.length) + 0.5 * noise[j]!);
        const perturbed = (s: number) =>
          lossOf(e, model, { hooks: { [name]: (x: Tensor) => ops.add(x, e.fromArray(v.map((t) => t * s), x.shape)) } }, c);
        const fd = (h: number) => (perturbed(h) - perturbed(-h)) / (2 * h);
        const richardson = (h: number) => (4 * fd(h / 2) - fd(h)) / 3;
        const rich = richardson(eps), coarse = richardson(2 * eps);
        const an = dot(g, v);
        const absL = e.tidy(() => dot(model.forward(batch).logits!.data().map(Math.abs), c.map(Math.abs)));
        const tol = 4 * Math.abs(rich - coarse) + (1e-6 * absL) / eps + 1e-4 * gNorm * Math.sqrt(dot(v, v));
        assert.ok(tol < 0.05 * Math.abs(an), `${name}: tolerance ${tol} is not small against the derivative ${an}`);
        assert.ok(Math.abs(rich - an) <= tol, `${name}: finite difference ${rich} vs gradient ${an} (tolerance ${tol})`);
        assert.equal(g.length, name.includes('input') || name.includes('result') ? H * R * D : R * D);
      });
      // the per-head path (taken when a forward hook touches the inputs) gives the same gradients
      const keep = () => undefined;
      const viaPerHead = gradients(e, model, names, c, { [hookNames.qInput(1)]: keep, [hookNames.kInput(1)]: keep, [hookNames.vInput(0)]: keep });
      for (const n of names) {
        const a = grads.get(n)!, b = viaPerHead.get(n)!;
        const scale = Math.max(...a.map(Math.abs));
        a.forEach((x, j) => assert.ok(Math.abs(x - b[j]!) <= 1e-5 * scale, `${n}[${j}]: shared ${x} vs per-head ${b[j]}`));
      }
      model.dispose();
    });
  });
}

test('the embedding gradient is the sum of its paths and padding gets none', async () => {
  await withEngine({ gemm: 'reference' }, (e) => {
    const model = new GPT2(e, dims, tinyWeights(dims, 3));
    const c = randArray(batch.B * dims.vocabSize, 5);
    const g = gradients(e, model, [hookNames.embed], c).get(hookNames.embed)!;
    const D = dims.dModel;
    // example 1 has 3 real tokens of 5: positions 3 and 4 are padding and cannot affect the last real logits
    for (let p = 3; p < 5; p++) for (let d = 0; d < D; d++) assert.equal(g[(5 + p) * D + d], 0);
    assert.ok(g.some((x) => x !== 0));
    model.dispose();
  });
});
