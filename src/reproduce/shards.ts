/**
 * A sharded reproduction: shard i of n computes a contiguous run of the (task, method) pairs (task-major,
 * the plan's order), each pair whole as the single run computes it (its attribution, sweeps and graph, resumable
 * per pair through DIR/state as ever), and records what it did in DIR/shards/shard-i-of-n.json. `eapgp merge`
 * checks that the records agree (model sha256, settings, task data) and cover every pair once, gathers the pairs'
 * files into the output directory, and writes results.json, report.md and the plots from them: the bytes a single
 * run writes, since every state is the single run's.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { keyDifferences } from '../shard/partial.js';
import { shardLabel, shardRange, type Shard } from '../shard/spec.js';
import { isTempPath, writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { parseJsonFile } from '../util/json.js';
import { writeOutputs } from './reproduce.js';
import { collectResults } from './results.js';
import { pairLogPath, statePath } from './state.js';
import type { ModelInfo, Settings, TaskKey } from './types.js';

const FORMAT = 'eapgp-reproduce-shard';

export interface ShardKey {
  tool: string;
  model_sha256: string;
  model: ModelInfo;
  settings: Settings;
  tasks: string[];
  methods: string[];
  taskKeys: Record<string, TaskKey>;
}

interface ShardRecord {
  format: typeof FORMAT;
  version: 1;
  shard: Shard;
  key: ShardKey;
  /** [task, method] of the pairs this shard computed. */
  pairs: [string, string][];
}

/** The (task, method) pairs of shard `s`: a contiguous run of the plan's pairs, task-major. */
export function shardPairs(plan: { tasks: readonly string[]; methods: readonly string[] }, s: Shard): [string, string][] {
  const all = plan.tasks.flatMap((t) => plan.methods.map((m): [string, string] => [t, m]));
  const { start, end } = shardRange(s, all.length);
  return all.slice(start, end);
}

const recordPath = (out: string, s: Shard): string => join(out, 'shards', `shard-${s.index}-of-${s.count}.json`);

/** Records a finished shard (atomically, after every pair's state). */
export function writeShardRecord(out: string, shard: Shard, key: ShardKey, pairs: [string, string][]): string {
  const file = recordPath(out, shard);
  const record: ShardRecord = { format: FORMAT, version: 1, shard, key, pairs };
  writeFileAtomicSync(file, JSON.stringify(record, null, 1) + '\n');
  return file;
}

/** A directory a reproduce --shard wrote into (it has shards/). */
export function isReproduceShardDir(p: string): boolean {
  return existsSync(join(p, 'shards')) && statSync(p).isDirectory();
}

function readRecords(dir: string): { file: string; dir: string; record: ShardRecord }[] {
  const sub = join(dir, 'shards');
  return readdirSync(sub).filter((f) => /^shard-\d+-of-\d+\.json$/.test(f)).sort().map((f) => {
    const file = join(sub, f);
    const r = parseJsonFile(readFileSync(file, 'utf8'), file) as ShardRecord | null;
    if (r?.format !== FORMAT || r.version !== 1 || !r.shard || !r.key || !Array.isArray(r.pairs)) {
      throw new UserError(`${file}: not a reproduce shard record (format "${FORMAT}", version 1); rerun that shard`);
    }
    return { file, dir, record: r };
  });
}

/** Copies `rel` from `from` into `to` (atomically) unless they are the same directory. */
function bring(from: string, to: string, rel: string): void {
  if (resolve(from) === resolve(to)) return;
  const src = join(from, rel);
  if (!existsSync(src)) return;
  const dst = join(to, rel);
  mkdirSync(join(dst, '..'), { recursive: true });
  writeFileAtomicSync(dst, readFileSync(src));
}

/** `eapgp merge DIR… --out OUT` for reproduce shards (see the module comment). Returns the files written, relative to `out`. */
export function mergeReproduce(dirs: readonly string[], out: string, log: (l: string) => void = (l) => console.error(l)): string[] {
  const seenDirs = new Set<string>();
  for (const d of dirs) {
    if (seenDirs.has(resolve(d))) throw new UserError(`merge: ${d} is given twice; give each shard directory once`);
    seenDirs.add(resolve(d));
  }
  const found = dirs.flatMap(readRecords);
  if (found.length === 0) throw new UserError(`merge: ${dirs.join(', ')} hold${dirs.length === 1 ? 's' : ''} no shard record (shards/shard-i-of-n.json); run reproduce --shard i/n --out DIR first`);
  const first = found[0]!;
  const n = first.record.shard.count;
  const byIndex = new Map<number, (typeof found)[number]>();
  for (const f of found) {
    const diffs = keyDifferences(first.record.key as unknown as Record<string, unknown>, f.record.key as unknown as Record<string, unknown>);
    if (diffs.length > 0) throw new UserError(`merge: ${first.file} and ${f.file} are shards of different runs (${diffs.join('; ')}); every shard must run with the same model, data and options`);
    if (f.record.shard.count !== n) throw new UserError(`merge: ${first.file} is one of ${n} shards but ${f.file} one of ${f.record.shard.count}; merge the shards of one --shard count`);
    const other = byIndex.get(f.record.shard.index);
    if (other) throw new UserError(`merge: ${other.file} and ${f.file} are both shard ${f.record.shard.index} of ${n}; give each shard once`);
    byIndex.set(f.record.shard.index, f);
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) throw new UserError(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${n} missing (no shards/shard-${missing[0]}-of-${n}.json in ${dirs.join(', ')}); run or finish ${missing.length > 1 ? 'them' : 'it'} and merge again`);
  const key = first.record.key;
  // every pair's files must be where its shard left them, before anything is copied
  for (const { dir, record, file } of byIndex.values()) {
    const expected = shardPairs(key, record.shard);
    if (JSON.stringify(expected) !== JSON.stringify(record.pairs)) throw new UserError(`merge: ${file} lists other pairs than ${shardLabel(record.shard)} has; rerun that shard`);
    for (const [task, method] of record.pairs) {
      if (!existsSync(statePath(dir, task, method))) throw new UserError(`merge: ${statePath(dir, task, method)} is missing (${task} ${method}, ${shardLabel(record.shard)}); rerun that shard`);
    }
  }
  for (const { dir, record } of [...byIndex.values()].sort((a, b) => a.record.shard.index - b.record.shard.index)) {
    for (const [task, method] of record.pairs) {
      for (const p of [statePath(dir, task, method), pairLogPath(dir, task, method)]) bring(dir, out, join('state', basename(p)));
      bring(dir, out, join('graphs', `${task}-${method}.json`));
    }
    const data = join(dir, 'data');
    if (existsSync(data)) for (const f of readdirSync(data).filter((x) => x.endsWith('.csv') && !isTempPath(x))) bring(dir, out, join('data', f));
  }
  const { results, leftOut } = collectResults(out, key.model, key.settings, new Map(Object.entries(key.taskKeys)));
  for (const l of leftOut) log(`warning: ${l}`);
  const written = writeOutputs(out, results);
  log(`wrote ${written.join(', ')} in ${out} from ${n} shards`);
  return written;
}
