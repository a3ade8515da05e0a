/**
 * Ablation baselines (src/attribution/ablation.ts, src/evaluation/means.ts) against independent computations:
 *   - the means are the dataset's: every real token of every clean prompt (per position for mean-positional),
 *     recomputed here one example at a time, and not any one batch's;
 *   - EAP with zero, mean and mean-positional ablation equals (1/N) Σ (ã_u − a_u)·∂L/∂x_v with ã = 0 or those
 *     means, the gradients taken here by a hooked forward and backward pass of the clean prompts;
 *   - clean-corrupted under an ablation is the mean of EAP and of one-step EAP-IG (both ends of the path from the
 *     ablated input); eap-gp takes no ablation.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { attribute } from '../src/attribution/attribute.js';
import { recordSources } from '../src/attribution/sources.js';
import type { AttributionOptions, PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import type { Tensor } from '../src/engine/tensor.js';
import { sourceMeans, type Intervention } from '../src/evaluation/means.js';
import { packBatch, rowStarts } from '../src/models/batch.js';
import { hookNames, type GradHook } from '../src/models/hooks.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import type { CausalLM } from '../src/models/model.js';
import { batches, getTask, lossGrad, type TaskExample } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { isUserError } from '../src/util/errors.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-ablation-'));
const dir = join(tmp, 'm');
const task = getTask('ioi');
const loss = (l: Float32Array, B: number, V: number, y: unknown[]) => lossGrad(task, l, B, V, y as Label[]);
before(() => makeRandomModel({ layers: 2, heads: 3, dModel: 48, seed: 3, initStd: 0.1 }, dir));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function setup(e: Engine) {
  const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
  const examples: TaskExample<Label>[] = task.load(fixtureCsv('ioi'), tokenizer, { limit: 12 });
  return { model, examples, bs: batches(examples, 4) };
}

/** Per position p (or one slot for all), Σ a_u over real tokens and their count, one example at a time, in float64. */
function referenceMeans(model: CausalLM, examples: TaskExample<Label>[], positional: boolean): { values: Float64Array; positions: number } {
  const e = model.engine, D = model.dims.dModel, n = model.layout.nSrc;
  const ones = batches(examples, 1);
  const positions = positional ? Math.max(...ones.map((b) => b.clean.lengths[0]!)) : 1;
  const sum = new Float64Array(positions * n * D), count = new Float64Array(positions);
  for (const b of ones) {
    const len = b.clean.lengths[0]!;
    e.tidy(() => {
      const buf = e.empty([n, b.clean.P, D]);
      recordSources(e, model, b.clean, buf, 1);
      const v = buf.data();
      for (let p = 0; p < len; p++) {
        const slot = positional ? p : 0;
        count[slot]! += 1;
        for (let u = 0; u < n; u++) for (let d = 0; d < D; d++) sum[(slot * n + u) * D + d]! += v[(u * b.clean.P + p) * D + d]!;
      }
    });
  }
  for (let p = 0; p < positions; p++) for (let i = p * n * D; i < (p + 1) * n * D; i++) sum[i]! /= count[p]!;
  return { values: sum, positions };
}

/** (1/N) Σ_batches Σ_{rows, d} (ã_u − a_u)·∂L/∂x_v over real edges, with ã from `ablated` (u, position, d). */
function formulaScores(model: CausalLM, bs: readonly PairBatch[], ablated: (u: number, p: number, d: number) => number): Float64Array {
  const e = model.engine, { nLayer: L, nHead: H, dModel: D, vocabSize: V } = model.dims, layout = model.layout;
  const { nSrc, nDst } = layout;
  const S = new Float64Array(nSrc * nDst);
  let N = 0;
  for (const b of bs) {
    const clean = packBatch(b.clean), R = clean.ids.length, starts = rowStarts(clean);
    const pos = new Int32Array(R);
    for (let i = 0; i < clean.B; i++) for (let r = starts[i]!; r < starts[i + 1]!; r++) pos[r] = r - starts[i]!;
    e.tidy(() => {
      const act = e.empty([nSrc, R, D]);
      recordSources(e, model, clean, act, 1);
      const a = act.toArray();
      const G = new Map<number, Float32Array>(); // destination → gradient [R, D]
      const grab = (first: number, count: number): GradHook => (g: Tensor) => {
        const v = g.toArray();
        for (let i = 0; i < count; i++) G.set(first + i, v.slice(i * R * D, (i + 1) * R * D));
      };
      const gradHooks: Record<string, GradHook> = { [hookNames.residFinal]: grab(layout.logitsSlot, 1) };
      for (let l = 0; l < L; l++) {
        const c0 = layout.firstSlot(l);
        gradHooks[hookNames.qInput(l)] = grab(c0, H);
        gradHooks[hookNames.kInput(l)] = grab(c0 + H, H);
        gradHooks[hookNames.vInput(l)] = grab(c0 + 2 * H, H);
        gradHooks[hookNames.mlpIn(l)] = grab(layout.mlpSlot(l), 1);
      }
      e.record((tape) => {
        const { logits } = model.forward(clean, { gradHooks, logits: 'last' });
        tape.backward([[logits!, e.fromArray(loss(logits!.toArray(), clean.B, V, b.labels).grad, logits!.shape)]]);
      });
      for (let v = 0; v < nDst; v++) {
        const g = G.get(v)!;
        for (let u = 0; u < layout.parentCount(v); u++) {
          let s = 0;
          for (let r = 0; r < R; r++) for (let d = 0; d < D; d++) s += (ablated(u, pos[r]!, d) - a[(u * R + r) * D + d]!) * g[r * D + d]!;
          S[u * nDst + v]! += s;
        }
      }
    });
    N += b.n;
  }
  return S.map((x) => x / N);
}

function relDiff(a: Float64Array, b: Float64Array): number {
  let mx = 0, md = 0;
  b.forEach((x, i) => {
    mx = Math.max(mx, Math.abs(x));
    md = Math.max(md, Math.abs(a[i]! - x));
  });
  return md / mx;
}

test('the means are over every real token of the dataset, not a batch', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, examples, bs } = await setup(e);
    assert.ok(new Set(examples.map((x) => x.clean.length)).size > 1, 'prompts of several lengths');
    for (const positional of [false, true]) {
      const ours = sourceMeans(model, bs, positional), ref = referenceMeans(model, examples, positional);
      assert.equal(ours.positions, ref.positions);
      assert.ok(relDiff(Float64Array.from(ours.values), ref.values) < 1e-6, `positional=${positional}: ${relDiff(Float64Array.from(ours.values), ref.values)}`);
      // one batch's mean is another number: a per-batch computation fails the check above
      // (position 0 is BOS in every prompt: its positional means agree, so compare every position the batch has)
      const first = sourceMeans(model, bs.slice(0, 1), positional), head = ref.values.subarray(0, first.values.length);
      assert.ok(relDiff(Float64Array.from(first.values), head) > 1e-3, `the first batch alone: ${relDiff(Float64Array.from(first.values), head)}`);
    }
    model.dispose();
  });
});

test('EAP under zero, mean and mean-positional ablation equals the formula with those baselines', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, examples, bs } = await setup(e);
    const D = model.dims.dModel, n = model.layout.nSrc;
    const mean = referenceMeans(model, examples, false), perPos = referenceMeans(model, examples, true);
    const baselines: Record<Exclude<Intervention, 'patching'>, (u: number, p: number, d: number) => number> = {
      zero: () => 0,
      mean: (u, _p, d) => mean.values[u * D + d]!,
      'mean-positional': (u, p, d) => perPos.values[(p * n + u) * D + d]!,
    };
    const seen: Float64Array[] = [];
    for (const [intervention, base] of Object.entries(baselines)) {
      const got = (await attribute({ model, batches: bs, method: 'eap', loss, options: { intervention } as AttributionOptions })).scores;
      const want = formulaScores(model, bs, base);
      assert.ok(relDiff(got, want) < 1e-5, `${intervention}: ${relDiff(got, want)}`);
      seen.push(got);
    }
    assert.ok(relDiff(seen[0]!, seen[1]!) > 1e-2 && relDiff(seen[1]!, seen[2]!) > 1e-3, 'the three baselines give different scores');
    model.dispose();
  });
});

test('clean-corrupted under an ablation is the mean of EAP and the path start; eap-gp takes no ablation', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, bs } = await setup(e);
    const run = async (method: string, o: AttributionOptions) => (await attribute({ model, batches: bs, method, loss, options: o })).scores;
    for (const intervention of ['zero', 'mean'] as const) {
      const cc = await run('clean-corrupted', { intervention });
      const eap = await run('eap', { intervention }), start = await run('eap-ig', { intervention, steps: 1 });
      const half = eap.map((x, i) => (x + start[i]!) / 2);
      assert.ok(relDiff(cc, half) < 1e-5, `${intervention}: ${relDiff(cc, half)}`);
      assert.ok(relDiff(start, eap) > 1e-3, `${intervention}: the ablated input's gradient is not the clean one`);
      // every method that takes it runs to finite scores, distinct from patching's
      for (const method of ['eap-ig', 'eap-ig-activations']) {
        const s = await run(method, { intervention, steps: 2 });
        assert.ok(s.every(Number.isFinite) && relDiff(s, await run(method, { steps: 2 })) > 1e-3, `${method} ${intervention}`);
      }
    }
    await assert.rejects(run('eap-gp', { intervention: 'zero' }), (err: unknown) => isUserError(err) && /--intervention zero applies to --method eap, .* not eap-gp/.test((err as Error).message));
    model.dispose();
  });
});
