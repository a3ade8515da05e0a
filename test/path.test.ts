/**
 * `eapgp path` (src/attribution/saturation.ts): the traces agree with direct computations that do not share
 * its code path — plain forward passes at the ends and at an interpolated point, GradPath's first step taken
 * with the vocabulary-wide logits instead of the Gram matrix, gradient norms and slopes against finite
 * differences — and the command writes a file the viewer accepts.
 */
import assert from 'node:assert/strict';
import type { CausalLM } from '../src/models/model.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkPathFile } from '../src/attribution/path-format.js';
import { pathGrids, tracePaths, type PathTrace } from '../src/attribution/saturation.js';
import type { PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import type { Batch } from '../src/models/batch.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { batches, getTask } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const DATA = fixtureCsv('ioi');
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-path-'));
const dir = join(tmp, 'm');
const task = getTask('ioi');
before(() => makeRandomModel({ layers: 2, heads: 3, dModel: 48, seed: 5, initStd: 0.15 }, dir));
after(() => rmSync(tmp, { recursive: true, force: true }));

const close = (a: number, b: number, rel: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(1e-3, Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b}`);

/** Token embeddings of a batch as a plain array [rows·D]. */
function embeddings(e: Engine, model: CausalLM, b: Batch): Float32Array {
  return e.tidy(() => model.embed(b.ids).toArray());
}

/** The task metric per example with the token embeddings replaced by `emb`. */
function metricAt(e: Engine, model: CausalLM, pb: PairBatch, emb: Float32Array): Float64Array {
  return e.tidy(() => {
    const out = model.forward(pb.clean, { embeds: e.fromArray(emb, [emb.length / model.dims.dModel, model.dims.dModel]), logits: 'last' });
    return task.metric(out.logits!.toArray(), pb.clean.B, model.dims.vocabSize, pb.labels as Label[]);
  });
}

/** Rows of example b in a right-padded batch. */
const rowsOf = (b: Batch, i: number): [number, number] => [i * b.P, i * b.P + b.lengths[i]!];

test('grids hold P even points and each method\'s score points', () => {
  const g = pathGrids(3, 9);
  assert.deepEqual(g.straight.scorePoints, [1 / 3, 2 / 3, 1]);
  assert.deepEqual(g.gradpath.scorePoints, [1 / 3, 2 / 3, 1]);
  assert.equal(g.straight.t[0], 0);
  assert.equal(g.straight.t[g.straight.t.length - 1], 1);
  assert.equal(g.straight.t.length, 9 + 2); // 1/3 and 2/3 are not among i/8
  assert.ok(g.gradpath.t.every((t, i) => i === 0 || t > g.gradpath.t[i - 1]!));
});

test('traces match direct computations: path ends, an interpolated point, the first GradPath step, gradient norms and slopes', async () => {
  await withEngine({ threads: 2 }, async (e) => {
    const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
    const examples = task.load(DATA, tokenizer, { limit: 3 });
    const [pb] = batches(examples, 3) as PairBatch[];
    const { B } = pb!.clean;
    const D = model.dims.dModel, V = model.dims.vocabSize;
    const trace: PathTrace = await tracePaths({
      model, batches: [pb!], options: { steps: 3, points: 9 },
      metricGrad: (l, b, v, y) => task.metricGrad(l, b, v, y as Label[]),
    });
    assert.equal(trace.examples.length, B);
    const at = (grid: number[], t: number): number => grid.findIndex((x) => Math.abs(x - t) < 1e-9);
    const e0 = embeddings(e, model, pb!.clean), e1 = embeddings(e, model, pb!.corrupted);
    const clean = metricAt(e, model, pb!, e0), corrupted = e.tidy(() =>
      task.metric(model.forward(pb!.corrupted, { logits: 'last' }).logits!.toArray(), B, V, pb!.labels as Label[]));
    const mid = metricAt(e, model, pb!, e0.map((x, i) => 0.5 * x + 0.5 * e1[i]!));
    for (let b = 0; b < B; b++) {
      const ex = trace.examples[b]!;
      close(ex.cleanMetric, clean[b]!, 1e-5, 'clean metric');
      close(ex.corruptedMetric, corrupted[b]!, 1e-5, 'corrupted metric');
      close(ex.straight.metric[0]!, clean[b]!, 1e-5, 'straight path at t = 0');
      close(ex.straight.metric[ex.straight.metric.length - 1]!, corrupted[b]!, 1e-4, 'straight path at t = 1 (corrupted run)');
      close(ex.gradpaths[0]!.metric[0]!, clean[b]!, 1e-5, 'GradPath at t = 0');
      close(ex.straight.metric[at(trace.straight.t, 0.5)]!, mid[b]!, 1e-4, 'straight path at t = 0.5');
      assert.ok(ex.straight.distClean[0]! < 1e-6 && ex.straight.distCorrupted[trace.straight.t.length - 1]! < 1e-5, 'the straight path joins clean to corrupted');
      close(ex.gradpaths[0]!.distClean[at(trace.gradpath.t, 1 / 3)]!, 1, 1e-4, 'a GradPath step has length η = 1');
    }

    // GradPath's first step from the full logits: J = Σ_real ‖logits − logits'‖², seed 2(logits − logits')
    const corrAll = e.tidy(() => model.forward(pb!.corrupted, { logits: 'all' }).logits!.toArray());
    const { J, grad } = e.tidy(() => e.record((tape) => {
      const leaf = e.fromArray(e0, [e0.length / D, D]).requireGrad();
      const out = model.forward(pb!.clean, { embeds: leaf, logits: 'all' });
      const l = out.logits!.toArray();
      const seed = new Float32Array(l.length);
      const Jb = new Float64Array(B);
      for (let b = 0; b < B; b++) {
        const [r0, r1] = rowsOf(pb!.clean, b);
        for (let i = r0 * V; i < r1 * V; i++) {
          const d = l[i]! - corrAll[i]!;
          Jb[b]! += d * d;
          seed[i] = 2 * d;
        }
      }
      return { J: Jb, grad: tape.backward([[out.logits!, e.fromArray(seed, out.logits!.shape)]]).get(leaf)!.toArray() };
    }));
    const gamma1 = Float32Array.from(e0);
    for (let b = 0; b < B; b++) {
      const [r0, r1] = [pb!.clean.P * b * D, pb!.clean.P * (b + 1) * D];
      let n2 = 0;
      for (let i = r0; i < r1; i++) n2 += grad[i]! ** 2;
      for (let i = r0; i < r1; i++) gamma1[i]! -= grad[i]! / Math.sqrt(n2);
    }
    const m1 = metricAt(e, model, pb!, gamma1);
    for (let b = 0; b < B; b++) {
      const ex = trace.examples[b]!;
      close(ex.gradpaths[0]!.objective[0]!, J[b]!, 1e-3, 'J at the clean input');
      close(ex.straight.objective[0]!, J[b]!, 1e-3, 'J on the straight path at t = 0');
      assert.ok(ex.straight.objective[ex.straight.objective.length - 1]! < 1e-6 * J[b]!, 'J vanishes at the corrupted input');
      close(ex.gradpaths[0]!.metric[at(trace.gradpath.t, 1 / 3)]!, m1[b]!, 1e-3, 'metric after the first GradPath step');
      assert.ok(Math.abs(m1[b]! - clean[b]!) > 1e-3, 'the step changes the metric (the check is not vacuous)');
    }

    // gradient norm at the clean input: the metric's change along its own gradient direction
    const g = e.tidy(() => e.record((tape) => {
      const leaf = e.fromArray(e0, [e0.length / D, D]).requireGrad();
      const out = model.forward(pb!.clean, { embeds: leaf, logits: 'last' });
      const { grad: seed } = task.metricGrad(out.logits!.toArray(), B, V, pb!.labels as Label[]);
      return tape.backward([[out.logits!, e.fromArray(seed, out.logits!.shape)]]).get(leaf)!.toArray();
    }));
    const h = 1e-2;
    const plus = Float32Array.from(e0), minus = Float32Array.from(e0);
    const norms: number[] = [];
    for (let b = 0; b < B; b++) {
      const [r0, r1] = rowsOf(pb!.clean, b);
      let n2 = 0;
      for (let i = r0 * D; i < r1 * D; i++) n2 += g[i]! ** 2;
      norms.push(Math.sqrt(n2));
      for (let i = r0 * D; i < r1 * D; i++) {
        plus[i]! += (h * g[i]!) / Math.sqrt(n2);
        minus[i]! -= (h * g[i]!) / Math.sqrt(n2);
      }
    }
    const mp = metricAt(e, model, pb!, plus), mm = metricAt(e, model, pb!, minus);
    // slope on the straight path at t = 0.5 by central differences
    const d = 0.02;
    const sp = metricAt(e, model, pb!, e0.map((x, i) => (0.5 - d) * x + (0.5 + d) * e1[i]!));
    const sm = metricAt(e, model, pb!, e0.map((x, i) => (0.5 + d) * x + (0.5 - d) * e1[i]!));
    for (let b = 0; b < B; b++) {
      const ex = trace.examples[b]!;
      close(ex.straight.gradMetric[0]!, (mp[b]! - mm[b]!) / (2 * h), 0.02, 'gradient norm vs finite differences');
      close(ex.straight.gradMetric[0]!, norms[b]!, 1e-4, 'gradient norm vs a direct backward pass');
      close(ex.straight.slope[at(trace.straight.t, 0.5)]!, (sp[b]! - sm[b]!) / (2 * d), 0.02, 'slope vs finite differences');
    }
    model.dispose();
  });
});

test('eapgp path writes a file the viewer accepts; bad options are refused', () => {
  const out = join(tmp, 'path.json');
  const r = spawnSync(process.execPath, [MAIN, 'path', '--model', dir, '--task', 'ioi', '--data', DATA, '--limit', '2', '--steps', '2', '--points', '5', '--quiet', '--out', out], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const f = checkPathFile(JSON.parse(readFileSync(out, 'utf8')), out);
  assert.equal(f.examples.length, 2);
  assert.equal(f.steps, 2);
  assert.deepEqual(f.gradpath.t, [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(f.examples.map((x) => x.row), [1, 2]);
  const csv = readFileSync(DATA, 'utf8');
  assert.ok(csv.includes(f.examples[0]!.clean.trim().split(' ').slice(0, 4).join(' ')), `clean text "${f.examples[0]!.clean}" comes from the CSV`);
  const bad = spawnSync(process.execPath, [MAIN, 'path', '--model', dir, '--task', 'ioi', '--data', DATA, '--points', '1', '--out', out], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--points must be an integer >= 2/);
});
