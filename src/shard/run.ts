/**
 * A shard of a batch-wise command: its contiguous run of whole batches (so every batch, and its 1/B, is the
 * single run's), each finished batch saved to the shard's state before the next starts, and at the end the
 * partial file `<out>.shard-I-of-N` (atomically), from which `eapgp merge` writes the single run's output.
 * A rerun of a killed shard takes the batches its state holds and computes the rest; a rerun of a finished
 * shard with the same inputs and options does nothing.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { keyDifferences, maybeKillForTest, readPartial, ShardState, type BatchRecord, type PartialHeader } from './partial.js';
import { partialPath, shardLabel, shardRange, type Shard } from './spec.js';

export interface ShardRunArgs {
  /** The output the single run would write; the partial goes beside it. */
  out: string;
  shard: Shard;
  command: string;
  /** Batches of the whole run. */
  batches: number;
  key: Record<string, unknown>;
  render: Record<string, unknown>;
  /** Shard over this many edges (exact patching), every shard running every batch; default: over the batches. */
  edges?: number;
  /** Runs the batches `indices` in order, calling `save` with each one's record as it finishes. */
  compute: (indices: number[], save: (r: BatchRecord) => void) => Promise<void>;
  log?: (line: string) => void;
}

/** Runs (or resumes) the shard and returns the partial file's path. */
export async function runShard(a: ShardRunArgs): Promise<string> {
  const log = a.log ?? ((l: string) => console.error(l));
  const partial = partialPath(a.out, a.shard);
  const header: Omit<PartialHeader, 'format' | 'version' | 'records'> = {
    command: a.command, shard: a.shard, batches: a.batches, key: a.key, render: a.render, ...(a.edges !== undefined ? { edges: { total: a.edges } } : {}),
  };
  const { start, end } = a.edges !== undefined ? { start: 0, end: a.batches } : shardRange(a.shard, a.batches);
  const label = shardLabel(a.shard);
  if (existsSync(partial)) {
    const done = tryRead(partial);
    if (done && done.header.command === a.command && keyDifferences(done.header.key, a.key).length === 0 && done.header.batches === a.batches) {
      log(`${label}: ${partial} is already finished with these inputs and options; nothing to do (delete it to recompute)`);
      return partial;
    }
  }
  if (start === end) log(`warning: ${label} has no batch to run: ${a.batches} batches for ${a.shard.count} shards (it writes an empty part, which the merge needs)`);
  if (a.edges !== undefined && shardRange(a.shard, a.edges).size === 0) log(`warning: ${label} has no edge to patch: ${a.edges} edges for ${a.shard.count} shards`);
  const state = new ShardState(partial, header);
  const todo: number[] = [];
  for (let i = start; i < end; i++) if (!state.get(i)) todo.push(i);
  if (state.resumed > 0) log(`${label}: resuming: ${state.resumed} of ${end - start} batches were finished by an earlier run (${state.dir})`);
  let saved = 0;
  await a.compute(todo, (r) => {
    if (r.index < start || r.index >= end) throw new Error(`batch ${r.index} is outside ${label}'s batches ${start}..${end - 1}`);
    state.save(r);
    maybeKillForTest(++saved);
  });
  for (let i = start; i < end; i++) if (!state.get(i)) throw new Error(`${label}: batch ${i} did not finish`);
  state.finish();
  const what = a.edges !== undefined ? (({ start: e0, end: e1 }) => `edges ${e0 + 1}–${e1} of ${a.edges}`)(shardRange(a.shard, a.edges)) : `batches ${start + 1}–${end} of ${a.batches}`;
  log(`${label}: wrote ${partial} (${what}); merge every shard's part with eapgp merge`);
  return partial;
}

function tryRead(file: string): ReturnType<typeof readPartial> | undefined {
  try {
    return readPartial(file);
  } catch (e) {
    if (e instanceof UserError) return undefined;
    throw e;
  }
}
