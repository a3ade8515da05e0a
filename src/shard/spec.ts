/**
 * Which shard this process is: `--shard i/n` (0 ≤ i < n), or `--shard auto` from a scheduler's environment —
 * a Slurm job array (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN over SLURM_ARRAY_TASK_STEP, of
 * SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, of --shard-count or
 * EAPGP_SHARD_COUNT, since Kubernetes does not put the completion count in the environment). A shard's work is
 * a contiguous run of whole items (batches, or (task, method) pairs for reproduce), the same for every process.
 */
import { UserError } from '../util/errors.js';

export interface Shard {
  index: number;
  count: number;
}

/** The options every shardable command takes. */
export const SHARD_OPTIONS = {
  shard: { type: 'string' as const },
  'shard-count': { type: 'string' as const },
} as const;

const isCount = (s: string | undefined): boolean => s !== undefined && /^\d+$/.test(s.trim());

function countFrom(text: string, what: string): number {
  const n = Number(text);
  if (!isCount(text) || !Number.isSafeInteger(n) || n < 1) throw new UserError(`${what} must be an integer >= 1, got "${text}"`);
  return n;
}

function checked(index: number, count: number, what: string): Shard {
  if (!(index >= 0 && index < count && Number.isSafeInteger(index))) {
    throw new UserError(`${what}: shard index ${index} is outside 0..${count - 1} (shards are numbered from 0 to count − 1)`);
  }
  return { index, count };
}

/** The shard of a Slurm job array, or undefined outside one. */
function fromSlurm(env: NodeJS.ProcessEnv): Shard | undefined {
  const id = env.SLURM_ARRAY_TASK_ID || undefined; // empty counts as unset
  if (id === undefined) return undefined;
  const count = env.SLURM_ARRAY_TASK_COUNT || undefined;
  if (!isCount(id)) throw new UserError(`--shard auto: SLURM_ARRAY_TASK_ID must be an integer, got "${id}"`);
  if (count === undefined) throw new UserError('--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; set both (sbatch --array sets both)');
  const min = isCount(env.SLURM_ARRAY_TASK_MIN) ? Number(env.SLURM_ARRAY_TASK_MIN) : 0;
  const step = isCount(env.SLURM_ARRAY_TASK_STEP) ? Number(env.SLURM_ARRAY_TASK_STEP) : 1;
  const offset = Number(id) - min;
  if (step < 1 || offset % step !== 0) throw new UserError(`--shard auto: SLURM_ARRAY_TASK_ID ${id} is not on the array's grid (min ${min}, step ${step})`);
  return checked(offset / step, countFrom(count, 'SLURM_ARRAY_TASK_COUNT'), `--shard auto (SLURM_ARRAY_TASK_ID ${id}, SLURM_ARRAY_TASK_MIN ${min})`);
}

/** The shard of a Kubernetes Indexed Job, or undefined outside one. */
function fromKubernetes(env: NodeJS.ProcessEnv, countOption: string | undefined): Shard | undefined {
  const id = env.JOB_COMPLETION_INDEX || undefined;
  if (id === undefined) return undefined;
  if (!isCount(id)) throw new UserError(`--shard auto: JOB_COMPLETION_INDEX must be an integer, got "${id}"`);
  const count = countOption ?? (env.EAPGP_SHARD_COUNT || undefined);
  if (count === undefined) {
    throw new UserError('--shard auto: JOB_COMPLETION_INDEX is set but not the number of shards; give --shard-count N or set EAPGP_SHARD_COUNT (the Job\'s completions)');
  }
  return checked(Number(id), countFrom(count, countOption !== undefined ? '--shard-count' : 'EAPGP_SHARD_COUNT'), `--shard auto (JOB_COMPLETION_INDEX ${id})`);
}

/** The shard from --shard and --shard-count (undefined without --shard: the whole run). */
export function shardFrom(values: { shard?: string; 'shard-count'?: string }, env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  const text = values.shard;
  if (text === undefined) {
    if (values['shard-count'] !== undefined) throw new UserError('--shard-count goes with --shard auto (a Kubernetes Indexed Job); give --shard auto too');
    return undefined;
  }
  if (text === 'auto') {
    const s = fromSlurm(env) ?? fromKubernetes(env, values['shard-count']);
    if (!s) {
      throw new UserError(
        '--shard auto found no scheduler: set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (a Slurm job array), or JOB_COMPLETION_INDEX ' +
          'with --shard-count N or EAPGP_SHARD_COUNT (a Kubernetes Indexed Job); or give --shard i/n',
      );
    }
    return s;
  }
  if (values['shard-count'] !== undefined) throw new UserError(`--shard-count goes with --shard auto only; --shard ${text} already gives the count`);
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new UserError(`--shard must be i/n (e.g. --shard 0/4, shards numbered from 0) or auto, got "${text}"`);
  return checked(Number(m[1]), countFrom(m[2]!, '--shard\'s count'), `--shard ${text}`);
}

/** The items [start, end) of `total` that shard `s` takes: contiguous, sizes differing by at most one. */
export function shardRange(s: Shard, total: number): { start: number; end: number; size: number } {
  const start = Math.floor((s.index * total) / s.count), end = Math.floor(((s.index + 1) * total) / s.count);
  return { start, end, size: end - start };
}

/** "shard 2/4" for messages; files name it "shard-2-of-4". */
export const shardLabel = (s: Shard): string => `shard ${s.index}/${s.count}`;

/** The partial file a shard writes for the output `out`: out.shard-I-of-N.part (its run log: ….part.log.json). */
export function partialPath(out: string, s: Shard): string {
  return `${out}.shard-${s.index}-of-${s.count}.part`;
}
