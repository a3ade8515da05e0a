/**
 * Resume state of a reproduction: DIR/state/<task>-<method>.json, written atomically when that pair has
 * finished, so a pair either has a complete record or none. A rerun reads them back to skip finished pairs
 * and to rebuild results.json, report.md and the plots.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isTempPath, writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { parseJsonFile } from '../util/json.js';
import type { ModelInfo, PairState, Settings, TaskKey } from './types.js';

/** The state file of (task, method) in the results directory `out`. */
export function statePath(out: string, task: string, method: string): string {
  return join(out, 'state', `${task}-${method}.json`);
}

/** Writes a finished pair's record (atomically). */
export function writeState(out: string, s: PairState): void {
  writeFileAtomicSync(statePath(out, s.task, s.method), JSON.stringify(s, null, 1) + '\n');
}

/** Reads one state file; a UserError that says how to recover if it is not one. */
export function readState(file: string): PairState {
  const s = parseJsonFile(readFileSync(file, 'utf8'), file) as Partial<PairState> | null;
  const ok = s !== null && typeof s === 'object' && s.format === 'eapgp-reproduce-state' && s.version === 1 &&
    typeof s.task === 'string' && typeof s.method === 'string' && !!s.model && !!s.settings && !!s.taskKey && !!s.result;
  if (!ok) throw new UserError(`${file}: not an eapgp reproduce state file (format "eapgp-reproduce-state", version 1); delete it to recompute that pair`);
  return s as PairState;
}

/** Every state file of `out`, in file-name order (temporary files of an interrupted write are ignored). */
export function readAllStates(out: string): { file: string; state: PairState }[] {
  const dir = join(out, 'state');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !isTempPath(f))
    .sort()
    .map((f) => ({ file: join(dir, f), state: readState(join(dir, f)) }));
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
