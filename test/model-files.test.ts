/** A GPT-2 directory as users have them: an untied lm_head, and broken checkpoints through the CLI (exit 1, one clear message). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeBatch } from '../src/models/batch.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../src/models/safetensors.js';
import { withEngine } from './helpers/engines.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-files-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const base = join(tmp, 'base');
makeRandomModel({ layers: 1, heads: 2, dModel: 16, vocab: 300, nCtx: 32, seed: 9, initStd: 0.1 }, base);

/** A copy of the base model whose tensors are changed by `edit`. */
function variant(name: string, edit: (t: Record<string, TensorToWrite>) => void): string {
  const dir = join(tmp, name);
  cpSync(base, dir, { recursive: true });
  const f = openSafetensors(join(base, 'model.safetensors'));
  const tensors: Record<string, TensorToWrite> = {};
  for (const n of f.names) tensors[n] = { dtype: 'F32', shape: f.info(n).shape, data: f.readF32(n) };
  f.close();
  edit(tensors);
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

test('a stored lm_head.weight is the unembedding (not wte)', async () => {
  const untied = variant('untied', (t) => {
    const wte = t['wte.weight']!;
    t['lm_head.weight'] = { dtype: 'F32', shape: wte.shape, data: (wte.data as Float32Array).map((x) => 2 * x) };
  });
  await withEngine({ gemm: 'reference' }, async (e) => {
    const batch = makeBatch([[1, 2, 3]], 0);
    const logitsOf = async (dir: string) => {
      const { model } = await loadModel(e, dir, { quiet: true });
      const l = e.tidy(() => model.forward(batch).logits!.toArray());
      model.dispose();
      return l;
    };
    const tied = await logitsOf(base), twice = await logitsOf(untied);
    tied.forEach((x, i) => assert.ok(Math.abs(2 * x - twice[i]!) <= 1e-5 * Math.abs(x) + 1e-6, `logit ${i}: ${twice[i]} vs 2 × ${x}`));
  });
});

function runCli(dir: string) {
  return spawnSync(process.execPath, [MAIN, 'run', '--model', dir, '--prompt', 'hi', '--gemm', 'wasm'], { encoding: 'utf8' });
}
function expectCliError(dir: string, pattern: RegExp) {
  const r = runCli(dir);
  assert.equal(r.status, 1, `exit status for ${dir}: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line, no stack trace: ${r.stderr}`);
}

test('broken checkpoints: missing tensor, wrong shape, truncated file, huge header length, bad header', () => {
  expectCliError(variant('missing', (t) => delete t['h.0.mlp.c_fc.weight']), /h\.0\.mlp\.c_fc\.weight/);
  expectCliError(
    variant('shape', (t) => (t['h.0.attn.c_proj.weight'] = { dtype: 'F32', shape: [16, 15], data: new Float32Array(240) })),
    /h\.0\.attn\.c_proj\.weight.*\[16, ?16\]|\[16, ?15\].*h\.0\.attn\.c_proj\.weight|h\.0\.attn\.c_proj\.weight/,
  );
  const truncated = variant('truncated', () => {});
  const st = join(truncated, 'model.safetensors');
  truncateSync(st, statSync(st).size - 100);
  expectCliError(truncated, /model\.safetensors/);
  const huge = variant('huge', () => {});
  const hb = readFileSync(join(huge, 'model.safetensors'));
  hb.writeBigUInt64LE(10n ** 12n, 0);
  writeFileSync(join(huge, 'model.safetensors'), hb);
  expectCliError(huge, /header/i);
  const garbage = variant('garbage', () => {});
  const gb = readFileSync(join(garbage, 'model.safetensors'));
  gb.fill(0xff, 8, 40);
  writeFileSync(join(garbage, 'model.safetensors'), gb);
  expectCliError(garbage, /header|UTF-8|JSON/i);
});
