/** Running the `eapgp` command in tests, and the fixtures it needs made by the project's own commands. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `eapgp args…` to completion. */
export function eapgp(args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, ...opts.env }, cwd: opts.cwd, timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A stack trace line ("    at f (file.js:1:2)") or Node's own error dump. */
export const STACK = /^\s+at .+:\d+:\d+\)?$|node:internal|^\w*Error: /m;

/** The command failed as bad input should: exit 1, a message matching `message`, no stack trace. */
export function assertUserError(r: CliResult, message: RegExp, what = 'command'): void {
  assert.equal(r.code, 1, `${what}: exit status ${r.code}; stderr: ${r.err}`);
  assert.match(r.err, message, what);
  assert.doesNotMatch(r.err, STACK, `${what}: no stack trace`);
}

/** `eapgp make-model` with a small random model (GPT-2 vocabulary, built-in tokenizer) into `dir`. */
export function makeModel(dir: string, shape: { layers?: number; heads?: number; dModel?: number; seed?: number } = {}): void {
  const r = eapgp(['make-model', '--layers', String(shape.layers ?? 2), '--heads', String(shape.heads ?? 2), '--d-model', String(shape.dModel ?? 16),
    '--n-ctx', '32', '--seed', String(shape.seed ?? 1), '--out', dir]);
  assert.equal(r.code, 0, r.err);
}

/** `eapgp tasks make TASK --n N` into `file`. */
export function makeTaskData(task: string, n: number, file: string, seed = 0): void {
  const r = eapgp(['tasks', 'make', task, '--n', String(n), '--seed', String(seed), '--out', file]);
  assert.equal(r.code, 0, r.err);
}

/**
 * Overwrites element `index` of tensor `name` (an F32 tensor of DIR/model.safetensors, with or without the
 * "transformer." prefix) with `value` in place: a damaged checkpoint.
 */
export function poisonWeight(dir: string, name: string, index: number, value: number): void {
  const file = `${dir}/model.safetensors`;
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const entry = header[name] ?? header[`transformer.${name}`];
  assert.ok(entry && entry.dtype === 'F32', `${name} is an F32 tensor of ${file}`);
  bytes.writeFloatLE(value, 8 + headerLength + entry.data_offsets[0] + 4 * index);
  writeFileSync(file, bytes);
}
