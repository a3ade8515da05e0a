/**
 * Byte-identical outputs (README "Determinism"): every computing command, run three times on a tiny random
 * model and `tasks make` data, with --threads 1, 2 and 2 again, each in its own working directory with the same
 * relative --out, writes files with the same sha256; the run-specific facts (seconds, dates, thread count, GEMM
 * path) are in the sidecar run logs (*.log.json), which say which thread count each run had. For reproduce also:
 * a resumed run, a --timings report from the logs, and a results directory of the previous state format.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunLog } from '../src/util/run-log.js';
import { eapgp, makeModel, makeTaskData } from './helpers/cli.js';
import { skipWithoutGpu } from './helpers/gpu.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-determinism-'));
const model = join(tmp, 'model');
const csv = join(tmp, 'ioi.csv');
before(() => {
  makeModel(model, { layers: 2, heads: 2, dModel: 16 });
  makeTaskData('ioi', 8, csv);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => relative(dir, join(d.parentPath ?? d.path, d.name))).sort();
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const isLog = (f: string): boolean => f.endsWith('.log.json');

/** sha256 of every output file under `dir` but the run logs, by relative path. */
function outputHashes(dir: string): Record<string, string> {
  return Object.fromEntries(filesUnder(dir).filter((f) => !isLog(f)).map((f) => [f, sha256(join(dir, f))]));
}

interface Run {
  /** The --out directory (relative "out" inside the run's own working directory). */
  out: string;
  threads: number;
  stderr: string;
}

let runCount = 0;
/** `eapgp ...args --threads N --out out[/file]` in a fresh working directory. */
function run(args: string[], threads: number, outFile = ''): Run {
  const cwd = join(tmp, `run-${++runCount}`);
  mkdirSync(cwd);
  const r = eapgp([...args, '--threads', String(threads), '--out', outFile ? join('out', outFile) : 'out'], { cwd });
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
  return { out: join(cwd, 'out'), threads, stderr: r.err };
}

/** Checks a run log: the format, the run's thread count, dates, and positive seconds for `phases`. */
function checkLog(file: string, threads: number, phases: string[]): RunLog {
  const log = JSON.parse(readFileSync(file, 'utf8')) as RunLog;
  assert.equal(log.format, 'eapgp-run-log', file);
  assert.equal(log.threads, threads, `${file}: thread count`);
  assert.ok(['blas', 'wasm'].includes(log.gemm), `${file}: GEMM path ${log.gemm}`);
  assert.equal(typeof log.relaxed_simd, 'boolean');
  for (const d of [log.started, log.finished]) assert.ok(/^\d{4}-\d\d-\d\dT/.test(d) && !Number.isNaN(Date.parse(d)), `${file}: date ${d}`);
  assert.ok(Date.parse(log.finished) >= Date.parse(log.started));
  for (const p of phases) assert.ok(typeof log.seconds[p] === 'number' && (log.seconds[p] as number) > 0, `${file}: seconds.${p} = ${JSON.stringify(log.seconds[p])}`);
  assert.ok(log.host.cores >= 1 && log.host.node.startsWith('v'));
  for (const f of log.describes) assert.ok(!isLog(f), `${file} describes outputs, not logs`);
  return log;
}

/**
 * Runs the command with --threads 1, 2 and 2: the outputs are the same set of files with the same bytes,
 * the logs are where `logs` says and hold each run's thread count. Returns the runs.
 */
function identicalAcrossRuns(args: string[], opts: { outFile?: string; outputs: string[]; logs: Record<string, string[]> }): Run[] {
  const runs = [1, 2, 2].map((t) => run(args, t, opts.outFile));
  const first = outputHashes(runs[0]!.out);
  assert.deepEqual(Object.keys(first).filter((f) => opts.outputs.includes(f)).sort(), [...opts.outputs].sort(), `${args[0]}: outputs written`);
  for (const r of runs.slice(1)) assert.deepEqual(outputHashes(r.out), first, `${args[0]}: --threads ${r.threads} wrote other bytes than --threads 1`);
  for (const r of runs) {
    assert.deepEqual(filesUnder(r.out).filter(isLog), Object.keys(opts.logs).sort(), `${args[0]}: run logs`);
    for (const [log, phases] of Object.entries(opts.logs)) checkLog(join(r.out, log), r.threads, phases);
  }
  return runs;
}

test('attribute (EAP-GP): scores.json is byte-identical across runs and thread counts, on both GEMM paths; scores.log.json has the run', () => {
  const args = ['attribute', '--model', model, '--task', 'ioi', '--data', csv, '--method', 'eap-gp', '--steps', '3', '--batch-size', '4', '--quiet'];
  const [blasOrWasm] = identicalAcrossRuns(args, { outFile: 'scores.json', outputs: ['scores.json'], logs: { 'scores.log.json': ['attribution', 'total'] } });
  const meta = (JSON.parse(readFileSync(join(blasOrWasm!.out, 'scores.json'), 'utf8')) as { meta: Record<string, unknown> }).meta;
  for (const k of ['seconds', 'created', 'threads', 'gemm']) assert.ok(!(k in meta), `meta.${k} belongs in the run log`);
  assert.match(blasOrWasm!.stderr, /\(run log: out[\\/]scores\.log\.json\)/);
  // the WebAssembly GEMM path on its own: also independent of the thread count
  identicalAcrossRuns([...args, '--gemm', 'wasm'], { outFile: 'scores.json', outputs: ['scores.json'], logs: { 'scores.log.json': ['attribution', 'total'] } });
});

test('attribute on WebGPU: scores.json byte-identical across runs; the run log names the device', { skip: skipWithoutGpu }, () => {
  const args = ['attribute', '--model', model, '--task', 'ioi', '--data', csv, '--method', 'eap-gp', '--steps', '3', '--batch-size', '4', '--quiet', '--device', 'gpu'];
  const runs = [0, 1].map(() => run(args, 2, 'scores.json'));
  assert.deepEqual(outputHashes(runs[1]!.out), outputHashes(runs[0]!.out), 'a second run on the same GPU wrote other bytes');
  const log = JSON.parse(readFileSync(join(runs[0]!.out, 'scores.log.json'), 'utf8')) as { device?: string; gemm?: string; adapter?: unknown };
  assert.equal(log.device, 'gpu');
  assert.equal(log.gemm, 'webgpu');
  assert.ok(log.adapter, 'the adapter is recorded');
});

test('path and demo: byte-identical outputs, run logs beside them', () => {
  identicalAcrossRuns(['path', '--model', model, '--task', 'ioi', '--data', csv, '--limit', '4', '--steps', '2', '--points', '4', '--quiet'],
    { outFile: 'path.json', outputs: ['path.json'], logs: { 'path.log.json': ['traces', 'total'] } });
  identicalAcrossRuns(['demo', '--model', model, '--limit', '6', '--steps', '2', '--edges', '5,20,all', '--quiet'],
    { outputs: ['graph.json', 'circuit.svg', 'sweep.json'], logs: { 'graph.log.json': ['attribution', 'evaluation', 'total'] } });
});

test('validate: results.json, summary.md, exact.json and the chart byte-identical; times in results.log.json, or in summary.md with --timings', () => {
  const args = ['validate', '--model', model, '--task', 'ioi', '--data', csv, '--limit', '4', '--batch-size', '4', '--variants', 'eap,eap-gp:steps=2', '--quiet'];
  const runs = identicalAcrossRuns(args, {
    outputs: ['results.json', 'summary.md', 'faithfulness.svg', 'exact.json'], logs: { 'results.log.json': ['exact', 'total'] },
  });
  const log = checkLog(join(runs[0]!.out, 'results.log.json'), 1, []);
  const variants = log.seconds['variants'] as Record<string, number>;
  assert.deepEqual(Object.keys(variants), ['eap', 'eap-gp:steps=2']);
  assert.ok(Object.values(variants).every((s) => s > 0));
  const results = JSON.parse(readFileSync(join(runs[0]!.out, 'results.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(results['format'], 'eapgp-validate');
  assert.equal(results['version'], 2);
  assert.doesNotMatch(results['command'] as string, /--threads|--quiet/, 'the recorded command leaves out what changes nothing');
  assert.match(results['command'] as string, /--variants eap,eap-gp:steps=2 --out out$/);
  assert.doesNotMatch(readFileSync(join(runs[0]!.out, 'summary.md'), 'utf8'), /time s|threads|took/);
  // --timings: the summary shows the times (and so differs from run to run)
  const timed = run([...args, '--timings'], 2);
  const md = readFileSync(join(timed.out, 'summary.md'), 'utf8');
  assert.match(md, /, (blas|wasm) GEMM, 2 threads, /);
  assert.match(md, /\| variant \| time s \| Spearman/);
  assert.match(md, /Exact patching .* took \d+\.\d s/);
});

test('train: model.safetensors, config.json and training.json byte-identical across runs and thread counts; training.log.json has the run', () => {
  const args = ['train', '--tasks', 'ioi,greater-than', '--layers', '1', '--heads', '2', '--d-model', '8', '--n-ctx', '32', '--steps', '6',
    '--batch-size', '4', '--seed', '2', '--eval-n', '4', '--quiet'];
  const runs = identicalAcrossRuns(args, {
    outputs: ['model.safetensors', 'config.json', 'training.json'], logs: { 'training.log.json': ['training', 'held_out', 'total'] },
  });
  const config = JSON.parse(readFileSync(join(runs[0]!.out, 'config.json'), 'utf8')) as { eapgp_training: Record<string, unknown> };
  assert.ok(!('threads' in config.eapgp_training));
  assert.doesNotMatch(config.eapgp_training['command'] as string, /--threads|--quiet/);
  const training = JSON.parse(readFileSync(join(runs[0]!.out, 'training.json'), 'utf8')) as Record<string, unknown>;
  for (const k of ['seconds', 'created', 'threads', 'gemm']) assert.ok(!(k in training), `training.json ${k}`);
  assert.ok(typeof training['final_loss'] === 'number');
  const log = checkLog(join(runs[1]!.out, 'training.log.json'), 2, []);
  assert.deepEqual(log.command.slice(-5), ['--quiet', '--threads', '2', '--out', 'out'], 'the log keeps the command as given');
});

test('reproduce: every file byte-identical across runs, thread counts and a resumed run; times in the run logs and, with --timings, in report.md', () => {
  const args = ['reproduce', '--model', model, '--tasks', 'ioi', '--methods', 'eap,eap-gp', '--limit', '4', '--batch-size', '4', '--steps', '2', '--quiet'];
  const pairs = ['ioi-eap', 'ioi-eap-gp'];
  const runs = identicalAcrossRuns(args, {
    outputs: ['results.json', 'report.md', 'data/ioi.csv', 'plots/faithfulness-ioi.svg', ...pairs.flatMap((p) => [`graphs/${p}.json`, `state/${p}.json`])],
    logs: { 'results.log.json': ['total'], ...Object.fromEntries(pairs.map((p) => [`state/${p}.log.json`, ['attribute', 'evaluate']])) },
  });
  const dir = runs[0]!.out;
  const hashes = outputHashes(dir);
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { version: number; created?: string; tasks: Record<string, { methods: Record<string, object> }> };
  assert.equal(results.version, 2);
  assert.ok(!('created' in results) && !Object.values(results.tasks['ioi']!.methods).some((m) => 'seconds' in m));
  const log = checkLog(join(dir, 'results.log.json'), 1, ['total']) as RunLog & { pairs: Record<string, Record<string, { seconds: { attribute: number } }>>; computed: string[] };
  assert.deepEqual(log.computed, ['ioi eap', 'ioi eap-gp']);
  assert.ok(log.pairs['ioi']!['eap-gp']!.seconds.attribute > 0);

  // a resumed run (nothing left to compute) rewrites the same bytes; its log says it computed nothing
  const cwd = join(dir, '..');
  const again = eapgp([...args, '--threads', '2', '--out', 'out'], { cwd });
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(outputHashes(dir), hashes, 'a resumed run changes no output');
  assert.deepEqual((JSON.parse(readFileSync(join(dir, 'results.log.json'), 'utf8')) as { computed: string[] }).computed, []);

  // --timings: report.md gets the table from the pairs' logs (measured with 1 thread); nothing else changes
  const timed = eapgp([...args, '--threads', '2', '--timings', '--out', 'out'], { cwd });
  assert.equal(timed.code, 0, timed.err);
  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  const s = log.pairs['ioi']!['eap']!.seconds as { attribute: number; evaluate: number };
  assert.ok(md.includes(`| eap | ${s.attribute.toFixed(1)} + ${s.evaluate.toFixed(1)} = `), md);
  assert.match(md, /Measured with 1 thread, (blas|wasm) GEMM\./);
  assert.match(md, /\(`eapgp reproduce`\) on \d{4}-\d\d-\d\d \d\d:\d\d UTC\./);
  assert.deepEqual({ ...outputHashes(dir), 'report.md': hashes['report.md'] }, hashes, 'only report.md changed');

  // a directory of the previous state format (times inside the state, no pair logs) resumes, and its times still show
  for (const p of pairs) {
    const state = JSON.parse(readFileSync(join(dir, 'state', `${p}.json`), 'utf8')) as { version: number; result: object };
    const pairLog = JSON.parse(readFileSync(join(dir, 'state', `${p}.log.json`), 'utf8')) as RunLog;
    writeFileSync(join(dir, 'state', `${p}.json`), JSON.stringify({ ...state, version: 1, result: { ...state.result, seconds: pairLog.seconds }, finished: pairLog.finished }));
    unlinkSync(join(dir, 'state', `${p}.log.json`));
  }
  const old = eapgp([...args, '--threads', '2', '--timings', '--out', 'out'], { cwd });
  assert.equal(old.code, 0, old.err);
  assert.match(old.err, /ioi eap-gp: finished earlier/);
  assert.ok(readFileSync(join(dir, 'report.md'), 'utf8').includes(`| eap | ${s.attribute.toFixed(1)} + ${s.evaluate.toFixed(1)} = `));
  assert.match(readFileSync(join(dir, 'report.md'), 'utf8'), /Measured with unrecorded threads and GEMM path\./);
  assert.equal(sha256(join(dir, 'results.json')), hashes['results.json'], 'results.json as before');
});
