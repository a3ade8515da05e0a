/**
 * Partial results of a shard: per batch, the float64 numbers the single run adds up (its score contributions,
 * per-example metrics, per-circuit sums), so that a merge adds them in batch order, exactly as the single run
 * does, and writes the same bytes whatever the shard count. A shard's state directory (<partial>.state/) holds
 * one such file per finished batch, so a killed shard resumes from its last finished batch.
 *
 * Layout (little-endian, as every platform Node runs on):
 *   "EAPGPART" | u32 version (1) | u32 header bytes h (a multiple of 8) | header: UTF-8 JSON, space-padded
 *   | f64 values of each record, in the header's record order
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isTempPath, writeAtomicSync, writeAllSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import type { Shard } from './spec.js';

export const PARTIAL_FORMAT = 'eapgp-partial';
export const PARTIAL_VERSION = 1;
const MAGIC = Buffer.from('EAPGPART', 'latin1');

/** One batch's numbers: what the single run adds into its sums for batch `index` (of `examples` rows). */
export interface BatchRecord {
  index: number;
  examples: number;
  values: Float64Array;
}

export interface PartialHeader {
  format: typeof PARTIAL_FORMAT;
  version: typeof PARTIAL_VERSION;
  /** The command whose output the parts make (attribute, evaluate). */
  command: string;
  shard: Shard;
  /** Batches of the whole run. */
  batches: number;
  /**
   * Exact patching shards over edges instead: every shard runs every batch, for the full graph's circuit and
   * its slice of the `total` edges (shardRange), so each batch's values are [full graph, slice…].
   */
  edges?: { total: number };
  /**
   * What must agree between the parts of one output: model and data sha256, options, shapes. A merge refuses
   * parts whose keys differ and names the field.
   */
  key: Record<string, unknown>;
  /** What the merged output's writer needs beside the sums (paths, metadata); the merge takes shard 0's. */
  render: Record<string, unknown>;
  records: { index: number; examples: number; length: number }[];
}

export interface Partial {
  file: string;
  header: PartialHeader;
  records: BatchRecord[];
}

/** Writes a partial file atomically. */
export function writePartial(file: string, header: Omit<PartialHeader, 'format' | 'version' | 'records'>, records: readonly BatchRecord[]): void {
  const full: PartialHeader = {
    format: PARTIAL_FORMAT, version: PARTIAL_VERSION, ...header,
    records: records.map((r) => ({ index: r.index, examples: r.examples, length: r.values.length })),
  };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const h = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(16 + h, 0x20);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(PARTIAL_VERSION, 8);
  head.writeUInt32LE(h, 12);
  json.copy(head, 16);
  writeAtomicSync(file, (fd) => {
    writeAllSync(fd, head);
    for (const r of records) writeAllSync(fd, new Uint8Array(r.values.buffer, r.values.byteOffset, r.values.byteLength));
  });
}

const bad = (file: string, why: string): UserError =>
  new UserError(`${file}: not an eapgp partial result (${why}); partial files are what a command run with --shard writes (e.g. scores.json.shard-0-of-4.part)${file.endsWith('.log.json') ? '; this is a run log: give the .part files only (e.g. scores.json.shard-*.part)' : ''}`);

/** Reads a partial file; a UserError naming the file when it is not one (or is cut short). */
export function readPartial(file: string): Partial {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (bytes.length < 16 || !bytes.subarray(0, 8).equals(MAGIC)) throw bad(file, 'no EAPGPART signature');
  const version = bytes.readUInt32LE(8);
  if (version !== PARTIAL_VERSION) throw bad(file, `version ${version}; this eapgp reads version ${PARTIAL_VERSION}`);
  const h = bytes.readUInt32LE(12);
  if (16 + h > bytes.length) throw bad(file, 'the header is cut short');
  let header: PartialHeader;
  try {
    header = JSON.parse(bytes.subarray(16, 16 + h).toString('utf8')) as PartialHeader;
  } catch {
    throw bad(file, 'the header is not JSON');
  }
  if (header?.format !== PARTIAL_FORMAT || !Array.isArray(header.records) || typeof header.command !== 'string' || !header.shard) throw bad(file, 'the header lacks its fields');
  const values = bytes.length - 16 - h;
  const expected = 8 * header.records.reduce((s, r) => s + r.length, 0);
  if (values !== expected) throw bad(file, `${values} bytes of values where the header lists ${expected}: the file is incomplete`);
  let at = 16 + h;
  const records = header.records.map((r) => {
    // a copy: the file's buffer need not be 8-byte aligned
    const v = new Float64Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + 8 * r.length));
    at += 8 * r.length;
    return { index: r.index, examples: r.examples, values: v };
  });
  return { file, header, records };
}

/** "field: a → b" for every top-level field where two keys differ (values as JSON, shortened). */
export function keyDifferences(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const short = (s: string | undefined): string => (s === undefined ? 'absent' : s.length > 70 ? `${s.slice(0, 67)}...` : s);
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = JSON.stringify(a[k]), y = JSON.stringify(b[k]);
    if (x !== y) out.push(`${k}: ${short(x)} vs ${short(y)}`);
  }
  return out;
}

/**
 * The batches a shard has finished, kept in `<partial>.state/` one file per batch (written atomically, so a
 * batch is there whole or not at all). Opening it reads what an earlier, interrupted run of the same shard left;
 * a state left by a run with another key is an error (its numbers would mix two computations).
 */
export class ShardState {
  readonly dir: string;
  private readonly done = new Map<number, BatchRecord>();

  constructor(readonly partial: string, private readonly header: Omit<PartialHeader, 'format' | 'version' | 'records'>) {
    this.dir = `${partial}.state`;
    if (!existsSync(this.dir)) return;
    for (const f of readdirSync(this.dir).sort()) {
      if (!f.endsWith('.part') || isTempPath(f)) continue;
      const p = readPartial(join(this.dir, f));
      const diffs = [...keyDifferences(p.header.key, header.key), ...(p.header.command !== header.command ? [`command: ${p.header.command} vs ${header.command}`] : []),
        ...keyDifferences({ shard: p.header.shard, batches: p.header.batches }, { shard: header.shard, batches: header.batches })];
      if (diffs.length > 0) {
        throw new UserError(`${p.file}: left by an interrupted run with other inputs or options (${diffs.join('; ')}); delete ${this.dir} to start this shard afresh`);
      }
      for (const r of p.records) this.done.set(r.index, r);
    }
  }

  /** The finished record of batch `index`, if an earlier run left it. */
  get(index: number): BatchRecord | undefined {
    return this.done.get(index);
  }

  get resumed(): number {
    return this.done.size;
  }

  /** Records a finished batch (atomically, before the next starts). */
  save(r: BatchRecord): void {
    writePartial(join(this.dir, `batch-${String(r.index).padStart(6, '0')}.part`), this.header, [r]);
    this.done.set(r.index, r);
  }

  /** Writes the shard's partial file from every finished batch, in batch order, then removes the state. */
  finish(): void {
    const records = [...this.done.values()].sort((a, b) => a.index - b.index);
    writePartial(this.partial, this.header, records);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Test hook: EAPGP_TEST_KILL_AFTER_BATCHES=k makes a shard kill itself (SIGKILL: no cleanup, as a scheduler's
 * preemption) after saving its k-th batch of this run, so that tests can resume it deterministically.
 */
export function maybeKillForTest(savedThisRun: number): void {
  const k = Number(process.env.EAPGP_TEST_KILL_AFTER_BATCHES);
  if (Number.isInteger(k) && k > 0 && savedThisRun >= k) process.kill(process.pid, 'SIGKILL');
}
