/**
 * The second metric form of every task (src/tasks/types.ts MetricForm): values and gradients against closed
 * forms written out here (and the one nonlinear form also against finite differences), on synthetic labels
 * and on the task files' labels (test/fixtures/tasks); the default forms stay the very functions they were;
 * bad names are UserErrors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getTask, taskMetric, taskMetricGrad, taskNames, type Label, type MetricForm } from '../src/tasks/index.js';
import { prepareTaskData } from '../src/tasks/prepare.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { isUserError } from '../src/util/errors.js';
import { fixtureCsv, gpt2TokenizerDir } from './helpers/data.js';

const tok = loadTokenizer(gpt2TokenizerDir());

/** Deterministic logits in (-3, 3) with a few large ones, rounded to float32. */
function logitsFor(B: number, V: number, seed: number): Float32Array {
  const z = new Float32Array(B * V);
  for (let i = 0; i < z.length; i++) z[i] = 3 * Math.sin(seed + 12.9898 * i) * Math.cos(0.37 * i) + (i % 97 === 3 ? 5 : 0);
  return z;
}

function softmax(z: Float32Array, o: number, V: number): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, z[o + j]!);
  const p = new Float64Array(V);
  let s = 0;
  for (let j = 0; j < V; j++) s += p[j] = Math.exp(z[o + j]! - max);
  for (let j = 0; j < V; j++) p[j]! /= s;
  return p;
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/**
 * The second form written out per label kind: logit forms as weights over ids (value Σ w·z, gradient the
 * summed weights), the probability form of a logit-diff label as p[c] − p[i].
 */
function logitWeights(l: Exclude<Label, { kind: 'logit-diff' }>): Map<number, number> {
  const w = new Map<number, number>();
  const add = (ids: readonly number[], x: number): void => ids.forEach((id) => w.set(id, (w.get(id) ?? 0) + x));
  if (l.kind === 'hypernymy') (add(l.answers, 1), add(l.corrupted, -1));
  else if (l.kind === 'greater-than') {
    const hi = l.yearIds.slice(l.year + 1), lo = l.yearIds.slice(0, l.year + 1);
    add(hi, 1 / hi.length);
    add(lo, -1 / lo.length);
  } else {
    const [a, b] = l.plural ? [l.verbs.plural, l.verbs.singular] : [l.verbs.singular, l.verbs.plural];
    add(a, 1 / a.length);
    add(b, -1 / b.length);
  }
  return w;
}

/** Checks the second form of `labels` on logits z against the closed forms; tolerances in the comments. */
function checkSecondForm(z: Float32Array, V: number, labels: readonly Label[]): void {
  const B = labels.length;
  const form = (l: Label): MetricForm => (l.kind === 'logit-diff' ? 'prob-diff' : 'logit-diff');
  for (let b = 0; b < B; b++) {
    const l = labels[b]!;
    const one = [l];
    const zb = z.subarray(b * V, (b + 1) * V);
    const { values, grad } = taskMetricGrad(zb, 1, V, one, form(l));
    assert.equal(taskMetric(zb, 1, V, one, form(l))[0], values[0]);
    let want: number;
    const g = new Float64Array(V);
    if (l.kind === 'logit-diff') {
      const p = softmax(zb, 0, V);
      want = p[l.correct]! - p[l.incorrect]!;
      for (let j = 0; j < V; j++) g[j] = p[j]! * ((j === l.correct ? 1 : 0) - (j === l.incorrect ? 1 : 0)) - p[j]! * want;
    } else {
      const w = logitWeights(l);
      want = 0;
      for (const [id, x] of w) (want += x * zb[id]!), (g[id] = x);
    }
    // float64 on both sides, summed in different orders
    assert.ok(Math.abs(values[0]! - want) <= 1e-12 * Math.max(1, Math.abs(want)), `${l.kind} ${b}: ${values[0]} vs closed form ${want}`);
    // the gradient is stored as float32: half an ulp of the largest entry
    let scale = 0;
    for (let j = 0; j < V; j++) scale = Math.max(scale, Math.abs(g[j]!));
    assert.ok(scale > 1e-7, 'a nonzero gradient to test');
    for (let j = 0; j < V; j++) assert.ok(Math.abs(grad[j]! - g[j]!) <= 2 ** -23 * scale, `${l.kind} ${b}, id ${j}: ${grad[j]} vs ${g[j]}`);
  }
}

test('second forms = closed forms, values and gradients, on synthetic labels (repeats, overlaps, YY = 0 and 99)', () => {
  const V = 64;
  const yearIds = Array.from({ length: 100 }, (_, y) => (y * 7) % 50); // repeated ids count once per year
  const verbs = { singular: [3, 9, 20, 21], plural: [4, 10, 22] };
  const labels: Label[] = [
    { kind: 'logit-diff', correct: 5, incorrect: 17 },
    { kind: 'greater-than', year: 37, yearIds },
    { kind: 'greater-than', year: 0, yearIds },
    { kind: 'greater-than', year: 99, yearIds }, // no later year: only the lower mean
    { kind: 'sva', plural: false, verbs },
    { kind: 'sva', plural: true, verbs },
    { kind: 'hypernymy', answers: [1, 2, 2, 40], corrupted: [2, 33] },
  ];
  checkSecondForm(logitsFor(labels.length, V, 1), V, labels);
});

test('the nonlinear second form (prob-diff of a logit-diff label) = central finite differences', () => {
  const V = 32;
  const label: Label = { kind: 'logit-diff', correct: 3, incorrect: 30 };
  const z = logitsFor(1, V, 7);
  const { grad } = taskMetricGrad(z, 1, V, [label], 'prob-diff');
  const eps = 2 ** -12; // exact perturbation of these float32 values (|z| < 8)
  for (let j = 0; j < V; j++) {
    const x = z.slice();
    x[j] = z[j]! + eps;
    const up = taskMetric(x, 1, V, [label], 'prob-diff')[0]!;
    x[j] = z[j]! - eps;
    const down = taskMetric(x, 1, V, [label], 'prob-diff')[0]!;
    // central difference error O(eps²·f''') ≈ 1e-8 here; float32 storage of grad ≈ 1e-8
    assert.ok(Math.abs((up - down) / (2 * eps) - grad[j]!) < 1e-6, `id ${j}`);
  }
});

test('second forms on the task files\' labels (GPT-2 year tokens, verb sets, answer lists) = closed forms', () => {
  const V = tok.vocabSize;
  for (const name of taskNames) {
    const labels = getTask(name).load(fixtureCsv(name), tok, { limit: 3 }).map((e) => e.label);
    checkSecondForm(logitsFor(3, V, 11), V, labels);
  }
  // EAP-IG's greater-than logit_diff: logit[yy+1:].mean() − logit[:yy+1].mean() over the tokens "00".."99"
  const [gt] = getTask('greater-than').load(fixtureCsv('greater-than'), tok, { limit: 1 }).map((e) => e.label);
  const z = logitsFor(1, V, 5);
  const years = Array.from({ length: 100 }, (_, y) => z[tok.encode(String(y).padStart(2, '0'))[0]!]!);
  const yy = (gt as { year: number }).year;
  const want = mean(years.slice(yy + 1)) - mean(years.slice(0, yy + 1));
  assert.ok(Math.abs(getTask('greater-than').withMetric('logit-diff').metric(z, 1, V, [gt!])[0]! - want) < 1e-12);
});

test('default forms are unchanged; withMetric switches forms; bad names are UserErrors', () => {
  const defaults = ['logit-diff', 'prob-diff', 'prob-diff', 'logit-diff', 'logit-diff', 'prob-diff'];
  taskNames.forEach((name, i) => {
    const t = getTask(name);
    assert.equal(t.metricKind, defaults[i]);
    assert.deepEqual(t.metricForms, [defaults[i], defaults[i] === 'logit-diff' ? 'prob-diff' : 'logit-diff']);
    // the default is the original function itself, so its values are bit-identical by construction
    assert.equal(t.metric, taskMetric);
    assert.equal(t.metricGrad, taskMetricGrad);
    assert.equal(t.withMetric(t.metricKind).metric, taskMetric);
    const other = t.withMetric(t.metricForms[1]!);
    assert.equal(other.metricKind, t.metricForms[1]);
    assert.equal(other.withMetric(t.metricKind).metric, taskMetric);
  });
  assert.throws(() => getTask('ioi').withMetric('kl'), (e: unknown) => isUserError(e) && /task ioi has no metric "kl"; choose logit-diff \(default\) or prob-diff/.test((e as Error).message));
  assert.throws(() => getTask('custom').withMetric('prob-diff'), (e: unknown) => isUserError(e) && /"metric" column/.test((e as Error).message));
});

test('prepareTaskData applies the metric form to the metric and the loss', () => {
  const data = prepareTaskData(getTask('ioi'), fixtureCsv('ioi'), tok, { limit: 2, batchSize: 2, metric: 'prob-diff' });
  assert.equal(data.task.metricKind, 'prob-diff');
  const V = tok.vocabSize;
  const z = logitsFor(2, V, 3);
  const b = data.batches[0]!;
  const m = data.metric(z, 2, V, b.labels);
  const labels = b.labels as { correct: number; incorrect: number }[];
  labels.forEach((l, i) => {
    const p = softmax(z, i * V, V);
    assert.ok(Math.abs(m[i]! - (p[l.correct]! - p[l.incorrect]!)) < 1e-12);
  });
  // loss = −mean metric
  assert.ok(Math.abs(data.loss(z, 2, V, b.labels).loss + (m[0]! + m[1]!) / 2) < 1e-12);
  assert.throws(() => prepareTaskData(getTask('sva'), fixtureCsv('sva'), tok, { metric: 'kl' }), isUserError);
});
