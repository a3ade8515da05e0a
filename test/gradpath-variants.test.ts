/**
 * GradPath's variants (eap-gp.ts's header) each keep their defining property on a small random model:
 * backtracking never lets J increase (in the method's own walk and in `eapgp path`'s traces), the pinned path
 * ends exactly at the corrupted embeddings (and with one step gives the gradient at the corrupted input), the
 * relative step's k steps add up to η·‖e − e′‖, and the metric objective's gradient matches finite
 * differences and descends. The path diagnostics are checked on a hand-made trace, and `eapgp path` traces
 * several variants into one file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attribute } from '../src/attribution/attribute.js';
import { logitsObjective, metricObjective, pinToCorrupted, stepLengths, walk, finalTarget, type GradPathRule } from '../src/attribution/gradpath.js';
import { diagnoseExample, median, saturatedShare, summarise } from '../src/attribution/path-diagnostics.js';
import { checkPathFile, PATH_FORMAT, SERIES_KEYS, type GradPathVariant, type PathSeries } from '../src/attribution/path-format.js';
import { PAPER_RULE, pathGrids, tracePaths } from '../src/attribution/saturation.js';
import type { AttributionOptions, PairBatch } from '../src/attribution/types.js';
import type { Engine } from '../src/engine/engine.js';
import { rowStarts } from '../src/models/batch.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import type { CausalLM } from '../src/models/model.js';
import { batches, getTask, lossGrad, type TaskExample } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const DATA = fixtureCsv('ioi');
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-gpvar-'));
const dir = join(tmp, 'm');
const task = getTask('ioi');
before(() => makeRandomModel({ layers: 2, heads: 3, dModel: 48, seed: 5, initStd: 0.15 }, dir));
after(() => rmSync(tmp, { recursive: true, force: true }));

const rule = (o: Partial<GradPathRule>): GradPathRule => ({ ...PAPER_RULE, ...o });
const metricGrad = (l: Float32Array, B: number, V: number, y: unknown[]) => task.metricGrad(l, B, V, y as Label[]);

async function withModel<T>(fn: (e: Engine, model: CausalLM, pb: PairBatch, examples: TaskExample<Label>[]) => Promise<T> | T): Promise<T> {
  return withEngine({ threads: 2 }, async (e) => {
    const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
    try {
      const examples = task.load(DATA, tokenizer, { limit: 6 });
      return await fn(e, model, batches(examples, 6)[0] as PairBatch, examples);
    } finally {
      model.dispose();
    }
  });
}

/** The values of a series at the vertices t = j/k. */
const atVertices = (t: number[], y: (number | null)[], k: number): number[] =>
  Array.from({ length: k + 1 }, (_, j) => y[t.findIndex((x) => Math.abs(x - j / k) < 1e-9)]!);

test('backtracking: J never increases from vertex to vertex, where the paper\'s steps overshoot', async () => {
  await withModel(async (e, model, pb, examples) => {
    const k = 4, eta = 4; // a long step: the paper's rule overshoots on this model
    const trace = await tracePaths({ model, batches: [pb], metricGrad, options: { steps: k, points: 5, variants: [rule({ eta }), rule({ eta, backtrack: 6 })] } });
    let overshoots = 0;
    for (const ex of trace.examples) {
      const paper = atVertices(trace.gradpath.t, ex.gradpaths[0]!.objective, k);
      const back = atVertices(trace.gradpath.t, ex.gradpaths[1]!.objective, k);
      overshoots += paper.some((J, j) => j > 0 && J > paper[j - 1]!) ? 1 : 0;
      back.forEach((J, j) => assert.ok(j === 0 || J <= back[j - 1]!, `J rises from ${back[j - 1]} to ${J} at vertex ${j}`));
      assert.ok(back[k]! < back[0]!, `J decreases overall: ${back[0]} → ${back[k]}`);
    }
    assert.ok(overshoots > 0, 'the paper\'s rule overshoots somewhere (else the check is vacuous)');
    // the method's own walk: J (summed over the batch) at each step, from gpTrace
    const Js: number[] = [];
    const loss = (l: Float32Array, B: number, V: number, y: unknown[]) => lossGrad(task, l, B, V, y as Label[]);
    const options: AttributionOptions = { steps: k, gpEta: eta, gpBacktrack: 6, gpTrace: (_b, _j, J) => void Js.push(J) };
    await attribute({ model, batches: batches(examples, 6), method: 'eap-gp', loss, options });
    assert.equal(Js.length, k);
    Js.forEach((J, j) => assert.ok(j === 0 || J <= Js[j - 1]!, `eap-gp's walk: J rises from ${Js[j - 1]} to ${J} at step ${j}`));
  });
});

test('pinned: the last point is the corrupted embeddings bit for bit; with one step the scores are the gradient at the corrupted input', async () => {
  await withModel(async (e, model, pb, examples) => {
    const k = 3;
    e.tidy(() => {
      const e0 = model.embed(pb.clean.ids), e1 = model.embed(pb.corrupted.ids);
      const target = e.tidy(() => finalTarget(model, model.forward(pb.corrupted, { logits: 'none' }).residFinal));
      const r = rule({ end: 'corrupted' });
      const raw = walk(model, pb.clean, r, logitsObjective(model, pb.clean, target), e0, stepLengths(r, k, e0, e1, rowStarts(pb.clean), model.dims.dModel), k);
      const pinned = pinToCorrupted(e, raw, e1);
      assert.deepEqual(pinned[k]!.toArray(), e1.toArray(), 'γ̃_k = e′ exactly');
      assert.deepEqual(pinned[0]!.toArray(), e0.toArray(), 'γ̃_0 = e');
      const [g1, gk, c, p1] = [raw[1]!.toArray(), raw[k]!.toArray(), e1.toArray(), pinned[1]!.toArray()];
      p1.forEach((x, i) => assert.ok(Math.abs(x - (g1[i]! + (c[i]! - gk[i]!) / k)) <= 1e-5 * (1 + Math.abs(x)), 'γ̃_1 = γ_1 + (1/k)(e′ − γ_k)'));
    });
    const trace = await tracePaths({ model, batches: [pb], metricGrad, options: { steps: k, points: 4, variants: [rule({ end: 'corrupted' })] } });
    for (const ex of trace.examples) {
      assert.equal(ex.gradpaths[0]!.distCorrupted.at(-1), 0, 'the traced path ends at e′');
      assert.ok(Math.abs(ex.gradpaths[0]!.metric.at(-1)! - ex.corruptedMetric) <= 1e-4 * (1 + Math.abs(ex.corruptedMetric)), 'and at the corrupted metric');
    }
    // one pinned step: the gradient at e′, i.e. 2·clean-corrupted − EAP (clean-corrupted = ½(g(z) + g(z′)))
    const loss = (l: Float32Array, B: number, V: number, y: unknown[]) => lossGrad(task, l, B, V, y as Label[]);
    const run = async (method: string, options: AttributionOptions = {}) => (await attribute({ model, batches: batches(examples, 6), method, loss, options })).scores;
    const [pin, cc, eap] = [await run('eap-gp', { steps: 1, gpEnd: 'corrupted' }), await run('clean-corrupted'), await run('eap')];
    const free = await run('eap-gp', { steps: 1 });
    let mx = 0, md = 0, mf = 0;
    pin.forEach((x, i) => {
      mx = Math.max(mx, Math.abs(x));
      md = Math.max(md, Math.abs(x - (2 * cc[i]! - eap[i]!)));
      mf = Math.max(mf, Math.abs(free[i]! - (2 * cc[i]! - eap[i]!)));
    });
    assert.ok(md <= 1e-5 * mx, `pinned one step vs the corrupted gradient: ${md / mx}`);
    assert.ok(mf > 1e-3 * mx, 'the free one-step path is elsewhere (the check is not vacuous)');
  });
});

test('relative step: the k steps add up to η·‖e − e′‖, per example and with the batch norm', async () => {
  await withModel((e, model, pb) => {
    const k = 4, eta = 0.7, D = model.dims.dModel;
    e.tidy(() => {
      const e0 = model.embed(pb.clean.ids), e1 = model.embed(pb.corrupted.ids);
      const target = e.tidy(() => finalTarget(model, model.forward(pb.corrupted, { logits: 'none' }).residFinal));
      const starts = rowStarts(pb.clean);
      const [c0, c1] = [e0.toArray(), e1.toArray()];
      for (const norm of ['example', 'batch'] as const) {
        const r = rule({ step: 'relative', eta, norm });
        const v = walk(model, pb.clean, r, logitsObjective(model, pb.clean, target), e0, stepLengths(r, k, e0, e1, starts, D), k).map((t) => t.toArray());
        const groups = norm === 'example' ? Array.from({ length: pb.clean.B }, (_, b) => [starts[b]! * D, starts[b + 1]! * D]) : [[0, c0.length]];
        for (const [from, to] of groups) {
          let total = 0, dist = 0;
          for (let j = 0; j < k; j++) {
            let s = 0;
            for (let i = from!; i < to!; i++) s += (v[j + 1]![i]! - v[j]![i]!) ** 2;
            total += Math.sqrt(s);
          }
          for (let i = from!; i < to!; i++) dist += (c0[i]! - c1[i]!) ** 2;
          const want = eta * Math.sqrt(dist);
          assert.ok(want > 0 && Math.abs(total - want) <= 1e-5 * want, `${norm} rows ${from}–${to}: length ${total} vs η·‖e − e′‖ = ${want}`);
        }
      }
    });
  });
});

test('metric objective: J = (metric − corrupted metric)², its gradient against finite differences, and it descends', async () => {
  await withModel(async (e, model, pb) => {
    const { B } = pb.clean;
    const V = model.dims.vocabSize, D = model.dims.dModel;
    const metricAt = (l: Float32Array) => metricGrad(l, B, V, pb.labels);
    const corr = e.tidy(() => metricAt(model.forward(pb.corrupted, { logits: 'last' }).logits!.toArray()).values);
    const objective = metricObjective(model, pb.clean, metricAt, corr);
    const starts = rowStarts(pb.clean);
    e.tidy(() => {
      const e0 = model.embed(pb.clean.ids);
      const clean = e.tidy(() => metricAt(model.forward(pb.clean, { logits: 'last' }).logits!.toArray()).values);
      const { J, g } = e.tidy(() => e.record((tape) => {
        const leaf = e0.reshape(e0.shape).requireGrad();
        const r = objective.taped(tape, leaf, model.forward(pb.clean, { embeds: leaf, logits: 'last' }));
        return { J: r.J, g: r.g.toArray() };
      }));
      for (let b = 0; b < B; b++) assert.ok(Math.abs(J[b]! - (clean[b]! - corr[b]!) ** 2) <= 1e-4 * (1 + J[b]!), `J_${b} = (m − m′)²`);
      // along u = g/‖g‖ per example, dJ/ds = ‖g‖ (central differences)
      const base = e0.toArray(), h = 1e-2;
      const norms = Array.from({ length: B }, (_, b) => Math.sqrt(g.slice(starts[b]! * D, starts[b + 1]! * D).reduce((s, x) => s + x * x, 0)));
      const shifted = (sign: number) => {
        const x = Float32Array.from(base);
        for (let b = 0; b < B; b++) for (let i = starts[b]! * D; i < starts[b + 1]! * D; i++) x[i]! += (sign * h * g[i]!) / norms[b]!;
        return objective.at(e.fromArray(x, e0.shape));
      };
      const [jp, jm] = [shifted(1), shifted(-1)];
      for (let b = 0; b < B; b++) {
        const fd = (jp[b]! - jm[b]!) / (2 * h);
        assert.ok(norms[b]! > 1e-6 && Math.abs(fd - norms[b]!) <= 0.02 * norms[b]!, `example ${b}: dJ/ds ${fd} vs ‖∂J/∂γ‖ ${norms[b]}`);
      }
    });
    // small steps (η below |m − m′|/‖∂m/∂γ‖ here) descend: every example's (m − m′)² falls at each vertex
    const k = 3;
    const trace = await tracePaths({ model, batches: [pb], metricGrad, options: { steps: k, points: 4, variants: [rule({ objective: 'metric', eta: 1e-3 })] } });
    for (const ex of trace.examples) {
      const own = atVertices(trace.gradpath.t, ex.gradpaths[0]!.metric, k).map((m) => (m - ex.corruptedMetric) ** 2);
      own.forEach((x, j) => assert.ok(j === 0 || x < own[j - 1]!, `(m − m′)² rises from ${own[j - 1]} to ${x} at vertex ${j}`));
    }
    // eap-gp's own walk (its metric from the task loss) takes the same path: J summed over the batch at each step
    const Js: number[] = [];
    const loss = (l: Float32Array, b: number, v: number, y: unknown[]) => lossGrad(task, l, b, v, y as Label[]);
    await attribute({ model, batches: [pb], method: 'eap-gp', loss, options: { steps: k, gpObjective: 'metric', gpEta: 1e-3, gpTrace: (_b, _j, J) => void Js.push(J) } });
    const traced = Array.from({ length: k }, (_, j) => trace.examples.reduce((sum, ex) => sum + (atVertices(trace.gradpath.t, ex.gradpaths[0]!.metric, k)[j]! - ex.corruptedMetric) ** 2, 0));
    Js.forEach((J, j) => assert.ok(Math.abs(J - traced[j]!) <= 1e-4 * traced[0]!, `step ${j}: eap-gp's J ${J} vs the trace's ${traced[j]}`));
  });
});

/** A series on grid t from f(t) for the metric and g(t) for J, the slope given per point. */
function series(t: number[], metric: (t: number) => number, J: (t: number) => number, slope: number[]): PathSeries {
  const s = Object.fromEntries(SERIES_KEYS.map((k) => [k, t.map(() => 1)])) as unknown as PathSeries;
  s.metric = t.map(metric);
  s.objective = t.map(J);
  s.slope = slope;
  return s;
}

test('path diagnostics on a hand-made trace: monotone J, the way to the corrupted run, saturated share, summary', () => {
  const grid = { t: [0, 0.25, 0.5, 0.75, 1], scorePoints: [0.5, 1] }; // k = 2, P = 5: the vertices are t = 0, 0.5, 1
  const variant = (name: string, gpObjective: 'logits' | 'metric'): GradPathVariant =>
    ({ name, gpEta: 1, gpNorm: 'example', gpStep: 'absolute', gpBacktrack: 0, gpObjective, gpEnd: 'free' });
  const head = { steps: 2, points: 5, straight: grid, gradpath: grid, gradpaths: [variant('paper', 'logits'), variant('objective=metric', 'metric')] };
  const Jvals = (vs: number[]) => (t: number) => vs[Math.round(t * 4)]!;
  // example 1: J 4 → 3 → 1 at the vertices (5 between them: only vertices count), metric 2 → 1 (corrupted 0)
  // example 2: J 4 → 5 → 2, metric 2 → 3 (away from the corrupted 0): (m − m′)² 4 → 1 → 9
  const ex1 = {
    corruptedMetric: 0, straight: series(grid.t, () => 0, () => 0, [1, 1, 1, 1, 1]),
    gradpaths: [
      series(grid.t, (t) => 2 - t, Jvals([4, 5, 3, 2, 1]), [1, 1, 0.05, 1, 1]), // mean |slope| 0.81: one sample below 0.081
      series(grid.t, (t) => 2 - t, Jvals([4, 5, 3, 2, 1]), [0, 0, 0, 0, 0]), // flat: saturated everywhere
    ],
  };
  const ex2 = {
    corruptedMetric: 0, straight: series(grid.t, () => 0, () => 0, [2, 0.1, 0.1, 2, 2]),
    gradpaths: [
      series(grid.t, Jvals([2, 2, 1, 2, 3]), Jvals([4, 4, 5, 3, 2]), [1, -1, 1, -1, 1]),
      series(grid.t, Jvals([2, 2, 1, 2, 3]), Jvals([4, 4, 5, 3, 2]), [1, -1, 1, -1, 1]),
    ],
  };
  const d1 = diagnoseExample(head, ex1), d2 = diagnoseExample(head, ex2);
  assert.deepEqual(d1.gradpaths[0], { saturated: 0.2, monotone: true, jStart: 4, jEnd: 1, jFraction: 0.75, metricFraction: 0.5, jBelow: true, ownBelow: true });
  assert.equal(d1.gradpaths[1]!.saturated, 1);
  assert.equal(d1.gradpaths[1]!.monotone, true, '(m − m′)²: 4 → 2.25 → 1');
  assert.deepEqual(d2.gradpaths[0], { saturated: 0, monotone: false, jStart: 4, jEnd: 2, jFraction: 0.5, metricFraction: -0.5, jBelow: true, ownBelow: true });
  assert.equal(d2.gradpaths[1]!.monotone, false, '(m − m′)²: 4 → 1 → 9');
  assert.equal(d2.gradpaths[1]!.ownBelow, false);
  assert.equal(d1.straight.saturated, 0);
  assert.equal(d2.straight.saturated, 0.4, 'mean |slope| 1.24: 0.1 < 0.124 twice');
  const s = summarise({ gradpaths: head.gradpaths, examples: [{ diagnostics: d1 }, { diagnostics: d2 }] });
  assert.deepEqual(s, {
    examples: 2,
    straight: { saturated: 0.2 },
    gradpaths: [
      { name: 'paper', monotone: 0.5, jBelow: 1, ownBelow: 1, jFraction: 0.625, metricFraction: 0, saturated: 0.1 },
      { name: 'objective=metric', monotone: 0.5, jBelow: 1, ownBelow: 0.5, jFraction: 0.625, metricFraction: 0, saturated: 0.5 },
    ],
  });
  assert.equal(median([3, null, 1, 2]), 2);
  assert.equal(saturatedShare([0, 0.3, 0.5, 1], [1, 9, 1, 1], 3), 0, 'only the even samples t = 0, 0.5, 1 count');
  assert.equal(saturatedShare([0, 0.5, 1], [1, null, 1], 3), null, 'a missing slope gives no share');

  // a version 2 file (one GradPath) loads as version 3 with the paper's variant and its diagnostics
  const v2 = {
    format: PATH_FORMAT, version: 2, tool: 't', model: 'm', task: 'ioi', metric: 'logit-diff', data: 'd', dataSha256: '0', steps: 2, points: 5,
    gpEta: 1, gpNorm: 'example', straight: grid, gradpath: grid,
    examples: [{ row: 1, clean: 'a', corrupted: 'b', cleanMetric: 2, corruptedMetric: 0, straight: ex1.straight, gradpath: ex1.gradpaths[0] }],
  };
  const up = checkPathFile(JSON.parse(JSON.stringify(v2)), 'old.json');
  assert.deepEqual(up.gradpaths.map((v) => v.name), ['paper']);
  assert.deepEqual(up.examples[0]!.diagnostics.gradpaths[0], d1.gradpaths[0]);
  assert.equal(up.summary.gradpaths[0]!.jFraction, 0.75);
});

test('eapgp path traces several variants into one file; the grids are shared; bad variants are refused', () => {
  const out = join(tmp, 'variants.json');
  const base = [MAIN, 'path', '--model', dir, '--task', 'ioi', '--data', DATA, '--limit', '2', '--steps', '2', '--points', '3', '--quiet'];
  const r = spawnSync(process.execPath, [...base, '--variants', 'paper,backtrack=3:step=relative,descent,end=corrupted', '--out', out], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const f = checkPathFile(JSON.parse(readFileSync(out, 'utf8')), out);
  // 'backtrack=3:step=relative' is spelled canonically; 'descent' is its own combination
  assert.deepEqual(f.gradpaths.map((v) => v.name), ['paper', 'step=relative:backtrack=3', 'descent', 'end=corrupted']);
  assert.deepEqual(f.gradpaths[1], { name: 'step=relative:backtrack=3', gpNorm: 'example', gpEta: 1, gpStep: 'relative', gpBacktrack: 3, gpObjective: 'logits', gpEnd: 'free' });
  assert.deepEqual(f.gradpath, pathGrids(2, 3).gradpath);
  for (const ex of f.examples) {
    assert.equal(ex.gradpaths.length, 4);
    assert.equal(ex.gradpaths[3]!.distCorrupted.at(-1), 0, 'the pinned variant ends at e′');
    assert.equal(ex.diagnostics.gradpaths[1]!.monotone, true, 'backtracking: J never rises');
  }
  assert.equal(f.summary.gradpaths[3]!.jBelow, 1);
  const bad = (args: string[], re: RegExp): void => {
    const b = spawnSync(process.execPath, [...base, ...args, '--out', join(tmp, 'bad.json')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(b.status, 1, b.stderr);
    assert.match(b.stderr, re);
  };
  bad(['--variants', 'paper,stepp=relative'], /--variants: "stepp=relative": unknown key "stepp"/);
  bad(['--variants', 'backtrack=-1'], /--variants: "backtrack=-1": backtrack must be an integer >= 0, got "-1"/);
  bad(['--variants', 'paper', '--gp-eta', '2'], /either as flags or in --variants, not both \(--gp-eta with --variants\)/);
});
