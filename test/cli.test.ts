/** The `eapgp` command end to end: output formats, agreement with the library, and bad input. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-cli-'));
const model = join(tmp, 'model');

function eapgp(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => {
  const r = eapgp(['make-model', '--layers', '2', '--heads', '2', '--d-model', '32', '--n-ctx', '16', '--seed', '3', '--gpt2-tokenizer-files', '--out', model]);
  assert.equal(r.code, 0, r.err);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('run --json prints ids with BOS, all last-position logits and a consistent top list', () => {
  const r = eapgp(['run', '--model', model, '--prompt', 'Hello, world!', '--top', '3', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as { ids: number[]; logits: number[]; top: { id: number; token: string; logit: number; prob: number }[] };
  assert.deepEqual(j.ids, [50256, 15496, 11, 995, 0]);
  assert.equal(j.logits.length, 50257);
  assert.equal(j.top.length, 3);
  const max = Math.max(...j.logits);
  assert.equal(j.top[0]!.logit, max);
  assert.equal(j.logits[j.top[0]!.id], max);
  assert.ok(j.top[0]!.prob >= j.top[1]!.prob && j.top[1]!.prob >= j.top[2]!.prob);
  const z = j.logits.reduce((s, x) => s + Math.exp(x - max), 0);
  assert.ok(Math.abs(j.top[0]!.prob - 1 / z) < 1e-9);
  const nb = JSON.parse(eapgp(['run', '--model', model, '--prompt', 'Hello, world!', '--json', '--no-bos']).out) as { ids: number[] };
  assert.deepEqual(nb.ids, [15496, 11, 995, 0]);
});

test('run prints a table by default; the WebAssembly and the default GEMM path agree', () => {
  const a = eapgp(['run', '--model', model, '--prompt', 'The cat', '--json', '--gemm', 'wasm', '--threads', '1']);
  const b = eapgp(['run', '--model', model, '--prompt', 'The cat', '--json']);
  assert.equal(a.code, 0, a.err);
  const la = (JSON.parse(a.out) as { logits: number[] }).logits, lb = (JSON.parse(b.out) as { logits: number[] }).logits;
  const scale = Math.max(...la.map(Math.abs));
  la.forEach((x, i) => assert.ok(Math.abs(x - lb[i]!) <= 1e-5 * scale, `logit ${i}: ${x} vs ${lb[i]}`));
  const t = eapgp(['run', '--model', model, '--prompt', 'The cat', '--top', '4']);
  assert.equal(t.code, 0);
  assert.equal(t.out.trim().split('\n').length, 5);
});

test('info names the GEMM path and why, the threads and relaxed SIMD', () => {
  const r = eapgp(['info', '--json', '--threads', '2']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as Record<string, unknown>;
  assert.equal(j.threads, 2);
  assert.ok(j.gemm === 'blas' || j.gemm === 'wasm');
  assert.equal(typeof j.gemmReason, 'string');
  assert.equal(typeof j.relaxedSimd, 'boolean');
  const w = JSON.parse(eapgp(['info', '--json', '--gemm', 'wasm']).out) as Record<string, unknown>;
  assert.equal(w.gemm, 'wasm');
  assert.match(String(w.gemmReason), /disabled/);
  assert.match(eapgp(['info']).out, /GEMM: +(BLAS|WebAssembly)/);
});

test('a prompt longer than n_positions is a clear error', () => {
  const r = eapgp(['run', '--model', model, '--prompt', 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen']);
  assert.equal(r.code, 1);
  assert.match(r.err, /17 tokens.*n_positions = 16/);
  assert.doesNotMatch(r.err, /at .*\.js:\d+/, 'no stack trace for bad input');
});

test('a directory without config.json is a clear error naming it', () => {
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  writeFileSync(join(empty, 'model.safetensors'), '');
  const r = eapgp(['run', '--model', empty, '--prompt', 'x']);
  assert.equal(r.code, 1);
  assert.match(r.err, /config\.json/);
  assert.ok(r.err.includes(empty));
});

test('offline with nothing cached names the cache and exits non-zero, leaving nothing behind', () => {
  const home = join(tmp, 'hf');
  const r = eapgp(['run', '--model', 'gpt2', '--prompt', 'x'], { HF_HOME: home, HF_HUB_OFFLINE: '1' });
  assert.equal(r.code, 1);
  assert.match(r.err, /offline/i);
  assert.match(r.err, /openai-community\/gpt2|models--openai-community--gpt2/);
  const files = (() => { try { return readdirSync(home, { recursive: true }) as string[]; } catch { return []; } })();
  assert.ok(!files.some((f) => f.endsWith('.safetensors')), 'no weights in the cache');
});

test('unknown options and commands are errors with usage', () => {
  const r = eapgp(['run', '--modle', model]);
  assert.equal(r.code, 1);
  assert.match(r.err, /usage: eapgp run/);
  assert.equal(eapgp(['frobnicate']).code, 2);
  // (without --model, commands use the built-in default model: test/default-model.test.ts)
  const m = eapgp(['run', '--model', model]);
  assert.equal(m.code, 1);
  assert.match(m.err, /--prompt is required/);
});
