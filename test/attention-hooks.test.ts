/**
 * The attention's hook points (src/models/hooks.ts): hook_attn_scores, hook_pattern and hook_resid_pre, on GPT-2's
 * fused kernel (padded and packed batches) and on a family with rotary, grouped-query attention, soft-capped scores
 * and a sliding window. The pattern is the softmax of the scores over the visible keys (−∞ elsewhere), equals the
 * pattern recomputed from CausalLM.attentionQK of the block's input, and watching changes no logit; the scores'
 * gradient is the softmax's of the pattern's; the two points cannot be replaced.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../src/engine/tensor.js';
import { makeBatch, packBatch, type Batch } from '../src/models/batch.js';
import { GPT2 } from '../src/models/gpt2.js';
import { hookNames, type ForwardHook, type GradHook } from '../src/models/hooks.js';
import { openFamilyModel } from '../src/models/load.js';
import type { CausalLM } from '../src/models/model.js';
import { withEngine } from './helpers/engines.js';
import { tinyDims, tinyWeights } from './helpers/tiny-model.js';

const ARCH = fileURLToPath(new URL('../../test/fixtures/arch/', import.meta.url));

/** The pattern of layer l recomputed from its input x [R, D] with attentionQK, per example, padded [B, H, P, P]. */
function recomputed(model: CausalLM, l: number, x: Tensor, batch: Batch): Float64Array {
  const H = model.dims.nHead, { B, P } = batch;
  const starts = [0];
  for (let b = 0; b < B; b++) starts.push(starts[b]! + (batch.packed ? batch.lengths[b]! : P));
  const pos = new Int32Array(x.shape[0]!);
  for (let b = 0; b < B; b++) for (let r = starts[b]!; r < starts[b + 1]!; r++) pos[r] = r - starts[b]!;
  const { q, k, scale, softcap, window } = model.attentionQK(l, x, pos);
  const Q = q.data(), K = k.data(), HD = q.shape[1]!, dh = HD / H;
  const A = new Float64Array(B * H * P * P);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < batch.lengths[b]!; i++) {
        const lo = window ? Math.max(0, i - window + 1) : 0, s = new Float64Array(i + 1);
        for (let j = lo; j <= i; j++) {
          let d = 0;
          for (let c = 0; c < dh; c++) d += Q[(starts[b]! + i) * HD + h * dh + c]! * K[(starts[b]! + j) * HD + h * dh + c]!;
          s[j] = softcap ? softcap * Math.tanh((scale * d) / softcap) : scale * d;
        }
        const max = Math.max(...s.subarray(lo));
        let sum = 0;
        for (let j = lo; j <= i; j++) sum += s[j] = Math.exp(s[j]! - max);
        for (let j = lo; j <= i; j++) A[((b * H + h) * P + i) * P + j] = s[j]! / sum;
      }
    }
  }
  return A;
}

async function check(model: CausalLM, batch: Batch, what: string): Promise<void> {
  const e = model.engine, L = model.dims.nLayer, H = model.dims.nHead, { B, P } = batch;
  const plain = e.tidy(() => model.forward(batch, { logits: 'last' }).logits!.toArray());
  for (let l = 0; l < L; l++) {
    let scores: Float32Array | null = null, pattern: Float32Array | null = null, dA: Float32Array | null = null, dS: Float32Array | null = null;
    let want: Float64Array | null = null;
    const hooks: Record<string, ForwardHook> = {
      [hookNames.residPre(l)]: (x) => void (want = recomputed(model, l, x, batch)),
      [hookNames.attnScores(l)]: (s) => void (scores = s.toArray()),
      [hookNames.pattern(l)]: (a) => void (pattern = a.toArray()),
    };
    const gradHooks: Record<string, GradHook> = {
      [hookNames.pattern(l)]: (g) => void (dA = g.toArray()),
      [hookNames.attnScores(l)]: (g) => void (dS = g.toArray()),
    };
    const logits = e.tidy(() =>
      e.record((tape) => {
        const { logits } = model.forward(batch, { hooks, gradHooks, logits: 'last' });
        const seed = new Float32Array(logits!.size).fill(1);
        tape.backward([[logits!, e.fromArray(seed, logits!.shape)]]);
        return logits!.toArray();
      }),
    );
    assert.deepEqual(logits, plain, `${what}, layer ${l}: watching changed the logits`);
    assert.equal(pattern!.length, B * H * P * P);
    let worst = 0, worstGrad = 0;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < batch.lengths[b]!; i++) {
          const o = ((b * H + h) * P + i) * P;
          let max = -Infinity, sum = 0, dot = 0;
          for (let j = 0; j < P; j++) if (scores![o + j]! > max) max = scores![o + j]!;
          for (let j = 0; j < P; j++) sum += Math.exp(scores![o + j]! - max);
          for (let j = 0; j < P; j++) {
            if (scores![o + j] === -Infinity) assert.equal(pattern![o + j], 0);
            worst = Math.max(worst, Math.abs(pattern![o + j]! - Math.exp(scores![o + j]! - max) / sum), Math.abs(pattern![o + j]! - want![o + j]!));
            dot += pattern![o + j]! * dA![o + j]!;
          }
          for (let j = 0; j < P; j++) worstGrad = Math.max(worstGrad, Math.abs(dS![o + j]! - pattern![o + j]! * (dA![o + j]! - dot)));
        }
      }
    }
    assert.ok(worst < 1e-5, `${what}, layer ${l}: pattern off by ${worst}`);
    assert.ok(worstGrad < 1e-6 && dA!.some((x) => x !== 0), `${what}, layer ${l}: scores' gradient off by ${worstGrad}`);
  }
  const replace: ForwardHook = (a) => a;
  assert.throws(() => e.tidy(() => model.forward(batch, { hooks: { [hookNames.pattern(0)]: replace } })), /can be read, not replaced/);
}

test('attention scores and pattern hooks: GPT-2 fused attention, padded and packed', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const dims = tinyDims({ nLayer: 2, nHead: 2, dModel: 8 });
    const model = new GPT2(e, dims, tinyWeights(dims, 5, 0.5));
    const batch = makeBatch([[1, 2, 3, 4, 5], [6, 7, 8]], 0);
    await check(model, batch, 'padded');
    await check(model, packBatch(batch), 'packed');
    model.dispose();
  });
});

test('attention scores and pattern hooks: Gemma 2 (rotary, grouped-query, soft-capped, sliding window)', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const model = openFamilyModel(e, join(ARCH, 'gemma2-sharp-l2h3kv1'), { quiet: true });
    await check(model, makeBatch([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10]], 0), 'gemma2');
    model.dispose();
  });
});
