/**
 * Weight gradients (what training needs) for EVERY GPT-2 parameter — wte (tied unembedding), wpe, ln_1/ln_2/ln_f
 * gains and biases, attention c_attn/c_proj and MLP c_fc/c_proj weights and biases of every layer:
 *  1. against directional finite differences on a tiny model, per parameter tensor. Same method and tolerance
 *     reasoning as gpt2-grad.test.ts: central differences with Richardson extrapolation; the tolerance is the
 *     extrapolation's own error estimate plus float32 rounding of the loss, and is asserted to stay below 5 % of
 *     the derivative so it cannot hide a wrong gradient;
 *  2. against PyTorch autograd in float64 (test/fixtures/training-torch.json, made by gen-training.py with our own
 *     torch GPT-2) for the training loss itself — soft-target cross-entropy at the last real position of a
 *     right-padded batch — on the same checkpoint (make-model is deterministic by seed). Tolerance: 1e-4 of the
 *     tensor's largest |gradient| plus 1e-7; float32 forward and backward through two layers with weights of std
 *     0.2 err by ~1e-6 relative, while a wrong or missing path is off by the size of the gradient itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../src/engine/engine.js';
import { gpt2Shapes } from '../src/models/checkpoint.js';
import { parseConfig } from '../src/models/config.js';
import { GPT2 } from '../src/models/gpt2.js';
import { makeBatch } from '../src/models/batch.js';
import { loadGpt2Model } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { Rng } from '../src/models/random.js';
import { crossEntropy } from '../src/training/loss.js';
import { modelParams, setRequiresGrad } from '../src/training/params.js';
import type { Target } from '../src/training/targets.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';
import { tinyDims, tinyWeights } from './helpers/tiny-model.js';

const dims = tinyDims({ nLayer: 2, nHead: 2, dModel: 8 });
const batch = makeBatch([[3, 14, 15, 9], [6, 5, 35, 2, 7], [1, 4]], 0);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

test('every GPT-2 parameter gets a weight gradient that matches finite differences', async () => {
  await withEngine({ gemm: 'reference' }, (e: Engine) => {
    const model = new GPT2(e, dims, tinyWeights(dims, 21, 0.2));
    const params = modelParams(model);
    // the list is complete: exactly the tensors of a Hugging Face GPT-2 checkpoint with these dimensions
    const config = parseConfig({ model_type: 'gpt2', n_layer: dims.nLayer, n_head: dims.nHead, n_embd: dims.dModel, n_positions: dims.nPositions, vocab_size: dims.vocabSize }, 'test');
    assert.deepEqual(params.map((p) => p.name).sort(), [...gpt2Shapes(config).keys()].sort());
    const r = new Rng(4);
    const c = Float32Array.from({ length: batch.B * dims.vocabSize }, () => r.normal());
    const loss = () => e.tidy(() => dot(model.forward(batch).logits!.data(), c));
    setRequiresGrad(params, true);
    const grads = e.tidy(() =>
      e.record((tape) => {
        const { logits } = model.forward(batch);
        const leaf = tape.backward([[logits!, e.fromArray(c, logits!.shape)]]);
        return params.map((p) => leaf.get(p.tensor)?.toArray());
      }),
    );
    setRequiresGrad(params, false);
    const absL = e.tidy(() => dot(model.forward(batch).logits!.data().map(Math.abs), c.map(Math.abs)));
    params.forEach(({ name, tensor: t }, k) => {
      const g = grads[k];
      assert.ok(g, `no gradient for ${name}`);
      const gNorm = Math.sqrt(dot(g, g));
      assert.ok(gNorm > 0, `zero gradient for ${name}`);
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
      const tol = 4 * Math.abs(est - coarse) + (1e-6 * absL) / eps + 1e-4 * gNorm;
      assert.ok(tol < 0.05 * gNorm, `${name}: tolerance ${tol} not small against ${gNorm}`);
      assert.ok(Math.abs(est - gNorm) <= tol, `${name}: finite difference ${est} vs ‖gradient‖ ${gNorm} (tolerance ${tol})`);
    });
    model.dispose();
  });
});

interface GradFixture {
  model: { layers: number; heads: number; dModel: number; vocab: number; nCtx: number; seed: number; initStd: number };
  batch: { seqs: number[][]; pad: number; targets: Target[] };
  loss: number;
  grads: Record<string, number[]>;
}
const FIX = fileURLToPath(new URL('../../test/fixtures/training-torch.json', import.meta.url));
const fx = (JSON.parse(readFileSync(FIX, 'utf8')) as { grads: GradFixture }).grads;
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-wgrad-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const modelDir = join(tmp, 'model');
makeRandomModel(fx.model, modelDir);

for (const variant of ENGINE_VARIANTS) {
  test(`training-loss weight gradients match PyTorch autograd (${variant.label})`, async () => {
    await withEngine(variant.opts, async (e) => {
      const { model } = await loadGpt2Model(e, modelDir, { quiet: true });
      const params = modelParams(model);
      assert.deepEqual(params.map((p) => p.name).sort(), Object.keys(fx.grads).sort(), 'parameter names differ from the checkpoint\'s');
      setRequiresGrad(params, true);
      const { loss, grads } = e.tidy(() =>
        e.record((tape) => {
          const { logits } = model.forward(makeBatch(fx.batch.seqs, fx.batch.pad));
          const ce = crossEntropy(logits!, fx.batch.targets);
          const leaf = tape.backward([[logits!, ce.grad]]);
          return { loss: ce.loss, grads: params.map((p) => leaf.get(p.tensor)!.toArray()) };
        }),
      );
      assert.ok(Math.abs(loss - fx.loss) <= 1e-5 * Math.abs(fx.loss), `loss ${loss} vs torch ${fx.loss}`);
      params.forEach((p, k) => {
        const want = fx.grads[p.name]!, got = grads[k]!;
        assert.equal(got.length, want.length, p.name);
        const scale = Math.max(...want.map(Math.abs));
        assert.ok(scale > 0, `${p.name}: the fixture's gradient is zero (a useless check)`);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
        assert.ok(worst <= 1e-4 * scale + 1e-7, `${p.name}: max |ours − torch| = ${worst} (largest |gradient| ${scale})`);
      });
      model.dispose();
    });
  });
}

/**
 * With per-head hooks (the q/k/v inputs expanded per head, head results formed one by one) the forward pass
 * computes the same function through other ops; every weight gradient must be the same as on the plain path:
 * asserted to 1e-5 of each tensor's largest gradient (float32 sums in another order), on every kernel path.
 */
for (const variant of ENGINE_VARIANTS) {
  test(`weight gradients through the per-head hook paths equal the plain path's (${variant.label})`, async () => {
    await withEngine(variant.opts, (e: Engine) => {
      const model = new GPT2(e, dims, tinyWeights(dims, 23, 0.2));
      const params = modelParams(model);
      const r = new Rng(6);
      const c = Float32Array.from({ length: batch.B * dims.vocabSize }, () => r.normal());
      const observe = () => undefined; // a hook that looks and changes nothing
      const hooks: Record<string, () => undefined> = {};
      for (let l = 0; l < dims.nLayer; l++) {
        for (const n of [`blocks.${l}.hook_q_input`, `blocks.${l}.hook_k_input`, `blocks.${l}.hook_v_input`, `blocks.${l}.attn.hook_result`]) hooks[n] = observe;
      }
      const gradsWith = (h: Record<string, () => undefined>) => {
        setRequiresGrad(params, true);
        try {
          return e.tidy(() =>
            e.record((tape) => {
              const { logits } = model.forward(batch, { hooks: h });
              const leaf = tape.backward([[logits!, e.fromArray(c, logits!.shape)]]);
              return params.map((p) => leaf.get(p.tensor)?.toArray());
            }),
          );
        } finally {
          setRequiresGrad(params, false);
        }
      };
      const plain = gradsWith({}), hooked = gradsWith(hooks);
      params.forEach(({ name }, k) => {
        const want = plain[k]!, got = hooked[k];
        assert.ok(got, `no gradient for ${name} through the hook path`);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assert.ok(scale > 0, `${name}: zero gradient`);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
        assert.ok(worst <= 1e-5 * scale, `${name}: max difference ${worst} vs max |gradient| ${scale}`);
      });
    });
  });
}
