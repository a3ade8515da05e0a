/** The parts of `eapgp reproduce` that need no model: budgets, the report's tables and marks, the plots. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HANNA_BUDGETS } from '../src/evaluation/sweep.js';
import { plots, prCounts, reportMarkdown, scaledBudgets, sweepBudgets, tableBudgets, type MethodResult, type Results } from '../src/reproduce/index.js';
import type { ReportTimings } from '../src/reproduce/report.js';

test('budgets: GPT-2 small keeps the paper\'s counts; other sizes scale, round, deduplicate and cap', () => {
  assert.deepEqual(scaledBudgets(32491), HANNA_BUDGETS);
  assert.equal(HANNA_BUDGETS.length, 26);
  const medium = scaledBudgets(231877); // DESIGN.md §3: GPT-2 medium's edge count
  assert.equal(medium.length, 26);
  assert.equal(medium[0], 214); // 30 · 231877 / 32491 = 214.1
  assert.equal(medium.at(-1), 13560); // 1900 · 7.1367… = 13559.8
  assert.deepEqual(scaledBudgets(46), [1, 2, 3]); // 2 layers × 2 heads: 30..1900 scale to 0.04..2.7
  assert.deepEqual(scaledBudgets(5, [30, 100000]), [1, 5]);
  assert.deepEqual(tableBudgets(32491), [50, 100, 200, 500, 1000]);
  for (const b of tableBudgets(231877)) assert.ok(medium.includes(b), `table budget ${b} is a sweep budget`);
  const counts = prCounts(32491, HANNA_BUDGETS);
  assert.ok(counts.includes(30) && counts.includes(1900) && counts.includes(32491) && counts.includes(3249));
  assert.deepEqual(counts, [...counts].sort((a, b) => a - b));
});

test('budgets: GPT-2 small and larger sweep the paper\'s (scaled) counts; smaller graphs a log grid over every size', () => {
  assert.deepEqual(sweepBudgets(32491), HANNA_BUDGETS);
  assert.deepEqual(sweepBudgets(231877), scaledBudgets(231877));
  // the built-in model's 479 edges: the scaled counts stop at 28 edges (5.8 %), where its circuits only begin
  assert.equal(scaledBudgets(479).at(-1), 28);
  const small = sweepBudgets(479);
  assert.equal(small[0], 1);
  assert.equal(small.at(-1), 479);
  assert.deepEqual(tableBudgets(479), [10, 24, 48, 96, 240]); // 2, 5, 10, 20, 50 % of the edges
  for (const b of tableBudgets(479)) assert.ok(small.includes(b), `table budget ${b} is a sweep budget`);
  assert.ok(small.length >= 24 && small.length <= 31, `about as many circuits as the paper's 26: ${small.length}`);
  // evenly spread on the log axis: no step above 1.35× once rounding no longer dominates
  for (let i = 1; i < small.length; i++) if (small[i - 1]! >= 8) assert.ok(small[i]! / small[i - 1]! <= 1.35, `${small[i - 1]} → ${small[i]}`);
  assert.deepEqual(sweepBudgets(46).slice(0, 3), [1, 2, 3]);
  assert.equal(sweepBudgets(46).at(-1), 46);
  assert.deepEqual(sweepBudgets(1), [1]);
});

/** The [attribution, evaluation] seconds each result was made with: what its run log would say (timingsOf). */
const secondsOf = new WeakMap<MethodResult, [number, number]>();

/** A method result whose faithfulness is `f` at every budget (a number, or a function of the budget). */
function result(f: number | ((n: number) => number), cpr: number, cmd: number, seconds: [number, number], pr?: number, budgets = [50, 100, 200, 500, 1000]): MethodResult {
  const F = typeof f === 'number' ? () => f : f;
  const points = budgets.map((n) => ({ requested: n, edges: n - 1, nodes: 9, metric: F(n), faithfulness: F(n) }));
  const r: MethodResult = {
    graph: 'graphs/x.json', points,
    fractions: { points: [{ fraction: 1, requested: 9, edges: 9, nodes: 3, metric: 1, faithfulness: 1 }], cpr, cmd },
    ...(pr === undefined ? {} : { pr: { reference: 'acdc' as const, points: [{ n: 1, nodes: { precision: 1, recall: 0.5 }, edges: { precision: 1, recall: 0.1 } }], auc: { nodes: pr, edges: pr / 2 } } }),
  };
  secondsOf.set(r, seconds);
  return r;
}

/** The run logs' timings of every result in `r` (2 threads, BLAS), as `reproduce --timings` passes them. */
function timingsOf(r: Results, date = '2026-01-02T03:04:05.000Z'): ReportTimings {
  const pairs = Object.fromEntries(Object.entries(r.tasks).map(([t, x]) => [t, Object.fromEntries(Object.entries(x.methods).map(([m, res]) => {
    const [attribute, evaluate] = secondsOf.get(res)!;
    return [m, { seconds: { attribute, evaluate }, finished: date, threads: 2, gemm: 'blas' }];
  }))]));
  return { date, pairs };
}

const results: Results = {
  format: 'eapgp-reproduce', version: 2,
  model: { path: 'gpt2', layers: 12, heads: 12, dModel: 768, edges: 32491 },
  settings: { limit: 10, batchSize: 5, steps: 5, intervention: 'patching', select: 'greedy', absolute: true, budgets: HANNA_BUDGETS },
  tasks: {
    ioi: {
      data: 'generated:ioi:seed=0:n=10', examples: 10, metric: 'logit-diff', baseline: 3.5, corrupted: 0.25,
      methods: { eap: result(0.5, 0.4, 0.6, [1, 10], 0.7), 'eap-ig': result(1.3, 0.6, 0.3, [3, 10], 0.75), 'eap-gp': result(0.9, 0.8, 0.2, [5, 10], 0.8) },
    },
    sva: {
      data: 'generated:sva:seed=0:n=10', examples: 10, metric: 'prob-diff', baseline: 0.2, corrupted: -0.2,
      methods: { eap: result(0.7, 0.5, 0.5, [1, 2]), 'eap-gp': result(NaN, 0.45, 0.55, [4, 2]) },
    },
  },
};

/** The cells of the table under the heading `heading`. */
function tableAfter(md: string, heading: string): string[][] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '') === heading);
  assert.ok(start >= 0, `heading ${heading}`);
  const rows: string[][] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('#')) break;
    if (l.startsWith('|') && !/^\|[\s:|-]+\|$/.test(l)) rows.push(l.slice(2, -2).split(' | '));
  }
  return rows;
}

test('report: every table filled, the unique best method per column in bold, "—" and "not run" where no value exists', () => {
  const md = reportMarkdown(results, timingsOf(results));
  assert.match(md, /^# Circuit discovery on `gpt2`: eap, eap-ig, eap-gp/);
  assert.match(md, /2026-01-02 03:04 UTC/);
  assert.match(md, /12 layers × 12 heads, d_model 768, 32,491 edges/);
  assert.deepEqual(tableAfter(md, 'Tasks'), [
    ['task', 'data', 'examples', 'metric', 'm(M) clean', 'm(∅) corrupted'],
    ['ioi', '`generated:ioi:seed=0:n=10`', '10', 'logit-diff', '3.5000', '0.2500'],
    ['sva', '`generated:sva:seed=0:n=10`', '10', 'prob-diff', '0.2000', '-0.2000'],
  ]);
  // faithfulness: closest to 1 wins (0.9 beats 1.3 and 0.5); an undefined F is "—"; a pair never run says so;
  // a value alone in its column is not "best" of anything
  assert.deepEqual(tableAfter(md, '100 edges'), [
    ['method', 'ioi', 'sva'], ['eap', '0.500', '0.700'], ['eap-ig', '1.300', 'not run'], ['eap-gp', '**0.900**', '—'],
  ]);
  assert.deepEqual(tableAfter(md, 'CPR')[1], ['eap', '0.400', '**0.500**']);
  assert.deepEqual(tableAfter(md, 'CPR')[3], ['eap-gp', '**0.800**', '0.450']);
  assert.deepEqual(tableAfter(md, 'CMD').slice(1), [['eap', '0.600', '**0.500**'], ['eap-ig', '0.300', 'not run'], ['eap-gp', '**0.200**', '0.550']]);
  assert.deepEqual(tableAfter(md, 'Precision and recall against the manual circuits').slice(1), [
    ['eap', '0.700 / 0.350', '—'], ['eap-ig', '0.750 / 0.375', 'not run'], ['eap-gp', '**0.800** / **0.400**', '—'],
  ]);
  assert.deepEqual(tableAfter(md, 'Time').slice(1), [
    ['eap', '1.0 + 10.0 = **11.0**', '1.0 + 2.0 = **3.0**', '**2.0**', '12.0'], // 12.0 = 12.0: a tie marks nothing
    ['eap-ig', '3.0 + 10.0 = 13.0', 'not run', 'not run', 'not run'], // no total without every task
    ['eap-gp', '5.0 + 10.0 = 15.0', '4.0 + 2.0 = 6.0', '9.0', '12.0'],
  ]);
  for (const l of md.split('\n').filter((x) => x.startsWith('|'))) assert.doesNotMatch(l, /\|\s*\|/, `no empty cell: ${l}`);
  assert.ok(md.includes('![ioi: precision vs recall](plots/pr-ioi.svg)'));
  assert.ok(!md.includes('plots/pr-sva.svg'));
});

test('report: ties as printed are never bold, however small the difference underneath', () => {
  const tie: Results = {
    ...results,
    tasks: {
      ioi: {
        ...results.tasks['ioi']!,
        methods: { eap: result(0.9996, 0.1234, 0.5, [1, 1]), 'eap-ig': result(1.0004, 0.1231, 0.5, [1, 1]), 'eap-gp': result(0.2, 0.1229, 0.5, [2, 1]) },
      },
    },
  };
  const md = reportMarkdown(tie);
  // 0.9996 and 1.0004 both print as 1.000: equally close to 1 as far as the reader can see
  assert.deepEqual(tableAfter(md, '100 edges').slice(1), [['eap', '1.000'], ['eap-ig', '1.000'], ['eap-gp', '0.200']]);
  assert.deepEqual(tableAfter(md, 'CPR').slice(1), [['eap', '0.123'], ['eap-ig', '0.123'], ['eap-gp', '0.123']]);
  assert.deepEqual(tableAfter(md, 'CMD').slice(1), [['eap', '0.500'], ['eap-ig', '0.500'], ['eap-gp', '0.500']]);
  assert.ok(!md.split('\n').some((l) => l.startsWith('|') && l.includes('**') && !l.includes('+')), 'no bold outside the time table');
  assert.match(md, /a tie marks nothing/);
});

test('report: a graph far smaller than GPT-2 small is tabulated at fractions of its edges, not at 1–28 edges', () => {
  const budgets = sweepBudgets(479);
  const curve = (scale: number) => (n: number) => Math.min(1, (n / 479) * scale); // F rises with the circuit's size
  const small: Results = {
    ...results,
    model: { path: 'models/default', layers: 4, heads: 4, dModel: 64, edges: 479 },
    settings: { ...results.settings, budgets },
    tasks: {
      ioi: {
        ...results.tasks['ioi']!,
        methods: { eap: result(curve(4), 0.4, 0.6, [1, 10], undefined, budgets), 'eap-gp': result(curve(6), 0.8, 0.2, [5, 10], undefined, budgets) },
      },
    },
  };
  const md = reportMarkdown(small);
  assert.match(md, /evenly spaced on a log scale from 1 edge to all 479/);
  assert.match(md, /would stop at 28 edges/);
  const headings = md.split('\n').filter((l) => /^### \d/.test(l)).map((l) => l.slice(4));
  assert.deepEqual(headings, ['10 edges', '24 edges', '48 edges', '96 edges', '240 edges']);
  assert.deepEqual(tableAfter(md, '48 edges').slice(1), [['eap', '0.401'], ['eap-gp', '**0.601**']]);
  // at 240 edges both circuits are complete (F = 1.000): a tie, not two winners
  assert.deepEqual(tableAfter(md, '240 edges').slice(1), [['eap', '1.000'], ['eap-gp', '1.000']]);
});

test('report: degenerate data is flagged under the tasks table', () => {
  const flagged: Results = { ...results, tasks: { ioi: { ...results.tasks['ioi']!, warnings: ['m(M) − m(∅) = 0.0060 is too small'] } } };
  const md = reportMarkdown(flagged);
  assert.match(md, /\*\*Warnings about the data\*\*[^\n]*\n\n- ioi: m\(M\) − m\(∅\) = 0\.0060 is too small\./);
  assert.doesNotMatch(reportMarkdown(results), /Warnings about the data/);
});

test('report: totals where every task ran; P/R is "—" with the reason on a model other than GPT-2 small', () => {
  const small: Results = { ...results, model: { ...results.model, layers: 4, heads: 4, edges: 1234 }, tasks: { ioi: results.tasks['ioi']! } };
  const md = reportMarkdown(small, timingsOf(small));
  assert.match(md, /log scale from 1 edge to all 1,234/);
  assert.match(md, /defined on GPT-2 small's 12 × 12 graph, not on this 4 × 4 model/);
  assert.deepEqual(tableAfter(md, 'Precision and recall against the manual circuits').slice(1).map((r) => r[1]), ['—', '—', '—']);
  assert.deepEqual(tableAfter(md, 'Time')[1], ['eap', '1.0 + 10.0 = **11.0**', '**1.0**', '10.0']); // every method's evaluation took 10.0 s
  assert.deepEqual(tableAfter(md, 'Time')[0], ['method', 'ioi', 'all: attribute', 'all: evaluate']);
});

test('report without timings: no date, no time, the same text whenever it is made; with them, the table says how they were measured', () => {
  const md = reportMarkdown(results);
  assert.equal(reportMarkdown(structuredClone(results)), md, 'a function of the results alone');
  assert.match(md, /^Made by eap-gp \S+ \(`eapgp reproduce`\)\.$/m);
  assert.doesNotMatch(md, /UTC|\d{4}-\d\d-\d\d/, 'no date');
  assert.deepEqual(tableAfter(md, 'Time'), [], 'no time table');
  assert.match(md, /## Time\n\nThe wall times .* are in `results\.log\.json`.*`--timings`/);
  const timed = reportMarkdown(results, timingsOf(results));
  assert.match(timed, /Made by eap-gp \S+ \(`eapgp reproduce`\) on 2026-01-02 03:04 UTC\./);
  assert.match(timed, /Measured with 2 threads, blas GEMM\./);
  // a pair whose run log is gone shows "—" and leaves its method without totals; mixed setups are named
  const t = timingsOf(results);
  delete t.pairs['sva']!['eap'];
  t.pairs['ioi']!['eap-gp'] = { ...t.pairs['ioi']!['eap-gp']!, threads: 1, gemm: 'wasm' };
  const partial = reportMarkdown(results, t);
  assert.deepEqual(tableAfter(partial, 'Time')[1], ['eap', '1.0 + 10.0 = **11.0**', '—', '—', '—']);
  assert.match(partial, /Measured with different setups \(2 threads, blas GEMM; 1 thread, wasm GEMM\)/);
});

test('plots: a faithfulness plot per task, a precision/recall plot where there is a manual circuit', () => {
  const p = plots(results);
  assert.deepEqual(p.map((x) => x.file), ['plots/faithfulness-ioi.svg', 'plots/pr-ioi.svg', 'plots/faithfulness-sva.svg']);
  assert.equal((p[0]!.svg.match(/<path /g) ?? []).length, 3, 'one line per method');
  assert.equal((p[1]!.svg.match(/stroke-dasharray/g) ?? []).length, 6, 'three dashed node lines and their legend samples');
  assert.equal((p[2]!.svg.match(/<path /g) ?? []).length, 1, 'the all-NaN method draws nothing');
});

test('the entry point exports the reproduction API and the chart', async () => {
  const api = (await import('../src/index.js')) as Record<string, unknown>;
  for (const name of ['reproduce', 'lineChart', 'prepareTaskData', 'scoreEdges']) assert.equal(typeof api[name], 'function', name);
});
