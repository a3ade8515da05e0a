/**
 * The deferred per-head input gradients (models/head-grads.ts) against the direct path: over three backward
 * passes at different inputs, Σ_passes of the per-head q/k/v input gradients delivered to plain gradient hooks
 * must equal what LayerHeadGrads forms once at the end. The two compute the same LayerNorm backward in different
 * coordinates (d_head vs d_model) and orders, so they agree to float32 rounding: asserted to 1e-5 of the largest
 * gradient, on each kernel path (a wrong term — a missing rstd, mean or x̂ correction — is off by O(1) relative).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tensor } from '../src/engine/tensor.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../src/engine/engine.js';
import { GPT2 } from '../src/models/gpt2.js';
import { openFamilyModel } from '../src/models/load.js';
import type { CausalLM } from '../src/models/model.js';
import { makeBatch, packBatch } from '../src/models/batch.js';
import { LayerHeadGrads } from '../src/models/head-grads.js';
import { hookNames, type GradHook } from '../src/models/hooks.js';
import { Rng } from '../src/models/random.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';
import { tinyDims, tinyWeights } from './helpers/tiny-model.js';

const dims = tinyDims({ nLayer: 2, nHead: 3, dModel: 12 });
const batch = packBatch(makeBatch([[3, 14, 15, 9, 2], [6, 5, 35]], 0));
const ARCH = fileURLToPath(new URL('../../test/fixtures/arch/', import.meta.url));

/** Direct per-pass hooks and the deferred sums on the same three passes agree on every layer's 3H head inputs. */
function checkDeferred(e: Engine, model: CausalLM): void {
  const { nLayer: L, nHead: H, dModel: D, vocabSize } = model.dims;
  const R = batch.ids.length;
  const r = new Rng(2);
  const seeds = [0, 1, 2].map(() => Float32Array.from({ length: batch.B * vocabSize }, () => r.normal()));
  const embeds = [0, 1, 2].map(() => Float32Array.from({ length: R * D }, () => r.normal() * 0.5));
  const slotNames = (l: number) => [hookNames.qInput(l), hookNames.kInput(l), hookNames.vInput(l)];
  const passes = (gradHooks: Record<string, GradHook>) => {
    for (let k = 0; k < 3; k++) {
      e.tidy(() =>
        e.record((tape) => {
          const { logits } = model.forward(batch, { embeds: e.fromArray(embeds[k]!, [R, D]), gradHooks });
          tape.backward([[logits!, e.fromArray(seeds[k]!, logits!.shape)]]);
        }),
      );
    }
  };
  // direct: every pass hands each slot's [H, R, D] gradient to the hook
  const direct = new Map<string, Float64Array>();
  const plain: Record<string, GradHook> = {};
  for (let l = 0; l < L; l++) {
    for (const n of slotNames(l)) {
      plain[n] = (g: Tensor) => {
        const sum = direct.get(n) ?? new Float64Array(H * R * D);
        g.data().forEach((v, i) => (sum[i]! += v));
        direct.set(n, sum);
      };
    }
  }
  passes(plain);
  // deferred: the same passes deposit into one LayerHeadGrads per layer
  const layers = Array.from({ length: L }, () => new LayerHeadGrads(e, H));
  const deferred: Record<string, GradHook> = {};
  for (let l = 0; l < L; l++) {
    for (const n of slotNames(l)) deferred[n] = Object.assign(() => assert.fail(`${n}: hook called`), { deferHeads: () => layers[l]! });
  }
  passes(deferred);
  for (let l = 0; l < L; l++) {
    assert.ok(layers[l]!.filled, `layer ${l}: no pass deposited`);
    const out = e.emptyDetached([3 * H, R, D]);
    layers[l]!.materialize(out.ptr);
    const got = out.toArray();
    out.dispose();
    slotNames(l).forEach((n, j) => {
      const want = direct.get(n)!;
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(scale > 0, `${n}: zero gradient`);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[j * H * R * D + i]! - want[i]!));
      assert.ok(worst <= 1e-5 * scale, `${n}: max error ${worst} vs max |gradient| ${scale}`);
    });
  }
}

for (const { label, opts } of ENGINE_VARIANTS) {
  test(`per-head input gradients summed in head space equal the per-pass sum: GPT-2 (${label})`, async () => {
    await withEngine(opts, (e) => checkDeferred(e, new GPT2(e, dims, tinyWeights(dims, 9))));
  });
  for (const name of ['neox-l2h4', 'qwen2-l2h4kv2-bf16', 'gemma2-l2h4kv2']) {
    test(`per-head input gradients summed in head space equal the per-pass sum: ${name} (${label})`, async () => {
      await withEngine(opts, (e) => {
        const model = openFamilyModel(e, join(ARCH, name), { quiet: true });
        checkDeferred(e, model);
        model.dispose();
      });
    });
  }
}
