/**
 * The residual-stream rescaling of ./src/training/rescale.ts: an exact reparametrization (same last-position
 * logits), sensitive to every tensor group it touches, and a rescaled checkpoint loads back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Engine } from '../src/engine/engine.js';
import { GPT2, type GPT2Dims } from '../src/models/gpt2.js';
import { makeBatch } from '../src/models/batch.js';
import { loadGpt2Model } from '../src/models/load.js';
import { randomModelDefaults, randomWeightSource } from '../src/models/make-model.js';
import { writeTrainedModel } from '../src/training/checkpoint.js';
import { modelParams } from '../src/training/params.js';
import { meanRowNorm, residualScaleOf, scaleForEmbeddingNorm, scaleResidualStream } from '../src/training/rescale.js';
import { withEngine } from './helpers/engines.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-rescale-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const C = 7.5;
/**
 * Tolerance, relative to the largest |logit|. The weights have std 1 (initStd), so every LayerNorm input has
 * variance ≫ eps = 1e-5 and eps changes the normalization by ~eps/σ² ≈ 1e-5; f32 rounding of the scaled weights
 * adds ~1e-7 per product. 1e-4 leaves an order of magnitude, and a forgotten tensor moves logits by O(1)
 * (≥ 5e-3, checked below).
 */
const TOL = 1e-4;
const init = randomModelDefaults({ layers: 2, heads: 2, dModel: 16, nCtx: 8, seed: 3, initStd: 1, lnNoise: 0.3 });
const dims: GPT2Dims = { nLayer: 2, nHead: 2, dModel: 16, nPositions: 8, vocabSize: init.vocab, layerNormEpsilon: 1e-5 };
/** The random weights' shapes (the rescaled tensors keep them). */
const source = randomWeightSource(init);
const prompts = [[50256, 40, 1816, 284, 262, 3650], [50256, 464, 3797, 318]];

/** The model's tensors by name, as f32 copies. */
function tensorsOf(e: Engine): Map<string, Float32Array> {
  const m = new GPT2(e, dims, randomWeightSource(init));
  try {
    return new Map(modelParams(m).map((p) => [p.name, p.tensor.toArray()] as const));
  } finally {
    m.dispose();
  }
}

/** Last-position logits of every prompt, from a model with these tensors. */
function lastLogits(e: Engine, tensors: Map<string, Float32Array>): Float32Array {
  const m = new GPT2(e, dims, { readF32: (n) => new Float32Array(tensors.get(n)!), shape: (n) => source.shape(n), has: (n) => tensors.has(n) });
  try {
    return e.tidy(() => m.forward(makeBatch(prompts), { logits: 'last' }).logits!.toArray());
  } finally {
    m.dispose();
  }
}

/** max |a − b| / max |a|. */
function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(a[i]!));
  }
  return d / s;
}

test('rescaling the residual stream leaves the last-position logits unchanged', async () => {
  await withEngine({ gemm: 'wasm', threads: 2 }, (e) => {
    const t = tensorsOf(e);
    const before = lastLogits(e, t);
    scaleResidualStream(t, C);
    const d = relDiff(before, lastLogits(e, t));
    assert.ok(d < TOL, `relative logit difference ${d} ≥ ${TOL}`);
  });
});

test('undoing the scaling of any one tensor group changes the logits (the test above would catch a missed tensor)', async () => {
  await withEngine({ gemm: 'wasm', threads: 2 }, (e) => {
    const base = tensorsOf(e);
    const before = lastLogits(e, base);
    const groups: RegExp[] = [/^wte\./, /^wpe\./, /^ln_f\.weight$/, /^ln_f\.bias$/, /^h\.1\.attn\.c_proj\.weight$/, /^h\.0\.attn\.c_proj\.bias$/, /^h\.0\.mlp\.c_proj\.weight$/, /^h\.1\.mlp\.c_proj\.bias$/];
    for (const g of groups) {
      const t = new Map([...base].map(([n, a]) => [n, new Float32Array(a)] as const));
      scaleResidualStream(t, C);
      for (const [n, a] of t) if (g.test(n)) { const s = 1 / residualScaleOf(n, C); for (let i = 0; i < a.length; i++) a[i]! *= s; }
      const d = relDiff(before, lastLogits(e, t));
      // 10× the exactness tolerance: a real miss moves the logits far more (measured ≥ 0.005 for these groups,
      // the smallest for a bias, whose random initial values are small)
      assert.ok(d > 10 * TOL, `undoing ${g} changed the logits by only ${d}`);
    }
  });
});

test('only embeddings, residual writes and ln_f are scaled', () => {
  assert.equal(residualScaleOf('wte.weight', 2), 2);
  assert.equal(residualScaleOf('h.3.mlp.c_proj.bias', 2), 2);
  assert.equal(residualScaleOf('ln_f.bias', 2), 0.5);
  for (const n of ['h.0.ln_1.weight', 'h.0.attn.c_attn.weight', 'h.0.mlp.c_fc.bias', 'h.0.ln_2.bias']) assert.equal(residualScaleOf(n, 2), 1, n);
  assert.throws(() => scaleResidualStream(new Map([['wte.weight', new Float32Array(1)], ['wpe.weight', new Float32Array(1)]]), 2), /ln_f/);
  assert.throws(() => scaleResidualStream(new Map(), 0), /> 0/);
});

test('the scale for a target norm gives that mean row norm over the chosen tokens', () => {
  const wte = new Float32Array([3, 4, 0, 0, 0, 1, 6, 8]); // rows of norm 5, 0, 1, 10 (D = 2)
  assert.equal(meanRowNorm(wte, 2, [0, 3]), 7.5);
  const c = scaleForEmbeddingNorm(wte, 2, new Set([0, 2]), 6);
  assert.equal(c, 2);
  assert.throws(() => meanRowNorm(wte, 2, [4]), /out of range/);
});

test('a rescaled checkpoint loads, with the original logits', async () => {
  await withEngine({ gemm: 'wasm', threads: 2 }, async (e) => {
    const m = new GPT2(e, dims, randomWeightSource(init));
    const dir = join(tmp, 'scaled');
    let before: Float32Array;
    try {
      before = e.tidy(() => m.forward(makeBatch(prompts), { logits: 'last' }).logits!.toArray());
      writeTrainedModel(dir, { dims, params: modelParams(m), dtype: 'F32', training: { test: true }, residualScale: C });
    } finally {
      m.dispose();
    }
    const loaded = await loadGpt2Model(e, dir, { quiet: true });
    try {
      const wte = loaded.model.weights.wte.data();
      const orig = tensorsOf(e).get('wte.weight')!;
      assert.ok(Math.abs(wte[5]! / orig[5]! - C) < 1e-5, 'wte was not scaled on writing');
      const after = e.tidy(() => loaded.model.forward(makeBatch(prompts), { logits: 'last' }).logits!.toArray());
      const d = relDiff(before, after);
      assert.ok(d < TOL, `reloaded relative logit difference ${d} ≥ ${TOL}`);
    } finally {
      loaded.model.dispose();
    }
  });
});
