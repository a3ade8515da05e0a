/**
 * Task metrics (src/tasks/metric.ts): values agree with the PyTorch oracle's Task.metric on identical
 * synthetic logits (test/fixtures/tasks/metrics.json), gradients agree with central finite differences,
 * and lossGrad is −mean / −grad/B. The logits come from an integer hash both sides compute exactly, so no
 * big fixture is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getTask, lossGrad, taskMetric, taskMetricGrad, taskNames, type Label } from '../src/tasks/index.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { FIXTURES, fixtureCsv, gpt2TokenizerDir } from './helpers/data.js';

const tok = loadTokenizer(gpt2TokenizerDir());

interface Fixture {
  seed: number;
  examples: number;
  vocab: number;
  checks: Record<string, number>;
  tasks: Record<string, { values: number[] }>;
}
const fx = JSON.parse(readFileSync(join(FIXTURES, 'tasks', 'metrics.json'), 'utf8')) as Fixture;

/**
 * logits[b, v]: a 32-bit integer hash of (b, v) turned into a multiple of 2^-20 in [-4, 4), plus 6 on about
 * 1 % of the tokens (so some tokens carry real probability). Exact in float64, then rounded to float32;
 * the fixture generator computes the same formula in numpy.
 */
function synthLogits(B: number, V: number, seed: number): Float32Array {
  const out = new Float32Array(B * V);
  for (let b = 0; b < B; b++) {
    for (let v = 0; v < V; v++) {
      let h = ((b * 65536 + v) ^ seed) >>> 0;
      h = Math.imul(h, 0x9e3779b1) >>> 0;
      h = (h ^ (h >>> 15)) >>> 0;
      h = Math.imul(h, 0x85ebca77) >>> 0;
      h = (h ^ (h >>> 13)) >>> 0;
      let u = ((h >>> 9) - 2 ** 22) / 2 ** 20;
      if ((h & 0xff) < 3) u += 6;
      out[b * V + v] = u;
    }
  }
  return out;
}

const B = fx.examples;
const V = fx.vocab;
const logits = synthLogits(B, V, fx.seed);

test('synthetic logits match the generator', () => {
  assert.equal(V, tok.vocabSize);
  assert.equal(logits[1 * V + 7], fx.checks['logits[1,7]']);
  assert.equal(logits[5 * V + 50256], fx.checks['logits[5,50256]']);
  let s = 0;
  for (const x of logits) s += x;
  assert.ok(Math.abs(s - fx.checks['sum']!) < 1e-6, `${s} vs ${fx.checks['sum']}`);
});

for (const name of taskNames) {
  test(`${name}: metric equals the oracle's on the first ${B} rows (1e-9 relative)`, () => {
    const task = getTask(name);
    const labels = task.load(fixtureCsv(name), tok, { limit: B }).map((e) => e.label);
    const ours = task.metric(logits, B, V, labels);
    const want = fx.tasks[name]!.values;
    assert.equal(want.length, B);
    for (let b = 0; b < B; b++) {
      const tol = 1e-9 * Math.abs(want[b]!) + 1e-300;
      assert.ok(Math.abs(ours[b]! - want[b]!) <= tol, `${name} example ${b}: ours ${ours[b]} oracle ${want[b]}`);
    }
    // metricGrad returns the same values.
    assert.deepEqual([...task.metricGrad(logits, B, V, labels).values], [...ours]);
  });
}

/** Central difference of metric b with respect to logits[b, j] (ε = 2^-10 is exact on these float32 logits). */
function finiteDiff(z: Float32Array, Bn: number, Vn: number, labels: readonly Label[], b: number, j: number): number {
  const eps = 2 ** -10;
  const x = z.slice();
  const i = b * Vn + j;
  x[i] = z[i]! + eps;
  assert.equal(x[i], z[i]! + eps, 'perturbation must be exact in float32');
  const up = taskMetric(x, Bn, Vn, labels)[b]!;
  x[i] = z[i]! - eps;
  const down = taskMetric(x, Bn, Vn, labels)[b]!;
  return (up - down) / (2 * eps);
}

test('metricGrad = finite differences on a small vocabulary, every coordinate, every label kind', () => {
  const Vn = 64;
  const yearIds = Array.from({ length: 100 }, (_, y) => (y * 7) % 50); // repeats: ids are counted per year
  const verbs = { singular: [3, 9, 20, 21], plural: [4, 10, 22] };
  const labels: Label[] = [
    { kind: 'logit-diff', correct: 5, incorrect: 17 },
    { kind: 'logit-diff', correct: 8, incorrect: 8 },
    { kind: 'greater-than', year: 37, yearIds },
    { kind: 'greater-than', year: 0, yearIds },
    { kind: 'sva', plural: false, verbs },
    { kind: 'sva', plural: true, verbs },
    { kind: 'hypernymy', answers: [1, 2, 2, 40], corrupted: [2, 33] }, // a repeat and an overlap
  ];
  const Bn = labels.length;
  const z = synthLogits(Bn, Vn, 777);
  const { values, grad } = taskMetricGrad(z, Bn, Vn, labels);
  for (let b = 0; b < Bn; b++) {
    let scale = 0;
    for (let j = 0; j < Vn; j++) scale = Math.max(scale, Math.abs(grad[b * Vn + j]!));
    if (b === 1) assert.equal(scale, 0); // correct = incorrect: the metric is identically 0
    else assert.ok(scale > 1e-3, `example ${b}: gradient too small to test`);
    for (let j = 0; j < Vn; j++) {
      const fd = finiteDiff(z, Bn, Vn, labels, b, j);
      const g = grad[b * Vn + j]!;
      assert.ok(Math.abs(fd - g) <= 1e-6 * scale, `example ${b} (${labels[b]!.kind}), id ${j}: grad ${g} vs finite difference ${fd}`);
    }
    if (b === 1) assert.equal(values[b], 0);
  }
  // The hypernymy value counts repeats like a gather-sum: 2·p2 cancels one p2 of the corrupted list.
  const o = 6 * Vn;
  let max = -Infinity;
  for (let j = 0; j < Vn; j++) max = Math.max(max, z[o + j]!);
  let s = 0;
  for (let j = 0; j < Vn; j++) s += Math.exp(z[o + j]! - max);
  const p = (j: number): number => Math.exp(z[o + j]! - max) / s;
  assert.ok(Math.abs(values[6]! - (p(1) + p(2) + p(40) - p(33))) < 1e-15);
});

test('metricGrad = finite differences on the task files\' labels (full vocabulary, sampled ids in and out of the answer sets)', () => {
  for (const name of taskNames) {
    const task = getTask(name);
    const labels = task.load(fixtureCsv(name), tok, { limit: B }).map((e) => e.label);
    const { grad } = task.metricGrad(logits, B, V, labels);
    for (let b = 0; b < B; b++) {
      const l = labels[b]!;
      const inSet =
        l.kind === 'logit-diff' ? [l.correct, l.incorrect]
        : l.kind === 'greater-than' ? [l.yearIds[0]!, l.yearIds[l.year]!, l.yearIds[l.year + 1]!, l.yearIds[99]!]
        : l.kind === 'sva' ? [l.verbs.singular[0]!, l.verbs.singular[l.verbs.singular.length >> 1]!, l.verbs.plural[3]!, l.verbs.plural.at(-1)!]
        : [...l.answers, ...l.corrupted];
      const ids = [...inSet, 0, 13, 262, 1000 + 997 * b, 50256];
      let scale = 0;
      for (let j = 0; j < V; j++) scale = Math.max(scale, Math.abs(grad[b * V + j]!));
      for (const j of ids) {
        const fd = finiteDiff(logits, B, V, labels, b, j);
        const g = grad[b * V + j]!;
        assert.ok(Math.abs(fd - g) <= 1e-6 * scale + 1e-12, `${name} example ${b}, id ${j}: grad ${g} vs finite difference ${fd}`);
      }
      if (l.kind === 'logit-diff') {
        // Exactly +1 / −1 at the two answers, 0 elsewhere.
        let nz = 0;
        for (let j = 0; j < V; j++) if (grad[b * V + j] !== 0) nz++;
        assert.equal(nz, 2);
        assert.equal(grad[b * V + l.correct], 1);
        assert.equal(grad[b * V + l.incorrect], -1);
      }
    }
  }
});

test('prob-diff metrics are stable for huge logits and bounded by 1', () => {
  const Vn = 10;
  const z = new Float32Array(Vn).fill(-1e30);
  z[3] = 1e30;
  z[4] = 1e30;
  const l: Label = { kind: 'hypernymy', answers: [3], corrupted: [4, 5] };
  const { values, grad } = taskMetricGrad(z, 1, Vn, [l]);
  assert.equal(values[0], 0);
  assert.ok(grad.every(Number.isFinite));
  const m = taskMetric(synthLogits(4, 500, 1), 4, 500, Array(4).fill({ kind: 'hypernymy', answers: [1, 2, 3], corrupted: [4] } as Label));
  assert.ok(m.every((x) => Math.abs(x) <= 1));
});

test('lossGrad: L = −mean(metric), dL/dlogits = −grad/B', () => {
  const task = getTask('greater-than');
  const labels = task.load(fixtureCsv('greater-than'), tok, { limit: B }).map((e) => e.label);
  const { values, grad } = task.metricGrad(logits, B, V, labels);
  const lg = lossGrad(task, logits, B, V, labels);
  const mean = values.reduce((a, x) => a + x, 0) / B;
  assert.ok(Math.abs(lg.loss + mean) <= 1e-15 * Math.abs(mean));
  assert.deepEqual([...lg.values], [...values]);
  for (let i = 0; i < grad.length; i += 97) assert.equal(lg.grad[i], Math.fround(-grad[i]! / B));
});

test('metric rejects mismatched shapes and ids outside the logits', () => {
  const l: Label = { kind: 'logit-diff', correct: 1, incorrect: 2 };
  assert.throws(() => taskMetric(new Float32Array(10), 2, 4, [l, l]), /B·V/);
  assert.throws(() => taskMetric(new Float32Array(8), 2, 4, [l]), /1 labels for B = 2/);
  assert.throws(() => taskMetric(new Float32Array(4), 1, 4, [{ kind: 'logit-diff', correct: 4, incorrect: 0 }]), /outside the logits' vocabulary/);
});
