/**
 * results.json from the state files (docs/results-format.md): every finished (task, method) whose model and
 * settings match the current run's, tasks in DESIGN.md order and methods in the methods' order. A state that
 * does not fit (other settings, or other data or metric than the rest of its task) is left out, with a reason.
 */
import { relative } from 'node:path';
import { SCORE_METHODS } from '../attribution/score.js';
import { gapWarning } from '../evaluation/degenerate.js';
import { taskNames } from '../tasks/index.js';
import { identicalRowsWarning } from '../tasks/prepare.js';
import { readAllStates, runDifferences, taskDifferences, type StoredPair as Stored } from './state.js';
import { RESULTS_VERSION, type ModelInfo, type PairState, type Results, type Settings, type TaskKey, type Timings } from './types.js';

/** The degenerate-data warnings of a task, from one of its states (older states lack the spread and rows). */
export function taskWarnings(s: Pick<PairState, 'baseline' | 'corrupted' | 'spread' | 'identicalRows' | 'taskKey'>): string[] {
  const rows = s.identicalRows && identicalRowsWarning({ identicalRows: s.identicalRows, examples: s.taskKey.examples, dataPath: s.taskKey.data });
  const gap = gapWarning({ clean: s.baseline, corrupted: s.corrupted, spread: s.spread });
  return [rows, gap].filter((w): w is string => typeof w === 'string');
}

export interface Collected {
  results: Results;
  /** How each pair of `results` ran, where its run log says (results.log.json and report.md --timings). */
  timings: Timings;
  /** One line per state file left out, saying why. */
  leftOut: string[];
}

const order = (list: readonly string[], x: string): number => {
  const i = list.indexOf(x);
  return i < 0 ? list.length : i;
};

/**
 * Assembles results.json. `current` gives the task key this run used for each of its tasks; for any other
 * task, the key of its most recently finished state decides.
 */
export function collectResults(out: string, model: ModelInfo, settings: Settings, current: ReadonlyMap<string, TaskKey>): Collected {
  const leftOut: string[] = [];
  const byTask = new Map<string, Stored[]>();
  for (const stored of readAllStates(out)) {
    const { file, state } = stored;
    const diffs = runDifferences(state, model, settings);
    if (diffs.length) {
      leftOut.push(`${relative(out, file)}: computed with other settings (${diffs.join('; ')}); left out of the report`);
      continue;
    }
    const list = byTask.get(state.task) ?? [];
    list.push(stored);
    byTask.set(state.task, list);
  }
  const results: Results = { format: 'eapgp-reproduce', version: RESULTS_VERSION, model, settings, tasks: {} };
  const timings: Timings = {};
  const tasks = [...byTask.keys()].sort((a, b) => order(taskNames, a) - order(taskNames, b) || a.localeCompare(b));
  for (const task of tasks) {
    const stored = byTask.get(task)!;
    const key = current.get(task) ?? [...stored].sort((a, b) => b.finished.localeCompare(a.finished))[0]!.state.taskKey;
    const fitting = stored.filter(({ state: s }) => {
      const d = taskDifferences(s.taskKey, key);
      if (d.length) leftOut.push(`state/${task}-${s.method}.json: other data or metric than the rest of ${task} (${d.join('; ')}); left out of the report`);
      return d.length === 0;
    });
    if (fitting.length === 0) continue;
    fitting.sort((a, b) => order(SCORE_METHODS, a.state.method) - order(SCORE_METHODS, b.state.method) || a.state.method.localeCompare(b.state.method));
    const fit = fitting.map((x) => x.state);
    const timed = fitting.filter((x) => x.timing !== undefined);
    if (timed.length) timings[task] = Object.fromEntries(timed.map((x) => [x.state.method, x.timing!]));
    results.tasks[task] = {
      data: key.data,
      examples: key.examples,
      metric: key.metric,
      baseline: fit[0]!.baseline,
      corrupted: fit[0]!.corrupted,
      warnings: taskWarnings(fit[0]!),
      methods: Object.fromEntries(fit.map((s) => [s.method, s.result])),
    };
  }
  return { results, timings, leftOut };
}
