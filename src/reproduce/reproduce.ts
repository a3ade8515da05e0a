/**
 * `eapgp reproduce` as a library call: for each task and method, attribution, the faithfulness sweeps and the
 * precision/recall curve (run.ts), each finished pair recorded in DIR/state (state.ts) so that a rerun skips
 * it; then results.json, report.md and the plots rebuilt from every state file. Layout: docs/results-format.md.
 * Times, dates, thread counts and the GEMM path go only to the run logs (state/<task>-<method>.log.json per pair,
 * results.log.json per run), and to report.md's time table when `timings` asks for it; every other file is
 * byte-identical for the same inputs and options.
 *
 * The checks come first: a finished pair whose model, settings, data or metric differ from this run's is an
 * error (recompute with `force`, or use another directory), so one results.json never mixes settings.
 */
import { join, relative } from 'node:path';
import type { ScoreMethod } from '../attribution/score.js';
import { baselines, type Baselines } from '../evaluation/evaluate.js';
import type { CausalLM } from '../models/model.js';
import { getTask } from '../tasks/index.js';
import { prepareTaskData, type TaskData } from '../tasks/prepare.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { NonFiniteError } from '../util/finite.js';
import { makeRunLog, RunClock, writeRunLog } from '../util/run-log.js';
import { version } from '../version.js';
import { datasetFromDir, generatedDataset, paperDataset, type Dataset } from './data.js';
import { makePlan, type Plan, type PlanOptions } from './plan.js';
import { plots } from './plots.js';
import { reportMarkdown, type ReportTimings } from './report.js';
import { collectResults, taskWarnings } from './results.js';
import { runPair } from './run.js';
import { pairLogPath, readAllStates, runDifferences, statePath, taskDifferences, writeState } from './state.js';
import { shardLabel, type Shard } from '../shard/spec.js';
import { shardPairs, writeShardRecord } from './shards.js';
import { RESULTS_VERSION, STATE_VERSION, type PairState, type Results, type TaskKey, type Timings } from './types.js';

export interface ReproduceOptions extends PlanOptions {
  model: CausalLM;
  tokenizer: Tokenizer;
  /** The results directory (created if needed). */
  out: string;
  /** Recompute the selected pairs even when they have finished before. */
  force?: boolean;
  /** No progress bars; the one-line-per-pair log remains. */
  quiet?: boolean;
  /** Where the log lines go (default: stderr). */
  log?: (line: string) => void;
  /** Put the time table (from the run logs) in report.md, which then differs from run to run. */
  timings?: boolean;
  /** The command line, for the run logs (default: none recorded). */
  command?: string[];
  /**
   * Only this shard's contiguous run of the (task, method) pairs (task-major): their states, graphs and data,
   * and OUT/shards/shard-i-of-n.json instead of results.json, report.md and the plots (`eapgp merge` writes those).
   */
  shard?: { shard: Shard; modelSha256: string };
}

export interface ReproduceSummary {
  results: Results;
  /** "task method" of the pairs computed by this call, and of those skipped as finished. */
  computed: string[];
  skipped: string[];
  /** Files written (relative to `out`): results.json, report.md, plots, results.log.json. */
  written: string[];
  /** How each pair in `results` ran (from the run logs). */
  timings: Timings;
}

interface TaskWork {
  task: string;
  /** The log line of the dataset. */
  note: string;
  data: TaskData;
  key: TaskKey;
  todo: ScoreMethod[];
  /** Baselines of an earlier run with the same key, if any. */
  base?: Baselines;
}

const sig = (v: number): string => v.toPrecision(6);

/**
 * Datasets, keys, and which pairs are finished. Throws when a finished pair does not fit: first on what is
 * known before any file is written (model, settings, data source, metric), then on the data's contents.
 */
function prepare(o: ReproduceOptions, plan: Plan): TaskWork[] {
  const states = readAllStates(o.out);
  const matches = (s: PairState, key: Partial<TaskKey>): string[] => [
    ...runDifferences(s, plan.model, plan.settings),
    ...taskDifferences(pick(s.taskKey, key), key),
  ];
  const check = (task: string, key: Partial<TaskKey>): void => {
    for (const { file, state } of states) {
      if (state.task !== task || !plan.methods.includes(state.method as ScoreMethod) || o.force) continue;
      const diffs = matches(state, key);
      if (diffs.length) {
        throw new UserError(
          `${file}: ${task} ${state.method} finished earlier with other settings (${diffs.join('; ')}); ` +
            'rerun with --force to recompute it, or choose another --out directory',
        );
      }
    }
  };
  const sources = plan.tasks.map((task) => {
    const dataset: Dataset = plan.dataDir !== undefined ? datasetFromDir(plan.dataDir, task, o.tokenizer)
      : plan.dataSource === 'paper' ? paperDataset(task, o.tokenizer)
      : generatedDataset(join(o.out, 'data'), task, plan.settings.limit, plan.seed);
    check(task, { data: dataset.data, metric: plan.metric ?? getTask(task).metricKind });
    return { task, dataset };
  });
  return sources.map(({ task, dataset }) => {
    const note = dataset.make(o.tokenizer);
    const data = prepareTaskData(getTask(task), dataset.path, o.tokenizer, { limit: plan.settings.limit, batchSize: plan.settings.batchSize, metric: plan.metric });
    const key: TaskKey = { data: dataset.data, sha256: data.dataHash, examples: data.examples, metric: data.task.metricKind };
    check(task, key);
    const done = (m: ScoreMethod): boolean => !o.force && states.some((s) => s.state.task === task && s.state.method === m);
    // the methods of one task share its baselines, also across runs
    const same = o.force ? undefined : states.find((s) => s.state.task === task && matches(s.state, key).length === 0);
    return {
      task, note, data, key, todo: plan.methods.filter((m) => !done(m)),
      base: same && { clean: same.state.baseline, corrupted: same.state.corrupted, spread: same.state.spread },
    };
  });
}

/** The fields of `from` that `like` has. */
function pick(from: TaskKey, like: Partial<TaskKey>): Partial<TaskKey> {
  return Object.fromEntries(Object.keys(like).map((k) => [k, from[k as keyof TaskKey]]));
}

/** A NonFiniteError from work on `task` names the task too (the layers below name method and batch). */
function inTask<T>(task: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof NonFiniteError ? e.within(task) : e;
  }
}

async function inTaskAsync<T>(task: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw e instanceof NonFiniteError ? e.within(task) : e;
  }
}

/** Runs the reproduction (see the module comment). */
export async function reproduce(o: ReproduceOptions): Promise<ReproduceSummary> {
  const log = o.log ?? ((l: string) => console.error(l));
  const clock = new RunClock();
  const run = { tool: `eap-gp ${version}`, command: o.command ?? [], engine: o.model.engine.info };
  const plan = makePlan(o, o.model.dims, o.model.layout.nEdges, o.model.family);
  const work = prepare(o, plan);
  const mine = o.shard ? shardPairs(plan, o.shard.shard) : undefined;
  const total = mine?.length ?? plan.tasks.length * plan.methods.length;
  const computed: string[] = [], skipped: string[] = [];
  let k = 0;
  const rel = (p: string): string => relative(o.out, p);
  if (mine) {
    log(`${shardLabel(o.shard!.shard)}: ${mine.length} of ${plan.tasks.length * plan.methods.length} (task, method) pairs: ${mine.map((p) => p.join(' ')).join(', ') || 'none'}`);
    for (const w of work) w.todo = w.todo.filter((m) => mine.some(([t, x]) => t === w.task && x === m));
  }
  for (const w of work) {
    for (const method of plan.methods) {
      if (mine && !mine.some(([t, x]) => t === w.task && x === method)) continue;
      if (w.todo.includes(method)) continue;
      log(`[${++k}/${total}] ${w.task} ${method}: finished earlier (${rel(statePath(o.out, w.task, method))}), skipped`);
      skipped.push(`${w.task} ${method}`);
    }
    if (w.todo.length === 0) continue;
    const base = w.base ?? inTask(w.task, () => baselines(o.model, w.data.batches, w.data.metric));
    log(`${w.task}: ${w.data.examples} examples, ${w.note}; metric ${w.key.metric}: m(M) = ${sig(base.clean)}, m(∅) = ${sig(base.corrupted)}${w.base ? ' (from an earlier run)' : ''}`);
    const checks = { baseline: base.clean, corrupted: base.corrupted, spread: base.spread, identicalRows: w.data.identicalRows };
    for (const warning of taskWarnings({ ...checks, taskKey: w.key })) log(`warning: ${w.task}: ${warning}`);
    for (const method of w.todo) {
      const tag = `[${++k}/${total}] ${w.task} ${method}`;
      log(`${tag}: started${o.force ? ' (--force)' : ''}`);
      const pairClock = new RunClock();
      const { result, seconds } = await inTaskAsync(w.task, () => runPair({ model: o.model, plan, task: w.task, method, data: w.data, taskKey: w.key, base, out: o.out, quiet: o.quiet }));
      // the log first: the state marks the pair finished, and a pair without its state is recomputed (and relogged)
      writeRunLog(pairLogPath(o.out, w.task, method), makeRunLog({ ...run, describes: [`${w.task}-${method}.json`, `../${result.graph}`], clock: pairClock, seconds }));
      writeState(o.out, {
        format: 'eapgp-reproduce-state', version: STATE_VERSION, task: w.task, method, model: plan.model, settings: plan.settings,
        taskKey: w.key, ...checks, result,
      });
      const at = result.points.find((p) => p.requested === plan.settings.budgets.at(-1));
      log(
        `${tag}: finished in ${(seconds.attribute + seconds.evaluate).toFixed(1)} s ` +
          `(attribute ${seconds.attribute.toFixed(1)} s, evaluate ${seconds.evaluate.toFixed(1)} s); ` +
          `F = ${at?.faithfulness.toFixed(3)} at ${at?.requested} edges, CPR ${result.fractions.cpr.toFixed(3)}, CMD ${result.fractions.cmd.toFixed(3)}`,
      );
      computed.push(`${w.task} ${method}`);
    }
  }
  if (o.shard) {
    const file = writeShardRecord(o.out, o.shard.shard, {
      tool: run.tool, model_sha256: o.shard.modelSha256, model: plan.model, settings: plan.settings, tasks: plan.tasks, methods: plan.methods,
      taskKeys: Object.fromEntries(work.map((w) => [w.task, w.key])),
    }, mine!);
    log(`${shardLabel(o.shard.shard)}: wrote ${rel(file)}; eapgp merge makes results.json, report.md and the plots from every shard`);
    return { results: { format: 'eapgp-reproduce', version: RESULTS_VERSION, model: plan.model, settings: plan.settings, tasks: {} }, computed, skipped, written: [rel(file)], timings: {} };
  }
  const { results, timings, leftOut } = collectResults(o.out, plan.model, plan.settings, new Map(work.map((w) => [w.task, w.key])));
  for (const l of leftOut) log(`warning: ${l}`);
  const written = writeOutputs(o.out, results, o.timings ? { date: new Date().toISOString(), pairs: timings } : undefined);
  writeRunLog(join(o.out, 'results.log.json'), makeRunLog(
    { ...run, describes: written, clock, seconds: { total: clock.seconds() } },
    { computed, skipped, pairs: timings },
  ));
  written.push('results.log.json');
  log(`wrote ${written.join(', ')} in ${o.out}`);
  return { results, computed, skipped, written, timings };
}

/**
 * results.json, report.md and the plots, each written atomically; returns their paths relative to `out`.
 * With `timings`, report.md shows the time table and the date (and is then no longer the same bytes each run).
 */
export function writeOutputs(out: string, results: Results, timings?: ReportTimings): string[] {
  const files = [
    { file: 'results.json', text: JSON.stringify(results, null, 1) + '\n' },
    { file: 'report.md', text: reportMarkdown(results, timings) },
    ...plots(results).map((p) => ({ file: p.file, text: p.svg })),
  ];
  for (const f of files) writeFileAtomicSync(join(out, f.file), f.text);
  return files.map((f) => f.file);
}
