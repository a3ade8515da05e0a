/**
 * Resume state of a reproduction: DIR/state/<task>-<method>.json, written atomically when that pair has
 * finished, so a pair either has a complete record or none. A rerun reads them back to skip finished pairs
 * and to rebuild results.json, report.md and the plots. How the pair ran (its seconds, date, threads, GEMM
 * path) is in its run log next to it, DIR/state/<task>-<method>.log.json, written just before the state.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isTempPath, writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { parseJsonFile } from '../util/json.js';
import { isRunLogPath, readRunLog, runLogPath } from '../util/run-log.js';
import { STATE_VERSION, type ModelInfo, type PairState, type PairTiming, type Settings, type TaskKey } from './types.js';

/** The state file of (task, method) in the results directory `out`. */
export function statePath(out: string, task: string, method: string): string {
  return join(out, 'state', `${task}-${method}.json`);
}

/** The run log of (task, method): DIR/state/<task>-<method>.log.json. */
export function pairLogPath(out: string, task: string, method: string): string {
  return runLogPath(statePath(out, task, method));
}

/** Writes a finished pair's record (atomically). */
export function writeState(out: string, s: PairState): void {
  writeFileAtomicSync(statePath(out, s.task, s.method), JSON.stringify(s, null, 1) + '\n');
}

/** A state file's contents, and for a version 1 state the timing it held itself. */
function readStateRecord(file: string): { state: PairState; legacy?: PairTiming } {
  const s = parseJsonFile(readFileSync(file, 'utf8'), file) as (Omit<Partial<PairState>, 'version'> & { version?: number; finished?: string }) | null;
  const ok = s !== null && typeof s === 'object' && s.format === 'eapgp-reproduce-state' && (s.version === 1 || s.version === STATE_VERSION) &&
    typeof s.task === 'string' && typeof s.method === 'string' && !!s.model && !!s.settings && !!s.taskKey && !!s.result;
  if (!ok) throw new UserError(`${file}: not an eapgp reproduce state file (format "eapgp-reproduce-state", version 1 or ${STATE_VERSION}); delete it to recompute that pair`);
  if (s.version === STATE_VERSION) return { state: s as PairState };
  // version 1 kept the pair's seconds in its result and its date in "finished"
  const { finished, ...rest } = s;
  const { seconds, ...result } = s.result as PairState['result'] & { seconds?: PairTiming['seconds'] };
  const state = { ...rest, version: STATE_VERSION, result } as PairState;
  return { state, legacy: seconds && typeof finished === 'string' ? { seconds, finished } : undefined };
}

/** Reads one state file; a UserError that says how to recover if it is not one. */
export function readState(file: string): PairState {
  return readStateRecord(file).state;
}

/** The timing of (task, method) from its run log, if that log is there and complete. */
function readPairTiming(out: string, task: string, method: string): PairTiming | undefined {
  const log = readRunLog(pairLogPath(out, task, method));
  const s = log?.seconds as Partial<PairTiming['seconds']> | undefined;
  if (!log || typeof s?.attribute !== 'number' || typeof s.evaluate !== 'number') return undefined;
  return { seconds: { attribute: s.attribute, evaluate: s.evaluate }, finished: log.finished, threads: log.threads, gemm: log.gemm };
}

export interface StoredPair {
  file: string;
  state: PairState;
  /** From the pair's run log (or a version 1 state); undefined when neither has it. */
  timing?: PairTiming;
  /** When the pair finished: the timing's date, else the state file's modification time. */
  finished: string;
}

/** Every state file of `out`, in file-name order (run logs and temporary files of an interrupted write are skipped). */
export function readAllStates(out: string): StoredPair[] {
  const dir = join(out, 'state');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !isTempPath(f) && !isRunLogPath(f))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const { state, legacy } = readStateRecord(file);
      const timing = readPairTiming(out, state.task, state.method) ?? legacy;
      return { file, state, timing, finished: timing?.finished ?? statSync(file).mtime.toISOString() };
    });
}

/** "field: was → now" for each differing field of two flat records (arrays compared as text). */
function diffFields(what: string, was: object, now: object): string[] {
  const out: string[] = [];
  const a = was as Record<string, unknown>, b = now as Record<string, unknown>;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = JSON.stringify(a[k]), y = JSON.stringify(b[k]);
    if (x !== y) out.push(`${what}${k}: ${short(x)} → ${short(y)}`);
  }
  return out;
}

const short = (s: string | undefined): string => (s === undefined ? 'absent' : s.length > 60 ? `${s.slice(0, 57)}...` : s);

/** How a state's model and settings differ from the current run's (empty when they match). */
export function runDifferences(s: { model: ModelInfo; settings: Settings }, model: ModelInfo, settings: Settings): string[] {
  return [...diffFields('model.', s.model, model), ...diffFields('', s.settings, settings)];
}

/** How a state's task data and metric differ from the current run's (empty when they match). */
export function taskDifferences(was: Partial<TaskKey>, now: Partial<TaskKey>): string[] {
  return diffFields('', was, now);
}
