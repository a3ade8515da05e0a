/**
 * Evaluation speed (edge patching) on a GPT-2-small-size random model, generated IOI rows (seed 0), batch 20,
 * 2 threads, circuits selected greedily by |EAP score|:
 *   1. one patched run over one plain forward pass of the same 20 rows, for circuits of several sizes (goal ≤ 1.5×):
 *      as evaluation runs it (the rows after each example's shared clean prefix) and over every row;
 *   2. `evaluate` of 40 rows at 5 budgets — the baselines and the patched runs (one evaluation gives both), what the oracle times — against the
 *      PyTorch oracle in the same run (goal ≤ 0.25×; EAPGP_ORACLE names its directory), with the largest
 *      difference of the two m(C) and whether the pruned circuits agree;
 *   3. one reproduce pair at 100 rows (EAP-GP attribution, then the sweeps over the reproduction's budgets and the
 *      MIB fractions) and the 6 tasks × 3 methods protocol it implies, every pair taken as long as this one
 *      (EAP-GP's attribution is the slowest of the three; goal ≤ 20 minutes).
 *   node dist/bench/evaluation.js [patched,evaluate,reproduce]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attribute } from '../src/attribution/attribute.js';
import { packPair } from '../src/attribution/micro.js';
import type { PairBatch } from '../src/attribution/types.js';
import { createEngine, type Engine } from '../src/engine/engine.js';
import { baselines, evaluateWithBaselines } from '../src/evaluation/evaluate.js';
import { interventionCache, patchedLogits, sharedPrefix, type MetricFn } from '../src/evaluation/patching.js';
import { MIB_FRACTIONS, fractionBudgets, sweepCircuits, sweeps } from '../src/evaluation/sweep.js';
import { Graph, writeGraphJson } from '../src/graph/index.js';
import { loadModel } from '../src/models/load.js';
import type { CausalLM } from '../src/models/model.js';
import { sweepBudgets } from '../src/reproduce/budgets.js';
import { generate, writeDataset } from '../src/tasks/generators/index.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { gpt2Builtin, writeGpt2TokenizerFiles } from '../src/tokenizer/index.js';
import { ensureSmallModel } from './forward-backward.js';

const ORACLE = process.env['EAPGP_ORACLE'] ? join(process.env['EAPGP_ORACLE'], 'oracle.py') : null;
const EVAL_BUDGETS = [30, 300, 1000, 3000, 10000];
const task = getTask('ioi');
const metric: MetricFn = (l, B, V, y) => task.metric(l, B, V, y as Label[]);
const loss = (l: Float32Array, B: number, V: number, y: unknown[]) => lossGrad(task, l, B, V, y as Label[]);

/** Median seconds of `f` over at least `reps` runs and `ms` milliseconds, after one warm-up run. */
function timeIt(f: () => void, reps = 3, ms = 1500): number {
  f();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < reps || performance.now() - t0 < ms) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]! / 1000;
}

/** A graph scored by EAP on these batches. */
async function eapGraph(model: CausalLM, bs: readonly PairBatch[]): Promise<Graph> {
  const s = await attribute({ model, batches: bs, method: 'eap', loss });
  const g = Graph.of(model.layout);
  g.setScoresDense(s.scores);
  return g;
}

async function patched(e: Engine, model: CausalLM, bs: readonly PairBatch[]): Promise<void> {
  const g = await eapGraph(model, bs);
  const E = g.nEdges;
  const circuits = sweepCircuits({ graph: g, budgets: [100, 1000, Math.round(0.1 * E), Math.round(0.5 * E)], select: 'greedy', absolute: true });
  const b = packPair(bs[0]!);
  const plain = timeIt(() => e.tidy(() => model.forward(b.clean, { logits: 'last' }).logits!.toArray()));
  console.log(`patched run over a plain forward pass, ${b.n} rows = ${b.clean.ids.length} tokens (plain: ${(plain * 1000).toFixed(0)} ms; goal ≤ 1.5×)`);
  const arena = e.beginArena();
  try {
    const rows = sharedPrefix(model, b) ?? undefined;
    const cache = interventionCache(model, b, 'patching', undefined, rows), full = interventionCache(model, b, 'patching');
    console.log(`  ${rows ? rows.keep.length : b.clean.ids.length} of the ${b.clean.ids.length} rows follow a shared clean prefix`);
    for (const c of circuits) {
      const t = timeIt(() => patchedLogits({ model, batch: b, missing: c.missing, intervention: 'patching', cache, rows }));
      const tf = timeIt(() => patchedLogits({ model, batch: b, missing: c.missing, intervention: 'patching', cache: full }));
      console.log(`  greedy ${String(c.requested).padStart(6)} → ${String(c.edges).padStart(6)} edges: ${(t * 1000).toFixed(0).padStart(5)} ms = ${(t / plain).toFixed(2)}×` +
        `   (every row: ${(tf * 1000).toFixed(0).padStart(5)} ms = ${(tf / plain).toFixed(2)}×)`);
    }
  } finally {
    e.endArena(arena);
  }
}

interface OracleEval { seconds: number; results: { edges: number; metric: number }[] }

function oracleEvaluate(dir: string, csv: string, graph: string): OracleEval | null {
  if (ORACLE === null || !existsSync(ORACLE)) return null;
  if (spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) return null;
  const json = join(dir, 'oracle-eval.json');
  const r = spawnSync('/usr/bin/python3', [ORACLE, 'evaluate', '--model', dir, '--data', csv, '--task', 'ioi', '--limit', '40', '--batch-size', '20',
    '--threads', '2', '--graph', graph, '--sweep', EVAL_BUDGETS.join(','), '--select', 'greedy', '--json', json], { encoding: 'utf8' });
  const t = /eval wall time: ([\d.]+) s/.exec(r.stdout + r.stderr);
  if (!t) return null;
  const out = JSON.parse(readFileSync(json, 'utf8')) as { results: { edges: number; metric: number }[] };
  return { seconds: Number(t[1]), results: out.results };
}

async function evaluate(model: CausalLM, bs: readonly PairBatch[], dir: string, csv: string): Promise<void> {
  const g = await eapGraph(model, bs);
  const graphFile = join(dir, 'eval-graph.json');
  writeGraphJson(graphFile, g, { dModel: model.dims.dModel });
  const circuits = sweepCircuits({ graph: g, budgets: EVAL_BUDGETS, select: 'greedy', absolute: true });
  const t0 = performance.now();
  const { values, base } = await evaluateWithBaselines({ model, batches: bs, metric, circuits: circuits.map((c) => c.missing) });
  const ours = (performance.now() - t0) / 1000;
  let line = `evaluate, 40 rows, greedy ${EVAL_BUDGETS.join(', ')} edges (baselines + patched runs): ours ${ours.toFixed(1)} s`;
  const o = oracleEvaluate(dir, csv, graphFile);
  if (o) {
    const scale = Math.max(Math.abs(base.clean), Math.abs(base.corrupted));
    const worst = Math.max(...o.results.map((r, i) => Math.abs(r.metric - values[i]!)));
    const same = o.results.every((r, i) => r.edges === circuits[i]!.edges);
    line += `, oracle ${o.seconds.toFixed(1)} s, ratio ${(ours / o.seconds).toFixed(2)} (goal ≤ 0.25); ` +
      `max |Δ m(C)| ${(worst / scale).toExponential(1)} of the metric scale, circuits ${same ? 'equal' : 'DIFFER'}`;
  } else line += ' (oracle not run: it needs EAPGP_ORACLE naming its directory and torch for /usr/bin/python3)';
  console.log(line);
}

async function reproducePair(model: CausalLM, bs: readonly PairBatch[]): Promise<void> {
  const t0 = performance.now();
  const s = await attribute({ model, batches: bs, method: 'eap-gp', loss, options: { steps: 5 } });
  const attr = (performance.now() - t0) / 1000;
  const g = Graph.of(model.layout);
  g.setScoresDense(s.scores);
  const t1 = performance.now();
  const base = baselines(model, bs, metric);
  const common = { model, batches: bs, metric, graph: g, select: 'greedy' as const, absolute: true, base };
  const budgets = sweepBudgets(g.nEdges);
  await sweeps(common, [{ budgets }, { budgets: fractionBudgets(g.nEdges), fractions: MIB_FRACTIONS }]);
  const ev = (performance.now() - t1) / 1000;
  const pair = attr + ev;
  console.log(`reproduce pair, 100 rows, EAP-GP: attribution ${attr.toFixed(1)} s + evaluation ${ev.toFixed(1)} s ` +
    `(${budgets.length} + ${MIB_FRACTIONS.length} circuits × ${bs.length} batches) = ${pair.toFixed(1)} s; ` +
    `6 × 3 protocol ≈ ${((18 * pair) / 60).toFixed(1)} min if every pair took as long (goal ≤ 20)`);
}

async function main(): Promise<void> {
  const parts = (process.argv[2] ?? 'patched,evaluate,reproduce').split(',');
  const tmp = mkdtempSync(join(tmpdir(), 'eapgp-bench-eval-'));
  const e = await createEngine({ threads: 2, device: 'cpu' });
  try {
    ensureSmallModel(tmp);
    writeGpt2TokenizerFiles(tmp); // the oracle reads the tokenizer from the model directory
    const csv = join(tmp, 'ioi.csv');
    writeDataset(generate('ioi', { n: 100, seed: 0, tokenizer: gpt2Builtin }), csv);
    const { model, tokenizer } = await loadModel(e, tmp, { quiet: true });
    const rows = (n: number) => batches(task.load(csv, tokenizer, { limit: n }), 20);
    console.log(`evaluation, GPT-2-small-size random model, generated IOI rows, batch 20, 2 threads (GEMM: ${e.info.gemmPath})`);
    if (parts.includes('patched')) await patched(e, model, rows(20));
    if (parts.includes('evaluate')) await evaluate(model, rows(40), tmp, csv);
    if (parts.includes('reproduce')) await reproducePair(model, rows(100));
    model.dispose();
  } finally {
    await e.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
