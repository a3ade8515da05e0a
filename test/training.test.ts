/**
 * Training: the loss and its targets, the schedule, clipping, AdamW, the data stream, and short real runs —
 * deterministic for a seed (two runs give the same checkpoint bytes), lowering the loss, and writing a
 * checkpoint that loads back with identical logits, here and in PyTorch (test/fixtures/training-torch.json,
 * made by gen-training.py from the same `eapgp train` command with the reference kernels).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GPT2 } from '../src/models/gpt2.js';
import { makeBatch } from '../src/models/batch.js';
import { loadGpt2Model } from '../src/models/load.js';
import { randomModelDefaults, randomWeightSource } from '../src/models/make-model.js';
import { Rng } from '../src/models/random.js';
import { generateExamples } from '../src/tasks/generated.js';
import { yearTokenIds } from '../src/tasks/index.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { AdamW } from '../src/training/adamw.js';
import { clipGradients } from '../src/training/clip.js';
import { writeTrainedModel } from '../src/training/checkpoint.js';
import { TrainingStream } from '../src/training/data.js';
import { crossEntropy } from '../src/training/loss.js';
import { modelParams } from '../src/training/params.js';
import { trainRun } from '../src/training/run.js';
import { learningRate } from '../src/training/schedule.js';
import { targetOf } from '../src/training/targets.js';
import { train } from '../src/training/train.js';
import { isUserError } from '../src/util/errors.js';
import { withEngine } from './helpers/engines.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-train-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const tokenizer = loadTokenizer();
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

test('cross-entropy and its gradient match a float64 computation', async () => {
  await withEngine({ gemm: 'wasm', threads: 2 }, (e) => {
    const B = 3, V = 1000, r = new Rng(2);
    const z = Float32Array.from({ length: B * V }, () => 4 * r.normal());
    const targets = [{ ids: [7], weights: [1] }, { ids: [1, 2, 3, 4], weights: [0.25, 0.25, 0.25, 0.25] }, { ids: [9, 9, 5], weights: [0.25, 0.25, 0.5] }];
    const got = e.tidy(() => {
      const res = crossEntropy(e.fromArray(z, [B, V]), targets);
      return { loss: res.loss, per: res.perExample, grad: res.grad.toArray() };
    });
    let total = 0;
    for (let b = 0; b < B; b++) {
      const row = Array.from(z.subarray(b * V, (b + 1) * V));
      const max = Math.max(...row), lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      const w = new Float64Array(V);
      targets[b]!.ids.forEach((id, k) => (w[id]! += targets[b]!.weights[k]!));
      const l = -targets[b]!.ids.reduce((s, id, k) => s + targets[b]!.weights[k]! * (row[id]! - lse), 0);
      // the engine's float32 softmax (polynomial exp) is good to ~1e-6 relative: loss to 1e-5 relative, each
      // gradient entry (p − w)/B to 4e-6 of (p + w)/B (the sum bounds the cancellation when p ≈ w)
      assert.ok(Math.abs(got.per[b]! - l) <= 1e-5 * Math.abs(l), `example ${b}: loss ${got.per[b]} vs ${l}`);
      total += l;
      for (let j = 0; j < V; j++) {
        const p = Math.exp(row[j]! - lse), want = (p - w[j]!) / B;
        assert.ok(Math.abs(got.grad[b * V + j]! - want) <= (4e-6 * (p + w[j]!)) / B + 1e-12, `grad[${b}, ${j}] ${got.grad[b * V + j]} vs ${want}`);
      }
    }
    assert.ok(Math.abs(got.loss - total / B) <= 1e-5 * total / B);
  });
});

test('training targets: the answer; greater-than: uniform over the later years; sva: the number\'s verbs', () => {
  assert.deepEqual(targetOf({ kind: 'logit-diff', correct: 5, incorrect: 6 }), { ids: [5], weights: [1] });
  const yearIds = yearTokenIds(tokenizer);
  const gt = targetOf({ kind: 'greater-than', year: 32, yearIds });
  assert.deepEqual(gt.ids, yearIds.slice(33));
  assert.ok(gt.weights.every((w) => Math.abs(w - 1 / 67) < 1e-15));
  const verbs = { singular: [1, 2], plural: [3, 4, 5] };
  assert.deepEqual(targetOf({ kind: 'sva', plural: true, verbs }).ids, [3, 4, 5]);
  assert.deepEqual(targetOf({ kind: 'hypernymy', answers: [8, 9], corrupted: [1] }).weights, [0.5, 0.5]);
});

test('schedule: linear warm-up to lr, then cosine or linear decay to min-lr at the last step', () => {
  const o = { lr: 1e-3, steps: 110, warmup: 10, decay: 'cosine' as const };
  assert.equal(learningRate(o, 0), 1e-4);
  assert.equal(learningRate(o, 9), 1e-3);
  assert.equal(learningRate(o, 10), 1e-3);
  assert.ok(Math.abs(learningRate(o, 109) - 1e-4) < 1e-15);
  assert.ok(Math.abs(learningRate(o, 59.5) - 5.5e-4) < 1e-12, 'cosine midpoint is halfway between lr and min-lr');
  assert.ok(Math.abs(learningRate({ ...o, decay: 'linear', minLr: 0 }, 59.5) - 5e-4) < 1e-12);
});

test('clipping scales all gradients together to the global norm limit; AdamW follows its formula', async () => {
  await withEngine({ gemm: 'reference' }, (e) => {
    e.tidy(() => {
      const a = e.fromArray([3, 0]), b = e.fromArray([0, 4]);
      assert.equal(clipGradients([a, b], 10), 5); // under the limit: unchanged
      assert.deepEqual([...a.data(), ...b.data()], [3, 0, 0, 4]);
      assert.equal(clipGradients([a, b], 1), 5);
      assert.deepEqual([...a.data(), ...b.data()].map((x) => Math.round(x * 1e6) / 1e6), [0.6, 0, 0, 0.8]);
      // AdamW, two steps by hand: decoupled decay only on `decay` parameters
      const w = e.fromArray([1, -2]), bias = e.fromArray([0.5]);
      const opt = new AdamW([{ name: 'w', tensor: w, decay: true }, { name: 'b', tensor: bias, decay: false }], { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
      const g1 = [e.fromArray([0.5, -1]), e.fromArray([2])], g2 = [e.fromArray([-0.5, 1]), e.fromArray([2])];
      const want = (p: number, gs: number[], decay: boolean) => {
        let m = 0, v = 0;
        gs.forEach((g, i) => {
          const t = i + 1, lr = 0.01;
          m = 0.9 * m + 0.1 * g;
          v = 0.99 * v + 0.01 * g * g;
          p = p * (decay ? 1 - lr * 0.1 : 1) - (lr * m) / (1 - 0.9 ** t) / (Math.sqrt(v / (1 - 0.99 ** t)) + 1e-8);
        });
        return p;
      };
      opt.step(g1, 0.01);
      opt.step(g2, 0.01);
      const got = [...w.data(), ...bias.data()];
      [want(1, [0.5, -0.5], true), want(-2, [-1, 1], true), want(0.5, [2, 2], false)].forEach((x, i) => assert.ok(Math.abs(got[i]! - x) < 1e-6, `param ${i}: ${got[i]} vs ${x}`));
    });
  });
});

test('the data stream is seeded, mixes the tasks in equal shares, and uses the task loaders\' labels', () => {
  const make = (seed: number) => new TrainingStream({ tasks: ['ioi', 'greater-than', 'sva'], seed, tokenizer, chunkSize: 8 });
  const a = make(3), b = make(3), c = make(4);
  const ba = [a.nextBatch(5), a.nextBatch(7)], bb = [b.nextBatch(5), b.nextBatch(7)], bc = [c.nextBatch(5), c.nextBatch(7)];
  assert.deepEqual(ba.map((x) => Array.from(x.batch.ids)), bb.map((x) => Array.from(x.batch.ids)));
  assert.notDeepEqual(ba.map((x) => Array.from(x.batch.ids)), bc.map((x) => Array.from(x.batch.ids)));
  assert.deepEqual([...ba[0]!.tasks, ...ba[1]!.tasks], Array.from({ length: 12 }, (_, i) => ['ioi', 'greater-than', 'sva'][i % 3]));
  // 12 examples with chunks of 8 per task: the first ioi chunk is the generator's own output with the derived seed
  assert.equal(ba[0]!.labels[0]!.kind, 'logit-diff');
  assert.equal(ba[0]!.labels[1]!.kind, 'greater-than');
  assert.equal(ba[0]!.labels[2]!.kind, 'sva');
  assert.throws(() => make(1) && new TrainingStream({ tasks: ['ioi', 'custom'], seed: 0, tokenizer }), (e: unknown) => isUserError(e) && /custom.*choose from ioi/.test((e as Error).message));
  assert.throws(() => new TrainingStream({ tasks: ['ioi', 'ioi'], seed: 0, tokenizer }), (e: unknown) => isUserError(e) && /twice/.test((e as Error).message));
});

const tiny = { layers: 1, heads: 2, dModel: 16, nCtx: 32 };
const runOpts = (out: string, steps: number) => ({
  ...tiny, tasks: ['ioi', 'greater-than'], steps, batchSize: 8, seed: 11, dtype: 'F32' as const, out, evalN: 0,
  schedule: { lr: 1e-2, warmup: 2, decay: 'cosine' as const },
});

test('training is deterministic for a seed: two runs write identical checkpoints (BLAS or WebAssembly, 2 threads)', async () => {
  await withEngine({ gemm: 'auto', threads: 2 }, async (e) => {
    const a = await trainRun(e, runOpts(join(tmp, 'det-a'), 12));
    const b = await trainRun(e, runOpts(join(tmp, 'det-b'), 12));
    assert.deepEqual(Array.from(a.losses), Array.from(b.losses));
    assert.ok(readFileSync(join(tmp, 'det-a', 'model.safetensors')).equals(readFileSync(join(tmp, 'det-b', 'model.safetensors'))), 'checkpoint bytes differ');
    assert.deepEqual(readdirSync(join(tmp, 'det-a')).sort(), ['config.json', 'model.safetensors', 'training.json']);
    const c = await trainRun(e, { ...runOpts(join(tmp, 'det-c'), 12), seed: 12 });
    assert.notDeepEqual(Array.from(a.losses), Array.from(c.losses), 'another seed must give another run');
  });
});

test('a short run lowers the loss, and its checkpoint loads back with identical logits', async () => {
  await withEngine({ gemm: 'auto', threads: 2 }, async (e) => {
    const init = randomModelDefaults({ ...tiny, seed: 5, lnNoise: 0 });
    const dims = { nLayer: 1, nHead: 2, dModel: 16, nPositions: 32, vocabSize: 50257, layerNormEpsilon: 1e-5 };
    const model = new GPT2(e, dims, randomWeightSource(init));
    const steps = 60;
    const { losses } = await train(model, tokenizer, { tasks: ['ioi', 'greater-than'], steps, batchSize: 16, seed: 5, schedule: { lr: 1e-2, warmup: 5, decay: 'cosine' } });
    const mean = (a: Float64Array) => a.reduce((s, x) => s + x, 0) / a.length;
    const first = mean(losses.subarray(0, 10)), last = mean(losses.subarray(steps - 10));
    // from ≈ ln(50257) = 10.8 (uniform over the vocabulary) to well below: a broken gradient or update cannot do this
    assert.ok(first > 9, `initial loss ${first}`);
    assert.ok(last < first - 4, `loss went from ${first} to ${last}`);
    const dir = join(tmp, 'reload');
    writeTrainedModel(dir, { dims, params: modelParams(model), dtype: 'F32', training: { test: true } });
    const prompts = generateExamples('ioi', { n: 6, seed: 99, tokenizer }).map((x) => x.clean);
    const logitsOf = (m: GPT2) => e.tidy(() => m.forward(makeBatch(prompts), { logits: 'all' }).logits!.toArray());
    const before = logitsOf(model);
    const loaded = await loadGpt2Model(e, dir, { quiet: true });
    assert.deepEqual(loaded.config.raw.eapgp_training, { test: true });
    assert.ok(Buffer.from(logitsOf(loaded.model).buffer).equals(Buffer.from(before.buffer)), 'logits of the reloaded checkpoint differ');
    model.dispose();
    loaded.model.dispose();
  });
});

interface CheckpointFixture {
  trainArgs: string[];
  safetensorsSha256: string;
  sampleIds: number[];
  prompts: { tokens: number[]; sample: number[]; logsumexp: number; maxAbs: number }[];
  /** The same values from the independent PyTorch oracle loading the checkpoint (float64). */
  oracle: { tokens: number[]; sample: number[]; logsumexp: number; maxAbs: number }[];
}

test('a checkpoint written by eapgp train loads in PyTorch and in the oracle with the same logits (committed fixture)', async () => {
  const fx = (JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/training-torch.json', import.meta.url)), 'utf8')) as { checkpoint: CheckpointFixture }).checkpoint;
  const dir = join(tmp, 'torch-ckpt');
  const r = spawnSync(process.execPath, [CLI, 'train', ...fx.trainArgs, '--quiet', '--out', dir], { env: { ...process.env, EAPGP_GEMM: 'reference' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  await withEngine({ gemm: 'auto', threads: 2 }, async (e) => {
    const { model } = await loadGpt2Model(e, dir, { quiet: true });
    assert.equal(fx.oracle.length, fx.prompts.length);
    for (const p of [...fx.prompts, ...fx.oracle]) {
      const z = e.tidy(() => model.forward(makeBatch([p.tokens])).logits!.toArray());
      // float32 against torch float64 through two layers: ≈ 1e-6 of max |logit|; 1e-4 is the oracle tests' bound
      const tol = 1e-4 * p.maxAbs;
      fx.sampleIds.forEach((id, k) => assert.ok(Math.abs(z[id]! - p.sample[k]!) <= tol, `logit ${id}: ${z[id]} vs torch ${p.sample[k]}`));
      const max = Math.max(...z), lse = max + Math.log(z.reduce((s, x) => s + Math.exp(x - max), 0));
      assert.ok(Math.abs(lse - p.logsumexp) <= tol, `log-sum-exp ${lse} vs torch ${p.logsumexp}`);
    }
    model.dispose();
  });
});

test('eapgp train: bad options are user errors that name the option', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'train', ...args], { encoding: 'utf8' });
  const base = ['--layers', '1', '--heads', '2', '--d-model', '8', '--steps', '1', '--out', join(tmp, 'bad')];
  for (const [args, msg] of [
    [['--tasks', 'ioi,nope', ...base], /"nope" is not a task with a generator/],
    [['--tasks', 'ioi', ...base, '--heads', '3'], /--d-model 8 is not divisible by --heads 3/],
    [['--tasks', 'ioi', ...base, '--lr', 'fast'], /--lr must be a number/],
    [['--tasks', 'ioi', ...base, '--dtype', 'BF8'], /--dtype must be F32 or F16/],
    [['--tasks', 'ioi', ...base, '--warmup', '5'], /--warmup must be an integer from 0 to --steps/],
    [['--layers', '1'], /--tasks is required/],
  ] as const) {
    const r = run(...args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a user error prints no stack trace');
  }
  assert.ok(!existsSync(join(tmp, 'bad')), 'nothing written on bad input');
});

test('eapgp train --embedding-norm: the same model in another scale (same logits), c and N in training.json', async () => {
  const args = ['train', '--tasks', 'ioi,greater-than', '--layers', '1', '--heads', '2', '--d-model', '8', '--n-ctx', '32', '--steps', '4',
    '--batch-size', '4', '--seed', '3', '--dtype', 'F32', '--eval-n', '0', '--quiet', '--init-std', '1'];
  // init std 1: the residual stream's variance (≈ 1 and up) dwarfs LayerNorm's eps (1e-5), the only thing the
  // rescaling changes; the embedding rows (norm ≈ √8) grow about ten-fold to a mean norm of 30
  const plain = join(tmp, 'scale-plain'), scaled = join(tmp, 'scale-30');
  for (const [dir, extra] of [[plain, []], [scaled, ['--embedding-norm', '30']]] as const) {
    const r = spawnSync(process.execPath, [CLI, ...args, ...extra, '--out', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const info = JSON.parse(readFileSync(join(scaled, 'training.json'), 'utf8')) as { embedding_norm: { norm: number; scale: number; tokens: number } };
  assert.equal(info.embedding_norm.norm, 30);
  assert.ok(info.embedding_norm.scale > 5 && info.embedding_norm.tokens > 10, JSON.stringify(info.embedding_norm));
  await withEngine({ gemm: 'auto', threads: 2 }, async (e) => {
    const prompts = generateExamples('ioi', { n: 4, seed: 8, tokenizer }).map((x) => x.clean);
    const logits = async (dir: string) => {
      const { model } = await loadGpt2Model(e, dir, { quiet: true });
      const z = e.tidy(() => model.forward(makeBatch(prompts)).logits!.toArray());
      const wte = model.weights.wte.toArray();
      model.dispose();
      return { z, wte };
    };
    const a = await logits(plain), b = await logits(scaled);
    // the wte rows grew by c; the function did not: logits equal up to LayerNorm's eps and float32 rounding
    assert.ok(Math.abs(b.wte[0]! / a.wte[0]! - info.embedding_norm.scale) < 1e-4 * info.embedding_norm.scale);
    const scale = a.z.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    a.z.forEach((v, i) => assert.ok(Math.abs(v - b.z[i]!) <= 1e-4 * scale, `logit ${i}: ${v} vs ${b.z[i]}`));
  });
});
