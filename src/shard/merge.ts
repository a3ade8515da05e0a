/**
 * The checks of a merge, before anything is written: every part is one command's, with one key (model and
 * data sha256, options, shapes), one shard count, each shard index exactly once, and together every batch
 * exactly once. What comes out does not depend on the order of the files: the records in batch order, and
 * the render data of shard 0.
 */
import { resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { keyDifferences, readPartial, type BatchRecord, type Partial, type PartialHeader } from './partial.js';
import { partialPath, shardRange } from './spec.js';

export interface MergedParts {
  /** Shard 0's header (its render data is what the output records). */
  header: PartialHeader;
  /** Every batch's record, in batch order. */
  records: BatchRecord[];
  /** The parts, in shard order. */
  parts: Partial[];
}

export function checkParts(files: readonly string[]): MergedParts {
  if (files.length === 0) throw new UserError('merge: give the partial files to merge (e.g. eapgp merge scores.json.shard-*.part --out scores.json)');
  const parts = files.map(readPartial);
  const first = parts[0]!;
  for (const p of parts.slice(1)) {
    if (p.header.command !== first.header.command) {
      throw new UserError(`merge: ${p.file} is a part of "${p.header.command}" but ${first.file} of "${first.header.command}"; merge the parts of one output at a time`);
    }
    const diffs = keyDifferences(first.header.key, p.header.key);
    if (p.header.batches !== first.header.batches) diffs.push(`batches: ${first.header.batches} vs ${p.header.batches}`);
    if (diffs.length > 0) {
      throw new UserError(`merge: ${first.file} and ${p.file} are parts of different runs (${diffs.join('; ')}); every shard must run with the same model, data and options`);
    }
    if (p.header.shard.count !== first.header.shard.count) {
      throw new UserError(`merge: ${first.file} is one of ${first.header.shard.count} shards but ${p.file} one of ${p.header.shard.count}; merge the parts of one --shard count`);
    }
  }
  const n = first.header.shard.count;
  const byIndex = new Map<number, Partial>();
  for (const p of parts) {
    const other = byIndex.get(p.header.shard.index);
    if (other) {
      const twice = resolve(other.file) === resolve(p.file);
      throw new UserError(`merge: ${twice ? `${p.file} is given twice` : `${other.file} and ${p.file} are both shard ${p.header.shard.index} of ${n}`}; give each shard once`);
    }
    byIndex.set(p.header.shard.index, p);
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    // named after a given part: scores.json.shard-1-of-4.part → scores.json.shard-0-of-4.part
    const out = /^(.*)\.shard-\d+-of-\d+\.part$/.exec(first.file)?.[1] ?? 'OUT';
    const like = partialPath(out, { index: missing[0]!, count: n });
    throw new UserError(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${n} missing (a file like ${like}); run ${missing.length > 1 ? 'them' : 'it'} (or let ${missing.length > 1 ? 'them' : 'it'} finish) and merge again`);
  }
  const ordered = Array.from({ length: n }, (_, i) => byIndex.get(i)!);
  if (first.header.edges) return { header: ordered[0]!.header, records: joinEdgeSlices(ordered), parts: ordered };
  const records: BatchRecord[] = [];
  for (const p of ordered) {
    const { start, end } = shardRange(p.header.shard, p.header.batches);
    const got = p.records.map((r) => r.index);
    if (got.length !== end - start || got.some((x, k) => x !== start + k)) {
      throw new UserError(`merge: ${p.file} holds batches [${got.join(', ')}], but shard ${p.header.shard.index} of ${n} is batches ${start}..${end - 1}; the file is damaged: rerun that shard`);
    }
    records.push(...p.records);
  }
  return { header: ordered[0]!.header, records, parts: ordered };
}

/**
 * Parts sharded over edges (exact patching): per batch, the full graph's sum (the same bits in every part: the
 * same computation) and each part's slice of the edges, joined in edge order.
 */
function joinEdgeSlices(ordered: readonly Partial[]): BatchRecord[] {
  const B = ordered[0]!.header.batches, E = ordered[0]!.header.edges!.total;
  for (const p of ordered) {
    const size = shardRange(p.header.shard, E).size;
    const bad = p.records.length !== B || p.records.some((r, b) => r.index !== b || r.values.length !== 1 + size);
    if (bad) throw new UserError(`merge: ${p.file} does not hold every batch's sums for its ${size} edges; the file is damaged: rerun that shard`);
  }
  return Array.from({ length: B }, (_, b) => {
    const base = ordered[0]!.records[b]!;
    const values = new Float64Array(1 + E);
    values[0] = base.values[0]!;
    for (const p of ordered) {
      const r = p.records[b]!;
      if (!Object.is(r.values[0], values[0])) {
        throw new UserError(`merge: ${p.file} and ${ordered[0]!.file} differ in the full graph's metric of batch ${b + 1} (${r.values[0]} vs ${values[0]}): they ran on machines whose kernels round differently; rerun them on one kind of machine`);
      }
      values.set(r.values.subarray(1), 1 + shardRange(p.header.shard, E).start);
    }
    return { index: b, examples: base.examples, values };
  });
}
